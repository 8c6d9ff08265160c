// on_demand.h: what vhsmd does for one admin-socket request. Provision() runs the whole seed loop
// for ONE resource against a live Token: fresh ephemeral key, RCAR with the attestation service,
// release from the provisioning service (re-attesting once on an expired token), validation for
// the key type, and an atomic import (the key pair and the removal of a replaced label are one
// sealed transaction). Requests are serialised (one at a time); Status() answers concurrently
// with counters, the startup outcome and the most recent provisioned objects. Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/status.h"
#include "provisioner/admin_protocol.h"
#include "provisioner/startup.h"
#include "snp/firmware.h"
#include "vhsm/token.h"

namespace vhsm::provisioner {

struct OnDemandOutcome {
  std::string resource;
  std::string label;
  std::string key_type;
  int bits = 0;
  std::vector<uint64_t> handles;
  bool replaced = false;
  std::string jti;
  std::string ear_status;
  double fetch_ms = 0;   // attest + release + unwrap + validation
  double import_ms = 0;  // build objects + sealed transaction
  double total_ms = 0;
  std::vector<StepEvent> steps;
};
nlohmann::json OutcomeToJson(const OnDemandOutcome& o);

class OnDemandProvisioner {
 public:
  // `config` as parsed from vhsmd's config (URLs, retries, ephemeral key kind, default
  // on_duplicate); `startup_status` is what startup provisioning ended with (for Status()).
  OnDemandProvisioner(StartupConfig config, snp::Firmware& firmware, hsm::Token& token, Logger& log,
                      std::string startup_status);

  // kFailedPrecondition when vhsmd has no attestation_url/provisioning_url; otherwise the
  // Provisioner's and the import's errors (see provisioner.h, import.h).
  Result<OnDemandOutcome> Provision(const AdminRequest& request);
  nlohmann::json Status();
  // One framed request body in, one framed answer body out (what the admin socket serves).
  std::string Handle(std::string_view request_body);

 private:
  StartupConfig config_;
  snp::Firmware& firmware_;
  hsm::Token& token_;
  Logger& log_;
  std::mutex run_mu_;  // one provisioning at a time

  std::mutex status_mu_;  // guards the members below
  std::string startup_status_;
  uint64_t requests_ = 0;
  uint64_t succeeded_ = 0;
  uint64_t failed_ = 0;
  std::string last_error_;
  std::deque<OnDemandOutcome> recent_;  // newest last, at most 32
};

}  // namespace vhsm::provisioner
