// snp_show.cc: `vhsm snp show REPORT [--json] [--product milan|genoa|turin]`. Decodes a raw
// 1184-byte attestation report and prints every field. Structure checks only: this command never
// says a report is genuine (that is `vhsm snp verify`).
#include <cstdio>
#include <memory>
#include <string>

#include "base/file.h"
#include "commands.h"
#include "snp/report.h"
#include "snp/report_json.h"

namespace vhsm::cli {
namespace {

// Anything much larger than a report is rejected without reading it all.
constexpr size_t kMaxReportFileBytes = 64 * 1024;

struct ShowOptions {
  std::string path;
  bool json = false;
  std::string product;
};

void PrintReason(bool json, const std::string& reason) {
  std::fprintf(stderr, "vhsm snp show: %s\n", reason.c_str());
  if (json) {
    nlohmann::json j = {{"reason", reason}};
    std::printf("%s\n", j.dump(2).c_str());
  }
}

int RunShow(const ShowOptions& opts) {
  std::optional<snp::Product> requested;
  if (!opts.product.empty()) {
    Result<snp::Product> p = snp::ParseProduct(opts.product);
    if (!p.ok()) {
      std::fprintf(stderr, "vhsm snp show: --product: %s\n", p.status().message().c_str());
      return kExitUsage;
    }
    requested = *p;
  }

  Result<Bytes> bytes = ReadFileBytes(opts.path, kMaxReportFileBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kResourceExhausted) {
      // Readable, just far too long to be a report: judged, not an I/O failure.
      PrintReason(opts.json, "report: " + bytes.status().message() + "; want " +
                                 std::to_string(snp::kReportSize) + " bytes");
      return kExitRejected;
    }
    PrintReason(opts.json, bytes.status().message());
    return kExitUsage;
  }
  Result<snp::AttestationReport> report = snp::ParseReport(*bytes);
  if (!report.ok()) {
    PrintReason(opts.json, opts.path + ": " + report.status().message());
    return kExitRejected;
  }

  // Product: the report's own CPUID (v3+) wins; --product is for v2 reports.
  snp::Product product = snp::Product::kUnknown;
  std::string source = "none";
  std::optional<snp::Product> from_cpuid = snp::ReportProduct(*report);
  if (from_cpuid.has_value()) {
    product = *from_cpuid;
    source = "cpuid";
    if (requested.has_value() && *requested != product) {
      std::fprintf(stderr, "vhsm snp show: warning: --product %s ignored, the report's CPUID says %s\n",
                   std::string(snp::ProductName(*requested)).c_str(),
                   std::string(snp::ProductName(product)).c_str());
    }
  } else if (requested.has_value()) {
    product = *requested;
    source = "--product";
  }
  std::string hint;
  if (source == "none" && snp::GuessProductFromChipId(report->chip_id) == snp::Product::kTurin) {
    hint = "Turin? (CHIP_ID has only 8 significant bytes; pass --product turin to use the Turin TCB layout)";
  }

  if (opts.json) {
    nlohmann::json j = snp::ReportToJson(*report, product);
    j["product_source"] = source;
    if (!hint.empty()) j["product_hint"] = hint;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::string text = snp::ReportToText(*report, product);
    std::fputs(text.c_str(), stdout);
    std::printf("product_source:      %s\n", source.c_str());
    if (!hint.empty()) std::printf("product_hint:        %s\n", hint.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterSnpShow(CLI::App& snp, int& exit_code) {
  auto opts = std::make_shared<ShowOptions>();
  CLI::App* cmd = snp.add_subcommand("show", "Decode and print an SEV-SNP attestation report (no verification)");
  cmd->add_option("REPORT", opts->path, "Raw 1184-byte report file")->required();
  cmd->add_flag("--json", opts->json, "Print every decoded field as JSON");
  cmd->add_option("--product", opts->product,
                  "milan|genoa|turin: TCB layout for v2 reports (v3+ carry their CPUID)");
  cmd->callback([opts, &exit_code] { exit_code = RunShow(*opts); });
}

}  // namespace vhsm::cli
