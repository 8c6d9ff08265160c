// engine.h: the mechanisms vhsmd implements, on OpenSSL 3 EVP. Key generation fills Objects
// (public attributes + key material); operations take an Object snapshot and return a CK_RV with
// the spec's code for each failure (CKR_MECHANISM_INVALID, CKR_KEY_TYPE_INCONSISTENT,
// CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID, CKR_SIGNATURE_INVALID, ...). The mechanism
// table is the single source of truth for C_GetMechanismList/Info: only what is implemented here
// is listed. Algorithms are fetched once at Create(); the engine is immutable and thread-safe.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <span>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"
#include "ipc/codec.h"
#include "vhsm/object.h"

namespace vhsm::hsm {

struct MechanismEntry {
  CK_MECHANISM_TYPE type;
  CK_ULONG min_key;
  CK_ULONG max_key;
  CK_FLAGS flags;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create();

  std::span<const MechanismEntry> Mechanisms() const;
  const MechanismEntry* FindMechanism(CK_MECHANISM_TYPE type) const;

  // Generates key material for a secret key whose template has already been merged into
  // `obj->attrs` (CKA_CLASS, CKA_KEY_TYPE, CKA_VALUE_LEN, ...). Sets obj->secret.
  CK_RV GenerateSecret(const ipc::WireMechanism& mech, Object* obj) const;
  // Generates a key pair; fills public attributes (CKA_EC_POINT / CKA_MODULUS, ...) on both.
  CK_RV GenerateKeyPair(const ipc::WireMechanism& mech, Object* pub, Object* priv) const;
  // Rebuilds obj->pkey from stored material (after loading from the store).
  Status Prepare(Object* obj) const;

  CK_RV Sign(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const;
  CK_RV Verify(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, ByteSpan sig) const;
  CK_RV Encrypt(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const;
  CK_RV Decrypt(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const;
  CK_RV Digest(const ipc::WireMechanism& mech, ByteSpan data, Bytes* out) const;

  // Values of secret components for a key that is neither sensitive nor unextractable.
  CK_RV ExportComponent(const Object& key, CK_ATTRIBUTE_TYPE type, Bytes* out) const;

  // C_CreateObject of a public or private key (EC, Ed25519, RSA): builds the key from the
  // template's components (`components` holds the whole template including secret components;
  // `obj->attrs` holds it without them) and fills obj->secret, obj->pkey, CKA_PUBLIC_KEY_INFO and
  // normalised public attributes. CKR_TEMPLATE_INCOMPLETE / CKR_ATTRIBUTE_VALUE_INVALID /
  // CKR_CURVE_NOT_SUPPORTED per the spec.
  CK_RV ImportKey(const AttrMap& components, Object* obj) const;

  // CKM_AES_KEY_WRAP (RFC 3394) / CKM_AES_KEY_WRAP_PAD (RFC 5649) of a secret key's value or a
  // private key's PKCS#8 encoding. Attribute policy (CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED) is
  // the Token's; this checks mechanism, key types, CKA_WRAP/CKA_UNWRAP and lengths.
  CK_RV Wrap(const ipc::WireMechanism& mech, const Object& wrapping_key, const Object& key, Bytes* out) const;
  // `out->attrs` carries CKA_CLASS and CKA_KEY_TYPE of the key to create; fills the key material.
  CK_RV Unwrap(const ipc::WireMechanism& mech, const Object& unwrapping_key, ByteSpan wrapped, Object* out) const;
  // CKM_ECDH1_DERIVE: `out->attrs` carries the new secret key's template. CKD_NULL gives the
  // leftmost CKA_VALUE_LEN bytes of Z (no shared data allowed); CKD_SHA1/224/256/384/512_KDF run
  // the ANSI X9.63 KDF over Z with the shared data as SharedInfo (any length up to 512 bytes).
  CK_RV Derive(const ipc::WireMechanism& mech, const Object& base, Object* out) const;

 private:
  Engine() = default;
  CK_RV SymmetricCrypt(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, bool encrypt,
                       Bytes* out) const;
  CK_RV Hmac(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const;
  CK_RV Cmac(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const;
  // Stores a private key (DER, prepared EVP_PKEY, public key info and public attributes).
  CK_RV FinishPrivate(crypto::EvpPkeyPtr pkey, Object* priv) const;

  crypto::EvpMacPtr hmac_;
  crypto::EvpMacPtr cmac_;
  crypto::EvpMdPtr sha1_, sha224_, sha256_, sha384_, sha512_;
  // [mode][key size index 0..2 for 128/192/256]; mode: 0 ECB, 1 CBC, 2 CTR, 3 GCM.
  crypto::EvpCipherPtr aes_[4][3];
};

}  // namespace vhsm::hsm
