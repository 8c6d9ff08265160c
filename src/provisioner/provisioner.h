// provisioner.h: the guest side of RCAR (Trustee KBS protocol 0.4.0, ARCHITECTURE.md section 3),
// run inside vhsmd. One Session: generate an ephemeral key pair (P-256 by default; P-384 or RSA
// by option) whose private half never leaves this process; POST /kbs/v0/auth for a nonce and a
// session cookie; ask snp::Firmware for a report whose REPORT_DATA is
// SHA-384(JCS({"additional-evidence","nonce","tee-pubkey"})) || 16 zero bytes; POST
// /kbs/v0/attest for an EAR token; then GET /kbs/v0/resource/<repo>/<type>/<tag> with that token
// and decrypt the flattened JWE with the ephemeral key. The secret is checked for the requested
// key type (secret.h) before it is returned. Services that are unreachable (or answer 5xx) are
// retried with bounded exponential backoff; a token that expired between attest and fetch (401)
// triggers one fresh attestation. A denial (403) is never retried and carries the service's
// reason. The ephemeral key is destroyed when the Provisioner call returns.
// Not thread-safe; one Provisioner per thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "provisioner/secret.h"
#include "snp/firmware.h"

namespace vhsm::provisioner {

// "repo/type/tag", each part [A-Za-z0-9._-]{1,128}.
struct ResourcePath {
  std::string repo;
  std::string type;
  std::string tag;
  std::string ToString() const { return repo + "/" + type + "/" + tag; }
};
Result<ResourcePath> ParseResourcePath(std::string_view text);

enum class EphemeralKeyKind { kP256, kP384, kRsa3072 };
// "p256" / "P-256", "p384" / "P-384", "rsa" / "rsa3072".
Result<EphemeralKeyKind> ParseEphemeralKeyKind(std::string_view name);

// The 64-byte REPORT_DATA that binds nonce, tee-pubkey and additional evidence (what
// vhsm-attestd recomputes).
Result<std::array<uint8_t, 64>> BindingReportData(std::string_view nonce, const nlohmann::json& tee_pubkey,
                                                  std::string_view additional_evidence);

// One seed step as it happened (for status lines and the demo).
struct StepEvent {
  int step = 0;             // seed step 2..5
  std::string what;         // "report from sim firmware, REPORT_DATA binds nonce + P-256 key"
  std::chrono::microseconds elapsed{0};
};

struct ProvisionerOptions {
  std::string attestation_url;   // base URL of vhsm-attestd, e.g. http://127.0.0.1:8080
  std::string provisioning_url;  // base URL of vhsm-provisiond
  std::string ca_file;           // for https; empty = system store
  EphemeralKeyKind ephemeral = EphemeralKeyKind::kP256;
  uint32_t vmpl = 0;
  int max_attempts = 5;          // per request, while the service is unreachable or answers 5xx
  int backoff_initial_ms = 200;  // doubles per retry
  int backoff_max_ms = 5000;
  int connect_timeout_ms = 3000;
  int read_timeout_ms = 10000;
  std::function<void(const StepEvent&)> on_step;  // optional
  std::function<void(std::string_view)> on_status;  // optional: retry notices etc.
};

struct FetchRequest {
  ResourcePath path;
  SecretKeyType key_type = SecretKeyType::kAes;
};

struct ProvisionedSecret {
  ResourcePath path;
  ValidatedSecret secret;
  std::string jti;         // of the EAR token that released it
  std::string ear_status;  // "affirming" / "warning"
};

class Provisioner {
 public:
  // kInvalidArgument for malformed URLs. `firmware` must outlive the Provisioner.
  static Result<std::unique_ptr<Provisioner>> Create(ProvisionerOptions options, snp::Firmware& firmware);
  ~Provisioner();

  // Attests once and fetches every request with the same token (re-attesting once if the token
  // expired). All or nothing: on any failure nothing is returned. kPermissionDenied for a
  // denial by either service (message carries its reason), kUnavailable when a service stayed
  // unreachable, kInvalidArgument for a secret that does not fit its key type, kUnauthenticated
  // when the JWE does not decrypt with the ephemeral key.
  Result<std::vector<ProvisionedSecret>> FetchAll(const std::vector<FetchRequest>& requests);
  Result<ProvisionedSecret> Fetch(const FetchRequest& request);

 private:
  struct Impl;
  explicit Provisioner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vhsm::provisioner
