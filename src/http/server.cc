// server.cc
#include "http/server.h"

#include <openssl/ssl.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "http/httplib.h"
#include "http/problem.h"

namespace vhsm::http {

// ---- Request ----

const std::string& Request::method() const { return raw_.method; }
const std::string& Request::path() const { return raw_.path; }
const std::string& Request::body() const { return raw_.body; }
std::string Request::remote_addr() const { return raw_.remote_addr; }
std::string Request::header(std::string_view name) const { return raw_.get_header_value(std::string(name).c_str()); }
bool Request::has_header(std::string_view name) const { return raw_.has_header(std::string(name).c_str()); }
std::string Request::path_param(size_t i) const {
  return i < raw_.matches.size() ? raw_.matches[static_cast<int>(i)].str() : std::string();
}
std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string n(name);
  if (!raw_.has_param(n.c_str())) return std::nullopt;
  return raw_.get_param_value(n.c_str());
}
std::optional<std::string> Request::cookie(std::string_view name) const {
  return FindCookie(header("Cookie"), name);
}

// ---- Server ----

namespace {

void WriteProblem(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, std::string(kProblemContentType).c_str());
}

bool Readable(const std::string& path) {
  std::ifstream f(path);
  return f.good();
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options) {
  VHSM_ASSIGN_OR_RETURN(ListenAddress address, ParseListenAddress(options.listen));
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (tls && (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
    return InvalidArgumentError("TLS: --tls-cert and --tls-key must be given together");
  }
  VHSM_RETURN_IF_ERROR(CheckListenPolicy(address, tls, options.dev));
  if (options.max_body_bytes == 0) return InvalidArgumentError("max_body_bytes: want > 0");
  std::unique_ptr<httplib::Server> impl;
  if (tls) {
    for (const std::string* f : {&options.tls_cert_file, &options.tls_key_file}) {
      if (!Readable(*f)) return InvalidArgumentError("TLS: cannot read " + *f);
    }
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(), options.tls_key_file.c_str());
    if (!ssl->is_valid()) {
      return InvalidArgumentError("TLS: cannot load certificate " + options.tls_cert_file + " with key " +
                                  options.tls_key_file + " (PEM expected; key must match the certificate)");
    }
    SSL_CTX_set_min_proto_version(ssl->ssl_context(), TLS1_2_VERSION);
    impl = std::move(ssl);
  } else {
    impl = std::make_unique<httplib::Server>();
  }
  auto server = std::unique_ptr<Server>(new Server(options, std::move(address), std::move(impl), tls));
  server->InstallDefaults();
  return server;
}

Server::Server(ServerOptions options, ListenAddress address, std::unique_ptr<httplib::Server> impl, bool tls)
    : options_(std::move(options)), address_(std::move(address)), impl_(std::move(impl)), tls_(tls) {
  requests_ = &metrics_.AddCounter("http_requests_total", "HTTP requests handled, by route, method and status code",
                                   {"route", "method", "code"});
  latency_ = &metrics_.AddHistogram("http_request_duration_seconds", "Handler latency by route", {"route"});
}

Server::~Server() { Stop(); }

void Server::InstallDefaults() {
  httplib::Server& s = *impl_;
  s.set_payload_max_length(options_.max_body_bytes);
  // httplib's default also sets SO_REUSEPORT, which lets a second process bind the same port and
  // silently take half the connections. SO_REUSEADDR alone (fast restarts) is what we want.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Small request/response pairs: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms stalls.
  s.set_tcp_nodelay(true);
  s.set_read_timeout(std::chrono::milliseconds(options_.read_timeout_ms));
  s.set_write_timeout(std::chrono::milliseconds(options_.write_timeout_ms));
  s.set_keep_alive_timeout(options_.keep_alive_timeout_s);
  s.set_keep_alive_max_count(options_.keep_alive_max_requests);
  const size_t threads = options_.worker_threads == 0 ? 1 : options_.worker_threads;
  // httplib's API takes ownership of a raw TaskQueue pointer and deletes it itself.
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Every error response httplib produces on its own (no route, body too large, unparsable
  // request) has an empty body; give it a problem+json one. Ours already have a body.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string detail = res.status == 413   ? "request body too large"
                         : res.status == 404 ? "no such resource"
                                             : std::string(ReasonPhrase(res.status));
    WriteProblem(res, res.status, ProblemJsonForHttp(res.status, detail));
    return httplib::Server::HandlerResponse::Handled;
  }));
  // httplib answers an over-long Content-Length with 413 only after reading and discarding the
  // whole body (or timing out), so refuse it here, before the body is read, and close.
  const size_t max_body = options_.max_body_bytes;
  s.set_pre_routing_handler([max_body](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("Content-Length")) return httplib::Server::HandlerResponse::Unhandled;
    const std::string value = req.get_header_value("Content-Length");
    uint64_t declared = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), declared);
    const bool bad = ec != std::errc() || ptr != value.data() + value.size();
    if (!bad && declared <= max_body) return httplib::Server::HandlerResponse::Unhandled;
    const Status st = bad ? InvalidArgumentError("Content-Length: not a number")
                          : ResourceExhaustedError("request body of " + value + " bytes; limit " +
                                                   std::to_string(max_body));
    WriteProblem(res, ToHttp(st), ProblemJson(st));
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    WriteProblem(res, 500, ProblemJson(InternalError("unhandled exception")));
  });
  Get("/healthz", [this](const Request&) -> Result<Response> {
    if (health_) VHSM_RETURN_IF_ERROR(health_());
    return Response::Json(R"({"status":"ok"})");
  });
  Get("/metrics", [this](const Request&) -> Result<Response> {
    return Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Render(), {}};
  });
}

