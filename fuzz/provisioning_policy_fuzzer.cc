// provisioning_policy_fuzzer.cc: the Provisioning Service's release-policy parser and evaluator
// on arbitrary bytes. Properties: never crashes; an accepted policy's canonical text parses again
// to the same canonical text and evaluates the same on a fixed claim set.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/provisioning/release_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vhsm::provisioning::ReleasePolicy;
  static const nlohmann::json claims = nlohmann::json::parse(
      R"({"iss":"vhsm-attestd","submods":{"cpu0":{"ear.status":"affirming","ear.veraison.annotated-evidence":)"
      R"({"measurement":"a1b2","vmpl":0,"reported_tcb":{"snp":22},"tags":["x",1,null]}}}})");
  std::string_view text(reinterpret_cast<const char*>(data), size);
  vhsm::Result<ReleasePolicy> p = ReleasePolicy::Parse(text);
  if (!p.ok()) return 0;
  vhsm::provisioning::PolicyDecision d = p->Evaluate(claims);
  vhsm::Result<ReleasePolicy> again = ReleasePolicy::Parse(p->canonical_text());
  if (!again.ok() || again->canonical_text() != p->canonical_text()) std::abort();
  vhsm::provisioning::PolicyDecision d2 = again->Evaluate(claims);
  if (d.allowed != d2.allowed || d.rule != d2.rule) std::abort();
  return 0;
}
