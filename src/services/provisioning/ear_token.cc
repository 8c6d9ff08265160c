// ear_token.cc
#include "services/provisioning/ear_token.h"

#include "base/file.h"
#include "crypto/digest.h"
#include "http/client.h"
#include "jose/jwt.h"

namespace vhsm::provisioning {

using nlohmann::json;

namespace {

bool IsUrl(std::string_view s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

Result<std::string> FetchUrl(const JwksSourceOptions& o) {
  const size_t scheme_end = o.location.find("://") + 3;
  const size_t path_start = o.location.find('/', scheme_end);
  const std::string base = path_start == std::string::npos ? o.location : o.location.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : o.location.substr(path_start);
  http::ClientOptions co;
  co.base_url = base;
  co.ca_file = o.ca_file;
  co.connect_timeout_ms = 2000;
  co.read_timeout_ms = 5000;
  co.max_attempts = 2;
  co.max_response_bytes = jose::kMaxJwksBytes;
  VHSM_ASSIGN_OR_RETURN(std::unique_ptr<http::Client> client, http::Client::Create(co));
  VHSM_ASSIGN_OR_RETURN(http::ClientResponse r, client->Get(path));
  if (r.status != 200) {
    return UnavailableError("JWKS " + o.location + ": HTTP " + std::to_string(r.status) + ", want 200");
  }
  return std::move(r.body);
}

const json* Member(const json& obj, std::string_view name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(name));
  return it == obj.end() ? nullptr : &*it;
}

}  // namespace

Result<std::unique_ptr<JwksSource>> JwksSource::Create(JwksSourceOptions options, const Clock& clock) {
  if (options.location.empty()) return InvalidArgumentError("--jwks: no JWKS file or URL given");
  auto src = std::unique_ptr<JwksSource>(new JwksSource(std::move(options), clock));
  Result<jose::JwkSet> keys = src->Load();
  if (!keys.ok()) {
    if (!IsUrl(src->options_.location)) return keys.status().Annotate("--jwks " + src->options_.location);
    if (src->options_.logger) {
      src->options_.logger->Warn("JWKS not loaded yet (will retry on the first token): " + keys.status().ToString());
    }
    src->keys_ = std::make_shared<const jose::JwkSet>();
  } else {
    src->keys_ = std::make_shared<const jose::JwkSet>(std::move(*keys));
  }
  src->last_attempt_ms_ = clock.MonotonicMs();
  return src;
}

std::unique_ptr<JwksSource> JwksSource::Fixed(jose::JwkSet keys, const Clock& clock) {
  auto src = std::unique_ptr<JwksSource>(new JwksSource(JwksSourceOptions{}, clock));
  src->keys_ = std::make_shared<const jose::JwkSet>(std::move(keys));
  return src;
}

Result<jose::JwkSet> JwksSource::Load() {
  std::string text;
  if (IsUrl(options_.location)) {
    VHSM_ASSIGN_OR_RETURN(text, FetchUrl(options_));
  } else {
    VHSM_ASSIGN_OR_RETURN(text, ReadFileText(options_.location, jose::kMaxJwksBytes));
  }
  return jose::JwkSet::ParseText(text);
}

std::shared_ptr<const jose::JwkSet> JwksSource::Current() const {
  std::lock_guard<std::mutex> l(mu_);
  return keys_;
}

bool JwksSource::MaybeRefresh() {
  if (options_.location.empty()) return false;  // Fixed()
  std::lock_guard<std::mutex> r(refresh_mu_);
  const int64_t now = clock_.MonotonicMs();
  if (last_attempt_ms_ >= 0 && now - last_attempt_ms_ < options_.min_refresh_interval_ms) return false;
  last_attempt_ms_ = now;
  Result<jose::JwkSet> keys = Load();
  if (!keys.ok()) {
    if (options_.logger) options_.logger->Warn("JWKS refresh failed: " + keys.status().ToString());
    return false;
  }
  std::lock_guard<std::mutex> l(mu_);
  keys_ = std::make_shared<const jose::JwkSet>(std::move(*keys));
  ++refreshes_;
  return true;
}

int64_t JwksSource::refresh_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return refreshes_;
}

