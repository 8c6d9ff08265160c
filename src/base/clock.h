// clock.h: injectable time. Libraries take a Clock& so tests and `--at` can pin "now".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vhsm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch (UTC).
  virtual int64_t NowUnix() const = 0;
  // Milliseconds on a monotonic clock (for timeouts and latencies).
  virtual int64_t MonotonicMs() const;
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnix() const override;
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t now_unix) : now_(now_unix) {}
  int64_t NowUnix() const override { return now_; }
  void Set(int64_t now_unix) { now_ = now_unix; }
  void Advance(int64_t seconds) { now_ += seconds; }

 private:
  int64_t now_;
};

// RFC 3339 / ISO 8601 UTC: "2026-11-27T12:00:00Z", also with a numeric offset ("+01:00"),
// fractional seconds (ignored), or a bare date "2026-11-27" (midnight UTC).
Result<int64_t> ParseRfc3339(std::string_view text);
// "2026-11-27T12:00:00Z".
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace vhsm
