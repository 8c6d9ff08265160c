#include "services/attestation/policy.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "base/bytes.h"
#include "base/file.h"
#include "crypto/digest.h"
#include "jose/jcs.h"
#include "jose/json_util.h"
#include "services/attestation/toml_json.h"

namespace vhsm::attestation {

using nlohmann::json;

namespace {

// Rule names in evaluation order; each appears exactly once in an Appraisal.
const std::vector<std::string> kRuleNames = {
    "product",          "report_version",  "measurement",      "tcb.reported",
    "tcb.committed",    "tcb.launch",      "tcb.current",      "vmpl",
    "policy.debug",     "policy.migrate_ma", "policy.smt",     "policy.single_socket",
    "policy.abi",       "guest_svn",       "family_id",        "image_id",
    "id_key_digest",    "author_key_digest", "host_data",      "chip_id",
    "platform_info",    "mitigation_vector"};

const std::vector<std::string> kTcbNames = {"reported", "committed", "launch", "current"};

std::string PlatformBitName(int bit) {
  std::vector<std::string> n = snp::PlatformInfoFlagNames(1ull << bit);
  return n.empty() ? "BIT_" + std::to_string(bit) : n[0];
}

Result<uint64_t> PlatformBitsFromNames(const json& arr, std::string_view what) {
  if (!arr.is_array()) return InvalidArgumentError(std::string(what) + ": want an array of flag names");
  uint64_t bits = 0;
  for (const json& e : arr) {
    if (!e.is_string()) return InvalidArgumentError(std::string(what) + ": want flag name strings");
    const std::string name = e.get<std::string>();
    bool found = false;
    for (int b = 0; b < 64; ++b) {
      if (PlatformBitName(b) == name) {
        bits |= 1ull << b;
        found = true;
        break;
      }
    }
    if (!found) {
      return InvalidArgumentError(std::string(what) + ": unknown PLATFORM_INFO flag '" + name +
                                  "' (want SMT_EN, TSME_EN, ECC_EN, RAPL_DIS, CIPHERTEXT_HIDING_EN, "
                                  "ALIAS_CHECK_COMPLETE, SEV_TIO_EN or BIT_n)");
    }
  }
  return bits;
}

json PlatformNamesFromBits(uint64_t bits) {
  json arr = json::array();
  for (int b = 0; b < 64; ++b) {
    if (bits & (1ull << b)) arr.push_back(PlatformBitName(b));
  }
  return arr;
}

template <size_t N>
Result<std::array<uint8_t, N>> FixedHex(const json& v, std::string_view what, bool allow_short8 = false) {
  if (!v.is_string()) return InvalidArgumentError(std::string(what) + ": want a hex string");
  std::string text = v.get<std::string>();
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text = text.substr(2);
  VHSM_ASSIGN_OR_RETURN(Bytes b, HexDecode(text));
  std::array<uint8_t, N> out{};
  if (b.size() == N || (allow_short8 && b.size() == 8)) {
    std::copy(b.begin(), b.end(), out.begin());
    return out;
  }
  return InvalidArgumentError(std::string(what) + ": got " + std::to_string(b.size()) + " bytes of hex, want " +
                              std::to_string(N) + (allow_short8 ? " (or 8 for Turin)" : ""));
}

template <size_t N>
Result<std::vector<std::array<uint8_t, N>>> HexList(const json& v, std::string_view what,
                                                    bool allow_short8 = false) {
  if (!v.is_array()) return InvalidArgumentError(std::string(what) + ": want an array of hex strings");
  if (v.size() > kMaxAllowListEntries) return InvalidArgumentError(std::string(what) + ": too many entries");
  std::vector<std::array<uint8_t, N>> out;
  for (size_t i = 0; i < v.size(); ++i) {
    VHSM_ASSIGN_OR_RETURN(auto a, FixedHex<N>(v[i], std::string(what) + "[" + std::to_string(i) + "]",
                                              allow_short8));
    out.push_back(a);
  }
  return out;
}

template <size_t N>
json HexListJson(const std::vector<std::array<uint8_t, N>>& v) {
  json arr = json::array();
  for (const auto& a : v) arr.push_back(HexEncode(a));
  return arr;
}

Result<uint64_t> GetUint(const json& v, std::string_view what, uint64_t max) {
  uint64_t out = 0;
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    out = static_cast<uint64_t>(v.get<int64_t>());
  } else if (v.is_string()) {
    // "0x..." hex for 64-bit masks.
    std::string s = v.get<std::string>();
    if (s.size() < 3 || s.size() > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
      return InvalidArgumentError(std::string(what) + ": want a non-negative integer or \"0x\" hex, got \"" +
                                  s.substr(0, 40) + "\"");
    }
    for (size_t i = 2; i < s.size(); ++i) {
      const char c = s[i];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                               : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return InvalidArgumentError(std::string(what) + ": bad hex digit");
      out = (out << 4) | static_cast<uint64_t>(d);
    }
  } else {
    return InvalidArgumentError(std::string(what) + ": want a non-negative integer");
  }
  if (out > max) {
    return InvalidArgumentError(std::string(what) + ": got " + std::to_string(out) + ", maximum " +
                                std::to_string(max));
  }
  return out;
}

Result<BitRule> ParseBitRule(const json& v, std::string_view what) {
  if (v.is_boolean()) return v.get<bool>() ? BitRule::kRequire : BitRule::kForbid;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "any") return BitRule::kAny;
    if (s == "require") return BitRule::kRequire;
    if (s == "forbid") return BitRule::kForbid;
  }
  return InvalidArgumentError(std::string(what) + ": want \"any\", \"require\", \"forbid\" or a boolean");
}

