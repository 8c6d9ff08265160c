// Admin changes to the appraisal policy are persisted in the Store (SQLite here) and survive a
// restart of vhsm-attestd; a stored policy takes precedence over the one configured at start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "attestd_fixture.h"
#include "testing/status_matchers.h"

namespace vhsm::attestation::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

AppraisalPolicy FilePolicy() {
  AppraisalPolicy p;
  p.id = "from-file";
  p.accept_any_measurement = true;
  return p;
}

class PolicyStoreTest : public AttestdFixture {
 protected:
  void Restart() {
    TearDown();
    client_.reset();
    server_.reset();
    service_.reset();
    db_.reset();
    fw_.reset();
    std::filesystem::remove_all(dir_.Join("sim"));  // a fresh simulated guest; the store stays
    StartService(FilePolicy());
  }
  testdata::TempDir store_dir_;
};

TEST_F(PolicyStoreTest, AdminChangesSurviveRestart) {
  store_url_override_ = "sqlite:" + store_dir_.Join("attestd.db");
  StartService(FilePolicy());
  EXPECT_EQ(service_->policy_version(), 0);
  const std::string measurement = HexEncode(fw_->config().measurement);
  RcarResult put = Send("PUT", "/v1/policy", R"({"id":"admin-set","measurements":[]})",
                        {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(put.status, 200) << put.raw;
  // The guest's measurement is not allowed any more.
  EXPECT_EQ(Attest().status, 403);
  RcarResult add = Send("POST", "/v1/reference-values",
                        json{{"label", "guest-v1"}, {"measurement", measurement}}.dump(),
                        {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(add.status, 200) << add.raw;
  EXPECT_EQ(service_->policy_version(), 2);
  ASSERT_EQ(Attest().status, 200);

  Restart();  // same store file, configured policy "from-file" again
  EXPECT_EQ(service_->policy_version(), 2);
  EXPECT_EQ(service_->policy().id, "admin-set");
  RcarResult get = Send("GET", "/v1/policy", "", {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(get.status, 200) << get.raw;
  EXPECT_EQ(get.body["id"], "admin-set");
  EXPECT_EQ(get.body["policy_version"], 2);
  EXPECT_THAT(get.raw, HasSubstr("guest-v1"));
  RcarResult r = Attest();
  ASSERT_EQ(r.status, 200) << r.raw;
  const json cpu0 = Claims(r.body["token"].get<std::string>())["submods"]["cpu0"];
  EXPECT_EQ(cpu0["ear.appraisal-policy-id"], "policy:admin-set");
  EXPECT_EQ(cpu0["vhsm.reference-value"], "guest-v1");

  // Deleting the reference value is persisted too.
  RcarResult del = Send("DELETE", "/v1/reference-values?label=guest-v1", "",
                        {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(del.status, 200) << del.raw;
  Restart();
  EXPECT_EQ(service_->policy_version(), 3);
  EXPECT_TRUE(service_->policy().reference_values.empty());
  EXPECT_EQ(Attest().status, 403);
}

TEST_F(PolicyStoreTest, WithoutAdminChangesTheConfiguredPolicyIsUsed) {
  store_url_override_ = "sqlite:" + store_dir_.Join("attestd.db");
  StartService(FilePolicy());
  Restart();
  EXPECT_EQ(service_->policy_version(), 0);
  EXPECT_EQ(service_->policy().id, "from-file");
}

TEST_F(PolicyStoreTest, UnreadableStoredPolicyFailsStartNamingTheVersion) {
  store_url_override_ = "sqlite:" + store_dir_.Join("attestd.db");
  StartService(FilePolicy());
  ASSERT_OK(service_->SetPolicy(FilePolicy(), "test"));
  ASSERT_OK(db_->Exec("UPDATE attestd_policy SET policy = 'not json', version = 7 WHERE id = 1").status());
  EXPECT_THAT(service_->SyncPolicy(/*force=*/true), StatusIs(StatusCode::kDataLoss, HasSubstr("version 7")));
  EXPECT_EQ(service_->policy_version(), 1);  // the running policy stays
}

}  // namespace
}  // namespace vhsm::attestation::testing
