// Fuzzes the Attestation Service request parsers (auth, attest, verify) and the REPORT_DATA
// binding. Property: whatever parses must bind deterministically and never crash; the parsed
// evidence respects the documented size limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/attestation/rcar.h"
#include "snp/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::attestation;  // NOLINT
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseAuthRequest(text);
  auto a = ParseAttestRequest(text);
  if (a.ok()) {
    if (a->evidence.report.size() != vhsm::snp::kReportSize) std::abort();
    auto b1 = ExpectedReportData(a->nonce, a->tee_pubkey, a->additional_evidence);
    auto b2 = ExpectedReportData(a->nonce, a->tee_pubkey, a->additional_evidence);
    if (b1.ok() != b2.ok() || (b1.ok() && *b1 != *b2)) std::abort();
  }
  auto v = ParseVerifyRequest(text);
  if (v.ok() && v->evidence.report.size() != vhsm::snp::kReportSize) std::abort();
  return 0;
}
