// attestd_fixture.h: an in-process vhsm-attestd for tests: a simulated SEV-SNP guest (sim state
// in a temp dir, its ARK trusted), a SQLite store, an injected FixedClock, the HTTP server on
// 127.0.0.1 port 0, and a client that runs the RCAR exchange the way a Trustee guest does.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

#include "attest/verifier.h"
#include "base/clock.h"
#include "base/log.h"
#include "crypto/keys.h"
#include "http/client.h"
#include "http/server.h"
#include "services/attestation/service.h"
#include "sim/sim_firmware.h"
#include "store/database.h"
#include "testing/testdata.h"

namespace vhsm::attestation::testing {

// Captures audit lines.
class CaptureLogger : public Logger {
 public:
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> l(mu_);
    return lines_;
  }

 protected:
  void Write(LogLevel, std::string_view line) override {
    std::lock_guard<std::mutex> l(mu_);
    lines_.emplace_back(line);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

struct RcarResult {
  int status = 0;
  nlohmann::json body;
  std::string raw;
};

// Hooks to break the exchange on purpose.
struct GuestOptions {
  uint32_t vmpl = 0;
  bool send_cert_chain = true;
  std::function<void(Bytes& report)> tamper;          // after signing
  std::function<void(nlohmann::json& body)> edit;     // request body before sending
  std::function<void(std::array<uint8_t, 64>&)> edit_report_data;
  std::string additional_evidence;                    // "" = field omitted
  bool evidence_as_string = false;
};

class AttestdFixture : public ::testing::Test {
 protected:
  // Builds a sim state with `config_edit` applied to Genoa v3 defaults and starts the service
  // with `policy`.
  void StartService(const AppraisalPolicy& policy,
                    const std::function<void(sim::SimConfig&)>& config_edit = nullptr,
                    const std::function<void(ServiceOptions&)>& options_edit = nullptr);
  void TearDown() override;

  // POST /kbs/v0/auth; returns the cookie value ("" when absent) and the nonce.
  std::pair<std::string, std::string> Auth();
  // Full RCAR exchange with the simulated guest.
  RcarResult Attest(const GuestOptions& g = {});
  // Attest with a given session cookie/nonce.
  RcarResult AttestWith(const std::string& cookie, const std::string& nonce, const GuestOptions& g = {});
  nlohmann::json TeePubJwk() const;
  // Evidence for /v1/verify from the simulator.
  nlohmann::json PrimaryEvidence(const std::array<uint8_t, 64>& report_data, const GuestOptions& g = {});
  // An admin JWT signed by the admin key.
  std::string AdminToken(int64_t lifetime_s = 600);
  RcarResult Send(const std::string& method, const std::string& path, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {},
                  const std::string& content_type = "application/json");
  static nlohmann::json Claims(const std::string& token);

  vhsm::testdata::TempDir dir_;
  FixedClock clock_{0};
  CaptureLogger audit_;
  std::unique_ptr<sim::SimFirmware> fw_;
  Bytes sim_ark_der_;
  std::unique_ptr<attest::Verifier> verifier_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AttestationService> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
  std::optional<crypto::PrivateKey> tee_key_;
  std::optional<crypto::PrivateKey> admin_key_;
  std::optional<crypto::PrivateKey> ear_key_;
  // When set before StartService, the issuer signs with this (e.g. a PKCS#11 key) instead of ear_key_.
  std::unique_ptr<TokenSigner> signer_override_;
  // When set before StartService, the service uses this store URL instead of a fresh SQLite file.
  std::string store_url_override_;
};

}  // namespace vhsm::attestation::testing
