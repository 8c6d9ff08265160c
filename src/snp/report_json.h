// report_json.h: renders a parsed AttestationReport for people and programs. ReportToJson gives
// every decoded field (byte arrays as lowercase hex, TCBs decoded for the given product plus the
// raw value, policy/platform-info/signer bits by name); ReportToText is the same content as
// aligned "name: value" lines for `vhsm snp show`. Pure formatting: no validation, no trust.
// `vhsm snp verify --json` embeds ReportToJson's object and adds its own verdict keys.
// Spec: shared/docs/snp-facts.md sections 1-4.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "snp/product.h"
#include "snp/report.h"

namespace vhsm::snp {

// JSON object with (at least) these keys:
//   "version", "guest_svn", "vmpl", "signature_algo" (numbers);
//   "product": ProductName(product) ("unknown" for kUnknown);
//   "policy": {"raw": "0x..", "abi_major", "abi_minor", "flags": [names], "smt", "migrate_ma",
//              "debug", "single_socket", ... (bools)};
//   "platform_info": {"raw": "0x..", "flags": [names; unknown bits as "BIT_n"]};
//   "signer_info": {"raw", "author_key_en", "mask_chip_key", "signing_key": "VCEK"|"VLEK"|"NONE"|
//                   "RESERVED(n)"};
//   "family_id", "image_id", "report_data", "measurement", "host_data", "id_key_digest",
//   "author_key_digest", "report_id", "report_id_ma", "chip_id" (hex strings);
//   "current_tcb", "reported_tcb", "committed_tcb", "launch_tcb": {"raw": "0x<16 hex>",
//       "bootloader", "tee", "snp", "microcode", ["fmc" on Turin layout]};
//   "current_version", "committed_version": "major.minor.build" (e.g. "1.55.29");
//   "cpuid": {"family", "model", "stepping"} (numbers; only when version >= 3);
//   "launch_mit_vector", "current_mit_vector": "0x<16 hex>" (only when version >= 5);
//   "signature": {"r": hex (72 bytes LE, as stored), "s": hex}.
// For kUnknown the TCBs are decoded with the Milan/Genoa layout.
nlohmann::json ReportToJson(const AttestationReport& report, Product product);

// Multi-line human-readable rendering of the same fields (ends with a newline).
std::string ReportToText(const AttestationReport& report, Product product);

// "1.55.29" (major.minor.build).
std::string FirmwareVersionString(const FirmwareVersion& v);

}  // namespace vhsm::snp
