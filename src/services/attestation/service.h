// service.h: vhsm-attestd's request handling: the RCAR issuer endpoints (POST /kbs/v0/auth,
// POST /kbs/v0/attest), appraisal-only POST /v1/verify, the JWKS, and the admin API (PUT
// /v1/policy, POST|DELETE /v1/reference-values, POST /v1/signing-key). It glues the pieces:
// sessions and one-use nonces in the Store, evidence parsing (rcar.h), collateral (evidence
// cert_chain, else the KDS cache/provider), attest::Verifier for the AMD chain and signature,
// the REPORT_DATA binding, the appraisal policy (policy.h), and EAR issuance (ear.h). Every
// appraisal writes one structured audit line (evidence digest, result, reasons, jti; never
// secrets) and updates /metrics.
//
// Errors leave as Status and become RFC 7807 problems in http::Server: 400 malformed/wrong
// version/unknown TEE, 401 missing/unknown/used/expired session or bad admin token, 403 evidence
// that does not verify, binding mismatch, or a policy denial (the detail names the failed rule),
// 413 oversized bodies. Thread-safe; the policy can be swapped at any time (SIGHUP, admin API).
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "attest/verifier.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "http/server.h"
#include "services/attestation/ear.h"
#include "services/attestation/policy.h"
#include "services/attestation/rcar.h"
#include "snp/kds.h"
#include "store/database.h"
#include "store/one_use_tokens.h"

namespace vhsm::attestation {

struct ServiceOptions {
  const Clock* clock = nullptr;        // nullptr = system clock; must outlive the service
  int64_t session_ttl_seconds = 300;   // RCAR session + nonce lifetime
  bool secure_cookie = true;           // false only for --dev plain HTTP on loopback
  // Public key whose private half signs admin bearer JWTs (ES256 or EdDSA). Unset: admin API
  // answers 401 for every request.
  std::optional<crypto::PublicKey> admin_key;
  // Collateral for evidence without a complete cert_chain (may be null: then cert_chain must
  // hold the leaf). Must outlive the service.
  snp::CollateralProvider* collateral = nullptr;
  bool fetch_crl = false;              // also complete a missing CRL from the provider
  // Also complete a missing ASK/ARK from the provider's cert_chain (else AMD's pinned ones are
  // used, which is right for genuine AMD evidence; a simulator's chain must come from somewhere).
  bool fetch_chain = false;
  std::optional<snp::Product> default_product;  // for v2 reports
  Logger* audit = nullptr;             // structured audit lines (JSON); nullptr = none
  Logger* log = nullptr;               // operational messages
  // Admin changes (PUT /v1/policy, reference values, SIGHUP reloads) are written to the Store
  // (table attestd_policy, one versioned row) and a stored policy is loaded at start, taking
  // precedence over the one passed to Create(). Replicas on one database pick up each other's
  // changes: a request checks the stored version when policy_sync_ms have passed since the last
  // check (0 = on every request).
  bool persist_policy = true;
  int64_t policy_sync_ms = 1000;
  // init-data -> HOST_DATA binding (rcar.h): kOff ignores init-data, kOptional checks it when a
  // request carries it, kRequire rejects requests without it.
  InitDataMode init_data = InitDataMode::kOptional;
};

// What one appraisal found, for tokens, /v1/verify, audit and tests.
struct AppraisalReport {
  EarStatus status = EarStatus::kContraindicated;
  Status status_error;  // the first reason for a non-affirming result (OK when affirming)
  std::vector<attest::Check> checks;  // verifier checks + binding check
  Appraisal appraisal;                // policy rules (empty when verification failed)
  std::optional<snp::AttestationReport> report;
  snp::Product product = snp::Product::kUnknown;
  std::string policy_id, policy_hash;
  std::string evidence_sha256;
};

class AttestationService {
 public:
  // `verifier`, `db` must outlive the service. Creates the session table.
  static Result<std::unique_ptr<AttestationService>> Create(ServiceOptions options,
                                                            const attest::Verifier& verifier,
                                                            store::Database& db, AppraisalPolicy policy,
                                                            std::unique_ptr<EarIssuer> issuer);

