// sim_state.cc: the simulator state directory. The config format is a deliberately tiny flat
// TOML subset so it can be parsed strictly (and fuzzed) without a TOML library: a file written by
// `vhsm sim init` and edited by hand must either load exactly or fail naming the line and field.
#include "sim/sim_state.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "base/file.h"
#include "crypto/random.h"
#include "sim/sim_certs.h"
#include "snp/tcb.h"

namespace vhsm::sim {
namespace {

constexpr size_t kMaxLineChars = 1024;
constexpr size_t kMaxKeys = 64;
constexpr size_t kMaxKeyChars = 64;
constexpr size_t kMaxStringChars = 512;

struct Value {
  enum class Kind { kString, kInt, kBool } kind = Kind::kString;
  std::string text;  // string contents
  uint64_t number = 0;
  bool boolean = false;
  size_t line = 0;
};

// Wipes a string that held secret hex (best effort; std::string may have reallocated).
void Cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

std::string Where(std::string_view file, size_t line) {
  return std::string(file) + ":" + std::to_string(line);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Result<uint64_t> ParseUint(std::string_view s, std::string_view where) {
  bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  std::string_view digits = hex ? s.substr(2) : s;
  if (digits.empty() || digits.size() > (hex ? 16u : 20u)) {
    return InvalidArgumentError(std::string(where) + ": bad integer \"" + std::string(s) + "\"");
  }
  uint64_t v = 0;
  for (char c : digits) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      d = static_cast<uint64_t>(c - 'A' + 10);
    } else {
      return InvalidArgumentError(std::string(where) + ": bad integer \"" + std::string(s) + "\"");
    }
    uint64_t base = hex ? 16 : 10;
    if (v > (UINT64_MAX - d) / base) {
      return InvalidArgumentError(std::string(where) + ": integer out of range \"" + std::string(s) + "\"");
    }
    v = v * base + d;
  }
  return v;
}

using Table = std::map<std::string, Value>;

Result<Table> ParseFlatToml(std::string_view text, std::string_view file) {
  if (text.size() > kMaxStateFileBytes) {
    return InvalidArgumentError(std::string(file) + ": " + std::to_string(text.size()) +
                                " bytes exceeds the limit of " + std::to_string(kMaxStateFileBytes));
  }
  Table table;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    std::string where = Where(file, line_no);
    if (raw.size() > kMaxLineChars) {
      return InvalidArgumentError(where + ": line of " + std::to_string(raw.size()) +
                                  " characters exceeds the limit of " + std::to_string(kMaxLineChars));
    }
    std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return InvalidArgumentError(where + ": expected `key = value`");
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view rest = Trim(line.substr(eq + 1));
    if (key.empty() || key.size() > kMaxKeyChars) {
      return InvalidArgumentError(where + ": key must be 1.." + std::to_string(kMaxKeyChars) + " characters");
    }
    for (char c : key) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
        return InvalidArgumentError(where + ": key \"" + std::string(key) + "\" may use only [a-z0-9_]");
      }
    }
    Value value;
    value.line = line_no;
    if (!rest.empty() && rest[0] == '"') {
      size_t close = rest.find('"', 1);
      if (close == std::string_view::npos) {
        return InvalidArgumentError(where + ": field '" + std::string(key) + "': unterminated string");
      }
      std::string_view body = rest.substr(1, close - 1);
      std::string_view after = Trim(rest.substr(close + 1));
      if (!after.empty() && after[0] != '#') {
        return InvalidArgumentError(where + ": field '" + std::string(key) + "': text after the string");
      }
      if (body.size() > kMaxStringChars) {
        return InvalidArgumentError(where + ": field '" + std::string(key) + "': string longer than " +
                                    std::to_string(kMaxStringChars));
      }
      for (char c : body) {
        if (c < 0x20 || c > 0x7E || c == '\\') {
          return InvalidArgumentError(where + ": field '" + std::string(key) +
                                      "': only printable ASCII without escapes is allowed in strings");
        }
      }
      value.kind = Value::Kind::kString;
      value.text = std::string(body);
    } else {
      size_t hash = rest.find('#');
      std::string_view token = Trim(rest.substr(0, hash));
      if (token == "true" || token == "false") {
        value.kind = Value::Kind::kBool;
        value.boolean = token == "true";
      } else {
        VHSM_ASSIGN_OR_RETURN(value.number, ParseUint(token, where + ": field '" + std::string(key) + "'"));
        value.kind = Value::Kind::kInt;
      }
    }
    if (table.count(std::string(key)) != 0) {
      return InvalidArgumentError(where + ": duplicate key '" + std::string(key) + "'");
    }
    if (table.size() >= kMaxKeys) {
      return InvalidArgumentError(where + ": more than " + std::to_string(kMaxKeys) + " keys");
    }
    table.emplace(std::string(key), std::move(value));
  }
  return table;
}