std::string_view BitRuleName(BitRule r) {
  switch (r) {
    case BitRule::kRequire: return "require";
    case BitRule::kForbid: return "forbid";
    default: return "any";
  }
}

Status CheckMembers(const json& obj, std::initializer_list<std::string_view> allowed, std::string_view what) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return InvalidArgumentError(std::string(what) + ": unknown member '" + it.key() + "'");
    }
  }
  return OkStatus();
}

Result<ReferenceValue> ParseOneReference(const json& e, std::string_view what) {
  if (!e.is_object()) return InvalidArgumentError(std::string(what) + ": want an object");
  if (!e.contains("measurement")) return InvalidArgumentError(std::string(what) + ": missing 'measurement'");
  ReferenceValue rv;
  VHSM_ASSIGN_OR_RETURN(rv.measurement, FixedHex<48>(e["measurement"], std::string(what) + ".measurement"));
  if (e.contains("type")) {
    // `vhsm measure --json` output: {"version":1,"type":"snp-launch-measurement","measurement",
    // "inputs":{...}}. The label defaults to the OVMF file name when there is one.
    if (!e["type"].is_string() || e["type"].get<std::string>() != "snp-launch-measurement") {
      return InvalidArgumentError(std::string(what) + ".type: want \"snp-launch-measurement\"");
    }
  } else {
    VHSM_RETURN_IF_ERROR(CheckMembers(e, {"label", "measurement"}, what));
  }
  if (e.contains("label")) {
    if (!e["label"].is_string() || e["label"].get<std::string>().size() > 256) {
      return InvalidArgumentError(std::string(what) + ".label: want a string of at most 256 characters");
    }
    rv.label = e["label"].get<std::string>();
  } else if (e.contains("inputs") && e["inputs"].is_object() && e["inputs"].contains("ovmf") &&
             e["inputs"]["ovmf"].is_object() && e["inputs"]["ovmf"].contains("path") &&
             e["inputs"]["ovmf"]["path"].is_string()) {
    std::string p = e["inputs"]["ovmf"]["path"].get<std::string>();
    rv.label = p.substr(p.find_last_of('/') == std::string::npos ? 0 : p.find_last_of('/') + 1);
  }
  if (rv.label.empty()) rv.label = HexEncode(rv.measurement).substr(0, 16);
  return rv;
}

