#include "services/attestation/service.h"

#include <chrono>

#include "base/bytes.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "http/headers.h"
#include "jose/json_util.h"
#include "jose/jwt.h"
#include "snp/report.h"
#include "snp/report_json.h"
#include "store/migrate.h"

namespace vhsm::attestation {

using nlohmann::json;

namespace {

const SystemClock kSystemClock;
constexpr char kSessionCookie[] = "kbs-session-id";
constexpr jose::JsonLimits kAdminLimits{kMaxPolicyBytes, 16};

json ChecksJson(const std::vector<attest::Check>& checks) {
  json arr = json::array();
  for (const attest::Check& c : checks) arr.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  return arr;
}

// with_detail=false is the token form: the token travels in an HTTP Authorization header
// (cpp-httplib refuses header lines over 8 KiB), so rule details stay in /v1/verify and the audit.
json RulesJson(const std::vector<RuleOutcome>& rules, bool with_detail = true) {
  json arr = json::array();
  for (const RuleOutcome& r : rules) {
    json o = {{"rule", r.name}, {"ok", r.ok}, {"enforced", r.enforced}};
    if (with_detail) o["detail"] = r.detail;
    arr.push_back(std::move(o));
  }
  return arr;
}

// The verifier's failures become 403 (evidence rejected) except malformed input (400).
Status EvidenceError(const Status& s) {
  if (s.code() == StatusCode::kInvalidArgument) return InvalidArgumentError("evidence: " + s.message());
  if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kInternal) return s;
  return PermissionDeniedError("evidence rejected: " + s.message());
}

std::string ReasonLabel(const AppraisalReport& r) {
  if (!r.appraisal.failed.empty()) return r.appraisal.failed.front();
  if (r.status_error.ok()) return "ok";
  for (const attest::Check& c : r.checks) {
    if (!c.ok) return c.name;
  }
  return r.status_error.code() == StatusCode::kInvalidArgument ? "malformed" : "evidence";
}

const std::vector<store::Migration>& PolicyMigrations() {
  static const std::vector<store::Migration> kMigrations = {
      {1, "admin-managed appraisal policy: one versioned row",
       "CREATE TABLE attestd_policy (id INTEGER PRIMARY KEY, version BIGINT NOT NULL, policy TEXT NOT NULL, "
       "actor TEXT NOT NULL, updated_at BIGINT NOT NULL)"}};
  return kMigrations;
}

// The token travels in an HTTP header (8 KiB lines), so large init-data values are summarised:
// the data table as sent when its JSON is small, else each value's SHA-256.
constexpr size_t kMaxInlineInitDataBytes = 2048;
json InitDataClaims(const InitData& id) {
  json claims = {{"version", id.version}, {"algorithm", id.algorithm},
                 {"digest", HexEncode(crypto::Digest(id.algorithm == "sha512"   ? crypto::HashAlg::kSha512
                                                     : id.algorithm == "sha384" ? crypto::HashAlg::kSha384
                                                                                : crypto::HashAlg::kSha256,
                                                     AsBytes(id.body)))}};
  if (jose::DumpJson(id.data).size() <= kMaxInlineInitDataBytes) {
    claims["data"] = id.data;
  } else {
    json digests = json::object();
    for (auto it = id.data.begin(); it != id.data.end(); ++it) {
      digests[it.key()] = "sha256:" + HexEncode(crypto::Sha256(AsBytes(it.value().get<std::string>())));
    }
    claims["data_sha256"] = digests;
  }
  return claims;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

AttestationService::AttestationService(ServiceOptions options, const attest::Verifier& verifier,
                                       store::Database& db, store::OneUseTokens sessions,
                                       AppraisalPolicy policy, std::unique_ptr<EarIssuer> issuer)
    : options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : kSystemClock),
      verifier_(verifier),
      db_(db),
      sessions_(std::move(sessions)),
      issuer_(std::move(issuer)) {
  policy_hash_ = PolicyHash(policy);
  policy_ = std::make_shared<const AppraisalPolicy>(std::move(policy));
}

Result<std::unique_ptr<AttestationService>> AttestationService::Create(ServiceOptions options,
                                                                       const attest::Verifier& verifier,
                                                                       store::Database& db, AppraisalPolicy policy,
                                                                       std::unique_ptr<EarIssuer> issuer) {
  if (!issuer) return InvalidArgumentError("attestation service: no token issuer");
  if (options.session_ttl_seconds <= 0) return InvalidArgumentError("session_ttl_seconds: must be positive");
  const Clock& clock = options.clock ? *options.clock : kSystemClock;
  VHSM_ASSIGN_OR_RETURN(store::OneUseTokens sessions, store::OneUseTokens::Open(db, "rcar_sessions", clock));
  const bool persist = options.persist_policy;
  if (persist) VHSM_RETURN_IF_ERROR(store::Migrate(db, "attestd_policy", PolicyMigrations()));
  std::unique_ptr<AttestationService> svc(new AttestationService(
      std::move(options), verifier, db, std::move(sessions), std::move(policy), std::move(issuer)));
  if (persist) {
    const std::string given = svc->policy_hash_;
    VHSM_RETURN_IF_ERROR(svc->SyncPolicy(/*force=*/true));
    if (svc->policy_version_ > 0 && svc->options_.log != nullptr && svc->policy_hash_ != given) {
      svc->options_.log->Warn("appraisal policy: using version " + std::to_string(svc->policy_version_) +
                              " from the store (" + svc->policy_hash_ + "; set through the admin API), not the " +
                              "configured one (" + given + ")");
    }
  }
  return svc;
}

int64_t AttestationService::policy_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return policy_version_;
}