// Typed, consuming access: every field is required, and whatever is left over is unknown.
class Fields {
 public:
  Fields(Table table, std::string_view file) : table_(std::move(table)), file_(file) {}
  ~Fields() {
    for (auto& [k, v] : table_) Cleanse(v.text);
  }

  Result<Value> Take(const std::string& key, Value::Kind kind) {
    auto it = table_.find(key);
    if (it == table_.end()) {
      return InvalidArgumentError(std::string(file_) + ": field '" + key + "' is missing");
    }
    Value v = std::move(it->second);
    table_.erase(it);
    if (v.kind != kind) {
      static const char* kNames[] = {"a \"string\"", "an integer", "true or false"};
      Status s = InvalidArgumentError(Where(file_, v.line) + ": field '" + key + "': expected " +
                                      kNames[static_cast<int>(kind)]);
      Cleanse(v.text);
      return s;
    }
    return v;
  }
  bool Has(const std::string& key) const { return table_.count(key) != 0; }

  Result<uint64_t> Int(const std::string& key, uint64_t max) {
    VHSM_ASSIGN_OR_RETURN(Value v, Take(key, Value::Kind::kInt));
    if (v.number > max) {
      return InvalidArgumentError(Where(file_, v.line) + ": field '" + key + "': got " +
                                  std::to_string(v.number) + ", want at most " + std::to_string(max));
    }
    return v.number;
  }
  Result<bool> Bool(const std::string& key) {
    VHSM_ASSIGN_OR_RETURN(Value v, Take(key, Value::Kind::kBool));
    return v.boolean;
  }
  Result<std::string> String(const std::string& key) {
    VHSM_ASSIGN_OR_RETURN(Value v, Take(key, Value::Kind::kString));
    return std::move(v.text);
  }
  template <size_t N>
  Status Hex(const std::string& key, std::array<uint8_t, N>& out) {
    VHSM_ASSIGN_OR_RETURN(Value v, Take(key, Value::Kind::kString));
    Result<Bytes> b = HexDecodeExact(v.text, N, key);
    if (!b.ok()) return InvalidArgumentError(Where(file_, v.line) + ": field '" + key + "': expected " +
                                             std::to_string(2 * N) + " hex characters (" +
                                             std::to_string(N) + " bytes), found " +
                                             std::to_string(v.text.size()) + " characters");
    std::copy(b->begin(), b->end(), out.begin());
    return OkStatus();
  }
  Result<SecretBytes> SecretHex(const std::string& key, size_t n) {
    VHSM_ASSIGN_OR_RETURN(Value v, Take(key, Value::Kind::kString));
    Result<Bytes> b = HexDecodeExact(v.text, n, key);
    size_t found = v.text.size();
    Cleanse(v.text);
    if (!b.ok()) {
      return InvalidArgumentError(Where(file_, v.line) + ": field '" + key + "': expected " +
                                  std::to_string(2 * n) + " hex characters, found " + std::to_string(found));
    }
    SecretBytes s(*b);
    OPENSSL_cleanse(b->data(), b->size());
    return s;
  }
  Status NoneLeft() const {
    if (table_.empty()) return OkStatus();
    const auto& [k, v] = *table_.begin();
    return InvalidArgumentError(Where(file_, v.line) + ": unknown field '" + k + "'");
  }
  Status CheckVersion() {
    VHSM_ASSIGN_OR_RETURN(uint64_t version, Int("format_version", UINT32_MAX));
    if (version != kSimStateFormatVersion) {
      return InvalidArgumentError(std::string(file_) + ": field 'format_version': got " +
                                  std::to_string(version) + ", this build reads " +
                                  std::to_string(kSimStateFormatVersion));
    }
    return OkStatus();
  }

