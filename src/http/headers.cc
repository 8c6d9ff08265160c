// headers.cc
#include "http/headers.h"

#include <arpa/inet.h>

#include <charconv>

namespace vhsm::http {
namespace {

constexpr size_t kMaxAuthorizationBytes = 16 * 1024;
constexpr size_t kMaxCookieHeaderBytes = 8 * 1024;

bool IsToken68Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/';
}

// RFC 7230 tchar.
bool IsTchar(char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 6265 cookie-octet.
bool IsCookieOctet(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x2B) || (u >= 0x2D && u <= 0x3A) || (u >= 0x3C && u <= 0x5B) ||
         (u >= 0x5D && u <= 0x7E);
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Result<std::string> BearerToken(std::string_view header) {
  if (header.empty()) return UnauthenticatedError("Authorization: missing; want \"Bearer <token>\"");
  if (header.size() > kMaxAuthorizationBytes) {
    return UnauthenticatedError("Authorization: got " + std::to_string(header.size()) + " bytes, limit 16384");
  }
  size_t sp = header.find(' ');
  if (sp == std::string_view::npos || !EqualsIgnoreCase(header.substr(0, sp), "bearer")) {
    return UnauthenticatedError("Authorization: want scheme Bearer");
  }
  std::string_view token = header.substr(sp);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return UnauthenticatedError("Authorization: Bearer without a token");
  size_t i = 0;
  while (i < token.size() && IsToken68Char(token[i])) ++i;
  while (i < token.size() && token[i] == '=') ++i;
  if (i != token.size()) {
    return UnauthenticatedError("Authorization: bearer token has a character outside token68 at offset " +
                                std::to_string(i));
  }
  return std::string(token);
}

std::optional<std::string> FindCookie(std::string_view header, std::string_view name) {
  if (header.size() > kMaxCookieHeaderBytes || name.empty()) return std::nullopt;
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = TrimOws(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (TrimOws(pair.substr(0, eq)) != name) continue;
    std::string_view value = TrimOws(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return std::nullopt;
}

Result<std::string> SetCookieValue(std::string_view name, std::string_view value, const CookieOptions& o) {
  if (name.empty() || name.size() > 256) return InvalidArgumentError("cookie name: want 1..256 characters");
  for (char c : name) {
    if (!IsTchar(c)) return InvalidArgumentError("cookie name: character outside RFC 7230 token");
  }
  if (value.size() > 4096) return InvalidArgumentError("cookie value: over 4096 bytes");
  for (char c : value) {
    if (!IsCookieOctet(c)) return InvalidArgumentError("cookie value: character outside RFC 6265 cookie-octet");
  }
  for (char c : o.path) {
    if (c == ';' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return InvalidArgumentError("cookie path: bad character");
  }
  if (o.same_site == SameSite::kNone && !o.secure) {
    return InvalidArgumentError("cookie: SameSite=None requires Secure");
  }
  std::string out = std::string(name) + "=" + std::string(value);
  if (!o.path.empty()) out += "; Path=" + o.path;
  if (o.max_age_s) out += "; Max-Age=" + std::to_string(*o.max_age_s);
  if (o.secure) out += "; Secure";
  if (o.http_only) out += "; HttpOnly";
  out += o.same_site == SameSite::kStrict ? "; SameSite=Strict" : o.same_site == SameSite::kLax ? "; SameSite=Lax" : "; SameSite=None";
  return out;
}

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  if (text.empty() || text.size() > 300) return InvalidArgumentError("listen address: want HOST:PORT");
  ListenAddress out;
  std::string_view port_text;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgumentError("listen address \"" + std::string(text) + "\": want [IPV6]:PORT");
    }
    out.host = std::string(text.substr(1, close - 1));
    in6_addr a6{};
    if (inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) {
      return InvalidArgumentError("listen address: \"" + out.host + "\" is not an IPv6 address");
    }
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgumentError("listen address \"" + std::string(text) + "\": missing :PORT");
    }
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return InvalidArgumentError("listen address \"" + std::string(text) + "\": put IPv6 addresses in brackets");
    }
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return InvalidArgumentError("listen address \"" + std::string(text) + "\": empty host");
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '[' || c == ']') {
      return InvalidArgumentError("listen address: bad character in host");
    }
  }
  int port = -1;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || port_text.size() > 5 || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return InvalidArgumentError("listen address \"" + std::string(text) + "\": port must be 0..65535");
  }
  out.port = port;
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  std::string h(host);
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

Status CheckListenPolicy(const ListenAddress& address, bool tls_configured, bool dev) {
  if (tls_configured) return OkStatus();
  if (!dev) {
    return FailedPreconditionError("listen " + address.ToString() +
                                   ": TLS required; pass --tls-cert and --tls-key (or --dev for plain HTTP on "
                                   "loopback only)");
  }
  if (!IsLoopbackHost(address.host)) {
    return FailedPreconditionError("listen " + address.ToString() +
                                   ": --dev serves plain HTTP and is refused on a non-loopback address; use "
                                   "127.0.0.1, ::1 or localhost, or configure TLS");
  }
  return OkStatus();
}

}  // namespace vhsm::http