  // Routes and metrics on `server` (call before server.Start()).
  void Register(http::Server& server);

  // Replaces the policy (audited with `actor`) and, with persist_policy, stores it first. With
  // `based_on`, the change was computed from that stored version: kFailedPrecondition (HTTP 400)
  // when another replica stored a newer one meanwhile (re-read and retry). Store errors are
  // returned and the policy in memory stays as it was.
  Status SetPolicy(AppraisalPolicy policy, std::string_view actor, std::optional<int64_t> based_on = std::nullopt);
  AppraisalPolicy policy() const;
  // The stored policy version this replica runs (0 = none stored yet, the Create() policy).
  int64_t policy_version() const;
  // Loads a newer stored policy, if any. Without `force` only when policy_sync_ms have passed
  // (and not while another thread is checking). kDataLoss when the stored policy does not parse
  // (the current one stays).
  Status SyncPolicy(bool force);
  EarIssuer& issuer() { return *issuer_; }

  // The appraisal core (no HTTP): verify chain/signature (collateral completed as configured),
  // then the binding when `expected_report_data` is set, then the policy.
  // With `expected_host_data` (init-data binding), HOST_DATA must equal it (check
  // "init_data.binding", 403 when it differs).
  AppraisalReport Appraise(const SnpEvidence& evidence, std::optional<snp::Product> product_hint,
                           const std::optional<std::array<uint8_t, 64>>& expected_report_data,
                           const std::optional<std::array<uint8_t, 32>>& expected_host_data = std::nullopt);

  // Handlers (public for direct tests). Each returns the HTTP response or the error Status.
  Result<http::Response> HandleAuth(const http::Request& req);
  Result<http::Response> HandleAttest(const http::Request& req);
  Result<http::Response> HandleVerify(const http::Request& req);
  Result<http::Response> HandleJwks(const http::Request& req);
  Result<http::Response> HandlePutPolicy(const http::Request& req);
  Result<http::Response> HandleGetPolicy(const http::Request& req);
  Result<http::Response> HandleAddReferenceValues(const http::Request& req);
  Result<http::Response> HandleDeleteReferenceValues(const http::Request& req);
  Result<http::Response> HandleRotateKey(const http::Request& req);

 private:
  AttestationService(ServiceOptions options, const attest::Verifier& verifier, store::Database& db,
                     store::OneUseTokens sessions, AppraisalPolicy policy, std::unique_ptr<EarIssuer> issuer);
  // Verifies the admin bearer token; returns its "sub" (or "admin") for the audit line.
  Result<std::string> AuthorizeAdmin(const http::Request& req);
  void Audit(const nlohmann::json& line);
  // Stores `policy` as the next version (caller holds sync_mu_). kFailedPrecondition when the
  // stored version is not `expected`.
  Result<int64_t> StorePolicyLocked(const AppraisalPolicy& policy, std::string_view actor, int64_t expected);
  Status SyncPolicyLocked();

  ServiceOptions options_;
  const Clock& clock_;
  const attest::Verifier& verifier_;
  store::Database& db_;
  store::OneUseTokens sessions_;
  std::unique_ptr<EarIssuer> issuer_;
  mutable std::mutex mu_;
  std::shared_ptr<const AppraisalPolicy> policy_;  // guarded by mu_
  std::string policy_hash_;                         // guarded by mu_
  int64_t policy_version_ = 0;                      // guarded by mu_
  std::mutex sync_mu_;                              // one store check / write at a time
  std::atomic<int64_t> next_sync_ns_{0};            // steady-clock ns of the next due check
  http::Counter* attestations_ = nullptr;
  http::Histogram* latency_ = nullptr;
};

}  // namespace vhsm::attestation
