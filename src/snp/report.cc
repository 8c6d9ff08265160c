// report.cc: ATTESTATION_REPORT codec. Reads every field in offset order through ByteReader, then
// checks the structure the report's VERSION defines. Serialise writes the same fields back, so
// SerializeReport(ParseReport(x)) == x for every accepted x.
// Spec: AMD SEV-SNP Firmware ABI 56860 rev 1.55 Table 22, rev 1.58 (v5); snp-facts.md 1-5.
#include "snp/report.h"

#include <cstdio>
#include <string_view>

#include "base/byte_reader.h"

namespace vhsm::snp {
namespace {

// Significant bytes of an ECDSA P-384 scalar inside the 72-byte little-endian R/S fields.
constexpr size_t kP384ScalarSize = 48;
// Version whose layout and reserved ranges we know; later versions are parsed with it.
constexpr uint32_t kNewestKnownVersion = 5;

std::string Hex(uint64_t v, int width) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

template <size_t N>
Status ReadArray(ByteReader& r, std::array<uint8_t, N>& out, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(ByteSpan b, r.ReadBytes(N, what));
  std::copy(b.begin(), b.end(), out.begin());
  return OkStatus();
}

// Fails naming the field, its range and the first non-zero byte's absolute offset.
Status RequireZero(ByteSpan data, size_t base_offset, std::string_view field) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != 0) {
      return InvalidArgumentError(
          "report." + std::string(field) + " (" + Hex(base_offset, 3) + ".." +
          Hex(base_offset + data.size() - 1, 3) + "): reserved, want zero, found " +
          Hex(data[i], 2) + " at offset " + Hex(base_offset + i, 3));
    }
  }
  return OkStatus();
}

Status RequireZeroU64(uint64_t v, size_t offset, std::string_view field) {
  uint8_t b[8];
  StoreU64Le(b, v);
  return RequireZero(b, offset, field);
}

Status RequireZeroU32(uint32_t v, size_t offset, std::string_view field) {
  uint8_t b[4];
  StoreU32Le(b, v);
  return RequireZero(b, offset, field);
}

Status CheckTcbReserved(const AttestationReport& rep) {
  std::optional<Product> product = ReportProduct(rep);
  uint64_t mask;
  std::string layout;
  if (product.has_value()) {
    mask = TcbReservedMask(*product);
    layout = std::string(ProductName(*product)) + " layout";
  } else if (rep.version == 2) {
    // No CPUID: only bytes 4-5 are reserved in both the Milan/Genoa and the Turin layouts.
    mask = TcbReservedMask(Product::kMilan) & TcbReservedMask(Product::kTurin);
    layout = "bytes 4-5, reserved in every layout";
  } else {
    return OkStatus();  // unrecognised CPUID: layout unknown, nothing to check
  }
  struct Tcb {
    uint64_t value;
    size_t offset;
    const char* name;
  };
  const Tcb tcbs[] = {{rep.current_tcb, 0x038, "current_tcb"},
                      {rep.reported_tcb, 0x180, "reported_tcb"},
                      {rep.committed_tcb, 0x1E0, "committed_tcb"},
                      {rep.launch_tcb, 0x1F0, "launch_tcb"}};
  for (const Tcb& t : tcbs) {
    uint64_t bad = t.value & mask;
    if (bad == 0) continue;
    size_t byte = 0;
    while (((bad >> (8 * byte)) & 0xFF) == 0) ++byte;
    return InvalidArgumentError("report." + std::string(t.name) + " (" + Hex(t.offset, 3) +
                                "): reserved byte " + std::to_string(byte) + " (" + layout +
                                ") must be zero, found " + Hex((t.value >> (8 * byte)) & 0xFF, 2) +
                                " at offset " + Hex(t.offset + byte, 3));
  }
  return OkStatus();
}

