// report_json.cc: JSON and text renderings of a parsed report. Only formatting; the field list
// follows report.h in offset order so nothing is forgotten.
#include "snp/report_json.h"

#include <cstdio>
#include <sstream>

namespace vhsm::snp {
namespace {

std::string HexU64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string HexU32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

std::string HexU8(uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", v);
  return buf;
}

std::string LeBytesHex(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return HexEncode(b);
}

Product LayoutProduct(Product p) { return p == Product::kUnknown ? Product::kMilan : p; }

nlohmann::json TcbJson(uint64_t raw, Product product) {
  TcbParts parts = DecodeTcb(raw, LayoutProduct(product));
  nlohmann::json j;
  j["raw"] = HexU64(raw);
  j["raw_le_bytes"] = LeBytesHex(raw);
  if (parts.fmc.has_value()) j["fmc"] = *parts.fmc;
  j["bootloader"] = parts.bootloader;
  j["tee"] = parts.tee;
  j["snp"] = parts.snp;
  j["microcode"] = parts.microcode;
  return j;
}

nlohmann::json PolicyJson(uint64_t policy) {
  nlohmann::json j;
  j["raw"] = HexU64(policy);
  j["abi_major"] = static_cast<uint8_t>(policy >> 8);
  j["abi_minor"] = static_cast<uint8_t>(policy);
  j["flags"] = PolicyFlagNames(policy);
  j["smt"] = (policy & policy_bits::kSmt) != 0;
  j["migrate_ma"] = (policy & policy_bits::kMigrateMa) != 0;
  j["debug"] = (policy & policy_bits::kDebug) != 0;
  j["single_socket"] = (policy & policy_bits::kSingleSocket) != 0;
  j["cxl_allow"] = (policy & policy_bits::kCxlAllow) != 0;
  j["mem_aes_256_xts"] = (policy & policy_bits::kMemAes256Xts) != 0;
  j["rapl_dis"] = (policy & policy_bits::kRaplDis) != 0;
  j["ciphertext_hiding"] = (policy & policy_bits::kCiphertextHiding) != 0;
  j["page_swap_disable"] = (policy & policy_bits::kPageSwapDisable) != 0;
  return j;
}

nlohmann::json PlatformInfoJson(uint64_t info) {
  nlohmann::json j;
  j["raw"] = HexU64(info);
  j["flags"] = PlatformInfoFlagNames(info);
  j["smt_en"] = (info & platform_bits::kSmtEn) != 0;
  j["tsme_en"] = (info & platform_bits::kTsmeEn) != 0;
  j["ecc_en"] = (info & platform_bits::kEccEn) != 0;
  j["rapl_dis"] = (info & platform_bits::kRaplDis) != 0;
  j["ciphertext_hiding_en"] = (info & platform_bits::kCiphertextHidingEn) != 0;
  j["alias_check_complete"] = (info & platform_bits::kAliasCheckComplete) != 0;
  j["sev_tio_en"] = (info & platform_bits::kSevTioEn) != 0;
  return j;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ",";
    out += s;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string FirmwareVersionString(const FirmwareVersion& v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.build);
}

nlohmann::json ReportToJson(const AttestationReport& r, Product product) {
  nlohmann::json j;
  j["version"] = r.version;
  j["product"] = std::string(ProductName(product));
  j["guest_svn"] = r.guest_svn;
  j["policy"] = PolicyJson(r.policy);
  j["family_id"] = HexEncode(r.family_id);
  j["image_id"] = HexEncode(r.image_id);
  j["vmpl"] = r.vmpl;
  j["signature_algo"] = r.signature_algo;
  j["signature_algo_name"] = r.signature_algo == kSignatureAlgoEcdsaP384Sha384
                                 ? "ECDSA P-384 with SHA-384"
                                 : "unknown";
  j["current_tcb"] = TcbJson(r.current_tcb, product);
  j["platform_info"] = PlatformInfoJson(r.platform_info);
  j["signer_info"] = {{"raw", HexU32(r.signer_info)},
                      {"author_key_en", r.author_key_en()},
                      {"mask_chip_key", r.mask_chip_key()},
                      {"signing_key", SigningKeyName(r.signing_key_raw())},
                      {"signing_key_raw", r.signing_key_raw()}};
  j["report_data"] = HexEncode(r.report_data);
  j["measurement"] = HexEncode(r.measurement);
  j["host_data"] = HexEncode(r.host_data);
  j["id_key_digest"] = HexEncode(r.id_key_digest);
  j["author_key_digest"] = HexEncode(r.author_key_digest);
  j["report_id"] = HexEncode(r.report_id);
  j["report_id_ma"] = HexEncode(r.report_id_ma);
  j["reported_tcb"] = TcbJson(r.reported_tcb, product);
  if (r.has_cpuid()) {
    j["cpuid"] = {{"family", r.cpuid_fam_id}, {"model", r.cpuid_mod_id}, {"stepping", r.cpuid_step},
                  {"family_hex", HexU8(r.cpuid_fam_id)}, {"model_hex", HexU8(r.cpuid_mod_id)},
                  {"stepping_hex", HexU8(r.cpuid_step)}};
  }
  j["chip_id"] = HexEncode(r.chip_id);
  j["committed_tcb"] = TcbJson(r.committed_tcb, product);
  j["current_version"] = FirmwareVersionString(r.current_version);
  j["committed_version"] = FirmwareVersionString(r.committed_version);
  j["launch_tcb"] = TcbJson(r.launch_tcb, product);
  if (r.has_mitigation_vectors()) {
    j["launch_mit_vector"] = HexU64(r.launch_mit_vector);
    j["current_mit_vector"] = HexU64(r.current_mit_vector);
  }
  j["signature"] = {{"r", HexEncode(r.signature_r)}, {"s", HexEncode(r.signature_s)}};
  return j;
}

std::string ReportToText(const AttestationReport& r, Product product) {
  std::ostringstream o;
  auto line = [&o](std::string_view name, const std::string& value) {
    o << name << ':';
    for (size_t i = name.size(); i < 20; ++i) o << ' ';
    o << value << '\n';
  };
  auto tcb = [&](uint64_t raw) {
    return TcbToString(DecodeTcb(raw, LayoutProduct(product))) + " (" + HexU64(raw) + ")";
  };
  std::string product_name(ProductName(product));
  if (product == Product::kUnknown) product_name += " (TCB decoded with the Milan/Genoa layout)";
  line("version", std::to_string(r.version));
  line("product", product_name);
  if (r.has_cpuid()) {
    line("cpuid", "family " + HexU8(r.cpuid_fam_id) + " model " + HexU8(r.cpuid_mod_id) +
                      " stepping " + HexU8(r.cpuid_step));
  }
  line("guest_svn", std::to_string(r.guest_svn));
  line("policy", HexU64(r.policy) + " abi " + std::to_string((r.policy >> 8) & 0xFF) + "." +
                     std::to_string(r.policy & 0xFF) + " [" + Join(PolicyFlagNames(r.policy)) + "]");
  line("vmpl", std::to_string(r.vmpl));
  line("signature_algo", std::to_string(r.signature_algo) +
                             (r.signature_algo == kSignatureAlgoEcdsaP384Sha384
                                  ? " (ECDSA P-384 with SHA-384)"
                                  : " (unknown)"));
  line("platform_info", HexU64(r.platform_info) + " [" + Join(PlatformInfoFlagNames(r.platform_info)) + "]");
  line("signer_info", HexU32(r.signer_info) + " signing_key=" + SigningKeyName(r.signing_key_raw()) +
                          " author_key_en=" + std::to_string(r.author_key_en()) +
                          " mask_chip_key=" + std::to_string(r.mask_chip_key()));
  line("family_id", HexEncode(r.family_id));
  line("image_id", HexEncode(r.image_id));
  line("report_data", HexEncode(r.report_data));
  line("measurement", HexEncode(r.measurement));
  line("host_data", HexEncode(r.host_data));
  line("id_key_digest", HexEncode(r.id_key_digest));
  line("author_key_digest", HexEncode(r.author_key_digest));
  line("report_id", HexEncode(r.report_id));
  line("report_id_ma", HexEncode(r.report_id_ma));
  line("chip_id", HexEncode(r.chip_id));
  line("current_tcb", tcb(r.current_tcb));
  line("reported_tcb", tcb(r.reported_tcb));
  line("committed_tcb", tcb(r.committed_tcb));
  line("launch_tcb", tcb(r.launch_tcb));
  line("current_version", FirmwareVersionString(r.current_version));
  line("committed_version", FirmwareVersionString(r.committed_version));
  if (r.has_mitigation_vectors()) {
    line("launch_mit_vector", HexU64(r.launch_mit_vector));
    line("current_mit_vector", HexU64(r.current_mit_vector));
  }
  line("signature_r", HexEncode(ByteSpan(r.signature_r).first(48)) + " (LE, low 48 bytes)");
  line("signature_s", HexEncode(ByteSpan(r.signature_s).first(48)) + " (LE, low 48 bytes)");
  return o.str();
}

}  // namespace vhsm::snp