Status AttestationService::SyncPolicy(bool force) {
  if (!options_.persist_policy) return OkStatus();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch()).count();
  std::unique_lock<std::mutex> sync(sync_mu_, std::defer_lock);
  if (force) {
    sync.lock();
  } else {
    if (now_ns < next_sync_ns_.load(std::memory_order_relaxed)) return OkStatus();
    if (!sync.try_lock()) return OkStatus();  // another request is checking right now
  }
  next_sync_ns_.store(now_ns + options_.policy_sync_ms * 1000000, std::memory_order_relaxed);
  return SyncPolicyLocked();
}

Status AttestationService::SyncPolicyLocked() {
  VHSM_ASSIGN_OR_RETURN(store::Rows rows, db_.Query("SELECT version FROM attestd_policy WHERE id = 1"));
  if (rows.empty()) return OkStatus();
  VHSM_ASSIGN_OR_RETURN(int64_t version, rows[0].Int(0));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (version <= policy_version_) return OkStatus();
  }
  VHSM_ASSIGN_OR_RETURN(store::Row row, db_.QueryOne("SELECT version, policy, actor FROM attestd_policy WHERE id = 1"));
  VHSM_ASSIGN_OR_RETURN(version, row.Int(0));
  VHSM_ASSIGN_OR_RETURN(std::string text, row.Text(1));
  VHSM_ASSIGN_OR_RETURN(std::string actor, row.Text(2));
  Result<AppraisalPolicy> p = ParsePolicyJson(text);
  if (!p.ok()) {
    return DataLossError("stored appraisal policy version " + std::to_string(version) +
                         " does not parse (keeping the current one): " + p.status().message());
  }
  std::string hash = PolicyHash(*p);
  const std::string id = p->id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    policy_ = std::make_shared<const AppraisalPolicy>(std::move(*p));
    policy_hash_ = hash;
    policy_version_ = version;
  }
  if (options_.log != nullptr) {
    options_.log->Info("appraisal policy version " + std::to_string(version) + " loaded from the store (" + id +
                       ", " + hash + ", changed by " + actor + ")");
  }
  return OkStatus();
}

