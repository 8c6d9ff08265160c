// connection.h (internal to store/): one backend connection and the pool that hands connections
// out. A Connection is used by one thread at a time (the pool guarantees it), so backends need no
// locking of their own. Backends: sqlite_backend.cc, postgres_backend.cc.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"
#include "store/value.h"

namespace vhsm::store::internal {

struct ExecResult {
  int64_t affected = 0;
  Rows rows;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // One statement with `$N` placeholders; `want_rows` collects result rows.
  virtual Result<ExecResult> Run(std::string_view sql, const Params& params, bool want_rows) = 0;
  // Several statements, no parameters.
  virtual Status Script(std::string_view sql) = 0;
  virtual Status Begin(Isolation isolation) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() noexcept = 0;
  // False once the connection is unusable (dropped by the server); the pool then discards it.
  virtual bool Healthy() = 0;
  // Whether the last error was a serialization conflict / busy (retry the transaction).
  bool last_error_conflict() const { return last_error_conflict_; }

 protected:
  bool last_error_conflict_ = false;
};

using ConnectionFactory = std::function<Result<std::unique_ptr<Connection>>()>;

// Up to `size` connections, created lazily by `factory`; unhealthy ones are discarded on
// release and replaced on demand (this is how a dropped PostgreSQL connection reconnects).
class Pool {
 public:
  Pool(ConnectionFactory factory, int size, int acquire_timeout_ms);
  Result<Lease> Acquire();
  void Release(std::unique_ptr<Connection> conn) noexcept;

 private:
  ConnectionFactory factory_;
  const int size_;
  const int acquire_timeout_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_ = 0;                                   // guarded by mu_: idle + leased
};

Result<std::unique_ptr<Connection>> ConnectSqlite(const std::string& path, const OpenOptions& options);
Result<std::unique_ptr<Connection>> ConnectPostgres(const std::string& url, const OpenOptions& options);

}  // namespace vhsm::store::internal
