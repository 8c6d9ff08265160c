// sim_commands.cc: `vhsm sim init DIR [...]` — creates a simulator state directory (config,
// TEST keys and the simulator's own ARK/ASK/VCEK, optionally ASVK/VLEK). Flags → SimConfig →
// sim::InitSimState; no logic beyond parsing here.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "hex_number.h"
#include "measure_flags.h"
#include "sim/sim_state.h"
#include "snp/tcb.h"

namespace vhsm::cli {
namespace {

struct InitFlags {
  std::string dir;
  std::string product = "genoa";
  uint32_t report_version = 3;
  std::string measurement, policy, host_data, tcb, reported_tcb, chip_id, family_id, image_id;
  std::string id_key_digest, author_key_digest, platform_info, launch_mit, current_mit, fw_version, csp_id;
  std::optional<uint32_t> vmpl, guest_svn;
  bool with_vlek = false;
  bool sign_with_vcek = false;
  bool force = false;
  MeasureFlags launch;  // --ovmf and the launch inputs: MEASUREMENT computed as `vhsm measure` does
};

int Usage(const std::string& msg) {
  std::fprintf(stderr, "vhsm sim init: %s\n", msg.c_str());
  return kExitUsage;
}

Result<uint8_t> ParseSpl(const std::string& text, const std::string& what) {
  char* end = nullptr;
  unsigned long v = std::strtoul(text.c_str(), &end, 0);
  if (text.empty() || *end != '\0' || v > 255) {
    return InvalidArgumentError(what + ": want 0..255, got \"" + text + "\"");
  }
  return static_cast<uint8_t>(v);
}

// "bl=N,tee=N,snp=N,ucode=N[,fmc=N]" (fmc only on Turin).
Result<uint64_t> ParseTcbSpec(const std::string& spec, snp::Product product, const std::string& flag) {
  snp::TcbParts parts;
  bool seen_bl = false, seen_tee = false, seen_snp = false, seen_ucode = false;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t eq = item.find('=');
    if (eq == std::string::npos) return InvalidArgumentError(flag + ": want name=value, got \"" + item + "\"");
    std::string name = item.substr(0, eq);
    VHSM_ASSIGN_OR_RETURN(uint8_t v, ParseSpl(item.substr(eq + 1), flag + " " + name));
    if (name == "bl") {
      parts.bootloader = v, seen_bl = true;
    } else if (name == "tee") {
      parts.tee = v, seen_tee = true;
    } else if (name == "snp") {
      parts.snp = v, seen_snp = true;
    } else if (name == "ucode") {
      parts.microcode = v, seen_ucode = true;
    } else if (name == "fmc") {
      if (!snp::HasTurinTcbLayout(product)) {
        return InvalidArgumentError(flag + ": fmc exists only on Turin, product is " +
                                    std::string(snp::ProductName(product)));
      }
      parts.fmc = v;
    } else {
      return InvalidArgumentError(flag + ": unknown component \"" + name + "\" (want bl, tee, snp, ucode, fmc)");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!(seen_bl && seen_tee && seen_snp && seen_ucode)) {
    return InvalidArgumentError(flag + ": bl, tee, snp and ucode are all required");
  }
  return snp::EncodeTcb(parts, product);
}

template <size_t N>
Status SetHex(const std::string& text, std::array<uint8_t, N>& out, const std::string& flag) {
  if (text.empty()) return OkStatus();
  VHSM_ASSIGN_OR_RETURN(Bytes b, HexDecodeExact(text, N, flag));
  std::copy(b.begin(), b.end(), out.begin());
  return OkStatus();
}

Status Apply(const InitFlags& f, sim::SimConfig& c) {
  const snp::Product p = c.product;
  VHSM_RETURN_IF_ERROR(SetHex(f.measurement, c.measurement, "--measurement"));
  if (!f.launch.ovmf.empty()) {
    if (!f.measurement.empty()) return InvalidArgumentError("--ovmf and --measurement are mutually exclusive");
    Result<nlohmann::json> m = RunMeasure(f.launch);
    if (!m.ok()) return m.status().Annotate("--ovmf");
    VHSM_RETURN_IF_ERROR(SetHex((*m)["measurement"].get<std::string>(), c.measurement, "--ovmf"));
  } else if (f.launch.kernel || f.launch.initrd || f.launch.append || f.launch.ovmf_hash) {
    return InvalidArgumentError("--kernel/--initrd/--append/--ovmf-hash need --ovmf");
  }
  VHSM_RETURN_IF_ERROR(SetHex(f.host_data, c.host_data, "--host-data"));
  VHSM_RETURN_IF_ERROR(SetHex(f.family_id, c.family_id, "--family-id"));
  VHSM_RETURN_IF_ERROR(SetHex(f.image_id, c.image_id, "--image-id"));
  VHSM_RETURN_IF_ERROR(SetHex(f.id_key_digest, c.id_key_digest, "--id-key-digest"));
  if (!f.author_key_digest.empty()) {
    VHSM_RETURN_IF_ERROR(SetHex(f.author_key_digest, c.author_key_digest, "--author-key-digest"));
    c.author_key_en = true;
  }
  if (!f.chip_id.empty()) {
    // Turin chip ids have 8 significant bytes; accept those alone.
    if (p == snp::Product::kTurin && f.chip_id.size() == 16) {
      VHSM_ASSIGN_OR_RETURN(Bytes b, HexDecodeExact(f.chip_id, 8, "--chip-id"));
      c.chip_id.fill(0);
      std::copy(b.begin(), b.end(), c.chip_id.begin());
    } else {
      VHSM_RETURN_IF_ERROR(SetHex(f.chip_id, c.chip_id, "--chip-id"));
    }
  }
  if (!f.policy.empty()) {
    VHSM_ASSIGN_OR_RETURN(c.policy, ParseHexNumber(f.policy, UINT64_MAX, "--policy"));
  }
  if (!f.platform_info.empty()) {
    VHSM_ASSIGN_OR_RETURN(c.platform_info, ParseHexNumber(f.platform_info, UINT64_MAX, "--platform-info"));
  }
  if (!f.launch_mit.empty()) {
    VHSM_ASSIGN_OR_RETURN(c.launch_mit_vector, ParseHexNumber(f.launch_mit, UINT64_MAX, "--launch-mit-vector"));
  }
  if (!f.current_mit.empty()) {
    VHSM_ASSIGN_OR_RETURN(c.current_mit_vector, ParseHexNumber(f.current_mit, UINT64_MAX, "--current-mit-vector"));
  }
  if (!f.tcb.empty()) {
    VHSM_ASSIGN_OR_RETURN(uint64_t t, ParseTcbSpec(f.tcb, p, "--tcb"));
    c.current_tcb = c.reported_tcb = c.committed_tcb = c.launch_tcb = t;
  }
  if (!f.reported_tcb.empty()) {
    VHSM_ASSIGN_OR_RETURN(c.reported_tcb, ParseTcbSpec(f.reported_tcb, p, "--reported-tcb"));
  }
  if (f.vmpl) c.vmpl = *f.vmpl;
  if (f.guest_svn) c.guest_svn = *f.guest_svn;
  if (!f.fw_version.empty()) {
    unsigned major = 0, minor = 0, build = 0;
    char extra = 0;
    if (std::sscanf(f.fw_version.c_str(), "%u.%u.%u%c", &major, &minor, &build, &extra) != 3 || major > 255 ||
        minor > 255 || build > 255) {
      return InvalidArgumentError("--fw-version: want MAJOR.MINOR.BUILD, got \"" + f.fw_version + "\"");
    }
    c.current_version = c.committed_version = {static_cast<uint8_t>(build), static_cast<uint8_t>(minor),
                                               static_cast<uint8_t>(major)};
  }
  if (!f.csp_id.empty()) c.csp_id = f.csp_id;
  return sim::ValidateSimConfig(c);
}

int RunInit(const InitFlags& f) {
  Result<snp::Product> product = snp::ParseProduct(f.product);
  if (!product.ok()) return Usage("--product: " + product.status().message());
  Result<sim::SimConfig> config = sim::DefaultSimConfig(*product, f.report_version);
  if (!config.ok()) return Usage(config.status().message());
  if (Status s = Apply(f, *config); !s.ok()) return Usage(s.message());
  sim::InitOptions opts;
  opts.with_vlek = f.with_vlek;
  opts.sign_with_vlek = f.with_vlek && !f.sign_with_vcek;
  opts.overwrite = f.force;
  std::fprintf(stderr, "generating RSA-4096 ARK/ASK%s keys (takes a few seconds)...\n", f.with_vlek ? "/ASVK" : "");
  Result<sim::SimState> st = sim::InitSimState(f.dir, *config, opts);
  if (!st.ok()) {
    std::fprintf(stderr, "vhsm sim init: %s\n", st.status().message().c_str());
    return st.status().code() == StatusCode::kAlreadyExists ? kExitUsage : ToExitCode(st.status());
  }
  const sim::SimConfig& c = st->config;
  std::printf("simulator state written to %s\n", f.dir.c_str());
  std::printf("  WARNING: its private keys are TEST keys; reports it signs prove nothing to anyone\n");
  std::printf("  who does not explicitly trust %s/ark.pem\n", f.dir.c_str());
  std::printf("  product:        %s (report version %u)\n", std::string(snp::ProductName(c.product)).c_str(),
              c.report_version);
  std::printf("  measurement:    %s\n", HexEncode(c.measurement).c_str());
  std::printf("  policy:         0x%llx\n", static_cast<unsigned long long>(c.policy));
  std::printf("  reported TCB:   %s\n", snp::TcbToString(snp::DecodeTcb(c.reported_tcb, c.product)).c_str());
  std::printf("  signing key:    %s\n", c.signing_key == snp::SigningKey::kVlek ? "VLEK" : "VCEK");
  std::printf("  trust root:     %s/ark.pem\n", f.dir.c_str());
  return kExitOk;
}

}  // namespace

void RegisterSimCommands(CLI::App& root, int& exit_code) {
  CLI::App* sim = root.add_subcommand("sim", "SEV-SNP simulator (test keys; for development, CI and demos)");
  sim->require_subcommand(1);
  auto f = std::make_shared<InitFlags>();
  CLI::App* init = sim->add_subcommand("init", "Create a simulator state directory");
  init->add_option("DIR", f->dir, "state directory to create")->required();
  init->add_option("--product", f->product, "milan, genoa or turin (default genoa)");
  init->add_option("--report-version", f->report_version, "report version 2, 3, 4 or 5 (default 3)");
  init->add_option("--measurement", f->measurement, "MEASUREMENT, 96 hex characters");
  init->add_option("--policy", f->policy, "guest POLICY, hex (default 0x30000)");
  init->add_option("--host-data", f->host_data, "HOST_DATA, 64 hex characters");
  init->add_option("--tcb", f->tcb, "all TCBs: bl=N,tee=N,snp=N,ucode=N[,fmc=N]");
  init->add_option("--reported-tcb", f->reported_tcb, "REPORTED_TCB only (hosts may report lower than current)");
  init->add_option("--vmpl", f->vmpl, "VMPL the simulated guest runs at (0-3)")->check(CLI::Range(0, 3));
  init->add_option("--chip-id", f->chip_id, "CHIP_ID, 128 hex characters (Turin: 16)");
  init->add_option("--guest-svn", f->guest_svn, "GUEST_SVN of the launch");
  init->add_option("--family-id", f->family_id, "FAMILY_ID, 32 hex characters");
  init->add_option("--image-id", f->image_id, "IMAGE_ID, 32 hex characters");
  init->add_option("--id-key-digest", f->id_key_digest, "ID_KEY_DIGEST, 96 hex characters");
  init->add_option("--author-key-digest", f->author_key_digest, "AUTHOR_KEY_DIGEST (sets AUTHOR_KEY_EN)");
  init->add_option("--platform-info", f->platform_info, "PLATFORM_INFO, hex");
  init->add_option("--launch-mit-vector", f->launch_mit, "LAUNCH_MIT_VECTOR, hex (v5)");
  init->add_option("--current-mit-vector", f->current_mit, "CURRENT_MIT_VECTOR, hex (v5)");
  init->add_option("--fw-version", f->fw_version, "firmware version MAJOR.MINOR.BUILD (default 1.55.x)");
  init->add_flag("--with-vlek", f->with_vlek, "also create ASVK and VLEK; reports are signed by the VLEK");
  init->add_flag("--sign-with-vcek", f->sign_with_vcek, "with --with-vlek: keep signing with the VCEK");
  init->add_option("--csp-id", f->csp_id, "VLEK cspID (default CN=vhsm-sim.invalid)");
  init->add_flag("--force", f->force, "overwrite an existing state in DIR");
  init->add_option("--ovmf", f->launch.ovmf,
                   "set MEASUREMENT to the launch digest of this OVMF (+ the launch inputs below), "
                   "exactly as `vhsm measure` computes it");
  AddLaunchInputFlags(init, &f->launch);
  init->callback([f, &exit_code] { exit_code = RunInit(*f); });
}

}  // namespace vhsm::cli
