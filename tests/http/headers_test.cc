// headers_test.cc: Bearer, cookies, listen addresses and the --dev rule.
#include "http/headers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm::http {
namespace {

using ::testing::HasSubstr;

TEST(BearerTokenTest, ExtractsToken68) {
  ASSERT_OK_AND_ASSIGN(std::string t, BearerToken("Bearer eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2ln"));
  EXPECT_EQ(t, "eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2ln");
  ASSERT_OK_AND_ASSIGN(t, BearerToken("bearer   abc+/=="));
  EXPECT_EQ(t, "abc+/==");
}

TEST(BearerTokenTest, RejectsWithUnauthenticated) {
  EXPECT_THAT(BearerToken(""), StatusIs(StatusCode::kUnauthenticated, HasSubstr("missing")));
  EXPECT_THAT(BearerToken("Basic dXNlcjpwYXNz"), StatusIs(StatusCode::kUnauthenticated, HasSubstr("Bearer")));
  EXPECT_THAT(BearerToken("Bearer "), StatusIs(StatusCode::kUnauthenticated, HasSubstr("without a token")));
  EXPECT_THAT(BearerToken("Bearer a b"), StatusIs(StatusCode::kUnauthenticated, HasSubstr("token68")));
  EXPECT_THAT(BearerToken("Bearer ab=c"), StatusIs(StatusCode::kUnauthenticated, HasSubstr("offset 3")));
  EXPECT_THAT(BearerToken("Bearer " + std::string(20000, 'a')), StatusIs(StatusCode::kUnauthenticated, HasSubstr("limit")));
}

TEST(CookieTest, FindsCookieInHeader) {
  EXPECT_EQ(FindCookie("a=1; kbs-session-id=abc123; b=2", "kbs-session-id"), "abc123");
  EXPECT_EQ(FindCookie("kbs-session-id=\"q\"", "kbs-session-id"), "q");
  EXPECT_EQ(FindCookie("a=1;b=2", "b"), "2");
  EXPECT_EQ(FindCookie("xkbs-session-id=1", "kbs-session-id"), std::nullopt);
  EXPECT_EQ(FindCookie("novalue; a", "a"), std::nullopt);
  EXPECT_EQ(FindCookie(std::string(9000, 'a') + "; a=1", "a"), std::nullopt);
}

TEST(CookieTest, BuildsSetCookieWithAttributes) {
  ASSERT_OK_AND_ASSIGN(std::string v, SetCookieValue("kbs-session-id", "abc", {}));
  EXPECT_EQ(v, "kbs-session-id=abc; Path=/; Secure; HttpOnly; SameSite=Strict");
  CookieOptions o;
  o.secure = false;
  o.same_site = SameSite::kLax;
  o.max_age_s = 300;
  ASSERT_OK_AND_ASSIGN(v, SetCookieValue("s", "x", o));
  EXPECT_EQ(v, "s=x; Path=/; Max-Age=300; HttpOnly; SameSite=Lax");
  EXPECT_THAT(SetCookieValue("a b", "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("name")));
  EXPECT_THAT(SetCookieValue("a", "x;y"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("cookie-octet")));
  o.same_site = SameSite::kNone;
  EXPECT_THAT(SetCookieValue("a", "x", o), StatusIs(StatusCode::kInvalidArgument, HasSubstr("Secure")));
}

TEST(ListenAddressTest, ParsesHostAndPort) {
  ASSERT_OK_AND_ASSIGN(ListenAddress a, ParseListenAddress("127.0.0.1:8080"));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
  ASSERT_OK_AND_ASSIGN(a, ParseListenAddress("[::1]:0"));
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.ToString(), "[::1]:0");
  EXPECT_THAT(ParseListenAddress("127.0.0.1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("PORT")));
  EXPECT_THAT(ParseListenAddress("127.0.0.1:65536"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("0..65535")));
  EXPECT_THAT(ParseListenAddress("::1:80"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("brackets")));
  EXPECT_THAT(ParseListenAddress(":80"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty host")));
  EXPECT_THAT(ParseListenAddress("[zz]:80"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("IPv6")));
}

TEST(ListenPolicyTest, DevOnlyOnLoopback) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.8.9.10"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("localhost.evil.example"));
  EXPECT_OK(CheckListenPolicy({"127.0.0.1", 0}, false, true));
  EXPECT_OK(CheckListenPolicy({"0.0.0.0", 443}, true, false));
  EXPECT_THAT(CheckListenPolicy({"0.0.0.0", 80}, false, true),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("non-loopback")));
  EXPECT_THAT(CheckListenPolicy({"127.0.0.1", 80}, false, false),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("TLS required")));
}

}  // namespace
}  // namespace vhsm::http
