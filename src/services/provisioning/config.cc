// config.cc
#include "services/provisioning/config.h"

#include <sstream>

#include <toml++/toml.h>

#include "base/ascii.h"
#include "base/file.h"

namespace vhsm::provisioning {
namespace {

constexpr size_t kMaxConfigBytes = 64 * 1024;

Status Str(const toml::table& t, std::string_view key, std::string& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return OkStatus();
  auto v = n->value_exact<std::string>();
  if (!v) return InvalidArgumentError("config " + std::string(key) + ": want a string");
  out = *v;
  return OkStatus();
}

Status Int(const toml::table& t, std::string_view key, int64_t& out, int64_t min, int64_t max) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return OkStatus();
  auto v = n->value_exact<int64_t>();
  if (!v) return InvalidArgumentError("config " + std::string(key) + ": want an integer");
  if (*v < min || *v > max) {
    return InvalidArgumentError("config " + std::string(key) + ": got " + std::to_string(*v) + ", want " +
                                std::to_string(min) + ".." + std::to_string(max));
  }
  out = *v;
  return OkStatus();
}

}  // namespace

Result<ProvisiondConfig> ParseProvisiondConfig(std::string_view text) {
  if (text.size() > kMaxConfigBytes) return ResourceExhaustedError("config: larger than 64 KiB");
  VHSM_RETURN_IF_ERROR(RequireAscii(text, "config"));
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "config: " << e.description() << " at line " << e.source().begin.line << ", column "
       << e.source().begin.column;
    return InvalidArgumentError(os.str());
  }
  static constexpr std::string_view kKeys[] = {"listen", "tls_cert", "tls_key", "dev", "store", "jwks",
                                               "jwks_ca_file", "issuer", "kek", "admin_key",
                                               "max_resource_bytes", "clock_skew_seconds",
                                               "jwks_min_refresh_ms", "token_cache_entries",
                                               "audit_batch_wait_us", "audit_wait_spin_us"};
  for (const auto& [key, value] : t) {
    bool known = false;
    for (std::string_view k : kKeys) known = known || key.str() == k;
    if (!known) return InvalidArgumentError("config: unknown key '" + std::string(key.str()) + "'");
  }
  ProvisiondConfig c;
  VHSM_RETURN_IF_ERROR(Str(t, "listen", c.listen));
  VHSM_RETURN_IF_ERROR(Str(t, "tls_cert", c.tls_cert));
  VHSM_RETURN_IF_ERROR(Str(t, "tls_key", c.tls_key));
  VHSM_RETURN_IF_ERROR(Str(t, "store", c.store));
  VHSM_RETURN_IF_ERROR(Str(t, "jwks", c.jwks));
  VHSM_RETURN_IF_ERROR(Str(t, "jwks_ca_file", c.jwks_ca_file));
  VHSM_RETURN_IF_ERROR(Str(t, "issuer", c.issuer));
  VHSM_RETURN_IF_ERROR(Str(t, "kek", c.kek));
  VHSM_RETURN_IF_ERROR(Str(t, "admin_key", c.admin_key));
  if (const toml::node* n = t.get("dev")) {
    auto v = n->value_exact<bool>();
    if (!v) return InvalidArgumentError("config dev: want true or false");
    c.dev = *v;
  }
  VHSM_RETURN_IF_ERROR(Int(t, "max_resource_bytes", c.max_resource_bytes, 1, 1 << 20));
  VHSM_RETURN_IF_ERROR(Int(t, "clock_skew_seconds", c.clock_skew_seconds, 0, 600));
  VHSM_RETURN_IF_ERROR(Int(t, "jwks_min_refresh_ms", c.jwks_min_refresh_ms, 0, 3600 * 1000));
  VHSM_RETURN_IF_ERROR(Int(t, "token_cache_entries", c.token_cache_entries, 0, 100000));
  VHSM_RETURN_IF_ERROR(Int(t, "audit_batch_wait_us", c.audit_batch_wait_us, 0, 100000));
  VHSM_RETURN_IF_ERROR(Int(t, "audit_wait_spin_us", c.audit_wait_spin_us, 0, 100000));
  return c;
}

Result<ProvisiondConfig> LoadProvisiondConfig(const std::string& path) {
  VHSM_ASSIGN_OR_RETURN(std::string text, ReadFileText(path, kMaxConfigBytes));
  Result<ProvisiondConfig> c = ParseProvisiondConfig(text);
  if (!c.ok()) return c.status().Annotate(path);
  return c;
}

}  // namespace vhsm::provisioning