 private:
  Table table_;
  std::string_view file_;
};

Result<snp::FirmwareVersion> ParseFwVersion(const std::string& s, std::string_view what) {
  // "major.minor.build", each 0..255.
  snp::FirmwareVersion v;
  uint64_t parts[3];
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t dot = s.find('.', start);
    if ((i < 2) != (dot != std::string::npos)) {
      return InvalidArgumentError(std::string(what) + ": want MAJOR.MINOR.BUILD, got \"" + s + "\"");
    }
    std::string part = s.substr(start, i < 2 ? dot - start : std::string::npos);
    VHSM_ASSIGN_OR_RETURN(parts[i], ParseUint(part, what));
    if (parts[i] > 255 || part.size() > 3) {
      return InvalidArgumentError(std::string(what) + ": component " + part + " exceeds 255");
    }
    start = dot + 1;
  }
  v.major = static_cast<uint8_t>(parts[0]);
  v.minor = static_cast<uint8_t>(parts[1]);
  v.build = static_cast<uint8_t>(parts[2]);
  return v;
}

std::string FwVersionString(const snp::FirmwareVersion& v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.build);
}

std::string Hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string HexArr(ByteSpan b) { return "\"" + HexEncode(b) + "\""; }

Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return UnavailableError("cannot create directory " + dir + ": " + std::strerror(errno));
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidArgumentError(dir + ": not a directory");
  }
  return OkStatus();
}

Result<crypto::EvpPkeyPtr> RsaKeyOrReuse(EVP_PKEY* reuse, int bits) {
  if (reuse == nullptr) return GenerateRsaKey(bits);
  if (EVP_PKEY_up_ref(reuse) != 1) return InternalError("EVP_PKEY_up_ref failed");
  return crypto::EvpPkeyPtr(reuse);
}

Status WriteSecretFile(const std::string& path, ByteSpan data) { return WriteFileAtomic(path, data, 0600); }

Result<crypto::EvpPkeyPtr> LoadKey(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  VHSM_ASSIGN_OR_RETURN(Bytes pem, ReadFileBytes(path, kMaxPemBytes));
  Result<crypto::EvpPkeyPtr> key = PrivateKeyFromPem(pem, path);
  OPENSSL_cleanse(pem.data(), pem.size());
  return key;
}

Result<Bytes> LoadCert(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  VHSM_ASSIGN_OR_RETURN(Bytes pem, ReadFileBytes(path, kMaxPemBytes));
  Result<Bytes> der = CertToDer(pem, path);
  if (!der.ok()) return DataLossError(der.status().message());
  return der;
}

Status SaveKeyAndCert(const std::string& dir, const std::string& stem, EVP_PKEY* key, ByteSpan der) {
  VHSM_ASSIGN_OR_RETURN(SecretBytes pem, PrivateKeyToPem(key));
  VHSM_RETURN_IF_ERROR(WriteSecretFile(dir + "/" + stem + ".key.pem", pem.Expose()));
  VHSM_ASSIGN_OR_RETURN(std::string cert_pem, CertDerToPem(der));
  return WriteSecretFile(dir + "/" + stem + ".pem", AsBytes(cert_pem));
}

}  // namespace

