// metrics.cc
#include "http/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/status.h"

namespace vhsm::http {
namespace {

bool ValidName(std::string_view n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':')) {
      return false;
    }
  }
  return true;
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  // Shortest text that reads back as the same double ("0.1", not "0.10000000000000001").
  char buf[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string LabelSet(const std::vector<std::string>& names, const LabelValues& values, std::string_view extra = {}) {
  if (names.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  return out + "}";
}

void Header(std::string& out, const std::string& name, const std::string& help, std::string_view type) {
  std::string h;
  for (char c : help) {
    if (c == '\\') h += "\\\\";
    else if (c == '\n') h += "\\n";
    else h += c;
  }
  out += "# HELP " + name + " " + h + "\n# TYPE " + name + " " + std::string(type) + "\n";
}

// A mismatched label count is a caller bug, but it reaches us on a request path: never abort.
LabelValues Fit(const std::vector<std::string>& names, const LabelValues& values) {
  if (values.size() == names.size()) return values;
  LabelValues v(names.size(), "invalid");
  return v;
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void Counter::Inc(const LabelValues& values, double by) {
  std::lock_guard<std::mutex> lock(mu_);
  series_[Fit(labels_, values)] += by;
}

double Counter::Value(const LabelValues& values) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second;
}

void Counter::Render(std::string& out) const {
  Header(out, name_, help_, "counter");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, v] : series_) out += name_ + LabelSet(labels_, values) + " " + FormatDouble(v) + "\n";
}

void Histogram::Observe(const LabelValues& values, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_[Fit(labels_, values)];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size(), 0);
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      ++s.buckets[i];
      break;
    }
  }
  ++s.count;
  s.sum += v;
}

uint64_t Histogram::Count(const LabelValues& values) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second.count;
}

void Histogram::Render(std::string& out) const {
  Header(out, name_, help_, "histogram");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, s] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      out += name_ + "_bucket" + LabelSet(labels_, values, "le=\"" + FormatDouble(bounds_[i]) + "\"") + " " +
             std::to_string(cumulative) + "\n";
    }
    out += name_ + "_bucket" + LabelSet(labels_, values, "le=\"+Inf\"") + " " + std::to_string(s.count) + "\n";
    out += name_ + "_sum" + LabelSet(labels_, values) + " " + FormatDouble(s.sum) + "\n";
    out += name_ + "_count" + LabelSet(labels_, values) + " " + std::to_string(s.count) + "\n";
  }
}

Counter& MetricsRegistry::AddCounter(std::string_view name, std::string_view help, std::vector<std::string> labels) {
  VHSM_CHECK(ValidName(name), "metric names are constants matching [a-zA-Z_:][a-zA-Z0-9_:]*");
  for (const auto& l : labels) VHSM_CHECK(ValidName(l) && l != "le", "label names are constants");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : counters_) {
    if (c->name_ == name) {
      VHSM_CHECK(c->labels_ == labels, "metric re-registered with other labels");
      return *c;
    }
  }
  for (auto& h : histograms_) VHSM_CHECK(h->name_ != name, "metric name registered as a histogram");
  counters_.push_back(std::unique_ptr<Counter>(new Counter(std::string(name), std::string(help), std::move(labels))));
  order_.emplace_back(false, counters_.size() - 1);
  return *counters_.back();
}

Histogram& MetricsRegistry::AddHistogram(std::string_view name, std::string_view help, std::vector<std::string> labels,
                                         std::vector<double> bounds) {
  VHSM_CHECK(ValidName(name), "metric names are constants matching [a-zA-Z_:][a-zA-Z0-9_:]*");
  for (const auto& l : labels) VHSM_CHECK(ValidName(l) && l != "le", "label names are constants");
  for (size_t i = 1; i < bounds.size(); ++i) VHSM_CHECK(bounds[i - 1] < bounds[i], "histogram bounds ascend");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& h : histograms_) {
    if (h->name_ == name) {
      VHSM_CHECK(h->labels_ == labels, "metric re-registered with other labels");
      return *h;
    }
  }
  for (auto& c : counters_) VHSM_CHECK(c->name_ != name, "metric name registered as a counter");
  histograms_.push_back(std::unique_ptr<Histogram>(
      new Histogram(std::string(name), std::string(help), std::move(labels), std::move(bounds))));
  order_.emplace_back(true, histograms_.size() - 1);
  return *histograms_.back();
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [is_hist, i] : order_) {
    if (is_hist) {
      histograms_[i]->Render(out);
    } else {
      counters_[i]->Render(out);
    }
  }
  return out;
}

}  // namespace vhsm::http
