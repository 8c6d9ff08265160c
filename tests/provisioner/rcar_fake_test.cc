// Provisioner against in-process fake services (http::Server on 127.0.0.1:0): the fake Attestation
// Service checks the REPORT_DATA binding of the report it receives and issues a small token naming
// the tee-pubkey; the fake Provisioning Service encrypts the resource to that key as a flattened
// JWE. Covers the happy path, expiry between attest and fetch (one re-attestation), a JWE to
// another key, a denial reason passed through, and bounded retries while a service answers 503.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "http/server.h"
#include "jose/jwe.h"
#include "jose/jwk.h"
#include "provisioner/provisioner.h"
#include "testing/status_matchers.h"

namespace vhsm::provisioner {
namespace {

using ::testing::HasSubstr;

class FakeFirmware : public snp::Firmware {
 public:
  std::string_view Name() const override { return "fake"; }
  Result<snp::ReportResponse> GetReport(std::span<const uint8_t, 64> rd, uint32_t) override {
    snp::ReportResponse r;
    r.report.assign(1184, 0);
    std::copy(rd.begin(), rd.end(), r.report.begin() + 0x50);
    return r;
  }
  Result<SecretBytes> GetDerivedKey(const snp::DerivedKeyRequest&) override { return SecretBytes(Bytes(32, 1)); }
  Result<snp::CertificateSet> GetCertificates() override { return snp::CertificateSet{}; }
};

struct Fakes {
  std::unique_ptr<http::Server> as, ps;
  std::atomic<int> attests{0}, fetches{0}, unavailable_left{0}, expire_first{0};
  bool wrong_key = false;
  std::string deny;
  Bytes secret = Bytes(32, 0x5a);
  std::string nonce = "bm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZW5vbmNlMTI=";

  Fakes() {
    http::ServerOptions o;
    o.dev = true;
    o.announce = false;
    as = *http::Server::Create(o);
    ps = *http::Server::Create(o);
    as->Post("/kbs/v0/auth", [this](const http::Request&) -> Result<http::Response> {
      if (unavailable_left > 0) {
        --unavailable_left;
        return http::Response::Text("busy", 503);
      }
      return http::Response::Json("{\"nonce\":\"" + nonce + "\",\"extra-params\":\"\"}")
          .AddHeader("Set-Cookie", "kbs-session-id=abc; Path=/");
    });
    as->Post("/kbs/v0/attest", [this](const http::Request& req) -> Result<http::Response> {
      if (req.cookie("kbs-session-id").value_or("") != "abc") return UnauthenticatedError("no session");
      nlohmann::json j = nlohmann::json::parse(req.body());
      const nlohmann::json& key = j["runtime-data"]["tee-pubkey"];
      VHSM_ASSIGN_OR_RETURN(auto want, BindingReportData(j["runtime-data"]["nonce"].get<std::string>(), key, ""));
      VHSM_ASSIGN_OR_RETURN(Bytes report,
                            Base64Decode(j["tee-evidence"]["primary_evidence"]["attestation_report"].get<std::string>()));
      if (!std::equal(want.begin(), want.end(), report.begin() + 0x50)) {
        return PermissionDeniedError("report_data.binding: mismatch");
      }
      ++attests;
      nlohmann::json claims = {{"jti", "jti-" + std::to_string(attests.load())},
                               {"submods", {{"cpu0", {{"ear.status", "affirming"}}}}},
                               {"tee", key}};
      std::string token = "e30." + Base64UrlEncode(AsBytes(claims.dump())) + ".sig";
      return http::Response::Json(nlohmann::json{{"token", token}}.dump());
    });
    ps->Get(R"(/kbs/v0/resource/(.+))", [this](const http::Request& req) -> Result<http::Response> {
      ++fetches;
      if (!deny.empty()) return PermissionDeniedError(deny);
      VHSM_ASSIGN_OR_RETURN(std::string token, req.bearer_token());
      if (expire_first > 0) {
        --expire_first;
        return UnauthenticatedError("token expired");
      }
      size_t d1 = token.find('.'), d2 = token.rfind('.');
      VHSM_ASSIGN_OR_RETURN(Bytes payload, Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1)));
      nlohmann::json c = nlohmann::json::parse(AsStringView(payload));
      VHSM_ASSIGN_OR_RETURN(jose::Jwk jwk, jose::Jwk::ParsePublic(c["tee"]));
      crypto::PublicKey to = jwk.public_key().Clone();
      if (wrong_key) {
        VHSM_ASSIGN_OR_RETURN(crypto::PrivateKey other, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
        to = other.Public();
      }
      jose::JweEncryptOptions eo;
      VHSM_ASSIGN_OR_RETURN(eo.alg, jose::DefaultJweAlgForKey(to));
      VHSM_ASSIGN_OR_RETURN(std::string jwe, jose::EncryptFlattened(to, secret, eo));
      return http::Response::Json(jwe);
    });
    EXPECT_OK(as->Start());
    EXPECT_OK(ps->Start());
  }

