#include "jose/jws.h"

#include <algorithm>

#include "jose/json_util.h"

namespace vhsm::jose {

using crypto::EcCurve;
using crypto::KeyType;
using crypto::SignatureScheme;
using nlohmann::json;

namespace {

struct AlgInfo {
  JwsAlg alg;
  std::string_view name;
  SignatureScheme scheme;
  KeyType key_type;
  EcCurve curve;  // for kEc only
};

constexpr AlgInfo kAlgs[] = {
    {JwsAlg::kEs256, "ES256", SignatureScheme::kEcdsaSha256, KeyType::kEc, EcCurve::kP256},
    {JwsAlg::kEs384, "ES384", SignatureScheme::kEcdsaSha384, KeyType::kEc, EcCurve::kP384},
    {JwsAlg::kEs512, "ES512", SignatureScheme::kEcdsaSha512, KeyType::kEc, EcCurve::kP521},
    {JwsAlg::kEdDsa, "EdDSA", SignatureScheme::kEd25519, KeyType::kEd25519, EcCurve::kP256},
    {JwsAlg::kRs256, "RS256", SignatureScheme::kRsaPkcs1Sha256, KeyType::kRsa, EcCurve::kP256},
    {JwsAlg::kRs384, "RS384", SignatureScheme::kRsaPkcs1Sha384, KeyType::kRsa, EcCurve::kP256},
    {JwsAlg::kRs512, "RS512", SignatureScheme::kRsaPkcs1Sha512, KeyType::kRsa, EcCurve::kP256},
    {JwsAlg::kPs256, "PS256", SignatureScheme::kRsaPssSha256, KeyType::kRsa, EcCurve::kP256},
    {JwsAlg::kPs384, "PS384", SignatureScheme::kRsaPssSha384, KeyType::kRsa, EcCurve::kP256},
    {JwsAlg::kPs512, "PS512", SignatureScheme::kRsaPssSha512, KeyType::kRsa, EcCurve::kP256},
};

const AlgInfo& Info(JwsAlg alg) {
  for (const AlgInfo& a : kAlgs) {
    if (a.alg == alg) return a;
  }
  return kAlgs[0];
}

Result<std::string_view> NextPart(std::string_view& rest, bool last) {
  const size_t dot = rest.find('.');
  if (last) {
    if (dot != std::string_view::npos) return InvalidArgumentError("JWS: more than three parts");
    std::string_view part = rest;
    rest = {};
    return part;
  }
  if (dot == std::string_view::npos) return InvalidArgumentError("JWS: want three dot-separated parts");
  std::string_view part = rest.substr(0, dot);
  rest.remove_prefix(dot + 1);
  return part;
}

Status CheckCrit(const json& header, const std::vector<std::string>& understood) {
  auto it = header.find("crit");
  if (it == header.end()) return OkStatus();
  // RFC 7515 section 4.1.11: a non-empty array of names present in the header.
  if (!it->is_array() || it->empty()) return InvalidArgumentError("JWS header.crit: want a non-empty array");
  for (const json& name : *it) {
    if (!name.is_string()) return InvalidArgumentError("JWS header.crit: want strings");
    const std::string& n = name.get_ref<const std::string&>();
    if (std::find(understood.begin(), understood.end(), n) == understood.end()) {
      return InvalidArgumentError("JWS header.crit: extension \"" + n.substr(0, 64) + "\" not understood");
    }
    if (!header.contains(n)) return InvalidArgumentError("JWS header.crit: \"" + n.substr(0, 64) + "\" not in header");
  }
  return OkStatus();
}

}  // namespace

std::string_view JwsAlgName(JwsAlg alg) { return Info(alg).name; }

Result<JwsAlg> ParseJwsAlg(std::string_view name) {
  for (const AlgInfo& a : kAlgs) {
    if (a.name == name) return a.alg;
  }
  if (name == "none" || name == "None" || name == "NONE") {
    return UnauthenticatedError("JWS header.alg: \"none\" (unsigned) is never accepted");
  }
  return UnimplementedError("JWS header.alg: \"" + std::string(name.substr(0, 32)) + "\" not supported");
}

namespace {

template <class Key>
Status CheckFit(JwsAlg alg, const Key& key) {
  const AlgInfo& info = Info(alg);
  const bool ok = info.key_type == key.type() && (info.key_type != KeyType::kEc || key.curve() == info.curve);
  if (!ok) {
    return InvalidArgumentError("JWS alg " + std::string(info.name) + " does not fit key " + key.Describe());
  }
  return OkStatus();
}

}  // namespace

Status CheckAlgMatchesKey(JwsAlg alg, const crypto::PublicKey& key) { return CheckFit(alg, key); }

JwsAlg DefaultJwsAlgForKey(const crypto::PublicKey& key) {
  switch (key.type()) {
    case KeyType::kEc:
      switch (*key.curve()) {
        case EcCurve::kP256: return JwsAlg::kEs256;
        case EcCurve::kP384: return JwsAlg::kEs384;
        case EcCurve::kP521: return JwsAlg::kEs512;
      }
      return JwsAlg::kEs256;
    case KeyType::kEd25519: return JwsAlg::kEdDsa;
    case KeyType::kRsa: return JwsAlg::kPs256;
  }
  return JwsAlg::kEs256;
}

Result<std::string> SignCompact(const crypto::PrivateKey& key, JwsAlg alg, ByteSpan payload,
                                const JwsSignOptions& options) {
  const AlgInfo& info = Info(alg);
  VHSM_RETURN_IF_ERROR(CheckFit(alg, key));
  nlohmann::ordered_json header;
  header["alg"] = std::string(info.name);
  if (!options.kid.empty()) header["kid"] = options.kid;
  if (!options.typ.empty()) header["typ"] = options.typ;
  if (!options.extra_header.is_null()) {
    if (!options.extra_header.is_object()) return InvalidArgumentError("JWS extra_header: want an object");
    for (auto it = options.extra_header.begin(); it != options.extra_header.end(); ++it) {
      if (header.contains(it.key())) {
        return InvalidArgumentError("JWS extra_header: may not set \"" + it.key() + "\"");
      }
      header[it.key()] = it.value();
    }
  }
  std::string out = Base64UrlEncode(AsBytes(DumpJson(header)));
  out.push_back('.');
  out += Base64UrlEncode(payload);
  VHSM_ASSIGN_OR_RETURN(Bytes sig, key.Sign(info.scheme, AsBytes(out), crypto::EcdsaFormat::kRawRs));
  out.push_back('.');
  out += Base64UrlEncode(sig);
  return out;
}

Result<UnverifiedJws> ParseCompactUnverified(std::string_view token, const JwsVerifyOptions& options) {
  if (token.size() > options.max_token_bytes) {
    return ResourceExhaustedError("JWS: " + std::to_string(token.size()) + " bytes, limit " +
                                  std::to_string(options.max_token_bytes));
  }
  std::string_view rest = token;
  VHSM_ASSIGN_OR_RETURN(std::string_view header_b64, NextPart(rest, false));
  VHSM_ASSIGN_OR_RETURN(std::string_view payload_b64, NextPart(rest, false));
  VHSM_ASSIGN_OR_RETURN(std::string_view sig_b64, NextPart(rest, true));
  if (header_b64.empty()) return InvalidArgumentError("JWS: empty header");
  if (header_b64.size() > options.max_header_bytes * 4 / 3 + 4) {
    return ResourceExhaustedError("JWS header: longer than " + std::to_string(options.max_header_bytes) + " bytes");
  }
  auto header_bytes = Base64UrlDecode(header_b64);
  if (!header_bytes.ok()) return InvalidArgumentError("JWS header: not base64url");
  JsonLimits limits;
  limits.max_bytes = options.max_header_bytes;
  limits.max_depth = 8;
  VHSM_ASSIGN_OR_RETURN(json header, ParseJsonObject(AsStringView(*header_bytes), "JWS header", limits));
  VHSM_ASSIGN_OR_RETURN(std::string alg_name, GetString(header, "alg", "JWS header"));
  VHSM_ASSIGN_OR_RETURN(JwsAlg alg, ParseJwsAlg(alg_name));
  if (!options.allowed_algs.empty() &&
      std::find(options.allowed_algs.begin(), options.allowed_algs.end(), alg) == options.allowed_algs.end()) {
    return UnauthenticatedError("JWS header.alg: " + alg_name + " not allowed here");
  }
  VHSM_RETURN_IF_ERROR(CheckCrit(header, options.understood_crit));
  if (header.contains("b64")) return UnimplementedError("JWS header.b64: unencoded payloads (RFC 7797) not supported");
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> kid, OptionalString(header, "kid", "JWS header"));
  auto payload = Base64UrlDecode(payload_b64);
  if (!payload.ok()) return InvalidArgumentError("JWS payload: not base64url");
  auto sig = Base64UrlDecode(sig_b64);
  if (!sig.ok()) return InvalidArgumentError("JWS signature: not base64url");
  if (sig->empty()) return UnauthenticatedError("JWS signature: empty");
  UnverifiedJws out;
  out.header = std::move(header);
  out.alg = alg;
  out.kid = kid.value_or("");
  out.payload = std::move(payload).value();
  out.signature = std::move(sig).value();
  out.signing_input = std::string(token.substr(0, header_b64.size() + 1 + payload_b64.size()));
  return out;
}

