// config_test.cc: vhsm-provisiond's TOML configuration (config.h): every key is read with its
// type and range, unknown keys and wrong types are errors naming the key, malformed TOML names
// the line, and the defaults of the audit timing keys are the AuditWriter's own.
#include "services/provisioning/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/provisioning/audit_writer.h"
#include "testing/status_matchers.h"

namespace vhsm::provisioning {
namespace {

using ::testing::HasSubstr;

TEST(ProvisiondConfigTest, EmptyFileGivesTheDefaults) {
  ASSERT_OK_AND_ASSIGN(ProvisiondConfig c, ParseProvisiondConfig(""));
  EXPECT_EQ(c.listen, "127.0.0.1:8081");
  EXPECT_FALSE(c.dev);
  EXPECT_EQ(c.token_cache_entries, 1024);
  EXPECT_EQ(c.audit_batch_wait_us, AuditWriter::kDefaultBatchWait.count());
  EXPECT_EQ(c.audit_wait_spin_us, AuditWriter::kDefaultWaitSpin.count());
}

TEST(ProvisiondConfigTest, ReadsEveryKey) {
  ASSERT_OK_AND_ASSIGN(ProvisiondConfig c, ParseProvisiondConfig(R"(
listen = "127.0.0.1:9000"
tls_cert = "c.pem"
tls_key = "k.pem"
dev = true
store = "postgresql://db/prov"
jwks = "https://attestd/.well-known/jwks.json"
jwks_ca_file = "ca.pem"
issuer = "attestd-eu"
kek = "pkcs11:token=kek"
admin_key = "admin.pem"
max_resource_bytes = 4096
clock_skew_seconds = 5
jwks_min_refresh_ms = 250
token_cache_entries = 0
audit_batch_wait_us = 0
audit_wait_spin_us = 250
)"));
  EXPECT_EQ(c.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.tls_cert, "c.pem");
  EXPECT_EQ(c.tls_key, "k.pem");
  EXPECT_TRUE(c.dev);
  EXPECT_EQ(c.store, "postgresql://db/prov");
  EXPECT_EQ(c.jwks, "https://attestd/.well-known/jwks.json");
  EXPECT_EQ(c.jwks_ca_file, "ca.pem");
  EXPECT_EQ(c.issuer, "attestd-eu");
  EXPECT_EQ(c.kek, "pkcs11:token=kek");
  EXPECT_EQ(c.admin_key, "admin.pem");
  EXPECT_EQ(c.max_resource_bytes, 4096);
  EXPECT_EQ(c.clock_skew_seconds, 5);
  EXPECT_EQ(c.jwks_min_refresh_ms, 250);
  EXPECT_EQ(c.token_cache_entries, 0);
  EXPECT_EQ(c.audit_batch_wait_us, 0);
  EXPECT_EQ(c.audit_wait_spin_us, 250);
}

TEST(ProvisiondConfigTest, RejectsUnknownKeysWrongTypesAndOutOfRangeValues) {
  EXPECT_THAT(ParseProvisiondConfig("audit_spin = 5"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown key 'audit_spin'")));
  EXPECT_THAT(ParseProvisiondConfig("audit_wait_spin_us = \"1000\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("audit_wait_spin_us: want an integer")));
  EXPECT_THAT(ParseProvisiondConfig("audit_wait_spin_us = -1"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("audit_wait_spin_us: got -1, want 0..100000")));
  EXPECT_THAT(ParseProvisiondConfig("audit_batch_wait_us = 100001"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("audit_batch_wait_us: got 100001")));
  EXPECT_THAT(ParseProvisiondConfig("dev = 1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("dev: want true")));
  EXPECT_THAT(ParseProvisiondConfig("listen = 8081"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("listen: want a string")));
}

TEST(ProvisiondConfigTest, MalformedTomlNamesTheLine) {
  EXPECT_THAT(ParseProvisiondConfig("listen = \"a\"\nstore = \n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_THAT(ParseProvisiondConfig(std::string(64 * 1024 + 1, '#')),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("64 KiB")));
}

}  // namespace
}  // namespace vhsm::provisioning
