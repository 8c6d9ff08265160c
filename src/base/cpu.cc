// cpu.cc
#include "base/cpu.h"

#include <sched.h>

namespace vhsm {

int AllowedCpus() {
  static const int cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 2;
  }();
  return cpus;
}

}  // namespace vhsm
