#include "provisioner/startup.h"

#include <chrono>
#include <cstdio>
#include <sstream>

#include "base/bytes.h"

namespace vhsm::provisioner {

namespace {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    std::string item(s.substr(start, end - start));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    out.push_back(item);
    start = end + 1;
  }
  return out;
}

Result<int> ParsePositive(const std::map<std::string, std::string>& c, const std::string& key, int dflt, int max) {
  auto it = c.find(key);
  if (it == c.end()) return dflt;
  int v = 0;
  for (char ch : it->second) {
    if (ch < '0' || ch > '9' || v > max) return InvalidArgumentError(key + ": got \"" + it->second + "\", want 1.." + std::to_string(max));
    v = v * 10 + (ch - '0');
  }
  if (v < 1 || v > max) return InvalidArgumentError(key + ": got \"" + it->second + "\", want 1.." + std::to_string(max));
  return v;
}

}  // namespace

Result<ResourceEntry> ParseResourceEntry(std::string_view spec) {
  std::vector<std::string> parts = Split(spec, ':');
  if (parts.size() < 3 || parts.size() > 4) {
    return InvalidArgumentError("provision: got \"" + std::string(spec) + "\", want repo/type/tag:LABEL:TYPE[:ID_HEX]");
  }
  ResourceEntry e;
  VHSM_ASSIGN_OR_RETURN(e.request.path, ParseResourcePath(parts[0]));
  if (parts[1].empty() || parts[1].size() > 128) return InvalidArgumentError("provision: label must be 1-128 characters");
  e.import.label = parts[1];
  VHSM_ASSIGN_OR_RETURN(e.request.key_type, ParseSecretKeyType(parts[2]));
  if (parts.size() == 4) {
    Result<Bytes> id = HexDecode(parts[3]);
    if (!id.ok() || id->empty() || id->size() > 64) {
      return InvalidArgumentError("provision: id: got \"" + parts[3] + "\", want 1-64 bytes of hex");
    }
    e.import.id = *id;
  }
  return e;
}

Result<StartupConfig> ParseStartupConfig(const std::map<std::string, std::string>& c) {
  StartupConfig out;
  auto get = [&](const char* k) -> std::string {
    auto it = c.find(k);
    return it == c.end() ? std::string() : it->second;
  };
  const std::string list = get("provision");
  if (!list.empty()) {
    for (const std::string& item : Split(list, ',')) {
      if (item.empty()) continue;
      VHSM_ASSIGN_OR_RETURN(ResourceEntry e, ParseResourceEntry(item));
      out.resources.push_back(std::move(e));
    }
  }
  out.provisioner.attestation_url = get("attestation_url");
  out.provisioner.provisioning_url = get("provisioning_url");
  out.provisioner.ca_file = get("provisioning_ca_file");
  if (!out.resources.empty() && (out.provisioner.attestation_url.empty() || out.provisioner.provisioning_url.empty())) {
    return InvalidArgumentError("provision: needs attestation_url and provisioning_url");
  }
  if (std::string k = get("provision_ephemeral_key"); !k.empty()) {
    VHSM_ASSIGN_OR_RETURN(out.provisioner.ephemeral, ParseEphemeralKeyKind(k));
  }
  if (std::string d = get("provision_on_duplicate"); !d.empty()) {
    VHSM_ASSIGN_OR_RETURN(out.on_duplicate, ParseOnDuplicate(d));
  }
  if (std::string r = get("provision_required"); !r.empty()) {
    if (r != "true" && r != "false") return InvalidArgumentError("provision_required: got \"" + r + "\", want true or false");
    out.required = r == "true";
  }
  VHSM_ASSIGN_OR_RETURN(out.provisioner.max_attempts, ParsePositive(c, "provision_attempts", 5, 100));
  VHSM_ASSIGN_OR_RETURN(out.provisioner.backoff_initial_ms, ParsePositive(c, "provision_backoff_ms", 200, 60000));
  for (ResourceEntry& e : out.resources) e.import.on_duplicate = out.on_duplicate;
  return out;
}

