// ascii.h: a guard for text handed to parsers that must only ever see ASCII. toml++ 3.3.0
// (Debian 12) reaches __builtin_unreachable() in its whitespace classifier for some non-ASCII
// code points (found by attestation_policy_fuzzer with U+FEEF at the start of a document), so
// TOML input is checked with RequireAscii first. TOML can still carry any character in a
// string through \uXXXX / \UXXXXXXXX escapes, so nothing expressible is lost.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vhsm {

// kInvalidArgument naming the line and column (1-based, in bytes) of the first byte >= 0x80.
inline Status RequireAscii(std::string_view text, std::string_view what) {
  size_t line = 1, column = 1;
  for (unsigned char c : text) {
    if (c >= 0x80) {
      return InvalidArgumentError(std::string(what) + ": non-ASCII byte at line " + std::to_string(line) +
                                  ", column " + std::to_string(column) +
                                  "; write such characters as \\uXXXX escapes inside strings");
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return OkStatus();
}

}  // namespace vhsm
