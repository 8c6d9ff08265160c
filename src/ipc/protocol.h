// protocol.h: the vhsmd wire protocol shared by the daemon (vhsm/) and the PKCS#11 client module
// (pkcs11/). Every message is one frame: a fixed 16-byte little-endian header {magic "VHSM",
// version, opcode, request id, payload length} followed by the payload. Payload length has a hard
// limit so a peer can never make the other side allocate without bound. Requests and replies use
// the same header; a reply echoes the opcode and request id (so requests can be pipelined) and its
// payload starts with a u64 CK_RV. One PKCS#11 operation costs one round trip (e.g. kSign carries
// mechanism, key and data; the client defers C_SignInit until C_Sign). Wire format: docs/vhsm.md.
#pragma once

#include <cstdint>
#include <span>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::ipc {

inline constexpr uint32_t kMagic = 0x4d534856;  // "VHSM" little-endian
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kHeaderSize = 16;
// 16 MiB: a kMaxBlob (12 MiB) data field plus mechanism/template slack, and a C_FindObjects reply
// of 100k handles. Readers grow their buffer with the bytes received (ipc::FrameReader).
inline constexpr uint32_t kMaxPayload = 16u << 20;

enum class Opcode : uint16_t {
  kHello = 1,
  kGetTokenInfo = 2,
  kGetMechanismList = 3,
  kGetMechanismInfo = 4,
  kInitToken = 5,
  kInitPin = 6,
  kSetPin = 7,
  kOpenSession = 8,
  kCloseSession = 9,
  kCloseAllSessions = 10,
  kGetSessionInfo = 11,
  kLogin = 12,
  kLogout = 13,
  kCreateObject = 14,
  kDestroyObject = 15,
  kGetAttributeValue = 16,
  kSetAttributeValue = 17,
  kFindObjects = 18,
  kGenerateKey = 19,
  kGenerateKeyPair = 20,
  kSign = 21,
  kVerify = 22,
  kEncrypt = 23,
  kDecrypt = 24,
  kDigest = 25,
  kGenerateRandom = 26,
  kGetObjectSize = 27,
  kWrapKey = 28,
  kUnwrapKey = 29,
  kDeriveKey = 30,
  kCopyObject = 31,
  // After kHello: asks vhsmd for the shared-memory lanes (ipc/shm_channel.h). The reply carries
  // the memfd (SCM_RIGHTS) when its CK_RV is CKR_OK; any other CK_RV means "stay on the socket".
  kShmAttach = 32,
  // Wakes a peer that sleeps in a socket read for a message waiting in its shared lane. No payload,
  // no reply.
  kDoorbell = 33,
  kMaxOpcode = 33,
};

struct FrameHeader {
  uint16_t version = kProtocolVersion;
  Opcode opcode = Opcode::kHello;
  uint32_t request_id = 0;
  uint32_t payload_len = 0;
};

// Serialises a header + payload. The payload must be at most kMaxPayload (checked by callers that
// build replies: an oversized reply becomes an error reply instead).
Bytes EncodeFrame(Opcode opcode, uint32_t request_id, ByteSpan payload);
void EncodeHeader(const FrameHeader& h, std::span<uint8_t, kHeaderSize> out);

// Parses and validates the 16-byte header: InvalidArgument for bad magic or an unknown opcode,
// FailedPrecondition for a protocol version other than kProtocolVersion, ResourceExhausted for a
// payload length above kMaxPayload. The message names the field.
Result<FrameHeader> DecodeHeader(ByteSpan header);

}  // namespace vhsm::ipc
