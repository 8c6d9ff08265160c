// startup.h: vhsmd's provisioning at start. Reads the provisioning keys from vhsmd's key=value
// config, and before the Token is loaded runs the Provisioner (one attestation for all listed
// resources) and imports the secrets into the SealedStore, printing one status line per event:
//   attestation_url = http://127.0.0.1:8080      provisioning_url = http://127.0.0.1:8081
//   provision = repo/type/tag:LABEL:aes|hmac|generic|ec|rsa[:ID_HEX], ...   (comma list)
//   provision_on_duplicate = keep|replace|refuse  (keep, the default: a label already on the
//       token is not fetched again, so a restart needs no service; replace: re-attest and replace
//       atomically; refuse: fail)
//   provision_ephemeral_key = p256|p384|rsa   provision_attempts = 5   provision_backoff_ms = 200
//   provision_required = true|false  (true: a failure stops vhsmd; false: log and serve)
//   provisioning_ca_file = PEM (https)
// Nothing is imported unless every listed resource was released and validated.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "provisioner/import.h"
#include "provisioner/provisioner.h"
#include "snp/firmware.h"
#include "vhsm/engine.h"
#include "vhsm/sealed_store.h"

namespace vhsm::provisioner {

struct ResourceEntry {
  FetchRequest request;
  ImportOptions import;
};

struct StartupConfig {
  ProvisionerOptions provisioner;
  std::vector<ResourceEntry> resources;
  OnDuplicate on_duplicate = OnDuplicate::kKeep;
  bool required = true;
};

// Parses the provisioning keys (others are ignored). An empty `provision` list is valid (nothing
// to do). kInvalidArgument naming the key otherwise.
Result<StartupConfig> ParseStartupConfig(const std::map<std::string, std::string>& config);
// "repo/type/tag:LABEL:TYPE[:ID_HEX]".
Result<ResourceEntry> ParseResourceEntry(std::string_view spec);

// Runs the startup provisioning. OK when nothing was configured, when everything was imported,
// or when it failed and provision_required is false (then the failure is logged).
// `outcome`, when given, receives one line for status queries ("nothing configured", "done",
// "FAILED (not required): ...").
Status ProvisionAtStart(const std::map<std::string, std::string>& config, snp::Firmware& firmware,
                        hsm::SealedStore& store, const hsm::Engine& engine, Logger& log,
                        std::string* outcome = nullptr);

}  // namespace vhsm::provisioner
