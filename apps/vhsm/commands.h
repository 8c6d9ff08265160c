// commands.h: the `vhsm` CLI is one binary with a table of subcommands, one file each. Every
// Register* adds its subcommands to the root app; callbacks store their exit code in `exit_code`:
// 0 = ok/valid, 1 = rejected (reason on stderr; "reason" in JSON), 2 = usage or I/O error.
#pragma once

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace vhsm::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;

// Status → exit code: unreadable input (missing file, I/O, unparseable PEM of an input we could
// not even read) is 2; everything that was read and judged bad is 1.
int ToExitCode(const Status& status);

void RegisterSnpCommands(CLI::App& root, int& exit_code);      // snp show|verify|report|key
void RegisterSimCommands(CLI::App& root, int& exit_code);      // sim init
void RegisterMeasureCommands(CLI::App& root, int& exit_code);  // measure [ovmf-hash|id-block]

}  // namespace vhsm::cli
