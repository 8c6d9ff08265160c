// sim_platform.cc: see sim_platform.h.
#include "sim/sim_platform.h"

#include "sim/sim_firmware.h"

namespace vhsm::sim {

snp::SimFirmwareFactory SimFactory() {
  return [](const snp::PlatformOptions& o) -> Result<std::unique_ptr<snp::Firmware>> {
    VHSM_ASSIGN_OR_RETURN(std::unique_ptr<SimFirmware> fw, SimFirmware::Open(o.sim_state_dir));
    return std::unique_ptr<snp::Firmware>(std::move(fw));
  };
}

Result<std::unique_ptr<snp::Firmware>> OpenPlatform(snp::PlatformOptions options) {
  options.sim_factory = SimFactory();
  return snp::OpenFirmware(options);
}

}  // namespace vhsm::sim
