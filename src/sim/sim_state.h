// sim_state.h: the on-disk state of the SEV-SNP simulator (one directory, made by
// `vhsm sim init DIR`). It holds what real AMD firmware would know about one launched guest on
// one chip: the platform (product, CPUID, TCBs, firmware version, chip id), the guest's launch
// parameters (policy, measurement, host data, ID block fields, VMPL), the chip and VM root
// secrets used for derived keys, and the simulator's OWN certificate authority (ARK, ASK or
// ASVK, VCEK or VLEK). Every private key here is a TEST key: it is stored in plain PEM and proves
// nothing to anyone but a verifier told to trust this directory's ark.pem.
//
// Layout (all files 0600, directory 0700):
//   sim.toml       versioned, strict config (format_version = 1); see ParseSimConfig
//   secrets.toml   chip_secret and vmrk_secret (32 bytes each, hex)
//   ark.key.pem ark.pem  ask.key.pem ask.pem  vcek.key.pem vcek.pem
//   [asvk.key.pem asvk.pem vlek.key.pem vlek.pem]   when initialised with a VLEK
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"
#include "snp/product.h"
#include "snp/report.h"

namespace vhsm::sim {

inline constexpr uint32_t kSimStateFormatVersion = 1;
inline constexpr size_t kMaxStateFileBytes = 64 * 1024;
inline constexpr char kConfigFileName[] = "sim.toml";
inline constexpr char kSecretsFileName[] = "secrets.toml";

// Everything the simulated firmware reports, as the ABI names it (snp-facts.md section 1).
struct SimConfig {
  snp::Product product = snp::Product::kGenoa;
  uint32_t report_version = 3;
  uint8_t cpuid_fam_id = 0x19;
  uint8_t cpuid_mod_id = 0x11;
  uint8_t cpuid_step = 0x01;
  // The VMPL the simulated guest software runs at: requests for a lower VMPL are refused.
  uint32_t vmpl = 0;
  uint32_t guest_svn = 0;
  uint64_t policy = 0x30000;
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 48> id_key_digest{};
  std::array<uint8_t, 48> author_key_digest{};
  bool author_key_en = false;
  bool mask_chip_key = false;
  snp::SigningKey signing_key = snp::SigningKey::kVcek;
  uint64_t platform_info = 0x25;
  uint64_t current_tcb = 0;
  uint64_t reported_tcb = 0;
  uint64_t committed_tcb = 0;
  uint64_t launch_tcb = 0;
  snp::FirmwareVersion current_version{0x2b, 55, 1};
  snp::FirmwareVersion committed_version{0x2b, 55, 1};
  std::array<uint8_t, 64> chip_id{};
  std::array<uint8_t, 32> report_id{};     // stable for the life of this launch
  std::array<uint8_t, 32> report_id_ma{};  // all 0xFF: no migration agent
  uint64_t launch_mit_vector = 0;          // v5+
  uint64_t current_mit_vector = 0;         // v5+
  std::string csp_id;                      // VLEK cspID extension; empty without a VLEK
};

// Realistic values for `product` (TCB, CPUID, firmware 1.55.x, platform info as seen on real
// hosts) with a random chip_id (8 significant bytes on Turin) and random report_id.
Result<SimConfig> DefaultSimConfig(snp::Product product, uint32_t report_version);

// Cross-field checks: version 2-5, vmpl <= 3, policy bit 17 set and bits 63:26 clear, TCB
// reserved bytes clear for the product layout, CPUID matching the product, Turin chip_id with
// 8 significant bytes, mitigation vectors zero before v5, guest_svn fits the request bounds.
// InvalidArgument naming the field.
Status ValidateSimConfig(const SimConfig& config);

// Strict parser for sim.toml: a flat TOML subset (`key = value` lines; values are "strings",
// integers (decimal or 0x-hex) and true/false; '#' comments). Every field is required, unknown
// or duplicate keys are errors, as are lines over 1024 chars and files over 64 KiB. `file_name`
// prefixes every error ("sim.toml:7: field 'policy': ...").
Result<SimConfig> ParseSimConfig(std::string_view text, std::string_view file_name = kConfigFileName);
std::string SerializeSimConfig(const SimConfig& config);

// The two 32-byte root secrets of the simulated chip / launch.
struct SimSecrets {
  SecretBytes chip_secret;  // stands in for the chip-unique secret VCEK-rooted keys come from
  SecretBytes vmrk_secret;  // the VM root key (VMRK) of this launch
};
Result<SimSecrets> ParseSimSecrets(std::string_view text, std::string_view file_name = kSecretsFileName);
std::string SerializeSimSecrets(const SimSecrets& secrets);

// The whole loaded state. Move-only (private keys).
struct SimState {
  SimConfig config;
  SimSecrets secrets;
  crypto::EvpPkeyPtr ark_key, ask_key, vcek_key;  // ask_key signs the VCEK
  crypto::EvpPkeyPtr asvk_key, vlek_key;          // null without a VLEK
  Bytes ark_der, ask_der, vcek_der, asvk_der, vlek_der;
  bool has_vlek() const { return !vlek_der.empty(); }
};

struct InitOptions {
  bool with_vlek = false;      // also create ASVK "SEV-VLEK-<P>" and a VLEK leaf
  bool sign_with_vlek = false; // reports carry SIGNING_KEY = VLEK (implies with_vlek)
  bool overwrite = false;      // replace an existing state in DIR
  int rsa_bits = 4096;         // ARK/ASK/ASVK size (4096 like AMD's)
  // Existing RSA keys to use instead of generating ARK/ASK/ASVK keys (RSA-4096 generation takes
  // seconds; tests reuse cached keys). Not owned; the state takes its own reference.
  EVP_PKEY* reuse_ark_key = nullptr;
  EVP_PKEY* reuse_ask_key = nullptr;
  EVP_PKEY* reuse_asvk_key = nullptr;
};

// Generates keys, certificates and secrets for `config` and writes the state directory.
// AlreadyExists when DIR already holds sim.toml and !overwrite.
Result<SimState> InitSimState(const std::string& dir, const SimConfig& config, const InitOptions& options);
// Loads and validates a state directory. Errors name the file and the field.
Result<SimState> LoadSimState(const std::string& dir);
// Rewrites sim.toml only (e.g. after a test changes a launch parameter).
Status SaveSimConfig(const std::string& dir, const SimConfig& config);

}  // namespace vhsm::sim
