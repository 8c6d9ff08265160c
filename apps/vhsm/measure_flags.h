// measure_flags.h: the launch inputs of `vhsm measure`, shared with `vhsm sim init --ovmf` so the
// simulator can be set up with exactly the measurement a real launch of those inputs produces.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"

namespace vhsm::cli {

struct MeasureFlags {
  std::string ovmf;
  std::optional<std::string> kernel;
  std::optional<std::string> initrd;
  std::optional<std::string> append;
  int64_t vcpus = 1;
  std::optional<std::string> vcpu_type;
  std::optional<std::string> vcpu_sig;
  std::string guest_features = "0x1";
  std::string vmm = "qemu";
  std::optional<std::string> ovmf_hash;
  bool json = false;
};

// Adds --kernel --initrd --append --vcpus --vcpu-type|--vcpu-sig --guest-features --vmm --ovmf-hash
// (not --ovmf or --json) to `app`, storing into *mf (which must outlive parsing).
void AddLaunchInputFlags(CLI::App* app, MeasureFlags* mf);
// Computes the launch digest: {"version":1,"type":"snp-launch-measurement","measurement":HEX,
// "inputs":{...}}. Errors name the input (file, flag) and what was wrong.
Result<nlohmann::json> RunMeasure(const MeasureFlags& f);

}  // namespace vhsm::cli
