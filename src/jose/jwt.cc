#include "jose/jwt.h"

#include <algorithm>
#include <cctype>

#include "jose/json_util.h"

namespace vhsm::jose {

using nlohmann::json;

namespace {

constexpr std::string_view kClaims = "JWT claims";

Status Unauth(const Status& s) {
  if (s.ok() || s.code() == StatusCode::kUnauthenticated || s.code() == StatusCode::kNotFound) return s;
  return UnauthenticatedError(s.message());
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Status CheckAudience(const json& claims, const std::string& want) {
  auto it = claims.find("aud");
  if (it == claims.end()) return UnauthenticatedError("JWT aud: missing, want \"" + want + "\"");
  if (it->is_string()) {
    if (it->get_ref<const std::string&>() == want) return OkStatus();
  } else if (it->is_array()) {
    for (const json& a : *it) {
      if (a.is_string() && a.get_ref<const std::string&>() == want) return OkStatus();
    }
  } else {
    return UnauthenticatedError("JWT aud: want a string or an array of strings");
  }
  return UnauthenticatedError("JWT aud: does not contain \"" + want + "\"");
}

Result<VerifiedJwt> FinishJwt(VerifiedJws jws, const JwtValidationOptions& options, const Clock& clock) {
  if (!options.expected_typ.empty()) {
    auto typ = OptionalString(jws.header, "typ", "JWT header");
    if (!typ.ok()) return Unauth(typ.status());
    if (!typ->has_value() || !EqualsIgnoreCase(**typ, options.expected_typ)) {
      return UnauthenticatedError("JWT header.typ: want \"" + options.expected_typ + "\", got \"" +
                                  typ->value_or("") + "\"");
    }
  }
  JsonLimits limits;
  limits.max_bytes = options.max_claims_bytes;
  limits.max_depth = 32;
  auto claims = ParseJsonObject(AsStringView(jws.payload), kClaims, limits);
  if (!claims.ok()) return Unauth(claims.status());
  VHSM_RETURN_IF_ERROR(ValidateJwtClaims(*claims, options, clock.NowUnix()));
  return VerifiedJwt{std::move(jws.header), std::move(claims).value(), jws.alg, std::move(jws.kid)};
}

}  // namespace

Result<std::string> SignJwt(const crypto::PrivateKey& key, JwsAlg alg, const json& claims, JwsSignOptions options) {
  if (!claims.is_object()) return InvalidArgumentError("JWT claims: want a JSON object");
  if (options.typ.empty()) options.typ = "JWT";
  return SignCompact(key, alg, AsBytes(DumpJson(claims)), options);
}

Status ValidateJwtClaims(const json& claims, const JwtValidationOptions& options, int64_t now) {
  const int64_t skew = options.clock_skew_seconds;
  auto exp = OptionalInt(claims, "exp", kClaims);
  auto nbf = OptionalInt(claims, "nbf", kClaims);
  auto iat = OptionalInt(claims, "iat", kClaims);
  if (!exp.ok()) return Unauth(exp.status());
  if (!nbf.ok()) return Unauth(nbf.status());
  if (!iat.ok()) return Unauth(iat.status());
  if (exp->has_value()) {
    if (now - skew >= **exp) {
      return UnauthenticatedError("JWT exp: expired at " + std::to_string(**exp) + ", now " + std::to_string(now));
    }
    if (options.max_lifetime_seconds > 0 && **exp > now + options.max_lifetime_seconds + skew) {
      return UnauthenticatedError("JWT exp: " + std::to_string(**exp - now) + " s ahead, limit " +
                                  std::to_string(options.max_lifetime_seconds) + " s");
    }
  } else if (options.require_exp || options.max_lifetime_seconds > 0) {
    return UnauthenticatedError("JWT exp: missing");
  }
  if (nbf->has_value()) {
    if (now + skew < **nbf) {
      return UnauthenticatedError("JWT nbf: not valid before " + std::to_string(**nbf) + ", now " + std::to_string(now));
    }
  } else if (options.require_nbf) {
    return UnauthenticatedError("JWT nbf: missing");
  }
  if (iat->has_value()) {
    if (now + skew < **iat) {
      return UnauthenticatedError("JWT iat: issued in the future (" + std::to_string(**iat) + ", now " +
                                  std::to_string(now) + ")");
    }
  } else if (options.require_iat) {
    return UnauthenticatedError("JWT iat: missing");
  }
  if (!options.issuer.empty()) {
    auto iss = OptionalString(claims, "iss", kClaims);
    if (!iss.ok()) return Unauth(iss.status());
    if (!iss->has_value() || **iss != options.issuer) {
      return UnauthenticatedError("JWT iss: want \"" + options.issuer + "\", got \"" + iss->value_or("").substr(0, 128) + "\"");
    }
  }
  if (!options.audience.empty()) VHSM_RETURN_IF_ERROR(CheckAudience(claims, options.audience));
  auto jti = OptionalString(claims, "jti", kClaims);
  if (!jti.ok()) return Unauth(jti.status());
  if (options.require_jti && (!jti->has_value() || (*jti)->empty())) return UnauthenticatedError("JWT jti: missing");
  return OkStatus();
}

Result<VerifiedJwt> VerifyJwt(std::string_view token, const crypto::PublicKey& key,
                              const JwtValidationOptions& options, const Clock& clock) {
  auto jws = VerifyCompact(token, key, options.jws);
  if (!jws.ok()) return Unauth(jws.status());
  return FinishJwt(std::move(jws).value(), options, clock);
}

Result<VerifiedJwt> VerifyJwt(std::string_view token, const JwkSet& keys, const JwtValidationOptions& options,
                              const Clock& clock) {
  auto jws = VerifyCompact(token, keys, options.jws);
  if (!jws.ok()) return Unauth(jws.status());
  return FinishJwt(std::move(jws).value(), options, clock);
}

}  // namespace vhsm::jose
