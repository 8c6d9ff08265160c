// admin_server.h: vhsmd's admin socket. A Unix stream socket separate from the PKCS#11 socket,
// created with mode 0600; a connection is served only when SO_PEERCRED says the peer runs as
// root or as vhsmd's own uid (anything else is refused with one error frame and logged). One
// request frame and one answer frame per connection (admin_protocol.h), served one connection at
// a time on a dedicated thread with a 10 s receive timeout. Start() returns once the socket
// listens; Stop() closes it and joins the thread. Thread-safe for Start/Stop from one owner.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "base/log.h"
#include "base/status.h"

namespace vhsm::provisioner {

struct AdminServerOptions {
  std::string socket_path;
  int receive_timeout_ms = 10000;
};

class AdminServer {
 public:
  using Handler = std::function<std::string(std::string_view request_body)>;
  AdminServer(AdminServerOptions options, Handler handler, Logger& log);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // kUnavailable when the socket cannot be created/bound (message names the path).
  Status Start();
  void Stop();

  // The peer-credential rule: root or this process's effective uid.
  static bool PeerAllowed(uid_t peer_uid);

 private:
  void Loop();
  void Serve(int fd);

  AdminServerOptions options_;
  Handler handler_;
  Logger& log_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vhsm::provisioner
