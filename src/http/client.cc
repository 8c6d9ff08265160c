// client.cc
#include "http/client.h"

#include <charconv>
#include <chrono>
#include <thread>

#include "http/httplib.h"

namespace vhsm::http {

std::string ClientResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < k.size() && eq; ++i) eq = std::tolower(static_cast<unsigned char>(k[i])) ==
                                                     std::tolower(static_cast<unsigned char>(name[i]));
    if (eq) return v;
  }
  return "";
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  if (url.size() > 2048) return InvalidArgumentError("base URL: over 2048 characters");
  BaseUrl out;
  std::string_view rest;
  if (url.starts_with("https://")) {
    out.https = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return InvalidArgumentError("base URL \"" + std::string(url.substr(0, 100)) + "\": want http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return InvalidArgumentError("base URL: user info not allowed");
  if (path.find_first_of("?#") != std::string_view::npos) return InvalidArgumentError("base URL: query/fragment not allowed");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgumentError("base URL: unterminated [IPv6]");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgumentError("base URL: junk after ]");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return InvalidArgumentError("base URL: empty host");
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return InvalidArgumentError("base URL: bad character in host");
    }
  }
  out.port = out.https ? 443 : 80;
  if (!port_text.empty()) {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || p <= 0 || p > 65535) {
      return InvalidArgumentError("base URL: port must be 1..65535");
    }
    out.port = p;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.path_prefix = std::string(path);
  return out;
}

Result<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  VHSM_ASSIGN_OR_RETURN(BaseUrl base, ParseBaseUrl(options.base_url));
  std::string host = base.host.find(':') != std::string::npos ? "[" + base.host + "]" : base.host;
  auto impl = std::make_unique<httplib::Client>((base.https ? "https://" : "http://") + host + ":" +
                                                std::to_string(base.port));
  if (!impl->is_valid()) return InvalidArgumentError("base URL: httplib rejected " + options.base_url);
  impl->set_connection_timeout(std::chrono::milliseconds(options.connect_timeout_ms));
  impl->set_read_timeout(std::chrono::milliseconds(options.read_timeout_ms));
  impl->set_write_timeout(std::chrono::milliseconds(options.read_timeout_ms));
  impl->set_keep_alive(true);
  impl->set_tcp_nodelay(true);  // see server.cc: avoid Nagle/delayed-ACK stalls on small messages
  if (base.https) {
    impl->enable_server_certificate_verification(true);
    if (!options.ca_file.empty()) impl->set_ca_cert_path(options.ca_file.c_str());
  }
  return std::unique_ptr<Client>(new Client(options, std::move(base), std::move(impl)));
}

Client::Client(ClientOptions options, BaseUrl base, std::unique_ptr<httplib::Client> impl)
    : options_(std::move(options)), base_(std::move(base)), impl_(std::move(impl)) {}
Client::~Client() = default;

Result<ClientResponse> Client::Send(std::string_view method, std::string_view path, std::string_view body,
                                    std::string_view content_type,
                                    const std::vector<std::pair<std::string, std::string>>& headers) {
  if (path.empty() || path.front() != '/') return InvalidArgumentError("request path: want a leading '/'");
  const std::string m(method);
  const bool idempotent = m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE";
  const int attempts = options_.max_attempts < 1 ? 1 : options_.max_attempts;
  int backoff_ms = options_.backoff_initial_ms;
  std::string last_error;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 2000);
    }
    std::string received;
    bool too_large = false;
    httplib::Request req;
    req.method = m;
    req.path = base_.path_prefix + std::string(path);
    for (const auto& [k, v] : headers) req.headers.emplace(k, v);
    if (!body.empty() || m == "POST" || m == "PUT") {
      req.body = std::string(body);
      if (!content_type.empty()) req.headers.emplace("Content-Type", std::string(content_type));
    }
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (received.size() + n > options_.max_response_bytes) {
        too_large = true;
        return false;
      }
      received.append(data, n);
      return true;
    };
    httplib::Result res = impl_->send(req);
    if (too_large) {
      return ResourceExhaustedError(m + " " + req.path + ": response over " +
                                    std::to_string(options_.max_response_bytes) + " bytes");
    }
    if (!res) {
      const httplib::Error err = res.error();
      last_error = httplib::to_string(err);
      const bool nothing_sent = err == httplib::Error::Connection || err == httplib::Error::ConnectionTimeout;
      const bool transport = nothing_sent || err == httplib::Error::Read || err == httplib::Error::Write;
      if (err == httplib::Error::SSLServerVerification || err == httplib::Error::SSLConnection ||
          err == httplib::Error::SSLLoadingCerts) {
        return UnavailableError(m + " " + base_.host + req.path + ": TLS failure: " + last_error);
      }
      if (nothing_sent || (idempotent && transport)) continue;
      return UnavailableError(m + " " + base_.host + req.path + ": " + last_error);
    }
    if (idempotent && (res->status == 502 || res->status == 503 || res->status == 504) && attempt < attempts) {
      last_error = "HTTP " + std::to_string(res->status);
      continue;
    }
    ClientResponse out;
    out.status = res->status;
    out.body = std::move(received);
    for (const auto& [k, v] : res->headers) out.headers.emplace_back(k, v);
    return out;
  }
  return UnavailableError(m + " " + base_.host + base_.path_prefix + std::string(path) + ": no response after " +
                          std::to_string(attempts) + " attempts: " + last_error);
}

}  // namespace vhsm::http
