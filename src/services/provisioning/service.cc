// service.cc
#include "services/provisioning/service.h"

#include "http/problem.h"
#include "services/provisioning/audit_verify.h"
#include "jose/json_util.h"
#include "jose/jwe.h"
#include "jose/jwt.h"

namespace vhsm::provisioning {

using nlohmann::json;

namespace {

const SystemClock& DefaultClock() {
  static const SystemClock c;
  return c;
}

// Bounded label values keep /metrics from growing with attacker-chosen text: token rejections
// are labelled by a fixed reason, never by message.
std::string RejectionReason(const Status& s) {
  const std::string& m = s.message();
  if (s.code() == StatusCode::kInvalidArgument) return "tee_key_type";
  if (m.find("expired") != std::string::npos || m.find("exp") != std::string::npos) return "time";
  if (m.find("iss") != std::string::npos) return "issuer";
  if (m.find("TEE key") != std::string::npos || m.find("tee-pubkey") != std::string::npos) return "tee_key";
  if (m.find("signature") != std::string::npos || m.find("signing key") != std::string::npos) return "signature";
  if (m.find("none") != std::string::npos || m.find("alg") != std::string::npos) return "alg";
  if (m.find("Authorization") != std::string::npos || m.find("Bearer") != std::string::npos) return "missing";
  return "malformed";
}

Result<int64_t> QueryInt(const http::Request& req, std::string_view name, int64_t def, int64_t min, int64_t max) {
  std::optional<std::string> v = req.query_param(name);
  if (!v) return def;
  if (v->empty() || v->size() > 18) return InvalidArgumentError("query " + std::string(name) + ": not an integer");
  int64_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return InvalidArgumentError("query " + std::string(name) + ": not an integer");
    n = n * 10 + (c - '0');
  }
  if (n < min || n > max) {
    return InvalidArgumentError("query " + std::string(name) + ": got " + std::to_string(n) + ", want " +
                                std::to_string(min) + ".." + std::to_string(max));
  }
  return n;
}

}  // namespace

Result<std::unique_ptr<ProvisioningService>> ProvisioningService::Create(ServiceOptions options,
                                                                         ProvisioningStore& store,
                                                                         TokenVerifier& verifier) {
  if (options.admin_key) {
    const crypto::PublicKey& k = *options.admin_key;
    const bool p256 = k.type() == crypto::KeyType::kEc && k.curve() == crypto::EcCurve::kP256;
    if (!p256 && k.type() != crypto::KeyType::kEd25519) {
      return InvalidArgumentError("--admin-key: got " + k.Describe() + ", want EC P-256 (ES256) or Ed25519 (EdDSA)");
    }
  }
  const Clock& clock = options.clock ? *options.clock : DefaultClock();
  return std::unique_ptr<ProvisioningService>(new ProvisioningService(std::move(options), clock, store, verifier));
}

void ProvisioningService::Register(http::Server& server) {
  http::MetricsRegistry& m = server.metrics();
  releases_ = &m.AddCounter("vhsm_provisiond_releases_total", "Secrets released, by resource and deciding policy",
                            {"resource", "policy"});
  denials_ = &m.AddCounter("vhsm_provisiond_denials_total", "Releases denied to valid tokens, by resource and rule",
                           {"resource", "rule"});
  token_rejections_ =
      &m.AddCounter("vhsm_provisiond_token_rejections_total", "Release requests with unacceptable tokens", {"reason"});
  auto bind = [this](Result<http::Response> (ProvisioningService::*fn)(const http::Request&)) {
    return [this, fn](const http::Request& r) { return (this->*fn)(r); };
  };
  const std::string resource = "/kbs/v0/resource/(.+)";
  const std::string policy = "/kbs/v0/resource-policy/(.+)";
  server.Get(resource, bind(&ProvisioningService::Release));
  server.Put(resource, bind(&ProvisioningService::PutResource));
  server.Post(resource, bind(&ProvisioningService::PutResource));
  server.Delete(resource, bind(&ProvisioningService::DeleteResource));
  server.Put(policy, bind(&ProvisioningService::PutPolicy));
  server.Get(policy, bind(&ProvisioningService::GetPolicy));
  server.Delete(policy, bind(&ProvisioningService::DeletePolicy));
  server.Get("/kbs/v0/resources", bind(&ProvisioningService::ListResources));
  server.Get("/kbs/v0/audit", bind(&ProvisioningService::ReadAudit));
  server.Get("/kbs/v0/audit/head", bind(&ProvisioningService::ReadAuditHead));
  server.SetHealthCheck([this]() -> Status { return store_.db().Query("SELECT 1").status(); });
}

json ProvisioningService::AuditBase(const AttestedToken& t, const std::string& resource) const {
  return json{{"resource", resource},
              {"jti", t.jti},
              {"measurement", t.measurement},
              {"chip_id", t.chip_id},
              {"ear_status", t.ear_status}};
}

