// Init-data -> HOST_DATA binding (rcar.h InitData): parsing, the digest rule (known answers
// computed with Python hashlib), and the service end to end with a simulated guest launched
// with HOST_DATA = digest(init-data): accepted with the init-data claims in the token, a
// different init-data rejected (403 init_data.binding), and the off/optional/require modes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attestd_fixture.h"
#include "services/attestation/rcar.h"
#include "testing/status_matchers.h"

namespace vhsm::attestation::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

// HOST_DATA for kToml below = SHA-384(body)[0..32): python3 hashlib.sha384(body).hexdigest()[:64].
const std::string kToml = "algorithm = \"sha384\"\nversion = \"0.1.0\"\n\n[data]\n\"aa.toml\" = \"url = 1\"\n";
const char kTomlHostData[] = "83dfb5c70750cbc5cf8395a11251aaebd7057398d3fce71367ecbac67a6be094";

TEST(InitDataTest, ParsesTomlAndJsonAndComputesHostData) {
  ASSERT_OK_AND_ASSIGN(InitData t, ParseInitData(json{{"format", "toml"}, {"body", kToml}}));
  EXPECT_EQ(t.algorithm, "sha384");
  EXPECT_EQ(t.data["aa.toml"], "url = 1");
  const std::array<uint8_t, 32> hd = InitDataHostData(t);
  EXPECT_EQ(HexEncode(hd), kTomlHostData);
  // SHA-256 fills HOST_DATA exactly: sha256(b'{"algorithm":"sha256","version":"0.1.0","data":{}}').
  const std::string body = R"({"algorithm":"sha256","version":"0.1.0","data":{}})";
  ASSERT_OK_AND_ASSIGN(InitData j, ParseInitData(json{{"format", "json"}, {"body", body}}));
  EXPECT_EQ(HexEncode(InitDataHostData(j)), HexEncode(crypto::Sha256(AsBytes(body))));
}

TEST(InitDataTest, RejectsMalformedInitData) {
  struct Case {
    json v;
    const char* why;
  } cases[] = {
      {json::array(), "want an object"},
      {{{"format", "yaml"}, {"body", kToml}}, "format"},
      {{{"format", "toml"}}, "body"},
      {{{"format", "toml"}, {"body", kToml}, {"x", 1}}, "unknown member"},
      {{{"format", "toml"}, {"body", "version = \"0.2.0\"\nalgorithm = \"sha384\"\n[data]\n"}}, "0.1.0"},
      {{{"format", "toml"}, {"body", "version = \"0.1.0\"\nalgorithm = \"md5\"\n[data]\n"}}, "algorithm"},
      {{{"format", "toml"}, {"body", "version = \"0.1.0\"\nalgorithm = \"sha256\"\n"}}, "data"},
      {{{"format", "toml"}, {"body", "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\nk = 1\n"}}, "want a string"},
      {{{"format", "toml"}, {"body", "version = \"0.1.0\"\nalgorithm = \"sha256\"\nextra = 1\n[data]\n"}},
       "unknown member"},
      {{{"format", "toml"}, {"body", "not toml ["}}, "toml"},
      {{{"format", "json"}, {"body", std::string(kMaxInitDataBytes + 1, ' ')}}, "limit"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseInitData(c.v), StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.why))) << c.v.dump();
  }
}

AppraisalPolicy AnyMeasurement() {
  AppraisalPolicy p;
  p.id = "initdata";
  p.accept_any_measurement = true;
  return p;
}

class InitDataServiceTest : public AttestdFixture {
 protected:
  void Start(InitDataMode mode) {
    StartService(
        AnyMeasurement(),
        [](sim::SimConfig& c) {
          Bytes hd = *HexDecode(kTomlHostData);
          std::copy(hd.begin(), hd.end(), c.host_data.begin());
        },
        [mode](ServiceOptions& o) { o.init_data = mode; });
  }
  static GuestOptions WithInitData(const std::string& body, bool in_runtime_data = false) {
    GuestOptions g;
    g.edit = [body, in_runtime_data](json& req) {
      json id = {{"format", "toml"}, {"body", body}};
      if (in_runtime_data) {
        req["runtime-data"]["init-data"] = id;
      } else {
        req["init-data"] = id;
      }
    };
    return g;
  }
};

TEST_F(InitDataServiceTest, MatchingInitDataIsAcceptedAndItsClaimsAreInTheToken) {
  Start(InitDataMode::kOptional);
  RcarResult r = Attest(WithInitData(kToml));
  ASSERT_EQ(r.status, 200) << r.raw;
  const json claims = Claims(r.body["token"].get<std::string>());
  const json& ide = claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["init_data_claims"];
  EXPECT_EQ(ide["data"]["aa.toml"], "url = 1");
  EXPECT_EQ(ide["algorithm"], "sha384");
  EXPECT_EQ(ide["digest"].get<std::string>().substr(0, 64), kTomlHostData);
  // Also accepted under runtime-data (the binding is HOST_DATA, not REPORT_DATA).
  EXPECT_EQ(Attest(WithInitData(kToml, /*in_runtime_data=*/true)).status, 200);
}

TEST_F(InitDataServiceTest, DifferentInitDataIsRejected) {
  Start(InitDataMode::kOptional);
  std::string other = kToml;
  other.replace(other.find("url = 1"), 7, "url = 2");
  RcarResult r = Attest(WithInitData(other));
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_THAT(r.raw, HasSubstr("init_data.binding"));
  EXPECT_THAT(r.raw, HasSubstr(kTomlHostData));  // "got" = the report's HOST_DATA
}

TEST_F(InitDataServiceTest, OptionalModeAcceptsRequestsWithoutInitData) {
  Start(InitDataMode::kOptional);
  RcarResult r = Attest();
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_FALSE(Claims(r.body["token"].get<std::string>())["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
                   .contains("init_data_claims"));
}

TEST_F(InitDataServiceTest, RequireModeRejectsRequestsWithoutInitData) {
  Start(InitDataMode::kRequire);
  RcarResult r = Attest();
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_THAT(r.raw, HasSubstr("init_data.binding"));
  EXPECT_EQ(Attest(WithInitData(kToml)).status, 200);
}

TEST_F(InitDataServiceTest, OffModeIgnoresInitData) {
  Start(InitDataMode::kOff);
  std::string other = kToml;
  other.replace(other.find("url = 1"), 7, "url = 2");
  RcarResult r = Attest(WithInitData(other));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_FALSE(Claims(r.body["token"].get<std::string>())["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
                   .contains("init_data_claims"));
}

TEST_F(InitDataServiceTest, MalformedInitDataIs400) {
  Start(InitDataMode::kOptional);
  GuestOptions g;
  g.edit = [](json& req) { req["init-data"] = {{"format", "toml"}, {"body", "version = 1"}}; };
  RcarResult r = Attest(g);
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_THAT(r.raw, HasSubstr("init-data"));
}

}  // namespace
}  // namespace vhsm::attestation::testing
