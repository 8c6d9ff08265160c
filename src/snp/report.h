// report.h: the SEV-SNP ATTESTATION_REPORT (1184 bytes) as a plain struct, with a strict parser
// and a byte-exact serialiser. Versions 2, 3, 4 (v3 layout) and 5; higher versions are parsed
// with the v5 layout (never rejected only for being newer). Parsing checks structure only; trust
// comes from attest::Verifier.
// Spec: AMD SEV-SNP Firmware ABI 56860 rev 1.55 Table 22 (v5: rev 1.58);
// shared/docs/snp-facts.md section 1.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "snp/product.h"
#include "snp/tcb.h"

namespace vhsm::snp {

inline constexpr size_t kReportSize = 1184;          // 0x4A0
inline constexpr size_t kSignedRegionSize = 0x2A0;   // bytes covered by the signature
inline constexpr size_t kSignatureOffset = 0x2A0;
inline constexpr size_t kSigComponentSize = 72;      // R and S, little-endian
inline constexpr uint32_t kSignatureAlgoEcdsaP384Sha384 = 1;

enum class SigningKey : uint8_t { kVcek = 0, kVlek = 1, kNone = 7 };

// Guest POLICY bits (u64 at 0x08).
namespace policy_bits {
inline constexpr uint64_t kSmt = 1ull << 16;
inline constexpr uint64_t kReservedMustBeOne = 1ull << 17;
inline constexpr uint64_t kMigrateMa = 1ull << 18;
inline constexpr uint64_t kDebug = 1ull << 19;
inline constexpr uint64_t kSingleSocket = 1ull << 20;
inline constexpr uint64_t kCxlAllow = 1ull << 21;
inline constexpr uint64_t kMemAes256Xts = 1ull << 22;
inline constexpr uint64_t kRaplDis = 1ull << 23;
inline constexpr uint64_t kCiphertextHiding = 1ull << 24;
inline constexpr uint64_t kPageSwapDisable = 1ull << 25;
inline constexpr uint64_t kReservedMask = ~((1ull << 26) - 1);
}  // namespace policy_bits

// PLATFORM_INFO bits (u64 at 0x40). Unknown bits are reported, never fatal.
namespace platform_bits {
inline constexpr uint64_t kSmtEn = 1ull << 0;
inline constexpr uint64_t kTsmeEn = 1ull << 1;
inline constexpr uint64_t kEccEn = 1ull << 2;
inline constexpr uint64_t kRaplDis = 1ull << 3;
inline constexpr uint64_t kCiphertextHidingEn = 1ull << 4;
inline constexpr uint64_t kAliasCheckComplete = 1ull << 5;
inline constexpr uint64_t kSevTioEn = 1ull << 7;
}  // namespace platform_bits

struct FirmwareVersion {
  uint8_t build = 0;
  uint8_t minor = 0;
  uint8_t major = 0;
  friend bool operator==(const FirmwareVersion&, const FirmwareVersion&) = default;
};

// Every field of the report, including reserved bytes, so Serialize(Parse(x)) == x.
struct AttestationReport {
  uint32_t version = 0;                     // 0x000
  uint32_t guest_svn = 0;                   // 0x004
  uint64_t policy = 0;                      // 0x008
  std::array<uint8_t, 16> family_id{};      // 0x010
  std::array<uint8_t, 16> image_id{};       // 0x020
  uint32_t vmpl = 0;                        // 0x030
  uint32_t signature_algo = 0;              // 0x034
  uint64_t current_tcb = 0;                 // 0x038
  uint64_t platform_info = 0;               // 0x040
  uint32_t signer_info = 0;                 // 0x048: bit0 author_key_en, bit1 mask_chip_key, bits4:2 signing_key
  uint32_t reserved_04c = 0;                // 0x04C
  std::array<uint8_t, 64> report_data{};    // 0x050
  std::array<uint8_t, 48> measurement{};    // 0x090
  std::array<uint8_t, 32> host_data{};      // 0x0C0
  std::array<uint8_t, 48> id_key_digest{};  // 0x0E0
  std::array<uint8_t, 48> author_key_digest{};  // 0x110
  std::array<uint8_t, 32> report_id{};      // 0x140
  std::array<uint8_t, 32> report_id_ma{};   // 0x160
  uint64_t reported_tcb = 0;                // 0x180
  uint8_t cpuid_fam_id = 0;                 // 0x188 (v3+; reserved in v2)
  uint8_t cpuid_mod_id = 0;                 // 0x189 (v3+)
  uint8_t cpuid_step = 0;                   // 0x18A (v3+)
  std::array<uint8_t, 21> reserved_18b{};   // 0x18B..0x19F
  std::array<uint8_t, 64> chip_id{};        // 0x1A0
  uint64_t committed_tcb = 0;               // 0x1E0
  FirmwareVersion current_version;          // 0x1E8 build, 0x1E9 minor, 0x1EA major
  uint8_t reserved_1eb = 0;                 // 0x1EB
  FirmwareVersion committed_version;        // 0x1EC build, 0x1ED minor, 0x1EE major
  uint8_t reserved_1ef = 0;                 // 0x1EF
  uint64_t launch_tcb = 0;                  // 0x1F0
  uint64_t launch_mit_vector = 0;           // 0x1F8 (v5+; reserved before)
  uint64_t current_mit_vector = 0;          // 0x200 (v5+; reserved before)
  std::array<uint8_t, 152> reserved_208{};  // 0x208..0x29F
  std::array<uint8_t, 72> signature_r{};    // 0x2A0, little-endian
  std::array<uint8_t, 72> signature_s{};    // 0x2E8, little-endian
  std::array<uint8_t, 368> reserved_330{};  // 0x330..0x49F

