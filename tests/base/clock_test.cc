#include "base/clock.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm {
namespace {

TEST(ClockTest, ParsesRfc3339) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339("2026-11-27T00:00:00Z"), 1795737600);
  EXPECT_EQ(*ParseRfc3339("2026-11-27"), 1795737600);
  EXPECT_EQ(*ParseRfc3339("2026-11-27T01:00:00+01:00"), 1795737600);
  EXPECT_EQ(*ParseRfc3339("2026-11-27T00:00:00.123Z"), 1795737600);
  EXPECT_EQ(FormatRfc3339(1795737600), "2026-11-27T00:00:00Z");
}

TEST(ClockTest, RejectsGarbage) {
  for (const char* bad : {"", "2026", "2026-13-01", "2026-11-27T00:00", "2026-11-27T00:00:00", "tomorrow",
                          "2026-11-27T00:00:00Zjunk"}) {
    EXPECT_THAT(ParseRfc3339(bad), StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("RFC 3339")))
        << bad;
  }
}

}  // namespace
}  // namespace vhsm