Result<SimConfig> DefaultSimConfig(snp::Product product, uint32_t report_version) {
  SimConfig c;
  c.product = product;
  c.report_version = report_version;
  snp::TcbParts tcb;
  // TCB, CPUID and firmware levels as seen in real AMD-signed reports of each product line.
  switch (product) {
    case snp::Product::kMilan:
      c.cpuid_fam_id = 0x19, c.cpuid_mod_id = 0x01, c.cpuid_step = 0x01;
      tcb.bootloader = 4, tcb.tee = 0, tcb.snp = 0x18, tcb.microcode = 0xDB;
      c.current_version = {0x1D, 55, 1};  // 1.55.29
      break;
    case snp::Product::kGenoa:
      c.cpuid_fam_id = 0x19, c.cpuid_mod_id = 0x11, c.cpuid_step = 0x01;
      tcb.bootloader = 0x0A, tcb.tee = 0, tcb.snp = 0x19, tcb.microcode = 0x54;
      c.current_version = {0x2B, 55, 1};  // 1.55.43
      break;
    case snp::Product::kTurin:
      c.cpuid_fam_id = 0x1A, c.cpuid_mod_id = 0x02, c.cpuid_step = 0x01;
      tcb.fmc = 1, tcb.bootloader = 1, tcb.tee = 1, tcb.snp = 3, tcb.microcode = 0x48;
      c.current_version = {0x2B, 55, 1};
      break;
    case snp::Product::kUnknown:
      return InvalidArgumentError("product: unknown; want milan, genoa or turin");
  }
  c.committed_version = c.current_version;
  c.current_tcb = c.reported_tcb = c.committed_tcb = c.launch_tcb = snp::EncodeTcb(tcb, product);
  c.policy = 0x30000;
  c.platform_info = report_version >= 3 ? 0x25 : 0x01;  // SMT_EN | ECC_EN | ALIAS_CHECK_COMPLETE
  if (report_version >= 5) c.launch_mit_vector = c.current_mit_vector = 1;
  VHSM_ASSIGN_OR_RETURN(Bytes chip, crypto::RandomBytes(product == snp::Product::kTurin ? 8 : 64));
  std::copy(chip.begin(), chip.end(), c.chip_id.begin());
  VHSM_ASSIGN_OR_RETURN(Bytes rid, crypto::RandomBytes(32));
  std::copy(rid.begin(), rid.end(), c.report_id.begin());
  c.report_id_ma.fill(0xFF);
  return c;
}

Status ValidateSimConfig(const SimConfig& c) {
  auto bad = [](const std::string& m) { return InvalidArgumentError(m); };
  if (c.product == snp::Product::kUnknown) return bad("product: unknown; want Milan, Genoa or Turin");
  if (c.report_version < 2 || c.report_version > 5) {
    return bad("report_version: got " + std::to_string(c.report_version) + ", want 2, 3, 4 or 5");
  }
  if (c.vmpl > 3) return bad("vmpl: got " + std::to_string(c.vmpl) + ", want 0..3");
  if ((c.policy & snp::policy_bits::kReservedMustBeOne) == 0) {
    return bad("policy: bit 17 is reserved and must be 1, got " + Hex64(c.policy));
  }
  if ((c.policy & snp::policy_bits::kReservedMask) != 0) {
    return bad("policy: bits 63:26 are reserved and must be 0, got " + Hex64(c.policy));
  }
  const struct { const char* name; uint64_t v; } tcbs[] = {{"current_tcb", c.current_tcb},
                                                          {"reported_tcb", c.reported_tcb},
                                                          {"committed_tcb", c.committed_tcb},
                                                          {"launch_tcb", c.launch_tcb}};
  for (const auto& t : tcbs) {
    if ((t.v & snp::TcbReservedMask(c.product)) != 0) {
      return bad(std::string(t.name) + ": " + Hex64(t.v) + " sets bytes reserved in the " +
                 std::string(snp::ProductName(c.product)) + " TCB layout");
    }
  }
  std::optional<snp::Product> from_cpuid = snp::ProductFromCpuid(c.cpuid_fam_id, c.cpuid_mod_id);
  if (from_cpuid != c.product) {
    return bad("cpuid: family 0x" + HexEncode(ByteSpan(&c.cpuid_fam_id, 1)) + " model 0x" +
               HexEncode(ByteSpan(&c.cpuid_mod_id, 1)) + " is not a " +
               std::string(snp::ProductName(c.product)) + " CPU");
  }
  if (c.product == snp::Product::kTurin && !IsAllZero(ByteSpan(c.chip_id).subspan(8))) {
    return bad("chip_id: Turin chip ids have 8 significant bytes; bytes 8..63 must be zero");
  }
  if (c.report_version < 5 && (c.launch_mit_vector != 0 || c.current_mit_vector != 0)) {
    return bad("launch_mit_vector/current_mit_vector: only report version 5+ carries them; got version " +
               std::to_string(c.report_version));
  }
  if (c.signing_key != snp::SigningKey::kVcek && c.signing_key != snp::SigningKey::kVlek) {
    return bad("signing_key: want vcek or vlek");
  }
  if (c.csp_id.size() > 127) return bad("csp_id: longer than 127 characters");
  return OkStatus();
}

