// rcar.h: the wire side of the Attestation Service: strict parsers for the RCAR requests
// (Trustee KBS protocol 0.4.0: POST /kbs/v0/auth, POST /kbs/v0/attest) and for POST /v1/verify,
// plus the REPORT_DATA binding. Every parser takes untrusted text, bounds sizes and nesting,
// never throws, and names the member that is wrong (kInvalidArgument; HTTP 400).
//
// Binding (ARCHITECTURE.md section 3): REPORT_DATA = SHA-384(JCS({"additional-evidence": A,
// "nonce": N, "tee-pubkey": K})) || 16 zero bytes, where N is the nonce string as issued, K the
// tee-pubkey JWK object exactly as received, and A the tee-evidence's additional_evidence: the
// string itself, "" when absent or null, or the JCS text of a non-string JSON value.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "snp/firmware.h"
#include "snp/product.h"

namespace vhsm::attestation {

inline constexpr std::string_view kRcarProtocolVersion = "0.4.0";
inline constexpr size_t kMaxRequestBytes = 256 * 1024;
inline constexpr size_t kMaxCertEntries = 8;
inline constexpr size_t kMaxCertBytes = 64 * 1024;
inline constexpr size_t kNonceBytes = 32;

struct AuthRequest {
  std::string version;
  std::string tee;
  nlohmann::json extra_params;  // carried, not interpreted
};
// {"version":"0.4.0","tee":"snp","extra-params":...}. kInvalidArgument for malformed JSON, a
// version other than 0.4.0 or a TEE other than "snp" (message names the member and value).
Result<AuthRequest> ParseAuthRequest(std::string_view body);

// SNP primary evidence: the raw report and whatever certificates came with it.
struct SnpEvidence {
  Bytes report;                // exactly 1184 bytes
  snp::CertificateSet certs;   // from cert_chain (members empty when not given)
  bool has_cert_chain = false;
};
// {"attestation_report": base64(1184 bytes), "cert_chain": [{"cert_type","data"}] | null}.
// cert_type: VCEK, VLEK, ASK, ASVK, ARK or CRL (case-insensitive); data: standard base64 of
// DER, or an array of byte values (what serde emits for Vec<u8>).
Result<SnpEvidence> ParseSnpEvidence(const nlohmann::json& primary);

// Init-data (Confidential Containers "Initdata Specification", version 0.1.0): configuration the
// host hands the guest at launch, bound by putting its digest in HOST_DATA. The request carries
// it as {"format":"toml"|"json","body":TEXT} (Trustee's kbs_types InitData) under the top-level
// member "init-data" or under "runtime-data"."init-data". The body must hold version = "0.1.0",
// algorithm = "sha256" | "sha384" | "sha512" and a [data] table of strings.
// HOST_DATA binding (as Kata computes it for SNP): digest of the body bytes exactly as sent with
// that algorithm, truncated to HOST_DATA's 32 bytes (SHA-384/512) or taken whole (SHA-256).
enum class InitDataMode { kOff, kOptional, kRequire };
inline constexpr size_t kMaxInitDataBytes = 64 * 1024;
inline constexpr size_t kMaxInitDataEntries = 64;
struct InitData {
  std::string format;     // "toml" or "json"
  std::string body;       // as received: the digest input
  std::string algorithm;  // "sha256", "sha384", "sha512"
  std::string version;    // "0.1.0"
  nlohmann::json data;    // the data table: object of strings
};
// {"format","body"} → InitData. kInvalidArgument naming the member.
Result<InitData> ParseInitData(const nlohmann::json& value);
// The 32-byte HOST_DATA a guest launched with this init-data reports.
std::array<uint8_t, 32> InitDataHostData(const InitData& init_data);

struct AttestRequest {
  std::string nonce;
  std::optional<InitData> init_data;  // when the request carries one
  nlohmann::json tee_pubkey;        // a valid public JWK object
  std::string additional_evidence;  // binding input "A" (see above)
  SnpEvidence evidence;
};
// {"runtime-data":{"nonce","tee-pubkey"},"tee-evidence":{"primary_evidence",
// "additional_evidence"}}; tee-evidence may also be a JSON string holding that object.
Result<AttestRequest> ParseAttestRequest(std::string_view body);

// The 64-byte REPORT_DATA a guest must put in its report for this request.
Result<std::array<uint8_t, 64>> ExpectedReportData(std::string_view nonce, const nlohmann::json& tee_pubkey,
                                                   std::string_view additional_evidence);

struct VerifyRequest {
  SnpEvidence evidence;
  std::optional<std::array<uint8_t, 64>> report_data;  // expected REPORT_DATA, when given
  std::optional<snp::Product> product;                  // hint for v2 reports
};
// {"attestation_report","cert_chain"?,"report_data"?: hex of 64 bytes (or 48, zero-padded),
// "product"?: "Milan"|"Genoa"|"Turin"}.
Result<VerifyRequest> ParseVerifyRequest(std::string_view body);

}  // namespace vhsm::attestation
