#include "base/status.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("x: got " + std::to_string(x) + ", want even");
  return x / 2;
}

Result<int> Quarter(int x) {
  VHSM_ASSIGN_OR_RETURN(int h, Half(x));
  VHSM_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  VHSM_RETURN_IF_ERROR(Half(x));
  return OkStatus();
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
  EXPECT_EQ(NotFoundError("vcek").ToString(), "NOT_FOUND: vcek");
  EXPECT_EQ(InvalidArgumentError("a").Annotate("report").message(), "report: a");
}

TEST(StatusTest, MacrosPropagateFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("got 3")));
  EXPECT_OK(CheckEven(4));
  EXPECT_THAT(CheckEven(5), StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("got 5")));
}

TEST(StatusTest, ResultFromOkStatusIsAnError) {
  Result<int> r{OkStatus()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(StatusDeathTest, ValueOfErrorAborts) {
  Result<int> r = NotFoundError("x");
  EXPECT_DEATH((void)r.value(), "NOT_FOUND");
}

}  // namespace
}  // namespace vhsm
