#include "jose/jwk.h"

#include <openssl/crypto.h>

#include "jose/jcs.h"
#include "jose/json_util.h"

namespace vhsm::jose {

using crypto::EcCurve;
using crypto::KeyType;
using crypto::PrivateKey;
using crypto::PublicKey;
using nlohmann::json;

namespace {

constexpr std::string_view kWhat = "JWK";

bool Has(const json& j, const char* member) { return j.contains(member); }

Result<Bytes> GetExact(const json& j, const char* member, size_t len) {
  VHSM_ASSIGN_OR_RETURN(Bytes b, GetBase64Url(j, member, kWhat));
  if (b.size() != len) {
    return InvalidArgumentError("JWK." + std::string(member) + ": got " + std::to_string(b.size()) +
                                " bytes, want " + std::to_string(len));
  }
  return b;
}

SecretBytes ToSecret(Bytes b) {
  SecretBytes s(b);
  OPENSSL_cleanse(b.data(), b.size());
  return s;
}

Result<JwkMetadata> ParseMetadata(const json& j) {
  JwkMetadata meta;
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> kid, OptionalString(j, "kid", kWhat));
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> alg, OptionalString(j, "alg", kWhat));
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> use, OptionalString(j, "use", kWhat));
  if (kid && kid->size() > 256) return InvalidArgumentError("JWK.kid: longer than 256 bytes");
  meta.kid = kid.value_or("");
  meta.alg = alg.value_or("");
  meta.use = use.value_or("");
  return meta;
}

struct ParsedKey {
  PublicKey pub;
  std::optional<PrivateKey> priv;
};

Result<ParsedKey> ParseEc(const json& j, bool allow_private) {
  VHSM_ASSIGN_OR_RETURN(std::string crv, GetString(j, "crv", kWhat));
  auto curve = crypto::EcCurveFromName(crv);
  if (!curve.ok()) return UnimplementedError("JWK.crv: " + curve.status().message());
  const size_t n = crypto::EcCoordinateSize(*curve);
  VHSM_ASSIGN_OR_RETURN(Bytes x, GetExact(j, "x", n));
  VHSM_ASSIGN_OR_RETURN(Bytes y, GetExact(j, "y", n));
  VHSM_ASSIGN_OR_RETURN(PublicKey pub, PublicKey::FromEcCoordinates(*curve, x, y));
  if (!Has(j, "d")) return ParsedKey{std::move(pub), std::nullopt};
  if (!allow_private) return InvalidArgumentError("JWK.d: private key member not allowed here");
  VHSM_ASSIGN_OR_RETURN(Bytes d_plain, GetExact(j, "d", n));
  SecretBytes d = ToSecret(std::move(d_plain));
  VHSM_ASSIGN_OR_RETURN(PrivateKey priv, PrivateKey::FromEcScalar(*curve, d.Expose(), x, y));
  return ParsedKey{std::move(pub), std::move(priv)};
}

Result<ParsedKey> ParseRsa(const json& j, bool allow_private) {
  VHSM_ASSIGN_OR_RETURN(Bytes n, GetBase64Url(j, "n", kWhat));
  VHSM_ASSIGN_OR_RETURN(Bytes e, GetBase64Url(j, "e", kWhat));
  VHSM_ASSIGN_OR_RETURN(PublicKey pub, PublicKey::FromRsa(n, e));
  if (!Has(j, "d")) return ParsedKey{std::move(pub), std::nullopt};
  if (!allow_private) return InvalidArgumentError("JWK.d: private key member not allowed here");
  if (Has(j, "oth")) return UnimplementedError("JWK.oth: multi-prime RSA keys are not supported");
  crypto::RsaPrivateComponents c;
  c.n = n;
  c.e = e;
  struct Member {
    const char* name;
    SecretBytes* out;
  };
  const Member members[] = {{"d", &c.d}, {"p", &c.p}, {"q", &c.q}, {"dp", &c.dp}, {"dq", &c.dq}, {"qi", &c.qi}};
  for (const Member& m : members) {
    VHSM_ASSIGN_OR_RETURN(Bytes v, GetBase64Url(j, m.name, kWhat));
    *m.out = ToSecret(std::move(v));
  }
  VHSM_ASSIGN_OR_RETURN(PrivateKey priv, PrivateKey::FromRsaComponents(c));
  if (!priv.Public().Equals(pub)) return InvalidArgumentError("JWK: RSA private members do not match n/e");
  return ParsedKey{std::move(pub), std::move(priv)};
}