Result<SimConfig> ParseSimConfig(std::string_view text, std::string_view file_name) {
  VHSM_ASSIGN_OR_RETURN(Table table, ParseFlatToml(text, file_name));
  Fields f(std::move(table), file_name);
  VHSM_RETURN_IF_ERROR(f.CheckVersion());
  SimConfig c;
  std::string f_prefix = std::string(file_name) + ": field ";
  VHSM_ASSIGN_OR_RETURN(std::string product, f.String("product"));
  Result<snp::Product> p = snp::ParseProduct(product);
  if (!p.ok()) return InvalidArgumentError(f_prefix + "'product': " + p.status().message());
  c.product = *p;
  VHSM_ASSIGN_OR_RETURN(uint64_t version, f.Int("report_version", UINT32_MAX));
  c.report_version = static_cast<uint32_t>(version);
  std::array<uint8_t, 3> cpuid{};
  VHSM_RETURN_IF_ERROR(f.Hex("cpuid", cpuid));
  c.cpuid_fam_id = cpuid[0], c.cpuid_mod_id = cpuid[1], c.cpuid_step = cpuid[2];
  VHSM_ASSIGN_OR_RETURN(uint64_t vmpl, f.Int("vmpl", 3));
  c.vmpl = static_cast<uint32_t>(vmpl);
  VHSM_ASSIGN_OR_RETURN(uint64_t svn, f.Int("guest_svn", UINT32_MAX));
  c.guest_svn = static_cast<uint32_t>(svn);
  VHSM_ASSIGN_OR_RETURN(c.policy, f.Int("policy", UINT64_MAX));
  VHSM_RETURN_IF_ERROR(f.Hex("family_id", c.family_id));
  VHSM_RETURN_IF_ERROR(f.Hex("image_id", c.image_id));
  VHSM_RETURN_IF_ERROR(f.Hex("measurement", c.measurement));
  VHSM_RETURN_IF_ERROR(f.Hex("host_data", c.host_data));
  VHSM_RETURN_IF_ERROR(f.Hex("id_key_digest", c.id_key_digest));
  VHSM_RETURN_IF_ERROR(f.Hex("author_key_digest", c.author_key_digest));
  VHSM_ASSIGN_OR_RETURN(c.author_key_en, f.Bool("author_key_en"));
  VHSM_ASSIGN_OR_RETURN(c.mask_chip_key, f.Bool("mask_chip_key"));
  VHSM_ASSIGN_OR_RETURN(std::string signing_key, f.String("signing_key"));
  if (signing_key == "vcek") {
    c.signing_key = snp::SigningKey::kVcek;
  } else if (signing_key == "vlek") {
    c.signing_key = snp::SigningKey::kVlek;
  } else {
    return InvalidArgumentError(f_prefix + "'signing_key': got \"" + signing_key + "\", want \"vcek\" or \"vlek\"");
  }
  VHSM_ASSIGN_OR_RETURN(c.platform_info, f.Int("platform_info", UINT64_MAX));
  VHSM_ASSIGN_OR_RETURN(c.current_tcb, f.Int("current_tcb", UINT64_MAX));
  VHSM_ASSIGN_OR_RETURN(c.reported_tcb, f.Int("reported_tcb", UINT64_MAX));
  VHSM_ASSIGN_OR_RETURN(c.committed_tcb, f.Int("committed_tcb", UINT64_MAX));
  VHSM_ASSIGN_OR_RETURN(c.launch_tcb, f.Int("launch_tcb", UINT64_MAX));
  VHSM_ASSIGN_OR_RETURN(std::string cur_v, f.String("current_version"));
  VHSM_ASSIGN_OR_RETURN(c.current_version, ParseFwVersion(cur_v, f_prefix + "'current_version'"));
  VHSM_ASSIGN_OR_RETURN(std::string com_v, f.String("committed_version"));
  VHSM_ASSIGN_OR_RETURN(c.committed_version, ParseFwVersion(com_v, f_prefix + "'committed_version'"));
  VHSM_RETURN_IF_ERROR(f.Hex("chip_id", c.chip_id));
  VHSM_RETURN_IF_ERROR(f.Hex("report_id", c.report_id));
  VHSM_RETURN_IF_ERROR(f.Hex("report_id_ma", c.report_id_ma));
  VHSM_ASSIGN_OR_RETURN(c.launch_mit_vector, f.Int("launch_mit_vector", UINT64_MAX));
  VHSM_ASSIGN_OR_RETURN(c.current_mit_vector, f.Int("current_mit_vector", UINT64_MAX));
  VHSM_ASSIGN_OR_RETURN(c.csp_id, f.String("csp_id"));
  VHSM_RETURN_IF_ERROR(f.NoneLeft());
  Status valid = ValidateSimConfig(c);
  if (!valid.ok()) return valid.Annotate(file_name);
  return c;
}

