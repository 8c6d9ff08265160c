// http_headers_fuzzer.cc: the header-value parsers of http/ (Bearer, Cookie, listen address,
// base URL) and the problem+json renderer on arbitrary text. Properties: accepted values
// round-trip through their formatters, and problem bodies are always valid JSON.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "http/client.h"
#include "http/headers.h"
#include "http/problem.h"

namespace {
void Require(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  using namespace vhsm::http;

  if (auto token = BearerToken(in); token.ok()) {
    Require(!token->empty());
    auto again = BearerToken("Bearer " + *token);
    Require(again.ok() && *again == *token);
  }
  if (auto v = FindCookie(in, "a"); v) Require(v->find(';') == std::string::npos);
  if (auto set = SetCookieValue("n", in); set.ok()) {
    auto back = FindCookie(*set, "n");
    Require(back.has_value() && *back == in);
  }
  if (auto addr = ParseListenAddress(in); addr.ok()) {
    auto again = ParseListenAddress(addr->ToString());
    Require(again.ok() && again->host == addr->host && again->port == addr->port);
    (void)CheckListenPolicy(*addr, false, true);
  }
  if (auto url = ParseBaseUrl(in); url.ok()) Require(url->port > 0 && url->port <= 65535 && !url->host.empty());
  auto problem = nlohmann::json::parse(ProblemJson(vhsm::InvalidArgumentError(in)), nullptr, false);
  Require(!problem.is_discarded() && problem["status"] == 400);
  return 0;
}