Result<int64_t> AttestationService::StorePolicyLocked(const AppraisalPolicy& policy, std::string_view actor,
                                                      int64_t expected) {
  const std::string text = jose::DumpJson(PolicyToJson(policy));
  const int64_t now = clock_.NowUnix();
  const int64_t next = expected + 1;
  auto conflict = [&] {
    return FailedPreconditionError("appraisal policy: changed concurrently by another replica (stored version is "
                                   "no longer " + std::to_string(expected) + "); read it again and retry");
  };
  if (expected == 0) {
    Result<int64_t> n = db_.Exec(
        "INSERT INTO attestd_policy (id, version, policy, actor, updated_at) VALUES (1, $1, $2, $3, $4)",
        {next, text, std::string(actor), now});
    if (!n.ok()) return n.status().code() == StatusCode::kAlreadyExists ? conflict() : n.status();
  } else {
    VHSM_ASSIGN_OR_RETURN(int64_t n, db_.Exec("UPDATE attestd_policy SET version = $1, policy = $2, actor = $3, "
                                              "updated_at = $4 WHERE id = 1 AND version = $5",
                                              {next, text, std::string(actor), now, expected}));
    if (n != 1) return conflict();
  }
  return next;
}

void AttestationService::Register(http::Server& server) {
  attestations_ = &server.metrics().AddCounter("vhsm_attestd_appraisals_total",
                                               "Appraisals by endpoint, result and first failing reason",
                                               {"endpoint", "result", "reason"});
  latency_ = &server.metrics().AddHistogram("vhsm_attestd_appraisal_seconds",
                                            "End-to-end appraisal latency by endpoint", {"endpoint"});
  server.Post("/kbs/v0/auth", [this](const http::Request& r) { return HandleAuth(r); });
  server.Post("/kbs/v0/attest", [this](const http::Request& r) { return HandleAttest(r); });
  server.Post("/v1/verify", [this](const http::Request& r) { return HandleVerify(r); });
  server.Get("/\\.well-known/jwks\\.json", [this](const http::Request& r) { return HandleJwks(r); });
  server.Put("/v1/policy", [this](const http::Request& r) { return HandlePutPolicy(r); });
  server.Get("/v1/policy", [this](const http::Request& r) { return HandleGetPolicy(r); });
  server.Post("/v1/reference-values", [this](const http::Request& r) { return HandleAddReferenceValues(r); });
  server.Delete("/v1/reference-values", [this](const http::Request& r) { return HandleDeleteReferenceValues(r); });
  server.Post("/v1/signing-key", [this](const http::Request& r) { return HandleRotateKey(r); });
  server.SetHealthCheck([this]() -> Status {
    Result<store::Rows> r = db_.Query("SELECT 1");
    if (!r.ok()) return UnavailableError("store: " + r.status().message());
    return OkStatus();
  });
}

Status AttestationService::SetPolicy(AppraisalPolicy policy, std::string_view actor, std::optional<int64_t> based_on) {
  std::string hash = PolicyHash(policy);
  const std::string id = policy.id;
  int64_t version = 0;
  if (options_.persist_policy) {
    std::lock_guard<std::mutex> sync(sync_mu_);
    // Catch up first, so a whole-policy replacement is not refused only because this replica
    // had not yet seen another's change.
    VHSM_RETURN_IF_ERROR(SyncPolicyLocked());
    int64_t current = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      current = policy_version_;
    }
    if (based_on && *based_on != current) {
      return FailedPreconditionError("appraisal policy: changed concurrently by another replica (version " +
                                     std::to_string(current) + ", the change was made on version " +
                                     std::to_string(*based_on) + "); retry");
    }
    VHSM_ASSIGN_OR_RETURN(version, StorePolicyLocked(policy, actor, current));
    std::lock_guard<std::mutex> lock(mu_);
    policy_ = std::make_shared<const AppraisalPolicy>(std::move(policy));
    policy_hash_ = hash;
    policy_version_ = version;
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    policy_ = std::make_shared<const AppraisalPolicy>(std::move(policy));
    policy_hash_ = hash;
  }
  Audit({{"event", "policy.set"}, {"actor", std::string(actor)}, {"policy_id", id}, {"policy_hash", hash},
         {"policy_version", version}});
  return OkStatus();
}

AppraisalPolicy AttestationService::policy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return *policy_;
}

void AttestationService::Audit(const json& line) {
  if (options_.audit == nullptr) return;
  json l = line;
  l["time"] = FormatRfc3339(clock_.NowUnix());
  l["service"] = "vhsm-attestd";
  options_.audit->Info("audit " + jose::DumpJson(l));
}

