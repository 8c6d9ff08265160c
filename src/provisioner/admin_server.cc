#include "provisioner/admin_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "provisioner/admin_protocol.h"

namespace vhsm::provisioner {

AdminServer::AdminServer(AdminServerOptions options, Handler handler, Logger& log)
    : options_(std::move(options)), handler_(std::move(handler)), log_(log) {}

AdminServer::~AdminServer() { Stop(); }

bool AdminServer::PeerAllowed(uid_t peer_uid) { return peer_uid == 0 || peer_uid == ::geteuid(); }

Status AdminServer::Start() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.socket_path.empty() || options_.socket_path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("admin socket: path of " + std::to_string(options_.socket_path.size()) +
                                " bytes, want 1-" + std::to_string(sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, options_.socket_path.c_str(), options_.socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("admin socket: socket: ") + std::strerror(errno));
  ::unlink(options_.socket_path.c_str());
  // 0600 from the start: no window in which another user could connect.
  mode_t old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0 || ::chmod(options_.socket_path.c_str(), 0600) != 0 || ::listen(fd, 8) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return UnavailableError("admin socket " + options_.socket_path + ": " + err);
  }
  listen_fd_ = fd;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void AdminServer::Stop() {
  if (listen_fd_ < 0) return;
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  ::unlink(options_.socket_path.c_str());
}

void AdminServer::Loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, 200);
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stop_) break;
      continue;
    }
    Serve(c);
    ::close(c);
  }
}

void AdminServer::Serve(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    log_.Warn("admin socket: no peer credentials; connection refused");
    return;
  }
  if (!PeerAllowed(cred.uid)) {
    log_.Warn("admin socket: uid " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) +
              ") refused: want root or uid " + std::to_string(::geteuid()));
    WriteAdminFrame(fd, "{\"ok\":false,\"code\":\"PERMISSION_DENIED\",\"error\":\"admin socket: uid " +
                            std::to_string(cred.uid) + " is not root or vhsmd's uid\"}")
        .IgnoreError();
    return;
  }
  timeval tv{};
  tv.tv_sec = options_.receive_timeout_ms / 1000;
  tv.tv_usec = (options_.receive_timeout_ms % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  Result<std::string> body = ReadAdminFrame(fd);
  if (!body.ok()) {
    log_.Warn("admin socket: " + body.status().ToString());
    if (body.status().code() == StatusCode::kResourceExhausted) {
      WriteAdminFrame(fd, "{\"ok\":false,\"code\":\"RESOURCE_EXHAUSTED\",\"error\":\"admin frame too large\"}")
          .IgnoreError();
    }
    return;
  }
  std::string answer = handler_(*body);
  if (Status s = WriteAdminFrame(fd, answer); !s.ok()) log_.Warn("admin socket: " + s.ToString());
}

}  // namespace vhsm::provisioner
