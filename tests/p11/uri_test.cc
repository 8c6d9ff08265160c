#include "p11/uri.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm::p11 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Pkcs11UriTest, EmptyUriMatchesEverything) {
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri u, ParsePkcs11Uri("pkcs11:"));
  EXPECT_FALSE(u.token);
  EXPECT_FALSE(u.object);
  EXPECT_EQ(u.ToString(), "pkcs11:");
}

// RFC 7512 section 3 examples.
TEST(Pkcs11UriTest, ParsesRfcExamples) {
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri a, ParsePkcs11Uri("pkcs11:object=my-pubkey;type=public"));
  EXPECT_EQ(a.object, "my-pubkey");
  EXPECT_EQ(a.type, ObjectType::kPublic);

  ASSERT_OK_AND_ASSIGN(
      Pkcs11Uri b,
      ParsePkcs11Uri("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
                     "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
                     "?pin-source=file:/etc/token_pin"));
  EXPECT_EQ(b.token, "The Software PKCS#11 Softtoken");
  EXPECT_EQ(b.manufacturer, "Snake Oil, Inc.");
  EXPECT_EQ(b.model, "1.0");
  EXPECT_EQ(b.serial, "");
  EXPECT_EQ(b.type, ObjectType::kCert);
  EXPECT_EQ(b.id, (Bytes{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91}));
  EXPECT_EQ(b.pin_source, "file:/etc/token_pin");

  ASSERT_OK_AND_ASSIGN(Pkcs11Uri c, ParsePkcs11Uri("pkcs11:object=my-sign-key;type=private?module-name=mypkcs11"));
  EXPECT_EQ(c.module_name, "mypkcs11");
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri d, ParsePkcs11Uri("pkcs11:object=my-sign-key;type=private"
                                                   "?module-path=/mnt/libmypkcs11.so.1"));
  EXPECT_EQ(d.module_path, "/mnt/libmypkcs11.so.1");
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri e, ParsePkcs11Uri("pkcs11:token=Software%20PKCS%2311%20softtoken;"
                                                   "manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin"));
  ASSERT_TRUE(e.pin_value);
  EXPECT_EQ(AsStringView(e.pin_value->Expose()), "the-pin");
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri f, ParsePkcs11Uri("pkcs11:slot-description=Sun%20Metaslot"));
  EXPECT_EQ(f.slot_description, "Sun Metaslot");
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri g, ParsePkcs11Uri("pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;"
                                                   "library-description=Soft%20Token%20Library;library-version=1.23"));
  EXPECT_EQ(g.library_version, (LibraryVersion{1, 23}));
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri h, ParsePkcs11Uri("pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;"
                                                   "object=my-certificate;type=cert"));
  EXPECT_EQ(h.token, "A name with a substring %;");
  // The RFC's UTF-8 example label is 34 bytes: too long for CK_TOKEN_INFO.label (32), so we
  // refuse it as a token; as an object label it parses.
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("longer than 32")));
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri i, ParsePkcs11Uri("pkcs11:object=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;"
                                                   "type=cert"));
  EXPECT_EQ(i.object, "Name with a small A with acute: \xC3\xA1");
  // The RFC's last example carries vendor path attributes; we reject unknown path attributes.
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a"
                             "?pin-source=file:/etc/token_pin&vendor-bbb=value-b"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'vendor-aaa'")));
}

TEST(Pkcs11UriTest, SlotIdLibraryVersionAndSchemeCase) {
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri u, ParsePkcs11Uri("PKCS11:slot-id=10;library-version=7"));
  EXPECT_EQ(u.slot_id, 10u);
  EXPECT_EQ(u.library_version, (LibraryVersion{7, 0}));
  EXPECT_TRUE(IsPkcs11Uri("Pkcs11:token=x"));
  EXPECT_FALSE(IsPkcs11Uri("/etc/ear-key.pem"));
}

TEST(Pkcs11UriTest, VendorQueryAttributesAreIgnoredVendorPathAttributesRejected) {
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri u, ParsePkcs11Uri("pkcs11:object=k?x-hint=abc&module-name=softhsm2"));
  EXPECT_EQ(u.module_name, "softhsm2");
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:object=k;x-hint=abc"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'x-hint'")));
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:object=k?frobnicate=1"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'frobnicate'")));
}

