// cert_table_fuzzer.cc: ParseCertTable on arbitrary bytes. Properties: no crash; whenever parsing
// succeeds, parse(serialise(entries)) gives the same entries and serialisation is a fixed point.
#include <cstdint>
#include <cstdlib>

#include "snp/firmware.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::snp;
  auto parsed = ParseCertTable(vhsm::ByteSpan(data, size));
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) std::abort();
    return 0;
  }
  vhsm::Bytes blob = SerializeCertTable(*parsed);
  auto again = ParseCertTable(blob);
  if (!again.ok() || again->size() != parsed->size()) std::abort();
  for (size_t i = 0; i < parsed->size(); ++i) {
    if ((*again)[i].guid != (*parsed)[i].guid || (*again)[i].data != (*parsed)[i].data) std::abort();
  }
  if (SerializeCertTable(*again) != blob) std::abort();
  (void)CertificateSetFromTable(*parsed);
  return 0;
}
