#include "provisioner/on_demand.h"

#include <cstdio>

#include "jose/json_util.h"

namespace vhsm::provisioner {

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count()) /
         1000.0;
}

nlohmann::json ErrorJson(const vhsm::Status& s) {
  return {{"ok", false}, {"code", std::string(StatusCodeName(s.code()))}, {"error", s.message()}};
}

}  // namespace

nlohmann::json OutcomeToJson(const OnDemandOutcome& o) {
  nlohmann::json steps = nlohmann::json::array();
  for (const StepEvent& e : o.steps) {
    steps.push_back({{"step", e.step}, {"what", e.what}, {"ms", static_cast<double>(e.elapsed.count()) / 1000.0}});
  }
  return {{"resource", o.resource}, {"label", o.label},     {"key_type", o.key_type},
          {"bits", o.bits},         {"handles", o.handles}, {"replaced", o.replaced},
          {"jti", o.jti},           {"ear_status", o.ear_status},
          {"timings_ms", {{"fetch", o.fetch_ms}, {"import", o.import_ms}, {"total", o.total_ms}}},
          {"steps", steps}};
}

OnDemandProvisioner::OnDemandProvisioner(StartupConfig config, snp::Firmware& firmware, hsm::Token& token,
                                         Logger& log, std::string startup_status)
    : config_(std::move(config)), firmware_(firmware), token_(token), log_(log),
      startup_status_(std::move(startup_status)) {}

Result<OnDemandOutcome> OnDemandProvisioner::Provision(const AdminRequest& request) {
  if (request.op != AdminOp::kProvision) return InvalidArgumentError("admin request: op is not provision");
  if (config_.provisioner.attestation_url.empty() || config_.provisioner.provisioning_url.empty()) {
    return FailedPreconditionError("vhsmd has no attestation_url/provisioning_url in its config");
  }
  std::lock_guard<std::mutex> run(run_mu_);
  const auto t0 = Clock::now();
  ImportOptions opt = request.entry.import;
  opt.on_duplicate = request.on_duplicate.value_or(config_.on_duplicate);
  // keep (vhsmd's start-up default) means "do not fetch again" there; an explicit on-demand
  // request for a label that exists is refused unless it asks to replace.
  if (opt.on_duplicate == OnDuplicate::kKeep) opt.on_duplicate = OnDuplicate::kRefuse;
  if (opt.on_duplicate == OnDuplicate::kRefuse && !token_.TokenObjectsWithLabel(opt.label).empty()) {
    return AlreadyExistsError("label \"" + opt.label + "\": already on the token and on_duplicate is refuse " +
                              "(ask with on_duplicate replace to replace it atomically)");
  }
  opt.after_write = AfterWriteHookFromEnv();
  OnDemandOutcome out;
  ProvisionerOptions po = config_.provisioner;
  po.on_step = [&](const StepEvent& e) {
    out.steps.push_back(e);
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.1f ms", static_cast<double>(e.elapsed.count()) / 1000.0);
    log_.Info("provision (admin): step " + std::to_string(e.step) + " (" + ms + "): " + e.what);
  };
  po.on_status = [this](std::string_view s) { log_.Warn(s); };
  VHSM_ASSIGN_OR_RETURN(std::unique_ptr<Provisioner> p, Provisioner::Create(po, firmware_));
  VHSM_ASSIGN_OR_RETURN(ProvisionedSecret secret, p->Fetch(request.entry.request));
  p.reset();  // the ephemeral key goes now
  out.fetch_ms = MsSince(t0);
  const auto t1 = Clock::now();
  VHSM_ASSIGN_OR_RETURN(ImportResult r, ImportIntoToken(token_, secret, opt));
  out.import_ms = MsSince(t1);
  out.total_ms = MsSince(t0);
  out.resource = secret.path.ToString();
  out.label = opt.label;
  out.key_type = std::string(SecretKeyTypeName(secret.secret.type));
  out.bits = secret.secret.bits;
  out.handles = r.object_ids;
  out.replaced = r.replaced;
  out.jti = secret.jti;
  out.ear_status = secret.ear_status;
  std::string ids;
  for (uint64_t h : out.handles) ids += (ids.empty() ? "" : ",") + std::to_string(h);
  log_.Info("provision (admin): " + out.resource + " -> label \"" + out.label + "\" (" + out.key_type + " " +
            std::to_string(out.bits) + "-bit): " + (out.replaced ? "replaced" : "imported") +
            " as sealed token object(s) " + ids + ", token jti " + out.jti);
  return out;
}

nlohmann::json OnDemandProvisioner::Status() {
  std::lock_guard<std::mutex> lock(status_mu_);
  nlohmann::json recent = nlohmann::json::array();
  for (const OnDemandOutcome& o : recent_) {
    nlohmann::json j = OutcomeToJson(o);
    j.erase("steps");
    recent.push_back(std::move(j));
  }
  return {{"ok", true},
          {"startup", startup_status_},
          {"requests", requests_},
          {"succeeded", succeeded_},
          {"failed", failed_},
          {"last_error", last_error_},
          {"recent", recent},
          {"attestation_url", config_.provisioner.attestation_url},
          {"provisioning_url", config_.provisioner.provisioning_url}};
}

std::string OnDemandProvisioner::Handle(std::string_view body) {
  Result<AdminRequest> req = ParseAdminRequest(body);
  if (!req.ok()) return jose::DumpJson(ErrorJson(req.status()));
  if (req->op == AdminOp::kStatus) return jose::DumpJson(Status());
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    ++requests_;
  }
  Result<OnDemandOutcome> r = Provision(*req);
  std::lock_guard<std::mutex> lock(status_mu_);
  if (!r.ok()) {
    ++failed_;
    last_error_ = r.status().ToString();
    log_.Error("provision (admin): " + req->entry.request.path.ToString() + " -> label \"" +
               req->entry.import.label + "\": FAILED: " + last_error_);
    return jose::DumpJson(ErrorJson(r.status()));
  }
  ++succeeded_;
  nlohmann::json j = OutcomeToJson(*r);
  j["ok"] = true;
  OnDemandOutcome brief = *r;
  brief.steps.clear();
  recent_.push_back(std::move(brief));
  while (recent_.size() > 32) recent_.pop_front();
  return jose::DumpJson(j);
}

}  // namespace vhsm::provisioner
