// shm_lane_fuzzer: vhsmd's receive side of the shared-memory lanes (ipc/shm_channel.h) when the
// client writes arbitrary bytes into the mapping. Input: u32 len || u16 n (little-endian) || n
// bytes for the lane || the rest, written to the socket (then closed), for the "message follows
// on the socket" path and for doorbells. Property: Receive returns a frame whose payload length
// agrees with the lane, or an error; it never reads outside the mapping.
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/byte_reader.h"
#include "ipc/shm_channel.h"

using namespace vhsm;       // NOLINT
using namespace vhsm::ipc;  // NOLINT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  int memfd = -1;
  auto channel = ShmChannel::Create(&memfd);
  if (!channel.ok()) std::abort();
  auto* raw = static_cast<uint8_t*>(
      ::mmap(nullptr, ShmChannel::MappingSize(), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
  ::close(memfd);
  if (raw == MAP_FAILED) std::abort();
  const uint32_t len = LoadU32Le(data);
  const size_t lane = std::min<size_t>(LoadU16Le(data + 4), size - 6);
  std::memcpy(raw + kShmControlBytes, data + 6, lane);
  if (size - 6 > lane) (void)!::send(sv[1], data + 6 + lane, size - 6 - lane, MSG_DONTWAIT);
  ::close(sv[1]);
  reinterpret_cast<std::atomic<uint32_t>*>(raw + 8)->store(len);
  reinterpret_cast<std::atomic<uint32_t>*>(raw)->fetch_add(1);
  FrameReader reader(sv[0]);
  Result<Frame> f = (*channel)->Receive(reader, 0);
  if (f.ok() && f->payload.size() != f->header.payload_len) std::abort();
  ::munmap(raw, ShmChannel::MappingSize());
  ::close(sv[0]);
  return 0;
}
