// platform_response_fuzzer.cc: what the real guest interfaces hand back, on arbitrary bytes:
// MSG_REPORT_RSP and MSG_KEY_RSP (/dev/sev-guest) and the configfs-tsm `generation` and
// `provider` attributes. Properties: no crash; a parsed report is exactly 1184 bytes copied from
// offset 0x20; a parsed key is 32 bytes; a parsed generation prints back to its digits.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "snp/configfs_tsm.h"
#include "snp/sev_guest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::snp;
  vhsm::ByteSpan in(data, size);
  auto report = ParseReportResponse(in);
  if (report.ok() && (report->size() != 1184 || size < 0x20 + 1184 ||
                      std::memcmp(report->data(), data + 0x20, 1184) != 0)) {
    std::abort();
  }
  auto key = ParseDerivedKeyResponse(in);
  if (key.ok() && key->size() != 32) std::abort();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto gen = ParseTsmGeneration(text);
  if (gen.ok()) {
    std::string digits(text.substr(0, text.size() - (text.ends_with('\n') ? 1 : 0)));
    while (digits.size() > 1 && digits[0] == '0') digits.erase(0, 1);
    if (std::to_string(*gen) != digits) std::abort();
  }
  auto provider = ParseTsmProvider(text);
  if (provider.ok() && (provider->empty() || provider->size() > 64)) std::abort();
  return 0;
}
