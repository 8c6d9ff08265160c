// platform.h: picks the snp::Firmware implementation by configuration. "configfs-tsm" and
// "sev-guest" are the real guest interfaces; "auto" tries configfs-tsm, then /dev/sev-guest, and
// otherwise fails with a message saying no SEV-SNP guest interface was found. It NEVER falls back
// to the simulator: evidence from "auto" is always from hardware or an error. "sim" is served
// by a factory the caller supplies (sim::OpenPlatform does), because snp/ sits below sim/ and
// must not depend on it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "snp/configfs_tsm.h"
#include "snp/firmware.h"
#include "snp/sev_guest.h"

namespace vhsm::snp {

struct PlatformOptions;
using SimFirmwareFactory = std::function<Result<std::unique_ptr<Firmware>>(const PlatformOptions&)>;

struct PlatformOptions {
  std::string platform = "auto";  // auto | sev-guest | configfs-tsm | sim
  std::string configfs_root = kDefaultConfigfsTsmRoot;
  std::string sev_guest_device = "/dev/sev-guest";
  std::string sim_state_dir;       // platform = sim
  SimFirmwareFactory sim_factory;  // platform = sim; unset → FailedPrecondition
};

// InvalidArgument for an unknown platform name; NotFound when the named (or, for auto, any)
// interface is absent; whatever the backend's Open returns otherwise. With configfs-tsm, derived
// keys are routed to /dev/sev-guest when that device can be opened.
Result<std::unique_ptr<Firmware>> OpenFirmware(const PlatformOptions& options);

}  // namespace vhsm::snp
