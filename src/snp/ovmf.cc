#include "snp/ovmf.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "base/byte_reader.h"

namespace vhsm::snp {
namespace {

constexpr Guid kFooterGuid = EfiGuid("96b582de-1fb2-45f7-baea-a366c55a082d");
constexpr Guid kSevEsResetBlockGuid = EfiGuid("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
constexpr Guid kSevMetadataGuid = EfiGuid("dc886566-984a-4798-a75e-5585a7bf67cc");
constexpr Guid kSevHashTableGuid = EfiGuid("7255371f-3a3b-4b04-927b-1da6efa8d454");

// The GUIDed table ends this many bytes before the end of the image (the reset vector follows).
constexpr size_t kFooterTailBytes = 32;
constexpr size_t kEntryHeaderBytes = 2 + 16;  // u16 length, GUID
constexpr uint32_t kSevMetadataSignature = 0x56455341;  // "ASEV" little-endian
constexpr size_t kSevMetadataHeaderBytes = 16;
constexpr size_t kSevDescriptorBytes = 12;
constexpr uint64_t kFourGiB = uint64_t{1} << 32;

std::string HexU(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool SameGuid(ByteSpan bytes, const Guid& guid) {
  return bytes.size() == guid.size() && std::equal(bytes.begin(), bytes.end(), guid.begin());
}

struct FooterEntry {
  ByteSpan guid;
  ByteSpan data;
};

// Splits the footer GUIDed table into entries, walking backwards from the footer.
Result<std::vector<FooterEntry>> ReadFooterTable(ByteSpan image) {
  if (image.size() < kFooterTailBytes + kEntryHeaderBytes) {
    return InvalidArgumentError("OVMF footer: image of " + std::to_string(image.size()) +
                                " bytes is too small to hold the GUIDed table footer");
  }
  const size_t table_end = image.size() - kFooterTailBytes;
  ByteSpan footer_guid = image.subspan(table_end - 16, 16);
  if (!SameGuid(footer_guid, kFooterGuid)) {
    return InvalidArgumentError(
        "OVMF footer: GUID 96b582de-1fb2-45f7-baea-a366c55a082d not found 32 bytes before the end "
        "of the image (not an OVMF image, or truncated)");
  }
  const size_t table_size = LoadU16Le(image.data() + table_end - kEntryHeaderBytes);
  if (table_size < kEntryHeaderBytes || table_size > table_end) {
    return InvalidArgumentError("OVMF footer: table size " + std::to_string(table_size) +
                                " is outside 18.." + std::to_string(table_end));
  }
  const size_t table_start = table_end - table_size;
  std::vector<FooterEntry> entries;
  size_t end = table_end - kEntryHeaderBytes;  // the footer entry covers the whole table
  while (end > table_start) {
    if (end - table_start < kEntryHeaderBytes) {
      return InvalidArgumentError("OVMF footer table: " + std::to_string(end - table_start) +
                                  " stray bytes at the start of the table, want an 18-byte entry");
    }
    const size_t len = LoadU16Le(image.data() + end - kEntryHeaderBytes);
    if (len < kEntryHeaderBytes || len > end - table_start) {
      return InvalidArgumentError("OVMF footer table: entry ending at offset " + HexU(end) +
                                  " has length " + std::to_string(len) + ", want 18.." +
                                  std::to_string(end - table_start));
    }
    entries.push_back({image.subspan(end - 16, 16), image.subspan(end - len, len - kEntryHeaderBytes)});
    end -= len;
  }
  return entries;
}

Result<uint32_t> EntryU32(const FooterEntry& e, std::string_view what) {
  ByteReader r(e.data);
  return r.ReadU32Le(what);
}

Status CheckSection(const SevMetadataSection& s, size_t index) {
  const std::string where = "OVMF SEV metadata: section " + std::to_string(index) + " (" +
                            std::string(SevSectionTypeName(s.type)) + ")";
  if (s.gpa % kPageSize != 0) {
    return InvalidArgumentError(where + ": gpa " + HexU(s.gpa) + " is not 4 KiB aligned");
  }
  if (s.size == 0 || s.size % kPageSize != 0) {
    return InvalidArgumentError(where + ": size " + HexU(s.size) +
                                " is not a non-zero multiple of 4 KiB");
  }
  if (s.size > kMaxSevSectionBytes) {
    return InvalidArgumentError(where + ": size " + HexU(s.size) + " exceeds the limit " +
                                HexU(kMaxSevSectionBytes));
  }
  if (uint64_t{s.gpa} + s.size > kFourGiB) {
    return InvalidArgumentError(where + ": gpa " + HexU(s.gpa) + " + size " + HexU(s.size) +
                                " crosses 4 GiB");
  }
  return OkStatus();
}

Result<std::vector<SevMetadataSection>> ReadSevMetadata(ByteSpan image, uint32_t offset_from_end) {
  if (offset_from_end < kSevMetadataHeaderBytes || offset_from_end > image.size()) {
    return InvalidArgumentError("OVMF SEV metadata: offset from image end " +
                                HexU(offset_from_end) + " is outside the image of " +
                                HexU(image.size()) + " bytes");
  }
  ByteReader r(image.subspan(image.size() - offset_from_end));
  VHSM_ASSIGN_OR_RETURN(uint32_t signature, r.ReadU32Le("OVMF SEV metadata signature"));
  if (signature != kSevMetadataSignature) {
    return InvalidArgumentError("OVMF SEV metadata: signature " + HexU(signature) +
                                ", want 0x56455341 (\"ASEV\")");
  }
  VHSM_ASSIGN_OR_RETURN(uint32_t size, r.ReadU32Le("OVMF SEV metadata size"));
  VHSM_ASSIGN_OR_RETURN(uint32_t version, r.ReadU32Le("OVMF SEV metadata version"));
  VHSM_ASSIGN_OR_RETURN(uint32_t count, r.ReadU32Le("OVMF SEV metadata section count"));
  if (version != 1) {
    return InvalidArgumentError("OVMF SEV metadata: version " + std::to_string(version) +
                                ", want 1");
  }
  if (count > kMaxSevMetadataSections) {
    return InvalidArgumentError("OVMF SEV metadata: " + std::to_string(count) +
                                " sections, limit " + std::to_string(kMaxSevMetadataSections));
  }
  const uint64_t want_size = kSevMetadataHeaderBytes + uint64_t{count} * kSevDescriptorBytes;
  if (size < want_size || size > offset_from_end) {
    return InvalidArgumentError("OVMF SEV metadata: size " + std::to_string(size) + " for " +
                                std::to_string(count) + " sections, want " +
                                std::to_string(want_size) + ".." + std::to_string(offset_from_end));
  }
  std::vector<SevMetadataSection> sections;
  sections.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    SevMetadataSection s;
    VHSM_ASSIGN_OR_RETURN(s.gpa, r.ReadU32Le("OVMF SEV metadata section gpa"));
    VHSM_ASSIGN_OR_RETURN(s.size, r.ReadU32Le("OVMF SEV metadata section size"));
    VHSM_ASSIGN_OR_RETURN(uint32_t type, r.ReadU32Le("OVMF SEV metadata section type"));
    switch (type) {
      case 1: case 2: case 3: case 4: case 0x10:
        s.type = static_cast<SevSectionType>(type);
        break;
      default:
        return InvalidArgumentError("OVMF SEV metadata: section " + std::to_string(i) +
                                    " has unknown type " + HexU(type) +
                                    ", want 1, 2, 3, 4 or 0x10");
    }
    VHSM_RETURN_IF_ERROR(CheckSection(s, i));
    sections.push_back(s);
  }
  return sections;
}

}  // namespace

std::string_view SevSectionTypeName(SevSectionType type) {
  switch (type) {
    case SevSectionType::kSnpSecMem: return "SNP_SEC_MEM";
    case SevSectionType::kSnpSecrets: return "SNP_SECRETS";
    case SevSectionType::kCpuid: return "CPUID";
    case SevSectionType::kSvsmCaa: return "SVSM_CAA";
    case SevSectionType::kSnpKernelHashes: return "SNP_KERNEL_HASHES";
  }
  return "UNKNOWN";
}

bool OvmfInfo::HasSnpKernelHashes() const {
  if (!sev_hash_table_gpa.has_value()) return false;
  return std::any_of(sections.begin(), sections.end(), [](const SevMetadataSection& s) {
    return s.type == SevSectionType::kSnpKernelHashes;
  });
}

Result<OvmfInfo> ParseOvmf(ByteSpan image) {
  if (image.empty()) return InvalidArgumentError("OVMF image: empty file");
  if (image.size() > kMaxOvmfBytes) {
    return ResourceExhaustedError("OVMF image: " + std::to_string(image.size()) +
                                  " bytes, limit " + std::to_string(kMaxOvmfBytes));
  }
  if (image.size() % kPageSize != 0) {
    return InvalidArgumentError("OVMF image: size " + std::to_string(image.size()) +
                                " is not a multiple of 4096 (truncated?)");
  }
  VHSM_ASSIGN_OR_RETURN(std::vector<FooterEntry> entries, ReadFooterTable(image));

  OvmfInfo info;
  info.image_size = image.size();
  info.gpa_base = kFourGiB - image.size();
  std::optional<uint32_t> metadata_offset;
  for (const FooterEntry& e : entries) {
    if (SameGuid(e.guid, kSevEsResetBlockGuid)) {
      VHSM_ASSIGN_OR_RETURN(info.sev_es_reset_eip, EntryU32(e, "OVMF SEV-ES reset block EIP"));
    } else if (SameGuid(e.guid, kSevMetadataGuid)) {
      VHSM_ASSIGN_OR_RETURN(metadata_offset, EntryU32(e, "OVMF SEV metadata offset"));
    } else if (SameGuid(e.guid, kSevHashTableGuid)) {
      ByteReader r(e.data);
      VHSM_ASSIGN_OR_RETURN(info.sev_hash_table_gpa, r.ReadU32Le("OVMF SEV hash table GPA"));
      if (r.remaining() >= 2) {
        VHSM_ASSIGN_OR_RETURN(info.sev_hash_table_size, r.ReadU16Le("OVMF SEV hash table size"));
      }
    }
  }
  if (!metadata_offset.has_value()) {
    return InvalidArgumentError(
        "OVMF SEV metadata: GUID dc886566-984a-4798-a75e-5585a7bf67cc not in the footer table "
        "(this OVMF build has no SEV metadata; it cannot launch an SEV-SNP guest)");
  }
  VHSM_ASSIGN_OR_RETURN(info.sections, ReadSevMetadata(image, *metadata_offset));
  return info;
}

}  // namespace vhsm::snp
