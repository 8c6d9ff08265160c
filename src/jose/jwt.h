// jwt.h: JSON Web Tokens (RFC 7519) signed as compact JWS: issuing (EAR tokens, admin tokens in
// tests) and validating (the Provisioning Service's bearer tokens, the admin APIs). Validation
// verifies the signature first, then "exp"/"nbf"/"iat" against an injected Clock with a
// configurable skew, then "iss", "aud", "jti" and an optional maximum remaining lifetime.
// Every failure about the token is kUnauthenticated (HTTP 401), except kNotFound for an unknown
// "kid" so callers can refresh their JWKS and retry. Stateless and thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "jose/jwk.h"
#include "jose/jws.h"

namespace vhsm::jose {

struct JwtValidationOptions {
  std::string issuer;    // when non-empty, "iss" must equal it
  std::string audience;  // when non-empty, "aud" (string or array) must contain it
  int64_t clock_skew_seconds = 60;
  bool require_exp = true;
  bool require_iat = false;
  bool require_nbf = false;
  bool require_jti = false;
  // When > 0, "exp" may be at most this far after now (admin tokens: 3600).
  int64_t max_lifetime_seconds = 0;
  // When non-empty, the header "typ" must equal it (case-insensitive, RFC 7515 section 4.1.9).
  std::string expected_typ;
  JwsVerifyOptions jws;
  size_t max_claims_bytes = 64 * 1024;
};

struct VerifiedJwt {
  nlohmann::json header;
  nlohmann::json claims;  // a JSON object
  JwsAlg alg;
  std::string kid;
};

// Signs `claims` (a JSON object). options.typ defaults to "JWT" when empty.
Result<std::string> SignJwt(const crypto::PrivateKey& key, JwsAlg alg, const nlohmann::json& claims,
                            JwsSignOptions options = {});

Result<VerifiedJwt> VerifyJwt(std::string_view token, const crypto::PublicKey& key,
                              const JwtValidationOptions& options, const Clock& clock);
Result<VerifiedJwt> VerifyJwt(std::string_view token, const JwkSet& keys,
                              const JwtValidationOptions& options, const Clock& clock);

// The claim checks alone, for claims whose signature was verified elsewhere.
Status ValidateJwtClaims(const nlohmann::json& claims, const JwtValidationOptions& options, int64_t now_unix);

}  // namespace vhsm::jose