std::string SerializeSimConfig(const SimConfig& c) {
  std::string o;
  auto line = [&](const std::string& k, const std::string& v) { o += k + " = " + v + "\n"; };
  o += "# vhsm SEV-SNP simulator state (written by `vhsm sim init`).\n";
  o += "# The keys in this directory are TEST keys: they prove nothing outside this simulator.\n";
  line("format_version", std::to_string(kSimStateFormatVersion));
  line("product", "\"" + std::string(snp::ProductName(c.product)) + "\"");
  line("report_version", std::to_string(c.report_version));
  const uint8_t cpuid[3] = {c.cpuid_fam_id, c.cpuid_mod_id, c.cpuid_step};
  line("cpuid", HexArr(cpuid));
  line("vmpl", std::to_string(c.vmpl));
  line("guest_svn", std::to_string(c.guest_svn));
  line("policy", Hex64(c.policy));
  line("family_id", HexArr(c.family_id));
  line("image_id", HexArr(c.image_id));
  line("measurement", HexArr(c.measurement));
  line("host_data", HexArr(c.host_data));
  line("id_key_digest", HexArr(c.id_key_digest));
  line("author_key_digest", HexArr(c.author_key_digest));
  line("author_key_en", c.author_key_en ? "true" : "false");
  line("mask_chip_key", c.mask_chip_key ? "true" : "false");
  line("signing_key", c.signing_key == snp::SigningKey::kVlek ? "\"vlek\"" : "\"vcek\"");
  line("platform_info", Hex64(c.platform_info));
  line("current_tcb", Hex64(c.current_tcb));
  line("reported_tcb", Hex64(c.reported_tcb));
  line("committed_tcb", Hex64(c.committed_tcb));
  line("launch_tcb", Hex64(c.launch_tcb));
  line("current_version", "\"" + FwVersionString(c.current_version) + "\"");
  line("committed_version", "\"" + FwVersionString(c.committed_version) + "\"");
  line("chip_id", HexArr(c.chip_id));
  line("report_id", HexArr(c.report_id));
  line("report_id_ma", HexArr(c.report_id_ma));
  line("launch_mit_vector", Hex64(c.launch_mit_vector));
  line("current_mit_vector", Hex64(c.current_mit_vector));
  line("csp_id", "\"" + c.csp_id + "\"");
  return o;
}

Result<SimSecrets> ParseSimSecrets(std::string_view text, std::string_view file_name) {
  VHSM_ASSIGN_OR_RETURN(Table table, ParseFlatToml(text, file_name));
  Fields f(std::move(table), file_name);
  VHSM_RETURN_IF_ERROR(f.CheckVersion());
  SimSecrets s;
  VHSM_ASSIGN_OR_RETURN(s.chip_secret, f.SecretHex("chip_secret", 32));
  VHSM_ASSIGN_OR_RETURN(s.vmrk_secret, f.SecretHex("vmrk_secret", 32));
  VHSM_RETURN_IF_ERROR(f.NoneLeft());
  return s;
}

