#include "services/attestation/ear.h"

#include "base/bytes.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "jose/json_util.h"
#include "jose/jwt.h"

namespace vhsm::attestation {

namespace {
const SystemClock kSystemClock;
}  // namespace

namespace {

class SoftwareSigner final : public TokenSigner {
 public:
  explicit SoftwareSigner(crypto::PrivateKey key) : key_(std::move(key)), pub_(key_.Public()) {}
  const crypto::PublicKey& public_key() const override { return pub_; }
  Result<Bytes> SignDigest(ByteSpan digest) const override {
    // The scheme's hash only documents intent for ECDSA over a digest (crypto/keys.h).
    return key_.SignDigest(crypto::SignatureScheme::kEcdsaSha256, digest, crypto::EcdsaFormat::kRawRs);
  }
  std::string Describe() const override { return "in-memory " + pub_.Describe(); }
  bool in_hsm() const override { return false; }

 private:
  crypto::PrivateKey key_;
  crypto::PublicKey pub_;
};

class Pkcs11Signer final : public TokenSigner {
 public:
  Pkcs11Signer(std::unique_ptr<p11::Key> key, crypto::PublicKey pub) : key_(std::move(key)), pub_(std::move(pub)) {}
  const crypto::PublicKey& public_key() const override { return pub_; }
  Result<Bytes> SignDigest(ByteSpan digest) const override { return key_->SignDigestEcdsa(digest); }
  std::string Describe() const override { return key_->description(); }
  bool in_hsm() const override { return true; }

 private:
  std::unique_ptr<p11::Key> key_;
  crypto::PublicKey pub_;
};

}  // namespace

std::unique_ptr<TokenSigner> MakeSoftwareSigner(crypto::PrivateKey key) {
  return std::make_unique<SoftwareSigner>(std::move(key));
}

Result<std::unique_ptr<TokenSigner>> MakePkcs11Signer(std::unique_ptr<p11::Key> key) {
  if (!key) return InvalidArgumentError("PKCS#11 signing key: null");
  if (!key->has_private_key()) {
    return FailedPreconditionError("PKCS#11 signing key " + key->description() + ": no private key object");
  }
  Result<Bytes> spki = key->PublicKeySpki();
  if (!spki.ok()) return spki.status().Annotate("PKCS#11 signing key: public key for the JWKS");
  VHSM_ASSIGN_OR_RETURN(crypto::PublicKey pub, crypto::PublicKey::FromDer(*spki));
  std::unique_ptr<TokenSigner> s = std::make_unique<Pkcs11Signer>(std::move(key), std::move(pub));
  return s;
}

Result<EarIssuer::Entry> EarIssuer::MakeEntry(jose::JwsAlg alg, std::unique_ptr<TokenSigner> signer) {
  if (alg != jose::JwsAlg::kEs256 && alg != jose::JwsAlg::kEs384) {
    return InvalidArgumentError("token signing algorithm: got " + std::string(jose::JwsAlgName(alg)) +
                                ", want ES256 or ES384");
  }
  if (!signer) return InvalidArgumentError("token signer: null");
  VHSM_RETURN_IF_ERROR(jose::CheckAlgMatchesKey(alg, signer->public_key()));
  jose::Jwk tmp = jose::Jwk::FromPublicKey(signer->public_key().Clone());
  VHSM_ASSIGN_OR_RETURN(std::string kid, tmp.Thumbprint());
  jose::JwkMetadata meta{kid, std::string(jose::JwsAlgName(alg)), "sig"};
  return Entry{jose::Jwk::FromPublicKey(signer->public_key().Clone(), meta), std::move(signer), std::nullopt};
}

Result<std::unique_ptr<EarIssuer>> EarIssuer::Create(EarIssuerOptions options, crypto::PrivateKey key) {
  return Create(std::move(options), MakeSoftwareSigner(std::move(key)));
}

Result<std::unique_ptr<EarIssuer>> EarIssuer::Create(EarIssuerOptions options, std::unique_ptr<TokenSigner> signer) {
  const Clock& clock = options.clock ? *options.clock : kSystemClock;
  VHSM_ASSIGN_OR_RETURN(Entry entry, MakeEntry(options.alg, std::move(signer)));
  if (options.token_ttl_seconds <= 0) return InvalidArgumentError("token_ttl_seconds: must be positive");
  std::unique_ptr<EarIssuer> issuer(new EarIssuer(std::move(options), clock));
  issuer->keys_.push_back(std::move(entry));
  return issuer;
}

Result<IssuedToken> EarIssuer::Issue(nlohmann::json submods, const std::string& nonce) const {
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
                           {"ear.verifier-id", {{"developer", "vhsm"}, {"build", "vhsm-attestd 0.1"}}}};
  claims["submods"] = std::move(submods);  // moved, not copied: it holds every report claim
  if (!nonce.empty()) claims["eat_nonce"] = nonce;
  // Compact JWS (RFC 7515 section 7.1) built here rather than by jose::SignCompact so the
  // signature can come from an HSM: ECDSA over SHA-256 (ES256) / SHA-384 (ES384) of the signing
  // input, r||s (RFC 7518 section 3.4).
  const crypto::HashAlg hash = options_.alg == jose::JwsAlg::kEs384 ? crypto::HashAlg::kSha384 : crypto::HashAlg::kSha256;
  const std::string payload = Base64UrlEncode(AsBytes(jose::DumpJson(claims)));
  std::lock_guard<std::mutex> lock(mu_);
  const Entry& signer = keys_.back();
  const nlohmann::json header = {{"alg", std::string(jose::JwsAlgName(options_.alg))},
                                 {"kid", signer.jwk.kid()},
                                 {"typ", "JWT"}};
  std::string signing_input = Base64UrlEncode(AsBytes(jose::DumpJson(header))) + "." + payload;
  VHSM_ASSIGN_OR_RETURN(Bytes sig, signer.signer->SignDigest(crypto::Digest(hash, AsBytes(signing_input))));
  const size_t want = 2 * (options_.alg == jose::JwsAlg::kEs384 ? 48 : 32);
  if (sig.size() != want) {
    return InternalError("token signer " + signer.signer->Describe() + ": got a " + std::to_string(sig.size()) +
                         "-byte signature, want " + std::to_string(want));
  }
  out.token = std::move(signing_input) + "." + Base64UrlEncode(sig);
  return out;
}

Status EarIssuer::Rotate(crypto::PrivateKey key) { return Rotate(MakeSoftwareSigner(std::move(key))); }

Status EarIssuer::Rotate(std::unique_ptr<TokenSigner> signer) {
  VHSM_ASSIGN_OR_RETURN(Entry entry, MakeEntry(options_.alg, std::move(signer)));
  std::lock_guard<std::mutex> lock(mu_);
  if (keys_.back().jwk.kid() == entry.jwk.kid()) return OkStatus();  // same key: nothing to do
  const int64_t now = clock_.NowUnix();
  keys_.back().retire_after = now + options_.token_ttl_seconds + options_.clock_skew_seconds;
  // Forget keys whose tokens have all expired, so repeated rotation does not grow the set.
  std::erase_if(keys_, [now](const Entry& e) { return e.retire_after && *e.retire_after < now; });
  keys_.push_back(std::move(entry));
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

bool EarIssuer::current_key_in_hsm() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.back().signer->in_hsm();
}

std::string EarIssuer::current_signer() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.back().signer->Describe();
}

}  // namespace vhsm::attestation
