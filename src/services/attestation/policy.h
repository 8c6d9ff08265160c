// policy.h: the Attestation Service's appraisal policy for SEV-SNP evidence: what a verified
// report must show before vhsm-attestd issues an affirming token. A policy is loaded from JSON or
// TOML (same schema, see docs/attestation-service.md), is immutable once built, and is applied by
// Appraise() to a report that attest::Verifier has already authenticated. Every rule is evaluated
// and recorded (never "first failure wins"), so the token and /v1/verify show each outcome.
// Rules whose name is in `warn_only` downgrade the result to "warning" instead of denying.
// Thread-safe: const after construction.
// Spec: AMD SEV-SNP Firmware ABI 56860 (ATTESTATION_REPORT, GUEST POLICY, PLATFORM_INFO);
// draft-ietf-rats-ear / draft-ietf-rats-ar4si (status tiers, trustworthiness vector).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "snp/product.h"
#include "snp/report.h"
#include "snp/tcb.h"

namespace vhsm::attestation {

inline constexpr size_t kMaxPolicyBytes = 256 * 1024;
inline constexpr size_t kMaxReferenceValues = 4096;
inline constexpr size_t kMaxAllowListEntries = 4096;

// A guest-policy bit requirement.
enum class BitRule { kAny, kRequire, kForbid };

struct ReferenceValue {
  std::string label;
  std::array<uint8_t, 48> measurement{};
};

// Minimum TCB components; unset components are not checked. fmc applies to Turin only.
struct TcbMinimum {
  std::optional<uint8_t> bootloader, tee, snp, microcode, fmc;
  bool empty() const { return !bootloader && !tee && !snp && !microcode && !fmc; }
};

struct AppraisalPolicy {
  std::string id = "default";
  std::vector<snp::Product> products;        // empty: any product
  std::vector<uint32_t> report_versions;     // empty: any version the parser accepts
  bool accept_any_measurement = false;       // --dev default policy
  std::vector<ReferenceValue> reference_values;
  TcbMinimum min_tcb;
  // Which TCBs min_tcb applies to: "reported", "committed", "launch", "current".
  std::vector<std::string> tcb_checks = {"reported", "committed", "launch"};
  std::vector<uint32_t> vmpls = {0};         // empty: any VMPL
  bool allow_debug = false;
  BitRule migrate_ma = BitRule::kAny;
  BitRule smt = BitRule::kAny;
  BitRule single_socket = BitRule::kAny;
  std::optional<std::pair<uint8_t, uint8_t>> min_abi;  // (major, minor)
  uint32_t min_guest_svn = 0;
  std::vector<std::array<uint8_t, 16>> family_ids;     // each list: empty = not checked
  std::vector<std::array<uint8_t, 16>> image_ids;
  std::vector<std::array<uint8_t, 48>> id_key_digests;
  std::vector<std::array<uint8_t, 48>> author_key_digests;
  std::vector<std::array<uint8_t, 32>> host_data;
  std::vector<std::array<uint8_t, 64>> chip_ids;       // 8-byte Turin ids are zero-padded
  uint64_t platform_info_required = 0;
  uint64_t platform_info_forbidden = 0;
  uint64_t min_mitigation_vector = 0;  // bits that must be set in CURRENT_MIT_VECTOR (v5+)
  std::set<std::string> warn_only;     // rule names that only warn
};

// The permissive policy `--dev` starts with: any product, version, measurement, VMPL, TCB;
// debug guests still rejected.
AppraisalPolicy DevDefaultPolicy();

// Parses a policy object (schema in docs/attestation-service.md). Strict: unknown members,
// wrong types, bad hex lengths and unknown rule names are kInvalidArgument naming the member.
Result<AppraisalPolicy> PolicyFromJson(const nlohmann::json& j);
// JSON text, bounded by kMaxPolicyBytes (kResourceExhausted above).
Result<AppraisalPolicy> ParsePolicyJson(std::string_view text);
// TOML text with the same schema ([[measurements]] tables etc.).
Result<AppraisalPolicy> ParsePolicyToml(std::string_view text);
// By file extension: ".toml" → TOML, anything else JSON.
Result<AppraisalPolicy> LoadPolicyFile(const std::string& path);

// Canonical JSON of the policy (PolicyFromJson(PolicyToJson(p)) == p in effect).
nlohmann::json PolicyToJson(const AppraisalPolicy& policy);
// "sha256:<hex>" over the JCS form of PolicyToJson.
std::string PolicyHash(const AppraisalPolicy& policy);

// One or several reference values from a JSON value: {"label","measurement"}, the output of
// `vhsm measure --json` ({"type":"snp-launch-measurement","measurement",...}), or an array of
// either. kInvalidArgument naming the entry.
Result<std::vector<ReferenceValue>> ParseReferenceValues(const nlohmann::json& j);

enum class EarStatus { kAffirming, kWarning, kContraindicated };
std::string_view EarStatusName(EarStatus s);  // "affirming", "warning", "contraindicated"

// One evaluated rule.
struct RuleOutcome {
  std::string name;    // "measurement", "tcb.reported", "policy.debug", ...
  bool ok = false;
  bool enforced = true;  // false when the rule is in warn_only
  std::string detail;    // what was expected and what was found
};

struct Appraisal {
  std::vector<RuleOutcome> rules;
  EarStatus status = EarStatus::kContraindicated;
  nlohmann::json trust_vector;  // AR4SI trustworthiness vector
  std::vector<std::string> failed;  // names of failed rules (enforced or not)
  std::string matched_reference;    // label of the matching reference value, if any
};

// Applies every rule to an authenticated report. `product` is the verified product.
Appraisal Appraise(const AppraisalPolicy& policy, const snp::AttestationReport& report,
                   snp::Product product);

// The names of every rule Appraise() records (for warn_only validation and docs).
const std::vector<std::string>& RuleNames();

}  // namespace vhsm::attestation
