// cpu.h: how many CPUs this process may use, for the spin-or-sleep decisions of threads that
// wait for another thread (the PKCS#11 module polling for vhsmd's reply, provisiond's requests
// waiting for the audit commit). Spinning only pays when the thread being waited for has a CPU
// of its own meanwhile; on these 2-vCPU VMs waking a halted vCPU costs tens of microseconds.
#pragma once

namespace vhsm {

// CPUs in this process's affinity mask, read once; 2 when it cannot be read.
int AllowedCpus();

}  // namespace vhsm
