// platform.cc: the Firmware factory. See platform.h.
#include "snp/platform.h"

#include <sys/stat.h>

namespace vhsm::snp {
namespace {

bool PathExists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

Result<std::unique_ptr<Firmware>> OpenConfigfs(const PlatformOptions& o) {
  ConfigfsTsmOptions c;
  c.root = o.configfs_root;
  // Reports from configfs-tsm; derived keys (which configfs-tsm lacks) from the device if present.
  std::unique_ptr<Firmware> keys;
  SevGuestOptions s;
  s.device = o.sev_guest_device;
  if (Result<std::unique_ptr<SevGuestFirmware>> dev = SevGuestFirmware::Open(s); dev.ok()) keys = std::move(*dev);
  VHSM_ASSIGN_OR_RETURN(std::unique_ptr<ConfigfsTsmFirmware> fw, ConfigfsTsmFirmware::Open(c, std::move(keys)));
  return std::unique_ptr<Firmware>(std::move(fw));
}

Result<std::unique_ptr<Firmware>> OpenSevGuest(const PlatformOptions& o) {
  SevGuestOptions s;
  s.device = o.sev_guest_device;
  VHSM_ASSIGN_OR_RETURN(std::unique_ptr<SevGuestFirmware> fw, SevGuestFirmware::Open(s));
  return std::unique_ptr<Firmware>(std::move(fw));
}

}  // namespace

Result<std::unique_ptr<Firmware>> OpenFirmware(const PlatformOptions& options) {
  const std::string& p = options.platform;
  if (p == "configfs-tsm") return OpenConfigfs(options);
  if (p == "sev-guest") return OpenSevGuest(options);
  if (p == "sim") {
    if (!options.sim_factory) {
      return FailedPreconditionError("platform sim: this program was built without the simulator factory");
    }
    if (options.sim_state_dir.empty()) {
      return InvalidArgumentError("platform sim: a simulator state directory is required (--sim-state DIR, "
                                  "made by `vhsm sim init DIR`)");
    }
    return options.sim_factory(options);
  }
  if (p == "auto") {
    if (PathExists(options.configfs_root)) return OpenConfigfs(options);
    if (PathExists(options.sev_guest_device)) return OpenSevGuest(options);
    return NotFoundError("no SEV-SNP guest interface found: neither " + options.configfs_root +
                         " (configfs-tsm, Linux 6.7+) nor " + options.sev_guest_device +
                         " (sev-guest driver) exists. This does not look like an SEV-SNP guest; "
                         "for the simulator pass --platform sim --sim-state DIR explicitly");
  }
  return InvalidArgumentError("platform: got \"" + p + "\", want auto, sev-guest, configfs-tsm or sim");
}

}  // namespace vhsm::snp