Result<http::Response> ProvisioningService::Deny(const AttestedToken& t, const std::string& resource,
                                                 const std::string& rule, const std::string& detail,
                                                 AuditWriter::Intent& intent) {
  json rec = AuditBase(t, resource);
  rec["event"] = "release";
  rec["decision"] = "deny";
  rec["rule"] = rule;
  rec["detail"] = detail.substr(0, 1024);
  // The denial is recorded before it is answered; a store failure answers 503 instead.
  VHSM_ASSIGN_OR_RETURN(AuditWriter::Ticket ticket, audit_writer_->SubmitObject(rec, intent));
  VHSM_RETURN_IF_ERROR(audit_writer_->Wait(ticket).status());
  if (denials_) denials_->Inc({resource, rule});
  Status s = PermissionDeniedError("release of " + resource + " denied by " + rule + ": " + detail);
  json problem = json::parse(http::ProblemJson(s), nullptr, false);
  if (problem.is_discarded()) problem = json::object();
  problem["rule"] = rule;
  return http::Response{403, std::string(http::kProblemContentType), jose::DumpJson(problem), {}};
}

Result<http::Response> ProvisioningService::Release(const http::Request& req) {
  // Every path below either submits an audit record (release or denial) or ends with an error:
  // announcing it lets the audit writer batch this record with others in flight.
  AuditWriter::Intent intent = audit_writer_->Announce();
  Result<std::string> bearer = req.bearer_token();
  Result<std::shared_ptr<const AttestedToken>> verified =
      bearer.ok() ? verifier_.Verify(*bearer) : Result<std::shared_ptr<const AttestedToken>>(bearer.status());
  if (!verified.ok()) {
    if (token_rejections_) token_rejections_->Inc({RejectionReason(verified.status())});
    return verified.status();
  }
  const AttestedToken* token = verified->get();
  VHSM_ASSIGN_OR_RETURN(ResourcePath rp, ParseResourcePath(req.path_param(1)));
  const std::string resource = rp.ToString();
  // The row is looked up (404) with the policy that covers it, but stays sealed until the policy
  // has allowed the release.
  VHSM_ASSIGN_OR_RETURN(ProvisioningStore::ReleaseLookup found, store_.LookupForRelease(rp));
  const SealedResource& sealed = found.resource;

  if (token->ear_status != "affirming") {
    return Deny(*token, resource, "ear.status",
                "submods.cpu0[\"ear.status\"] is \"" + token->ear_status.substr(0, 64) + "\", want \"affirming\"",
                intent);
  }
  const std::optional<ApplicablePolicy>& policy = found.policy;
  if (!policy) return Deny(*token, resource, "default-deny", "no release policy covers " + resource, intent);
  PolicyDecision d = policy->policy->Evaluate(token->claims);
  if (!d.allowed) return Deny(*token, resource, "policy:" + policy->key + "#" + d.rule, d.detail, intent);

  json rec = AuditBase(*token, resource);
  rec["event"] = "release";
  rec["decision"] = "release";
  rec["rule"] = "policy:" + policy->key;
  rec["version"] = sealed.info.version;
  // The record goes to the audit writer before the JWE is made, so its commit (an fsync with
  // SQLite's synchronous=FULL) runs while this thread opens the resource and encrypts; the JWE
  // leaves only once the record is committed, and a failed commit answers 503 instead.
  VHSM_ASSIGN_OR_RETURN(AuditWriter::Ticket ticket, audit_writer_->SubmitObject(rec, intent));
  Result<std::string> jwe = [&]() -> Result<std::string> {
    VHSM_ASSIGN_OR_RETURN(SecretBytes value, store_.OpenResource(sealed));
    jose::JweEncryptOptions eo;
    eo.alg = token->jwe_alg;
    eo.enc = jose::JweEnc::kA256Gcm;
    return jose::EncryptFlattened(*token->tee_key, value.Expose(), eo);
  }();  // the clear value is wiped on return, before waiting for the audit commit
  Result<store::ChainEntry> committed = audit_writer_->Wait(ticket);
  if (!jwe.ok()) {
    // The release decision is on record, but nothing left: say so in the log (best effort; the
    // caller gets the error either way).
    if (committed.ok()) {
      json aborted = AuditBase(*token, resource);
      aborted["event"] = "release-aborted";
      aborted["decision"] = "none";
      aborted["after_seq"] = committed->seq;
      aborted["error"] = std::string(StatusCodeName(jwe.status().code()));
      (void)audit_writer_->AppendObject(aborted);
    }
    return jwe.status();
  }
  VHSM_RETURN_IF_ERROR(committed.status());
  if (releases_) releases_->Inc({resource, policy->key});
  return http::Response::Json(std::move(*jwe));
}

