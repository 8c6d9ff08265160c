// client.h: the client module's connection to vhsmd. Keeps a small pool of connections so that
// each application thread has its own (no lock held during a round trip); every new connection
// introduces itself with kHello and this process's random application token, so the daemon
// shares one login state across them. Call() is one round trip: it writes a request frame and
// reads the reply with the same request id. A transport failure drops that connection and returns
// Unavailable (mapped to CKR_DEVICE_ERROR by the caller); no call blocks longer than the receive
// timeout. Never holds key material.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "ipc/protocol.h"
#include "ipc/shm_channel.h"
#include "ipc/transport.h"

namespace vhsm::pkcs11 {

struct ClientOptions {
  std::string socket_path;
  int timeout_ms = 60000;  // RSA-4096 key generation can take seconds
  // After sending a request, poll this long for the reply before sleeping (0 disables). Only
  // while this process's calls in flight leave a CPU for vhsmd (2 x calls <= CPUs); otherwise
  // at most ipc::kDefaultSpinUs, so that waiting threads do not take the CPUs vhsmd's workers need.
  unsigned spin_us = ipc::kDefaultClientSpinUs;
  // Ask vhsmd for shared-memory lanes per connection (ipc/shm_channel.h); a daemon that refuses
  // leaves the connection on the socket.
  bool shm = true;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One round trip. Returns the reply payload (starting with the u64 CK_RV).
  Result<Bytes> Call(ipc::Opcode op, ByteSpan payload);
  // Closes every pooled connection without talking to the daemon (used after fork in the child,
  // where the descriptors are copies shared with the parent).
  void AbandonAll();
  const std::string& socket_path() const { return options_.socket_path; }

 private:
  struct Conn {
    explicit Conn(int f) : fd(f), reader(f) {}
    int fd = -1;
    uint32_t next_id = 1;
    ipc::FrameReader reader;
    std::unique_ptr<ipc::ShmChannel> shm;  // set once the daemon granted the lanes
  };
  Status AttachShm(Conn& c);
  Result<std::unique_ptr<Conn>> Connect();
  Result<Bytes> RoundTrip(Conn& c, ipc::Opcode op, ByteSpan payload);

  ClientOptions options_;
  Bytes app_token_;
  std::atomic<int> in_flight_{0};  // calls waiting for a reply (picks the poll budget)
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
};

}  // namespace vhsm::pkcs11
