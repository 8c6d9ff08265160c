#include "ipc/transport.h"

#include <algorithm>

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace vhsm::ipc {
namespace {

// The Status of a recv() that returned r <= 0 (errno set when r < 0, EINTR already retried)
// after `got` of `want` bytes.
Status RecvFailure(ssize_t r, std::string_view what, size_t got, size_t want) {
  if (r == 0) {
    return UnavailableError(std::string(what) + ": peer closed after " + std::to_string(got) + " of " +
                            std::to_string(want) + " bytes");
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return DeadlineExceededError(std::string(what) + ": receive timed out");
  return UnavailableError(std::string(what) + ": recv: " + std::strerror(errno));
}

Status ReadExact(int fd, uint8_t* buf, size_t n, std::string_view what) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, buf + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return RecvFailure(r, what, got, n);
    }
  }
  return OkStatus();
}

}  // namespace

FrameReader::FrameReader(int fd, size_t buffer_size) : fd_(fd), buf_(std::max<size_t>(buffer_size, kHeaderSize)) {}

FrameReader::~FrameReader() { ::explicit_bzero(buf_.data(), buf_.size()); }

void FrameReader::Spin(unsigned spin_us) {
  if (begin_ == end_) SpinUntilReadable(fd_, spin_us);
}

void FrameReader::Consume(size_t n) {
  ::explicit_bzero(buf_.data() + begin_, n);
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

Status FrameReader::Fill(size_t want, std::string_view what) {
  if (end_ - begin_ >= want) return OkStatus();
  if (begin_ + want > buf_.size()) {  // make room: move the unread bytes to the front
    const size_t n = end_ - begin_;
    std::memmove(buf_.data(), buf_.data() + begin_, n);
    ::explicit_bzero(buf_.data() + n, end_ - n);
    begin_ = 0;
    end_ = n;
  }
  while (end_ - begin_ < want) {
    ssize_t r = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
    if (r > 0) {
      end_ += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return RecvFailure(r, what, end_ - begin_, want);
    }
  }
  return OkStatus();
}

Result<Frame> FrameReader::Read() {
  VHSM_RETURN_IF_ERROR(Fill(kHeaderSize, "frame header"));
  Frame f;
  VHSM_ASSIGN_OR_RETURN(f.header, DecodeHeader(ByteSpan(buf_.data() + begin_, kHeaderSize)));
  const size_t total = f.header.payload_len;
  if (kHeaderSize + total <= buf_.size()) {
    VHSM_RETURN_IF_ERROR(Fill(kHeaderSize + total, "frame payload"));
    f.payload.assign(buf_.begin() + static_cast<std::ptrdiff_t>(begin_ + kHeaderSize),
                     buf_.begin() + static_cast<std::ptrdiff_t>(begin_ + kHeaderSize + total));
    Consume(kHeaderSize + total);
    return f;
  }
  // Larger than the buffer: take what is buffered, then read the rest, growing the payload with
  // the bytes that actually arrive (1 MiB steps), so a header that merely claims a large payload
  // costs no memory.
  Consume(kHeaderSize);
  const size_t have = std::min(total, end_ - begin_);
  f.payload.assign(buf_.begin() + static_cast<std::ptrdiff_t>(begin_),
                   buf_.begin() + static_cast<std::ptrdiff_t>(begin_ + have));
  Consume(have);
  constexpr size_t kStep = 1u << 20;
  while (f.payload.size() < total) {
    const size_t got = f.payload.size();
    f.payload.resize(got + std::min(kStep, total - got));
    VHSM_RETURN_IF_ERROR(ReadExact(fd_, f.payload.data() + got, f.payload.size() - got, "frame payload"));
  }
  return f;
}

bool SpinUntilReadable(int fd, unsigned spin_us) {
  if (spin_us == 0 || !SpinningHelps()) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
  uint8_t b;
  do {
    ssize_t r = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r >= 0) return true;  // data, or EOF (0)
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;  // the read reports it
    ::sched_yield();  // a runnable thread on this CPU (the peer, when both share it) goes first
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
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

Status WriteAllWithFd(int fd, ByteSpan data, int pass_fd) {
  if (data.empty()) return InvalidArgumentError("a descriptor needs at least one byte to travel with");
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  ssize_t w;
  do {
    w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return DeadlineExceededError("send timed out");
    return UnavailableError(std::string("sendmsg: ") + std::strerror(errno));
  }
  return WriteAll(fd, data.subspan(static_cast<size_t>(w)));
}

Result<Frame> ReadFrameWithFd(int fd, int* received) {
  *received = -1;
  uint8_t header[kHeaderSize];
  size_t got = 0;
  while (got < kHeaderSize) {
    alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
    iovec iov{header + got, kHeaderSize - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t r = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (*received >= 0) ::close(*received);
      *received = -1;
      return RecvFailure(r, "frame header", got, kHeaderSize);
    }
    got += static_cast<size_t>(r);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int passed;
        std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (*received < 0) {
          *received = passed;
        } else {
          ::close(passed);
        }
      }
    }
  }
  Frame f;
  Result<FrameHeader> h = DecodeHeader(ByteSpan(header, kHeaderSize));
  Status s = h.ok() ? OkStatus() : h.status();
  if (s.ok()) {
    f.header = *h;
    if (f.header.payload_len > 4096) s = ResourceExhaustedError("a frame with a descriptor carries at most 4096 bytes");
  }
  if (s.ok()) {
    f.payload.resize(f.header.payload_len);
    s = ReadExact(fd, f.payload.data(), f.payload.size(), "frame payload");
  }
  if (!s.ok()) {
    if (*received >= 0) ::close(*received);
    *received = -1;
    return s;
  }
  return f;
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
