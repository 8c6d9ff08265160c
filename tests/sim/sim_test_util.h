// sim_test_util.h: helpers for simulator tests. RSA-4096 key generation takes seconds, and ctest
// runs each test case in its own process, so the ARK/ASK/ASVK keys are generated once and cached
// under the build directory; everything else (EC keys, certificates, secrets) is fresh per state.
#pragma once

#include <array>
#include <string>

#include "crypto/ossl_ptr.h"
#include "sim/sim_state.h"

namespace vhsm::sim::testing {

// RSA-4096 test key number `index` (0..3), cached in $VHSM_BUILD_DIR/sim-test-keys.
crypto::EvpPkeyPtr CachedRsaKey(int index);
// A state in `dir` for `config` using the cached RSA keys. Aborts the test on failure.
SimState MakeState(const std::string& dir, const SimConfig& config, bool with_vlek = false);
// DefaultSimConfig, aborting on failure.
SimConfig Defaults(snp::Product product, uint32_t version);
std::array<uint8_t, 64> Nonce(uint8_t seed);

}  // namespace vhsm::sim::testing