bool InList(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const std::vector<std::string>& RuleNames() { return kRuleNames; }

std::string_view EarStatusName(EarStatus s) {
  switch (s) {
    case EarStatus::kAffirming: return "affirming";
    case EarStatus::kWarning: return "warning";
    default: return "contraindicated";
  }
}

AppraisalPolicy DevDefaultPolicy() {
  AppraisalPolicy p;
  p.id = "dev-default";
  p.accept_any_measurement = true;
  p.vmpls.clear();
  p.allow_debug = false;
  return p;
}

Result<std::vector<ReferenceValue>> ParseReferenceValues(const json& j) {
  std::vector<ReferenceValue> out;
  if (j.is_array()) {
    if (j.size() > kMaxReferenceValues) return InvalidArgumentError("measurements: too many entries");
    for (size_t i = 0; i < j.size(); ++i) {
      VHSM_ASSIGN_OR_RETURN(ReferenceValue rv, ParseOneReference(j[i], "measurements[" + std::to_string(i) + "]"));
      out.push_back(std::move(rv));
    }
    return out;
  }
  VHSM_ASSIGN_OR_RETURN(ReferenceValue rv, ParseOneReference(j, "reference value"));
  out.push_back(std::move(rv));
  return out;
}

Result<AppraisalPolicy> PolicyFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgumentError("policy: want a JSON object");
  VHSM_RETURN_IF_ERROR(CheckMembers(
      j,
      {"id", "products", "report_versions", "accept_any_measurement", "measurements", "min_tcb", "tcb_checks",
       "vmpls", "guest_policy", "min_guest_svn", "family_ids", "image_ids", "id_key_digests",
       "author_key_digests", "host_data", "chip_ids", "platform_info", "min_mitigation_vector", "warn_only"},
      "policy"));
  AppraisalPolicy p;
  if (j.contains("id")) {
    if (!j["id"].is_string() || j["id"].get<std::string>().empty() || j["id"].get<std::string>().size() > 128) {
      return InvalidArgumentError("policy.id: want a non-empty string of at most 128 characters");
    }
    p.id = j["id"].get<std::string>();
  }
  if (j.contains("products")) {
    if (!j["products"].is_array()) return InvalidArgumentError("policy.products: want an array of names");
    for (const json& e : j["products"]) {
      if (!e.is_string()) return InvalidArgumentError("policy.products: want product name strings");
      VHSM_ASSIGN_OR_RETURN(snp::Product prod, snp::ParseProduct(e.get<std::string>()));
      p.products.push_back(prod);
    }
  }
  if (j.contains("report_versions")) {
    if (!j["report_versions"].is_array()) return InvalidArgumentError("policy.report_versions: want an array");
    for (const json& e : j["report_versions"]) {
      VHSM_ASSIGN_OR_RETURN(uint64_t v, GetUint(e, "policy.report_versions[]", 255));
      p.report_versions.push_back(static_cast<uint32_t>(v));
    }
  }
  if (j.contains("accept_any_measurement")) {
    if (!j["accept_any_measurement"].is_boolean()) {
      return InvalidArgumentError("policy.accept_any_measurement: want a boolean");
    }
    p.accept_any_measurement = j["accept_any_measurement"].get<bool>();
  }
  if (j.contains("measurements")) {
    VHSM_ASSIGN_OR_RETURN(p.reference_values, ParseReferenceValues(j["measurements"].is_array()
                                                                         ? j["measurements"]
                                                                         : json::array({j["measurements"]})));
  }
  if (j.contains("min_tcb")) {
    const json& t = j["min_tcb"];
    if (!t.is_object()) return InvalidArgumentError("policy.min_tcb: want an object");
    VHSM_RETURN_IF_ERROR(CheckMembers(t, {"bootloader", "tee", "snp", "microcode", "fmc"}, "policy.min_tcb"));
    auto get = [&](const char* k, std::optional<uint8_t>& out) -> Status {
      if (!t.contains(k)) return OkStatus();
      VHSM_ASSIGN_OR_RETURN(uint64_t v, GetUint(t[k], std::string("policy.min_tcb.") + k, 255));
      out = static_cast<uint8_t>(v);
      return OkStatus();
    };
    VHSM_RETURN_IF_ERROR(get("bootloader", p.min_tcb.bootloader));
    VHSM_RETURN_IF_ERROR(get("tee", p.min_tcb.tee));
    VHSM_RETURN_IF_ERROR(get("snp", p.min_tcb.snp));
    VHSM_RETURN_IF_ERROR(get("microcode", p.min_tcb.microcode));
    VHSM_RETURN_IF_ERROR(get("fmc", p.min_tcb.fmc));
  }
  if (j.contains("tcb_checks")) {
    if (!j["tcb_checks"].is_array()) return InvalidArgumentError("policy.tcb_checks: want an array");
    p.tcb_checks.clear();
    for (const json& e : j["tcb_checks"]) {
      if (!e.is_string() || !InList(kTcbNames, e.get<std::string>())) {
        return InvalidArgumentError("policy.tcb_checks: want \"reported\", \"committed\", \"launch\" or \"current\"");
      }
      p.tcb_checks.push_back(e.get<std::string>());
    }
  }
  if (j.contains("vmpls")) {
    if (!j["vmpls"].is_array()) return InvalidArgumentError("policy.vmpls: want an array");
    p.vmpls.clear();
    for (const json& e : j["vmpls"]) {
      VHSM_ASSIGN_OR_RETURN(uint64_t v, GetUint(e, "policy.vmpls[]", 3));
      p.vmpls.push_back(static_cast<uint32_t>(v));
    }
  }
  if (j.contains("guest_policy")) {
    const json& g = j["guest_policy"];
    if (!g.is_object()) return InvalidArgumentError("policy.guest_policy: want an object");
    VHSM_RETURN_IF_ERROR(CheckMembers(g, {"allow_debug", "migrate_ma", "smt", "single_socket", "min_abi"},
                                      "policy.guest_policy"));
    if (g.contains("allow_debug")) {
      if (!g["allow_debug"].is_boolean()) return InvalidArgumentError("policy.guest_policy.allow_debug: want a boolean");
      p.allow_debug = g["allow_debug"].get<bool>();
    }
    if (g.contains("migrate_ma")) {
      VHSM_ASSIGN_OR_RETURN(p.migrate_ma, ParseBitRule(g["migrate_ma"], "policy.guest_policy.migrate_ma"));
    }
    if (g.contains("smt")) {
      VHSM_ASSIGN_OR_RETURN(p.smt, ParseBitRule(g["smt"], "policy.guest_policy.smt"));
    }
    if (g.contains("single_socket")) {
      VHSM_ASSIGN_OR_RETURN(p.single_socket, ParseBitRule(g["single_socket"], "policy.guest_policy.single_socket"));
    }
    if (g.contains("min_abi")) {
      const json& a = g["min_abi"];
      std::string s = a.is_string() ? a.get<std::string>() : "";
      size_t dot = s.find('.');
      unsigned major = 0, minor = 0;
      if (dot == std::string::npos || dot == 0 || dot + 1 >= s.size() || s.size() > 7 ||
          s.find_first_not_of("0123456789.") != std::string::npos || s.find('.', dot + 1) != std::string::npos ||
          (major = static_cast<unsigned>(std::stoul(s.substr(0, dot)))) > 255 ||
          (minor = static_cast<unsigned>(std::stoul(s.substr(dot + 1)))) > 255) {
        return InvalidArgumentError("policy.guest_policy.min_abi: want \"MAJOR.MINOR\" (each 0-255)");
      }
      p.min_abi = std::make_pair(static_cast<uint8_t>(major), static_cast<uint8_t>(minor));
    }
  }
  if (j.contains("min_guest_svn")) {
    VHSM_ASSIGN_OR_RETURN(uint64_t v, GetUint(j["min_guest_svn"], "policy.min_guest_svn", 0xffffffffu));
    p.min_guest_svn = static_cast<uint32_t>(v);
  }
  if (j.contains("family_ids")) {
    VHSM_ASSIGN_OR_RETURN(p.family_ids, HexList<16>(j["family_ids"], "policy.family_ids"));
  }
  if (j.contains("image_ids")) {
    VHSM_ASSIGN_OR_RETURN(p.image_ids, HexList<16>(j["image_ids"], "policy.image_ids"));
  }
  if (j.contains("id_key_digests")) {
    VHSM_ASSIGN_OR_RETURN(p.id_key_digests, HexList<48>(j["id_key_digests"], "policy.id_key_digests"));
  }
  if (j.contains("author_key_digests")) {
    VHSM_ASSIGN_OR_RETURN(p.author_key_digests, HexList<48>(j["author_key_digests"], "policy.author_key_digests"));
  }
  if (j.contains("host_data")) {
    VHSM_ASSIGN_OR_RETURN(p.host_data, HexList<32>(j["host_data"], "policy.host_data"));
  }
  if (j.contains("chip_ids")) {
    VHSM_ASSIGN_OR_RETURN(p.chip_ids, HexList<64>(j["chip_ids"], "policy.chip_ids", true));
  }
  if (j.contains("platform_info")) {
    const json& pi = j["platform_info"];
    if (!pi.is_object()) return InvalidArgumentError("policy.platform_info: want an object");
    VHSM_RETURN_IF_ERROR(CheckMembers(pi, {"require", "forbid"}, "policy.platform_info"));
    if (pi.contains("require")) {
      VHSM_ASSIGN_OR_RETURN(p.platform_info_required, PlatformBitsFromNames(pi["require"], "policy.platform_info.require"));
    }
    if (pi.contains("forbid")) {
      VHSM_ASSIGN_OR_RETURN(p.platform_info_forbidden, PlatformBitsFromNames(pi["forbid"], "policy.platform_info.forbid"));
    }
    if (p.platform_info_required & p.platform_info_forbidden) {
      return InvalidArgumentError("policy.platform_info: a flag is both required and forbidden");
    }
  }
  if (j.contains("min_mitigation_vector")) {
    VHSM_ASSIGN_OR_RETURN(p.min_mitigation_vector,
                          GetUint(j["min_mitigation_vector"], "policy.min_mitigation_vector", UINT64_MAX));
  }
  if (j.contains("warn_only")) {
    if (!j["warn_only"].is_array()) return InvalidArgumentError("policy.warn_only: want an array of rule names");
    for (const json& e : j["warn_only"]) {
      if (!e.is_string() || !InList(kRuleNames, e.get<std::string>())) {
        return InvalidArgumentError("policy.warn_only: unknown rule name" +
                                    (e.is_string() ? " '" + e.get<std::string>().substr(0, 64) + "'" : std::string()));
      }
      p.warn_only.insert(e.get<std::string>());
    }
  }
  return p;
}

