// object.h: a PKCS#11 object as vhsmd holds it. Public attributes live in a sorted flat map of raw
// native-ABI values (CK_BBOOL 1 byte, CK_ULONG sizeof(CK_ULONG)); key material lives only in
// `secret` (raw bytes for secret keys, DER private key for asymmetric keys) and in the prepared
// EVP_PKEY cached beside it. An Object is immutable once published in the token's table (changes
// publish a modified copy), so operations use a shared_ptr snapshot without holding a lock.
// Also: the attribute table (kind of each known attribute) and template validation helpers that
// turn client templates into the spec's CKR_* codes.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "crypto/ossl_ptr.h"
#include "ipc/codec.h"
#include "vhsm/flat_map.h"

namespace vhsm::hsm {

// kArray: an attribute array (CKA_WRAP_TEMPLATE, ...), stored as ipc::EncodeAttrArray of the
// canonical (parsed, sorted, booleans normalised) inner template.
enum class AttrKind { kBool, kUlong, kBytes, kArray };

// Known attributes and their kinds; nullopt for an attribute this token does not know.
std::optional<AttrKind> AttributeKind(CK_ATTRIBUTE_TYPE type);
// True for attributes whose value is key material (never stored in Object::attrs).
bool IsSecretComponent(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);

using AttrMap = FlatMap<CK_ATTRIBUTE_TYPE, Bytes>;

Bytes BoolValue(bool v);
Bytes UlongValue(CK_ULONG v);

struct Object {
  CK_OBJECT_HANDLE handle = 0;
  bool is_token = false;
  uint64_t owner_app = 0;          // session objects: the owning application
  CK_SESSION_HANDLE owner_session = 0;
  AttrMap attrs;
  SecretBytes secret;
  crypto::EvpPkeyPtr pkey;         // prepared key for asymmetric objects (may be null)

  CK_OBJECT_CLASS cls() const { return GetUlong(CKA_CLASS).value_or(CKO_DATA); }
  CK_KEY_TYPE key_type() const { return GetUlong(CKA_KEY_TYPE).value_or(CKK_VENDOR_DEFINED); }
  bool GetBool(CK_ATTRIBUTE_TYPE t, bool dflt = false) const;
  std::optional<CK_ULONG> GetUlong(CK_ATTRIBUTE_TYPE t) const;
  const Bytes* Get(CK_ATTRIBUTE_TYPE t) const;
  bool is_private() const { return GetBool(CKA_PRIVATE, true); }
};

// Parses a client template into an AttrMap: CKR_ATTRIBUTE_TYPE_INVALID for an unknown type,
// CKR_ATTRIBUTE_VALUE_INVALID for a bool/ulong of the wrong size or a missing value,
// CKR_TEMPLATE_INCONSISTENT for the same type twice with different values.
CK_RV ParseTemplate(const ipc::WireTemplate& in, AttrMap* out);

// The inner template of an attribute-array value as stored (see AttrKind::kArray); an empty map
// for an absent attribute. CKR_ATTRIBUTE_VALUE_INVALID when the value does not decode.
CK_RV ParseAttrArray(const Bytes* value, AttrMap* out);
Bytes EncodeAttrMap(const AttrMap& m);

// True when every attribute of `tmpl` equals the object's (secret components never match).
bool Matches(const Object& obj, const AttrMap& tmpl);

// Serialises attrs + secret for sealing, and back. Parse errors are CKR_DEVICE_ERROR material
// (a corrupt store), reported as Status.
Bytes SerializeObjectBody(const Object& obj);
Status ParseObjectBody(ByteSpan body, Object* obj);

}  // namespace vhsm::hsm