Status Validate(const AttestationReport& rep) {
  if (rep.version < 2) {
    return InvalidArgumentError("report.version (0x000): got " + std::to_string(rep.version) +
                                ", want >= 2");
  }
  if ((rep.policy & policy_bits::kReservedMustBeOne) == 0) {
    return InvalidArgumentError("report.policy (0x008): bit 17 is reserved and must be 1, got " +
                                Hex(rep.policy, 16));
  }
  if (rep.version <= kNewestKnownVersion && (rep.policy & policy_bits::kReservedMask) != 0) {
    return InvalidArgumentError("report.policy (0x008): bits 63:26 are reserved and must be zero, got " +
                                Hex(rep.policy, 16));
  }
  if (rep.vmpl > 3) {
    return InvalidArgumentError("report.vmpl (0x030): got " + std::to_string(rep.vmpl) + ", want 0-3");
  }
  if (rep.signature_algo != kSignatureAlgoEcdsaP384Sha384) {
    return InvalidArgumentError("report.signature_algo (0x034): got " +
                                std::to_string(rep.signature_algo) +
                                ", want 1 (ECDSA P-384 with SHA-384)");
  }
  if ((rep.signer_info >> 5) != 0) {
    return InvalidArgumentError("report.signer_info (0x048): bits 31:5 are reserved and must be zero, got " +
                                Hex(rep.signer_info, 8));
  }
  uint8_t key = rep.signing_key_raw();
  if (key >= 2 && key <= 6) {
    return InvalidArgumentError("report.signer_info.signing_key (0x048 bits 4:2): got reserved value " +
                                std::to_string(key) + ", want 0 (VCEK), 1 (VLEK) or 7 (none)");
  }
  VHSM_RETURN_IF_ERROR(RequireZeroU32(rep.reserved_04c, 0x04C, "reserved_04c"));
  if (rep.version == 2) {
    // v2 has no CPUID bytes: 0x188..0x19F is one 24-byte reserved range.
    std::array<uint8_t, 24> r{};
    r[0] = rep.cpuid_fam_id;
    r[1] = rep.cpuid_mod_id;
    r[2] = rep.cpuid_step;
    std::copy(rep.reserved_18b.begin(), rep.reserved_18b.end(), r.begin() + 3);
    VHSM_RETURN_IF_ERROR(RequireZero(r, 0x188, "reserved_188 (v2: no CPUID fields)"));
  } else {
    VHSM_RETURN_IF_ERROR(RequireZero(rep.reserved_18b, 0x18B, "reserved_18b"));
  }
  VHSM_RETURN_IF_ERROR(RequireZero(std::array<uint8_t, 1>{rep.reserved_1eb}, 0x1EB, "reserved_1eb"));
  VHSM_RETURN_IF_ERROR(RequireZero(std::array<uint8_t, 1>{rep.reserved_1ef}, 0x1EF, "reserved_1ef"));
  if (rep.version < 5) {
    // The mitigation vectors arrived with v5; before that 0x1F8..0x29F is all reserved.
    VHSM_RETURN_IF_ERROR(RequireZeroU64(rep.launch_mit_vector, 0x1F8, "launch_mit_vector (reserved before v5)"));
    VHSM_RETURN_IF_ERROR(RequireZeroU64(rep.current_mit_vector, 0x200, "current_mit_vector (reserved before v5)"));
  }
  VHSM_RETURN_IF_ERROR(RequireZero(rep.reserved_208, 0x208, "reserved_208"));
  VHSM_RETURN_IF_ERROR(CheckTcbReserved(rep));
  // R and S hold 48-byte P-384 scalars, little-endian in 72-byte fields: the top 24 must be zero.
  VHSM_RETURN_IF_ERROR(RequireZero(ByteSpan(rep.signature_r).subspan(kP384ScalarSize),
                                   kSignatureOffset + kP384ScalarSize, "signature_r high bytes"));
  VHSM_RETURN_IF_ERROR(RequireZero(ByteSpan(rep.signature_s).subspan(kP384ScalarSize),
                                   kSignatureOffset + kSigComponentSize + kP384ScalarSize,
                                   "signature_s high bytes"));
  VHSM_RETURN_IF_ERROR(RequireZero(rep.reserved_330, 0x330, "reserved_330"));
  return OkStatus();
}

