#include "base/log.h"

#include <cstdio>
#include <ctime>

#include "base/clock.h"

namespace vhsm {

void Logger::Log(LogLevel level, std::string_view msg) {
  if (level < min_) return;
  std::lock_guard<std::mutex> lock(mu_);
  Write(level, msg);
}

void Logger::Write(LogLevel level, std::string_view line) {
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  SystemClock clock;
  std::fprintf(stderr, "%s %s %.*s\n", FormatRfc3339(clock.NowUnix()).c_str(),
               kNames[static_cast<int>(level)], static_cast<int>(line.size()), line.data());
}

}  // namespace vhsm
