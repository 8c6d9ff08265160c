#include "commands.h"

namespace vhsm::cli {

// Placeholder until this subcommand lands.
void RegisterMeasureCommands(CLI::App& root, int& exit_code) {
  (void)root;
  (void)exit_code;
}

}  // namespace vhsm::cli
