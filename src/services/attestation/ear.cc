#include "services/attestation/ear.h"

#include "base/bytes.h"
#include "crypto/random.h"
#include "jose/jwt.h"

namespace vhsm::attestation {

namespace {
const SystemClock kSystemClock;
}  // namespace

Result<jose::Jwk> EarIssuer::MakeJwk(jose::JwsAlg alg, crypto::PrivateKey key) {
  if (alg != jose::JwsAlg::kEs256 && alg != jose::JwsAlg::kEs384) {
    return InvalidArgumentError("token signing algorithm: got " + std::string(jose::JwsAlgName(alg)) +
                                ", want ES256 or ES384");
  }
  VHSM_RETURN_IF_ERROR(jose::CheckAlgMatchesKey(alg, key.Public()));
  jose::Jwk tmp = jose::Jwk::FromPublicKey(key.Public());
  VHSM_ASSIGN_OR_RETURN(std::string kid, tmp.Thumbprint());
  jose::JwkMetadata meta{kid, std::string(jose::JwsAlgName(alg)), "sig"};
  return jose::Jwk::FromPrivateKey(std::move(key), meta);
}

Result<std::unique_ptr<EarIssuer>> EarIssuer::Create(EarIssuerOptions options, crypto::PrivateKey key) {
  const Clock& clock = options.clock ? *options.clock : kSystemClock;
  VHSM_ASSIGN_OR_RETURN(jose::Jwk jwk, MakeJwk(options.alg, std::move(key)));
  if (options.token_ttl_seconds <= 0) return InvalidArgumentError("token_ttl_seconds: must be positive");
  std::unique_ptr<EarIssuer> issuer(new EarIssuer(std::move(options), clock));
  issuer->keys_.push_back(Entry{std::move(jwk), std::nullopt});
  return issuer;
}

Result<IssuedToken> EarIssuer::Issue(const nlohmann::json& submods, const std::string& nonce) const {
  VHSM_ASSIGN_OR_RETURN(Bytes jti_bytes, crypto::RandomBytes(16));
  IssuedToken out;
  out.jti = Base64UrlEncode(jti_bytes);
  const int64_t now = clock_.NowUnix();
  out.exp = now + options_.token_ttl_seconds;
  nlohmann::json claims = {{"eat_profile", std::string(kEarProfile)},
                           {"iat", now},
                           {"exp", out.exp},
                           {"jti", out.jti},
                           {"iss", options_.issuer},
                           {"ear.verifier-id", {{"developer", "vhsm"}, {"build", "vhsm-attestd 0.1"}}},
                           {"submods", submods}};
  if (!nonce.empty()) claims["eat_nonce"] = nonce;
  std::lock_guard<std::mutex> lock(mu_);
  const jose::Jwk& signer = keys_.back().jwk;
  VHSM_ASSIGN_OR_RETURN(const crypto::PrivateKey* key, signer.private_key());
  jose::JwsSignOptions so;
  so.kid = signer.kid();
  so.typ = "JWT";
  VHSM_ASSIGN_OR_RETURN(out.token, jose::SignJwt(*key, options_.alg, claims, so));
  return out;
}

Status EarIssuer::Rotate(crypto::PrivateKey key) {
  VHSM_ASSIGN_OR_RETURN(jose::Jwk jwk, MakeJwk(options_.alg, std::move(key)));
  std::lock_guard<std::mutex> lock(mu_);
  if (keys_.back().jwk.kid() == jwk.kid()) return OkStatus();  // same key: nothing to do
  const int64_t now = clock_.NowUnix();
  keys_.back().retire_after = now + options_.token_ttl_seconds + options_.clock_skew_seconds;
  // Forget keys whose tokens have all expired, so repeated rotation does not grow the set.
  std::erase_if(keys_, [now](const Entry& e) { return e.retire_after && *e.retire_after < now; });
  keys_.push_back(Entry{std::move(jwk), std::nullopt});
  return OkStatus();
}

nlohmann::json EarIssuer::Jwks() const {
  const int64_t now = clock_.NowUnix();
  nlohmann::json keys = nlohmann::json::array();
  std::lock_guard<std::mutex> lock(mu_);
  // Newest first, so a relying party that takes the first key gets the signing key.
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (it->retire_after && *it->retire_after < now) continue;
    keys.push_back(it->jwk.ToPublicJson());
  }
  return {{"keys", keys}};
}

std::string EarIssuer::current_kid() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.back().jwk.kid();
}

}  // namespace vhsm::attestation
