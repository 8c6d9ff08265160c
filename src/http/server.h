// server.h: the HTTP(S) server every vhsm service runs on (cpp-httplib underneath). It enforces
// the transport rules once for all services: TLS from PEM cert/key files (TLS 1.2+), plain HTTP
// only with `dev` on a loopback address, a request body limit (413), RFC 7807 problem+json for
// every error including httplib's own (404 no route, 413, 400), no exception escaping a handler
// (500 problem), per-route request counters and a latency histogram, /healthz and /metrics.
// Handlers return Result<Response>: an error Status becomes a problem via ToHttp().
//
// Lifetime: register routes, Start(), later Stop() (or destroy). Handlers run on the server's
// worker threads and must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "http/headers.h"
#include "http/metrics.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace vhsm::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  std::string tls_cert_file;            // PEM chain; with tls_key_file enables HTTPS
  std::string tls_key_file;             // PEM private key
  bool dev = false;                     // plain HTTP allowed, loopback only (see CheckListenPolicy)
  size_t max_body_bytes = 1 << 20;      // larger request bodies get 413
  int read_timeout_ms = 10000;
  int write_timeout_ms = 10000;
  // How long an idle keep-alive connection is kept. cpp-httplib 0.11 does not interrupt such a
  // connection on stop(): Stop() (SIGTERM) can take this long, so keep it short.
  int keep_alive_timeout_s = 2;
  // Requests served on one connection before the server closes it (cpp-httplib's default is 5,
  // which made a client reconnect, and the server accept and hand the socket to a worker, every
  // fifth request).
  size_t keep_alive_max_requests = 1000;
  size_t worker_threads = 8;
  bool announce = true;  // print "listening on http(s)://HOST:PORT" on stdout at Start()
  Logger* logger = nullptr;  // internal errors are logged here when set
};

// Read-only view of an incoming request, valid during the handler call.
class Request {
 public:
  explicit Request(const httplib::Request& raw) : raw_(raw) {}
  const std::string& method() const;
  const std::string& path() const;
  const std::string& body() const;
  std::string remote_addr() const;
  // Header value ("" when absent; the first one when repeated).
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // Regex capture group `i` (1-based) of the route pattern.
  std::string path_param(size_t i) const;
  std::optional<std::string> query_param(std::string_view name) const;
  std::optional<std::string> cookie(std::string_view name) const;
  // The Authorization Bearer token or kUnauthenticated.
  Result<std::string> bearer_token() const { return BearerToken(header("Authorization")); }
  const httplib::Request& raw() const { return raw_; }

 private:
  const httplib::Request& raw_;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response Json(std::string body, int status = 200) { return {status, "application/json", std::move(body), {}}; }
  static Response Text(std::string body, int status = 200) {
    return {status, "text/plain; charset=utf-8", std::move(body), {}};
  }
  static Response NoContent() { return {204, "", "", {}}; }
  Response& AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

using Handler = std::function<Result<Response>(const Request&)>;

class Server {
 public:
  // Validates options (listen address, --dev rule, TLS files); nothing is bound yet.
  // kInvalidArgument for a bad address or only one of cert/key, kFailedPrecondition for the dev
  // rule, kInvalidArgument naming the files when the certificate or key cannot be loaded.
  static Result<std::unique_ptr<Server>> Create(const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes: `pattern` is an ECMAScript regex matched against the whole path; captures are
  // Request::path_param(1..). Register before Start(). The pattern is the metrics route label.
  void Handle(std::string_view method, const std::string& pattern, Handler handler);
  void Get(const std::string& p, Handler h) { Handle("GET", p, std::move(h)); }
  void Post(const std::string& p, Handler h) { Handle("POST", p, std::move(h)); }
  void Put(const std::string& p, Handler h) { Handle("PUT", p, std::move(h)); }
  void Delete(const std::string& p, Handler h) { Handle("DELETE", p, std::move(h)); }

  // /healthz answers 200 {"status":"ok"} when this returns OK, else the problem (e.g. 503 when
  // the store is unreachable). Default: always OK.
  void SetHealthCheck(std::function<Status()> check) { health_ = std::move(check); }

  MetricsRegistry& metrics() { return metrics_; }

  // Binds and starts serving on a background thread. kUnavailable when the bind fails.
  Status Start();
  // Stops accepting, lets in-flight requests finish, joins the thread. Idempotent.
  void Stop();

  int port() const { return port_; }
  bool tls() const { return tls_; }
  // "https://127.0.0.1:8443", "http://[::1]:8080".
  std::string url() const;
  // "listening on <url>" - the line Start() prints when options.announce.
  std::string ListeningLine() const { return "listening on " + url(); }

 private:
  Server(ServerOptions options, ListenAddress address, std::unique_ptr<httplib::Server> impl, bool tls);
  void InstallDefaults();

  ServerOptions options_;
  ListenAddress address_;
  std::unique_ptr<httplib::Server> impl_;
  bool tls_;
  int port_ = 0;
  std::thread thread_;
  MetricsRegistry metrics_;
  Counter* requests_;
  Histogram* latency_;
  std::function<Status()> health_;
};

// Call first thing in main(): blocks SIGINT/SIGTERM in this and all later threads, so that
// WaitForShutdownSignal() can receive them synchronously. Returns the signal number received.
void BlockShutdownSignals();
int WaitForShutdownSignal();

}  // namespace vhsm::http
