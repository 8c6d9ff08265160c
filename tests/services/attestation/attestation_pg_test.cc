// attestation_pg_test.cc: two vhsm-attestd instances on one PostgreSQL database as replicas: an
// admin change made through one (over HTTP) is enforced by the other on its next appraisal; a
// change computed on a stale version is refused instead of silently overwriting; nonces issued
// by one are accepted once by either. PostgreSQL from the ctest fixture `pg`
// (VHSM_TEST_PG_URL) or a private cluster (tests/store/store_backends.h); skips without one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attestd_fixture.h"
#include "store_backends.h"
#include "testing/status_matchers.h"

namespace vhsm::store::testing {
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreTest);
}  // namespace vhsm::store::testing

namespace vhsm::attestation::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using store::testing::Backend;

AppraisalPolicy AnyMeasurement() {
  AppraisalPolicy p;
  p.id = "start";
  p.accept_any_measurement = true;
  return p;
}

class AttestdPgTest : public AttestdFixture {};

TEST_F(AttestdPgTest, ReplicasSeeEachOthersAdminChanges) {
  VHSM_STORE_TEST_DB(Backend::kPostgres);
  store_url_override_ = test_db->url();
  StartService(AnyMeasurement(), nullptr, [](ServiceOptions& o) { o.policy_sync_ms = 0; });

  // Replica B: its own pool and service on the same database, same verifier.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Database> db_b, store::Open(test_db->url()));
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey kb, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  EarIssuerOptions eo;
  eo.clock = &clock_;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EarIssuer> ib, EarIssuer::Create(eo, std::move(kb)));
  ServiceOptions so;
  so.clock = &clock_;
  so.policy_sync_ms = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AttestationService> b,
                       AttestationService::Create(std::move(so), *verifier_, *db_b, AnyMeasurement(), std::move(ib)));

  std::array<uint8_t, 64> rd{};
  rd[0] = 1;
  ASSERT_OK_AND_ASSIGN(SnpEvidence ev, ParseSnpEvidence(PrimaryEvidence(rd)));
  EXPECT_EQ(b->Appraise(ev, std::nullopt, std::nullopt).status, EarStatus::kAffirming);

  // Through A's admin API: only an unrelated measurement is allowed. B enforces it at once.
  const std::string other(96, 'a');
  RcarResult put = Send("PUT", "/v1/policy", json{{"id", "tight"}, {"measurements", {{{"label", "other"}, {"measurement", other}}}}}.dump(),
                        {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(put.status, 200) << put.raw;
  AppraisalReport denied = b->Appraise(ev, std::nullopt, std::nullopt);
  EXPECT_EQ(denied.status, EarStatus::kContraindicated);
  EXPECT_EQ(denied.policy_id, "tight");
  EXPECT_THAT(denied.status_error.message(), HasSubstr("measurement"));
  EXPECT_EQ(b->policy_version(), 1);

  // Through B (in-process API): the guest's measurement added; A's next RCAR sees it.
  AppraisalPolicy p = b->policy();
  p.reference_values.push_back({"guest", fw_->config().measurement});
  ASSERT_OK(b->SetPolicy(p, "replica-b", b->policy_version()));
  RcarResult r = Attest();
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Claims(r.body["token"].get<std::string>())["submods"]["cpu0"]["vhsm.reference-value"], "guest");
  EXPECT_EQ(service_->policy_version(), 2);

  // A change computed on version 2 after A stored version 3 is refused, not applied.
  const int64_t stale = b->policy_version();
  RcarResult del = Send("DELETE", "/v1/reference-values?label=other", "", {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(del.status, 200) << del.raw;
  EXPECT_THAT(b->SetPolicy(AnyMeasurement(), "replica-b", stale),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("concurrently")));
  ASSERT_OK(b->SyncPolicy(/*force=*/true));
  EXPECT_EQ(b->policy_version(), 3);
  EXPECT_EQ(b->policy().reference_values.size(), 1u);
}

}  // namespace
}  // namespace vhsm::attestation::testing
