// verifier.h: turns SEV-SNP evidence (raw report + certificates) into a VerifiedReport. Checks
// the VCEK/VLEK chain against a pinned AMD root (or an explicitly trusted extra root, e.g. the
// simulator's), validity periods at an injected time, optional ARK-signed CRLs, the report's
// ECDSA P-384 signature, and the cross-checks between report and leaf certificate (signing key
// kind, REPORTED_TCB vs SPL extensions, CHIP_ID vs hwID, product). Appraisal policy (debug,
// measurement, TCB minimums, REPORT_DATA binding) is NOT done here; it belongs to the caller.
// Only this unit constructs VerifiedReport, so holders never re-check. Verified chains are
// cached by the SHA-256 of their DER, so re-verifying a report from a known chip costs about one
// ECDSA verify. Thread-safe after construction.
// Spec: AMD SEV-SNP Firmware ABI 56860 (ATTESTATION_REPORT), AMD 57230 (VCEK/VLEK, KDS);
// shared/docs/snp-facts.md sections 1, 5, 6, 12.
//
// Certificates under an extra trusted root must look like AMD's: ARK self-signed; ASK
// "CN=SEV-<Product>" (or ASVK "CN=SEV-VLEK-<Product>") signed by the ARK; leaf "CN=SEV-VCEK" or
// "CN=SEV-VLEK" issued by that intermediate, EC P-384 key, AMD extensions (productName, SPLs,
// hwID for VCEK); every RSA signature RSASSA-PSS SHA-384 / MGF1-SHA-384 / salt 48 (any RSA
// size >= 2048). The product comes from the report's CPUID (v3+) or the hint, and must match
// the leaf's productName.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "snp/amd_certs.h"
#include "snp/firmware.h"
#include "snp/product.h"
#include "snp/report.h"

namespace vhsm::attest {

// What the verifier is given. Any certificate may be empty: a missing ARK/ASK/ASVK is taken
// from the pinned set for the product; the leaf (VCEK or VLEK, per SIGNING_KEY) is required.
struct Evidence {
  Bytes report;                   // exactly 1184 bytes
  snp::CertificateSet certs;      // DER (PEM also accepted)
  std::optional<snp::Product> product;  // hint; needed only for v2 reports (else chains tried)
};

enum class CrlMode {
  kIfPresent,  // apply every CRL given (evidence or options); none given is fine
  kRequire,    // at least one CRL signed by the chain's ARK must be applied
};

struct VerifierOptions {
  // Time source for validity periods and CRL freshness. nullptr = system clock. Must outlive
  // the Verifier.
  const Clock* clock = nullptr;
  // DER self-signed roots trusted in addition to AMD's pinned ARKs (e.g. the simulator's ARK).
  // Only these exact bytes are trusted; an ARK in the evidence is never trusted by itself.
  std::vector<Bytes> extra_trusted_roots;
  // Default product for v2 reports when Evidence::product is unset.
  std::optional<snp::Product> product;
  CrlMode crl_mode = CrlMode::kIfPresent;
  // CRLs (DER or PEM) applied to every verification, in addition to Evidence::certs.crl. CRLs
  // issued by another product's ARK are skipped; one claiming the chain's ARK must verify.
  std::vector<Bytes> crls;
  // Maximum number of cached verified chains (0 disables caching).
  size_t chain_cache_entries = 256;
};

// One named check and its outcome, e.g. {"report.signature", true, "ECDSA P-384 ... verified"}.
struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

// Evidence that passed every check. Constructed only by Verifier.
class VerifiedReport {
 public:
  const snp::AttestationReport& report() const { return report_; }
  const Bytes& report_bytes() const { return report_bytes_; }
  snp::Product product() const { return product_; }
  snp::SigningKey signer() const { return signer_; }  // kVcek or kVlek
  const snp::AmdCertInfo& leaf_info() const { return leaf_info_; }
  const Bytes& leaf_der() const { return leaf_der_; }
  // True when the chain ends in AMD's pinned ARK; false for an extra trusted root.
  bool amd_root() const { return amd_root_; }
  // Subject CN of the root that anchored the chain, e.g. "ARK-Milan".
  const std::string& root_cn() const { return root_cn_; }
  const std::vector<Check>& checks() const { return checks_; }

 private:
  friend class Verifier;
  VerifiedReport() = default;
  snp::AttestationReport report_;
  Bytes report_bytes_;
  snp::Product product_ = snp::Product::kUnknown;
  snp::SigningKey signer_ = snp::SigningKey::kVcek;
  snp::AmdCertInfo leaf_info_;
  Bytes leaf_der_;
  bool amd_root_ = true;
  std::string root_cn_;
  std::vector<Check> checks_;
};

// Full outcome of one verification, for `--json` "checks" and diagnostics: the check list is
// filled even when verification fails (it stops at the first failing check).
struct VerifyOutcome {
  Status status;                                 // OK iff `verified` is set
  std::vector<Check> checks;
  std::optional<snp::AttestationReport> report;  // set when the report parsed
  snp::Product product = snp::Product::kUnknown; // as far as it was determined
  std::optional<snp::SigningKey> signer;
  std::optional<VerifiedReport> verified;
};

namespace internal {
struct CachedChain;
}  // namespace internal

class Verifier {
 public:
  // InvalidArgument if an extra root or configured CRL does not parse, or an extra root is not
  // self-signed under the RSA-PSS profile.
  static Result<std::unique_ptr<Verifier>> Create(VerifierOptions options);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // OK with the VerifiedReport, or the first failing check as a one-line Status naming the
  // field or certificate, what was expected and what was found:
  //   InvalidArgument    report or certificate malformed, product unknown;
  //   Unauthenticated    chain or report signature does not verify, root not AMD's/trusted;
  //   FailedPrecondition a certificate outside its validity period, CRL stale, CRL required but
  //                      absent;
  //   PermissionDenied   a cross-check failed (TCB, hwID, product, signer kind) or revoked.
  Result<VerifiedReport> Verify(const Evidence& evidence) const;
  // Same checks, returning every check performed (even on failure).
  VerifyOutcome VerifyWithChecks(const Evidence& evidence) const;

  // Chain-only verification (no report), e.g. for collateral or a certificate-only vector: the
  // same root, name, signature, leaf-key, extension, productName, validity and CRL checks as
  // Verify, for an explicit product and leaf kind (the leaf is certs.vcek or certs.vlek).
  // Appends every check to `checks` when non-null. Returns the decoded leaf extensions.
  Result<snp::AmdCertInfo> VerifyCertificateChain(snp::Product product, snp::SigningKey signer,
                                                  const snp::CertificateSet& certs,
                                                  std::vector<Check>* checks = nullptr) const;

  // Number of cached verified chains (for tests and metrics).
  size_t cached_chains() const;

 private:
  struct Impl;
  explicit Verifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vhsm::attest
