// problem_test.cc: the Status -> HTTP table and the RFC 7807 body shape.
#include "http/problem.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vhsm::http {
namespace {

TEST(ToHttpTest, MapsEveryStatusCode) {
  const std::pair<StatusCode, int> table[] = {
      {StatusCode::kOk, 200},
      {StatusCode::kInvalidArgument, 400},
      {StatusCode::kFailedPrecondition, 400},
      {StatusCode::kOutOfRange, 400},
      {StatusCode::kUnauthenticated, 401},
      {StatusCode::kPermissionDenied, 403},
      {StatusCode::kNotFound, 404},
      {StatusCode::kAlreadyExists, 409},
      {StatusCode::kResourceExhausted, 413},
      {StatusCode::kUnimplemented, 501},
      {StatusCode::kUnavailable, 503},
      {StatusCode::kDeadlineExceeded, 504},
      {StatusCode::kDataLoss, 500},
      {StatusCode::kInternal, 500},
  };
  // Every enumerator from kOk to kInternal appears exactly once.
  EXPECT_EQ(std::size(table), static_cast<size_t>(StatusCode::kInternal) + 1);
  for (const auto& [code, http] : table) {
    EXPECT_EQ(ToHttp(code), http) << StatusCodeName(code);
    EXPECT_EQ(ToHttp(Status(code, "x")), http);
  }
}

TEST(ProblemJsonTest, HasRfc7807Members) {
  auto j = nlohmann::json::parse(ProblemJson(PermissionDeniedError("report.vmpl: got 3, policy requires 0")));
  EXPECT_EQ(j["type"], "urn:vhsm:problem:permission-denied");
  EXPECT_EQ(j["title"], "Forbidden");
  EXPECT_EQ(j["status"], 403);
  EXPECT_EQ(j["detail"], "report.vmpl: got 3, policy requires 0");
  EXPECT_EQ(j["code"], "PERMISSION_DENIED");
}

TEST(ProblemJsonTest, HidesInternalDetailAndSurvivesBadUtf8) {
  auto j = nlohmann::json::parse(ProblemJson(InternalError("pointer 0xdeadbeef in libfoo")));
  EXPECT_EQ(j["status"], 500);
  EXPECT_EQ(j["detail"], "internal error");
  j = nlohmann::json::parse(ProblemJson(InvalidArgumentError("bad \xff\xfe bytes")));
  EXPECT_EQ(j["status"], 400);
  j = nlohmann::json::parse(ProblemJsonForHttp(413, "too large"));
  EXPECT_EQ(j["title"], "Payload Too Large");
  EXPECT_EQ(j["type"], "about:blank");
}

}  // namespace
}  // namespace vhsm::http
