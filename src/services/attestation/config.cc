#include "services/attestation/config.h"

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "services/attestation/toml_json.h"

namespace vhsm::attestation {

using nlohmann::json;

namespace {

Status GetStr(const json& j, const char* key, std::string& out, const std::string& prefix) {
  if (!j.contains(key)) return OkStatus();
  if (!j[key].is_string()) return InvalidArgumentError(prefix + key + ": want a string");
  out = j[key].get<std::string>();
  return OkStatus();
}
Status GetBool(const json& j, const char* key, bool& out, const std::string& prefix) {
  if (!j.contains(key)) return OkStatus();
  if (!j[key].is_boolean()) return InvalidArgumentError(prefix + key + ": want true or false");
  out = j[key].get<bool>();
  return OkStatus();
}
Status GetInt(const json& j, const char* key, int64_t& out, int64_t min, int64_t max, const std::string& prefix) {
  if (!j.contains(key)) return OkStatus();
  if (!j[key].is_number_integer()) return InvalidArgumentError(prefix + key + ": want an integer");
  const int64_t v = j[key].get<int64_t>();
  if (v < min || v > max) {
    return InvalidArgumentError(prefix + key + ": got " + std::to_string(v) + ", want " + std::to_string(min) +
                                ".." + std::to_string(max));
  }
  out = v;
  return OkStatus();
}
Status GetStrList(const json& j, const char* key, std::vector<std::string>& out, const std::string& prefix) {
  if (!j.contains(key)) return OkStatus();
  if (!j[key].is_array()) return InvalidArgumentError(prefix + key + ": want an array of strings");
  out.clear();
  for (const json& e : j[key]) {
    if (!e.is_string()) return InvalidArgumentError(prefix + key + ": want an array of strings");
    out.push_back(e.get<std::string>());
  }
  return OkStatus();
}
Status OnlyKeys(const json& j, std::initializer_list<std::string_view> keys, const std::string& where) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (std::string_view k : keys) ok = ok || it.key() == k;
    if (!ok) return InvalidArgumentError(where + ": unknown key '" + it.key() + "'");
  }
  return OkStatus();
}

}  // namespace

Result<ServiceConfig> ParseServiceConfig(std::string_view text) {
  VHSM_ASSIGN_OR_RETURN(json j, TomlToJson(text, 256 * 1024));
  VHSM_RETURN_IF_ERROR(OnlyKeys(j,
                                {"listen", "tls_cert", "tls_key", "store", "policy", "trust_roots", "dev",
                                 "signing_key", "signing_alg", "admin_key", "issuer", "token_ttl_seconds",
                                 "session_ttl_seconds", "max_body_bytes", "collateral", "default_product",
                                 "pkcs11_module", "pkcs11_pin_file", "policy_sync_ms", "init_data"},
                                "config"));
  ServiceConfig c;
  const std::string p = "config.";
  VHSM_RETURN_IF_ERROR(GetStr(j, "listen", c.listen, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "tls_cert", c.tls_cert, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "tls_key", c.tls_key, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "store", c.store, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "policy", c.policy, p));
  VHSM_RETURN_IF_ERROR(GetStrList(j, "trust_roots", c.trust_roots, p));
  VHSM_RETURN_IF_ERROR(GetBool(j, "dev", c.dev, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "signing_key", c.signing_key, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "signing_alg", c.signing_alg, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "admin_key", c.admin_key, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "issuer", c.issuer, p));
  VHSM_RETURN_IF_ERROR(GetInt(j, "token_ttl_seconds", c.token_ttl_seconds, 1, 86400, p));
  VHSM_RETURN_IF_ERROR(GetInt(j, "session_ttl_seconds", c.session_ttl_seconds, 1, 3600, p));
  VHSM_RETURN_IF_ERROR(GetInt(j, "max_body_bytes", c.max_body_bytes, 4096, 16 << 20, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "default_product", c.default_product, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "pkcs11_module", c.pkcs11_module, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "pkcs11_pin_file", c.pkcs11_pin_file, p));
  VHSM_RETURN_IF_ERROR(GetInt(j, "policy_sync_ms", c.policy_sync_ms, 0, 3600 * 1000, p));
  VHSM_RETURN_IF_ERROR(GetStr(j, "init_data", c.init_data, p));
  if (c.init_data != "off" && c.init_data != "optional" && c.init_data != "require") {
    return InvalidArgumentError("config.init_data: got \"" + c.init_data + "\", want off, optional or require");
  }
  if (c.signing_alg != "ES256" && c.signing_alg != "ES384") {
    return InvalidArgumentError("config.signing_alg: got \"" + c.signing_alg + "\", want ES256 or ES384");
  }
  if (j.contains("collateral")) {
    const json& k = j["collateral"];
    if (!k.is_object()) return InvalidArgumentError("config.collateral: want a table");
    VHSM_RETURN_IF_ERROR(
        OnlyKeys(k, {"cache_dir", "online", "kds_url", "fetch_crl", "fetch_chain", "crls", "require_crl"}, "config.collateral"));
    const std::string q = "config.collateral.";
    VHSM_RETURN_IF_ERROR(GetStr(k, "cache_dir", c.collateral_cache_dir, q));
    VHSM_RETURN_IF_ERROR(GetBool(k, "online", c.collateral_online, q));
    VHSM_RETURN_IF_ERROR(GetStr(k, "kds_url", c.kds_url, q));
    VHSM_RETURN_IF_ERROR(GetBool(k, "fetch_crl", c.fetch_crl, q));
    VHSM_RETURN_IF_ERROR(GetBool(k, "fetch_chain", c.fetch_chain, q));
    VHSM_RETURN_IF_ERROR(GetStrList(k, "crls", c.crls, q));
    VHSM_RETURN_IF_ERROR(GetBool(k, "require_crl", c.require_crl, q));
  }
  return c;
}

Result<ServiceConfig> LoadServiceConfig(const std::string& path) {
  VHSM_ASSIGN_OR_RETURN(std::string text, ReadFileText(path, 256 * 1024));
  Result<ServiceConfig> c = ParseServiceConfig(text);
  if (!c.ok()) return c.status().Annotate(path);
  return c;
}

}  // namespace vhsm::attestation
