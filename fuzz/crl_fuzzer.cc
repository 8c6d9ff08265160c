// crl_fuzzer.cc: the CRL path on arbitrary bytes: CRL parsing (DER or PEM), revocation lookup,
// signature verification under the AMD RSA-PSS profile against AMD's pinned Milan ARK, and the
// AlgorithmIdentifier profile check. Properties: no crash; a parsed CRL re-parses from its DER
// with the same revoked count; nothing verifies under the real ARK.
#include <cstdint>
#include <cstdlib>

#include "crypto/x509.h"
#include "snp/amd_roots.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm;
  static const auto* ark = [] {
    auto c = snp::PinnedCertificate(snp::AmdCertKind::kArk, snp::Product::kMilan);
    if (!c.ok()) std::abort();
    return new crypto::Certificate(std::move(c).value());
  }();
  ByteSpan input(data, size);
  auto crl = crypto::Crl::Parse(input);
  if (!crl.ok()) {
    if (crl.status().message().empty()) std::abort();
  } else {
    auto again = crypto::Crl::FromDer(crl->der());
    if (!again.ok() || again->revoked_count() != crl->revoked_count()) std::abort();
    (void)crl->IssuerCn();
    (void)crl->IsRevoked(Bytes{});
    (void)crl->IsRevoked(Bytes{0x01, 0x00, 0x01});
    if (crl->VerifySignedBy(ark->public_key(), crypto::SigProfile::kRsaPssSha384Salt48, "fuzz").ok()) {
      std::abort();  // only AMD can sign for the real ARK
    }
  }
  auto alg = crypto::CheckAlgorithmIdentifier(input, crypto::SigProfile::kRsaPssSha384Salt48, "fuzz");
  if (!alg.ok() && alg.message().empty()) std::abort();
  return 0;
}
