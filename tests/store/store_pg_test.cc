// store_pg_test.cc: the shared suite on PostgreSQL, plus what only a server can show: binary
// result decoding of server types, and a server that goes away mid-request (kUnavailable,
// nothing half-written, reconnect once it is back).
#include <fstream>

#include "store_suite.h"
#include "testing/status_matchers.h"

namespace vhsm::store::testing {
namespace {

using ::testing::HasSubstr;

INSTANTIATE_TEST_SUITE_P(Postgres, StoreTest, ::testing::Values(Backend::kPostgres), BackendParamName);

TEST(PostgresTest, DecodesServerTypesIntoStoreValues) {
  VHSM_STORE_TEST_DB(Backend::kPostgres);
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  EXPECT_EQ(db->dialect(), Dialect::kPostgres);
  ASSERT_OK_AND_ASSIGN(Row row, db->QueryOne("SELECT 7::int2 AS a, (-5)::int4 AS b, true AS c, 'x'::varchar AS d,"
                                             " '{\"k\": 1}'::jsonb AS e, '\\x00ff'::bytea AS f, NULL::text AS g,"
                                             " 9223372036854775807::int8 AS h"));
  EXPECT_EQ(row.Int("a").value_or(0), 7);
  EXPECT_EQ(row.Int("b").value_or(0), -5);
  EXPECT_EQ(row.Int("c").value_or(0), 1);
  EXPECT_EQ(row.Text("d").value_or(""), "x");
  EXPECT_EQ(row.Text("e").value_or(""), "{\"k\": 1}");
  EXPECT_EQ(row.Blob("f").value_or(Bytes{}), (Bytes{0x00, 0xff}));
  EXPECT_TRUE(row.IsNull(6));
  EXPECT_EQ(row.Int("h").value_or(0), INT64_MAX);
  EXPECT_THAT(db->Query("SELECT now() AS ts"), StatusIs(StatusCode::kInternal, HasSubstr("cast it")));
}

TEST(PostgresTest, UnreachableServerIsUnavailable) {
  if (!PostgresBinariesInstalled() && std::getenv("VHSM_REQUIRE_PG") == nullptr) {
    GTEST_SKIP() << "PostgreSQL server binaries not installed; skipped";
  }
  vhsm::testdata::TempDir dir;
  OpenOptions o;
  o.connect_timeout_s = 2;
  auto r = Open("postgresql://user:secret@/postgres?host=" + dir.path() + "&port=1", o);
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, HasSubstr("connect")));
}

TEST(PostgresTest, ServerGoingAwayIsUnavailableAndNothingHalfWritten) {
  if (!PostgresBinariesInstalled()) {
    if (std::getenv("VHSM_REQUIRE_PG")) FAIL() << "VHSM_REQUIRE_PG set but PostgreSQL binaries missing";
    GTEST_SKIP() << "PostgreSQL server binaries not installed; skipped";
  }
  // A private cluster, since this test stops the server.
  vhsm::testdata::TempDir dir;
  const std::string cluster = dir.Join("pg");
  ASSERT_EQ(RunClusterScript("start " + cluster), 0);
  struct Cleanup {
    std::string c;
    ~Cleanup() { RunClusterScript("stop " + c); }
  } cleanup{cluster};
  std::string url;
  {
    std::ifstream f(cluster + "/url");
    std::getline(f, url);
  }
  OpenOptions o;
  o.pool_size = 2;
  o.connect_timeout_s = 2;
  ASSERT_OK_AND_ASSIGN(auto db, Open(url, o));
  ASSERT_OK(db->Exec("CREATE TABLE t (id BIGINT PRIMARY KEY)").status());
  ASSERT_OK(db->Exec("INSERT INTO t (id) VALUES (1)").status());

  // A transaction in flight when the server dies.
  ASSERT_OK_AND_ASSIGN(Transaction tx, db->Begin());
  ASSERT_OK(tx.Exec("INSERT INTO t (id) VALUES (2)").status());
  ASSERT_EQ(RunClusterScript("pause " + cluster), 0);
  EXPECT_THAT(tx.Exec("INSERT INTO t (id) VALUES (3)"), StatusIs(StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(tx.Commit(), StatusIs(StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(db->Query("SELECT id FROM t"), StatusIs(StatusCode::kUnavailable, ::testing::_));

  // Back again: the pool reconnects; the interrupted transaction left nothing behind.
  ASSERT_EQ(RunClusterScript("resume " + cluster), 0);
  ASSERT_OK_AND_ASSIGN(Rows rows, db->Query("SELECT id FROM t ORDER BY id"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].Int(0).value_or(0), 1);
  EXPECT_OK(db->Exec("INSERT INTO t (id) VALUES (4)").status());
}

}  // namespace
}  // namespace vhsm::store::testing
