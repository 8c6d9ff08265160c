// tcb.cc: TCB_VERSION layouts (snp-facts.md section 2). Milan and Genoa share one layout; Turin
// moved the SPLs down and put the FMC SPL in byte 0. Unknown products use the Milan/Genoa layout.
#include "snp/tcb.h"

namespace vhsm::snp {
namespace {

uint8_t ByteAt(uint64_t raw, int index) { return static_cast<uint8_t>(raw >> (8 * index)); }
uint64_t Place(uint8_t value, int index) { return static_cast<uint64_t>(value) << (8 * index); }

}  // namespace

TcbParts DecodeTcb(uint64_t raw, Product product) {
  TcbParts parts;
  if (HasTurinTcbLayout(product)) {
    parts.fmc = ByteAt(raw, 0);
    parts.bootloader = ByteAt(raw, 1);
    parts.tee = ByteAt(raw, 2);
    parts.snp = ByteAt(raw, 3);
  } else {
    parts.bootloader = ByteAt(raw, 0);
    parts.tee = ByteAt(raw, 1);
    parts.snp = ByteAt(raw, 6);
  }
  parts.microcode = ByteAt(raw, 7);
  return parts;
}

uint64_t EncodeTcb(const TcbParts& parts, Product product) {
  uint64_t raw = Place(parts.microcode, 7);
  if (HasTurinTcbLayout(product)) {
    raw |= Place(parts.fmc.value_or(0), 0) | Place(parts.bootloader, 1) | Place(parts.tee, 2) |
           Place(parts.snp, 3);
  } else {
    raw |= Place(parts.bootloader, 0) | Place(parts.tee, 1) | Place(parts.snp, 6);
  }
  return raw;
}

bool TcbAtLeast(const TcbParts& have, const TcbParts& min) {
  if (have.fmc.has_value() && min.fmc.has_value() && *have.fmc < *min.fmc) return false;
  return have.bootloader >= min.bootloader && have.tee >= min.tee && have.snp >= min.snp &&
         have.microcode >= min.microcode;
}

uint64_t TcbReservedMask(Product product) {
  // Turin: bytes 4-6 reserved. Milan/Genoa: bytes 2-5 reserved.
  return HasTurinTcbLayout(product) ? 0x00FFFFFF00000000ull : 0x0000FFFFFFFF0000ull;
}

std::string TcbToString(const TcbParts& parts) {
  std::string out;
  if (parts.fmc.has_value()) out += "fmc=" + std::to_string(*parts.fmc) + " ";
  out += "bl=" + std::to_string(parts.bootloader) + " tee=" + std::to_string(parts.tee) +
         " snp=" + std::to_string(parts.snp) + " ucode=" + std::to_string(parts.microcode);
  return out;
}

}  // namespace vhsm::snp