void Server::Handle(std::string_view method, const std::string& pattern, Handler handler) {
  std::string m(method);
  auto wrapped = [this, pattern, m, h = std::move(handler)](const httplib::Request& raw, httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    try {
      if (raw.body.size() > options_.max_body_bytes) {  // chunked bodies are checked by httplib too
        WriteProblem(res, 413, ProblemJson(ResourceExhaustedError("request body over " +
                                                                  std::to_string(options_.max_body_bytes) + " bytes")));
      } else {
        Request req(raw);
        Result<Response> r = h(req);
        if (r.ok()) {
          res.status = r->status;
          for (auto& [k, v] : r->headers) res.headers.emplace(k, v);
          if (!r->body.empty() || !r->content_type.empty()) res.set_content(r->body, r->content_type.c_str());
        } else {
          const Status& st = r.status();
          if (options_.logger && (st.code() == StatusCode::kInternal || st.code() == StatusCode::kDataLoss)) {
            options_.logger->Error(m + " " + pattern + ": " + st.ToString());
          }
          WriteProblem(res, ToHttp(st), ProblemJson(st));
        }
      }
    } catch (const std::exception& e) {
      if (options_.logger) options_.logger->Error(m + " " + pattern + ": exception: " + e.what());
      WriteProblem(res, 500, ProblemJson(InternalError("exception")));
    } catch (...) {
      if (options_.logger) options_.logger->Error(m + " " + pattern + ": unknown exception");
      WriteProblem(res, 500, ProblemJson(InternalError("exception")));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    requests_->Inc({pattern, m, std::to_string(res.status)});
    latency_->Observe({pattern}, secs);
  };
  if (m == "GET") impl_->Get(pattern, wrapped);
  else if (m == "POST") impl_->Post(pattern, wrapped);
  else if (m == "PUT") impl_->Put(pattern, wrapped);
  else if (m == "DELETE") impl_->Delete(pattern, wrapped);
  else if (m == "PATCH") impl_->Patch(pattern, wrapped);
  else if (m == "OPTIONS") impl_->Options(pattern, wrapped);
  else VHSM_CHECK(false, "HTTP method must be GET, POST, PUT, DELETE, PATCH or OPTIONS");
}

Status Server::Start() {
  if (thread_.joinable()) return FailedPreconditionError("server: already started");
  if (address_.port == 0) {
    port_ = impl_->bind_to_any_port(address_.host);
    if (port_ <= 0) return UnavailableError("listen " + address_.ToString() + ": cannot bind");
  } else {
    if (!impl_->bind_to_port(address_.host, address_.port)) {
      return UnavailableError("listen " + address_.ToString() + ": cannot bind (address in use or not local?)");
    }
    port_ = address_.port;
  }
  thread_ = std::thread([this] { impl_->listen_after_bind(); });
  // Wait until the accept loop runs: httplib's stop() is a no-op before that, and Stop() would
  // then wait forever.
  for (int i = 0; i < 5000 && !impl_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (options_.announce) {
    std::printf("%s\n", ListeningLine().c_str());
    std::fflush(stdout);
  }
  return OkStatus();
}

void Server::Stop() {
  if (!thread_.joinable()) return;
  impl_->stop();
  thread_.join();
}

std::string Server::url() const {
  ListenAddress a = address_;
  a.port = port_;
  return std::string(tls_ ? "https://" : "http://") + a.ToString();
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace vhsm::http