std::string SerializeSimSecrets(const SimSecrets& s) {
  // The caller writes this to a 0600 file and cleanses it.
  return "# vhsm simulator root secrets (TEST secrets; never use on real hardware).\n"
         "format_version = " + std::to_string(kSimStateFormatVersion) + "\n" +
         "chip_secret = \"" + HexEncode(s.chip_secret.Expose()) + "\"\n" +
         "vmrk_secret = \"" + HexEncode(s.vmrk_secret.Expose()) + "\"\n";
}

Status SaveSimConfig(const std::string& dir, const SimConfig& config) {
  VHSM_RETURN_IF_ERROR(ValidateSimConfig(config));
  std::string text = SerializeSimConfig(config);
  return WriteSecretFile(dir + "/" + kConfigFileName, AsBytes(text));
}

Result<SimState> InitSimState(const std::string& dir, const SimConfig& config, const InitOptions& options) {
  VHSM_RETURN_IF_ERROR(ValidateSimConfig(config));
  VHSM_RETURN_IF_ERROR(MakeDir(dir));
  if (FileExists(dir + "/" + kConfigFileName) && !options.overwrite) {
    return AlreadyExistsError(dir + "/" + kConfigFileName + " already exists (a state is there; pick a new directory)");
  }
  SimState st;
  st.config = config;
  bool with_vlek = options.with_vlek || options.sign_with_vlek;
  if (options.sign_with_vlek) st.config.signing_key = snp::SigningKey::kVlek;
  if (st.config.signing_key == snp::SigningKey::kVlek && !with_vlek) {
    return InvalidArgumentError("signing_key: vlek needs a VLEK (--with-vlek)");
  }
  if (with_vlek && st.config.csp_id.empty()) st.config.csp_id = "CN=vhsm-sim.invalid";
  VHSM_ASSIGN_OR_RETURN(st.secrets.chip_secret, crypto::RandomSecret(32));
  VHSM_ASSIGN_OR_RETURN(st.secrets.vmrk_secret, crypto::RandomSecret(32));
  const snp::Product p = st.config.product;
  // notBefore is backdated a day, as CAs commonly do, so a verifier whose clock is slightly behind
  // this machine's (or a test clock fixed a moment before `sim init`) does not see a future cert.
  constexpr time_t kBackdateSeconds = 24 * 3600;
  const time_t now = std::time(nullptr) - kBackdateSeconds;
  VHSM_ASSIGN_OR_RETURN(st.ark_key, RsaKeyOrReuse(options.reuse_ark_key, options.rsa_bits));
  VHSM_ASSIGN_OR_RETURN(st.ask_key, RsaKeyOrReuse(options.reuse_ask_key, options.rsa_bits));
  VHSM_ASSIGN_OR_RETURN(st.vcek_key, GenerateP384Key());
  VHSM_ASSIGN_OR_RETURN(st.ark_der, MakeArkCert(st.ark_key.get(), p, now));
  VHSM_ASSIGN_OR_RETURN(st.ask_der, MakeAskCert(st.ask_key.get(), st.ark_key.get(), st.ark_der, p, false, now));
  LeafSpec leaf;
  leaf.product = p;
  leaf.reported_tcb = st.config.reported_tcb;
  leaf.chip_id = st.config.chip_id;
  VHSM_ASSIGN_OR_RETURN(st.vcek_der, MakeLeafCert(st.vcek_key.get(), st.ask_key.get(), st.ask_der, leaf, now));
  if (with_vlek) {
    VHSM_ASSIGN_OR_RETURN(st.asvk_key, RsaKeyOrReuse(options.reuse_asvk_key, options.rsa_bits));
    VHSM_ASSIGN_OR_RETURN(st.vlek_key, GenerateP384Key());
    VHSM_ASSIGN_OR_RETURN(st.asvk_der, MakeAskCert(st.asvk_key.get(), st.ark_key.get(), st.ark_der, p, true, now));
    leaf.vlek = true;
    leaf.csp_id = st.config.csp_id;
    VHSM_ASSIGN_OR_RETURN(st.vlek_der,
                          MakeLeafCert(st.vlek_key.get(), st.asvk_key.get(), st.asvk_der, leaf, now));
  }
  VHSM_RETURN_IF_ERROR(SaveKeyAndCert(dir, "ark", st.ark_key.get(), st.ark_der));
  VHSM_RETURN_IF_ERROR(SaveKeyAndCert(dir, "ask", st.ask_key.get(), st.ask_der));
  VHSM_RETURN_IF_ERROR(SaveKeyAndCert(dir, "vcek", st.vcek_key.get(), st.vcek_der));
  if (with_vlek) {
    VHSM_RETURN_IF_ERROR(SaveKeyAndCert(dir, "asvk", st.asvk_key.get(), st.asvk_der));
    VHSM_RETURN_IF_ERROR(SaveKeyAndCert(dir, "vlek", st.vlek_key.get(), st.vlek_der));
  }
  std::string secrets = SerializeSimSecrets(st.secrets);
  Status s = WriteSecretFile(dir + "/" + kSecretsFileName, AsBytes(secrets));
  Cleanse(secrets);
  VHSM_RETURN_IF_ERROR(s);
  // sim.toml last: its presence marks a complete state.
  VHSM_RETURN_IF_ERROR(SaveSimConfig(dir, st.config));
  return st;
}

