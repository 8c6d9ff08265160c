// measure_commands.cc: `vhsm measure` (expected SEV-SNP launch digest), `vhsm measure ovmf-hash`
// and `vhsm measure id-block`. Flag parsing and printing only; the work is in snp/measure.h and
// snp/id_block.h.
#include <openssl/crypto.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/file.h"
#include "base/secret_bytes.h"
#include "commands.h"
#include "hex_number.h"
#include "measure_flags.h"
#include "crypto/digest.h"
#include "snp/id_block.h"
#include "snp/measure.h"

namespace vhsm::cli {
namespace {

struct IdBlockFlags {
  std::string id_key;
  std::optional<std::string> author_key;
  std::string measurement;
  std::optional<std::string> family_id;
  std::optional<std::string> image_id;
  uint32_t svn = 0;
  std::string policy = "0x30000";
};

template <size_t N>
Result<std::array<uint8_t, N>> ParseHexArray(const std::string& text, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(Bytes b, HexDecodeExact(text, N, what));
  std::array<uint8_t, N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

int Fail(const Status& status) {
  std::fprintf(stderr, "vhsm measure: %s\n", status.message().c_str());
  return ToExitCode(status);
}

nlohmann::json FileJson(const std::string& path, const snp::Sha256Digest& sha256) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  nlohmann::json j = {{"path", path}, {"sha256", HexEncode(sha256)}};
  if (!ec) j["size"] = size;
  return j;
}

}  // namespace

Result<nlohmann::json> RunMeasure(const MeasureFlags& f) {
  snp::MeasureOptions opt;
  if (f.vcpus < 0 || f.vcpus > static_cast<int64_t>(UINT32_MAX)) {
    return InvalidArgumentError("vcpus: got " + std::to_string(f.vcpus) + ", want 1..512");
  }
  opt.vcpus = static_cast<uint32_t>(f.vcpus);
  VHSM_ASSIGN_OR_RETURN(opt.vmm, snp::ParseVmmType(f.vmm));
  std::string vcpu_type;
  if (f.vcpu_sig) {
    VHSM_ASSIGN_OR_RETURN(uint64_t sig, ParseHexNumber(*f.vcpu_sig, UINT32_MAX, "vcpu-sig"));
    opt.vcpu_sig = static_cast<uint32_t>(sig);
  } else {
    vcpu_type = f.vcpu_type.value_or(std::string(snp::kDefaultVcpuType));
    VHSM_ASSIGN_OR_RETURN(opt.vcpu_sig, snp::VcpuSignatureForType(vcpu_type));
  }
  VHSM_ASSIGN_OR_RETURN(opt.guest_features,
                        ParseHexNumber(f.guest_features, UINT64_MAX, "guest-features"));

  VHSM_ASSIGN_OR_RETURN(Bytes image, ReadFileBytes(f.ovmf, snp::kMaxOvmfBytes));
  Result<snp::OvmfInfo> parsed = snp::ParseOvmf(image);
  if (!parsed.ok()) return parsed.status().Annotate(f.ovmf);
  snp::OvmfInfo info = std::move(parsed).value();
  nlohmann::json inputs;
  inputs["ovmf"] = FileJson(f.ovmf, [&] {
    Bytes d = crypto::Sha256(image);
    snp::Sha256Digest out{};
    std::copy(d.begin(), d.end(), out.begin());
    return out;
  }());
  inputs["ovmf"]["kernel_hashes_supported"] = info.HasSnpKernelHashes();

  if (f.ovmf_hash) {
    VHSM_ASSIGN_OR_RETURN(opt.ovmf_hash, ParseHexArray<48>(*f.ovmf_hash, "ovmf-hash"));
    inputs["ovmf_hash"] = {{"value", HexEncode(*opt.ovmf_hash)}, {"source", "given"}};
  } else {
    // Same result as letting ComputeLaunchDigest hash the pages, and it lets us report the seed.
    VHSM_ASSIGN_OR_RETURN(opt.ovmf_hash, snp::ComputeOvmfHash(image));
    inputs["ovmf_hash"] = {{"value", HexEncode(*opt.ovmf_hash)}, {"source", "computed"}};
  }

  if (f.kernel) {
    if (!info.HasSnpKernelHashes()) {
      // Refuse before hashing possibly large files.
      return FailedPreconditionError(
          "kernel: " + f.ovmf +
          " has no SNP kernel-hashes support (no SNP_KERNEL_HASHES metadata section), so a "
          "--kernel/--initrd/--append boot is not measured; use an AmdSev OVMF build");
    }
    VHSM_ASSIGN_OR_RETURN(snp::Sha256Digest kernel, snp::Sha256File(*f.kernel));
    inputs["kernel"] = FileJson(*f.kernel, kernel);
    std::optional<snp::Sha256Digest> initrd;
    if (f.initrd) {
      VHSM_ASSIGN_OR_RETURN(initrd, snp::Sha256File(*f.initrd));
      inputs["initrd"] = FileJson(*f.initrd, *initrd);
    }
    if (f.append) inputs["append"] = *f.append;
    opt.direct_boot = snp::MakeDirectBootHashes(kernel, initrd, f.append);
  }

  VHSM_ASSIGN_OR_RETURN(snp::LaunchDigest digest, snp::ComputeLaunchDigest(image, info, opt));
  inputs["vmm"] = snp::VmmTypeName(opt.vmm);
  inputs["vcpus"] = opt.vcpus;
  if (!vcpu_type.empty()) inputs["vcpu_type"] = vcpu_type;
  inputs["vcpu_sig"] = HexNumber(opt.vcpu_sig);
  inputs["guest_features"] = HexNumber(opt.guest_features);
  return nlohmann::json{{"version", 1},
                        {"type", "snp-launch-measurement"},
                        {"measurement", HexEncode(digest)},
                        {"inputs", std::move(inputs)}};
}

namespace {

Result<SecretBytes> ReadKeyFile(const std::string& path) {
  VHSM_ASSIGN_OR_RETURN(Bytes raw, ReadFileBytes(path, 64 * 1024));
  SecretBytes key(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return key;
}

Result<snp::IdBlockResult> RunIdBlock(const IdBlockFlags& f) {
  snp::IdBlockParams p;
  VHSM_ASSIGN_OR_RETURN(p.measurement, ParseHexArray<48>(f.measurement, "measurement"));
  if (f.family_id) {
    VHSM_ASSIGN_OR_RETURN(p.family_id, ParseHexArray<16>(*f.family_id, "family-id"));
  }
  if (f.image_id) {
    VHSM_ASSIGN_OR_RETURN(p.image_id, ParseHexArray<16>(*f.image_id, "image-id"));
  }
  p.guest_svn = f.svn;
  VHSM_ASSIGN_OR_RETURN(p.policy, ParseHexNumber(f.policy, UINT64_MAX, "policy"));

  VHSM_ASSIGN_OR_RETURN(SecretBytes id_pem, ReadKeyFile(f.id_key));
  VHSM_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr id_key, snp::LoadP384PrivateKey(id_pem, "id-key"));
  crypto::EvpPkeyPtr author_key;
  if (f.author_key) {
    VHSM_ASSIGN_OR_RETURN(SecretBytes author_pem, ReadKeyFile(*f.author_key));
    VHSM_ASSIGN_OR_RETURN(author_key, snp::LoadP384PrivateKey(author_pem, "author-key"));
  }
  return snp::BuildIdBlock(p, id_key.get(), author_key.get());
}

}  // namespace

void AddLaunchInputFlags(CLI::App* app, MeasureFlags* mf) {
  app->add_option("--kernel", mf->kernel, "kernel for -kernel direct boot (needs an OVMF with SNP kernel hashes)");
  app->add_option("--initrd", mf->initrd, "initrd for -initrd");
  app->add_option("--append", mf->append, "kernel command line for -append");
  app->add_option("--vcpus", mf->vcpus, "number of vCPUs, 1..512 (default 1)");
  auto* type_opt = app->add_option("--vcpu-type", mf->vcpu_type,
                                   "QEMU vCPU model, e.g. EPYC-v4, EPYC-Milan, EPYC-Genoa, "
                                   "EPYC-Turin (default EPYC-v4)");
  auto* sig_opt = app->add_option("--vcpu-sig", mf->vcpu_sig, "vCPU signature CPUID(1).EAX in hex");
  type_opt->excludes(sig_opt);
  app->add_option("--guest-features", mf->guest_features,
                  "SEV_FEATURES in hex (default 0x1 = SNPActive; 0x21 adds DebugSwap)");
  app->add_option("--vmm", mf->vmm, "VMM flavour: qemu, ec2 or gce (default qemu)");
  app->add_option("--ovmf-hash", mf->ovmf_hash,
                  "precomputed OVMF pages digest (hex, from `vhsm measure ovmf-hash`)");
}

void RegisterMeasureCommands(CLI::App& root, int& exit_code) {
  auto mf = std::make_shared<MeasureFlags>();
  CLI::App* measure = root.add_subcommand(
      "measure",
      "Expected SEV-SNP launch measurement of OVMF (+ kernel/initrd/cmdline), ovmf-hash, id-block");
  measure->require_subcommand(0, 1);
  measure->add_option("--ovmf", mf->ovmf, "OVMF firmware image (e.g. an AmdSev build)");
  AddLaunchInputFlags(measure, mf.get());
  measure->add_flag("--json", mf->json, "print measurement and every measured input as JSON");
  measure->callback([measure, mf, &exit_code] {
    if (!measure->get_subcommands().empty()) return;  // ovmf-hash / id-block ran instead
    if (mf->ovmf.empty() || (!mf->kernel && (mf->initrd || mf->append))) {
      std::fprintf(stderr, "vhsm measure: %s\n%s",
                   mf->ovmf.empty() ? "--ovmf is required (the OVMF firmware image)"
                                    : "--initrd/--append are only measured with --kernel",
                   "Run with --help for more information.\n");
      exit_code = kExitUsage;
      return;
    }
    Result<nlohmann::json> r = RunMeasure(*mf);
    if (!r.ok()) {
      exit_code = Fail(r.status());
      return;
    }
    if (mf->json) {
      std::printf("%s\n", r->dump(2).c_str());
    } else {
      std::printf("%s\n", (*r)["measurement"].get<std::string>().c_str());
    }
    exit_code = kExitOk;
  });

  auto ovmf_path = std::make_shared<std::string>();
  CLI::App* ovmf_hash = measure->add_subcommand(
      "ovmf-hash", "print the digest of the OVMF pages alone (seed for --ovmf-hash)");
  ovmf_hash->add_option("--ovmf", *ovmf_path, "OVMF firmware image")->required();
  ovmf_hash->callback([ovmf_path, &exit_code] {
    Result<Bytes> image = ReadFileBytes(*ovmf_path, snp::kMaxOvmfBytes);
    if (!image.ok()) {
      exit_code = Fail(image.status());
      return;
    }
    Result<snp::OvmfInfo> info = snp::ParseOvmf(*image);  // refuse non-OVMF input here too
    if (!info.ok()) {
      exit_code = Fail(info.status().Annotate(*ovmf_path));
      return;
    }
    Result<snp::LaunchDigest> d = snp::ComputeOvmfHash(*image);
    if (!d.ok()) {
      exit_code = Fail(d.status());
      return;
    }
    std::printf("%s\n", HexEncode(*d).c_str());
    exit_code = kExitOk;
  });

  auto idf = std::make_shared<IdBlockFlags>();
  CLI::App* id_block = measure->add_subcommand(
      "id-block", "build and sign an SNP ID block + ID auth block (base64, for QEMU id-block=/id-auth=)");
  id_block->add_option("--id-key", idf->id_key, "ECDSA P-384 ID private key (PEM or DER)")->required();
  id_block->add_option("--author-key", idf->author_key, "ECDSA P-384 author private key (PEM or DER)");
  id_block->add_option("--measurement", idf->measurement, "expected launch digest (48 bytes hex)")->required();
  id_block->add_option("--family-id", idf->family_id, "FAMILY_ID (16 bytes hex, default zeros)");
  id_block->add_option("--image-id", idf->image_id, "IMAGE_ID (16 bytes hex, default zeros)");
  id_block->add_option("--svn", idf->svn, "GUEST_SVN (default 0)");
  id_block->add_option("--policy", idf->policy, "guest POLICY in hex (default 0x30000)");
  id_block->callback([idf, &exit_code] {
    Result<snp::IdBlockResult> r = RunIdBlock(*idf);
    if (!r.ok()) {
      exit_code = Fail(r.status());
      return;
    }
    const std::string block = Base64Encode(r->id_block);
    const std::string auth = Base64Encode(r->id_auth);
    std::printf("id-block: %s\n", block.c_str());
    std::printf("id-auth: %s\n", auth.c_str());
    std::printf("id-key-digest: %s\n", HexEncode(r->id_key_digest).c_str());
    if (r->author_key_digest) {
      std::printf("author-key-digest: %s\n", HexEncode(*r->author_key_digest).c_str());
    }
    std::printf("qemu: -object sev-snp-guest,id=sev0,policy=%s,id-block=%s,id-auth=%s%s\n",
                idf->policy.c_str(), block.c_str(), auth.c_str(),
                r->author_key_digest ? ",author-key-enabled=on" : "");
    exit_code = kExitOk;
  });
}

}  // namespace vhsm::cli
