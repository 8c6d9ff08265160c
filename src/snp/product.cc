// product.cc: product names and CPUID-based product identification (snp-facts.md section 1).
#include "snp/product.h"

#include <cctype>
#include <string>

namespace vhsm::snp {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view ProductName(Product p) {
  switch (p) {
    case Product::kMilan: return "Milan";
    case Product::kGenoa: return "Genoa";
    case Product::kTurin: return "Turin";
    case Product::kUnknown: break;
  }
  return "unknown";
}

Result<Product> ParseProduct(std::string_view name) {
  // VCEK productName carries a stepping suffix ("Milan-B0"); KDS paths and flags do not.
  std::string base = Lower(name.substr(0, name.find('-')));
  if (base == "milan") return Product::kMilan;
  if (base == "genoa") return Product::kGenoa;
  if (base == "turin") return Product::kTurin;
  return InvalidArgumentError("product: got \"" + std::string(name) +
                              "\", want one of milan, genoa, turin");
}

std::optional<Product> ProductFromCpuid(uint8_t family, uint8_t model) {
  if (family == 0x19) {
    if (model <= 0x0F) return Product::kMilan;
    // 0xA0..0xAF are Zen 4c (Bergamo/Siena) parts, served by the Genoa ARK and KDS path.
    if ((model >= 0x10 && model <= 0x1F) || (model >= 0xA0 && model <= 0xAF)) return Product::kGenoa;
    return std::nullopt;
  }
  if (family == 0x1A && model <= 0x11) return Product::kTurin;
  return std::nullopt;
}

}  // namespace vhsm::snp
