// problem.cc
#include "http/problem.h"

#include <nlohmann/json.hpp>

namespace vhsm::http {

int ToHttp(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kOutOfRange: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kResourceExhausted: return 413;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kDataLoss: return 500;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

std::string_view ReasonPhrase(int s) {
  switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

namespace {
std::string Kebab(std::string_view code_name) {
  std::string out;
  for (char c : code_name) out.push_back(c == '_' ? '-' : static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  return out;
}

std::string Render(std::string type, int http_status, std::string_view detail, std::string_view code) {
  nlohmann::json j = {{"type", std::move(type)},
                      {"title", std::string(ReasonPhrase(http_status))},
                      {"status", http_status},
                      {"detail", std::string(detail)}};
  if (!code.empty()) j["code"] = std::string(code);
  // `replace`: a message carrying invalid UTF-8 from some peer must not throw here.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

std::string ProblemJson(const Status& status) {
  const int http_status = ToHttp(status);
  std::string_view name = StatusCodeName(status.code());
  const bool hide = status.code() == StatusCode::kInternal || status.code() == StatusCode::kDataLoss;
  return Render("urn:vhsm:problem:" + Kebab(name), http_status, hide ? "internal error" : status.message(), name);
}

std::string ProblemJsonForHttp(int http_status, std::string_view detail) {
  return Render("about:blank", http_status, detail, "");
}

}  // namespace vhsm::http
