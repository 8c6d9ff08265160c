// server.h: vhsmd's Unix-socket front end. Accepts connections (socket mode 0660, peers checked
// against a uid/gid allow-list via SO_PEERCRED), runs one thread per connection, decodes frames
// (ipc/protocol.h) and calls the Token. A connection first sends kHello with a random 16-byte
// application token; connections from the same process with the same token share one App (so
// login state is per application, as PKCS#11 requires). A malformed payload gets an error reply
// (CKR_ARGUMENTS_BAD); a bad header (magic, version, opcode, oversize) drops that connection only.
// When the last connection of an application closes, its sessions and session objects go.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/log.h"
#include "ipc/protocol.h"
#include "ipc/shm_channel.h"
#include "ipc/transport.h"
#include "vhsm/token.h"

namespace vhsm::hsm {

struct ServerOptions {
  std::string socket_path;
  // Peers allowed to connect; a peer passes when its uid is listed, or its primary gid (from
  // SO_PEERCRED) or one of its account's supplementary groups (getgrouplist) is listed. The
  // daemon's own uid is always allowed.
  std::vector<uid_t> allowed_uids;
  std::vector<gid_t> allowed_gids;
  // When set, the socket file is chgrp'd to this group (mode stays 0660) so that its members can
  // reach the socket at all; the allow-list above still decides who is served.
  std::optional<gid_t> socket_group;
  // After each reply, a connection's thread polls up to this long for the client's next request
  // before sleeping (ipc::SpinUntilReadable); 0 disables. Bounded CPU for a shorter round trip.
  unsigned spin_us = ipc::kDefaultSpinUs;
  // Offer clients the shared-memory lanes (ipc/shm_channel.h) on kShmAttach; when false the
  // request is answered CKR_FUNCTION_NOT_SUPPORTED and the client stays on the socket.
  bool shm = true;
};

// Resolves a group given by name or number ("vhsm", "994"); NotFound for an unknown name.
Result<gid_t> ResolveGroup(const std::string& name_or_gid);

class Server {
 public:
  Server(Token& token, Logger& log, ServerOptions options);
  ~Server();

  // Binds and listens (replacing a stale socket file), chmod 0660.
  Status Listen();
  // Accept loop; returns after Stop().
  void Run();
  // Stops accepting and disconnects every client without waiting for them: Run() returns soon
  // after. Safe from any thread (e.g. a signal-waiting one); idempotent.
  void RequestStop();
  // RequestStop(), then waits until every connection thread has finished. Safe from any thread
  // and idempotent: every caller returns only once the server is fully stopped.
  void Stop();
  // Serves one already-accepted connection until it closes (used by Run, and by tests).
  void ServeConnection(int fd);
  // Handles one request payload for `app` (nullptr before kHello). Exposed for the fuzzer.
  Bytes Handle(std::shared_ptr<App>& app, uint32_t pid, ipc::Opcode op, ByteSpan payload);

 private:
  bool PeerAllowed(const ::ucred& cred) const;
  // Answers kShmAttach: creates the lanes and passes their memfd, or refuses with a CK_RV (the
  // connection then stays on the socket). False when the reply could not be sent.
  bool AttachShm(int fd, bool hello_done, ByteSpan payload, uint32_t request_id,
                 std::unique_ptr<ipc::ShmChannel>& shm);
  void DetachApp(const std::shared_ptr<App>& app, uint32_t pid);

  Token& token_;
  Logger& log_;
  ServerOptions options_;
  int listen_fd_ = -1;

  std::mutex conns_mu_;
  std::map<int, std::thread> conns_;  // guarded by conns_mu_
  std::vector<std::thread> finished_;  // guarded by conns_mu_
  bool stopping_ = false;              // guarded by conns_mu_
  std::condition_variable conns_cv_;   // a connection thread finished (with conns_mu_)

  struct AppEntry {
    std::shared_ptr<App> app;
    int refs = 0;
  };
  std::mutex apps_mu_;
  std::map<std::pair<uint32_t, Bytes>, AppEntry> apps_;  // guarded by apps_mu_
};

}  // namespace vhsm::hsm