  ProvisionerOptions Options() {
    ProvisionerOptions o;
    o.attestation_url = as->url();
    o.provisioning_url = ps->url();
    o.backoff_initial_ms = 10;
    o.max_attempts = 3;
    return o;
  }
};

TEST(RcarFake, FetchesDecryptsAndValidates) {
  Fakes f;
  FakeFirmware fw;
  std::vector<int> steps;
  ProvisionerOptions o = f.Options();
  o.on_step = [&](const StepEvent& e) { steps.push_back(e.step); };
  ASSERT_OK_AND_ASSIGN(auto p, Provisioner::Create(o, fw));
  ASSERT_OK_AND_ASSIGN(ProvisionedSecret s, p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}));
  EXPECT_EQ(Bytes(s.secret.material.Expose().begin(), s.secret.material.Expose().end()), f.secret);
  EXPECT_EQ(s.jti, "jti-1");
  EXPECT_EQ(s.ear_status, "affirming");
  EXPECT_EQ(steps, (std::vector<int>{2, 3, 4, 5}));
}

TEST(RcarFake, P384AndRsaEphemeralKeys) {
  Fakes f;
  FakeFirmware fw;
  for (EphemeralKeyKind k : {EphemeralKeyKind::kP384, EphemeralKeyKind::kRsa3072}) {
    ProvisionerOptions o = f.Options();
    o.ephemeral = k;
    ASSERT_OK_AND_ASSIGN(auto p, Provisioner::Create(o, fw));
    EXPECT_OK(p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}).status());
  }
}

TEST(RcarFake, ExpiredTokenReattestsOnce) {
  Fakes f;
  FakeFirmware fw;
  f.expire_first = 1;
  ASSERT_OK_AND_ASSIGN(auto p, Provisioner::Create(f.Options(), fw));
  ASSERT_OK_AND_ASSIGN(ProvisionedSecret s, p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}));
  EXPECT_EQ(f.attests.load(), 2);
  EXPECT_EQ(s.jti, "jti-2");
  // Expired twice: only one re-attestation, then the error.
  f.expire_first = 2;
  EXPECT_THAT(p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}).status(),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("token expired")));
}

TEST(RcarFake, JweForAnotherKeyIsRejected) {
  Fakes f;
  FakeFirmware fw;
  f.wrong_key = true;
  ASSERT_OK_AND_ASSIGN(auto p, Provisioner::Create(f.Options(), fw));
  EXPECT_THAT(p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}).status(),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not decrypt with this vHSM's ephemeral key")));
}

TEST(RcarFake, DenialAndWrongTypeCarryReasons) {
  Fakes f;
  FakeFirmware fw;
  ASSERT_OK_AND_ASSIGN(auto p, Provisioner::Create(f.Options(), fw));
  EXPECT_THAT(p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kEc}).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("secret for key type ec")));
  f.deny = "policy:demo#allOf[1]: measurement differs";
  EXPECT_THAT(p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}).status(),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("measurement differs")));
}

TEST(RcarFake, RetriesWhileUnavailableThenGivesUp) {
  Fakes f;
  FakeFirmware fw;
  f.unavailable_left = 2;
  ASSERT_OK_AND_ASSIGN(auto p, Provisioner::Create(f.Options(), fw));
  EXPECT_OK(p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}).status());
  f.unavailable_left = 5;
  EXPECT_THAT(p->Fetch({ResourcePath{"demo", "key", "aes"}, SecretKeyType::kAes}).status(),
              StatusIs(StatusCode::kUnavailable, HasSubstr("after 3 attempts")));
}

}  // namespace
}  // namespace vhsm::provisioner
