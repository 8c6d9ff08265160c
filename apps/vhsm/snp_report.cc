// snp_report.cc: `vhsm snp report --report-data HEX -o REPORT [--certs-out DIR] [--platform P]
// [--sim-state DIR] [--vmpl N]` and `vhsm snp key [...]`. Flags → snp::Firmware (through
// sim::OpenPlatform, which adds the simulator to snp::OpenFirmware) → files. `--platform auto`
// never falls back to the simulator.
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "base/file.h"
#include "commands.h"
#include "crypto/digest.h"
#include "sim/sim_certs.h"
#include "sim/sim_firmware.h"
#include "sim/sim_platform.h"
#include "snp/platform.h"
#include "snp/report.h"
#include "snp/tcb.h"

namespace vhsm::cli {
namespace {

struct PlatformFlags {
  std::string platform = "auto";
  std::string sim_state;
  std::string configfs_root = snp::kDefaultConfigfsTsmRoot;
  std::string device = "/dev/sev-guest";
  std::optional<uint32_t> vmpl;
};

struct ReportFlags {
  PlatformFlags p;
  std::string report_data;
  std::string out;
  std::string certs_out;
};

struct KeyFlags {
  PlatformFlags p;
  std::string fields;
  std::string root = "vcek";
  std::optional<uint32_t> svn;
  std::string tcb;
  std::string mit;
  bool reveal = false;
};

int Fail(const char* cmd, const Status& s, int code) {
  std::fprintf(stderr, "vhsm snp %s: %s\n", cmd, s.message().c_str());
  return code;
}

void AddPlatformFlags(CLI::App* cmd, PlatformFlags& p) {
  cmd->add_option("--platform", p.platform, "auto | sev-guest | configfs-tsm | sim (default auto)")
      ->check(CLI::IsMember({"auto", "sev-guest", "configfs-tsm", "sim"}));
  cmd->add_option("--sim-state", p.sim_state, "simulator state directory (with --platform sim)");
  cmd->add_option("--configfs-root", p.configfs_root, "configfs-tsm report directory");
  cmd->add_option("--device", p.device, "sev-guest device path");
  cmd->add_option("--vmpl", p.vmpl, "VMPL to request (0-3; default 0, or the simulated guest's VMPL)");
}

// Opens the platform and resolves the VMPL to use.
Result<std::unique_ptr<snp::Firmware>> OpenFromFlags(const PlatformFlags& f, uint32_t& vmpl) {
  if (!f.sim_state.empty() && f.platform != "sim") {
    return InvalidArgumentError("--sim-state is only used with --platform sim (no implicit simulator)");
  }
  if (f.vmpl && *f.vmpl > 3) return InvalidArgumentError("--vmpl: got " + std::to_string(*f.vmpl) + ", want 0..3");
  snp::PlatformOptions o;
  o.platform = f.platform;
  o.sim_state_dir = f.sim_state;
  o.configfs_root = f.configfs_root;
  o.sev_guest_device = f.device;
  VHSM_ASSIGN_OR_RETURN(std::unique_ptr<snp::Firmware> fw, sim::OpenPlatform(o));
  vmpl = 0;
  if (const auto* s = dynamic_cast<const sim::SimFirmware*>(fw.get()); s != nullptr) vmpl = s->config().vmpl;
  if (f.vmpl) vmpl = *f.vmpl;
  return fw;
}

Status WritePemCert(const std::string& path, const Bytes& der) {
  VHSM_ASSIGN_OR_RETURN(std::string pem, sim::CertDerToPem(der));
  return WriteFileAtomic(path, AsBytes(pem), 0644);
}

// ark.pem, ask.pem or asvk.pem, vcek.pem or vlek.pem: the layout `vhsm snp verify --certs` reads.
Status WriteCerts(const std::string& dir, const snp::CertificateSet& certs, bool vlek) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return UnavailableError("cannot create " + dir + ": " + std::strerror(errno));
  }
  const Bytes& leaf = vlek ? certs.vlek : certs.vcek;
  if (leaf.empty()) {
    return NotFoundError(std::string("the platform supplied no ") + (vlek ? "VLEK" : "VCEK") +
                         " certificate (hosts often do not; fetch the VCEK from AMD KDS)");
  }
  VHSM_RETURN_IF_ERROR(WritePemCert(dir + (vlek ? "/vlek.pem" : "/vcek.pem"), leaf));
  if (!certs.ask.empty()) VHSM_RETURN_IF_ERROR(WritePemCert(dir + (vlek ? "/asvk.pem" : "/ask.pem"), certs.ask));
  if (!certs.ark.empty()) VHSM_RETURN_IF_ERROR(WritePemCert(dir + "/ark.pem", certs.ark));
  if (!certs.crl.empty()) VHSM_RETURN_IF_ERROR(WriteFileAtomic(dir + "/crl.der", certs.crl, 0644));
  return OkStatus();
}

