// log.h: minimal leveled logging to stderr. Loggers are passed in, not global; a Logger
// never formats SecretBytes contents (operator<< prints only the size).
#pragma once

#include <mutex>
#include <string_view>

namespace vhsm {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };

class Logger {
 public:
  explicit Logger(LogLevel min = LogLevel::kInfo) : min_(min) {}
  virtual ~Logger() = default;
  void Log(LogLevel level, std::string_view msg);
  void Info(std::string_view m) { Log(LogLevel::kInfo, m); }
  void Warn(std::string_view m) { Log(LogLevel::kWarning, m); }
  void Error(std::string_view m) { Log(LogLevel::kError, m); }
  void Debug(std::string_view m) { Log(LogLevel::kDebug, m); }

 protected:
  virtual void Write(LogLevel level, std::string_view line);

 private:
  LogLevel min_;
  std::mutex mu_;
};

}  // namespace vhsm
