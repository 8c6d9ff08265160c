// product.h: AMD EPYC product lines that have their own ARK/ASK, KDS path and TCB layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/status.h"

namespace vhsm::snp {

enum class Product { kUnknown = 0, kMilan, kGenoa, kTurin };

// "Milan", "Genoa", "Turin" (also the KDS path segment); "unknown".
std::string_view ProductName(Product p);
// Accepts "milan"/"Milan"/"Milan-B0"/"genoa"/"turin" (case-insensitive, stepping suffix ignored).
Result<Product> ParseProduct(std::string_view name);
// From the v3+ report CPUID bytes (family = base+extended, model = extended model<<4|model):
// family 0x19 model 0x00-0x0F Milan; 0x10-0x1F or 0xA0-0xAF Genoa; family 0x1A model 0x00-0x11
// Turin. nullopt when not recognised.
std::optional<Product> ProductFromCpuid(uint8_t family, uint8_t model);
// True for the Turin-style TCB layout (fmc byte first).
inline bool HasTurinTcbLayout(Product p) { return p == Product::kTurin; }

}  // namespace vhsm::snp
