// Fuzzes the appraisal policy loader, JSON and TOML. Property: a policy that parses survives
// PolicyToJson -> PolicyFromJson with the same hash (parse -> serialise -> parse is stable).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/attestation/policy.h"

namespace {
void CheckRoundTrip(const vhsm::attestation::AppraisalPolicy& p) {
  using namespace vhsm::attestation;  // NOLINT
  auto again = PolicyFromJson(PolicyToJson(p));
  if (!again.ok() || PolicyHash(*again) != PolicyHash(p)) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::attestation;  // NOLINT
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto p = ParsePolicyJson(text); p.ok()) CheckRoundTrip(*p);
  if (auto p = ParsePolicyToml(text); p.ok()) CheckRoundTrip(*p);
  return 0;
}
