// commands.h: the `vhsm` CLI is one binary with a table of subcommands, one file each. Every
// Register* adds its subcommands to a parent app; callbacks store their exit code in `exit_code`:
// 0 = ok/valid, 1 = rejected (reason on stderr; "reason" in JSON), 2 = usage or I/O error.
#pragma once

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace vhsm::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;

// Status → exit code: unreadable input (missing file, I/O, over-size) is 2; everything that was
// read and judged bad is 1.
int ToExitCode(const Status& status);

// Under `vhsm snp`:
void RegisterSnpShow(CLI::App& snp, int& exit_code);    // snp_show.cc
void RegisterSnpVerify(CLI::App& snp, int& exit_code);  // snp_verify.cc
void RegisterSnpReport(CLI::App& snp, int& exit_code);  // snp_report.cc (report, key)
// Top level:
void RegisterSimCommands(CLI::App& root, int& exit_code);      // sim_commands.cc: sim init
void RegisterMeasureCommands(CLI::App& root, int& exit_code);  // measure_commands.cc
void RegisterAuditCommands(CLI::App& root, int& exit_code);    // audit_commands.cc: audit verify
void RegisterProvisionCommands(CLI::App& root, int& exit_code);  // provision_commands.cc: provision [status]

}  // namespace vhsm::cli
