#include "ipc/protocol.h"

#include <string>

#include "base/byte_reader.h"

namespace vhsm::ipc {

void EncodeHeader(const FrameHeader& h, std::span<uint8_t, kHeaderSize> out) {
  StoreU32Le(out.data(), kMagic);
  StoreU16Le(out.data() + 4, h.version);
  StoreU16Le(out.data() + 6, static_cast<uint16_t>(h.opcode));
  StoreU32Le(out.data() + 8, h.request_id);
  StoreU32Le(out.data() + 12, h.payload_len);
}

Bytes EncodeFrame(Opcode opcode, uint32_t request_id, ByteSpan payload) {
  Bytes out(kHeaderSize + payload.size());
  FrameHeader h;
  h.opcode = opcode;
  h.request_id = request_id;
  h.payload_len = static_cast<uint32_t>(payload.size());
  EncodeHeader(h, std::span<uint8_t, kHeaderSize>(out.data(), kHeaderSize));
  std::copy(payload.begin(), payload.end(), out.begin() + kHeaderSize);
  return out;
}

Result<FrameHeader> DecodeHeader(ByteSpan header) {
  ByteReader r(header);
  VHSM_ASSIGN_OR_RETURN(uint32_t magic, r.ReadU32Le("frame.magic"));
  if (magic != kMagic) {
    return InvalidArgumentError("frame.magic: got 0x" + HexEncode(header.first(4)) + ", want 56485344 (\"VHSM\")");
  }
  FrameHeader h;
  VHSM_ASSIGN_OR_RETURN(h.version, r.ReadU16Le("frame.version"));
  VHSM_ASSIGN_OR_RETURN(uint16_t op, r.ReadU16Le("frame.opcode"));
  VHSM_ASSIGN_OR_RETURN(h.request_id, r.ReadU32Le("frame.request_id"));
  VHSM_ASSIGN_OR_RETURN(h.payload_len, r.ReadU32Le("frame.payload_len"));
  if (h.version != kProtocolVersion) {
    return FailedPreconditionError("frame.version: got " + std::to_string(h.version) + ", want " +
                                   std::to_string(kProtocolVersion));
  }
  if (op == 0 || op > static_cast<uint16_t>(Opcode::kMaxOpcode)) {
    return InvalidArgumentError("frame.opcode: got " + std::to_string(op) + ", want 1.." +
                                std::to_string(static_cast<uint16_t>(Opcode::kMaxOpcode)));
  }
  h.opcode = static_cast<Opcode>(op);
  if (h.payload_len > kMaxPayload) {
    return ResourceExhaustedError("frame.payload_len: got " + std::to_string(h.payload_len) +
                                  ", limit " + std::to_string(kMaxPayload));
  }
  return h;
}

}  // namespace vhsm::ipc
