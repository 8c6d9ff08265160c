// store_backends.h: how the store test suites get a fresh, isolated database per test on each
// backend. SQLite: a file in a temp dir. PostgreSQL: a new schema on the server named by
// VHSM_TEST_PG_URL (set by the ctest fixture `pg`); when that variable is unset and server
// binaries are installed, a private cluster is started with scripts/pg-test-cluster.sh.
// PostgreSQL tests skip (visibly) only when the server binaries are absent and VHSM_REQUIRE_PG
// is not set.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "store/database.h"
#include "testing/testdata.h"

namespace vhsm::store::testing {

enum class Backend { kSqlite, kPostgres };
std::string BackendName(Backend b);

// Runs the pg-test-cluster.sh script; returns its exit code.
int RunClusterScript(const std::string& args);
bool PostgresBinariesInstalled();

// One isolated database for one test. url() can be opened several times (replicas).
class TestDb {
 public:
  // Returns nullptr and sets *skip_reason when the backend is unavailable and may be skipped;
  // returns nullptr with an empty skip_reason after a failure (already reported via ADD_FAILURE).
  static std::unique_ptr<TestDb> Create(Backend backend, std::string* skip_reason);
  ~TestDb();
  const std::string& url() const { return url_; }
  Result<std::unique_ptr<Database>> Open(int pool_size = 4) const;

 private:
  Backend backend_ = Backend::kSqlite;
  std::string url_;
  std::string schema_;
  std::unique_ptr<vhsm::testdata::TempDir> dir_;
};

}  // namespace vhsm::store::testing

// In a test body: declares `std::unique_ptr<TestDb> test_db` or skips/fails.
#define VHSM_STORE_TEST_DB(backend)                                                      \
  std::string vhsm_skip_reason_;                                                         \
  auto test_db = ::vhsm::store::testing::TestDb::Create((backend), &vhsm_skip_reason_); \
  if (!test_db) {                                                                        \
    if (!vhsm_skip_reason_.empty()) GTEST_SKIP() << vhsm_skip_reason_;                   \
    return;                                                                              \
  }
