// provision_commands.cc: on-demand provisioning through vhsmd's admin socket.
//   vhsm provision --resource repo/type/tag --label L --key-type aes|hmac|generic|ec|rsa [--id HEX]
//                  [--on-duplicate replace|refuse] [--socket PATH] [--json]
//   vhsm provision status [--socket PATH]
// The socket defaults to $VHSM_ADMIN_SOCKET, else /run/vhsm/admin.sock. vhsmd attests, fetches
// the one resource and imports it; this prints the handles, the token jti and the timings.
// Exit 0: provisioned (or status printed); 1: vhsmd answered with an error (denied, service down,
// wrong key type, label exists...); 2: usage, or vhsmd's admin socket cannot be reached.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "commands.h"
#include "provisioner/admin_protocol.h"

namespace vhsm::cli {
namespace {

struct ProvisionFlags {
  std::string socket;
  std::string resource;
  std::string label;
  std::string key_type;
  std::string id;
  std::string on_duplicate;
  bool json = false;
};

std::string DefaultSocket() {
  const char* e = std::getenv("VHSM_ADMIN_SOCKET");
  return e != nullptr && *e != '\0' ? std::string(e) : std::string("/run/vhsm/admin.sock");
}

// One request/answer exchange. kUnavailable when vhsmd cannot be reached.
Result<std::string> Exchange(const std::string& path, const std::string& body) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("--socket: path of " + std::to_string(path.size()) + " bytes, want 1-" +
                                std::to_string(sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return UnavailableError("vhsmd admin socket " + path + ": " + err + " (is vhsmd running with --admin-socket?)");
  }
  Status w = provisioner::WriteAdminFrame(fd, body);
  Result<std::string> answer = provisioner::ReadAdminFrame(fd);
  // vhsmd answers a refused peer (PERMISSION_DENIED) without reading its request and closes, so
  // the write may fail with EPIPE: the answer already sent is the one to report.
  if (!w.ok() && !answer.ok()) answer = w;
  ::close(fd);
  if (!answer.ok()) return answer.status().Annotate("vhsmd admin socket " + path);
  return answer;
}

// Parses vhsmd's answer; prints an error answer to stderr. Returns the exit code.
int Report(const std::string& answer, bool json, nlohmann::json* out) {
  *out = nlohmann::json::parse(answer, nullptr, false);
  if (!out->is_object() || !out->contains("ok") || !(*out)["ok"].is_boolean()) {
    std::fprintf(stderr, "vhsm provision: vhsmd answered something that is not an answer object\n");
    return kExitUsage;
  }
  if (json) std::printf("%s\n", out->dump(2).c_str());
  if (!(*out)["ok"].get<bool>()) {
    std::string code = out->value("code", std::string("?"));
    std::string err = out->value("error", std::string("?"));
    std::fprintf(stderr, "vhsm provision: %s: %s\n", code.c_str(), err.c_str());
    return kExitRejected;
  }
  return kExitOk;
}

void RunProvision(const ProvisionFlags& f, int& exit_code) {
  provisioner::AdminRequest req;
  req.op = provisioner::AdminOp::kProvision;
  auto usage = [&](const Status& s) {
    std::fprintf(stderr, "vhsm provision: %s\n", s.ToString().c_str());
    exit_code = kExitUsage;
  };
  Result<provisioner::ResourcePath> path = provisioner::ParseResourcePath(f.resource);
  if (!path.ok()) return usage(path.status().Annotate("--resource"));
  req.entry.request.path = *path;
  Result<provisioner::SecretKeyType> kt = provisioner::ParseSecretKeyType(f.key_type);
  if (!kt.ok()) return usage(kt.status().Annotate("--key-type"));
  req.entry.request.key_type = *kt;
  if (f.label.empty() || f.label.size() > 128) return usage(InvalidArgumentError("--label: want 1-128 characters"));
  req.entry.import.label = f.label;
  if (!f.id.empty()) {
    Result<Bytes> id = HexDecode(f.id);
    if (!id.ok() || id->empty() || id->size() > 64) return usage(InvalidArgumentError("--id: want 1-64 bytes of hex"));
    req.entry.import.id = *id;
  }
  if (!f.on_duplicate.empty()) {
    if (f.on_duplicate != "replace" && f.on_duplicate != "refuse") {
      return usage(InvalidArgumentError("--on-duplicate: got \"" + f.on_duplicate + "\", want replace or refuse"));
    }
    req.on_duplicate = f.on_duplicate == "replace" ? provisioner::OnDuplicate::kReplace
                                                   : provisioner::OnDuplicate::kRefuse;
  }
  Result<std::string> answer = Exchange(f.socket, provisioner::EncodeAdminRequest(req));
  if (!answer.ok()) return usage(answer.status());
  nlohmann::json j;
  exit_code = Report(*answer, f.json, &j);
  if (exit_code != kExitOk || f.json) return;
  if (j.contains("steps") && j["steps"].is_array()) {
    for (const auto& s : j["steps"]) {
      std::printf("  step %d (%.1f ms): %s\n", s.value("step", 0), s.value("ms", 0.0), s.value("what", std::string()).c_str());
    }
  }
  std::string handles;
  if (j.contains("handles") && j["handles"].is_array()) {
    for (const auto& h : j["handles"]) handles += (handles.empty() ? "" : ",") + std::to_string(h.get<uint64_t>());
  }
  const auto& t = j.contains("timings_ms") ? j["timings_ms"] : nlohmann::json::object();
  std::printf("provisioned %s -> label \"%s\" (%s %d-bit): %s as handle(s) %s; token jti %s; "
              "fetch %.1f ms, import %.1f ms, total %.1f ms\n",
              j.value("resource", std::string()).c_str(), j.value("label", std::string()).c_str(),
              j.value("key_type", std::string()).c_str(), j.value("bits", 0),
              j.value("replaced", false) ? "replaced" : "imported", handles.c_str(),
              j.value("jti", std::string()).c_str(), t.value("fetch", 0.0), t.value("import", 0.0),
              t.value("total", 0.0));
}

void RunStatus(const std::string& socket, int& exit_code) {
  provisioner::AdminRequest req;
  req.op = provisioner::AdminOp::kStatus;
  Result<std::string> answer = Exchange(socket, provisioner::EncodeAdminRequest(req));
  if (!answer.ok()) {
    std::fprintf(stderr, "vhsm provision status: %s\n", answer.status().ToString().c_str());
    exit_code = kExitUsage;
    return;
  }
  nlohmann::json j;
  exit_code = Report(*answer, true, &j);
}

}  // namespace

void RegisterProvisionCommands(CLI::App& root, int& exit_code) {
  auto f = std::make_shared<ProvisionFlags>();
  f->socket = DefaultSocket();
  CLI::App* p = root.add_subcommand("provision", "ask vhsmd (admin socket) to attest and provision one resource");
  p->require_subcommand(0, 1);
  p->add_option("--socket", f->socket, "vhsmd's admin socket (default $VHSM_ADMIN_SOCKET or /run/vhsm/admin.sock)");
  p->add_option("--resource", f->resource, "repo/type/tag at the provisioning service");
  p->add_option("--label", f->label, "CKA_LABEL of the new object(s)");
  p->add_option("--key-type", f->key_type, "aes|hmac|generic|ec|rsa");
  p->add_option("--id", f->id, "CKA_ID as hex (default: first 8 bytes of SHA-256(label))");
  p->add_option("--on-duplicate", f->on_duplicate, "replace|refuse when the label exists (default: vhsmd's config)");
  p->add_flag("--json", f->json, "print vhsmd's JSON answer");
  auto status_socket = std::make_shared<std::string>();
  CLI::App* st = p->add_subcommand("status", "vhsmd's provisioning status (start-up outcome, counters, recent)");
  st->add_option("--socket", *status_socket, "vhsmd's admin socket");
  st->callback([f, status_socket, &exit_code] {
    RunStatus(status_socket->empty() ? f->socket : *status_socket, exit_code);
  });
  p->callback([p, f, &exit_code] {
    if (p->got_subcommand("status")) return;
    if (f->resource.empty() || f->label.empty() || f->key_type.empty()) {
      std::fprintf(stderr, "vhsm provision: --resource, --label and --key-type are required\n");
      exit_code = kExitUsage;
      return;
    }
    RunProvision(*f, exit_code);
  });
}

}  // namespace vhsm::cli
