#include "vhsm/object.h"

#include <cstring>

#include "base/byte_reader.h"

namespace vhsm::hsm {

std::optional<AttrKind> AttributeKind(CK_ATTRIBUTE_TYPE type) {
  switch (type) {
    case CKA_TOKEN: case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_COPYABLE: case CKA_DESTROYABLE:
    case CKA_SENSITIVE: case CKA_EXTRACTABLE: case CKA_ALWAYS_SENSITIVE: case CKA_NEVER_EXTRACTABLE:
    case CKA_ENCRYPT: case CKA_DECRYPT: case CKA_SIGN: case CKA_VERIFY: case CKA_SIGN_RECOVER:
    case CKA_VERIFY_RECOVER: case CKA_WRAP: case CKA_UNWRAP: case CKA_DERIVE: case CKA_LOCAL:
    case CKA_TRUSTED: case CKA_WRAP_WITH_TRUSTED: case CKA_ALWAYS_AUTHENTICATE:
      return AttrKind::kBool;
    case CKA_CLASS: case CKA_KEY_TYPE: case CKA_VALUE_LEN: case CKA_MODULUS_BITS:
    case CKA_KEY_GEN_MECHANISM: case CKA_CERTIFICATE_TYPE: case CKA_CERTIFICATE_CATEGORY:
      return AttrKind::kUlong;
    case CKA_LABEL: case CKA_ID: case CKA_APPLICATION: case CKA_OBJECT_ID: case CKA_VALUE:
    case CKA_START_DATE: case CKA_END_DATE: case CKA_SUBJECT: case CKA_ISSUER: case CKA_SERIAL_NUMBER:
    case CKA_MODULUS: case CKA_PUBLIC_EXPONENT: case CKA_PRIVATE_EXPONENT: case CKA_PRIME_1:
    case CKA_PRIME_2: case CKA_EXPONENT_1: case CKA_EXPONENT_2: case CKA_COEFFICIENT:
    case CKA_EC_PARAMS: case CKA_EC_POINT: case CKA_ALLOWED_MECHANISMS: case CKA_CHECK_VALUE:
    case CKA_PUBLIC_KEY_INFO: case CKA_URL: case CKA_HASH_OF_SUBJECT_PUBLIC_KEY:
    case CKA_HASH_OF_ISSUER_PUBLIC_KEY:
      return AttrKind::kBytes;
    case CKA_WRAP_TEMPLATE: case CKA_UNWRAP_TEMPLATE: case CKA_DERIVE_TEMPLATE:
      return AttrKind::kArray;
    default:
      return std::nullopt;
  }
}

bool IsSecretComponent(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type) {
  if (cls == CKO_SECRET_KEY) return type == CKA_VALUE;
  if (cls == CKO_PRIVATE_KEY) {
    return type == CKA_VALUE || type == CKA_PRIVATE_EXPONENT || type == CKA_PRIME_1 ||
           type == CKA_PRIME_2 || type == CKA_EXPONENT_1 || type == CKA_EXPONENT_2 ||
           type == CKA_COEFFICIENT;
  }
  return false;
}

Bytes BoolValue(bool v) { return Bytes{static_cast<uint8_t>(v ? CK_TRUE : CK_FALSE)}; }

Bytes UlongValue(CK_ULONG v) {
  Bytes b(sizeof(CK_ULONG));
  std::memcpy(b.data(), &v, sizeof(v));
  return b;
}

const Bytes* Object::Get(CK_ATTRIBUTE_TYPE t) const {
  auto it = attrs.find(t);
  return it == attrs.end() ? nullptr : &it->second;
}

bool Object::GetBool(CK_ATTRIBUTE_TYPE t, bool dflt) const {
  const Bytes* b = Get(t);
  if (b == nullptr || b->size() != 1) return dflt;
  return (*b)[0] != CK_FALSE;
}

std::optional<CK_ULONG> Object::GetUlong(CK_ATTRIBUTE_TYPE t) const {
  const Bytes* b = Get(t);
  if (b == nullptr || b->size() != sizeof(CK_ULONG)) return std::nullopt;
  CK_ULONG v;
  std::memcpy(&v, b->data(), sizeof(v));
  return v;
}

CK_RV ParseTemplate(const ipc::WireTemplate& in, AttrMap* out) {
  for (const ipc::WireAttribute& a : in) {
    std::optional<AttrKind> kind = AttributeKind(a.type);
    if (!kind) return CKR_ATTRIBUTE_TYPE_INVALID;
    if (!a.has_value) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (*kind == AttrKind::kBool && a.value.size() != 1) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (*kind == AttrKind::kUlong && a.value.size() != sizeof(CK_ULONG)) return CKR_ATTRIBUTE_VALUE_INVALID;
    Bytes v = a.value;
    if (*kind == AttrKind::kBool) v[0] = v[0] != CK_FALSE ? CK_TRUE : CK_FALSE;
    if (*kind == AttrKind::kArray) {
      // Inner attributes follow the same rules; the stored form is canonical so that equal
      // templates compare equal (C_FindObjects, CKR_TEMPLATE_INCONSISTENT).
      Result<ipc::WireTemplate> inner = ipc::DecodeAttrArray(v);
      if (!inner.ok()) return CKR_ATTRIBUTE_VALUE_INVALID;
      AttrMap m;
      if (CK_RV rv = ParseTemplate(*inner, &m); rv != CKR_OK) return rv;
      v = EncodeAttrMap(m);
    }
    auto [it, inserted] = out->emplace(a.type, v);
    if (!inserted && it->second != v) return CKR_TEMPLATE_INCONSISTENT;
  }
  return CKR_OK;
}

Bytes EncodeAttrMap(const AttrMap& m) {
  ipc::WireTemplate t;
  t.reserve(m.size());
  for (const auto& [type, value] : m) t.push_back({type, true, value});
  return ipc::EncodeAttrArray(t);
}

CK_RV ParseAttrArray(const Bytes* value, AttrMap* out) {
  out->clear();
  if (value == nullptr) return CKR_OK;
  Result<ipc::WireTemplate> inner = ipc::DecodeAttrArray(*value);
  if (!inner.ok()) return CKR_ATTRIBUTE_VALUE_INVALID;
  return ParseTemplate(*inner, out);
}

bool Matches(const Object& obj, const AttrMap& tmpl) {
  for (const auto& [type, value] : tmpl) {
    if (IsSecretComponent(obj.cls(), type)) return false;
    const Bytes* have = obj.Get(type);
    if (have == nullptr || *have != value) return false;
  }
  return true;
}

Bytes SerializeObjectBody(const Object& obj) {
  ByteWriter w;
  w.WriteU8(1);  // body version
  w.WriteU32Le(static_cast<uint32_t>(obj.attrs.size()));
  for (const auto& [type, value] : obj.attrs) {
    w.WriteU64Le(type);
    w.WriteU32Le(static_cast<uint32_t>(value.size()));
    w.WriteBytes(value);
  }
  w.WriteU32Le(static_cast<uint32_t>(obj.secret.size()));
  w.WriteBytes(obj.secret.Expose());
  return w.Take();
}

Status ParseObjectBody(ByteSpan body, Object* obj) {
  ByteReader r(body);
  VHSM_ASSIGN_OR_RETURN(uint8_t version, r.ReadU8("object.version"));
  if (version != 1) return DataLossError("object.version: got " + std::to_string(version) + ", want 1");
  VHSM_ASSIGN_OR_RETURN(uint32_t count, r.ReadU32Le("object.count"));
  if (count > 1024) return DataLossError("object.count: " + std::to_string(count) + " > 1024");
  for (uint32_t i = 0; i < count; ++i) {
    VHSM_ASSIGN_OR_RETURN(uint64_t type, r.ReadU64Le("object.attr.type"));
    VHSM_ASSIGN_OR_RETURN(uint32_t len, r.ReadU32Le("object.attr.len"));
    VHSM_ASSIGN_OR_RETURN(ByteSpan v, r.ReadBytes(len, "object.attr.value"));
    // Serialised from an ordered map, so normally ascending: the hint makes each insert O(1).
    obj->attrs.insert_or_assign(obj->attrs.end(), static_cast<CK_ATTRIBUTE_TYPE>(type), Bytes(v.begin(), v.end()));
  }
  VHSM_ASSIGN_OR_RETURN(uint32_t slen, r.ReadU32Le("object.secret.len"));
  VHSM_ASSIGN_OR_RETURN(ByteSpan s, r.ReadBytes(slen, "object.secret"));
  obj->secret = SecretBytes(s);
  if (!r.empty()) return DataLossError("object: trailing bytes");
  return OkStatus();
}

}  // namespace vhsm::hsm
