// transport.h: blocking frame I/O on a connected Unix stream socket, shared by vhsmd and the
// client module. FrameReader validates the header before reading (and allocating for) the payload.
// Also: connecting to a socket path with a timeout, and reading the peer's credentials.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/cpu.h"
#include "base/status.h"
#include "ipc/protocol.h"

namespace vhsm::ipc {

struct Frame {
  FrameHeader header;
  Bytes payload;
};

// Polls (non-blocking peeks, yielding the CPU between them) for up to `spin_us` microseconds
// until `fd` has data, EOF or an error; returns true when it does. A request/response peer that
// spins briefly before blocking in a read is not asleep when the next message arrives, so the
// sender needs no cross-CPU wake-up (on these VMs the dominant cost of a round trip: tens of
// microseconds). The yield keeps spinning threads from starving the peer when client and
// daemon threads outnumber the CPUs.
inline constexpr unsigned kDefaultSpinUs = 50;
// The module's budget while it waits for a reply (its thread is blocked in the call anyway):
// long enough to cover an RSA-2048 signature (≈ 1 ms here), so the reply does not have to wake a
// halted vCPU. Measured at 1 thread: RSA-2048 sign 934 -> 1,091/s (raw OpenSSL 1,136/s).
inline constexpr unsigned kDefaultClientSpinUs = 2000;
bool SpinUntilReadable(int fd, unsigned spin_us);
// False when this process may run on one CPU only: the peer then cannot run while we poll, so
// every spin budget is treated as 0 (AllowedCpus: base/cpu.h).
inline bool SpinningHelps() { return AllowedCpus() > 1; }

// Buffered frame reader for one connection: one recv() usually brings a whole small frame
// (header and payload) instead of two. Bytes of a following frame stay buffered for the next
// Read(). Consumed bytes are wiped from the buffer (payloads may carry PINs or key material).
// Read() errors: Unavailable on EOF/reset (the peer went away), DeadlineExceeded on a receive
// timeout, and the DecodeHeader errors for a bad header (the caller then drops the connection:
// after a bad header the stream position is unknown). A payload larger than the buffer is read
// in bounded steps as its bytes arrive.
class FrameReader {
 public:
  explicit FrameReader(int fd, size_t buffer_size = 64 * 1024);
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  Result<Frame> Read();
  // SpinUntilReadable, unless bytes are already buffered.
  void Spin(unsigned spin_us);

 private:
  // Receives until at least `want` (<= buffer size) unread bytes are buffered.
  Status Fill(size_t want, std::string_view what);
  void Consume(size_t n);

  int fd_;
  Bytes buf_;
  size_t begin_ = 0;  // first unread byte
  size_t end_ = 0;    // one past the last received byte
};
// Writes all bytes (retrying short writes and EINTR; MSG_NOSIGNAL). Unavailable when the peer left.
Status WriteAll(int fd, ByteSpan data);

// WriteAll that passes `pass_fd` (SCM_RIGHTS) with the first bytes of `data`.
Status WriteAllWithFd(int fd, ByteSpan data, int pass_fd);
// Reads one frame directly from the socket (no read-ahead), taking a descriptor passed with it:
// *received is that descriptor (close-on-exec), or -1 when none came. Extra descriptors are closed.
Result<Frame> ReadFrameWithFd(int fd, int* received);

// Connects to a Unix socket. Unavailable (naming the path and errno) when nothing listens there.
// Sets send/receive timeouts of `timeout_ms` on the socket.
Result<int> ConnectUnix(const std::string& path, int timeout_ms);

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
Result<PeerCred> GetPeerCred(int fd);

}  // namespace vhsm::ipc
