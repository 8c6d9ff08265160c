// sim_platform.h: snp::OpenFirmware with the simulator wired in. snp/ cannot depend on sim/, so
// snp::PlatformOptions takes a factory for "sim"; OpenPlatform supplies it and otherwise behaves
// exactly like snp::OpenFirmware ("auto" still never picks the simulator).
#pragma once

#include <memory>

#include "snp/platform.h"

namespace vhsm::sim {

// A factory that opens SimFirmware from options.sim_state_dir.
snp::SimFirmwareFactory SimFactory();
// snp::OpenFirmware(options) with options.sim_factory = SimFactory().
Result<std::unique_ptr<snp::Firmware>> OpenPlatform(snp::PlatformOptions options);

}  // namespace vhsm::sim
