// x509.h: X.509 certificates and CRLs for the AMD SEV-SNP chain (ARK -> ASK/ASVK -> VCEK/VLEK).
// Parses PEM, DER and multi-PEM bundles (e.g. the KDS cert_chain) with size limits; exposes the
// subject/issuer CN, serial, validity, public key and raw extension values by OID; verifies a
// certificate's or CRL's signature under an explicit algorithm profile (AMD uses RSASSA-PSS with
// SHA-384, MGF1-SHA-384, salt 48, and the profile checks those AlgorithmIdentifier parameters
// byte-for-byte rather than trusting whatever the certificate names). Time is always injected.
// Also a minimal DER TLV reader for callers that decode extension values (snp/amd_certs).
// Spec: RFC 5280 (certificates, CRLs), RFC 4055 (RSASSA-PSS parameters).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::crypto {

inline constexpr size_t kMaxCertificateBytes = 64u << 10;  // one DER or PEM certificate
inline constexpr size_t kMaxBundleBytes = 256u << 10;      // PEM bundle
inline constexpr size_t kMaxBundleCertificates = 16;
inline constexpr size_t kMaxCrlBytes = 2u << 20;
inline constexpr size_t kMaxExtensions = 64;

// ---- Minimal DER reader (definite lengths only, at most 4 length octets). ----
struct DerTlv {
  uint8_t tag = 0;   // single-byte tags only (high-tag-number form is rejected)
  ByteSpan value;    // view into the input
  size_t total_len = 0;  // header + value
};
// Reads one TLV at the start of `in`. InvalidArgument naming `what` on truncation, indefinite or
// non-minimal lengths.
Result<DerTlv> ReadDerTlv(ByteSpan in, std::string_view what);
// Exactly one TLV with `tag` spanning all of `in`.
Result<ByteSpan> ReadDerExact(ByteSpan in, uint8_t tag, std::string_view what);
// A DER INTEGER value (content octets) as a non-negative integer <= max_value. Rejects negative
// and non-minimal encodings (a single leading 0x00 before a byte >= 0x80 is the minimal form).
Result<uint64_t> DerIntegerToUint(ByteSpan content, uint64_t max_value, std::string_view what);

// Signature algorithm profiles a caller can require.
enum class SigProfile {
  kRsaPssSha384Salt48,  // AMD: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, trailer 1
};

struct Extension {
  std::string oid;  // dotted, e.g. "1.3.6.1.4.1.3704.1.4"
  bool critical = false;
  Bytes value;      // contents of the extnValue OCTET STRING
};

class Certificate {
 public:
  // Exactly one DER certificate (no trailing bytes).
  static Result<Certificate> FromDer(ByteSpan der);
  // Exactly one PEM "CERTIFICATE" block (surrounding whitespace allowed, nothing else).
  static Result<Certificate> FromPem(std::string_view pem);
  // DER or PEM, detected from the first bytes.
  static Result<Certificate> Parse(ByteSpan bytes);

  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;
  Certificate Clone() const;

  const Bytes& der() const { return der_; }
  // Hex SHA-256 of the DER (lowercase).
  std::string Sha256Hex() const;
  std::string SubjectCn() const;  // "" when absent
  std::string IssuerCn() const;
  // Serial as minimal big-endian magnitude bytes ({} for zero) and as lowercase hex ("0" for 0).
  Bytes SerialBytes() const { return serial_; }
  std::string SerialHex() const;
  int64_t not_before() const { return not_before_; }  // Unix seconds
  int64_t not_after() const { return not_after_; }
  // The subject public key; owned by this certificate.
  const EVP_PKEY* public_key() const;
  // Extensions in certificate order.
  const std::vector<Extension>& extensions() const { return extensions_; }
  // FailedPrecondition "<what>: not valid until ..." / "<what>: expired at ..., now ...".
  Status CheckValidAt(int64_t now_unix, std::string_view what) const;
  // Verifies this certificate's signature with `issuer_key` under `profile`. Unauthenticated
  // "<what>: ..." when the algorithm or its parameters differ from the profile or the
  // signature does not verify.
  Status VerifySignedBy(const EVP_PKEY* issuer_key, SigProfile profile, std::string_view what) const;

  X509* get() const { return x509_.get(); }

 private:
  Certificate() = default;
  static Result<Certificate> FromX509(X509Ptr x509, Bytes der);
  X509Ptr x509_;
  Bytes der_;
  Bytes serial_;
  int64_t not_before_ = 0;
  int64_t not_after_ = 0;
  std::vector<Extension> extensions_;
};

// One DER certificate, or one or more PEM certificates (in order). At most
// kMaxBundleCertificates; text outside the PEM blocks is ignored only if it is whitespace.
Result<std::vector<Certificate>> ParseCertificateBundle(ByteSpan bytes);

class Crl {
 public:
  static Result<Crl> FromDer(ByteSpan der);
  static Result<Crl> Parse(ByteSpan bytes);  // DER or one PEM "X509 CRL" block

  Crl(Crl&&) noexcept = default;
  Crl& operator=(Crl&&) noexcept = default;

  const Bytes& der() const { return der_; }
  std::string IssuerCn() const;
  int64_t this_update() const { return this_update_; }
  std::optional<int64_t> next_update() const { return next_update_; }
  size_t revoked_count() const;
  // True if a certificate with this serial (minimal big-endian magnitude, {} = 0) is listed.
  bool IsRevoked(ByteSpan serial_be) const;
  Status VerifySignedBy(const EVP_PKEY* issuer_key, SigProfile profile, std::string_view what) const;

 private:
  Crl() = default;
  X509CrlPtr crl_;
  Bytes der_;
  int64_t this_update_ = 0;
  std::optional<int64_t> next_update_;
};

// Checks that a DER AlgorithmIdentifier (the whole SEQUENCE) matches `profile` exactly.
Status CheckAlgorithmIdentifier(ByteSpan algorithm_identifier_der, SigProfile profile,
                                std::string_view what);

}  // namespace vhsm::crypto
