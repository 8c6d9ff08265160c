// provisiond_pg_test.cc: two vhsm-provisiond instances (in-process, each with its own Database
// pool, JWKS cache and HTTP server) on one PostgreSQL schema, as stateless replicas behind a load
// balancer: a resource written through one is released through the other, a policy change
// through one is enforced at once by the other, concurrent releases through both keep one
// intact audit chain; and a server that goes away mid-request gives 503 with nothing
// half-written, then recovers. The server comes from the ctest fixture `pg` (VHSM_TEST_PG_URL)
// or a private cluster (tests/store/store_backends.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "jose/jwe.h"
#include "provisiond_fixture.h"
#include "services/provisioning/audit_verify.h"
#include "store_backends.h"
#include "testing/status_matchers.h"

// The store test-support object library brings the store suite's TEST_P along; it is not
// instantiated here.
namespace vhsm::store::testing {
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreTest);
}  // namespace vhsm::store::testing

namespace vhsm::provisioning::testing {
namespace {

using ::testing::HasSubstr;
using store::testing::Backend;
using store::testing::TestDb;

const std::string kAllow = R"({"claim":"/submods/cpu0/ear.status","equals":"affirming"})";
const std::string kRes = "/kbs/v0/resource/";

TEST_F(ProvisiondTest, ReplicasShareResourcesPoliciesAndOneAuditChain) {
  VHSM_STORE_TEST_DB(Backend::kPostgres);
  auto a = Start(test_db->url());
  auto b = Start(test_db->url());
  ASSERT_TRUE(a && b);
  auto tee = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384);
  ASSERT_TRUE(tee.ok());
  const std::string token = issuer_->MintEar(tee->Public());

  PutResource(*a, "repo/key/shared", "replicated secret");
  PutPolicy(*a, "repo", kAllow);
  http::ClientResponse r = Get(*b, kRes + "repo/key/shared", token);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_OK_AND_ASSIGN(jose::JweDecrypted d, jose::DecryptFlattened(r.body, *tee));
  EXPECT_EQ(AsStringView(d.plaintext.Expose()), "replicated secret");

  // Policy tightened through B: A enforces it on the very next request (no cache to go stale).
  PutPolicy(*b, "repo/key", R"({"claim":"/submods/cpu0/ear.veraison.annotated-evidence/vmpl","equals":3})");
  r = Get(*a, kRes + "repo/key/shared", token);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_THAT(r.body, HasSubstr("policy:repo/key/#$"));
  // Relaxed through A, seen by B.
  EXPECT_EQ(Admin(*a, "DELETE", "/kbs/v0/resource-policy/repo/key").status, 204);
  EXPECT_EQ(Get(*b, kRes + "repo/key/shared", token).status, 200);
  // Value replaced through B, released by A.
  PutResource(*b, "repo/key/shared", "rotated");
  r = Get(*a, kRes + "repo/key/shared", token);
  ASSERT_EQ(r.status, 200);
  ASSERT_OK_AND_ASSIGN(jose::JweDecrypted d2, jose::DecryptFlattened(r.body, *tee));
  EXPECT_EQ(AsStringView(d2.plaintext.Expose()), "rotated");
  // Deleted through A: 404 at B.
  EXPECT_EQ(Admin(*a, "DELETE", kRes + "repo/key/shared").status, 204);
  EXPECT_EQ(Get(*b, kRes + "repo/key/shared", token).status, 404);

  // Concurrent releases through both replicas append to one chain without forks.
  PutResource(*a, "repo/key/hot", "hot");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Instance& inst = (t % 2) ? *a : *b;
      auto c = ClientFor(inst.url());
      for (int i = 0; i < 10; ++i) {
        if (Send(*c, "GET", kRes + "repo/key/hot", token).status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, VerifyAuditStore(test_db->url(), clock_));
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_GE(v.entries, 40 + 9);
}

TEST_F(ProvisiondTest, DatabaseGoneMidRequestIs503AndNothingHalfWritten) {
  if (!store::testing::PostgresBinariesInstalled()) {
    if (std::getenv("VHSM_REQUIRE_PG")) FAIL() << "VHSM_REQUIRE_PG set but PostgreSQL binaries missing";
    GTEST_SKIP() << "PostgreSQL server binaries not installed; skipped";
  }
  testdata::TempDir dir;
  const std::string cluster = dir.Join("pg");
  ASSERT_EQ(store::testing::RunClusterScript("start " + cluster), 0);
  struct Cleanup {
    std::string c;
    ~Cleanup() { store::testing::RunClusterScript("stop " + c); }
  } cleanup{cluster};
  std::string url;
  std::getline(std::ifstream(cluster + "/url"), url);
  auto inst = Start(url);
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "A");
  PutPolicy(*inst, "repo", kAllow);
  auto tee = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  ASSERT_TRUE(tee.ok());
  const std::string token = issuer_->MintEar(tee->Public());
  ASSERT_EQ(Get(*inst, kRes + "repo/key/a", token).status, 200);

  ASSERT_EQ(store::testing::RunClusterScript("pause " + cluster), 0);
  http::ClientResponse r = Get(*inst, kRes + "repo/key/a", token);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(r.body.find("\"ciphertext\""), std::string::npos);
  EXPECT_EQ(Admin(*inst, "PUT", kRes + "repo/key/b", "B").status, 503);
  auto hc = ClientFor(inst->url());
  EXPECT_EQ(Send(*hc, "GET", "/healthz", "").status, 503);

  ASSERT_EQ(store::testing::RunClusterScript("resume " + cluster), 0);
  // The pool reconnects; the failed write left nothing behind and the chain is intact.
  http::ClientResponse again;
  for (int i = 0; i < 20; ++i) {
    again = Get(*inst, kRes + "repo/key/a", token);
    if (again.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Get(*inst, kRes + "repo/key/b", token).status, 404);
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, VerifyAuditStore(url, clock_));
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, 4);  // put resource, put policy, two releases
}

}  // namespace
}  // namespace vhsm::provisioning::testing
