#include "provisioner/admin_protocol.h"

#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/byte_reader.h"
#include "jose/json_util.h"

namespace vhsm::provisioner {

namespace {

constexpr size_t kMaxLabel = 128;
constexpr size_t kMaxIdHex = 128;  // 64 bytes

std::string OnDuplicateName(OnDuplicate d) {
  switch (d) {
    case OnDuplicate::kReplace: return "replace";
    case OnDuplicate::kRefuse: return "refuse";
    case OnDuplicate::kKeep: return "keep";
  }
  return "?";
}

}  // namespace

Result<AdminRequest> ParseAdminRequest(std::string_view json) {
  jose::JsonLimits limits;
  limits.max_bytes = kMaxAdminFrame;
  limits.max_depth = 2;
  VHSM_ASSIGN_OR_RETURN(nlohmann::json j, jose::ParseJsonObject(json, "admin request", limits));
  VHSM_ASSIGN_OR_RETURN(std::string op, jose::GetString(j, "op", "admin request"));
  AdminRequest req;
  if (op == "status") {
    if (j.size() != 1) return InvalidArgumentError("admin request: op \"status\" takes no other members, got " + std::to_string(j.size() - 1));
    req.op = AdminOp::kStatus;
    return req;
  }
  if (op != "provision") {
    return InvalidArgumentError("admin request: op: got \"" + op.substr(0, 64) + "\", want provision or status");
  }
  req.op = AdminOp::kProvision;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "op" && k != "resource" && k != "label" && k != "key_type" && k != "id" && k != "on_duplicate") {
      return InvalidArgumentError("admin request: unknown member \"" + k.substr(0, 64) +
                                  "\" (want op, resource, label, key_type, id, on_duplicate)");
    }
  }
  VHSM_ASSIGN_OR_RETURN(std::string resource, jose::GetString(j, "resource", "admin request"));
  VHSM_ASSIGN_OR_RETURN(req.entry.request.path, ParseResourcePath(resource));
  VHSM_ASSIGN_OR_RETURN(std::string label, jose::GetString(j, "label", "admin request"));
  if (label.empty() || label.size() > kMaxLabel) {
    return InvalidArgumentError("admin request: label: got " + std::to_string(label.size()) +
                                " bytes, want 1-128");
  }
  req.entry.import.label = label;
  VHSM_ASSIGN_OR_RETURN(std::string kt, jose::GetString(j, "key_type", "admin request"));
  VHSM_ASSIGN_OR_RETURN(req.entry.request.key_type, ParseSecretKeyType(kt.substr(0, 64)));
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> id, jose::OptionalString(j, "id", "admin request"));
  if (id) {
    Result<Bytes> raw = id->size() <= kMaxIdHex ? HexDecode(*id) : Result<Bytes>(InvalidArgumentError("too long"));
    if (!raw.ok() || raw->empty()) {
      return InvalidArgumentError("admin request: id: got " + std::to_string(id->size()) +
                                  " characters, want 1-64 bytes of hex");
    }
    req.entry.import.id = *raw;
  }
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> dup, jose::OptionalString(j, "on_duplicate", "admin request"));
  if (dup) {
    VHSM_ASSIGN_OR_RETURN(OnDuplicate d, ParseOnDuplicate(dup->substr(0, 64)));
    if (d == OnDuplicate::kKeep) {
      return InvalidArgumentError("admin request: on_duplicate: got \"keep\", want replace or refuse");
    }
    req.on_duplicate = d;
  }
  return req;
}

std::string EncodeAdminRequest(const AdminRequest& r) {
  nlohmann::json j;
  if (r.op == AdminOp::kStatus) {
    j["op"] = "status";
    return jose::DumpJson(j);
  }
  j["op"] = "provision";
  j["resource"] = r.entry.request.path.ToString();
  j["label"] = r.entry.import.label;
  j["key_type"] = std::string(SecretKeyTypeName(r.entry.request.key_type));
  if (!r.entry.import.id.empty()) j["id"] = HexEncode(r.entry.import.id);
  if (r.on_duplicate) j["on_duplicate"] = OnDuplicateName(*r.on_duplicate);
  return jose::DumpJson(j);
}

Result<Bytes> EncodeAdminFrame(std::string_view body) {
  if (body.size() > kMaxAdminFrame) {
    return InvalidArgumentError("admin frame: body of " + std::to_string(body.size()) + " bytes, want <= " +
                                std::to_string(kMaxAdminFrame));
  }
  ByteWriter w;
  w.WriteU32Be(static_cast<uint32_t>(body.size()));
  w.WriteBytes(AsBytes(body));
  return w.Take();
}

Result<uint32_t> DecodeAdminFrameLength(ByteSpan header) {
  ByteReader r(header);
  VHSM_ASSIGN_OR_RETURN(uint32_t n, r.ReadU32Be("admin frame length"));
  if (n > kMaxAdminFrame) {
    return ResourceExhaustedError("admin frame length: got " + std::to_string(n) + " bytes, want <= " +
                                  std::to_string(kMaxAdminFrame));
  }
  return n;
}

namespace {

Status ReadFull(int fd, uint8_t* p, size_t n, std::string_view what) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, p + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return UnavailableError(std::string(what) + ": " + std::strerror(errno));
    if (r == 0) {
      return UnavailableError(std::string(what) + ": connection closed after " + std::to_string(got) + " of " +
                              std::to_string(n) + " bytes");
    }
    got += static_cast<size_t>(r);
  }
  return OkStatus();
}

}  // namespace

Result<std::string> ReadAdminFrame(int fd) {
  uint8_t hdr[4];
  VHSM_RETURN_IF_ERROR(ReadFull(fd, hdr, sizeof(hdr), "admin frame header"));
  VHSM_ASSIGN_OR_RETURN(uint32_t n, DecodeAdminFrameLength(ByteSpan(hdr, sizeof(hdr))));
  std::string body(n, '\0');
  VHSM_RETURN_IF_ERROR(ReadFull(fd, reinterpret_cast<uint8_t*>(body.data()), n, "admin frame body"));
  return body;
}

Status WriteAdminFrame(int fd, std::string_view body) {
  VHSM_ASSIGN_OR_RETURN(Bytes frame, EncodeAdminFrame(body));
  size_t sent = 0;
  while (sent < frame.size()) {
    ssize_t r = ::send(fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return UnavailableError(std::string("admin frame write: ") + std::strerror(errno));
    sent += static_cast<size_t>(r);
  }
  return OkStatus();
}

}  // namespace vhsm::provisioner