int RunReport(const ReportFlags& f) {
  Result<Bytes> data = HexDecodeExact(f.report_data, 64, "--report-data");
  if (!data.ok()) {
    return Fail("report", InvalidArgumentError("--report-data: want exactly 64 bytes (128 hex characters), got " +
                                               std::to_string(f.report_data.size()) + " characters"),
                kExitUsage);
  }
  uint32_t vmpl = 0;
  Result<std::unique_ptr<snp::Firmware>> fw = OpenFromFlags(f.p, vmpl);
  if (!fw.ok()) return Fail("report", fw.status(), kExitUsage);
  std::array<uint8_t, 64> rd{};
  std::copy(data->begin(), data->end(), rd.begin());
  Result<snp::ReportResponse> resp = (*fw)->GetReport(rd, vmpl);
  if (!resp.ok()) return Fail("report", resp.status(), ToExitCode(resp.status()));
  // Whole file or nothing: WriteFileAtomic renames a complete temp file into place.
  if (Status s = WriteFileAtomic(f.out, resp->report, 0644); !s.ok()) return Fail("report", s, kExitUsage);
  Result<snp::AttestationReport> parsed = snp::ParseReport(resp->report);
  std::printf("wrote %s (%zu bytes) from %s, VMPL %u", f.out.c_str(), resp->report.size(),
              std::string((*fw)->Name()).c_str(), vmpl);
  if (parsed.ok()) std::printf(", report version %u", parsed->version);
  std::printf("\n");
  if (f.certs_out.empty()) return kExitOk;
  snp::CertificateSet certs;
  if (!resp->cert_table.empty()) {
    Result<std::vector<snp::CertTableEntry>> entries = snp::ParseCertTable(resp->cert_table);
    if (!entries.ok()) return Fail("report", entries.status().Annotate("certificate table"), kExitRejected);
    certs = snp::CertificateSetFromTable(*entries);
  }
  const bool vlek = parsed.ok() && parsed->signing_key_raw() == static_cast<uint8_t>(snp::SigningKey::kVlek);
  if (Status s = WriteCerts(f.certs_out, certs, vlek); !s.ok()) return Fail("report", s, kExitUsage);
  std::printf("wrote certificates to %s\n", f.certs_out.c_str());
  return kExitOk;
}

