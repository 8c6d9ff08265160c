// problem.h: the single Status -> HTTP edge of vhsm's services. ToHttp() maps a StatusCode to
// an HTTP status (one table, tested in tests/http/problem_test.cc) and ProblemJson() renders
// an RFC 7807 application/problem+json body: {"type","title","status","detail","code"}.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace vhsm::http {

inline constexpr std::string_view kProblemContentType = "application/problem+json";

// kOk 200, kInvalidArgument 400, kFailedPrecondition 400, kOutOfRange 400,
// kUnauthenticated 401, kPermissionDenied 403, kNotFound 404, kAlreadyExists 409,
// kResourceExhausted 413, kUnimplemented 501, kUnavailable 503, kDeadlineExceeded 504,
// kDataLoss 500, kInternal 500.
int ToHttp(StatusCode code);
inline int ToHttp(const Status& s) { return ToHttp(s.code()); }

// "Bad Request", "Payload Too Large", ...; "Error" for codes not in the table.
std::string_view ReasonPhrase(int http_status);

// RFC 7807 body for `status`. `type` is "urn:vhsm:problem:<code in kebab case>". The detail
// is the Status message, except for kInternal/kDataLoss whose messages may describe internals:
// those say "internal error" (log the real message instead).
std::string ProblemJson(const Status& status);
// A problem body for an HTTP status that has no Status (e.g. 404 route not found).
std::string ProblemJsonForHttp(int http_status, std::string_view detail);

}  // namespace vhsm::http
