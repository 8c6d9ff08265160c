// The shared-memory lanes beside a connection's socket: messages in the lane and on the socket,
// a sleeping receiver woken by the doorbell, a peer that leaves, and a daemon-side receiver facing
// a client that writes nonsense into the mapping.
#include "ipc/shm_channel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "base/byte_reader.h"
#include "testing/status_matchers.h"

namespace vhsm::ipc {
namespace {

using ::testing::HasSubstr;

// A daemon-side and a client-side channel over a socketpair, the memfd passed as vhsmd passes it.
struct Pair {
  int daemon_sock = -1;
  int client_sock = -1;
  std::unique_ptr<ShmChannel> daemon;
  std::unique_ptr<ShmChannel> client;
  uint8_t* raw = nullptr;  // a third mapping: what a misbehaving client could write

  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    daemon_sock = sv[0];
    client_sock = sv[1];
    int memfd = -1;
    auto created = ShmChannel::Create(&memfd);
    EXPECT_OK(created.status());
    daemon = std::move(*created);
    raw = static_cast<uint8_t*>(
        ::mmap(nullptr, ShmChannel::MappingSize(), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
    EXPECT_NE(raw, MAP_FAILED);
    EXPECT_OK(WriteAllWithFd(daemon_sock, EncodeFrame(Opcode::kShmAttach, 1, Bytes(8, 0)), memfd));
    ::close(memfd);
    int received = -1;
    auto f = ReadFrameWithFd(client_sock, &received);
    EXPECT_OK(f.status());
    EXPECT_GE(received, 0);
    auto attached = ShmChannel::Attach(received);
    EXPECT_OK(attached.status());
    client = std::move(*attached);
  }
  ~Pair() {
    ::munmap(raw, ShmChannel::MappingSize());
    if (daemon_sock >= 0) ::close(daemon_sock);
    if (client_sock >= 0) ::close(client_sock);
  }
  // The client -> daemon lane, written directly.
  std::atomic<uint32_t>& seq() { return *reinterpret_cast<std::atomic<uint32_t>*>(raw); }
  std::atomic<uint32_t>& len() { return *reinterpret_cast<std::atomic<uint32_t>*>(raw + 8); }
  uint8_t* data() { return raw + kShmControlBytes; }
};

Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

// An echo server on the daemon side: answers each request with its payload reversed.
void Echo(Pair& p, unsigned spin_us, int count) {
  FrameReader reader(p.daemon_sock);
  for (int i = 0; i < count; ++i) {
    auto f = p.daemon->Receive(reader, spin_us);
    ASSERT_OK(f.status());
    Bytes reply(f->payload.rbegin(), f->payload.rend());
    ASSERT_OK(p.daemon->Send(p.daemon_sock, f->header.opcode, f->header.request_id, reply));
  }
}

void RoundTrips(unsigned spin_us) {
  Pair p;
  const size_t sizes[] = {0, 1, 100, 4096, kShmLaneBytes - kHeaderSize, kShmLaneBytes - kHeaderSize + 1, 300000};
  constexpr int kRounds = 40;
  std::thread server([&] { Echo(p, spin_us, kRounds * static_cast<int>(std::size(sizes))); });
  FrameReader reader(p.client_sock);
  uint32_t id = 10;
  for (int round = 0; round < kRounds; ++round) {
    for (size_t n : sizes) {
      Bytes msg = Pattern(n, static_cast<uint8_t>(round));
      ASSERT_OK(p.client->Send(p.client_sock, Opcode::kSign, ++id, msg));
      ASSERT_OK_AND_ASSIGN(Frame f, p.client->Receive(reader, spin_us));
      EXPECT_EQ(f.header.opcode, Opcode::kSign);
      EXPECT_EQ(f.header.request_id, id);
      EXPECT_EQ(f.payload, Bytes(msg.rbegin(), msg.rend())) << "size " << n;
    }
  }
  server.join();
}

TEST(ShmChannelTest, RoundTripsWhilePolling) { RoundTrips(100000); }

// spin 0: every receive sleeps in the socket read; only the doorbell (or a frame too large for
// the lane) wakes it.
TEST(ShmChannelTest, RoundTripsWhenBothSidesSleep) { RoundTrips(0); }

TEST(ShmChannelTest, LargeMessageTravelsOnTheSocket) {
  Pair p;
  Bytes big = Pattern(kShmLaneBytes, 3);  // header + this does not fit
  ASSERT_OK(p.client->Send(p.client_sock, Opcode::kEncrypt, 5, big));
  EXPECT_EQ(p.len().load(), kShmOnSocket);
  FrameReader reader(p.daemon_sock);
  ASSERT_OK_AND_ASSIGN(Frame f, p.daemon->Receive(reader, 0));
  EXPECT_EQ(f.payload, big);
}

TEST(ShmChannelTest, ReceiverLearnsThatThePeerLeft) {
  Pair p;
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::close(p.client_sock);
    p.client_sock = -1;
  });
  FrameReader reader(p.daemon_sock);
  EXPECT_THAT(p.daemon->Receive(reader, 50).status(), StatusIs(StatusCode::kUnavailable, HasSubstr("peer closed")));
  closer.join();
}

TEST(ShmChannelTest, ConsumedRequestIsWipedFromTheLane) {
  Pair p;
  Bytes pin = {'1', '2', '3', '4', '5', '6'};
  ASSERT_OK(p.client->Send(p.client_sock, Opcode::kLogin, 2, pin));
  FrameReader reader(p.daemon_sock);
  ASSERT_OK_AND_ASSIGN(Frame f, p.daemon->Receive(reader, 0));
  EXPECT_EQ(f.payload, pin);
  EXPECT_EQ(Bytes(p.data(), p.data() + kHeaderSize + pin.size()), Bytes(kHeaderSize + pin.size(), 0));
}

// A client that writes the lane directly: every kind of nonsense is an error, never a read outside
// the lane.
class ShmChannelHostileTest : public ::testing::Test {
 protected:
  Status Deliver(uint32_t len, ByteSpan bytes) {
    std::memcpy(p_.data(), bytes.data(), std::min<size_t>(bytes.size(), kShmLaneBytes));
    p_.len().store(len);
    p_.seq().fetch_add(1);
    FrameReader reader(p_.daemon_sock);
    return p_.daemon->Receive(reader, 0).status();
  }
  Pair p_;
};

TEST_F(ShmChannelHostileTest, LengthBeyondTheLane) {
  EXPECT_THAT(Deliver(kShmLaneBytes + 1, EncodeFrame(Opcode::kSign, 1, {})),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("message length")));
  EXPECT_THAT(Deliver(kShmOnSocket - 1, EncodeFrame(Opcode::kSign, 1, {})),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("message length")));
}