AppraisalReport AttestationService::Appraise(const SnpEvidence& ev, std::optional<snp::Product> hint,
                                             const std::optional<std::array<uint8_t, 64>>& expected,
                                             const std::optional<std::array<uint8_t, 32>>& expected_host_data) {
  AppraisalReport out;
  if (Status s = SyncPolicy(/*force=*/false); !s.ok() && options_.log != nullptr) {
    options_.log->Warn("appraisal policy: store check failed, keeping the current policy: " + s.message());
  }
  out.evidence_sha256 = HexEncode(crypto::Sha256(ev.report));
  std::shared_ptr<const AppraisalPolicy> policy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    policy = policy_;
    out.policy_hash = policy_hash_;
  }
  out.policy_id = policy->id;

  Result<snp::AttestationReport> parsed = snp::ParseReport(ev.report);
  if (!parsed.ok()) {
    out.status_error = InvalidArgumentError("evidence: attestation_report: " + parsed.status().message());
    return out;
  }
  std::optional<snp::Product> product = snp::ReportProduct(*parsed);
  if (!product) product = hint ? hint : options_.default_product;

  snp::CertificateSet certs = ev.certs;
  const bool vlek = parsed->signing_key_raw() == static_cast<uint8_t>(snp::SigningKey::kVlek);
  const bool leaf_missing = vlek ? certs.vlek.empty() : certs.vcek.empty();
  if (options_.collateral != nullptr && (leaf_missing || (options_.fetch_crl && certs.crl.empty()))) {
    if (!product) {
      out.checks.push_back({"collateral", false, "v2 report without CPUID: product unknown (send cert_chain)"});
      out.status_error = PermissionDeniedError(
          "evidence rejected: collateral: v2 report and no product configured; send the VCEK in cert_chain");
      return out;
    }
    snp::CompleteOptions co;
    co.crl = options_.fetch_crl;
    co.chain = options_.fetch_chain;
    Status s = snp::CompleteCertificateSet(*options_.collateral, *parsed, *product, co, certs);
    out.checks.push_back({"collateral", s.ok(), s.ok() ? "certificates completed from the collateral cache/KDS"
                                                       : s.message()});
    if (!s.ok()) {
      out.status_error = PermissionDeniedError("evidence rejected: collateral: " + s.message());
      return out;
    }
  } else if (leaf_missing) {
    out.checks.push_back({"collateral", false, std::string(vlek ? "VLEK" : "VCEK") +
                                                   " missing from cert_chain and no collateral source configured"});
    out.status_error = PermissionDeniedError(std::string("evidence rejected: cert_chain: no ") +
                                             (vlek ? "VLEK" : "VCEK") + " and no collateral source configured");
    return out;
  }

  attest::Evidence e{ev.report, std::move(certs), product};
  attest::VerifyOutcome vo = verifier_.VerifyWithChecks(e);
  out.checks.insert(out.checks.end(), vo.checks.begin(), vo.checks.end());
  out.report = vo.report;
  out.product = vo.product;
  if (!vo.status.ok() || !vo.verified) {
    out.status_error = EvidenceError(vo.status.ok() ? InternalError("verifier gave no report") : vo.status);
    return out;
  }
  const snp::AttestationReport& report = vo.verified->report();
  out.product = vo.verified->product();

  if (expected) {
    const bool ok = ConstantTimeEquals(report.report_data, *expected);
    out.checks.push_back({"report_data.binding", ok,
                          ok ? "REPORT_DATA equals SHA-384(JCS(runtime data)) || 16 zero bytes"
                             : "REPORT_DATA: got " + HexEncode(report.report_data) + ", want " +
                                   HexEncode(*expected)});
    if (!ok) {
      out.status_error = PermissionDeniedError(
          "report_data.binding: REPORT_DATA does not equal SHA-384(JCS({additional-evidence, nonce, "
          "tee-pubkey})) || 16 zero bytes: got " + HexEncode(report.report_data) + ", want " + HexEncode(*expected));
      return out;
    }
  }

  if (expected_host_data) {
    const bool ok = ConstantTimeEquals(report.host_data, *expected_host_data);
    out.checks.push_back({"init_data.binding", ok,
                          ok ? "HOST_DATA equals the init-data digest"
                             : "HOST_DATA: got " + HexEncode(report.host_data) + ", want " +
                                   HexEncode(*expected_host_data)});
    if (!ok) {
      out.status_error = PermissionDeniedError("init_data.binding: HOST_DATA does not equal the digest of the "
                                               "init-data sent: got " + HexEncode(report.host_data) + ", want " +
                                               HexEncode(*expected_host_data));
      return out;
    }
  }

  out.appraisal = attestation::Appraise(*policy, report, out.product);
  out.status = out.appraisal.status;
  if (out.status == EarStatus::kContraindicated) {
    std::string reasons;
    for (const RuleOutcome& r : out.appraisal.rules) {
      if (!r.ok && r.enforced) reasons += std::string(reasons.empty() ? "" : "; ") + r.name + ": " + r.detail;
    }
    out.status_error = PermissionDeniedError("policy '" + policy->id + "' denied: " + reasons);
  }
  return out;
}