Status ReadFields(ByteReader& r, AttestationReport& rep) {
  VHSM_ASSIGN_OR_RETURN(rep.version, r.ReadU32Le("report.version"));
  VHSM_ASSIGN_OR_RETURN(rep.guest_svn, r.ReadU32Le("report.guest_svn"));
  VHSM_ASSIGN_OR_RETURN(rep.policy, r.ReadU64Le("report.policy"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.family_id, "report.family_id"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.image_id, "report.image_id"));
  VHSM_ASSIGN_OR_RETURN(rep.vmpl, r.ReadU32Le("report.vmpl"));
  VHSM_ASSIGN_OR_RETURN(rep.signature_algo, r.ReadU32Le("report.signature_algo"));
  VHSM_ASSIGN_OR_RETURN(rep.current_tcb, r.ReadU64Le("report.current_tcb"));
  VHSM_ASSIGN_OR_RETURN(rep.platform_info, r.ReadU64Le("report.platform_info"));
  VHSM_ASSIGN_OR_RETURN(rep.signer_info, r.ReadU32Le("report.signer_info"));
  VHSM_ASSIGN_OR_RETURN(rep.reserved_04c, r.ReadU32Le("report.reserved_04c"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.report_data, "report.report_data"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.measurement, "report.measurement"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.host_data, "report.host_data"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.id_key_digest, "report.id_key_digest"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.author_key_digest, "report.author_key_digest"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.report_id, "report.report_id"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.report_id_ma, "report.report_id_ma"));
  VHSM_ASSIGN_OR_RETURN(rep.reported_tcb, r.ReadU64Le("report.reported_tcb"));
  VHSM_ASSIGN_OR_RETURN(rep.cpuid_fam_id, r.ReadU8("report.cpuid_fam_id"));
  VHSM_ASSIGN_OR_RETURN(rep.cpuid_mod_id, r.ReadU8("report.cpuid_mod_id"));
  VHSM_ASSIGN_OR_RETURN(rep.cpuid_step, r.ReadU8("report.cpuid_step"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.reserved_18b, "report.reserved_18b"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.chip_id, "report.chip_id"));
  VHSM_ASSIGN_OR_RETURN(rep.committed_tcb, r.ReadU64Le("report.committed_tcb"));
  VHSM_ASSIGN_OR_RETURN(rep.current_version.build, r.ReadU8("report.current_build"));
  VHSM_ASSIGN_OR_RETURN(rep.current_version.minor, r.ReadU8("report.current_minor"));
  VHSM_ASSIGN_OR_RETURN(rep.current_version.major, r.ReadU8("report.current_major"));
  VHSM_ASSIGN_OR_RETURN(rep.reserved_1eb, r.ReadU8("report.reserved_1eb"));
  VHSM_ASSIGN_OR_RETURN(rep.committed_version.build, r.ReadU8("report.committed_build"));
  VHSM_ASSIGN_OR_RETURN(rep.committed_version.minor, r.ReadU8("report.committed_minor"));
  VHSM_ASSIGN_OR_RETURN(rep.committed_version.major, r.ReadU8("report.committed_major"));
  VHSM_ASSIGN_OR_RETURN(rep.reserved_1ef, r.ReadU8("report.reserved_1ef"));
  VHSM_ASSIGN_OR_RETURN(rep.launch_tcb, r.ReadU64Le("report.launch_tcb"));
  VHSM_ASSIGN_OR_RETURN(rep.launch_mit_vector, r.ReadU64Le("report.launch_mit_vector"));
  VHSM_ASSIGN_OR_RETURN(rep.current_mit_vector, r.ReadU64Le("report.current_mit_vector"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.reserved_208, "report.reserved_208"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.signature_r, "report.signature_r"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.signature_s, "report.signature_s"));
  VHSM_RETURN_IF_ERROR(ReadArray(r, rep.reserved_330, "report.reserved_330"));
  VHSM_CHECK(r.empty(), "the report struct covers exactly kReportSize bytes");
  return OkStatus();
}

std::vector<std::string> BitNames(uint64_t value, int first_bit, const std::string_view* names,
                                  int name_count) {
  std::vector<std::string> out;
  for (int bit = first_bit; bit < 64; ++bit) {
    if (((value >> bit) & 1u) == 0) continue;
    int idx = bit - first_bit;
    if (idx < name_count && !names[idx].empty()) {
      out.emplace_back(names[idx]);
    } else {
      out.push_back("BIT_" + std::to_string(bit));
    }
  }
  return out;
}

}  // namespace

Result<AttestationReport> ParseReport(ByteSpan bytes) {
  if (bytes.size() != kReportSize) {
    return InvalidArgumentError("report: got " + std::to_string(bytes.size()) + " bytes, want " +
                                std::to_string(kReportSize));
  }
  AttestationReport rep;
  ByteReader reader(bytes);
  VHSM_RETURN_IF_ERROR(ReadFields(reader, rep));
  VHSM_RETURN_IF_ERROR(Validate(rep));
  return rep;
}