Result<ParsedKey> ParseOkp(const json& j, bool allow_private) {
  VHSM_ASSIGN_OR_RETURN(std::string crv, GetString(j, "crv", kWhat));
  if (crv != "Ed25519") return UnimplementedError("JWK.crv: OKP curve \"" + crv.substr(0, 32) + "\" not supported, want Ed25519");
  VHSM_ASSIGN_OR_RETURN(Bytes x, GetExact(j, "x", 32));
  VHSM_ASSIGN_OR_RETURN(PublicKey pub, PublicKey::FromEd25519(x));
  if (!Has(j, "d")) return ParsedKey{std::move(pub), std::nullopt};
  if (!allow_private) return InvalidArgumentError("JWK.d: private key member not allowed here");
  VHSM_ASSIGN_OR_RETURN(Bytes d_plain, GetExact(j, "d", 32));
  SecretBytes d = ToSecret(std::move(d_plain));
  VHSM_ASSIGN_OR_RETURN(PrivateKey priv, PrivateKey::FromEd25519Seed(d.Expose()));
  if (!priv.Public().Equals(pub)) return InvalidArgumentError("JWK: Ed25519 d does not match x");
  return ParsedKey{std::move(pub), std::move(priv)};
}

Result<ParsedKey> ParseKey(const json& j, bool allow_private) {
  if (!j.is_object()) return InvalidArgumentError("JWK: want a JSON object");
  VHSM_ASSIGN_OR_RETURN(std::string kty, GetString(j, "kty", kWhat));
  if (kty == "EC") return ParseEc(j, allow_private);
  if (kty == "RSA") return ParseRsa(j, allow_private);
  if (kty == "OKP") return ParseOkp(j, allow_private);
  if (kty == "oct") return UnimplementedError("JWK.kty: symmetric \"oct\" keys are not supported");
  return UnimplementedError("JWK.kty: \"" + kty.substr(0, 32) + "\" not supported, want EC, RSA or OKP");
}

void CleanseStrings(json& j) {
  for (auto& [k, v] : j.items()) {
    if (v.is_string()) {
      std::string& s = v.get_ref<std::string&>();
      OPENSSL_cleanse(s.data(), s.size());
    }
  }
}

}  // namespace

Result<json> PublicKeyToJwk(const PublicKey& key) {
  json j;
  switch (key.type()) {
    case KeyType::kEc: {
      VHSM_ASSIGN_OR_RETURN(crypto::EcPoint p, key.EcCoordinates());
      j["kty"] = "EC";
      j["crv"] = std::string(crypto::EcCurveName(*key.curve()));
      j["x"] = Base64UrlEncode(p.x);
      j["y"] = Base64UrlEncode(p.y);
      return j;
    }
    case KeyType::kRsa: {
      VHSM_ASSIGN_OR_RETURN(crypto::RsaPublicComponents c, key.RsaComponents());
      j["kty"] = "RSA";
      j["n"] = Base64UrlEncode(c.n);
      j["e"] = Base64UrlEncode(c.e);
      return j;
    }
    case KeyType::kEd25519: {
      VHSM_ASSIGN_OR_RETURN(Bytes x, key.Ed25519Raw());
      j["kty"] = "OKP";
      j["crv"] = "Ed25519";
      j["x"] = Base64UrlEncode(x);
      return j;
    }
  }
  return InternalError("JWK: unknown key type");
}

Result<json> JwkRequiredMembers(const PublicKey& key) {
  // PublicKeyToJwk emits exactly the RFC 7638 section 3.2 required members.
  return PublicKeyToJwk(key);
}

Result<Jwk> Jwk::Parse(const json& jwk) {
  VHSM_ASSIGN_OR_RETURN(ParsedKey k, ParseKey(jwk, /*allow_private=*/true));
  VHSM_ASSIGN_OR_RETURN(JwkMetadata meta, ParseMetadata(jwk));
  return Jwk(std::move(k.pub), std::move(k.priv), std::move(meta));
}

Result<Jwk> Jwk::ParsePublic(const json& jwk) {
  VHSM_ASSIGN_OR_RETURN(ParsedKey k, ParseKey(jwk, /*allow_private=*/false));
  VHSM_ASSIGN_OR_RETURN(JwkMetadata meta, ParseMetadata(jwk));
  return Jwk(std::move(k.pub), std::nullopt, std::move(meta));
}

Result<Jwk> Jwk::ParseText(std::string_view text) {
  JsonLimits limits;
  limits.max_bytes = kMaxJwkBytes;
  limits.max_depth = 4;
  VHSM_ASSIGN_OR_RETURN(json j, ParseJsonObject(text, kWhat, limits));
  auto result = Parse(j);
  CleanseStrings(j);
  return result;
}

Jwk Jwk::FromPublicKey(PublicKey key, JwkMetadata meta) {
  return Jwk(std::move(key), std::nullopt, std::move(meta));
}

Jwk Jwk::FromPrivateKey(PrivateKey key, JwkMetadata meta) {
  PublicKey pub = key.Public();
  return Jwk(std::move(pub), std::move(key), std::move(meta));
}

Jwk Jwk::Clone() const {
  std::optional<PrivateKey> priv;
  if (private_key_) priv = private_key_->Clone();
  return Jwk(public_key_.Clone(), std::move(priv), meta_);
}

Result<const PrivateKey*> Jwk::private_key() const {
  if (!private_key_) return FailedPreconditionError("JWK \"" + meta_.kid + "\" has no private key");
  return &*private_key_;
}