TEST(Pkcs11UriTest, RejectsMalformedUris) {
  struct Case {
    const char* uri;
    const char* why;
  } cases[] = {
      {"pkcs12:token=a", "scheme"},
      {"token=a", "scheme"},
      {"pkcs11:token=a#frag", "fragment"},
      {"pkcs11:token=a;token=b", "more than once"},
      {"pkcs11:token=a?module-path=/a&module-path=/b", "more than once"},
      {"pkcs11:token=a b", "percent-encoded"},
      {"pkcs11:token=a%2", "truncated"},
      {"pkcs11:token=a%G1", "bad percent-encoding"},
      {"pkcs11:token=a;;object=b", "empty attribute"},
      {"pkcs11:token=a;", "trailing"},
      {"pkcs11:token", "name=value"},
      {"pkcs11:=a", "name=value"},
      {"pkcs11:Token=a", "lowercase"},
      {"pkcs11:type=key", "type"},
      {"pkcs11:slot-id=abc", "slot-id"},
      {"pkcs11:slot-id=-1", "slot-id"},
      {"pkcs11:library-version=256", "library-version"},
      {"pkcs11:library-version=1.", "library-version"},
      {"pkcs11:token=012345678901234567890123456789012", "longer than 32"},
      {"pkcs11:serial=01234567890123456", "longer than 16"},
      {"pkcs11:object=a?pin-value=1&pin-source=/p", "at most one"},
      {"pkcs11:object=a?module-path=", "empty"},
      {"pkcs11:object=a;type=private?pin-value=a#b", "fragment"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParsePkcs11Uri(c.uri), StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.why))) << c.uri;
  }
}

TEST(Pkcs11UriTest, SizeLimits) {
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:object=" + std::string(kMaxUriBytes, 'a')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("4096")));
  std::string id;
  for (size_t i = 0; i <= kMaxIdBytes; ++i) id += "%00";
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:id=" + id), StatusIs(StatusCode::kInvalidArgument, HasSubstr("id")));
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:object=x?pin-value=" + std::string(kMaxPinBytes + 1, 'p')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("pin-value")));
}

TEST(Pkcs11UriTest, PinNeverEchoed) {
  Result<Pkcs11Uri> bad = ParsePkcs11Uri("pkcs11:object=x?pin-value=sup3rs3cret%G0");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("sup3rs3cret")));
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri u, ParsePkcs11Uri("pkcs11:object=x?pin-value=sup3rs3cret"));
  EXPECT_THAT(u.ToString(), Not(HasSubstr("sup3rs3cret")));
  EXPECT_THAT(u.ToString(), HasSubstr("pin-value=REDACTED"));
  EXPECT_THAT(u.ToString(/*with_pin=*/true), HasSubstr("pin-value=sup3rs3cret"));
}

TEST(Pkcs11UriTest, RoundTripsThroughCanonicalText) {
  const char* uris[] = {
      "pkcs11:token=ear%20tok;manufacturer=SoftHSM%20project;serial=abc;model=SoftHSM%20v2;library-version=2.6;"
      "slot-id=12;object=ear;id=%01%FF%00;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1%26234",
      "pkcs11:slot-manufacturer=x;slot-description=y;library-manufacturer=m;library-description=d?module-name=p11"
      "&pin-source=file:/run/pin",
  };
  for (const char* text : uris) {
    ASSERT_OK_AND_ASSIGN(Pkcs11Uri a, ParsePkcs11Uri(text));
    ASSERT_OK_AND_ASSIGN(Pkcs11Uri b, ParsePkcs11Uri(a.ToString(/*with_pin=*/true)));
    EXPECT_TRUE(a.Equals(b)) << text << " -> " << a.ToString(true);
    EXPECT_EQ(a.ToString(true), b.ToString(true));
  }
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri x, ParsePkcs11Uri("pkcs11:object=a?pin-value=1"));
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri y, ParsePkcs11Uri("pkcs11:object=a?pin-value=2"));
  EXPECT_FALSE(x.Equals(y));
}

}  // namespace
}  // namespace vhsm::p11