Bytes SerializeReport(const AttestationReport& rep) {
  ByteWriter w;
  w.WriteU32Le(rep.version);
  w.WriteU32Le(rep.guest_svn);
  w.WriteU64Le(rep.policy);
  w.WriteBytes(rep.family_id);
  w.WriteBytes(rep.image_id);
  w.WriteU32Le(rep.vmpl);
  w.WriteU32Le(rep.signature_algo);
  w.WriteU64Le(rep.current_tcb);
  w.WriteU64Le(rep.platform_info);
  w.WriteU32Le(rep.signer_info);
  w.WriteU32Le(rep.reserved_04c);
  w.WriteBytes(rep.report_data);
  w.WriteBytes(rep.measurement);
  w.WriteBytes(rep.host_data);
  w.WriteBytes(rep.id_key_digest);
  w.WriteBytes(rep.author_key_digest);
  w.WriteBytes(rep.report_id);
  w.WriteBytes(rep.report_id_ma);
  w.WriteU64Le(rep.reported_tcb);
  w.WriteU8(rep.cpuid_fam_id);
  w.WriteU8(rep.cpuid_mod_id);
  w.WriteU8(rep.cpuid_step);
  w.WriteBytes(rep.reserved_18b);
  w.WriteBytes(rep.chip_id);
  w.WriteU64Le(rep.committed_tcb);
  w.WriteU8(rep.current_version.build);
  w.WriteU8(rep.current_version.minor);
  w.WriteU8(rep.current_version.major);
  w.WriteU8(rep.reserved_1eb);
  w.WriteU8(rep.committed_version.build);
  w.WriteU8(rep.committed_version.minor);
  w.WriteU8(rep.committed_version.major);
  w.WriteU8(rep.reserved_1ef);
  w.WriteU64Le(rep.launch_tcb);
  w.WriteU64Le(rep.launch_mit_vector);
  w.WriteU64Le(rep.current_mit_vector);
  w.WriteBytes(rep.reserved_208);
  w.WriteBytes(rep.signature_r);
  w.WriteBytes(rep.signature_s);
  w.WriteBytes(rep.reserved_330);
  VHSM_CHECK(w.size() == kReportSize, "AttestationReport fields add up to 1184 bytes");
  return w.Take();
}

std::optional<Product> ReportProduct(const AttestationReport& report) {
  if (!report.has_cpuid()) return std::nullopt;
  return ProductFromCpuid(report.cpuid_fam_id, report.cpuid_mod_id);
}

Product GuessProductFromChipId(const std::array<uint8_t, 64>& chip_id) {
  ByteSpan all(chip_id);
  if (IsAllZero(all)) return Product::kUnknown;  // masked (MASK_CHIP_ID) or absent
  return IsAllZero(all.subspan(8)) ? Product::kTurin : Product::kUnknown;
}

std::vector<std::string> PolicyFlagNames(uint64_t policy) {
  // Bits 15:0 are the ABI major/minor numbers, not flags.
  static constexpr std::string_view kNames[] = {
      "SMT",           "RESERVED_MUST_BE_1", "MIGRATE_MA",      "DEBUG",
      "SINGLE_SOCKET", "CXL_ALLOW",          "MEM_AES_256_XTS", "RAPL_DIS",
      "CIPHERTEXT_HIDING", "PAGE_SWAP_DISABLE"};
  return BitNames(policy, 16, kNames, static_cast<int>(std::size(kNames)));
}

std::vector<std::string> PlatformInfoFlagNames(uint64_t platform_info) {
  // Bit 6 is unnamed (seen set on a genuine Turin report): reported as BIT_6.
  static constexpr std::string_view kNames[] = {
      "SMT_EN", "TSME_EN", "ECC_EN", "RAPL_DIS", "CIPHERTEXT_HIDING_EN", "ALIAS_CHECK_COMPLETE",
      "",       "SEV_TIO_EN"};
  return BitNames(platform_info, 0, kNames, static_cast<int>(std::size(kNames)));
}

std::string SigningKeyName(uint8_t raw) {
  switch (raw) {
    case 0: return "VCEK";
    case 1: return "VLEK";
    case 7: return "NONE";
    default: return "RESERVED(" + std::to_string(raw) + ")";
  }
}

}  // namespace vhsm::snp
