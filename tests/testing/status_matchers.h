// status_matchers.h: gmock matchers for Status and Result<T>: IsOk(), StatusIs(code, msg_matcher).
#pragma once

#include <gmock/gmock.h>

#include <ostream>

#include "base/status.h"

namespace vhsm {

inline void PrintTo(const Status& s, std::ostream* os) { *os << s.ToString(); }
template <class T>
void PrintTo(const Result<T>& r, std::ostream* os) {
  *os << (r.ok() ? std::string("OK (value)") : r.status().ToString());
}

namespace testing_internal {
inline const Status& StatusOf(const Status& s) { return s; }
template <class T>
const Status& StatusOf(const Result<T>& r) { return r.status(); }
}  // namespace testing_internal

MATCHER(IsOk, "is OK") {
  const Status& s = testing_internal::StatusOf(arg);
  if (!s.ok()) *result_listener << "status: " << s.ToString();
  return s.ok();
}

MATCHER_P2(StatusIs, code, msg_matcher, "has status code " + std::string(StatusCodeName(code))) {
  const Status& s = testing_internal::StatusOf(arg);
  *result_listener << "status: " << s.ToString();
  return s.code() == code &&
         ::testing::ExplainMatchResult(::testing::MatcherCast<const std::string&>(msg_matcher), s.message(),
                                       result_listener);
}

}  // namespace vhsm

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::vhsm::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::vhsm::IsOk())
// ASSERT_OK_AND_ASSIGN(auto x, ResultExpr)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(VHSM_CONCAT_(vhsm_test_result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()
