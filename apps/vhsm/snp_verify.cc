// snp_verify.cc: `vhsm snp verify REPORT [--certs DIR] [--vcek F|--vlek F] [--ask F|--asvk F]
// [--ark F] [--crl F] [--product P] [--trust-root F]... [--json] [--at RFC3339]`.
// Flags → attest::Verifier → exit code 0 valid, 1 rejected (one-line reason on stderr),
// 2 unreadable input or usage.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/verifier.h"
#include "base/clock.h"
#include "base/file.h"
#include "commands.h"
#include "crypto/x509.h"
#include "snp/product.h"
#include "snp/report_json.h"
#include "snp/tcb.h"

namespace vhsm::cli {
namespace {

constexpr size_t kMaxReportFileBytes = 1u << 20;  // a report is 1184 bytes; anything huge is refused
constexpr size_t kMaxCertFileBytes = 1u << 20;
constexpr size_t kMaxCrlFileBytes = 4u << 20;

struct VerifyFlags {
  std::string report;
  std::string certs_dir;
  std::string vcek, vlek, ask, asvk, ark, crl, product, at;
  std::vector<std::string> trust_roots;
  bool json = false;
};

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "vhsm snp verify: %s\n", msg.c_str());
  return kExitUsage;
}

// Finds DIR/name with one of the accepted extensions ("" if none).
std::string FindInDir(const std::string& dir, const std::string& name) {
  for (const char* ext : {".pem", ".der", ".crt", ".cer", ""}) {
    std::string p = dir + "/" + name + ext;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return "";
}

Result<Bytes> ReadInput(const std::string& path, size_t max, const std::string& what) {
  auto bytes = ReadFileBytes(path, max);
  if (!bytes.ok()) return bytes.status().Annotate(what + " " + path);
  return bytes;
}

// An ASK/ASVK file may be a KDS cert_chain bundle (intermediate then ARK): split it.
Status SplitChainFile(const Bytes& file, Bytes& inter, Bytes& ark, const std::string& what) {
  auto certs = crypto::ParseCertificateBundle(file);
  if (!certs.ok() || certs->size() == 1) {
    inter = file;  // the verifier reports any parse error naming the certificate
    return OkStatus();
  }
  for (const crypto::Certificate& c : *certs) {
    if (c.SubjectCn().rfind("ARK-", 0) == 0) {
      if (ark.empty()) ark = c.der();
    } else if (inter.empty()) {
      inter = c.der();
    } else {
      return InvalidArgumentError(what + ": bundle holds more than one intermediate certificate");
    }
  }
  return OkStatus();
}

int RunVerify(const VerifyFlags& f) {
  if (!f.vcek.empty() && !f.vlek.empty()) return UsageError("--vcek and --vlek are mutually exclusive");
  if (!f.ask.empty() && !f.asvk.empty()) return UsageError("--ask and --asvk are mutually exclusive");

  attest::Evidence ev;
  attest::VerifierOptions opts;
  std::optional<FixedClock> fixed;
  if (!f.at.empty()) {
    auto t = ParseRfc3339(f.at);
    if (!t.ok()) return UsageError("--at: " + t.status().message());
    fixed.emplace(*t);
    opts.clock = &*fixed;
  }
  if (!f.product.empty()) {
    auto p = snp::ParseProduct(f.product);
    if (!p.ok() || *p == snp::Product::kUnknown) {
      return UsageError("--product: \"" + f.product + "\", expected milan, genoa or turin");
    }
    ev.product = *p;
  }

  auto report = ReadInput(f.report, kMaxReportFileBytes, "report");
  if (!report.ok()) return UsageError(report.status().message());
  ev.report = std::move(report).value();

  // Files from --certs DIR, then explicit flags override.
  std::string ark_path, inter_path, vcek_path, vlek_path, crl_path;
  if (!f.certs_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(f.certs_dir, ec)) return UsageError("--certs: " + f.certs_dir + " is not a directory");
    ark_path = FindInDir(f.certs_dir, "ark");
    inter_path = FindInDir(f.certs_dir, "ask");
    if (inter_path.empty()) inter_path = FindInDir(f.certs_dir, "asvk");
    if (inter_path.empty()) inter_path = FindInDir(f.certs_dir, "cert_chain");
    vcek_path = FindInDir(f.certs_dir, "vcek");
    vlek_path = FindInDir(f.certs_dir, "vlek");
    crl_path = FindInDir(f.certs_dir, "crl");
  }
  if (!f.ark.empty()) ark_path = f.ark;
  if (!f.ask.empty()) inter_path = f.ask;
  if (!f.asvk.empty()) inter_path = f.asvk;
  if (!f.vcek.empty()) vcek_path = f.vcek, vlek_path.clear();
  if (!f.vlek.empty()) vlek_path = f.vlek, vcek_path.clear();
  if (!f.crl.empty()) crl_path = f.crl;

  struct Slot {
    const std::string& path;
    Bytes* out;
    size_t max;
    const char* what;
  };
  Bytes inter_file;
  for (const Slot& s : {Slot{ark_path, &ev.certs.ark, kMaxCertFileBytes, "ARK"},
                        Slot{inter_path, &inter_file, kMaxCertFileBytes, "ASK/ASVK"},
                        Slot{vcek_path, &ev.certs.vcek, kMaxCertFileBytes, "VCEK"},
                        Slot{vlek_path, &ev.certs.vlek, kMaxCertFileBytes, "VLEK"},
                        Slot{crl_path, &ev.certs.crl, kMaxCrlFileBytes, "CRL"}}) {
    if (s.path.empty()) continue;
    auto b = ReadInput(s.path, s.max, s.what);
    if (!b.ok()) return UsageError(b.status().message());
    *s.out = std::move(b).value();
  }
  if (!inter_file.empty()) {
    if (Status st = SplitChainFile(inter_file, ev.certs.ask, ev.certs.ark, "ASK/ASVK " + inter_path); !st.ok()) {
      std::fprintf(stderr, "rejected: %s\n", st.message().c_str());
      return kExitRejected;
    }
  }

  for (const std::string& root : f.trust_roots) {
    auto b = ReadInput(root, kMaxCertFileBytes, "--trust-root");
    if (!b.ok()) return UsageError(b.status().message());
    opts.extra_trusted_roots.push_back(std::move(b).value());
  }
  auto verifier = attest::Verifier::Create(std::move(opts));
  if (!verifier.ok()) return UsageError(verifier.status().message());

  attest::VerifyOutcome out = (*verifier)->VerifyWithChecks(ev);
  const bool valid = out.status.ok();
  const std::string signer = out.signer.has_value() ? snp::SigningKeyName(static_cast<uint8_t>(*out.signer)) : "";
  if (f.json) {
    nlohmann::json j = out.report.has_value() ? snp::ReportToJson(*out.report, out.product) : nlohmann::json::object();
    j["valid"] = valid;
    j["product"] = std::string(snp::ProductName(out.product));
    j["signer"] = signer.empty() ? nlohmann::json(nullptr) : nlohmann::json(signer);
    nlohmann::json checks = nlohmann::json::array();
    for (const attest::Check& c : out.checks) checks.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
    j["checks"] = std::move(checks);
    j["reason"] = valid ? nlohmann::json(nullptr) : nlohmann::json(out.status.message());
    std::cout << j.dump(2) << "\n";
  } else {
    for (const attest::Check& c : out.checks) {
      std::cout << (c.ok ? "  ok    " : "  FAIL  ") << c.name << ": " << c.detail << "\n";
    }
    if (valid) {
      const attest::VerifiedReport& v = *out.verified;
      std::cout << "valid: " << snp::ProductName(v.product()) << " report v" << v.report().version << " signed by "
                << signer << ", chain " << v.root_cn() << (v.amd_root() ? " (AMD pinned root)" : " (trusted non-AMD root)")
                << "\n";
      const snp::AttestationReport& r = v.report();
      std::cout << "measurement:  " << HexEncode(r.measurement) << "\n"
                << "reported_tcb: " << snp::TcbToString(snp::DecodeTcb(r.reported_tcb, v.product())) << "\n"
                << "policy:       0x" << std::hex << r.policy << std::dec << (r.debug_allowed() ? " (DEBUG allowed)" : "")
                << "\n"
                << "vmpl:         " << r.vmpl << "\n"
                << "report_data:  " << HexEncode(r.report_data) << "\n";
    }
  }
  if (!valid) {
    std::fprintf(stderr, "rejected: %s\n", out.status.message().c_str());
    return ToExitCode(out.status) == kExitOk ? kExitRejected : ToExitCode(out.status);
  }
  return kExitOk;
}

}  // namespace

