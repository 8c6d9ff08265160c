// sim_certs.h: the simulator's own certificate authority. Builds an ARK (RSA-4096, self-signed),
// an ASK or ASVK, and a VCEK or VLEK leaf (EC P-384) with the same X.509 shape AMD's KDS uses:
// RSASSA-PSS SHA-384 / MGF1-SHA-384 / salt 48 with the parameters inside the AlgorithmIdentifier,
// CNs ARK-<P> / SEV-<P> / SEV-VLEK-<P> / SEV-VCEK / SEV-VLEK, CA basicConstraints and a CRL
// distribution point on the CAs, and on the leaf serial 0, no standard extensions, and the AMD
// extensions under 1.3.6.1.4.1.3704.1 in AMD's order and encodings (structVersion, productName
// "Milan-B0"/"Genoa"/"Turin", SPL INTEGERs .3.1-.3.8 (Turin: fmc .3.9 first, no .3.4), hwID as
// RAW bytes (64; Turin 8), cspID on VLEKs). Spec: AMD 57230; snp-facts.md section 6.
// The organisation name says these are simulator TEST certificates; nothing here is AMD's.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"
#include "snp/product.h"

namespace vhsm::sim {

inline constexpr char kAmdExtensionArc[] = "1.3.6.1.4.1.3704.1";
inline constexpr size_t kMaxPemBytes = 64 * 1024;

Result<crypto::EvpPkeyPtr> GenerateRsaKey(int bits);
Result<crypto::EvpPkeyPtr> GenerateP384Key();

// productName as AMD writes it in VCEKs ("Milan-B0", "Genoa", "Turin"); VLEKs carry the bare
// product ("Milan").
std::string_view VcekProductName(snp::Product product);

// Self-signed ARK "ARK-<P>", serial 0x20000, 25 years from `not_before`.
Result<Bytes> MakeArkCert(EVP_PKEY* ark_key, snp::Product product, time_t not_before);
// ASK "SEV-<P>" (or ASVK "SEV-VLEK-<P>" when `asvk`), signed by the ARK, CA pathlen 0.
Result<Bytes> MakeAskCert(EVP_PKEY* ask_pub, EVP_PKEY* ark_key, ByteSpan ark_der, snp::Product product,
                          bool asvk, time_t not_before);

struct LeafSpec {
  snp::Product product = snp::Product::kGenoa;
  bool vlek = false;                  // SEV-VLEK (no hwID, with cspID) instead of SEV-VCEK
  uint64_t reported_tcb = 0;          // SPL extensions, decoded with the product's layout
  std::array<uint8_t, 64> chip_id{};  // hwID (VCEK only; 8 bytes on Turin)
  std::string csp_id;                 // VLEK only
};
// VCEK/VLEK leaf for `leaf_pub`, signed by the ASK/ASVK; VCEK valid 7 years, VLEK 1 year.
Result<Bytes> MakeLeafCert(EVP_PKEY* leaf_pub, EVP_PKEY* issuer_key, ByteSpan issuer_der,
                           const LeafSpec& spec, time_t not_before);

// PEM helpers (PKCS#8 for private keys).
Result<SecretBytes> PrivateKeyToPem(EVP_PKEY* key);
Result<crypto::EvpPkeyPtr> PrivateKeyFromPem(ByteSpan pem, std::string_view what);
Result<std::string> CertDerToPem(ByteSpan der);
// One certificate, PEM or DER, returned as DER. `what` names the source in errors.
Result<Bytes> CertToDer(ByteSpan pem_or_der, std::string_view what);
// True when the DER certificate's public key is the public half of `key`.
Result<bool> CertMatchesKey(ByteSpan cert_der, EVP_PKEY* key);
// SubjectPublicKeyInfo of a DER certificate, as PEM (for `openssl dgst -verify`).
Result<std::string> CertPublicKeyPem(ByteSpan cert_der);

}  // namespace vhsm::sim
