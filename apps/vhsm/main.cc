// main.cc: `vhsm` command-line tool. Parses flags, dispatches to a subcommand; no logic here.
#include <cstdio>

#include "commands.h"

namespace vhsm::cli {

int ToExitCode(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kNotFound:
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
    case StatusCode::kInternal: return kExitUsage;
    default: return kExitRejected;
  }
}

}  // namespace vhsm::cli

int main(int argc, char** argv) {
  CLI::App app{"vhsm: attested virtual HSM for AMD SEV-SNP confidential VMs"};
  app.require_subcommand(1);
  int exit_code = vhsm::cli::kExitOk;
  CLI::App* snp = app.add_subcommand("snp", "SEV-SNP attestation reports: show, verify, report, key");
  snp->require_subcommand(1);
  vhsm::cli::RegisterSnpShow(*snp, exit_code);
  vhsm::cli::RegisterSnpVerify(*snp, exit_code);
  vhsm::cli::RegisterSnpReport(*snp, exit_code);
  vhsm::cli::RegisterSimCommands(app, exit_code);
  vhsm::cli::RegisterMeasureCommands(app, exit_code);
  vhsm::cli::RegisterAuditCommands(app, exit_code);
  vhsm::cli::RegisterProvisionCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? vhsm::cli::kExitOk : vhsm::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vhsm: internal error: %s\n", e.what());
    return vhsm::cli::kExitUsage;
  }
  return exit_code;
}
