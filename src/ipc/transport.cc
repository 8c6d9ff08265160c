#include "ipc/transport.h"

#include <algorithm>

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace vhsm::ipc {
namespace {

Status ReadExact(int fd, uint8_t* buf, size_t n, std::string_view what) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, buf + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) {
      return UnavailableError(std::string(what) + ": peer closed after " + std::to_string(got) + " of " +
                              std::to_string(n) + " bytes");
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return DeadlineExceededError(std::string(what) + ": receive timed out");
    }
    return UnavailableError(std::string(what) + ": recv: " + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace

Result<Frame> ReadFrame(int fd) {
  uint8_t hdr[kHeaderSize];
  VHSM_RETURN_IF_ERROR(ReadExact(fd, hdr, kHeaderSize, "frame header"));
  Frame f;
  VHSM_ASSIGN_OR_RETURN(f.header, DecodeHeader(ByteSpan(hdr, kHeaderSize)));
  // The buffer grows with the bytes that actually arrive (1 MiB steps), so a header that merely
  // claims a large payload costs no memory.
  constexpr size_t kStep = 1u << 20;
  const size_t total = f.header.payload_len;
  while (f.payload.size() < total) {
    const size_t have = f.payload.size();
    f.payload.resize(have + std::min(kStep, total - have));
    VHSM_RETURN_IF_ERROR(ReadExact(fd, f.payload.data() + have, f.payload.size() - have, "frame payload"));
  }
  return f;
}

Status WriteAll(int fd, ByteSpan data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t w = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (w >= 0) {
      sent += static_cast<size_t>(w);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return DeadlineExceededError("send timed out");
    return UnavailableError(std::string("send: ") + std::strerror(errno));
  }
  return OkStatus();
}

Result<int> ConnectUnix(const std::string& path, int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("socket path: length " + std::to_string(path.size()) + ", want 1.." +
                                std::to_string(sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    ::close(fd);
    return UnavailableError("connect " + path + ": " + std::strerror(e));
  }
  return fd;
}

Result<PeerCred> GetPeerCred(int fd) {
  ucred uc{};
  socklen_t len = sizeof(uc);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) {
    return InternalError(std::string("SO_PEERCRED: ") + std::strerror(errno));
  }
  return PeerCred{uc.pid, uc.uid, uc.gid};
}

}  // namespace vhsm::ipc
