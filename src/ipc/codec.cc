#include "ipc/codec.h"

#include <string>

namespace vhsm::ipc {

void MsgWriter::PutTemplate(const WireTemplate& t) {
  w_.WriteU32Le(static_cast<uint32_t>(t.size()));
  for (const WireAttribute& a : t) {
    w_.WriteU64Le(a.type);
    w_.WriteU8(a.has_value ? 1 : 0);
    if (a.has_value) {
      w_.WriteU32Le(static_cast<uint32_t>(a.value.size()));
      w_.WriteBytes(a.value);
    }
  }
}

Result<ByteSpan> MsgReader::GetBytes(std::string_view what, size_t limit) {
  VHSM_ASSIGN_OR_RETURN(uint32_t len, r_.ReadU32Le(what));
  if (len > limit) {
    return InvalidArgumentError(std::string(what) + ": length " + std::to_string(len) + " exceeds limit " +
                                std::to_string(limit));
  }
  return r_.ReadBytes(len, what);
}

Result<WireTemplate> MsgReader::GetTemplate(std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(uint32_t count, r_.ReadU32Le(what));
  if (count > kMaxAttributes) {
    return InvalidArgumentError(std::string(what) + ": " + std::to_string(count) + " attributes, limit " +
                                std::to_string(kMaxAttributes));
  }
  WireTemplate t;
  t.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    WireAttribute a;
    VHSM_ASSIGN_OR_RETURN(a.type, r_.ReadU64Le(what));
    VHSM_ASSIGN_OR_RETURN(uint8_t flags, r_.ReadU8(what));
    if (flags > 1) {
      return InvalidArgumentError(std::string(what) + "[" + std::to_string(i) + "].flags: got " +
                                  std::to_string(flags) + ", want 0 or 1");
    }
    a.has_value = flags == 1;
    if (a.has_value) {
      VHSM_ASSIGN_OR_RETURN(ByteSpan v, GetBytes(what, kMaxAttributeValue));
      a.value.assign(v.begin(), v.end());
    }
    t.push_back(std::move(a));
  }
  return t;
}

Result<WireMechanism> MsgReader::GetMechanism(std::string_view what) {
  WireMechanism m;
  VHSM_ASSIGN_OR_RETURN(m.type, r_.ReadU64Le(what));
  VHSM_ASSIGN_OR_RETURN(ByteSpan p, GetBytes(what, kMaxAttributeValue));
  m.param.assign(p.begin(), p.end());
  return m;
}

Status MsgReader::ExpectEnd(std::string_view what) const {
  if (!r_.empty()) {
    return InvalidArgumentError(std::string(what) + ": " + std::to_string(r_.remaining()) +
                                " trailing bytes");
  }
  return OkStatus();
}

Bytes EncodeAttrArray(const WireTemplate& t) {
  MsgWriter w;
  w.PutTemplate(t);
  return w.Take();
}

Result<WireTemplate> DecodeAttrArray(ByteSpan value) {
  MsgReader r(value);
  VHSM_ASSIGN_OR_RETURN(WireTemplate t, r.GetTemplate("attribute array"));
  VHSM_RETURN_IF_ERROR(r.ExpectEnd("attribute array"));
  for (size_t i = 0; i < t.size(); ++i) {
    if (!t[i].has_value) {
      return InvalidArgumentError("attribute array[" + std::to_string(i) + "]: no value");
    }
    if (IsArrayAttribute(t[i].type)) {
      return InvalidArgumentError("attribute array[" + std::to_string(i) + "]: nested array attribute");
    }
  }
  return t;
}

}  // namespace vhsm::ipc