Result<SimState> LoadSimState(const std::string& dir) {
  SimState st;
  const std::string config_path = dir + "/" + kConfigFileName;
  Result<std::string> text = ReadFileText(config_path, kMaxStateFileBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return NotFoundError(config_path + " not found: not a simulator state directory (create one with "
                           "`vhsm sim init " + dir + "`)");
    }
    return text.status();
  }
  VHSM_ASSIGN_OR_RETURN(st.config, ParseSimConfig(*text, config_path));
  const std::string secrets_path = dir + "/" + kSecretsFileName;
  VHSM_ASSIGN_OR_RETURN(std::string secrets_text, ReadFileText(secrets_path, kMaxStateFileBytes));
  Result<SimSecrets> secrets = ParseSimSecrets(secrets_text, secrets_path);
  Cleanse(secrets_text);
  if (!secrets.ok()) return secrets.status();
  st.secrets = std::move(*secrets);
  VHSM_ASSIGN_OR_RETURN(st.ark_key, LoadKey(dir, "ark.key.pem"));
  VHSM_ASSIGN_OR_RETURN(st.ask_key, LoadKey(dir, "ask.key.pem"));
  VHSM_ASSIGN_OR_RETURN(st.vcek_key, LoadKey(dir, "vcek.key.pem"));
  VHSM_ASSIGN_OR_RETURN(st.ark_der, LoadCert(dir, "ark.pem"));
  VHSM_ASSIGN_OR_RETURN(st.ask_der, LoadCert(dir, "ask.pem"));
  VHSM_ASSIGN_OR_RETURN(st.vcek_der, LoadCert(dir, "vcek.pem"));
  const struct { const char* name; ByteSpan der; EVP_PKEY* key; } pairs[] = {
      {"ark", st.ark_der, st.ark_key.get()}, {"ask", st.ask_der, st.ask_key.get()}, {"vcek", st.vcek_der, st.vcek_key.get()}};
  for (const auto& p : pairs) {
    VHSM_ASSIGN_OR_RETURN(bool match, CertMatchesKey(p.der, p.key));
    if (!match) {
      return DataLossError(dir + "/" + p.name + ".pem does not hold the public key of " + dir + "/" + p.name + ".key.pem");
    }
  }
  if (FileExists(dir + "/vlek.pem")) {
    VHSM_ASSIGN_OR_RETURN(st.asvk_key, LoadKey(dir, "asvk.key.pem"));
    VHSM_ASSIGN_OR_RETURN(st.vlek_key, LoadKey(dir, "vlek.key.pem"));
    VHSM_ASSIGN_OR_RETURN(st.asvk_der, LoadCert(dir, "asvk.pem"));
    VHSM_ASSIGN_OR_RETURN(st.vlek_der, LoadCert(dir, "vlek.pem"));
  } else if (st.config.signing_key == snp::SigningKey::kVlek) {
    return DataLossError(config_path + ": field 'signing_key' is \"vlek\" but " + dir + "/vlek.pem is missing");
  }
  return st;
}

}  // namespace vhsm::sim
