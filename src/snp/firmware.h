// firmware.h: the AMD secure processor as the guest sees it. vhsmd asks it for attestation
// reports and derived (sealing) keys. Implementations: configfs-tsm and /dev/sev-guest on real
// SEV-SNP guests, and sim::SimFirmware for tests and demos. Chosen by configuration only.
// Spec: AMD SEV-SNP Firmware ABI 56860 (MSG_REPORT_REQ, MSG_KEY_REQ); snp-facts.md 8-10.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"

namespace vhsm::snp {

// Extended-report certificate table GUIDs (RFC 4122 byte order, as stored in the table).
using Guid = std::array<uint8_t, 16>;
inline constexpr Guid kGuidArk = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                  0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};
inline constexpr Guid kGuidAsk = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                  0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
inline constexpr Guid kGuidVcek = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                   0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
inline constexpr Guid kGuidVlek = {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                                   0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1};
inline constexpr Guid kGuidCrl = {0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
                                  0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea};

struct CertTableEntry {
  Guid guid{};
  Bytes data;  // DER certificate or CRL
};

// Certificates as DER, any of which may be empty (absent).
struct CertificateSet {
  Bytes ark;
  Bytes ask;   // ASK, or ASVK when the leaf is a VLEK
  Bytes vcek;
  Bytes vlek;
  Bytes crl;
};

struct ReportResponse {
  Bytes report;      // exactly kReportSize bytes
  Bytes cert_table;  // raw extended-report certificate blob (may be empty)
};

// guest_field_select bits for MSG_KEY_REQ.
namespace field_select {
inline constexpr uint64_t kGuestPolicy = 1ull << 0;
inline constexpr uint64_t kImageId = 1ull << 1;
inline constexpr uint64_t kFamilyId = 1ull << 2;
inline constexpr uint64_t kMeasurement = 1ull << 3;
inline constexpr uint64_t kGuestSvn = 1ull << 4;
inline constexpr uint64_t kTcbVersion = 1ull << 5;
inline constexpr uint64_t kLaunchMitVector = 1ull << 6;
inline constexpr uint64_t kAllKnown = (1ull << 7) - 1;
}  // namespace field_select

enum class RootKey : uint32_t { kVcek = 0, kVmrk = 1 };

// MSG_KEY_REQ.
struct DerivedKeyRequest {
  RootKey root_key_select = RootKey::kVcek;
  uint64_t guest_field_select = 0;
  uint32_t vmpl = 0;
  uint32_t guest_svn = 0;
  uint64_t tcb_version = 0;
  uint64_t launch_mit_vector = 0;  // message version 2 only
};

class Firmware {
 public:
  virtual ~Firmware() = default;
  // "sim", "configfs-tsm", "sev-guest".
  virtual std::string_view Name() const = 0;
  // An attestation report with REPORT_DATA = report_data, requested at `vmpl` (0-3), plus the
  // host-supplied certificate table if any. InvalidArgument for vmpl > 3.
  virtual Result<ReportResponse> GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) = 0;
  // A 32-byte key per MSG_KEY_REQ semantics.
  virtual Result<SecretBytes> GetDerivedKey(const DerivedKeyRequest& request) = 0;
  // The certificates the platform can supply (may be all empty on real hardware without
  // host-provided certificates).
  virtual Result<CertificateSet> GetCertificates() = 0;
};

// Extended-report certificate table codec (24-byte entries {GUID, u32 offset, u32 length},
// zero-terminated; offsets from the blob start). Parse is bounds-checked and size-limited.
Result<std::vector<CertTableEntry>> ParseCertTable(ByteSpan blob);
Bytes SerializeCertTable(const std::vector<CertTableEntry>& entries);
CertificateSet CertificateSetFromTable(const std::vector<CertTableEntry>& entries);

}  // namespace vhsm::snp
