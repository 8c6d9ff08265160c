#include "jose/jcs.h"
#include "jose/json_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/digest.h"
#include "testing/status_matchers.h"

namespace vhsm::jose {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

// ARCHITECTURE.md section 3: the known answer for the RCAR REPORT_DATA step.
TEST(JcsTest, ArchitectureKnownAnswerSha384) {
  ASSERT_OK_AND_ASSIGN(std::string c, CanonicalizeText(R"({"b":1,"a":"test","c":{"d":"e"}})"));
  EXPECT_EQ(c, R"({"a":"test","b":1,"c":{"d":"e"}})");
  EXPECT_EQ(HexEncode(crypto::Sha384(AsBytes(c))),
            "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3");
}

// RFC 8785 section 3.2.2.3 / appendix B: ECMAScript number serialisation.
TEST(JcsTest, EcmaScriptNumbers) {
  struct Case {
    double in;
    const char* want;
  };
  const Case cases[] = {
      {0.0, "0"},
      {-0.0, "0"},
      {1.0, "1"},
      {-1.5, "-1.5"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {9007199254740992.0, "9007199254740992"},
      {295147905179352830000.0, "295147905179352830000"},
      {1e21, "1e+21"},
      {1e20, "100000000000000000000"},
      {0.000001, "0.000001"},
      {1e-7, "1e-7"},
      {333333333.3333333, "333333333.3333333"},
      {4.50, "4.5"},
      {2e-3, "0.002"},
      {0.000033333333333333335, "0.000033333333333333335"},
      {1.2345678901234566e-7, "1.2345678901234566e-7"},  // shortest round-trip digits
      {123456789012345680000.0, "123456789012345680000"},
  };
  for (const Case& c : cases) {
    ASSERT_OK_AND_ASSIGN(std::string s, FormatEcmaScriptNumber(c.in));
    EXPECT_EQ(s, c.want) << c.in;
  }
  EXPECT_THAT(FormatEcmaScriptNumber(std::numeric_limits<double>::quiet_NaN()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("NaN")));
  EXPECT_THAT(FormatEcmaScriptNumber(std::numeric_limits<double>::infinity()), StatusIs(StatusCode::kInvalidArgument, testing::_));
}

// RFC 8785 section 3.2.2: the sample object, serialised with minimal escapes and ES numbers.
TEST(JcsTest, Rfc8785Section322Sample) {
  const char* input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  ASSERT_OK_AND_ASSIGN(std::string c, CanonicalizeText(input));
  EXPECT_EQ(c, "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
               "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 section 3.2.3: members sorted by UTF-16 code units, not by UTF-8 bytes.
TEST(JcsTest, SortsByUtf16CodeUnits) {
  const char* input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  ASSERT_OK_AND_ASSIGN(std::string c, CanonicalizeText(input));
  const std::string want =
      "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\",\"\xc3\xb6\":\"Latin Small Letter O With "
      "Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew "
      "Letter Dalet With Dagesh\"}";
  EXPECT_EQ(c, want);
}

TEST(JcsTest, IntegersAboveTwoTo53BehaveAsDoubles) {
  ASSERT_OK_AND_ASSIGN(std::string c, Canonicalize(json{{"n", 9007199254740993ull}, {"m", -42}}));
  EXPECT_EQ(c, R"({"m":-42,"n":9007199254740992})");
}

TEST(JcsTest, RejectsDuplicatesInvalidUtf8AndBinary) {
  EXPECT_THAT(CanonicalizeText(R"({"a":1,"a":2})"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate member \"a\"")));
  EXPECT_THAT(Canonicalize(json("\xff")), StatusIs(StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  EXPECT_THAT(Canonicalize(json::binary({1, 2})), StatusIs(StatusCode::kInvalidArgument, HasSubstr("binary")));
  EXPECT_THAT(CanonicalizeText("{"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
}

// The strict parser finds a repeated member name at any depth (it counts names read against the
// finished object's size) and names the first one; distinct names in sibling objects are fine.
TEST(StrictJsonTest, DuplicateMembersAtAnyDepthAreRefusedByName) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"a":{"x":1,"y":[{"k":1,"k":1}]}})", "k"},
      {R"({"a":{"x":1,"x":{"z":1}}})", "x"},
      {R"({"a":{},"b":1,"a":{}})", "a"},
      {R"([{"":1,"":2}])", ""},
      {R"({"e":[{"x":1},{"x":1}],"e":0})", "e"},
  };
  for (const auto& [text, name] : cases) {
    EXPECT_THAT(ParseJsonStrict(text, "doc", JsonLimits{}),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("doc: duplicate member \"" + name + "\"")))
        << text;
  }
  ASSERT_OK_AND_ASSIGN(json ok, ParseJsonStrict(R"({"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]})", "doc", JsonLimits{}));
  EXPECT_EQ(ok["c"][1]["x"], 2);
  JsonLimits shallow;
  shallow.max_depth = 2;
  EXPECT_THAT(ParseJsonStrict(R"({"a":{"b":{"c":1}}})", "doc", shallow),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("nesting deeper than 2")));
}

}  // namespace
}  // namespace vhsm::jose
