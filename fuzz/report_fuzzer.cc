// report_fuzzer.cc: ParseReport on arbitrary bytes. Properties: no crash; whenever parsing
// succeeds, SerializeReport gives back exactly the input, the re-parse succeeds with the same
// bytes, and the JSON/text renderers run for every product layout.
#include <cstdint>
#include <cstdlib>

#include "snp/report.h"
#include "snp/report_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::snp;
  vhsm::ByteSpan input(data, size);
  auto parsed = ParseReport(input);
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) std::abort();  // every rejection names its field
    return 0;
  }
  vhsm::Bytes out = SerializeReport(*parsed);
  if (out.size() != size || !std::equal(out.begin(), out.end(), data)) std::abort();
  auto again = ParseReport(out);
  if (!again.ok() || SerializeReport(*again) != out) std::abort();
  for (Product p : {Product::kUnknown, Product::kMilan, Product::kGenoa, Product::kTurin}) {
    if (ReportToJson(*parsed, p).dump().empty()) std::abort();
    if (ReportToText(*parsed, p).empty()) std::abort();
  }
  (void)ReportProduct(*parsed);
  (void)GuessProductFromChipId(parsed->chip_id);
  return 0;
}
