// store_backends.cc
#include "store_backends.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace vhsm::store::testing {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// A cluster started by this process when no VHSM_TEST_PG_URL was given (binary run by hand).
struct OwnCluster {
  std::unique_ptr<vhsm::testdata::TempDir> dir;
  std::string url;
  std::string error;
  ~OwnCluster() {
    if (dir) RunClusterScript("stop " + dir->Join("pg"));
  }
};

OwnCluster& Own() {
  static OwnCluster c;
  return c;
}

std::string ServerUrl(std::string* error) {
  std::string url = Env("VHSM_TEST_PG_URL");
  if (!url.empty()) return url;
  static std::once_flag once;
  std::call_once(once, [] {
    OwnCluster& c = Own();
    c.dir = std::make_unique<vhsm::testdata::TempDir>();
    if (RunClusterScript("start " + c.dir->Join("pg")) != 0) {
      c.error = "scripts/pg-test-cluster.sh start failed";
      return;
    }
    std::ifstream f(c.dir->Join("pg/url"));
    std::getline(f, c.url);
  });
  *error = Own().error;
  return Own().url;
}

std::string NewSchemaName() {
  static std::atomic<int> n{0};
  return "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

}  // namespace

std::string BackendName(Backend b) { return b == Backend::kSqlite ? "Sqlite" : "Postgres"; }

int RunClusterScript(const std::string& args) {
  std::string cmd = vhsm::testdata::SourceDir() + "/scripts/pg-test-cluster.sh " + args + " >/dev/null";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}

bool PostgresBinariesInstalled() {
  std::error_code ec;
  if (!std::filesystem::exists("/usr/lib/postgresql", ec)) return false;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (std::filesystem::exists(e.path() / "bin" / "initdb", ec)) return true;
  }
  return false;
}

std::unique_ptr<TestDb> TestDb::Create(Backend backend, std::string* skip_reason) {
  skip_reason->clear();
  auto db = std::unique_ptr<TestDb>(new TestDb());
  db->backend_ = backend;
  if (backend == Backend::kSqlite) {
    db->dir_ = std::make_unique<vhsm::testdata::TempDir>();
    db->url_ = "sqlite:" + db->dir_->Join("test.db");
    return db;
  }
  if (!PostgresBinariesInstalled() && Env("VHSM_REQUIRE_PG").empty()) {
    *skip_reason = "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin); PostgreSQL backend "
                   "test skipped. Install `postgresql` or set VHSM_REQUIRE_PG=1 to make this a failure.";
    return nullptr;
  }
  std::string error;
  std::string server = ServerUrl(&error);
  if (server.empty()) {
    ADD_FAILURE() << "no PostgreSQL server for tests: " << error
                  << " (VHSM_TEST_PG_URL unset and the test cluster could not be started)";
    return nullptr;
  }
  auto admin = vhsm::store::Open(server);
  if (!admin.ok()) {
    ADD_FAILURE() << "cannot reach the test PostgreSQL at " << server << ": " << admin.status().ToString();
    return nullptr;
  }
  db->schema_ = NewSchemaName();
  Status s = (*admin)->Exec("CREATE SCHEMA " + db->schema_).status();
  if (!s.ok()) {
    ADD_FAILURE() << s.ToString();
    return nullptr;
  }
  db->url_ = server + (server.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + db->schema_;
  return db;
}

TestDb::~TestDb() {
  if (backend_ == Backend::kPostgres && !schema_.empty()) {
    std::string error;
    auto admin = vhsm::store::Open(ServerUrl(&error));
    if (admin.ok()) (*admin)->Exec("DROP SCHEMA " + schema_ + " CASCADE").status().IgnoreError();
  }
}

Result<std::unique_ptr<Database>> TestDb::Open(int pool_size) const {
  OpenOptions o;
  o.pool_size = pool_size;
  o.sqlite_synchronous_full = false;  // tests: fsync per commit adds nothing here
  return vhsm::store::Open(url_, o);
}

}  // namespace vhsm::store::testing
