// client.h: the HTTP(S) client services use to reach each other (JWKS from the Attestation
// Service, KDS for collateral): base URL http:// or https://, server verification against a CA
// file or the system store, connect/read timeouts, a response size bound, and bounded retries
// with exponential backoff for failures that are safe to retry. One request at a time per
// Client (requests are serialized); make one Client per thread for parallel calls.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace httplib {
class Client;
}

namespace vhsm::http {

struct ClientOptions {
  std::string base_url;  // "https://kds.example:443", "http://127.0.0.1:8080" (path prefix allowed)
  std::string ca_file;   // PEM bundle to verify the server; empty = system default store
  int connect_timeout_ms = 5000;
  int read_timeout_ms = 10000;
  // Total tries per request. Retried: connection failures before anything was sent (any
  // method), and for GET/HEAD/PUT/DELETE also read/write failures and 502/503/504 answers.
  int max_attempts = 3;
  int backoff_initial_ms = 100;  // doubles per retry, capped at 2 s
  size_t max_response_bytes = 16u << 20;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // First header with this name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

struct BaseUrl {
  bool https = false;
  std::string host;  // without brackets
  int port = 0;      // defaulted from the scheme
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)
};
// kInvalidArgument naming the problem; only http and https, no user info, no query.
Result<BaseUrl> ParseBaseUrl(std::string_view url);

class Client {
 public:
  static Result<std::unique_ptr<Client>> Create(const ClientOptions& options);
  ~Client();

  // Returns the response for any HTTP status (the caller decides what a 404 means).
  // kUnavailable when no response arrived after the retries (connection refused, TLS failure,
  // timeout), kResourceExhausted when the body exceeds max_response_bytes.
  Result<ClientResponse> Send(std::string_view method, std::string_view path, std::string_view body = {},
                              std::string_view content_type = {},
                              const std::vector<std::pair<std::string, std::string>>& headers = {});
  Result<ClientResponse> Get(std::string_view path, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return Send("GET", path, {}, {}, h);
  }
  Result<ClientResponse> Post(std::string_view path, std::string_view body, std::string_view content_type,
                              const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return Send("POST", path, body, content_type, h);
  }
  Result<ClientResponse> Put(std::string_view path, std::string_view body, std::string_view content_type,
                             const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return Send("PUT", path, body, content_type, h);
  }
  Result<ClientResponse> Delete(std::string_view path, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return Send("DELETE", path, {}, {}, h);
  }

 private:
  Client(ClientOptions options, BaseUrl base, std::unique_ptr<httplib::Client> impl);
  ClientOptions options_;
  BaseUrl base_;
  std::unique_ptr<httplib::Client> impl_;
};

}  // namespace vhsm::http