Result<AppraisalPolicy> ParsePolicyJson(std::string_view text) {
  if (text.size() > kMaxPolicyBytes) {
    return ResourceExhaustedError("policy: " + std::to_string(text.size()) + " bytes, maximum " +
                                  std::to_string(kMaxPolicyBytes));
  }
  VHSM_ASSIGN_OR_RETURN(json j, jose::ParseJsonObject(text, "policy", {kMaxPolicyBytes, 16}));
  return PolicyFromJson(j);
}

Result<AppraisalPolicy> ParsePolicyToml(std::string_view text) {
  VHSM_ASSIGN_OR_RETURN(json j, TomlToJson(text, kMaxPolicyBytes));
  return PolicyFromJson(j);
}

Result<AppraisalPolicy> LoadPolicyFile(const std::string& path) {
  VHSM_ASSIGN_OR_RETURN(std::string text, ReadFileText(path, kMaxPolicyBytes));
  Result<AppraisalPolicy> p = (path.size() >= 5 && path.compare(path.size() - 5, 5, ".toml") == 0)
                                  ? ParsePolicyToml(text)
                                  : ParsePolicyJson(text);
  if (!p.ok()) return p.status().Annotate(path);
  return p;
}

json PolicyToJson(const AppraisalPolicy& p) {
  json j;
  j["id"] = p.id;
  j["products"] = json::array();
  for (snp::Product prod : p.products) j["products"].push_back(std::string(snp::ProductName(prod)));
  j["report_versions"] = p.report_versions;
  j["accept_any_measurement"] = p.accept_any_measurement;
  j["measurements"] = json::array();
  for (const ReferenceValue& rv : p.reference_values) {
    j["measurements"].push_back({{"label", rv.label}, {"measurement", HexEncode(rv.measurement)}});
  }
  json t = json::object();
  if (p.min_tcb.bootloader) t["bootloader"] = *p.min_tcb.bootloader;
  if (p.min_tcb.tee) t["tee"] = *p.min_tcb.tee;
  if (p.min_tcb.snp) t["snp"] = *p.min_tcb.snp;
  if (p.min_tcb.microcode) t["microcode"] = *p.min_tcb.microcode;
  if (p.min_tcb.fmc) t["fmc"] = *p.min_tcb.fmc;
  j["min_tcb"] = t;
  j["tcb_checks"] = p.tcb_checks;
  j["vmpls"] = p.vmpls;
  json g = {{"allow_debug", p.allow_debug},
            {"migrate_ma", BitRuleName(p.migrate_ma)},
            {"smt", BitRuleName(p.smt)},
            {"single_socket", BitRuleName(p.single_socket)}};
  if (p.min_abi) g["min_abi"] = std::to_string(p.min_abi->first) + "." + std::to_string(p.min_abi->second);
  j["guest_policy"] = g;
  j["min_guest_svn"] = p.min_guest_svn;
  j["family_ids"] = HexListJson(p.family_ids);
  j["image_ids"] = HexListJson(p.image_ids);
  j["id_key_digests"] = HexListJson(p.id_key_digests);
  j["author_key_digests"] = HexListJson(p.author_key_digests);
  j["host_data"] = HexListJson(p.host_data);
  j["chip_ids"] = HexListJson(p.chip_ids);
  j["platform_info"] = {{"require", PlatformNamesFromBits(p.platform_info_required)},
                        {"forbid", PlatformNamesFromBits(p.platform_info_forbidden)}};
  char mit[24];
  std::snprintf(mit, sizeof(mit), "0x%016llx", static_cast<unsigned long long>(p.min_mitigation_vector));
  j["min_mitigation_vector"] = mit;
  j["warn_only"] = json::array();
  for (const std::string& w : p.warn_only) j["warn_only"].push_back(w);
  return j;
}

