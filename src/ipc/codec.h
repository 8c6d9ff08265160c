// codec.h: payload encoding for the vhsmd protocol (see protocol.h). MsgWriter/MsgReader put and
// get u64 integers, length-prefixed byte strings and attribute templates; every read is
// bounds-checked (ByteReader) and every variable-length field has a limit, so a hostile payload
// yields a Status naming the field, never an over-read or an unbounded allocation.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/byte_reader.h"
#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::ipc {

inline constexpr size_t kMaxAttributes = 128;           // per template
inline constexpr size_t kMaxAttributeValue = 64 << 10;  // bytes per attribute value
// data / signature / ciphertext: also the largest multi-part input, which the client collects
// and sends at Final (docs/vhsm.md, "Multi-part operations").
inline constexpr size_t kMaxBlob = 12u << 20;

// One attribute of a template as it crosses the wire. `has_value` false means the client passed a
// NULL pValue (a length query for C_GetAttributeValue).
struct WireAttribute {
  uint64_t type = 0;
  bool has_value = true;
  Bytes value;
  friend bool operator==(const WireAttribute&, const WireAttribute&) = default;
};
using WireTemplate = std::vector<WireAttribute>;

// A mechanism as it crosses the wire: the client flattens the PKCS#11 parameter structure (which
// holds pointers) into `param` per mechanism type; the daemon decodes it per type.
struct WireMechanism {
  uint64_t type = 0;
  Bytes param;
  friend bool operator==(const WireMechanism&, const WireMechanism&) = default;
};

class MsgWriter {
 public:
  void PutU64(uint64_t v) { w_.WriteU64Le(v); }
  void PutU8(uint8_t v) { w_.WriteU8(v); }
  void PutBytes(ByteSpan b) {
    w_.WriteU32Le(static_cast<uint32_t>(b.size()));
    w_.WriteBytes(b);
  }
  void PutTemplate(const WireTemplate& t);
  void PutMechanism(const WireMechanism& m) {
    PutU64(m.type);
    PutBytes(m.param);
  }
  size_t size() const { return w_.size(); }
  Bytes Take() { return w_.Take(); }

 private:
  ByteWriter w_;
};

class MsgReader {
 public:
  explicit MsgReader(ByteSpan data) : r_(data) {}
  Result<uint64_t> GetU64(std::string_view what) { return r_.ReadU64Le(what); }
  Result<uint8_t> GetU8(std::string_view what) { return r_.ReadU8(what); }
  // A u32 length then that many bytes; InvalidArgument when the length exceeds `limit`.
  Result<ByteSpan> GetBytes(std::string_view what, size_t limit = kMaxBlob);
  Result<WireTemplate> GetTemplate(std::string_view what);
  Result<WireMechanism> GetMechanism(std::string_view what);
  // InvalidArgument when bytes are left over (a request must be consumed exactly).
  Status ExpectEnd(std::string_view what) const;
  bool empty() const { return r_.empty(); }

 private:
  ByteReader r_;
};

// Value of an attribute-array attribute (CKF_ARRAY_ATTRIBUTE: CKA_WRAP_TEMPLATE,
// CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE) as it crosses the wire and is stored: the inner
// template in the PutTemplate encoding. The client flattens the caller's CK_ATTRIBUTE array into
// this; the daemon keeps the canonical form. Decode errors are InvalidArgument naming the field
// (over kMaxAttributes entries, an entry without a value, a nested array, trailing bytes).
Bytes EncodeAttrArray(const WireTemplate& t);
Result<WireTemplate> DecodeAttrArray(ByteSpan value);
// True only for the three attribute-array attributes by value: the CKF_ARRAY_ATTRIBUTE bit alone
// does not mean "array of attributes" (CKA_ALLOWED_MECHANISMS carries it for an array of
// mechanism types, and vendor attributes such as vhsm's 0xD648000n carry it as a plain bit).
inline bool IsArrayAttribute(uint64_t type) {
  return type == 0x40000211u || type == 0x40000212u || type == 0x40000213u;  // CKA_{WRAP,UNWRAP,DERIVE}_TEMPLATE
}

}  // namespace vhsm::ipc
