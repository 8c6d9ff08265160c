// synthetic_ovmf.h: builds small OVMF-like images (footer GUIDed table + "ASEV" metadata) for
// parser and digest tests, so error paths can be exercised without real firmware.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/byte_reader.h"
#include "base/bytes.h"
#include "snp/ovmf.h"

namespace vhsm::snp::testing {

struct SyntheticOvmf {
  size_t image_size = 2 * kPageSize;
  bool footer = true;
  bool metadata = true;
  std::optional<uint32_t> reset_eip = 0xFFFFF004;
  std::optional<uint32_t> hash_table_gpa;  // set to add the hash-table footer entry
  uint32_t metadata_offset_from_end = 0x800;
  uint32_t metadata_version = 1;
  std::vector<SevMetadataSection> sections = {
      {0x800000, 0x9000, SevSectionType::kSnpSecMem},
      {0x809000, 0x1000, SevSectionType::kSnpSecrets},
      {0x80A000, 0x1000, SevSectionType::kCpuid},
  };

  Bytes Build() const {
    Bytes img(image_size, 0);
    for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 7 + 3);
    // ASEV header + descriptors.
    ByteWriter m;
    m.WriteU32Le(0x56455341);
    m.WriteU32Le(static_cast<uint32_t>(16 + 12 * sections.size()));
    m.WriteU32Le(metadata_version);
    m.WriteU32Le(static_cast<uint32_t>(sections.size()));
    for (const auto& s : sections) {
      m.WriteU32Le(s.gpa);
      m.WriteU32Le(s.size);
      m.WriteU32Le(static_cast<uint32_t>(s.type));
    }
    const size_t meta_at = img.size() - metadata_offset_from_end;
    std::copy(m.bytes().begin(), m.bytes().end(), img.begin() + static_cast<long>(meta_at));

    // GUIDed table, built forwards: entries then footer; it ends 32 bytes before image end.
    ByteWriter t;
    auto entry = [&t](ByteSpan data, const Guid& g) {
      t.WriteBytes(data);
      t.WriteU16Le(static_cast<uint16_t>(data.size() + 18));
      t.WriteBytes(g);
    };
    if (reset_eip) {
      ByteWriter d;
      d.WriteU32Le(*reset_eip);
      entry(d.bytes(), EfiGuid("00f771de-1a7e-4fcb-890e-68c77e2fb44e"));
    }
    if (hash_table_gpa) {
      ByteWriter d;
      d.WriteU32Le(*hash_table_gpa);
      d.WriteU16Le(0x400);
      entry(d.bytes(), EfiGuid("7255371f-3a3b-4b04-927b-1da6efa8d454"));
    }
    if (metadata) {
      ByteWriter d;
      d.WriteU32Le(metadata_offset_from_end);
      entry(d.bytes(), EfiGuid("dc886566-984a-4798-a75e-5585a7bf67cc"));
    }
    if (footer) {
      t.WriteU16Le(static_cast<uint16_t>(t.size() + 18));
      t.WriteBytes(EfiGuid("96b582de-1fb2-45f7-baea-a366c55a082d"));
    }
    const size_t table_at = img.size() - 32 - t.size();
    std::copy(t.bytes().begin(), t.bytes().end(), img.begin() + static_cast<long>(table_at));
    return img;
  }
};

}  // namespace vhsm::snp::testing
