// hex_number.h: the CLI's one parser and printer for hex-number flags (--policy, --vcpu-sig,
// --platform-info, ...), shared by `vhsm sim` and `vhsm measure` so they accept the same forms.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vhsm::cli {

// "0x" followed by the value in lower-case hex.
inline std::string HexNumber(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// 1 to 16 hex digits with an optional 0x, at most `max`. `what` names the flag in errors.
inline Result<uint64_t> ParseHexNumber(const std::string& text, uint64_t max, std::string_view what) {
  std::string_view s = text;
  if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2);
  if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789abcdefABCDEF") != s.npos) {
    return InvalidArgumentError(std::string(what) + ": got \"" + text + "\", want a hex number of up to 16 digits");
  }
  const uint64_t v = std::strtoull(std::string(s).c_str(), nullptr, 16);
  if (v > max) {
    return InvalidArgumentError(std::string(what) + ": got " + text + ", want at most " + HexNumber(max));
  }
  return v;
}

}  // namespace vhsm::cli