Result<http::Response> AttestationService::HandleAuth(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(AuthRequest auth, ParseAuthRequest(req.body()));
  VHSM_ASSIGN_OR_RETURN(Bytes sid, crypto::RandomBytes(32));
  VHSM_ASSIGN_OR_RETURN(Bytes nonce_bytes, crypto::RandomBytes(kNonceBytes));
  const std::string session_id = Base64UrlEncode(sid);
  const std::string nonce = Base64Encode(nonce_bytes);
  json payload = {{"nonce", nonce}, {"tee", auth.tee}};
  VHSM_RETURN_IF_ERROR(sessions_.Put(session_id, jose::DumpJson(payload), options_.session_ttl_seconds));
  http::CookieOptions co;
  co.secure = options_.secure_cookie;
  co.max_age_s = options_.session_ttl_seconds;
  VHSM_ASSIGN_OR_RETURN(std::string cookie, http::SetCookieValue(kSessionCookie, session_id, co));
  http::Response resp = http::Response::Json(jose::DumpJson(json{{"nonce", nonce}, {"extra-params", ""}}));
  resp.AddHeader("Set-Cookie", cookie);
  return resp;
}

Result<http::Response> AttestationService::HandleAttest(const http::Request& req) {
  const auto t0 = std::chrono::steady_clock::now();
  auto fail = [&](const Status& s, std::string_view reason, const json& extra = json::object()) -> Status {
    if (attestations_) attestations_->Inc({"attest", "error", std::string(reason)});
    json line = {{"event", "appraisal"}, {"endpoint", "attest"}, {"result", "rejected"},
                 {"reasons", json::array({s.message().substr(0, 512)})}};
    for (auto it = extra.begin(); it != extra.end(); ++it) line[it.key()] = it.value();
    Audit(line);
    return s;
  };
  std::optional<std::string> sid = req.cookie(kSessionCookie);
  if (!sid || sid->empty()) {
    return fail(UnauthenticatedError("kbs-session-id cookie: missing; call POST /kbs/v0/auth first"), "session");
  }
  Result<AttestRequest> parsed = ParseAttestRequest(req.body());
  if (!parsed.ok()) return fail(parsed.status(), "malformed");
  AttestRequest& ar = *parsed;

  Result<std::string> payload = sessions_.Take(*sid);
  if (!payload.ok()) {
    const Status& s = payload.status();
    if (s.code() == StatusCode::kNotFound) return fail(UnauthenticatedError("kbs-session-id: unknown session"), "session");
    if (s.code() == StatusCode::kFailedPrecondition) {
      return fail(UnauthenticatedError("kbs-session-id: " + s.message()), "session");
    }
    return fail(s, "store");
  }
  Result<json> pj = jose::ParseJsonObject(*payload, "session");
  if (!pj.ok() || !(*pj).contains("nonce") || !(*pj)["nonce"].is_string()) {
    return fail(InternalError("session payload unreadable"), "store");
  }
  const std::string nonce = (*pj)["nonce"].get<std::string>();
  if (!ConstantTimeEquals(AsBytes(nonce), AsBytes(ar.nonce))) {
    return fail(UnauthenticatedError("runtime-data.nonce: does not match the nonce issued for this session"), "nonce");
  }
  Result<std::array<uint8_t, 64>> expected = ExpectedReportData(ar.nonce, ar.tee_pubkey, ar.additional_evidence);
  if (!expected.ok()) return fail(InvalidArgumentError("runtime-data: " + expected.status().message()), "malformed");

  std::optional<std::array<uint8_t, 32>> expected_host_data;
  if (options_.init_data != InitDataMode::kOff) {
    if (ar.init_data) {
      expected_host_data = InitDataHostData(*ar.init_data);
    } else if (options_.init_data == InitDataMode::kRequire) {
      return fail(PermissionDeniedError("init_data.binding: the request carries no init-data and this service "
                                        "requires one (init_data = \"require\")"),
                  "init_data.binding");
    }
  }
  AppraisalReport rep = Appraise(ar.evidence, std::nullopt, *expected, expected_host_data);
  const std::string reason = ReasonLabel(rep);
  json reasons = json::array();
  for (const std::string& f : rep.appraisal.failed) reasons.push_back(f);
  json audit = {{"event", "appraisal"},
                {"endpoint", "attest"},
                {"evidence_sha256", rep.evidence_sha256},
                {"policy_id", rep.policy_id},
                {"policy_hash", rep.policy_hash},
                {"reasons", reasons}};
  if (rep.report) audit["measurement"] = HexEncode(rep.report->measurement);
  if (!rep.status_error.ok()) {
    if (reasons.empty()) audit["reasons"] = json::array({rep.status_error.message().substr(0, 512)});
    audit["result"] = rep.status_error.code() == StatusCode::kPermissionDenied ? "contraindicated" : "error";
    Audit(audit);
    if (attestations_) attestations_->Inc({"attest", audit["result"].get<std::string>(), reason});
    if (latency_) latency_->Observe({"attest"}, SecondsSince(t0));
    return rep.status_error;
  }

  json annotated = snp::ReportToJson(*rep.report, rep.product);
  // The signature was checked here; relying parties get vhsm.evidence-sha256 instead (size, above).
  annotated.erase("signature");
  annotated["runtime_data_claims"] = {{"tee-pubkey", ar.tee_pubkey}};
  if (expected_host_data) annotated["init_data_claims"] = InitDataClaims(*ar.init_data);
  json cpu0 = {{"ear.status", std::string(EarStatusName(rep.status))},
               {"ear.trustworthiness-vector", rep.appraisal.trust_vector},
               {"ear.appraisal-policy-id", "policy:" + rep.policy_id},
               {"vhsm.policy-hash", rep.policy_hash},
               {"vhsm.evidence-sha256", rep.evidence_sha256},
               {"vhsm.appraisal", RulesJson(rep.appraisal.rules, /*with_detail=*/false)}};
  cpu0["ear.veraison.annotated-evidence"] = std::move(annotated);
  if (!rep.appraisal.matched_reference.empty()) cpu0["vhsm.reference-value"] = rep.appraisal.matched_reference;
  json submods = json::object();
  submods["cpu0"] = std::move(cpu0);
  Result<IssuedToken> tok = issuer_->Issue(std::move(submods), ar.nonce);
  if (!tok.ok()) return fail(tok.status(), "signing");
  audit["result"] = std::string(EarStatusName(rep.status));
  audit["jti"] = tok->jti;
  Audit(audit);
  if (attestations_) attestations_->Inc({"attest", std::string(EarStatusName(rep.status)), reason});
  if (latency_) latency_->Observe({"attest"}, SecondsSince(t0));
  return http::Response::Json(jose::DumpJson(json{{"token", tok->token}}));
}

