// keys.h: asymmetric keys for vhsm (EC P-256/P-384/P-521, RSA 2048-4096, Ed25519) as
// move-only wrappers over EVP_PKEY. Covers what JOSE, the services and the vHSM need: generation,
// PEM/DER import and export (PKCS#8 for private keys, SubjectPublicKeyInfo for public keys), raw
// components (EC coordinates, RSA n/e, Ed25519 bytes) for JWK, signatures (ECDSA in DER or the
// fixed-size r||s form JOSE uses, EdDSA, RSA PKCS#1 v1.5 and PSS), ECDH and RSA-OAEP.
// Imported keys are checked (EC points on the curve, RSA size within limits), so a PublicKey or
// PrivateKey that exists is usable. Private key material that leaves the object is SecretBytes.
// Objects are immutable after creation; const methods are thread-safe.
#pragma once

#include <openssl/evp.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/digest.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::crypto {

enum class KeyType { kEc, kRsa, kEd25519 };
enum class EcCurve { kP256, kP384, kP521 };

inline constexpr int kRsaMinBits = 2048;
inline constexpr int kRsaMaxBits = 4096;  // import accepts up to 8192 for verification only

std::string_view KeyTypeName(KeyType type);  // "EC", "RSA", "Ed25519"
std::string_view EcCurveName(EcCurve curve);  // "P-256" (JOSE/NIST name)
// "P-256" / "P-384" / "P-521" → curve; kInvalidArgument otherwise.
Result<EcCurve> EcCurveFromName(std::string_view name);
// Field element / coordinate / scalar size in bytes: 32, 48, 66.
size_t EcCoordinateSize(EcCurve curve);

// Signature schemes. ECDSA hashes with the named SHA-2; RSA-PSS uses MGF1 with the same hash
// and a salt as long as the hash (RFC 7518 section 3.5). Ed25519 is PureEdDSA (no prehash).
enum class SignatureScheme {
  kEcdsaSha256,
  kEcdsaSha384,
  kEcdsaSha512,
  kEd25519,
  kRsaPkcs1Sha256,
  kRsaPkcs1Sha384,
  kRsaPkcs1Sha512,
  kRsaPssSha256,
  kRsaPssSha384,
  kRsaPssSha512,
};
// How ECDSA signatures are encoded: ASN.1 DER (X.509, TLS) or the fixed-size big-endian r||s
// of IEEE P1363 that JOSE (RFC 7518 section 3.4) and PKCS#11 CKM_ECDSA use.
enum class EcdsaFormat { kDer, kRawRs };

struct EcPoint {
  Bytes x;  // big-endian, exactly EcCoordinateSize(curve) bytes
  Bytes y;
};
struct RsaPublicComponents {
  Bytes n;  // big-endian, no leading zeros
  Bytes e;
};
// RSA private key in CRT form (all big-endian, as in JWK RFC 7518 section 6.3.2).
struct RsaPrivateComponents {
  Bytes n;
  Bytes e;
  SecretBytes d;
  SecretBytes p;
  SecretBytes q;
  SecretBytes dp;
  SecretBytes dq;
  SecretBytes qi;
};

class PublicKey {
 public:
  // SubjectPublicKeyInfo, PEM ("-----BEGIN PUBLIC KEY-----") or DER.
  static Result<PublicKey> FromPem(std::string_view pem);
  static Result<PublicKey> FromDer(ByteSpan spki_der);
  // EC point from affine coordinates (each exactly EcCoordinateSize bytes); checked on curve.
  static Result<PublicKey> FromEcCoordinates(EcCurve curve, ByteSpan x, ByteSpan y);
  // EC point in SEC1 uncompressed form 04||x||y.
  static Result<PublicKey> FromEcUncompressed(EcCurve curve, ByteSpan point);
  static Result<PublicKey> FromRsa(ByteSpan n, ByteSpan e);
  static Result<PublicKey> FromEd25519(ByteSpan raw32);
  // Takes ownership; fails for unsupported key types or sizes.
  static Result<PublicKey> FromEvp(EvpPkeyPtr pkey);

  PublicKey(PublicKey&&) noexcept = default;
  PublicKey& operator=(PublicKey&&) noexcept = default;
  PublicKey Clone() const;

  KeyType type() const { return type_; }
  // Set only for kEc.
  std::optional<EcCurve> curve() const { return curve_; }
  int bits() const;
  // "EC P-384", "RSA 2048", "Ed25519": for messages.
  std::string Describe() const;

  Result<std::string> ToPem() const;
  Result<Bytes> ToDer() const;
  Result<EcPoint> EcCoordinates() const;        // kFailedPrecondition unless kEc
  Result<Bytes> EcUncompressed() const;         // 04||x||y
  Result<RsaPublicComponents> RsaComponents() const;
  Result<Bytes> Ed25519Raw() const;

