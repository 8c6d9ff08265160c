#include "commands.h"

namespace vhsm::cli {

// Placeholder until this subcommand lands.
void RegisterSnpReport(CLI::App& snp, int& exit_code) {
  (void)snp;
  (void)exit_code;
}

}  // namespace vhsm::cli
