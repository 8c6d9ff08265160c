// ear.h: issues the Attestation Service's approval tokens: EAR (draft-ietf-rats-ear) claim sets
// signed as JWTs, and the JWKS relying parties verify them with. Keys are EC P-256 (ES256,
// default) or P-384 (ES384); each key's kid is its RFC 7638 SHA-256 thumbprint. Rotation: the
// newest key signs; a replaced key stays in the JWKS until every token it signed has expired
// (token TTL + clock skew after the rotation), then drops out. The private key is either in
// memory (a PEM file or a generated key) or in an HSM named by an RFC 7512 pkcs11: URI
// (p11::Key: the JWS signature is made by the token with CKM_ECDSA over the SHA-256/384 of the
// signing input). Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "p11/key.h"

namespace vhsm::attestation {

inline constexpr std::string_view kEarProfile = "tag:github.com,2023:veraison/ear";

struct EarIssuerOptions {
  std::string issuer = "vhsm-attestd";
  jose::JwsAlg alg = jose::JwsAlg::kEs256;  // ES256 or ES384
  int64_t token_ttl_seconds = 300;
  int64_t clock_skew_seconds = 60;
  const Clock* clock = nullptr;  // must outlive the issuer; nullptr = system clock
};

struct IssuedToken {
  std::string token;
  std::string jti;
  int64_t exp = 0;
};

// Makes ECDSA signatures for tokens: raw r||s over a digest the issuer computed.
class TokenSigner {
 public:
  virtual ~TokenSigner() = default;
  virtual const crypto::PublicKey& public_key() const = 0;
  virtual Result<Bytes> SignDigest(ByteSpan digest) const = 0;
  // For logs: "in-memory EC P-256" or the PKCS#11 URI without its PIN.
  virtual std::string Describe() const = 0;
  // True when the private key lives in an HSM (never in this process's memory).
  virtual bool in_hsm() const = 0;
};
// An in-memory EC key.
std::unique_ptr<TokenSigner> MakeSoftwareSigner(crypto::PrivateKey key);
// An EC key pair in a PKCS#11 token. kFailedPrecondition when the URI names no private key or
// its public key cannot be read (the JWKS needs it).
Result<std::unique_ptr<TokenSigner>> MakePkcs11Signer(std::unique_ptr<p11::Key> key);

class EarIssuer {
 public:
  // kInvalidArgument when the key does not fit the algorithm (ES256 needs P-256, ES384 P-384).
  static Result<std::unique_ptr<EarIssuer>> Create(EarIssuerOptions options, crypto::PrivateKey key);
  static Result<std::unique_ptr<EarIssuer>> Create(EarIssuerOptions options, std::unique_ptr<TokenSigner> signer);

  // Signs an EAR with `submods` (e.g. {"cpu0": {...}}); adds eat_profile, iat, exp, jti, iss,
  // ear.verifier-id. `nonce` becomes eat_nonce when non-empty.
  Result<IssuedToken> Issue(nlohmann::json submods, const std::string& nonce) const;

  // Makes `key` the signing key; the previous one is published until its tokens expire.
  Status Rotate(crypto::PrivateKey key);
  Status Rotate(std::unique_ptr<TokenSigner> signer);

  // {"keys":[...]} with every key still needed (never private members).
  nlohmann::json Jwks() const;
  std::string current_kid() const;
  // The signing key is in an HSM: generating an in-memory replacement would silently move it out.
  bool current_key_in_hsm() const;
  std::string current_signer() const;  // TokenSigner::Describe() of the signing key
  const EarIssuerOptions& options() const { return options_; }

 private:
  struct Entry {
    jose::Jwk jwk;  // public half, with kid/alg/use
    std::unique_ptr<TokenSigner> signer;
    std::optional<int64_t> retire_after;  // unix seconds after which it leaves the JWKS
  };
  EarIssuer(EarIssuerOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {}
  static Result<Entry> MakeEntry(jose::JwsAlg alg, std::unique_ptr<TokenSigner> signer);

  EarIssuerOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Entry> keys_;  // guarded by mu_; back() signs
};

}  // namespace vhsm::attestation
