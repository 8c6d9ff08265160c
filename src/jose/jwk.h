// jwk.h: JSON Web Keys (RFC 7517) for the key types vhsm uses: EC P-256/P-384/P-521, RSA and OKP
// Ed25519 (RFC 8037), public and private. Parsing is strict (exact coordinate lengths, points on
// the curve, all RSA CRT members for private keys, no symmetric "oct" keys) and never throws.
// Thumbprints follow RFC 7638. JwkSet is a JWKS (RFC 7517 section 5) with lookup by "kid", as
// served at /.well-known/jwks.json and consumed by the Provisioning Service. Immutable after
// construction; const methods are thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/digest.h"
#include "crypto/keys.h"

namespace vhsm::jose {

inline constexpr size_t kMaxJwkBytes = 16 * 1024;
inline constexpr size_t kMaxJwksBytes = 256 * 1024;
inline constexpr size_t kMaxJwksKeys = 64;

// Optional JWK members carried along (RFC 7517 section 4).
struct JwkMetadata {
  std::string kid;
  std::string alg;  // e.g. "ES256"; empty when absent
  std::string use;  // "sig" / "enc"; empty when absent
};

class Jwk {
 public:
  // Parses a JWK object. Private members ("d" etc.) make it a private key. kInvalidArgument names
  // the offending member; kUnimplemented for key types or curves we do not support.
  static Result<Jwk> Parse(const nlohmann::json& jwk);
  static Result<Jwk> ParseText(std::string_view text);
  // Like Parse but rejects private members: for keys received from peers (epk, tee-pubkey).
  static Result<Jwk> ParsePublic(const nlohmann::json& jwk);

  static Jwk FromPublicKey(crypto::PublicKey key, JwkMetadata meta = {});
  static Jwk FromPrivateKey(crypto::PrivateKey key, JwkMetadata meta = {});

  Jwk(Jwk&&) noexcept = default;
  Jwk& operator=(Jwk&&) noexcept = default;
  Jwk Clone() const;

  bool is_private() const { return private_key_.has_value(); }
  const crypto::PublicKey& public_key() const { return public_key_; }
  // The private key, or kFailedPrecondition for a public JWK.
  Result<const crypto::PrivateKey*> private_key() const;
  const JwkMetadata& metadata() const { return meta_; }
  const std::string& kid() const { return meta_.kid; }

  // The public JWK (never private members), with kid/alg/use when set.
  nlohmann::json ToPublicJson() const;
  // The private JWK as JSON text, in SecretBytes. kFailedPrecondition for a public JWK.
  Result<SecretBytes> ToPrivateJsonText() const;

  // RFC 7638 thumbprint: base64url(hash(JCS of the required public members)).
  Result<std::string> Thumbprint(crypto::HashAlg hash = crypto::HashAlg::kSha256) const;

 private:
  Jwk(crypto::PublicKey pub, std::optional<crypto::PrivateKey> priv, JwkMetadata meta)
      : public_key_(std::move(pub)), private_key_(std::move(priv)), meta_(std::move(meta)) {}
  crypto::PublicKey public_key_;
  std::optional<crypto::PrivateKey> private_key_;
  JwkMetadata meta_;
};

// The RFC 7638 required-members object for a public key ({"crv","kty","x","y"} etc.).
Result<nlohmann::json> JwkRequiredMembers(const crypto::PublicKey& key);
// Public JWK members for a key (kty, crv, x, y / n, e) without metadata.
Result<nlohmann::json> PublicKeyToJwk(const crypto::PublicKey& key);

class JwkSet {
 public:
  JwkSet() = default;
  // Parses {"keys":[...]}. Keys with a "kty" we do not support are skipped (RFC 7517 section 5);
  // malformed keys of a supported type fail the whole set. Private members are rejected.
  static Result<JwkSet> Parse(const nlohmann::json& jwks);
  static Result<JwkSet> ParseText(std::string_view text);

  JwkSet(JwkSet&&) noexcept = default;
  JwkSet& operator=(JwkSet&&) noexcept = default;
  JwkSet Clone() const;

  // kAlreadyExists when a key with the same non-empty kid is present.
  Status Add(Jwk key);
  // kNotFound when no key has this kid (callers may refresh the set and retry).
  Result<const Jwk*> Find(std::string_view kid) const;
  const std::vector<Jwk>& keys() const { return keys_; }
  size_t size() const { return keys_.size(); }

  // {"keys":[public JWKs]} — never private members.
  nlohmann::json ToPublicJson() const;

 private:
  std::vector<Jwk> keys_;
};

}  // namespace vhsm::jose