Result<http::Response> AttestationService::HandleVerify(const http::Request& req) {
  const auto t0 = std::chrono::steady_clock::now();
  Result<VerifyRequest> vr = ParseVerifyRequest(req.body());
  if (!vr.ok()) {
    if (attestations_) attestations_->Inc({"verify", "error", "malformed"});
    return vr.status();
  }
  AppraisalReport rep = Appraise(vr->evidence, vr->product, vr->report_data);
  const bool verified = rep.report.has_value() && !rep.appraisal.rules.empty();
  if (!verified && rep.status_error.code() == StatusCode::kInvalidArgument) {
    if (attestations_) attestations_->Inc({"verify", "error", "malformed"});
    return rep.status_error;
  }
  const std::string result(EarStatusName(rep.status));
  json body = {{"result", result},
               {"verified", verified},
               {"evidence_sha256", rep.evidence_sha256},
               {"policy_id", rep.policy_id},
               {"policy_hash", rep.policy_hash},
               {"checks", ChecksJson(rep.checks)},
               {"rules", RulesJson(rep.appraisal.rules)},
               {"product", std::string(snp::ProductName(rep.product))}};
  if (verified) body["trustworthiness_vector"] = rep.appraisal.trust_vector;
  if (!rep.status_error.ok()) body["reason"] = rep.status_error.message();
  if (rep.report) body["report"] = snp::ReportToJson(*rep.report, rep.product);
  json reasons = json::array();
  for (const std::string& f : rep.appraisal.failed) reasons.push_back(f);
  if (reasons.empty() && !rep.status_error.ok()) reasons.push_back(rep.status_error.message().substr(0, 512));
  Audit({{"event", "appraisal"},
         {"endpoint", "verify"},
         {"evidence_sha256", rep.evidence_sha256},
         {"result", result},
         {"reasons", reasons},
         {"policy_id", rep.policy_id}});
  if (attestations_) attestations_->Inc({"verify", result, ReasonLabel(rep)});
  if (latency_) latency_->Observe({"verify"}, SecondsSince(t0));
  return http::Response::Json(jose::DumpJson(body));
}

