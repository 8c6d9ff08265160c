// admin_protocol.h: the wire format of vhsmd's admin socket (on-demand provisioning and its
// status). One request and one answer per connection, each a frame: a 4-byte big-endian length
// then that many bytes of UTF-8 JSON (at most kMaxAdminFrame). Requests:
//   {"op": "provision", "resource": "repo/type/tag", "label": "L", "key_type": "aes|hmac|generic|ec|rsa",
//    "id": "HEX" (optional), "on_duplicate": "replace|refuse" (optional; default: vhsmd's config)}
//   {"op": "status"}
// Answers: {"ok": true, ...} or {"ok": false, "code": "PERMISSION_DENIED", "error": "..."}.
// The parser is strict (unknown members, wrong types, over-long values are errors naming the
// member) and is what the admin_request fuzzer drives. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "provisioner/import.h"
#include "provisioner/startup.h"

namespace vhsm::provisioner {

inline constexpr size_t kMaxAdminFrame = 64 * 1024;

enum class AdminOp { kProvision, kStatus };

struct AdminRequest {
  AdminOp op = AdminOp::kStatus;
  ResourceEntry entry;                      // kProvision: resource, label, key type, id
  std::optional<OnDuplicate> on_duplicate;  // kProvision: per-request override
};

// Parses one request body (the JSON inside a frame). kInvalidArgument naming the member;
// kResourceExhausted above kMaxAdminFrame.
Result<AdminRequest> ParseAdminRequest(std::string_view json);
// The JSON body for a request (what `vhsm provision` sends).
std::string EncodeAdminRequest(const AdminRequest& request);

// 4-byte big-endian length prefix + body. kInvalidArgument when the body exceeds kMaxAdminFrame.
Result<Bytes> EncodeAdminFrame(std::string_view body);
// The body length announced by a 4-byte header; kResourceExhausted above kMaxAdminFrame.
Result<uint32_t> DecodeAdminFrameLength(ByteSpan header);

// Blocking frame I/O on a connected socket (EINTR handled). ReadAdminFrame fails with
// kUnavailable on EOF/timeouts, kResourceExhausted for an over-size frame.
Result<std::string> ReadAdminFrame(int fd);
Status WriteAdminFrame(int fd, std::string_view body);

}  // namespace vhsm::provisioner