void RegisterSnpVerify(CLI::App& snp, int& exit_code) {
  auto flags = std::make_shared<VerifyFlags>();
  CLI::App* cmd = snp.add_subcommand("verify", "Verify an SEV-SNP attestation report against AMD's certificate chain");
  cmd->add_option("REPORT", flags->report, "Attestation report (1184 raw bytes)")->required();
  cmd->add_option("--certs", flags->certs_dir, "Directory with ark, ask|asvk, vcek|vlek, crl (.pem or .der)");
  cmd->add_option("--vcek", flags->vcek, "VCEK certificate (PEM or DER)");
  cmd->add_option("--vlek", flags->vlek, "VLEK certificate (PEM or DER)");
  cmd->add_option("--ask", flags->ask, "ASK certificate (or KDS cert_chain bundle)");
  cmd->add_option("--asvk", flags->asvk, "ASVK certificate (or KDS VLEK cert_chain bundle)");
  cmd->add_option("--ark", flags->ark, "ARK certificate (compared with AMD's pinned ARK, never trusted)");
  cmd->add_option("--crl", flags->crl, "CRL signed by the ARK (PEM or DER)");
  cmd->add_option("--product", flags->product, "milan|genoa|turin (needed only for v2 reports)");
  cmd->add_option("--trust-root", flags->trust_roots, "Extra trusted root certificate (e.g. the simulator's ARK)");
  cmd->add_flag("--json", flags->json, "JSON output with every field, valid, product, signer, checks, reason");
  cmd->add_option("--at", flags->at, "Verification time (RFC 3339), default now");
  cmd->callback([flags, &exit_code] { exit_code = RunVerify(*flags); });
}

}  // namespace vhsm::cli
