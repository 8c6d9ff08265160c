// status.h: the error type of every fallible call in vhsm. A Status is OK or a code plus a
// message naming the field, what was expected and what was found. Result<T> is a value or a
// non-OK Status. No exception crosses a library boundary; these types carry errors instead.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace vhsm {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // malformed input (bad length, bad encoding, reserved bits set)
  kNotFound,           // a named thing does not exist
  kAlreadyExists,      // creating something that exists
  kUnauthenticated,    // a signature, MAC, PIN or token does not verify
  kPermissionDenied,   // authenticated, but a policy says no
  kFailedPrecondition, // valid input, wrong state (expired certificate, stale CRL, locked)
  kResourceExhausted,  // size or rate limits
  kOutOfRange,         // a value outside the allowed range
  kUnimplemented,      // recognised but not supported
  kUnavailable,        // a peer or device is not reachable (retryable)
  kDeadlineExceeded,   // a bounded wait ran out
  kDataLoss,           // stored data is corrupt or cannot be opened
  kInternal,           // a bug or an unexpected library failure
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: report: got 1183 bytes, want 1184".
  std::string ToString() const;

  // Returns a copy whose message is "prefix: message" (keeps the code). OK stays OK.
  Status Annotate(std::string_view prefix) const;

  // Explicitly discard (for best-effort cleanup paths).
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExistsError(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDeniedError(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status UnimplementedError(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceededError(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T>: a T or a non-OK Status. Accessing value() of an error aborts (a bug, not input).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = InternalError("Result constructed from an OK Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const {
    static const Status kOk;
    return value_.has_value() ? kOk : status_;
  }
  T& value() & { CheckOk(); return *value_; }
  const T& value() const& { CheckOk(); return *value_; }
  T&& value() && { CheckOk(); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T other) const& { return ok() ? *value_ : std::move(other); }

 private:
  void CheckOk() const;
  std::optional<T> value_;
  Status status_;
};

[[noreturn]] void CheckFailure(const char* file, int line, const char* cond, std::string_view why);

template <class T>
void Result<T>::CheckOk() const {
  if (!value_.has_value()) CheckFailure(__FILE__, __LINE__, "Result::ok()", status_.ToString());
}

namespace internal {
inline const Status& GetStatus(const Status& s) { return s; }
template <class T>
const Status& GetStatus(const Result<T>& r) { return r.status(); }
}  // namespace internal

}  // namespace vhsm

#define VHSM_CONCAT_INNER_(a, b) a##b
#define VHSM_CONCAT_(a, b) VHSM_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define VHSM_RETURN_IF_ERROR(expr)                                         \
  do {                                                                     \
    const ::vhsm::Status vhsm_status_ = ::vhsm::internal::GetStatus(expr); \
    if (!vhsm_status_.ok()) return vhsm_status_;                           \
  } while (0)

// VHSM_ASSIGN_OR_RETURN(Type x, ResultExpr): declares/assigns x or returns the error.
#define VHSM_ASSIGN_OR_RETURN(lhs, expr) \
  VHSM_ASSIGN_OR_RETURN_IMPL_(VHSM_CONCAT_(vhsm_result_, __LINE__), lhs, expr)
#define VHSM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

// Aborts in every build. Only for true invariants, never for anything input can make false.
#define VHSM_CHECK(cond, why)                                         \
  do {                                                                \
    if (!(cond)) ::vhsm::CheckFailure(__FILE__, __LINE__, #cond, why); \
  } while (0)