Result<std::string> ProvisioningService::Admin(const http::Request& req) {
  if (!options_.admin_key) return UnauthenticatedError("admin API: no admin key configured (--admin-key)");
  VHSM_ASSIGN_OR_RETURN(std::string token, req.bearer_token());
  jose::JwtValidationOptions vo;
  vo.max_lifetime_seconds = 3600;
  vo.require_exp = true;
  vo.jws.allowed_algs = {jose::JwsAlg::kEs256, jose::JwsAlg::kEdDsa};
  Result<jose::VerifiedJwt> v = jose::VerifyJwt(token, *options_.admin_key, vo, clock_);
  if (!v.ok()) return UnauthenticatedError("admin token: " + v.status().message());
  auto sub = v->claims.find("sub");
  if (sub != v->claims.end() && sub->is_string()) return sub->get<std::string>().substr(0, 128);
  return std::string("admin");
}

Result<http::Response> ProvisioningService::PutResource(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(ResourcePath rp, ParseResourcePath(req.path_param(1)));
  const std::string& body = req.body();
  if (body.size() > options_.max_resource_bytes) {
    return ResourceExhaustedError("resource value: " + std::to_string(body.size()) + " bytes, limit " +
                                  std::to_string(options_.max_resource_bytes));
  }
  VHSM_ASSIGN_OR_RETURN(ResourceInfo info, store_.PutResource(rp, AsBytes(body)));
  json rec{{"event", "admin.put_resource"}, {"actor", actor}, {"resource", info.path}, {"version", info.version},
           {"size_bytes", info.size_bytes}};
  VHSM_RETURN_IF_ERROR(audit_writer_->AppendObject(rec).status());
  return http::Response::Json(jose::DumpJson(info.ToJson()), info.version == 1 ? 201 : 200);
}

Result<http::Response> ProvisioningService::DeleteResource(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(ResourcePath rp, ParseResourcePath(req.path_param(1)));
  VHSM_RETURN_IF_ERROR(store_.DeleteResource(rp));
  json rec{{"event", "admin.delete_resource"}, {"actor", actor}, {"resource", rp.ToString()}};
  VHSM_RETURN_IF_ERROR(audit_writer_->AppendObject(rec).status());
  return http::Response::NoContent();
}

Result<http::Response> ProvisioningService::PutPolicy(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(std::string key, ParsePolicyTarget(req.path_param(1)));
  VHSM_ASSIGN_OR_RETURN(ReleasePolicy policy, ReleasePolicy::Parse(req.body()));
  VHSM_RETURN_IF_ERROR(store_.PutPolicy(key, policy));
  json rec{{"event", "admin.put_policy"}, {"actor", actor}, {"policy_path", key}, {"policy", policy.canonical_text()}};
  VHSM_RETURN_IF_ERROR(audit_writer_->AppendObject(rec).status());
  return http::Response::Json(jose::DumpJson(json{{"path", key}, {"policy", json::parse(policy.canonical_text(), nullptr, false)}}));
}

Result<http::Response> ProvisioningService::GetPolicy(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(std::string key, ParsePolicyTarget(req.path_param(1)));
  VHSM_ASSIGN_OR_RETURN(std::string text, store_.GetPolicy(key));
  return http::Response::Json(std::move(text));
}

Result<http::Response> ProvisioningService::DeletePolicy(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(std::string key, ParsePolicyTarget(req.path_param(1)));
  VHSM_RETURN_IF_ERROR(store_.DeletePolicy(key));
  json rec{{"event", "admin.delete_policy"}, {"actor", actor}, {"policy_path", key}};
  VHSM_RETURN_IF_ERROR(audit_writer_->AppendObject(rec).status());
  return http::Response::NoContent();
}

Result<http::Response> ProvisioningService::ListResources(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(std::vector<ResourceInfo> list, store_.ListResources());
  json arr = json::array();
  for (const ResourceInfo& i : list) arr.push_back(i.ToJson());
  return http::Response::Json(jose::DumpJson(json{{"resources", std::move(arr)}}));
}

Result<http::Response> ProvisioningService::ReadAudit(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(int64_t after, QueryInt(req, "after", 0, 0, INT64_MAX / 2));
  VHSM_ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 100, 1, 1000));
  VHSM_ASSIGN_OR_RETURN(std::vector<store::ChainEntry> entries,
                        store_.audit().List(after, static_cast<size_t>(limit)));
  VHSM_ASSIGN_OR_RETURN(store::ChainHead head, store_.audit().Head());
  json arr = json::array();
  for (const store::ChainEntry& e : entries) {
    json record = json::parse(e.record, nullptr, false);
    arr.push_back(json{{"seq", e.seq},
                       {"time", e.time},
                       {"record", record.is_discarded() ? json(e.record) : record},
                       {"prev_hash", HexEncode(e.prev_hash)},
                       {"hash", HexEncode(e.hash)}});
  }
  return http::Response::Json(
      jose::DumpJson(json{{"entries", std::move(arr)}, {"head", {{"seq", head.seq}, {"hash", HexEncode(head.hash)}}}}));
}

Result<http::Response> ProvisioningService::ReadAuditHead(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, Admin(req));
  VHSM_ASSIGN_OR_RETURN(store::ChainHead head, store_.audit().Head());
  return http::Response::Json(FormatAuditHead(head));
}

}  // namespace vhsm::provisioning