std::string PolicyHash(const AppraisalPolicy& policy) {
  Result<std::string> canon = jose::Canonicalize(PolicyToJson(policy));
  // PolicyToJson only holds ASCII strings and small integers, which JCS always accepts.
  VHSM_CHECK(canon.ok(), "policy JSON is canonicalisable");
  return "sha256:" + HexEncode(crypto::Sha256(AsBytes(*canon)));
}

// ---------------------------------------------------------------------------------------------
// Appraisal.

namespace {

class Recorder {
 public:
  explicit Recorder(const AppraisalPolicy& p) : policy_(p) {}
  void Add(std::string name, bool ok, std::string detail) {
    RuleOutcome r;
    r.enforced = policy_.warn_only.count(name) == 0;
    r.name = std::move(name);
    r.ok = ok;
    r.detail = std::move(detail);
    rules_.push_back(std::move(r));
  }
  std::vector<RuleOutcome> Take() { return std::move(rules_); }

 private:
  const AppraisalPolicy& policy_;
  std::vector<RuleOutcome> rules_;
};

template <size_t N>
void CheckAllowList(Recorder& rec, const char* name, const std::vector<std::array<uint8_t, N>>& allowed,
                    const std::array<uint8_t, N>& have) {
  if (allowed.empty()) {
    rec.Add(name, true, "not restricted (" + HexEncode(have) + ")");
    return;
  }
  bool ok = std::find(allowed.begin(), allowed.end(), have) != allowed.end();
  rec.Add(name, ok,
          ok ? "report." + std::string(name) + " " + HexEncode(have) + " is allow-listed"
             : "report." + std::string(name) + ": got " + HexEncode(have) + ", not among the " +
                   std::to_string(allowed.size()) + " allowed value(s)");
}

std::string TcbMinString(const TcbMinimum& m) {
  std::string s;
  auto add = [&](const char* k, const std::optional<uint8_t>& v) {
    if (v) s += std::string(s.empty() ? "" : " ") + k + ">=" + std::to_string(*v);
  };
  add("fmc", m.fmc);
  add("bl", m.bootloader);
  add("tee", m.tee);
  add("snp", m.snp);
  add("ucode", m.microcode);
  return s;
}

void CheckTcb(Recorder& rec, const AppraisalPolicy& p, const std::string& which, uint64_t raw,
              snp::Product product) {
  const std::string name = "tcb." + which;
  const snp::TcbParts have = snp::DecodeTcb(raw, product);
  if (!InList(p.tcb_checks, which) || p.min_tcb.empty()) {
    rec.Add(name, true, "not checked (" + snp::TcbToString(have) + ")");
    return;
  }
  std::string bad;
  auto cmp = [&](const char* k, uint8_t v, const std::optional<uint8_t>& min) {
    if (min && v < *min) {
      bad += std::string(bad.empty() ? "" : ", ") + k + " " + std::to_string(v) + " < " + std::to_string(*min);
    }
  };
  if (product == snp::Product::kTurin) cmp("fmc", have.fmc.value_or(0), p.min_tcb.fmc);
  cmp("bootloader", have.bootloader, p.min_tcb.bootloader);
  cmp("tee", have.tee, p.min_tcb.tee);
  cmp("snp", have.snp, p.min_tcb.snp);
  cmp("microcode", have.microcode, p.min_tcb.microcode);
  rec.Add(name, bad.empty(),
          bad.empty() ? "report." + which + "_tcb " + snp::TcbToString(have) + " meets " + TcbMinString(p.min_tcb)
                      : "report." + which + "_tcb: " + bad + " (policy requires " + TcbMinString(p.min_tcb) + ")");
}

void CheckBit(Recorder& rec, const char* name, BitRule rule, bool have) {
  const std::string state = have ? "set" : "clear";
  if (rule == BitRule::kAny) {
    rec.Add(name, true, std::string("not restricted (") + state + ")");
    return;
  }
  const bool ok = (rule == BitRule::kRequire) == have;
  rec.Add(name, ok,
          std::string("report.policy ") + (name + 7) + ": " + state + ", policy " +
              (rule == BitRule::kRequire ? "requires it set" : "forbids it"));
}

std::string Hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

Appraisal Appraise(const AppraisalPolicy& p, const snp::AttestationReport& r, snp::Product product) {
  Recorder rec(p);
  const std::string pname(snp::ProductName(product));

  // product
  if (p.products.empty()) {
    rec.Add("product", true, "any product (" + pname + ")");
  } else {
    bool ok = std::find(p.products.begin(), p.products.end(), product) != p.products.end();
    std::string allowed;
    for (snp::Product x : p.products) allowed += std::string(allowed.empty() ? "" : ",") + std::string(snp::ProductName(x));
    rec.Add("product", ok, "product: got " + pname + ", allowed " + allowed);
  }
  // report_version
  if (p.report_versions.empty()) {
    rec.Add("report_version", true, "any version (" + std::to_string(r.version) + ")");
  } else {
    bool ok = std::find(p.report_versions.begin(), p.report_versions.end(), r.version) != p.report_versions.end();
    std::string allowed;
    for (uint32_t v : p.report_versions) allowed += std::string(allowed.empty() ? "" : ",") + std::to_string(v);
    rec.Add("report_version", ok, "report.version: got " + std::to_string(r.version) + ", allowed " + allowed);
  }
  // measurement
  std::string matched;
  for (const ReferenceValue& rv : p.reference_values) {
    if (rv.measurement == r.measurement) {
      matched = rv.label;
      break;
    }
  }
  const std::string mhex = HexEncode(r.measurement);
  if (!matched.empty()) {
    rec.Add("measurement", true, "report.measurement " + mhex + " matches reference '" + matched + "'");
  } else if (p.accept_any_measurement) {
    rec.Add("measurement", true, "any measurement accepted (" + mhex + ")");
  } else {
    rec.Add("measurement", false,
            "report.measurement: got " + mhex + ", not among the " + std::to_string(p.reference_values.size()) +
                " reference value(s)");
  }
  // TCBs
  CheckTcb(rec, p, "reported", r.reported_tcb, product);
  CheckTcb(rec, p, "committed", r.committed_tcb, product);
  CheckTcb(rec, p, "launch", r.launch_tcb, product);
  CheckTcb(rec, p, "current", r.current_tcb, product);
  // vmpl
  if (p.vmpls.empty()) {
    rec.Add("vmpl", true, "any VMPL (" + std::to_string(r.vmpl) + ")");
  } else {
    bool ok = std::find(p.vmpls.begin(), p.vmpls.end(), r.vmpl) != p.vmpls.end();
    std::string allowed;
    for (uint32_t v : p.vmpls) allowed += std::string(allowed.empty() ? "" : ",") + std::to_string(v);
    rec.Add("vmpl", ok, "report.vmpl: got " + std::to_string(r.vmpl) + ", policy allows " + allowed);
  }
  // guest policy
  const bool debug = r.debug_allowed();
  rec.Add("policy.debug", !debug || p.allow_debug,
          debug ? (p.allow_debug ? "report.policy DEBUG set, allowed by policy"
                                 : "report.policy DEBUG: set, policy forbids debug guests")
                : "report.policy DEBUG clear");
  CheckBit(rec, "policy.migrate_ma", p.migrate_ma, (r.policy & snp::policy_bits::kMigrateMa) != 0);
  CheckBit(rec, "policy.smt", p.smt, (r.policy & snp::policy_bits::kSmt) != 0);
  CheckBit(rec, "policy.single_socket", p.single_socket, (r.policy & snp::policy_bits::kSingleSocket) != 0);
  const auto abi_major = static_cast<uint8_t>(r.policy >> 8);
  const auto abi_minor = static_cast<uint8_t>(r.policy);
  const std::string abi = std::to_string(abi_major) + "." + std::to_string(abi_minor);
  if (!p.min_abi) {
    rec.Add("policy.abi", true, "not restricted (ABI " + abi + ")");
  } else {
    bool ok = std::make_pair(abi_major, abi_minor) >= *p.min_abi;
    rec.Add("policy.abi", ok,
            "report.policy ABI: got " + abi + ", policy requires >= " + std::to_string(p.min_abi->first) + "." +
                std::to_string(p.min_abi->second));
  }
  rec.Add("guest_svn", r.guest_svn >= p.min_guest_svn,
          "report.guest_svn: got " + std::to_string(r.guest_svn) + ", policy requires >= " +
              std::to_string(p.min_guest_svn));
  CheckAllowList(rec, "family_id", p.family_ids, r.family_id);
  CheckAllowList(rec, "image_id", p.image_ids, r.image_id);
  CheckAllowList(rec, "id_key_digest", p.id_key_digests, r.id_key_digest);
  CheckAllowList(rec, "author_key_digest", p.author_key_digests, r.author_key_digest);
  CheckAllowList(rec, "host_data", p.host_data, r.host_data);
  CheckAllowList(rec, "chip_id", p.chip_ids, r.chip_id);
  // platform_info
  {
    const uint64_t missing = p.platform_info_required & ~r.platform_info;
    const uint64_t present = p.platform_info_forbidden & r.platform_info;
    std::string detail = "report.platform_info " + Hex64(r.platform_info);
    if (missing) detail += ": required flags missing " + PlatformNamesFromBits(missing).dump();
    if (present) detail += std::string(missing ? ";" : ":") + " forbidden flags set " + PlatformNamesFromBits(present).dump();
    if (!missing && !present) detail += " meets policy";
    rec.Add("platform_info", !missing && !present, detail);
  }
  // mitigation vector
  if (p.min_mitigation_vector == 0) {
    rec.Add("mitigation_vector", true, "not restricted");
  } else if (!r.has_mitigation_vectors()) {
    rec.Add("mitigation_vector", false,
            "report.current_mit_vector: absent in a v" + std::to_string(r.version) + " report, policy requires " +
                Hex64(p.min_mitigation_vector) + " (v5+)");
  } else {
    const uint64_t missing = p.min_mitigation_vector & ~r.current_mit_vector;
    rec.Add("mitigation_vector", missing == 0,
            "report.current_mit_vector: got " + Hex64(r.current_mit_vector) + ", policy requires bits " +
                Hex64(p.min_mitigation_vector) + (missing ? " (missing " + Hex64(missing) + ")" : ""));
  }

  Appraisal a;
  a.rules = rec.Take();
  a.matched_reference = matched;
  bool denied = false, warned = false;
  for (const RuleOutcome& o : a.rules) {
    if (o.ok) continue;
    a.failed.push_back(o.name);
    (o.enforced ? denied : warned) = true;
  }
  a.status = denied ? EarStatus::kContraindicated : warned ? EarStatus::kWarning : EarStatus::kAffirming;

  // AR4SI trustworthiness vector (draft-ietf-rats-ar4si section 2.3): 2 = affirming claim,
  // 32/33/36 = warning tier, 96/97 = contraindicated tier. Each rule feeds one claim.
  std::map<std::string, std::vector<const RuleOutcome*>> by_claim;
  auto claim_of = [](const std::string& rule) -> std::string {
    if (rule == "measurement" || rule == "family_id" || rule == "image_id" || rule == "id_key_digest" ||
        rule == "author_key_digest" || rule == "guest_svn")
      return "executables";
    if (rule == "chip_id") return "instance-identity";
    if (rule == "policy.debug") return "runtime-opaque";
    if (rule.rfind("tcb.", 0) == 0 || rule == "product" || rule == "report_version" || rule == "platform_info" ||
        rule == "mitigation_vector")
      return "hardware";
    return "configuration";
  };
  for (const RuleOutcome& o : a.rules) by_claim[claim_of(o.name)].push_back(&o);
  json tv = json::object();
  for (const auto& [claim, rules] : by_claim) {
    int value = 2;
    for (const RuleOutcome* o : rules) {
      if (o->ok) continue;
      int bad = 0;
      if (claim == "hardware") bad = o->enforced ? 97 : 32;
      else if (claim == "executables") bad = o->enforced ? 96 : 33;
      else if (claim == "instance-identity") bad = o->enforced ? 97 : 32;
      else if (claim == "runtime-opaque") bad = o->enforced ? 96 : 32;
      else bad = o->enforced ? 96 : 36;
      value = std::max(value, bad);
    }
    tv[claim] = value;
  }
  // The report's memory is encrypted and integrity-protected by SEV-SNP (ABI 56860 section 1).
  if (!tv.contains("runtime-opaque")) tv["runtime-opaque"] = 2;
  a.trust_vector = tv;
  return a;
}

}  // namespace vhsm::attestation
