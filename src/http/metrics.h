// metrics.h: a small Prometheus metrics registry (text exposition format 0.0.4) for the
// services' /metrics: counters and histograms with labels. Metrics are registered once at
// start-up (names are compile-time constants in callers: a bad name is a bug and aborts);
// updates are thread-safe and cheap (one mutex per metric). Label values are escaped on output.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vhsm::http {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  // `values` must have one entry per label name given at registration (else ignored + counted
  // under an "invalid" series, never a crash on a request path).
  void Inc(const LabelValues& values = {}, double by = 1.0);
  double Value(const LabelValues& values = {}) const;

 private:
  friend class MetricsRegistry;
  Counter(std::string name, std::string help, std::vector<std::string> labels)
      : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}
  void Render(std::string& out) const;
  const std::string name_, help_;
  const std::vector<std::string> labels_;
  mutable std::mutex mu_;
  std::map<LabelValues, double> series_;  // guarded by mu_
};

class Histogram {
 public:
  void Observe(const LabelValues& values, double v);
  uint64_t Count(const LabelValues& values = {}) const;

 private:
  friend class MetricsRegistry;
  Histogram(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds)
      : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)), bounds_(std::move(bounds)) {}
  struct Series {
    std::vector<uint64_t> buckets;  // non-cumulative per bound; rendered cumulatively
    uint64_t count = 0;
    double sum = 0;
  };
  void Render(std::string& out) const;
  const std::string name_, help_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;  // ascending upper bounds; +Inf implied
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;  // guarded by mu_
};

// Latency buckets in seconds from 0.5 ms to 10 s.
std::vector<double> DefaultLatencyBuckets();

class MetricsRegistry {
 public:
  // Returns a metric owned by the registry (valid while it lives). Registering a name twice
  // returns the existing metric when the kind and labels match; otherwise aborts (a bug).
  Counter& AddCounter(std::string_view name, std::string_view help, std::vector<std::string> labels = {});
  Histogram& AddHistogram(std::string_view name, std::string_view help, std::vector<std::string> labels = {},
                          std::vector<double> bounds = DefaultLatencyBuckets());
  // Prometheus text format, metrics in registration order.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Counter>> counters_;      // guarded by mu_
  std::vector<std::unique_ptr<Histogram>> histograms_;  // guarded by mu_
  std::vector<std::pair<bool, size_t>> order_;          // (is_histogram, index)
};

// Escapes a label value for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view v);

}  // namespace vhsm::http
