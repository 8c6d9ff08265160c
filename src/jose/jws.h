// jws.h: JSON Web Signature (RFC 7515) in compact serialization, for EAR tokens (ES256/ES384),
// admin bearer tokens (ES256/EdDSA) and anything else vhsm signs. Algorithms (RFC 7518 section 3,
// RFC 8037): ES256, ES384, ES512, EdDSA (Ed25519), RS256/384/512, PS256/384/512. Verification is
// strict: "alg":"none", unknown and disallowed algorithms are rejected; the algorithm must match
// the key (ES256 only with P-256, EdDSA only with Ed25519, RS/PS only with RSA); "crit" is
// rejected unless every listed name is understood by the caller; "b64" (RFC 7797) is rejected;
// sizes are bounded. Stateless and thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "jose/jwk.h"

namespace vhsm::jose {

enum class JwsAlg { kEs256, kEs384, kEs512, kEdDsa, kRs256, kRs384, kRs512, kPs256, kPs384, kPs512 };

std::string_view JwsAlgName(JwsAlg alg);  // "ES256"
// kUnauthenticated for "none"; kUnimplemented for names we do not support (HS256, ...).
Result<JwsAlg> ParseJwsAlg(std::string_view name);
// kInvalidArgument when `alg` cannot be used with `key` (wrong type or curve), naming both.
Status CheckAlgMatchesKey(JwsAlg alg, const crypto::PublicKey& key);
// The natural algorithm for a key: ES256/ES384/ES512 by curve, EdDSA, PS256 for RSA.
JwsAlg DefaultJwsAlgForKey(const crypto::PublicKey& key);

struct JwsSignOptions {
  std::string kid;  // "kid" header when non-empty
  std::string typ;  // "typ" header when non-empty (e.g. "JWT")
  // More protected header members; must be an object or null. May not override alg/kid/typ.
  nlohmann::json extra_header;
};

// Compact JWS over `payload`. The header is {"alg",["kid"],["typ"],extra...} in that order.
Result<std::string> SignCompact(const crypto::PrivateKey& key, JwsAlg alg, ByteSpan payload,
                                const JwsSignOptions& options = {});

struct JwsVerifyOptions {
  std::vector<JwsAlg> allowed_algs;             // empty: every supported algorithm
  std::vector<std::string> understood_crit;     // header names the caller processes itself
  size_t max_token_bytes = 64 * 1024;
  size_t max_header_bytes = 8 * 1024;
};

struct UnverifiedJws {
  nlohmann::json header;
  JwsAlg alg;
  std::string kid;  // empty when absent
  Bytes payload;
  Bytes signature;
  std::string signing_input;  // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
};

// Splits and decodes a compact JWS and checks its header (alg, crit, b64) without verifying the
// signature: for choosing a key by "kid". WARNING: nothing in the result is authenticated.
// kInvalidArgument for malformed input, kUnauthenticated for "none" or a disallowed alg,
// kUnimplemented for unknown algs, kResourceExhausted for oversized tokens.
Result<UnverifiedJws> ParseCompactUnverified(std::string_view token, const JwsVerifyOptions& options = {});

struct VerifiedJws {
  nlohmann::json header;
  JwsAlg alg;
  std::string kid;
  Bytes payload;
};

// Verifies with one key. kUnauthenticated when the signature does not verify; the parse errors
// above otherwise; kInvalidArgument when the alg does not fit the key.
Result<VerifiedJws> VerifyCompact(std::string_view token, const crypto::PublicKey& key,
                                  const JwsVerifyOptions& options = {});
// Verifies with the key named by the header's "kid" (or the only key when the set has one key and
// the token no kid). kNotFound when no key has that kid, so callers can refresh the set. A JWK
// "alg" member must equal the token's alg, and a JWK "use" other than "sig" is rejected.
Result<VerifiedJws> VerifyCompact(std::string_view token, const JwkSet& keys,
                                  const JwsVerifyOptions& options = {});

}  // namespace vhsm::jose
