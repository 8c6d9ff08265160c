// tcb.h: TCB_VERSION (8 bytes, little-endian u64) decoded per product. Milan/Genoa:
// byte0 bootloader, byte1 tee, byte6 snp, byte7 microcode. Turin: byte0 fmc, byte1 bootloader,
// byte2 tee, byte3 snp, byte7 microcode. Comparison is per component, never as one integer.
// Spec: AMD SEV-SNP Firmware ABI 56860 (TCB_VERSION); shared/docs/snp-facts.md section 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "snp/product.h"

namespace vhsm::snp {

struct TcbParts {
  std::optional<uint8_t> fmc;  // Turin only
  uint8_t bootloader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;
  friend bool operator==(const TcbParts&, const TcbParts&) = default;
};

TcbParts DecodeTcb(uint64_t raw, Product product);
// Inverse of DecodeTcb (reserved bytes zero). fmc is ignored unless the product is Turin.
uint64_t EncodeTcb(const TcbParts& parts, Product product);
// True if every component of `have` is >= the same component of `min` (fmc only when both set).
bool TcbAtLeast(const TcbParts& have, const TcbParts& min);
// Bytes that are reserved for the product's layout (must be zero in real TCB values).
uint64_t TcbReservedMask(Product product);
// "bl=3 tee=0 snp=8 ucode=115" (+ "fmc=N " first on Turin).
std::string TcbToString(const TcbParts& parts);

}  // namespace vhsm::snp
