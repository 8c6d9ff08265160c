// Tests for the RCAR request parsers and the REPORT_DATA binding (services/attestation/rcar.h).
#include "services/attestation/rcar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "testing/status_matchers.h"

namespace vhsm::attestation {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

// RFC 7515 appendix A.3 public key.
const json kJwk = {{"kty", "EC"},
                   {"crv", "P-256"},
                   {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                   {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}};
const char kNonce[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

std::string ReportB64() { return Base64Encode(Bytes(1184, 0)); }

TEST(RcarBindingTest, MatchesIndependentSha384OfCanonicalJson) {
  // Computed with Python: hashlib.sha384(json.dumps(obj, sort_keys=True, separators=(',', ':')))
  // (equal to JCS for these ASCII-only members).
  ASSERT_OK_AND_ASSIGN(auto rd, ExpectedReportData(kNonce, kJwk, ""));
  EXPECT_EQ(HexEncode(ByteSpan(rd.data(), 48)),
            "e4d38580cc1126d71ea6c455a111baf920934e1937705c4cc0344da8f7398d50d85416277f5dbeda3ffe8bf07bf34ddd");
  EXPECT_TRUE(IsAllZero(ByteSpan(rd.data() + 48, 16)));
}

TEST(RcarBindingTest, EveryInputChangesTheBinding) {
  ASSERT_OK_AND_ASSIGN(auto base, ExpectedReportData(kNonce, kJwk, ""));
  ASSERT_OK_AND_ASSIGN(auto other_nonce, ExpectedReportData("AAAA", kJwk, ""));
  ASSERT_OK_AND_ASSIGN(auto other_ae, ExpectedReportData(kNonce, kJwk, "x"));
  json jwk2 = kJwk;
  jwk2["kid"] = "k";
  ASSERT_OK_AND_ASSIGN(auto other_key, ExpectedReportData(kNonce, jwk2, ""));
  EXPECT_NE(base, other_nonce);
  EXPECT_NE(base, other_ae);
  EXPECT_NE(base, other_key);
}

TEST(RcarAuthTest, AcceptsTrusteeRequest) {
  ASSERT_OK_AND_ASSIGN(AuthRequest r, ParseAuthRequest(R"({"version":"0.4.0","tee":"snp","extra-params":""})"));
  EXPECT_EQ(r.tee, "snp");
}

TEST(RcarAuthTest, RejectsWrongVersionUnknownTeeAndMalformed) {
  EXPECT_THAT(ParseAuthRequest(R"({"version":"0.1.0","tee":"snp","extra-params":""})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("0.4.0")));
  EXPECT_THAT(ParseAuthRequest(R"({"version":"0.4.0","tee":"tdx","extra-params":""})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("tdx")));
  EXPECT_THAT(ParseAuthRequest(R"({"version":"0.4.0")"), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParseAuthRequest(R"({"tee":"snp"})"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("version")));
}

json AttestBody() {
  json primary = {{"attestation_report", ReportB64()},
                  {"cert_chain", json::array({{{"cert_type", "VCEK"}, {"data", Base64Encode(Bytes{1, 2, 3})}}})}};
  return {{"runtime-data", {{"nonce", kNonce}, {"tee-pubkey", kJwk}}},
          {"tee-evidence", {{"primary_evidence", primary}, {"additional_evidence", ""}}}};
}

TEST(RcarAttestTest, ParsesObjectAndStringEvidence) {
  json body = AttestBody();
  ASSERT_OK_AND_ASSIGN(AttestRequest a, ParseAttestRequest(body.dump()));
  EXPECT_EQ(a.evidence.report.size(), 1184u);
  EXPECT_EQ(a.evidence.certs.vcek, (Bytes{1, 2, 3}));
  EXPECT_EQ(a.additional_evidence, "");
  body["tee-evidence"] = body["tee-evidence"].dump();  // as Trustee's client sends it
  ASSERT_OK_AND_ASSIGN(AttestRequest b, ParseAttestRequest(body.dump()));
  EXPECT_EQ(b.evidence.report, a.evidence.report);
}

TEST(RcarAttestTest, CertDataAsByteArrayAndNullChain) {
  json body = AttestBody();
  body["tee-evidence"]["primary_evidence"]["cert_chain"] = json::array({{{"cert_type", "ark"}, {"data", {9, 8}}}});
  ASSERT_OK_AND_ASSIGN(AttestRequest a, ParseAttestRequest(body.dump()));
  EXPECT_EQ(a.evidence.certs.ark, (Bytes{9, 8}));
  body["tee-evidence"]["primary_evidence"]["cert_chain"] = nullptr;
  ASSERT_OK_AND_ASSIGN(AttestRequest b, ParseAttestRequest(body.dump()));
  EXPECT_FALSE(b.evidence.has_cert_chain);
}

TEST(RcarAttestTest, AdditionalEvidenceObjectIsCanonicalised) {
  json body = AttestBody();
  body["tee-evidence"]["additional_evidence"] = {{"b", 1}, {"a", "x"}};
  ASSERT_OK_AND_ASSIGN(AttestRequest a, ParseAttestRequest(body.dump()));
  EXPECT_EQ(a.additional_evidence, R"({"a":"x","b":1})");
  body["tee-evidence"].erase("additional_evidence");
  ASSERT_OK_AND_ASSIGN(AttestRequest b, ParseAttestRequest(body.dump()));
  EXPECT_EQ(b.additional_evidence, "");
}

TEST(RcarAttestTest, RejectsMalformedRequestsNamingTheMember) {
  struct Case {
    std::function<void(json&)> mutate;
    std::string want;
  };
  std::vector<Case> cases = {
      {[](json& b) { b.erase("runtime-data"); }, "runtime-data"},
      {[](json& b) { b["runtime-data"].erase("nonce"); }, "nonce"},
      {[](json& b) { b["runtime-data"]["tee-pubkey"] = {{"kty", "EC"}}; }, "tee-pubkey"},
      {[](json& b) { b["runtime-data"]["tee-pubkey"]["d"] = "AAAA"; }, "tee-pubkey"},
      {[](json& b) { b.erase("tee-evidence"); }, "tee-evidence"},
      {[](json& b) { b["tee-evidence"] = "{not json"; }, "tee-evidence"},
      {[](json& b) { b["tee-evidence"]["primary_evidence"]["attestation_report"] = "!!"; }, "base64"},
      {[](json& b) { b["tee-evidence"]["primary_evidence"]["attestation_report"] = Base64Encode(Bytes(1183)); },
       "1183"},
      {[](json& b) { b["tee-evidence"]["primary_evidence"]["cert_chain"][0]["cert_type"] = "PEK"; }, "PEK"},
      {[](json& b) {
         b["tee-evidence"]["primary_evidence"]["cert_chain"].push_back(
             {{"cert_type", "VCEK"}, {"data", Base64Encode(Bytes{1})}});
       },
       "duplicate"},
      {[](json& b) { b["tee-evidence"]["primary_evidence"]["cert_chain"] = "x"; }, "cert_chain"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    json b = AttestBody();
    cases[i].mutate(b);
    EXPECT_THAT(ParseAttestRequest(b.dump()), StatusIs(StatusCode::kInvalidArgument, HasSubstr(cases[i].want)))
        << "case " << i;
  }
  EXPECT_THAT(ParseAttestRequest("[1,2]"), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParseAttestRequest(std::string(300 * 1024, ' ')), StatusIs(StatusCode::kResourceExhausted, ::testing::_));
}

TEST(RcarVerifyTest, ParsesReportDataAndProduct) {
  json body = {{"attestation_report", ReportB64()}, {"report_data", std::string(96, 'a')}, {"product", "milan"}};
  ASSERT_OK_AND_ASSIGN(VerifyRequest v, ParseVerifyRequest(body.dump()));
  ASSERT_TRUE(v.report_data.has_value());
  EXPECT_EQ((*v.report_data)[47], 0xaa);
  EXPECT_EQ((*v.report_data)[48], 0);
  EXPECT_EQ(v.product, snp::Product::kMilan);
  body["report_data"] = "abcd";
  EXPECT_THAT(ParseVerifyRequest(body.dump()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("report_data")));
  body.erase("report_data");
  body["extra"] = 1;
  EXPECT_THAT(ParseVerifyRequest(body.dump()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("extra")));
}

}  // namespace
}  // namespace vhsm::attestation