  // kUnauthenticated when the signature does not verify (including malformed signatures);
  // kInvalidArgument when `scheme` does not fit this key's type (ECDSA on an RSA key). Curve and
  // hash may differ here (ECDSA P-384 with SHA-256 is valid); the JOSE layer pins the pairing.
  Status Verify(SignatureScheme scheme, ByteSpan message, ByteSpan signature,
                EcdsaFormat format = EcdsaFormat::kDer) const;
  // Verifies over an already computed digest (PKCS#11 CKM_ECDSA / CKM_RSA_PKCS with hashing
  // done by the caller). For ECDSA the hash in `scheme` only documents intent; for RSA it picks
  // the DigestInfo / PSS hash and `digest` must be that hash's size. Not for Ed25519.
  Status VerifyDigest(SignatureScheme scheme, ByteSpan digest, ByteSpan signature,
                      EcdsaFormat format = EcdsaFormat::kDer) const;

  // RSA-OAEP (RFC 8017 section 7.1) with MGF1 over `hash`; label usually empty.
  Result<Bytes> RsaOaepEncrypt(HashAlg hash, ByteSpan plaintext, ByteSpan label = {}) const;

  // Borrowed; valid while this object lives.
  EVP_PKEY* evp() const { return pkey_.get(); }
  // True when both hold the same public key.
  bool Equals(const PublicKey& other) const;

 private:
  PublicKey(EvpPkeyPtr pkey, KeyType type, std::optional<EcCurve> curve)
      : pkey_(std::move(pkey)), type_(type), curve_(curve) {}
  EvpPkeyPtr pkey_;
  KeyType type_;
  std::optional<EcCurve> curve_;
  friend class PrivateKey;
};

class PrivateKey {
 public:
  static Result<PrivateKey> GenerateEc(EcCurve curve);
  // bits in [kRsaMinBits, kRsaMaxBits], multiple of 8; public exponent 65537.
  static Result<PrivateKey> GenerateRsa(int bits);
  static Result<PrivateKey> GenerateEd25519();

  // PKCS#8 PrivateKeyInfo (unencrypted), PEM ("-----BEGIN PRIVATE KEY-----") or DER. The
  // traditional "BEGIN EC PRIVATE KEY" / "BEGIN RSA PRIVATE KEY" PEM forms are accepted too.
  static Result<PrivateKey> FromPem(std::string_view pem);
  static Result<PrivateKey> FromDer(ByteSpan pkcs8_der);
  // EC private scalar d (big-endian, exactly EcCoordinateSize bytes); the public point is
  // computed. If x/y are given they must match d (kInvalidArgument otherwise).
  static Result<PrivateKey> FromEcScalar(EcCurve curve, ByteSpan d, ByteSpan x = {},
                                         ByteSpan y = {});
  static Result<PrivateKey> FromRsaComponents(const RsaPrivateComponents& c);
  static Result<PrivateKey> FromEd25519Seed(ByteSpan seed32);
  static Result<PrivateKey> FromEvp(EvpPkeyPtr pkey);

  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;
  PrivateKey Clone() const;

  KeyType type() const { return type_; }
  std::optional<EcCurve> curve() const { return curve_; }
  int bits() const;
  std::string Describe() const;
  PublicKey Public() const;
  // The public point's coordinates of an EC key, without building a PublicKey (e.g. a JWE's
  // ephemeral "epk"). kFailedPrecondition unless kEc.
  Result<EcPoint> EcPublicCoordinates() const;

  Result<SecretBytes> ToPkcs8Der() const;
  Result<SecretBytes> ToPem() const;  // PKCS#8 PEM text as bytes
  Result<SecretBytes> EcScalar() const;     // d, fixed size
  Result<RsaPrivateComponents> RsaComponents() const;
  Result<SecretBytes> Ed25519Seed() const;  // 32 bytes

  Result<Bytes> Sign(SignatureScheme scheme, ByteSpan message,
                     EcdsaFormat format = EcdsaFormat::kDer) const;
  // See PublicKey::VerifyDigest.
  Result<Bytes> SignDigest(SignatureScheme scheme, ByteSpan digest,
                           EcdsaFormat format = EcdsaFormat::kDer) const;

  // ECDH (SP 800-56A, cofactor 1): the x-coordinate of d*Q, EcCoordinateSize bytes. The peer
  // must be an EC key on the same curve (kInvalidArgument otherwise).
  Result<SecretBytes> Ecdh(const PublicKey& peer) const;
  // RSA-OAEP decryption. kUnauthenticated on any padding failure (one message for all causes).
  Result<SecretBytes> RsaOaepDecrypt(HashAlg hash, ByteSpan ciphertext, ByteSpan label = {}) const;

  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  PrivateKey(EvpPkeyPtr pkey, KeyType type, std::optional<EcCurve> curve)
      : pkey_(std::move(pkey)), type_(type), curve_(curve) {}
  EvpPkeyPtr pkey_;
  KeyType type_;
  std::optional<EcCurve> curve_;
};

// Converts between the DER ECDSA-Sig-Value and fixed-size r||s (each `coord_size` bytes).
// kInvalidArgument for malformed input or values that do not fit.
Result<Bytes> EcdsaDerToRaw(ByteSpan der, size_t coord_size);
Result<Bytes> EcdsaRawToDer(ByteSpan raw, size_t coord_size);

}  // namespace vhsm::crypto