Result<uint64_t> ParseFieldNames(const std::string& list) {
  namespace fs = snp::field_select;
  uint64_t sel = 0;
  size_t start = 0;
  while (!list.empty() && start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string n = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (n == "policy") sel |= fs::kGuestPolicy;
    else if (n == "image_id" || n == "image-id") sel |= fs::kImageId;
    else if (n == "family_id" || n == "family-id") sel |= fs::kFamilyId;
    else if (n == "measurement") sel |= fs::kMeasurement;
    else if (n == "guest_svn" || n == "svn") sel |= fs::kGuestSvn;
    else if (n == "tcb_version" || n == "tcb") sel |= fs::kTcbVersion;
    else if (n == "launch_mit_vector" || n == "mit") sel |= fs::kLaunchMitVector;
    else {
      return InvalidArgumentError("--fields: unknown field \"" + n +
                                  "\" (want policy, image_id, family_id, measurement, guest_svn, tcb_version, "
                                  "launch_mit_vector)");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return sel;
}

Result<uint64_t> ParseU64Hex(const std::string& text, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 16);
  if (text.empty() || *end != '\0' || errno != 0) return InvalidArgumentError(flag + ": not a hex number: \"" + text + "\"");
  return static_cast<uint64_t>(v);
}

int RunKey(const KeyFlags& f) {
  snp::DerivedKeyRequest req;
  Result<uint64_t> sel = ParseFieldNames(f.fields);
  if (!sel.ok()) return Fail("key", sel.status(), kExitUsage);
  req.guest_field_select = *sel;
  if (f.root == "vcek") {
    req.root_key_select = snp::RootKey::kVcek;
  } else if (f.root == "vmrk") {
    req.root_key_select = snp::RootKey::kVmrk;
  } else {
    return Fail("key", InvalidArgumentError("--root: want vcek or vmrk, got \"" + f.root + "\""), kExitUsage);
  }
  if (f.svn) req.guest_svn = *f.svn;
  if (!f.tcb.empty()) {
    Result<uint64_t> t = ParseU64Hex(f.tcb, "--tcb");
    if (!t.ok()) return Fail("key", t.status(), kExitUsage);
    req.tcb_version = *t;
  }
  if (!f.mit.empty()) {
    Result<uint64_t> m = ParseU64Hex(f.mit, "--launch-mit-vector");
    if (!m.ok()) return Fail("key", m.status(), kExitUsage);
    req.launch_mit_vector = *m;
  }
  Result<std::unique_ptr<snp::Firmware>> fw = OpenFromFlags(f.p, req.vmpl);
  if (!fw.ok()) return Fail("key", fw.status(), kExitUsage);
  Result<SecretBytes> key = (*fw)->GetDerivedKey(req);
  if (!key.ok()) return Fail("key", key.status(), ToExitCode(key.status()));
  if (f.reveal) {
    std::string hex = HexEncode(key->Expose());
    std::printf("%s\n", hex.c_str());
    OPENSSL_cleanse(hex.data(), hex.size());
    return kExitOk;
  }
  Bytes digest = crypto::Sha256(key->Expose());
  std::printf("derived key (%zu bytes, root %s, fields 0x%llx, VMPL %u) fingerprint sha256:%s\n", key->size(),
              f.root.c_str(), static_cast<unsigned long long>(req.guest_field_select), req.vmpl,
              HexEncode(ByteSpan(digest).first(8)).c_str());
  return kExitOk;
}

}  // namespace

void RegisterSnpReport(CLI::App& snp, int& exit_code) {
  auto rf = std::make_shared<ReportFlags>();
  CLI::App* report = snp.add_subcommand("report", "Get an attestation report from the platform");
  report->add_option("--report-data", rf->report_data, "REPORT_DATA, exactly 128 hex characters")->required();
  report->add_option("-o,--out", rf->out, "file to write the 1184-byte report to")->required();
  report->add_option("--certs-out", rf->certs_out, "directory for ark.pem, ask.pem/asvk.pem, vcek.pem/vlek.pem");
  AddPlatformFlags(report, rf->p);
  report->callback([rf, &exit_code] { exit_code = RunReport(*rf); });

  auto kf = std::make_shared<KeyFlags>();
  CLI::App* key = snp.add_subcommand("key", "Derive a key (MSG_KEY_REQ); prints its fingerprint unless --reveal");
  key->add_option("--fields", kf->fields, "comma list: policy,image_id,family_id,measurement,guest_svn,tcb_version,"
                                          "launch_mit_vector");
  key->add_option("--root", kf->root, "vcek (chip-rooted, default) or vmrk");
  key->add_option("--svn", kf->svn, "GUEST_SVN to mix in (<= the launch SVN)");
  key->add_option("--tcb", kf->tcb, "TCB_VERSION to mix in, hex (<= COMMITTED_TCB)");
  key->add_option("--launch-mit-vector", kf->mit, "LAUNCH_MIT_VECTOR to mix in, hex");
  key->add_flag("--reveal", kf->reveal, "print the key itself (hex) instead of its fingerprint");
  AddPlatformFlags(key, kf->p);
  key->callback([kf, &exit_code] { exit_code = RunKey(*kf); });
}

}  // namespace vhsm::cli