namespace {

Status Run(StartupConfig cfg, snp::Firmware& firmware, hsm::SealedStore& store, const hsm::Engine& engine,
           Logger& log) {
  std::vector<const ResourceEntry*> todo;
  for (const ResourceEntry& e : cfg.resources) {
    VHSM_ASSIGN_OR_RETURN(std::vector<uint64_t> have, FindObjectsByLabel(store, e.import.label));
    if (!have.empty() && cfg.on_duplicate == OnDuplicate::kKeep) {
      log.Info("provision: " + e.request.path.ToString() + " -> label \"" + e.import.label +
               "\": already on the token, kept (sealed; no service round trip)");
      continue;
    }
    if (!have.empty() && cfg.on_duplicate == OnDuplicate::kRefuse) {
      return AlreadyExistsError("provision: label \"" + e.import.label + "\" already on the token and provision_on_duplicate = refuse");
    }
    todo.push_back(&e);
  }
  if (todo.empty()) return OkStatus();
  cfg.provisioner.on_step = [&log](const StepEvent& ev) {
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.1f ms", static_cast<double>(ev.elapsed.count()) / 1000.0);
    log.Info("provision: step " + std::to_string(ev.step) + " (" + ms + "): " + ev.what);
  };
  cfg.provisioner.on_status = [&log](std::string_view s) { log.Warn(s); };
  VHSM_ASSIGN_OR_RETURN(std::unique_ptr<Provisioner> p, Provisioner::Create(cfg.provisioner, firmware));
  std::vector<FetchRequest> reqs;
  for (const ResourceEntry* e : todo) reqs.push_back(e->request);
  VHSM_ASSIGN_OR_RETURN(std::vector<ProvisionedSecret> secrets, p->FetchAll(reqs));
  for (size_t i = 0; i < secrets.size(); ++i) {
    ImportOptions opt = todo[i]->import;
    opt.after_write = AfterWriteHookFromEnv();
    VHSM_ASSIGN_OR_RETURN(ImportResult r, ImportProvisioned(store, engine, secrets[i], opt));
    std::string ids;
    for (uint64_t id : r.object_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    log.Info("provision: " + secrets[i].path.ToString() + " -> label \"" + todo[i]->import.label + "\" (" +
             std::string(SecretKeyTypeName(secrets[i].secret.type)) + " " + std::to_string(secrets[i].secret.bits) +
             "-bit): " + (r.replaced ? "replaced" : "imported") + " as sealed token object(s) " + ids +
             ", CKA_SENSITIVE, not extractable, token jti " + secrets[i].jti);
  }
  return OkStatus();
}

}  // namespace

Status ProvisionAtStart(const std::map<std::string, std::string>& config, snp::Firmware& firmware,
                        hsm::SealedStore& store, const hsm::Engine& engine, Logger& log, std::string* outcome) {
  std::string ignored;
  std::string& out = outcome != nullptr ? *outcome : ignored;
  VHSM_ASSIGN_OR_RETURN(StartupConfig cfg, ParseStartupConfig(config));
  if (cfg.resources.empty()) {
    out = "nothing configured";
    return OkStatus();
  }
  const bool required = cfg.required;
  log.Info("provision: " + std::to_string(cfg.resources.size()) + " resource(s) from " +
           cfg.provisioner.attestation_url + " / " + cfg.provisioner.provisioning_url);
  Status s = Run(std::move(cfg), firmware, store, engine, log);
  if (s.ok()) {
    log.Info("provision: done");
    out = "done";
    return s;
  }
  log.Error("provision: FAILED: " + s.ToString());
  out = std::string(required ? "FAILED: " : "FAILED (not required): ") + s.ToString();
  return required ? s : OkStatus();
}

}  // namespace vhsm::provisioner
