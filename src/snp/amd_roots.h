// amd_roots.h: AMD's public root and intermediate certificates (ARK, ASK, ASVK) for Milan,
// Genoa and Turin, pinned in the binary as PEM text with their SHA-256 (of the DER)
// fingerprints. Evidence never supplies trust: an ARK that arrives with a report is compared
// with these bytes. Accessors re-check the fingerprint so a corrupted constant cannot pass.
// Source: AMD KDS https://kdsintf.amd.com/{vcek,vlek}/v1/<Product>/cert_chain (public material).
#pragma once

#include <string_view>

#include "base/status.h"
#include "crypto/x509.h"
#include "snp/product.h"

namespace vhsm::snp {

enum class AmdCertKind { kArk, kAsk, kAsvk };

// "ARK", "ASK", "ASVK".
std::string_view AmdCertKindName(AmdCertKind kind);
// Expected subject CN: "ARK-Milan", "SEV-Milan", "SEV-VLEK-Milan", ...
std::string ExpectedAmdCn(AmdCertKind kind, Product product);
// The pinned PEM text ("" for Product::kUnknown).
std::string_view PinnedPem(AmdCertKind kind, Product product);
// Lowercase hex SHA-256 of the pinned certificate's DER ("" for kUnknown).
std::string_view PinnedSha256(AmdCertKind kind, Product product);
// The parsed pinned certificate. NotFound for kUnknown; Internal if the fingerprint differs.
Result<crypto::Certificate> PinnedCertificate(AmdCertKind kind, Product product);

}  // namespace vhsm::snp
