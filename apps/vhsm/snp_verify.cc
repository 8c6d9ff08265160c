#include "commands.h"

namespace vhsm::cli {

// Placeholder until this subcommand lands.
void RegisterSnpVerify(CLI::App& snp, int& exit_code) {
  (void)snp;
  (void)exit_code;
}

}  // namespace vhsm::cli
