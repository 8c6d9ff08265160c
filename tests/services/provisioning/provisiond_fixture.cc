// provisiond_fixture.cc
#include "provisiond_fixture.h"

#include "jose/json_util.h"
#include "jose/jwt.h"

namespace vhsm::provisioning::testing {

using nlohmann::json;

namespace {

crypto::PrivateKey NewEc() {
  auto k = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  VHSM_CHECK(k.ok(), "P-256 generation");
  return std::move(*k);
}

std::string KidOf(const crypto::PrivateKey& k) {
  auto t = jose::Jwk::FromPublicKey(k.Public()).Thumbprint();
  VHSM_CHECK(t.ok(), "thumbprint");
  return *t;
}

}  // namespace

FakeIssuer::FakeIssuer() : key_(NewEc()) {
  Rotate();
  http::ServerOptions so;
  so.dev = true;
  so.announce = false;
  auto s = http::Server::Create(so);
  VHSM_CHECK(s.ok(), "jwks server");
  server_ = std::move(*s);
  server_->Get("/.well-known/jwks.json", [this](const http::Request&) -> Result<http::Response> {
    ++fetches_;
    std::lock_guard<std::mutex> l(mu_);
    return http::Response::Json(jwks_);
  });
  VHSM_CHECK(server_->Start().ok(), "jwks server start");
  jwks_url_ = server_->url() + "/.well-known/jwks.json";
}

FakeIssuer::~FakeIssuer() {
  if (server_) server_->Stop();
}

void FakeIssuer::Rotate() {
  crypto::PrivateKey k = NewEc();
  std::string kid = KidOf(k);
  jose::JwkMetadata meta{kid, "ES256", "sig"};
  json set{{"keys", json::array({jose::Jwk::FromPublicKey(k.Public(), meta).ToPublicJson()})}};
  std::lock_guard<std::mutex> l(mu_);
  key_ = std::move(k);
  kid_ = kid;
  jwks_ = jose::DumpJson(set);
}

json FakeIssuer::Claims(const crypto::PublicKey& tee_key) const {
  auto jwk = jose::PublicKeyToJwk(tee_key);
  VHSM_CHECK(jwk.ok(), "tee jwk");
  json annotated = {
      {"version", 3},
      {"measurement", std::string(96, 'a')},
      {"chip_id", std::string(128, 'c')},
      {"vmpl", 0},
      {"guest_svn", 2},
      {"host_data", std::string(64, '0')},
      {"policy", {{"raw", "0x30000"}, {"debug", false}, {"smt", true}}},
      {"reported_tcb", {{"bootloader", 4}, {"tee", 0}, {"snp", 22}, {"microcode", 213}}},
      {"runtime_data_claims", {{"tee-pubkey", *jwk}}},
  };
  json cpu0 = {{"ear.status", "affirming"},
               {"ear.trustworthiness-vector", {{"executables", 2}, {"hardware", 2}}},
               {"ear.appraisal-policy-id", "policy:test"},
               {"ear.veraison.annotated-evidence", annotated}};
  return json{{"eat_profile", "tag:github.com,2023:veraison/ear"},
              {"iss", "vhsm-attestd"},
              {"iat", kNow - 10},
              {"exp", kNow + 290},
              {"jti", "jti-test-1"},
              {"ear.verifier-id", {{"build", "test"}, {"developer", "vhsm"}}},
              {"submods", {{"cpu0", cpu0}}}};
}

std::string FakeIssuer::Sign(const json& claims, std::string_view alg_name) const {
  std::lock_guard<std::mutex> l(mu_);
  jose::JwsSignOptions o;
  o.kid = kid_;
  o.typ = "JWT";
  auto alg = jose::ParseJwsAlg(alg_name);
  VHSM_CHECK(alg.ok(), "alg");
  auto t = jose::SignJwt(key_, *alg, claims, o);
  VHSM_CHECK(t.ok(), "sign ear");
  return *t;
}

Instance::Instance(const FakeIssuer& issuer, const Clock& clock, const crypto::PublicKey& admin_pub, SecretBytes kek,
                   const InstanceOptions& options) {
  store_url_ = options.store_url;
  if (store_url_.empty()) {
    dir_ = std::make_unique<testdata::TempDir>();
    store_url_ = "sqlite:" + dir_->Join("prov.db");
  }
  store::OpenOptions oo;
  oo.sqlite_synchronous_full = false;
  auto db = store::Open(store_url_, oo);
  if (!db.ok()) {
    ADD_FAILURE() << db.status().ToString();
    return;
  }
  db_ = std::move(*db);
  auto kk = MakeKek(std::move(kek));
  if (!kk.ok()) {
    ADD_FAILURE() << kk.status().ToString();
    return;
  }
  auto st = ProvisioningStore::Open(*db_, std::move(*kk), clock);
  if (!st.ok()) {
    ADD_FAILURE() << st.status().ToString();
    return;
  }
  store_ = std::move(*st);
  JwksSourceOptions jo;
  jo.location = options.jwks_url.empty() ? issuer.jwks_url() : options.jwks_url;
  jo.min_refresh_interval_ms = 0;
  auto js = JwksSource::Create(jo, clock);
  if (!js.ok()) {
    ADD_FAILURE() << js.status().ToString();
    return;
  }
  jwks_ = std::move(*js);
  TokenVerifierOptions vo;
  vo.issuer = options.issuer;
  verifier_ = std::make_unique<TokenVerifier>(vo, *jwks_, clock);
  ServiceOptions so;
  so.clock = &clock;
  so.admin_key = admin_pub.Clone();
  so.max_resource_bytes = options.max_resource_bytes;
  auto svc = ProvisioningService::Create(std::move(so), *store_, *verifier_);
  if (!svc.ok()) {
    ADD_FAILURE() << svc.status().ToString();
    return;
  }
  service_ = std::move(*svc);
  http::ServerOptions ho;
  ho.dev = true;
  ho.announce = false;
  ho.max_body_bytes = options.max_resource_bytes + 1024;
  auto srv = http::Server::Create(ho);
  if (!srv.ok()) {
    ADD_FAILURE() << srv.status().ToString();
    return;
  }
  server_ = std::move(*srv);
  service_->Register(*server_);
  if (Status s = server_->Start(); !s.ok()) {
    ADD_FAILURE() << s.ToString();
    return;
  }
  url_ = server_->url();
  ok_ = true;
}

Instance::~Instance() {
  if (server_) server_->Stop();
}

std::unique_ptr<http::Client> ClientFor(const std::string& url) {
  http::ClientOptions co;
  co.base_url = url;
  co.max_attempts = 1;
  auto c = http::Client::Create(co);
  VHSM_CHECK(c.ok(), "client");
  return std::move(*c);
}

std::string AdminToken(const crypto::PrivateKey& admin, const Clock& clock, int64_t ttl) {
  json claims{{"sub", "test-admin"}, {"iat", clock.NowUnix()}, {"exp", clock.NowUnix() + ttl}};
  auto t = jose::SignJwt(admin, jose::JwsAlg::kEdDsa, claims);
  VHSM_CHECK(t.ok(), "admin token");
  return *t;
}

http::ClientResponse Send(http::Client& c, std::string_view method, const std::string& path, const std::string& bearer,
                          std::string_view body) {
  std::vector<std::pair<std::string, std::string>> h;
  if (!bearer.empty()) h.emplace_back("Authorization", "Bearer " + bearer);
  auto r = c.Send(method, path, body, body.empty() ? std::string_view{} : "application/octet-stream", h);
  if (!r.ok()) {
    ADD_FAILURE() << method << " " << path << ": " << r.status().ToString();
    return {};
  }
  return std::move(*r);
}

SecretBytes TestKek() {
  SecretBytes k(32);
  for (size_t i = 0; i < 32; ++i) k.MutableExpose()[i] = static_cast<uint8_t>(0x40 + i);
  return k;
}

void ProvisiondTest::SetUp() {
  issuer_ = std::make_unique<FakeIssuer>();
  auto a = crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(a.ok());
  admin_ = std::move(*a);
}

std::unique_ptr<Instance> ProvisiondTest::Start(const std::string& store_url, size_t max_resource_bytes) {
  InstanceOptions o;
  o.store_url = store_url;
  o.max_resource_bytes = max_resource_bytes;
  auto inst = std::make_unique<Instance>(*issuer_, clock_, admin_->Public(), TestKek(), o);
  return inst->ok() ? std::move(inst) : nullptr;
}

http::ClientResponse ProvisiondTest::Admin(Instance& inst, std::string_view method, const std::string& path,
                                           std::string_view body) {
  auto c = ClientFor(inst.url());
  return Send(*c, method, path, AdminToken(*admin_, clock_), body);
}

void ProvisiondTest::PutResource(Instance& inst, const std::string& path, const std::string& value) {
  auto r = Admin(inst, "PUT", "/kbs/v0/resource/" + path, value);
  EXPECT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
}

void ProvisiondTest::PutPolicy(Instance& inst, const std::string& target, const std::string& policy) {
  auto r = Admin(inst, "PUT", "/kbs/v0/resource-policy/" + target, policy);
  EXPECT_EQ(r.status, 200) << r.body;
}

http::ClientResponse ProvisiondTest::Get(Instance& inst, const std::string& path, const std::string& bearer) {
  auto c = ClientFor(inst.url());
  return Send(*c, "GET", path, bearer);
}

}  // namespace vhsm::provisioning::testing