json Jwk::ToPublicJson() const {
  auto members = PublicKeyToJwk(public_key_);
  VHSM_CHECK(members.ok(), "a constructed key always has JWK members");
  json j = std::move(members).value();
  if (!meta_.kid.empty()) j["kid"] = meta_.kid;
  if (!meta_.alg.empty()) j["alg"] = meta_.alg;
  if (!meta_.use.empty()) j["use"] = meta_.use;
  return j;
}

Result<SecretBytes> Jwk::ToPrivateJsonText() const {
  if (!private_key_) return FailedPreconditionError("JWK \"" + meta_.kid + "\" has no private key");
  json j = ToPublicJson();
  switch (private_key_->type()) {
    case KeyType::kEc: {
      VHSM_ASSIGN_OR_RETURN(SecretBytes d, private_key_->EcScalar());
      j["d"] = Base64UrlEncode(d.Expose());
      break;
    }
    case KeyType::kEd25519: {
      VHSM_ASSIGN_OR_RETURN(SecretBytes d, private_key_->Ed25519Seed());
      j["d"] = Base64UrlEncode(d.Expose());
      break;
    }
    case KeyType::kRsa: {
      VHSM_ASSIGN_OR_RETURN(crypto::RsaPrivateComponents c, private_key_->RsaComponents());
      j["d"] = Base64UrlEncode(c.d.Expose());
      j["p"] = Base64UrlEncode(c.p.Expose());
      j["q"] = Base64UrlEncode(c.q.Expose());
      j["dp"] = Base64UrlEncode(c.dp.Expose());
      j["dq"] = Base64UrlEncode(c.dq.Expose());
      j["qi"] = Base64UrlEncode(c.qi.Expose());
      break;
    }
  }
  std::string text = DumpJson(j);
  SecretBytes out(AsBytes(text));
  OPENSSL_cleanse(text.data(), text.size());
  CleanseStrings(j);
  return out;
}

Result<std::string> Jwk::Thumbprint(crypto::HashAlg hash) const {
  VHSM_ASSIGN_OR_RETURN(json members, JwkRequiredMembers(public_key_));
  VHSM_ASSIGN_OR_RETURN(std::string canonical, Canonicalize(members));
  return Base64UrlEncode(crypto::Digest(hash, AsBytes(canonical)));
}

// ---------------------------------------------------------------------------------------------

Result<JwkSet> JwkSet::Parse(const json& jwks) {
  if (!jwks.is_object()) return InvalidArgumentError("JWKS: want a JSON object");
  auto it = jwks.find("keys");
  if (it == jwks.end() || !it->is_array()) return InvalidArgumentError("JWKS.keys: missing or not an array");
  if (it->size() > kMaxJwksKeys) {
    return ResourceExhaustedError("JWKS.keys: " + std::to_string(it->size()) + " keys, limit " +
                                  std::to_string(kMaxJwksKeys));
  }
  JwkSet set;
  size_t index = 0;
  for (const json& k : *it) {
    auto parsed = Jwk::ParsePublic(k);
    if (!parsed.ok()) {
      // RFC 7517 section 5: ignore keys whose type we do not understand.
      if (parsed.status().code() == StatusCode::kUnimplemented) {
        ++index;
        continue;
      }
      return parsed.status().Annotate("JWKS.keys[" + std::to_string(index) + "]");
    }
    VHSM_RETURN_IF_ERROR(set.Add(std::move(parsed).value()));
    ++index;
  }
  return set;
}

Result<JwkSet> JwkSet::ParseText(std::string_view text) {
  JsonLimits limits;
  limits.max_bytes = kMaxJwksBytes;
  limits.max_depth = 6;
  VHSM_ASSIGN_OR_RETURN(json j, ParseJsonObject(text, "JWKS", limits));
  return Parse(j);
}

JwkSet JwkSet::Clone() const {
  JwkSet copy;
  for (const Jwk& k : keys_) copy.keys_.push_back(k.Clone());
  return copy;
}

Status JwkSet::Add(Jwk key) {
  if (!key.kid().empty()) {
    for (const Jwk& k : keys_) {
      if (k.kid() == key.kid()) return AlreadyExistsError("JWKS: duplicate kid \"" + key.kid() + "\"");
    }
  }
  if (keys_.size() >= kMaxJwksKeys) return ResourceExhaustedError("JWKS: more than " + std::to_string(kMaxJwksKeys) + " keys");
  keys_.push_back(std::move(key));
  return OkStatus();
}

Result<const Jwk*> JwkSet::Find(std::string_view kid) const {
  for (const Jwk& k : keys_) {
    if (k.kid() == kid) return &k;
  }
  return NotFoundError("JWKS: no key with kid \"" + std::string(kid.substr(0, 128)) + "\"");
}

json JwkSet::ToPublicJson() const {
  json arr = json::array();
  for (const Jwk& k : keys_) arr.push_back(k.ToPublicJson());
  return json{{"keys", std::move(arr)}};
}

}  // namespace vhsm::jose
