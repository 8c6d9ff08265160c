// metrics_test.cc: Prometheus text rendering of counters and histograms.
#include "http/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vhsm::http {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersCountersWithEscapedLabels) {
  MetricsRegistry reg;
  Counter& c = reg.AddCounter("releases_total", "Secrets released", {"resource", "rule"});
  c.Inc({"repo/key/1", "allOf[0]"});
  c.Inc({"repo/key/1", "allOf[0]"}, 2);
  c.Inc({"we\"ird\\\n", "r"});
  c.Inc({"only-one-label"});  // wrong arity: counted as invalid, no crash
  EXPECT_EQ(c.Value({"repo/key/1", "allOf[0]"}), 3);
  EXPECT_EQ(&reg.AddCounter("releases_total", "again", {"resource", "rule"}), &c);
  const std::string text = reg.Render();
  EXPECT_THAT(text, HasSubstr("# HELP releases_total Secrets released\n# TYPE releases_total counter\n"));
  EXPECT_THAT(text, HasSubstr("releases_total{resource=\"repo/key/1\",rule=\"allOf[0]\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("releases_total{resource=\"we\\\"ird\\\\\\n\",rule=\"r\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("releases_total{resource=\"invalid\",rule=\"invalid\"} 1\n"));
}

TEST(MetricsTest, RendersCumulativeHistogram) {
  MetricsRegistry reg;
  Histogram& h = reg.AddHistogram("latency_seconds", "Latency", {"route"}, {0.01, 0.1, 1});
  h.Observe({"/a"}, 0.005);
  h.Observe({"/a"}, 0.05);
  h.Observe({"/a"}, 0.05);
  h.Observe({"/a"}, 5);
  EXPECT_EQ(h.Count({"/a"}), 4u);
  const std::string text = reg.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE latency_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/a\",le=\"0.01\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/a\",le=\"0.1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_sum{route=\"/a\"} 5.10"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_count{route=\"/a\"} 4\n"));
}

TEST(MetricsDeathTest, BadMetricNameIsABug) {
  MetricsRegistry reg;
  EXPECT_DEATH(reg.AddCounter("bad name", "x"), "metric names");
}

}  // namespace
}  // namespace vhsm::http