Result<http::Response> AttestationService::HandleJwks(const http::Request&) {
  http::Response r = http::Response::Json(jose::DumpJson(issuer_->Jwks()));
  r.content_type = "application/jwk-set+json";
  r.AddHeader("Cache-Control", "max-age=60");
  return r;
}

Result<std::string> AttestationService::AuthorizeAdmin(const http::Request& req) {
  if (!options_.admin_key) return UnauthenticatedError("admin API: no admin key configured (--admin-key)");
  VHSM_ASSIGN_OR_RETURN(std::string token, req.bearer_token());
  jose::JwtValidationOptions vo;
  vo.require_exp = true;
  vo.max_lifetime_seconds = 3600;
  vo.jws.allowed_algs = {jose::JwsAlg::kEs256, jose::JwsAlg::kEdDsa};
  Result<jose::VerifiedJwt> v = jose::VerifyJwt(token, *options_.admin_key, vo, clock_);
  if (!v.ok()) {
    Audit({{"event", "admin.denied"}, {"reason", v.status().message().substr(0, 256)}});
    return UnauthenticatedError("admin token: " + v.status().message());
  }
  if (v->claims.contains("sub") && v->claims["sub"].is_string()) return v->claims["sub"].get<std::string>();
  return std::string("admin");
}

Result<http::Response> AttestationService::HandlePutPolicy(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, AuthorizeAdmin(req));
  const std::string ct = req.header("Content-Type");
  Result<AppraisalPolicy> p = ct.find("toml") != std::string::npos ? ParsePolicyToml(req.body())
                                                                   : ParsePolicyJson(req.body());
  if (!p.ok()) return p.status();
  const std::string hash = PolicyHash(*p);
  const std::string id = p->id;
  VHSM_RETURN_IF_ERROR(SetPolicy(std::move(*p), actor));
  return http::Response::Json(jose::DumpJson(json{{"policy_id", id}, {"policy_hash", hash}}));
}

Result<http::Response> AttestationService::HandleGetPolicy(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, AuthorizeAdmin(req));
  VHSM_RETURN_IF_ERROR(SyncPolicy(/*force=*/true));
  AppraisalPolicy p = policy();
  json body = PolicyToJson(p);
  body["policy_version"] = policy_version();
  body["policy_hash"] = PolicyHash(p);
  return http::Response::Json(jose::DumpJson(body));
}

