// database.h: the SQL store every service writes its SQL against once, for both backends.
// `Open("sqlite:PATH")` gives an embedded SQLite file (WAL); `Open("postgresql://...")` gives a
// pool of libpq connections for several stateless replicas on one server. SQL uses PostgreSQL
// placeholders `$1, $2, ...` everywhere; the SQLite backend rewrites them to `?1, ?2, ...`.
// Prepared statements are cached per connection, keyed by the SQL text.
//
// Errors (the services map them with http::ToHttp):
//   kUnavailable      server unreachable, connection dropped, pool exhausted, busy/serialization
//                     conflict that outlived the retries (retryable; HTTP 503)
//   kAlreadyExists    unique / primary-key violation
//   kFailedPrecondition other constraint violations (foreign key, NOT NULL, CHECK)
//   kInvalidArgument  wrong parameter count, data errors
//   kDataLoss         the database file is corrupt or not a database
//   kInternal         SQL syntax errors, unsupported result types (bugs in the caller)
//
// Thread-safety: Database is thread-safe; a Transaction belongs to one thread and must not
// outlive its Database. Inside a transaction use the Transaction, not the Database: autocommit
// calls take a second connection, which waits behind the transaction's write lock on SQLite.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/value.h"

namespace vhsm::store {

enum class Dialect { kSqlite, kPostgres };
std::string_view DialectName(Dialect d);  // "sqlite", "postgresql"

// Something that runs SQL: the Database (autocommit, any pooled connection) or a Transaction.
class Executor {
 public:
  virtual ~Executor() = default;
  // Runs one statement; returns the number of rows changed (0 for DDL).
  virtual Result<int64_t> Exec(std::string_view sql, const Params& params = {}) = 0;
  // Runs one statement and returns its rows.
  virtual Result<Rows> Query(std::string_view sql, const Params& params = {}) = 0;
  virtual Dialect dialect() const = 0;

  // Exactly one row expected: kNotFound when there is none, kInternal when there are several.
  Result<Row> QueryOne(std::string_view sql, const Params& params = {});
};

namespace internal {
class Connection;
class Pool;
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Connection> conn);
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease();
  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }
  // Returns the connection to the pool now.
  void Release();

 private:
  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};
}  // namespace internal

enum class Isolation {
  kSerializable,   // default. SQLite: BEGIN IMMEDIATE (one writer at a time, waits busy_timeout)
  kReadCommitted,  // PostgreSQL only (SQLite treats it as kSerializable): each statement sees the
                   // latest committed data; pair with explicit locks (see HashChainLog)
};

struct TxOptions {
  Isolation isolation = Isolation::kSerializable;
  // Database::InTransaction runs the body at most this often when it fails with a
  // serialization conflict (PostgreSQL 40001/40P01) or SQLITE_BUSY.
  int max_attempts = 8;
};

// RAII transaction: Commit() or it rolls back when destroyed.
class Transaction final : public Executor {
 public:
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() override;

  Result<int64_t> Exec(std::string_view sql, const Params& params = {}) override;
  Result<Rows> Query(std::string_view sql, const Params& params = {}) override;
  Dialect dialect() const override { return dialect_; }
  // Runs several `;`-separated statements without parameters inside this transaction.
  Status ExecScript(std::string_view sql);

  // Commits. After any outcome the transaction is finished (a failed commit is rolled back) and
  // its connection is back in the pool.
  Status Commit();
  // Rolls back now (idempotent; also what the destructor does).
  void Rollback() noexcept;
  // True when the last failure was a serialization conflict / busy error: retrying the whole
  // transaction may succeed.
  bool conflicted() const;

 private:
  friend class Database;
  Transaction(internal::Lease lease, Dialect dialect);
  Status Check(std::string_view what) const;
  void Finish() noexcept;
  internal::Lease lease_;
  Dialect dialect_;
  bool active_ = true;
  bool conflicted_ = false;
};

struct OpenOptions {
  // Connections kept open. SQLite: readers proceed in parallel under WAL; writers serialize.
  int pool_size = 4;
  // How long a caller waits for a free pooled connection before kUnavailable.
  int acquire_timeout_ms = 5000;
  // SQLite: how long a writer waits for the write lock before kUnavailable (busy).
  int busy_timeout_ms = 5000;
  // SQLite: synchronous=FULL (fsync the WAL on every commit) unless false, then NORMAL. FULL is the
  // default because an audit record or a "nonce taken" mark lost to a power cut would let a
  // release go unrecorded or a nonce be replayed; see docs/store.md.
  bool sqlite_synchronous_full = true;
  // PostgreSQL: seconds for connecting (libpq connect_timeout) when the URL does not set it.
  int connect_timeout_s = 5;
};

class Database final : public Executor {
 public:
  ~Database() override;

  Result<int64_t> Exec(std::string_view sql, const Params& params = {}) override;
  Result<Rows> Query(std::string_view sql, const Params& params = {}) override;
  Dialect dialect() const override { return dialect_; }

  // Starts a transaction on a connection of its own.
  Result<Transaction> Begin(const TxOptions& options = {});
  // Runs `body` inside a transaction and commits it; retries the whole body (with a short
  // jittered backoff) on serialization conflicts / busy errors, up to options.max_attempts.
  // Any other error from `body` rolls back and is returned unchanged. `body` must therefore be
  // safe to run more than once (no side effects outside the transaction).
  Status InTransaction(const std::function<Status(Transaction&)>& body, const TxOptions& options = {});

  // Runs several `;`-separated statements without parameters (schema scripts), autocommit.
  Status ExecScript(std::string_view sql);

  // A description safe to log (no password): "sqlite:/var/lib/x.db", "postgresql://host:5432/db".
  const std::string& description() const { return description_; }

 private:
  friend Result<std::unique_ptr<Database>> Open(std::string_view url, const OpenOptions& options);
  Database(Dialect dialect, std::unique_ptr<internal::Pool> pool, std::string description);
  Dialect dialect_;
  std::unique_ptr<internal::Pool> pool_;
  std::string description_;
};

// Opens `sqlite:PATH` (also `sqlite://PATH`; the file is created) or `postgresql://...` /
// `postgres://...` (any libpq URI, e.g. `postgresql:///db?host=/run/pg&port=5433`). Makes one
// connection up front so a bad URL or unreachable server fails here: kInvalidArgument for an
// unknown scheme, kUnavailable when the server cannot be reached.
Result<std::unique_ptr<Database>> Open(std::string_view url, const OpenOptions& options = {});

// Rewrites `$N` placeholders to SQLite's `?N`, leaving string literals, quoted identifiers and
// comments alone. kInvalidArgument for `$0` or `$` followed by more than 5 digits.
Result<std::string> TranslatePlaceholdersForSqlite(std::string_view sql);

}  // namespace vhsm::store
