// amd_certs.cc: VCEK/VLEK extension decoding and report cross-checks.
#include "snp/amd_certs.h"

#include <cstdio>

#include "snp/tcb.h"

namespace vhsm::snp {
namespace {

struct SplSlot {
  const char* oid_suffix;
  const char* name;
  std::optional<uint8_t> AmdCertInfo::*field;
};

constexpr SplSlot kSplSlots[] = {
    {".3.1", "blSPL", &AmdCertInfo::bl_spl},    {".3.2", "teeSPL", &AmdCertInfo::tee_spl},
    {".3.3", "snpSPL", &AmdCertInfo::snp_spl},  {".3.4", "spl_4", &AmdCertInfo::spl_4},
    {".3.5", "spl_5", &AmdCertInfo::spl_5},     {".3.6", "spl_6", &AmdCertInfo::spl_6},
    {".3.7", "spl_7", &AmdCertInfo::spl_7},     {".3.8", "ucodeSPL", &AmdCertInfo::ucode_spl},
    {".3.9", "fmcSPL", &AmdCertInfo::fmc_spl},
};

Result<std::string> ParseIa5(ByteSpan value, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(ByteSpan s, crypto::ReadDerExact(value, 0x16, what));  // IA5String
  if (s.size() > kMaxAmdStringBytes) {
    return InvalidArgumentError(std::string(what) + ": " + std::to_string(s.size()) + " bytes, at most " +
                                std::to_string(kMaxAmdStringBytes));
  }
  for (uint8_t c : s) {
    if (c < 0x20 || c > 0x7E) return InvalidArgumentError(std::string(what) + ": non-printable character");
  }
  return std::string(AsStringView(s));
}

Result<Bytes> ParseHwId(ByteSpan value) {
  if (value.size() == 64 || value.size() == 8) return Bytes(value.begin(), value.end());
  // OCTET STRING-wrapped variant (04 40 <64 bytes> or 04 08 <8 bytes>).
  if ((value.size() == 66 || value.size() == 10) && value[0] == 0x04) {
    auto inner = crypto::ReadDerExact(value, 0x04, "leaf.hwID");
    if (inner.ok() && (inner->size() == 64 || inner->size() == 8)) return Bytes(inner->begin(), inner->end());
  }
  return InvalidArgumentError("leaf.hwID: " + std::to_string(value.size()) +
                              " bytes, expected 64 or 8 raw bytes (or an OCTET STRING of them)");
}

std::string ByteHex(uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%u", static_cast<unsigned>(v));
  return buf;
}

}  // namespace

Result<AmdCertInfo> ParseAmdExtensions(const std::vector<crypto::Extension>& extensions) {
  AmdCertInfo info;
  const std::string arc = kAmdOidArc;
  std::vector<std::string> seen;
  for (const crypto::Extension& ext : extensions) {
    if (ext.oid.rfind(arc, 0) != 0 || ext.oid.size() == arc.size() || ext.oid[arc.size()] != '.') continue;
    for (const std::string& s : seen) {
      if (s == ext.oid) return InvalidArgumentError("leaf extension " + ext.oid + ": appears more than once");
    }
    seen.push_back(ext.oid);
    std::string suffix = ext.oid.substr(arc.size());
    if (suffix == ".1") {
      VHSM_ASSIGN_OR_RETURN(ByteSpan i, crypto::ReadDerExact(ext.value, 0x02, "leaf.structVersion"));
      VHSM_ASSIGN_OR_RETURN(info.struct_version, crypto::DerIntegerToUint(i, 0xFFFFFFFF, "leaf.structVersion"));
    } else if (suffix == ".2") {
      VHSM_ASSIGN_OR_RETURN(info.product_name, ParseIa5(ext.value, "leaf.productName"));
    } else if (suffix == ".4") {
      VHSM_ASSIGN_OR_RETURN(info.hw_id, ParseHwId(ext.value));
      info.hw_id_was_octet_string = ext.value.size() != info.hw_id->size();
    } else if (suffix == ".5") {
      VHSM_ASSIGN_OR_RETURN(info.csp_id, ParseIa5(ext.value, "leaf.cspID"));
    } else {
      for (const SplSlot& slot : kSplSlots) {
        if (suffix != slot.oid_suffix) continue;
        std::string what = std::string("leaf.") + slot.name;
        VHSM_ASSIGN_OR_RETURN(ByteSpan i, crypto::ReadDerExact(ext.value, 0x02, what));
        VHSM_ASSIGN_OR_RETURN(uint64_t v, crypto::DerIntegerToUint(i, 255, what));
        info.*(slot.field) = static_cast<uint8_t>(v);
      }
      // Other suffixes in the arc are unknown additions: ignored, like unknown PLATFORM_INFO bits.
    }
  }
  return info;
}

Result<AmdCertInfo> ParseAmdCertInfo(const crypto::Certificate& cert) {
  return ParseAmdExtensions(cert.extensions());
}

Status CheckTcbMatchesCert(const AmdCertInfo& info, uint64_t reported_tcb, Product product) {
  auto byte_at = [&](int i) { return static_cast<uint8_t>((reported_tcb >> (8 * i)) & 0xFF); };
  struct Slot {
    const char* name;
    const std::optional<uint8_t>* value;
    int byte;
    bool required;
  };
  const bool turin = HasTurinTcbLayout(product);
  std::vector<Slot> slots;
  if (turin) {
    slots = {{"fmcSPL", &info.fmc_spl, 0, true}, {"blSPL", &info.bl_spl, 1, true},
             {"teeSPL", &info.tee_spl, 2, true}, {"snpSPL", &info.snp_spl, 3, true},
             {"spl_5", &info.spl_5, 4, false},   {"spl_6", &info.spl_6, 5, false},
             {"spl_7", &info.spl_7, 6, false},   {"ucodeSPL", &info.ucode_spl, 7, true}};
    if (info.spl_4.has_value()) {
      return PermissionDeniedError("leaf.spl_4: present, but Turin certificates have no spl_4");
    }
  } else {
    slots = {{"blSPL", &info.bl_spl, 0, true},  {"teeSPL", &info.tee_spl, 1, true},
             {"spl_4", &info.spl_4, 2, false},  {"spl_5", &info.spl_5, 3, false},
             {"spl_6", &info.spl_6, 4, false},  {"spl_7", &info.spl_7, 5, false},
             {"snpSPL", &info.snp_spl, 6, true}, {"ucodeSPL", &info.ucode_spl, 7, true}};
    if (info.fmc_spl.has_value()) {
      return PermissionDeniedError("leaf.fmcSPL: present, but " + std::string(ProductName(product)) +
                                   " has no FMC in its TCB layout");
    }
  }
  for (const Slot& s : slots) {
    if (!s.value->has_value()) {
      if (s.required) {
        return PermissionDeniedError(std::string("leaf.") + s.name + ": extension missing, REPORTED_TCB byte " +
                                     std::to_string(s.byte) + " is " + ByteHex(byte_at(s.byte)));
      }
      continue;
    }
    if (**s.value != byte_at(s.byte)) {
      return PermissionDeniedError(std::string("leaf.") + s.name + ": certificate says " + ByteHex(**s.value) +
                                   ", REPORTED_TCB byte " + std::to_string(s.byte) + " has " +
                                   ByteHex(byte_at(s.byte)));
    }
  }
  return OkStatus();
}

Status CheckHwIdMatchesChipId(const AmdCertInfo& info, ByteSpan chip_id, Product product) {
  if (!info.hw_id.has_value()) return PermissionDeniedError("leaf.hwID: missing from the VCEK");
  const Bytes& hw = *info.hw_id;
  const size_t want = HasTurinTcbLayout(product) ? 8 : 64;
  if (hw.size() != want) {
    return PermissionDeniedError("leaf.hwID: " + std::to_string(hw.size()) + " bytes, " +
                                 std::string(ProductName(product)) + " expects " + std::to_string(want));
  }
  if (chip_id.size() != 64) return InvalidArgumentError("report.chip_id: expected 64 bytes");
  ByteSpan prefix = chip_id.first(want);
  bool equal = std::equal(prefix.begin(), prefix.end(), hw.begin());
  if (!equal || !IsAllZero(chip_id.subspan(want))) {
    return PermissionDeniedError("report.chip_id: " + HexEncode(chip_id) + " does not match the VCEK hwID " +
                                 HexEncode(hw));
  }
  return OkStatus();
}

}  // namespace vhsm::snp
