// service.h: vhsm-provisiond's request handling (ARCHITECTURE.md section 3). Release:
//   GET /kbs/v0/resource/<repo>/<type>/<tag>, Authorization: Bearer <EAR>
// checks, in this order: the token (401: missing, expired, alg none, bad signature, unknown key,
// foreign issuer, no TEE key; 400: TEE key type we cannot wrap to), the path (400: not three
// segments of [A-Za-z0-9._-], "." / ".." / over-long), the resource (404, only once the token is
// valid), ear.status == "affirming" and the most specific release policy (403 naming the rule;
// no policy = default deny). The stored value is decrypted only after the policy allowed the
// release. A release or denial is appended to the hash-chained audit log and committed before
// the answer is sent (group commit, audit_writer.h: concurrent requests share one transaction);
// if that commit fails (database gone) the answer is 503 and nothing is released. The secret leaves only as a flattened JWE to the token's TEE key (ECDH-ES+A256KW
// for EC P-256/384/521, RSA-OAEP-256 for RSA; enc A256GCM).
// Admin (Bearer JWT signed ES256 or EdDSA by the admin key, exp at most 1 h ahead):
//   PUT|POST|DELETE /kbs/v0/resource/<repo>/<type>/<tag>   raw bytes, > max_resource_bytes: 413
//   PUT|GET|DELETE  /kbs/v0/resource-policy/<repo>[/<type>[/<tag>]]
//   GET /kbs/v0/resources (metadata only), GET /kbs/v0/audit?after=SEQ&limit=N,
//   GET /kbs/v0/audit/head ({"hash":HEX,"seq":N}, to keep elsewhere for `vhsm audit verify`)
// Metrics: vhsm_provisiond_releases_total{resource,policy}, vhsm_provisiond_denials_total
// {resource,rule}, vhsm_provisiond_token_rejections_total{reason}. /healthz runs a query on the
// store (503 when it is unreachable). Stateless apart from the JWKS cache: replicas behind a load
// balancer share one PostgreSQL. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "http/server.h"
#include "services/provisioning/audit_writer.h"
#include "services/provisioning/ear_token.h"
#include "services/provisioning/provisioning_store.h"

namespace vhsm::provisioning {

inline constexpr size_t kDefaultMaxResourceBytes = 256 * 1024;

struct ServiceOptions {
  const Clock* clock = nullptr;  // nullptr = system clock; must outlive the service
  // Public half of the admin signing key (EC P-256 for ES256 or Ed25519 for EdDSA). Unset: every
  // admin request gets 401.
  std::optional<crypto::PublicKey> admin_key;
  size_t max_resource_bytes = kDefaultMaxResourceBytes;  // uploads above: 413
  Logger* log = nullptr;                                 // operational messages; may be null
  // How long the audit writer holds a commit for records of requests already in progress (see
  // AuditWriter); 0 commits at once.
  std::chrono::microseconds audit_batch_wait = AuditWriter::kDefaultBatchWait;
  // How long a release polls for its audit commit before it sleeps, while that leaves CPUs for
  // other requests (see AuditWriter); 0 always sleeps.
  std::chrono::microseconds audit_wait_spin = AuditWriter::kDefaultWaitSpin;
};

class ProvisioningService {
 public:
  // `store` and `verifier` must outlive the service. kInvalidArgument for an admin key that is
  // neither EC P-256 nor Ed25519.
  static Result<std::unique_ptr<ProvisioningService>> Create(ServiceOptions options, ProvisioningStore& store,
                                                             TokenVerifier& verifier);

  // Routes, metrics and the health check on `server` (before server.Start()).
  void Register(http::Server& server);

  // Group-commit figures of the audit log (records, transactions, largest batch).
  AuditWriterStats audit_stats() const { return audit_writer_->stats(); }

 private:
  ProvisioningService(ServiceOptions options, const Clock& clock, ProvisioningStore& store, TokenVerifier& verifier)
      : options_(std::move(options)),
        clock_(clock),
        store_(store),
        verifier_(verifier),
        audit_writer_(std::make_unique<AuditWriter>(
            store.audit(), AuditWriterOptions{AuditWriter::kDefaultMaxBatch, options_.audit_batch_wait,
                                              options_.audit_wait_spin})) {}

  Result<http::Response> Release(const http::Request& req);
  Result<http::Response> PutResource(const http::Request& req);
  Result<http::Response> DeleteResource(const http::Request& req);
  Result<http::Response> PutPolicy(const http::Request& req);
  Result<http::Response> GetPolicy(const http::Request& req);
  Result<http::Response> DeletePolicy(const http::Request& req);
  Result<http::Response> ListResources(const http::Request& req);
  Result<http::Response> ReadAudit(const http::Request& req);
  Result<http::Response> ReadAuditHead(const http::Request& req);

  // The admin token's subject ("admin" when it has none), or kUnauthenticated.
  Result<std::string> Admin(const http::Request& req);
  // Records a denial (audit, fulfilling the request's `intent`, and metrics) and builds the 403
  // problem carrying "rule".
  Result<http::Response> Deny(const AttestedToken& token, const std::string& resource, const std::string& rule,
                              const std::string& detail, AuditWriter::Intent& intent);
  nlohmann::json AuditBase(const AttestedToken& token, const std::string& resource) const;

  ServiceOptions options_;
  const Clock& clock_;
  ProvisioningStore& store_;
  TokenVerifier& verifier_;
  std::unique_ptr<AuditWriter> audit_writer_;  // every audit append goes through it
  http::Counter* releases_ = nullptr;
  http::Counter* denials_ = nullptr;
  http::Counter* token_rejections_ = nullptr;
};

}  // namespace vhsm::provisioning
