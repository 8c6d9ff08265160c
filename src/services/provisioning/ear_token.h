// ear_token.h: how the Provisioning Service decides that a bearer token is a genuine approval
// from the Attestation Service. JwksSource holds the attestation service's signing keys (a JWKS
// file or an http(s) URL such as https://attestd/.well-known/jwks.json), cached and re-read when
// a token names an unknown "kid" (at most once per min_refresh_interval_ms, so a flood of junk
// kids cannot hammer the issuer). TokenVerifier checks the JWT (signature, alg allow-list,
// exp/nbf with skew, iss) and extracts the EAR claims the service needs: ear.status, measurement,
// chip id, jti and the TEE public key the secret is wrapped to, from
// submods.cpu0["ear.veraison.annotated-evidence"].runtime_data_claims["tee-pubkey"].
// Errors: kUnauthenticated for every reason a token is not acceptable (expired, alg none, bad
// signature, unknown kid, foreign issuer, missing TEE key, malformed claims), kInvalidArgument
// when the TEE key is well formed but of a type we cannot wrap to (Ed25519, unknown kty).
// Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "jose/jwe.h"
#include "jose/jwk.h"
#include "jose/jwt.h"

namespace vhsm::provisioning {

struct JwksSourceOptions {
  std::string location;                    // JWKS file path, or http:// / https:// URL
  std::string ca_file;                     // https: PEM bundle (empty: system store)
  int64_t min_refresh_interval_ms = 1000;  // rate limit for refreshes on an unknown kid
  Logger* logger = nullptr;
};

class JwksSource {
 public:
  // Loads the keys once. A file that cannot be read or parsed is an error; an unreachable URL is
  // not (the Attestation Service may start later): the set starts empty and is fetched on demand.
  static Result<std::unique_ptr<JwksSource>> Create(JwksSourceOptions options, const Clock& clock);
  // A source with fixed keys (tests, embedding).
  static std::unique_ptr<JwksSource> Fixed(jose::JwkSet keys, const Clock& clock);

  std::shared_ptr<const jose::JwkSet> Current() const;
  // Re-reads the source unless the last attempt was less than min_refresh_interval_ms ago.
  // Returns true when a new set was installed.
  bool MaybeRefresh();
  int64_t refresh_count() const;

 private:
  JwksSource(JwksSourceOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {}
  Result<jose::JwkSet> Load();

  JwksSourceOptions options_;
  const Clock& clock_;
  std::mutex refresh_mu_;  // one fetch at a time
  mutable std::mutex mu_;
  std::shared_ptr<const jose::JwkSet> keys_;  // guarded by mu_
  int64_t last_attempt_ms_ = -1;              // guarded by refresh_mu_
  int64_t refreshes_ = 0;                     // guarded by mu_
};

struct TokenVerifierOptions {
  std::string issuer = "vhsm-attestd";  // "iss" must equal it (empty: any issuer)
  int64_t clock_skew_seconds = 60;
  size_t max_token_bytes = 64 * 1024;
  // Verified tokens remembered (keyed by the SHA-256 of the exact token bytes) so a token used for
  // several resources is checked cryptographically once. A hit still re-checks exp/nbf/iat and iss
  // against the clock, and counts only while the JWKS it was verified with is current. 0: off.
  size_t cache_entries = 1024;
};

// What the service uses from a verified EAR.
struct AttestedToken {
  nlohmann::json claims;       // the whole payload (policies point into it)
  std::string jti;             // "" when absent
  std::string ear_status;      // submods.cpu0["ear.status"]
  std::string measurement;     // hex, "" when absent
  std::string chip_id;         // hex, "" when absent
  std::optional<crypto::PublicKey> tee_key;  // always set on success
  jose::JweAlg jwe_alg = jose::JweAlg::kEcdhEsA256Kw;
};

// The EAR claim extraction alone (no signature, no time checks): for tokens verified elsewhere
// and for fuzzing. Error codes as above.
Result<AttestedToken> ExtractEarClaims(nlohmann::json claims);

class TokenVerifier {
 public:
  // `keys` and `clock` must outlive the verifier.
  TokenVerifier(TokenVerifierOptions options, JwksSource& keys, const Clock& clock)
      : options_(std::move(options)), keys_(keys), clock_(clock) {}
  // The verified token, shared with the cache (immutable).
  Result<std::shared_ptr<const AttestedToken>> Verify(std::string_view token) const;
  int64_t cache_hits() const;
  size_t cache_size() const;

 private:
  struct CacheEntry {
    std::shared_ptr<const AttestedToken> token;
    std::shared_ptr<const jose::JwkSet> keys;  // the JWKS that verified it
    int64_t exp = 0;
    std::list<std::string>::iterator lru;      // position in lru_ (front: most recent)
  };
  jose::JwtValidationOptions ValidationOptions() const;
  std::shared_ptr<const AttestedToken> Lookup(const std::string& key, const std::shared_ptr<const jose::JwkSet>& keys,
                                              int64_t now) const;
  void Remember(const std::string& key, std::shared_ptr<const AttestedToken> token,
                std::shared_ptr<const jose::JwkSet> keys, int64_t now) const;

  TokenVerifierOptions options_;
  JwksSource& keys_;
  const Clock& clock_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, CacheEntry> cache_;  // guarded by cache_mu_
  mutable std::list<std::string> lru_;                         // guarded by cache_mu_
  mutable int64_t hits_ = 0;                                   // guarded by cache_mu_
};

}  // namespace vhsm::provisioning
