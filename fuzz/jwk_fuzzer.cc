// jwk_fuzzer.cc: JWK and JWKS parsing. Properties: no crash; every rejection carries a message; a
// parsed key's public JSON parses again to the same key with the same RFC 7638 thumbprint, and a
// parsed set's public JSON parses again to a set of the same size.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jose/jcs.h"
#include "jose/jwk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm;
  using namespace vhsm::jose;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto jwk = Jwk::ParseText(text);
  if (!jwk.ok()) {
    if (jwk.status().message().empty()) std::abort();
  } else {
    auto again = Jwk::Parse(jwk->ToPublicJson());
    if (!again.ok() || !again->public_key().Equals(jwk->public_key())) std::abort();
    auto t1 = jwk->Thumbprint();
    auto t2 = again->Thumbprint();
    if (!t1.ok() || !t2.ok() || *t1 != *t2) std::abort();
  }
  auto set = JwkSet::ParseText(text);
  if (set.ok()) {
    auto again = JwkSet::Parse(set->ToPublicJson());
    if (!again.ok() || again->size() != set->size()) std::abort();
  } else if (set.status().message().empty()) {
    std::abort();
  }
  // JCS on arbitrary JSON: canonical output is a fixed point.
  auto canonical = CanonicalizeText(text);
  if (canonical.ok()) {
    auto twice = CanonicalizeText(*canonical);
    if (!twice.ok() || *twice != *canonical) std::abort();
  }
  return 0;
}
