// headers.h: parsing and producing the few HTTP header values services handle themselves:
// Bearer tokens (RFC 6750), cookies (RFC 6265: Cookie request header, Set-Cookie with
// Secure/HttpOnly/SameSite), and HOST:PORT listen addresses with the `--dev` rule (plain HTTP
// only on loopback). All parsers take untrusted text, bound its size and never throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vhsm::http {

// "Bearer <token68>" (scheme case-insensitive, one or more spaces). Returns the token.
// kUnauthenticated naming what is wrong (missing header, other scheme, bad characters,
// over 16 KiB) - the caller answers 401.
Result<std::string> BearerToken(std::string_view authorization_header);

// The value of cookie `name` in a Cookie request header ("a=1; b=2"), or nullopt. Surrounding
// double quotes on the value are removed. Headers over 8 KiB are ignored (nullopt).
std::optional<std::string> FindCookie(std::string_view cookie_header, std::string_view name);

enum class SameSite { kStrict, kLax, kNone };
struct CookieOptions {
  bool secure = true;  // services clear it only with --dev on loopback (plain HTTP)
  bool http_only = true;
  SameSite same_site = SameSite::kStrict;
  std::string path = "/";
  std::optional<int64_t> max_age_s;  // session cookie when absent
};
// A Set-Cookie header value. kInvalidArgument when the name is not an RFC 6265 token or the
// value holds characters outside cookie-octet (space, quote, comma, semicolon, backslash,
// controls), or SameSite=None without Secure (browsers reject it).
Result<std::string> SetCookieValue(std::string_view name, std::string_view value, const CookieOptions& options = {});

struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1" (no brackets), "localhost", "0.0.0.0"
  int port = 0;      // 0: pick a free port
  // "127.0.0.1:8080", "[::1]:0".
  std::string ToString() const;
};
// "HOST:PORT" or "[IPV6]:PORT"; port 0..65535. kInvalidArgument naming the problem.
Result<ListenAddress> ParseListenAddress(std::string_view text);

// 127.0.0.0/8, ::1 and the name "localhost".
bool IsLoopbackHost(std::string_view host);

// The --dev rule: TLS configured -> OK anywhere. No TLS -> only with dev and a loopback host;
// otherwise kFailedPrecondition with a message telling the operator what to do.
Status CheckListenPolicy(const ListenAddress& address, bool tls_configured, bool dev);

}  // namespace vhsm::http
