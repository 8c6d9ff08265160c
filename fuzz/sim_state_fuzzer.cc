// sim_state_fuzzer.cc: the simulator's strict state-file parser (sim.toml and secrets.toml) on
// arbitrary text. Properties: no crash; every rejection names the file; whatever parses
// re-serialises to text that parses to the same serialisation (a fixed point).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sim/sim_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::sim;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ParseSimConfig(text, "fuzz.toml");
  if (!config.ok()) {
    if (config.status().message().find("fuzz.toml") == std::string::npos) std::abort();
  } else {
    std::string once = SerializeSimConfig(*config);
    auto again = ParseSimConfig(once, "fuzz.toml");
    if (!again.ok() || SerializeSimConfig(*again) != once) std::abort();
  }
  auto secrets = ParseSimSecrets(text, "fuzz-secrets.toml");
  if (!secrets.ok()) {
    if (secrets.status().message().find("fuzz-secrets.toml") == std::string::npos) std::abort();
  } else {
    if (secrets->chip_secret.size() != 32 || secrets->vmrk_secret.size() != 32) std::abort();
    auto again = ParseSimSecrets(SerializeSimSecrets(*secrets), "fuzz-secrets.toml");
    if (!again.ok()) std::abort();
  }
  return 0;
}
