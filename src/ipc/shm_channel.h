// shm_channel.h: a shared-memory fast path beside a connection's Unix socket. On these VMs a
// round trip over the socket costs four system calls and, when the peer sleeps, a cross-vCPU
// wake-up; with the channel, a request and its reply are each one copy into a shared lane plus a
// counter bump that the peer, polling, sees within a microsecond: no system call at all while both
// sides poll. The socket stays the channel's lifeline: a peer that stopped polling sleeps in a
// socket read and is woken by a doorbell frame (Opcode::kDoorbell); a message larger than a lane
// travels on the socket after its counter bump; EOF on the socket still means the peer left.
//
// The mapping (a sealed memfd made by vhsmd, passed once with SCM_RIGHTS in the kShmAttach reply)
// holds two lanes: client -> daemon and daemon -> client, each a control cache line {seq, waiting,
// len} and a data area of kShmLaneBytes holding one whole frame (header + payload). A message is
// announced by storing len and incrementing seq; the consumer that is about to sleep sets waiting
// and re-reads seq (both sequentially consistent), so either it sees the message or the producer
// sees waiting and rings the doorbell.
//
// The daemon treats the mapping as untrusted: the client can write it at any moment. Receive()
// reads len once, bounds it, copies the frame out and only then decodes it with the same header
// checks as the socket path; the copied-from area is wiped (requests carry PINs). Every failure is
// a Status, after which the connection is dropped, as for a bad frame on the socket.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/bytes.h"
#include "base/status.h"
#include "ipc/protocol.h"
#include "ipc/transport.h"

namespace vhsm::ipc {

// Layout of the mapping (a wire format: both sides must agree). Control lines: the client ->
// daemon lane at offset 0, the daemon -> client lane at offset 64, each {u32 seq, u32 waiting,
// u32 len} (native-endian atomics; the peers share one machine). Data areas of kShmLaneBytes each
// follow at kShmControlBytes: client -> daemon first.
inline constexpr size_t kShmLaneBytes = 64 * 1024;
inline constexpr size_t kShmControlBytes = 4096;
inline constexpr uint32_t kShmOnSocket = 0xffffffffu;  // len of a message that follows on the socket

class ShmChannel {
 public:
  enum class Side { kClient, kDaemon };

  // vhsmd: a fresh memfd (sealed against shrinking and growing) mapped here; `fd` receives the
  // descriptor to pass to the client (the caller closes it after sending).
  static Result<std::unique_ptr<ShmChannel>> Create(int* fd);
  // The client: maps the descriptor received in the kShmAttach reply (checking its size) and
  // closes it.
  static Result<std::unique_ptr<ShmChannel>> Attach(int fd);
  ~ShmChannel();
  ShmChannel(const ShmChannel&) = delete;
  ShmChannel& operator=(const ShmChannel&) = delete;

  // Sends one frame: into the lane when it fits, else announced in the lane and written to
  // `sock`. Rings the doorbell on `sock` when the peer had gone to sleep.
  Status Send(int sock, Opcode op, uint32_t request_id, ByteSpan payload);
  // Waits for the peer's next frame: polls the lane for up to spin_us, then sleeps in a read of
  // `socket_reader` (whose errors, e.g. EOF or the receive timeout, are returned as they are).
  Result<Frame> Receive(FrameReader& socket_reader, unsigned spin_us);
  // Unmaps without touching the shared memory (a forked child's copy of its parent's channel).
  void Abandon();

  static size_t MappingSize();

 private:
  struct alignas(64) Lane {
    std::atomic<uint32_t> seq;
    std::atomic<uint32_t> waiting;
    std::atomic<uint32_t> len;
  };
  ShmChannel(void* base, Side side);
  Lane& lane(bool to_daemon) const;
  uint8_t* data(bool to_daemon) const;
  bool PollSeq(const Lane& in, unsigned spin_us) const;
  Result<Frame> ReadSocketMessage(FrameReader& socket_reader);

  void* base_;
  Side side_;
  uint32_t seen_ = 0;  // the last seq of the inbound lane this side consumed
};

}  // namespace vhsm::ipc