namespace {

Result<VerifiedJws> VerifyParsed(UnverifiedJws jws, const crypto::PublicKey& key) {
  VHSM_RETURN_IF_ERROR(CheckAlgMatchesKey(jws.alg, key));
  const AlgInfo& info = Info(jws.alg);
  Status s = key.Verify(info.scheme, AsBytes(jws.signing_input), jws.signature, crypto::EcdsaFormat::kRawRs);
  if (!s.ok()) {
    if (s.code() == StatusCode::kUnauthenticated) {
      return UnauthenticatedError("JWS " + std::string(info.name) + " signature does not verify");
    }
    return s;
  }
  return VerifiedJws{std::move(jws.header), jws.alg, std::move(jws.kid), std::move(jws.payload)};
}

}  // namespace

Result<VerifiedJws> VerifyCompact(std::string_view token, const crypto::PublicKey& key,
                                  const JwsVerifyOptions& options) {
  VHSM_ASSIGN_OR_RETURN(UnverifiedJws jws, ParseCompactUnverified(token, options));
  return VerifyParsed(std::move(jws), key);
}

Result<VerifiedJws> VerifyCompact(std::string_view token, const JwkSet& keys, const JwsVerifyOptions& options) {
  VHSM_ASSIGN_OR_RETURN(UnverifiedJws jws, ParseCompactUnverified(token, options));
  const Jwk* jwk = nullptr;
  if (jws.kid.empty()) {
    if (keys.size() != 1) {
      return NotFoundError("JWS header has no kid and the key set holds " + std::to_string(keys.size()) + " keys");
    }
    jwk = &keys.keys().front();
  } else {
    VHSM_ASSIGN_OR_RETURN(jwk, keys.Find(jws.kid));
  }
  if (!jwk->metadata().alg.empty() && jwk->metadata().alg != JwsAlgName(jws.alg)) {
    return UnauthenticatedError("JWS alg " + std::string(JwsAlgName(jws.alg)) + " differs from JWK \"" +
                                jwk->kid() + "\" alg " + jwk->metadata().alg);
  }
  if (!jwk->metadata().use.empty() && jwk->metadata().use != "sig") {
    return UnauthenticatedError("JWK \"" + jwk->kid() + "\" has use \"" + jwk->metadata().use + "\", not sig");
  }
  return VerifyParsed(std::move(jws), jwk->public_key());
}

}  // namespace vhsm::jose