Result<AttestedToken> ExtractEarClaims(json claims) {
  if (!claims.is_object()) return UnauthenticatedError("token: claims are not a JSON object");
  const json* submods = Member(claims, "submods");
  const json* cpu0 = submods ? Member(*submods, "cpu0") : nullptr;
  if (cpu0 == nullptr || !cpu0->is_object()) {
    return UnauthenticatedError("token: no submods.cpu0 (not an EAR from the Attestation Service)");
  }
  AttestedToken t;
  const json* status = Member(*cpu0, "ear.status");
  if (status == nullptr || !status->is_string()) {
    return UnauthenticatedError("token: submods.cpu0[\"ear.status\"] missing or not a string");
  }
  t.ear_status = status->get<std::string>();
  if (const json* jti = Member(claims, "jti"); jti != nullptr) {
    if (!jti->is_string()) return UnauthenticatedError("token: jti is not a string");
    t.jti = jti->get<std::string>().substr(0, 128);
  }
  const json* evidence = Member(*cpu0, "ear.veraison.annotated-evidence");
  if (evidence != nullptr) {
    if (const json* m = Member(*evidence, "measurement"); m && m->is_string()) t.measurement = m->get<std::string>();
    if (const json* c = Member(*evidence, "chip_id"); c && c->is_string()) t.chip_id = c->get<std::string>();
  }
  const json* rdc = evidence ? Member(*evidence, "runtime_data_claims") : nullptr;
  const json* pub = rdc ? Member(*rdc, "tee-pubkey") : nullptr;
  if (pub == nullptr) {
    return UnauthenticatedError(
        "token: no TEE key at submods.cpu0[\"ear.veraison.annotated-evidence\"].runtime_data_claims[\"tee-pubkey\"]");
  }
  if (!pub->is_object()) return UnauthenticatedError("token: tee-pubkey is not a JWK object");
  Result<jose::Jwk> jwk = jose::Jwk::ParsePublic(*pub);
  if (!jwk.ok()) {
    if (jwk.status().code() == StatusCode::kUnimplemented) {
      return InvalidArgumentError("token: unsupported TEE key type: " + jwk.status().message() +
                                  " (want EC P-256/P-384/P-521 or RSA)");
    }
    return UnauthenticatedError("token: tee-pubkey: " + jwk.status().message());
  }
  Result<jose::JweAlg> alg = jose::DefaultJweAlgForKey(jwk->public_key());
  if (!alg.ok()) {
    return InvalidArgumentError("token: unsupported TEE key type " + jwk->public_key().Describe() +
                                " (want EC P-256/P-384/P-521 or RSA)");
  }
  t.jwe_alg = *alg;
  t.tee_key = jwk->public_key().Clone();
  t.claims = std::move(claims);
  return t;
}

jose::JwtValidationOptions TokenVerifier::ValidationOptions() const {
  jose::JwtValidationOptions vo;
  vo.issuer = options_.issuer;
  vo.clock_skew_seconds = options_.clock_skew_seconds;
  vo.require_exp = true;
  vo.jws.max_token_bytes = options_.max_token_bytes;
  vo.jws.allowed_algs = {jose::JwsAlg::kEs256, jose::JwsAlg::kEs384, jose::JwsAlg::kEs512, jose::JwsAlg::kEdDsa,
                         jose::JwsAlg::kPs256, jose::JwsAlg::kRs256};
  return vo;
}

std::shared_ptr<const AttestedToken> TokenVerifier::Lookup(const std::string& key,
                                                           const std::shared_ptr<const jose::JwkSet>& keys,
                                                           int64_t now) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  if (it->second.keys != keys || now - options_.clock_skew_seconds >= it->second.exp) {
    // Verified with a JWKS that has since been replaced (a key may have been withdrawn), or
    // expired: verify again from scratch.
    lru_.erase(it->second.lru);
    cache_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.token;
}

void TokenVerifier::Remember(const std::string& key, std::shared_ptr<const AttestedToken> token,
                             std::shared_ptr<const jose::JwkSet> keys, int64_t now) const {
  auto e = token->claims.find("exp");
  if (e == token->claims.end() || !e->is_number_integer()) return;  // (verification requires exp)
  const int64_t exp = e->get<int64_t>();
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.count(key) != 0) return;
  // Drop the least recently used entry when full, and expired entries as they reach the back.
  while (!lru_.empty() && (cache_.size() >= options_.cache_entries ||
                           now - options_.clock_skew_seconds >= cache_.at(lru_.back()).exp)) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  cache_.emplace(key, CacheEntry{std::move(token), std::move(keys), exp, lru_.begin()});
}

int64_t TokenVerifier::cache_hits() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return hits_;
}

size_t TokenVerifier::cache_size() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return cache_.size();
}

Result<std::shared_ptr<const AttestedToken>> TokenVerifier::Verify(std::string_view token) const {
  const jose::JwtValidationOptions vo = ValidationOptions();
  std::shared_ptr<const jose::JwkSet> keys = keys_.Current();
  const int64_t now = clock_.NowUnix();
  std::string cache_key;
  if (options_.cache_entries > 0) {
    const Bytes digest = crypto::Sha256(AsBytes(token));
    cache_key.assign(digest.begin(), digest.end());
    if (std::shared_ptr<const AttestedToken> hit = Lookup(cache_key, keys, now)) {
      // Signature and claims were checked with this JWKS; the time and issuer checks depend on
      // the clock and options, so they run again.
      if (Status s = jose::ValidateJwtClaims(hit->claims, vo, now); !s.ok()) {
        return UnauthenticatedError("token: " + s.message());
      }
      return hit;
    }
  }
  Result<jose::VerifiedJwt> v = jose::VerifyJwt(token, *keys, vo, clock_);
  if (!v.ok() && v.status().code() == StatusCode::kNotFound && keys_.MaybeRefresh()) {
    keys = keys_.Current();
    v = jose::VerifyJwt(token, *keys, vo, clock_);
  }
  if (!v.ok()) {
    if (v.status().code() == StatusCode::kNotFound) {
      return UnauthenticatedError("token: signing key unknown to the JWKS: " + v.status().message());
    }
    return UnauthenticatedError("token: " + v.status().message());
  }
  VHSM_ASSIGN_OR_RETURN(AttestedToken t, ExtractEarClaims(std::move(v->claims)));
  auto shared = std::make_shared<const AttestedToken>(std::move(t));
  if (options_.cache_entries > 0) Remember(cache_key, shared, std::move(keys), now);
  return shared;
}

}  // namespace vhsm::provisioning
