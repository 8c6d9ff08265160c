#include "commands.h"

namespace vhsm::cli {

void RegisterSimCommands(CLI::App& root, int& exit_code) {
  (void)root;
  (void)exit_code;
}

}  // namespace vhsm::cli
