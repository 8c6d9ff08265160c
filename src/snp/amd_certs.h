// amd_certs.h: decodes the AMD-specific X.509 extensions of VCEK and VLEK certificates (OID arc
// 1.3.6.1.4.1.3704.1) into AmdCertInfo, and compares them with a report: SPLs against
// REPORTED_TCB (product-specific byte layout), hwID against CHIP_ID. Decoding only; whether the
// certificate is AMD's is decided by attest::Verifier's chain checks.
// Spec: AMD 57230 (VCEK/VLEK certificate extensions); shared/docs/snp-facts.md section 6.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/x509.h"
#include "snp/product.h"

namespace vhsm::snp {

inline constexpr char kAmdOidArc[] = "1.3.6.1.4.1.3704.1";
inline constexpr size_t kMaxAmdStringBytes = 256;

struct AmdCertInfo {
  std::optional<uint64_t> struct_version;  // .1 (0 Milan/Genoa, 1 Turin)
  std::optional<std::string> product_name; // .2 "Milan-B0", "Genoa", "Turin", VLEK "Milan"
  std::optional<uint8_t> bl_spl;           // .3.1
  std::optional<uint8_t> tee_spl;          // .3.2
  std::optional<uint8_t> snp_spl;          // .3.3
  std::optional<uint8_t> spl_4;            // .3.4 (absent on Turin)
  std::optional<uint8_t> spl_5;            // .3.5
  std::optional<uint8_t> spl_6;            // .3.6
  std::optional<uint8_t> spl_7;            // .3.7
  std::optional<uint8_t> ucode_spl;        // .3.8
  std::optional<uint8_t> fmc_spl;          // .3.9 (Turin)
  std::optional<Bytes> hw_id;              // .4 raw bytes (64, or 8 on Turin), VCEK only
  bool hw_id_was_octet_string = false;     // hwID arrived wrapped in an OCTET STRING
  std::optional<std::string> csp_id;       // .5 VLEK only
};

// Decodes the AMD extensions out of a list of extensions (other OIDs are ignored). Rejects with
// InvalidArgument naming the extension: duplicates, malformed DER, SPLs outside 0..255, strings
// over kMaxAmdStringBytes or non-printable, hwID not 64 or 8 bytes (raw or OCTET STRING-wrapped).
Result<AmdCertInfo> ParseAmdExtensions(const std::vector<crypto::Extension>& extensions);
Result<AmdCertInfo> ParseAmdCertInfo(const crypto::Certificate& cert);

// Every SPL the certificate states must equal the matching REPORTED_TCB byte for `product`'s
// layout (Milan/Genoa: bl 0, tee 1, spl_4..7 bytes 2..5, snp 6, ucode 7; Turin: fmc 0, bl 1,
// tee 2, snp 3, spl_5..7 bytes 4..6, ucode 7). bl/tee/snp/ucode (+ fmc on Turin) are required.
// PermissionDenied "leaf.<name>SPL: certificate says N, REPORTED_TCB has M".
Status CheckTcbMatchesCert(const AmdCertInfo& info, uint64_t reported_tcb, Product product);

// hwID must equal CHIP_ID (Turin: the first 8 bytes, the other 56 must be zero).
// PermissionDenied naming both values in hex.
Status CheckHwIdMatchesChipId(const AmdCertInfo& info, ByteSpan chip_id, Product product);

}  // namespace vhsm::snp
