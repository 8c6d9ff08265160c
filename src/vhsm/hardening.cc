#include "vhsm/hardening.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstring>

namespace vhsm::hsm {

HardeningResult HardenProcess() {
  HardeningResult r;
  r.not_dumpable = ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
  if (!r.not_dumpable) r.notes += std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno) + "; ";
  rlimit zero{0, 0};
  r.core_limit_zero = ::setrlimit(RLIMIT_CORE, &zero) == 0;
  rlimit mem{};
  // MCL_FUTURE with a small RLIMIT_MEMLOCK would turn ordinary allocations into ENOMEM, so lock
  // only when the limit is generous (systemd: LimitMEMLOCK=infinity).
  constexpr rlim_t kNeeded = rlim_t{512} << 20;
  if (::getrlimit(RLIMIT_MEMLOCK, &mem) == 0 && (mem.rlim_cur == RLIM_INFINITY || mem.rlim_cur >= kNeeded)) {
    r.memory_locked = ::mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
    if (!r.memory_locked) r.notes += std::string("mlockall: ") + std::strerror(errno) + "; ";
  } else {
    r.notes += "RLIMIT_MEMLOCK below 512 MiB: memory not locked (set LimitMEMLOCK=infinity); ";
  }
  return r;
}

}  // namespace vhsm::hsm