Result<http::Response> AttestationService::HandleAddReferenceValues(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, AuthorizeAdmin(req));
  VHSM_ASSIGN_OR_RETURN(json j, jose::ParseJsonStrict(req.body(), "reference values", kAdminLimits));
  if (j.is_object() && j.contains("measurements")) j = j["measurements"];
  VHSM_ASSIGN_OR_RETURN(std::vector<ReferenceValue> add, ParseReferenceValues(j));
  VHSM_RETURN_IF_ERROR(SyncPolicy(/*force=*/true));
  const int64_t based_on = policy_version();
  AppraisalPolicy p = policy();
  size_t added = 0;
  json labels = json::array();
  for (ReferenceValue& rv : add) {
    bool dup = false;
    for (const ReferenceValue& have : p.reference_values) dup = dup || have.measurement == rv.measurement;
    if (dup) continue;
    if (p.reference_values.size() >= kMaxReferenceValues) {
      return ResourceExhaustedError("reference values: at most " + std::to_string(kMaxReferenceValues));
    }
    labels.push_back(rv.label);
    p.reference_values.push_back(std::move(rv));
    ++added;
  }
  const std::string hash = PolicyHash(p);
  VHSM_RETURN_IF_ERROR(SetPolicy(std::move(p), actor, based_on));
  Audit({{"event", "reference-values.add"}, {"actor", actor}, {"labels", labels}, {"policy_hash", hash}});
  return http::Response::Json(jose::DumpJson(json{{"added", added}, {"policy_hash", hash}}));
}

Result<http::Response> AttestationService::HandleDeleteReferenceValues(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, AuthorizeAdmin(req));
  std::optional<std::string> label = req.query_param("label");
  std::optional<std::string> measurement = req.query_param("measurement");
  if (!label && !measurement && !req.body().empty()) {
    VHSM_ASSIGN_OR_RETURN(json j, jose::ParseJsonObject(req.body(), "reference value selector", kAdminLimits));
    VHSM_ASSIGN_OR_RETURN(label, jose::OptionalString(j, "label", "reference value selector"));
    VHSM_ASSIGN_OR_RETURN(measurement, jose::OptionalString(j, "measurement", "reference value selector"));
  }
  if (!label && !measurement) {
    return InvalidArgumentError("reference value selector: give 'label' or 'measurement'");
  }
  VHSM_RETURN_IF_ERROR(SyncPolicy(/*force=*/true));
  const int64_t based_on = policy_version();
  AppraisalPolicy p = policy();
  const size_t before = p.reference_values.size();
  std::erase_if(p.reference_values, [&](const ReferenceValue& rv) {
    return (label && rv.label == *label) || (measurement && HexEncode(rv.measurement) == *measurement);
  });
  const size_t removed = before - p.reference_values.size();
  if (removed == 0) return NotFoundError("reference values: no entry matches the selector");
  const std::string hash = PolicyHash(p);
  VHSM_RETURN_IF_ERROR(SetPolicy(std::move(p), actor, based_on));
  Audit({{"event", "reference-values.delete"}, {"actor", actor}, {"removed", removed}, {"policy_hash", hash}});
  return http::Response::Json(jose::DumpJson(json{{"removed", removed}, {"policy_hash", hash}}));
}

Result<http::Response> AttestationService::HandleRotateKey(const http::Request& req) {
  VHSM_ASSIGN_OR_RETURN(std::string actor, AuthorizeAdmin(req));
  if (issuer_->current_key_in_hsm()) {
    return FailedPreconditionError("signing key: held in a PKCS#11 token (" + issuer_->current_signer() +
                                   "); rotate it there and point signing_key at the new key (SIGHUP), "
                                   "an in-memory key would take signing out of the HSM");
  }
  const crypto::EcCurve curve =
      issuer_->options().alg == jose::JwsAlg::kEs384 ? crypto::EcCurve::kP384 : crypto::EcCurve::kP256;
  VHSM_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::GenerateEc(curve));
  const std::string old_kid = issuer_->current_kid();
  VHSM_RETURN_IF_ERROR(issuer_->Rotate(std::move(key)));
  const std::string kid = issuer_->current_kid();
  Audit({{"event", "signing-key.rotate"}, {"actor", actor}, {"old_kid", old_kid}, {"kid", kid}});
  return http::Response::Json(jose::DumpJson(json{{"kid", kid}, {"previous_kid", old_kid}}));
}

}  // namespace vhsm::attestation