  bool author_key_en() const { return (signer_info & 1u) != 0; }
  bool mask_chip_key() const { return (signer_info & 2u) != 0; }
  // Raw 3-bit SIGNING_KEY (0 VCEK, 1 VLEK, 7 none, others reserved).
  uint8_t signing_key_raw() const { return static_cast<uint8_t>((signer_info >> 2) & 7u); }
  bool debug_allowed() const { return (policy & policy_bits::kDebug) != 0; }
  bool has_cpuid() const { return version >= 3; }
  bool has_mitigation_vectors() const { return version >= 5; }
};

// Parses exactly 1184 bytes. InvalidArgument naming the field on: wrong length, VERSION < 2,
// SIGNATURE_ALGO != 1, SIGNING_KEY reserved (2-6), signer_info bits 31:5 set, VMPL > 3, and
// non-zero bytes in ranges the report's version reserves (including 0x330..0x49F and the
// high 24 bytes of R and S). Unknown PLATFORM_INFO bits are accepted.
// Also rejected, as google/go-sev-guest does: POLICY bit 17 clear (the firmware refuses to launch
// such a guest, so no genuine report has it) and POLICY bits 63:26 set when VERSION <= 5 (newer
// versions may define them); reserved TCB_VERSION bytes in any of the four TCBs when the layout
// is known (v3+ with recognised CPUID: that product's layout; v2: bytes 4-5, reserved in both).
Result<AttestationReport> ParseReport(ByteSpan bytes);
// Byte-exact inverse of ParseReport (writes reserved fields as stored).
Bytes SerializeReport(const AttestationReport& report);
// The product the report names on its own (v3+ CPUID); nullopt for v2 or unknown CPUID.
std::optional<Product> ReportProduct(const AttestationReport& report);

// A hint for reports without CPUID (v2): kTurin when CHIP_ID is non-zero and its last 56 bytes
// are zero (Turin chip ids are 8 bytes), otherwise kUnknown. Never a substitute for the chain.
Product GuessProductFromChipId(const std::array<uint8_t, 64>& chip_id);

// Names of set bits, e.g. {"SMT", "RESERVED_MUST_BE_1", "DEBUG"}; unknown bits as "BIT_n".
std::vector<std::string> PolicyFlagNames(uint64_t policy);
std::vector<std::string> PlatformInfoFlagNames(uint64_t platform_info);
std::string SigningKeyName(uint8_t raw);  // "VCEK", "VLEK", "NONE", "RESERVED(n)"

}  // namespace vhsm::snp