TEST_F(ShmChannelHostileTest, LengthShorterThanAHeader) {
  EXPECT_THAT(Deliver(3, EncodeFrame(Opcode::kSign, 1, {})),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("message length 3")));
}

TEST_F(ShmChannelHostileTest, BadHeaderInTheLane) {
  Bytes frame = EncodeFrame(Opcode::kSign, 1, Bytes(4, 9));
  frame[0] ^= 1;
  EXPECT_THAT(Deliver(static_cast<uint32_t>(frame.size()), frame),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("frame.magic")));
}

TEST_F(ShmChannelHostileTest, HeaderDisagreesWithTheLaneLength) {
  Bytes frame = EncodeFrame(Opcode::kSign, 1, Bytes(100, 9));
  EXPECT_THAT(Deliver(kHeaderSize + 10, frame), StatusIs(StatusCode::kInvalidArgument, HasSubstr("disagrees")));
}

TEST(ShmChannelAttachTest, RefusesAMappingOfTheWrongSize) {
  int fd = ::memfd_create("not-lanes", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  EXPECT_THAT(ShmChannel::Attach(fd).status(), StatusIs(StatusCode::kUnavailable, HasSubstr("want")));
}

TEST(ShmChannelAttachTest, FrameWithoutDescriptorGivesMinusOne) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_OK(WriteAll(sv[0], EncodeFrame(Opcode::kShmAttach, 4, Bytes(8, 1))));
  int received = 7;
  ASSERT_OK_AND_ASSIGN(Frame f, ReadFrameWithFd(sv[1], &received));
  EXPECT_EQ(received, -1);
  EXPECT_EQ(f.payload, Bytes(8, 1));
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
}  // namespace vhsm::ipc
