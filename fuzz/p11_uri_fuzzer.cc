// Fuzzes the RFC 7512 pkcs11: URI parser (src/p11/uri.h). Properties: never crashes; whatever
// parses respects the size limits, re-serialises to text that parses to an equal URI, and the
// canonical text is a fixed point; the redacted form never carries the PIN.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "p11/uri.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::p11;  // NOLINT
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto u = ParsePkcs11Uri(text);
  if (!u.ok()) return 0;
  if (text.size() > kMaxUriBytes) std::abort();
  if (u->id && u->id->size() > kMaxIdBytes) std::abort();
  if (u->token && u->token->size() > 32) std::abort();
  const std::string canon = u->ToString(/*with_pin=*/true);
  auto again = ParsePkcs11Uri(canon);
  if (!again.ok() || !again->Equals(*u)) std::abort();
  if (again->ToString(true) != canon) std::abort();
  if (u->pin_value && !u->pin_value->empty() && u->ToString(false).find("pin-value=REDACTED") == std::string::npos) {
    std::abort();
  }
  return 0;
}
