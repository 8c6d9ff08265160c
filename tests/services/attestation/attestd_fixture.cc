#include "attestd_fixture.h"

#include <ctime>

#include "base/bytes.h"
#include "jose/jwk.h"
#include "jose/jwt.h"
#include "sim_test_util.h"
#include "testing/status_matchers.h"

namespace vhsm::attestation::testing {

using nlohmann::json;

void AttestdFixture::StartService(const AppraisalPolicy& policy,
                                  const std::function<void(sim::SimConfig&)>& config_edit,
                                  const std::function<void(ServiceOptions&)>& options_edit) {
  clock_.Set(static_cast<int64_t>(std::time(nullptr)));
  sim::SimConfig cfg = sim::testing::Defaults(snp::Product::kGenoa, 3);
  if (config_edit) config_edit(cfg);
  sim::SimState st = sim::testing::MakeState(dir_.Join("sim"), cfg);
  sim_ark_der_ = st.ark_der;
  Result<std::unique_ptr<sim::SimFirmware>> fw = sim::SimFirmware::Create(std::move(st));
  ASSERT_OK(fw.status());
  fw_ = std::move(*fw);

  attest::VerifierOptions vo;
  vo.clock = &clock_;
  vo.extra_trusted_roots.push_back(sim_ark_der_);
  Result<std::unique_ptr<attest::Verifier>> v = attest::Verifier::Create(std::move(vo));
  ASSERT_OK(v.status());
  verifier_ = std::move(*v);

  Result<std::unique_ptr<store::Database>> db =
      store::Open(store_url_override_.empty() ? "sqlite:" + dir_.Join("attestd.db") : store_url_override_);
  ASSERT_OK(db.status());
  db_ = std::move(*db);

  Result<crypto::PrivateKey> ek = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  ASSERT_OK(ek.status());
  ear_key_ = std::move(*ek);
  EarIssuerOptions eo;
  eo.clock = &clock_;
  eo.issuer = "vhsm-attestd-test";
  Result<std::unique_ptr<EarIssuer>> issuer =
      signer_override_ ? EarIssuer::Create(eo, std::move(signer_override_)) : EarIssuer::Create(eo, ear_key_->Clone());
  ASSERT_OK(issuer.status());

  Result<crypto::PrivateKey> ak = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  ASSERT_OK(ak.status());
  admin_key_ = std::move(*ak);
  Result<crypto::PrivateKey> tk = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  ASSERT_OK(tk.status());
  tee_key_ = std::move(*tk);

  ServiceOptions so;
  so.clock = &clock_;
  so.secure_cookie = false;
  so.admin_key = admin_key_->Public();
  so.audit = &audit_;
  if (options_edit) options_edit(so);
  Result<std::unique_ptr<AttestationService>> svc =
      AttestationService::Create(std::move(so), *verifier_, *db_, policy, std::move(*issuer));
  ASSERT_OK(svc.status());
  service_ = std::move(*svc);

  http::ServerOptions ho;
  ho.listen = "127.0.0.1:0";
  ho.dev = true;
  ho.announce = false;
  ho.max_body_bytes = 256 * 1024;
  Result<std::unique_ptr<http::Server>> server = http::Server::Create(ho);
  ASSERT_OK(server.status());
  server_ = std::move(*server);
  service_->Register(*server_);
  ASSERT_OK(server_->Start());
  http::ClientOptions co;
  co.base_url = server_->url();
  co.max_attempts = 1;
  Result<std::unique_ptr<http::Client>> client = http::Client::Create(co);
  ASSERT_OK(client.status());
  client_ = std::move(*client);
}

void AttestdFixture::TearDown() {
  client_.reset();  // close the keep-alive connection so Stop() need not wait for it
  if (server_) server_->Stop();
}

RcarResult AttestdFixture::Send(const std::string& method, const std::string& path, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& content_type) {
  RcarResult out;
  Result<http::ClientResponse> r =
      client_->Send(method, path, body, body.empty() && method != "POST" && method != "PUT" ? "" : content_type,
                    headers);
  EXPECT_OK(r.status());
  if (!r.ok()) return out;
  out.status = r->status;
  out.raw = r->body;
  out.body = json::parse(r->body, nullptr, false);
  return out;
}

std::pair<std::string, std::string> AttestdFixture::Auth() {
  Result<http::ClientResponse> r = client_->Post(
      "/kbs/v0/auth", R"({"version":"0.4.0","tee":"snp","extra-params":""})", "application/json");
  EXPECT_OK(r.status());
  if (!r.ok()) return {};
  EXPECT_EQ(r->status, 200) << r->body;
  const std::string set_cookie = r->header("Set-Cookie");
  std::string cookie;
  if (set_cookie.rfind("kbs-session-id=", 0) == 0) {
    cookie = set_cookie.substr(15, set_cookie.find(';') - 15);
  }
  json body = json::parse(r->body, nullptr, false);
  std::string nonce = body.is_object() && body.contains("nonce") ? body["nonce"].get<std::string>() : "";
  return {cookie, nonce};
}

json AttestdFixture::TeePubJwk() const {
  Result<json> j = jose::PublicKeyToJwk(tee_key_->Public());
  EXPECT_OK(j.status());
  return j.ok() ? *j : json();
}

json AttestdFixture::PrimaryEvidence(const std::array<uint8_t, 64>& rd, const GuestOptions& g) {
  Result<snp::ReportResponse> rep = fw_->GetReport(rd, g.vmpl);
  EXPECT_OK(rep.status());
  if (!rep.ok()) return {};
  Bytes report = rep->report;
  if (g.tamper) g.tamper(report);
  json primary = {{"attestation_report", Base64Encode(report)}, {"cert_chain", nullptr}};
  if (g.send_cert_chain) {
    Result<snp::CertificateSet> certs = fw_->GetCertificates();
    EXPECT_OK(certs.status());
    primary["cert_chain"] = json::array({{{"cert_type", "VCEK"}, {"data", Base64Encode(certs->vcek)}},
                                         {{"cert_type", "ASK"}, {"data", Base64Encode(certs->ask)}},
                                         {{"cert_type", "ARK"}, {"data", Base64Encode(certs->ark)}}});
  }
  return primary;
}

RcarResult AttestdFixture::AttestWith(const std::string& cookie, const std::string& nonce, const GuestOptions& g) {
  json tee_pub = TeePubJwk();
  Result<std::array<uint8_t, 64>> rd = ExpectedReportData(nonce, tee_pub, g.additional_evidence);
  EXPECT_OK(rd.status());
  std::array<uint8_t, 64> report_data = rd.ok() ? *rd : std::array<uint8_t, 64>{};
  if (g.edit_report_data) g.edit_report_data(report_data);
  json te = {{"primary_evidence", PrimaryEvidence(report_data, g)}};
  if (!g.additional_evidence.empty()) te["additional_evidence"] = g.additional_evidence;
  json body = {{"runtime-data", {{"nonce", nonce}, {"tee-pubkey", tee_pub}}},
               {"tee-evidence", g.evidence_as_string ? json(te.dump()) : te}};
  if (g.edit) g.edit(body);
  std::vector<std::pair<std::string, std::string>> headers;
  if (!cookie.empty()) headers.emplace_back("Cookie", "kbs-session-id=" + cookie);
  return Send("POST", "/kbs/v0/attest", body.dump(), headers);
}

RcarResult AttestdFixture::Attest(const GuestOptions& g) {
  auto [cookie, nonce] = Auth();
  return AttestWith(cookie, nonce, g);
}

std::string AttestdFixture::AdminToken(int64_t lifetime_s) {
  json claims = {{"sub", "test-admin"}, {"iat", clock_.NowUnix()}, {"exp", clock_.NowUnix() + lifetime_s}};
  Result<std::string> t = jose::SignJwt(*admin_key_, jose::JwsAlg::kEs256, claims);
  EXPECT_OK(t.status());
  return t.ok() ? *t : "";
}

json AttestdFixture::Claims(const std::string& token) {
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  Result<Bytes> payload = Base64UrlDecode(token.substr(a + 1, b - a - 1));
  if (!payload.ok()) return {};
  return json::parse(AsStringView(*payload), nullptr, false);
}

}  // namespace vhsm::attestation::testing
