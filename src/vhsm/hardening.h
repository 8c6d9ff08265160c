// hardening.h: process-level protection of key material in vhsmd: no core dumps and no ptrace
// attach by same-uid processes (PR_SET_DUMPABLE 0, RLIMIT_CORE 0), and memory locking
// (mlockall) when the memlock limit allows it, so secrets are not swapped out. Called once from
// main() before any key is loaded. Reports what it achieved instead of failing: the operator sees
// a warning line when memory could not be locked.
#pragma once

#include <string>

namespace vhsm::hsm {

struct HardeningResult {
  bool not_dumpable = false;
  bool core_limit_zero = false;
  bool memory_locked = false;
  std::string notes;  // human-readable reasons for anything not achieved
};

HardeningResult HardenProcess();

}  // namespace vhsm::hsm
