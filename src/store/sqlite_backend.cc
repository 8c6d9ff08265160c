// sqlite_backend.cc: store::internal::Connection on SQLite 3. One sqlite3 handle per pooled
// connection (SQLITE_OPEN_NOMUTEX: the pool gives each handle to one thread at a time).
// Decisions:
// - WAL so readers never block the writer and vice versa across connections and processes.
// - Transactions start with BEGIN IMMEDIATE: taking the write lock up front means two writers
//   queue on busy_timeout instead of both reading under a shared lock and then failing to
//   upgrade (SQLITE_BUSY that busy_timeout cannot resolve). That makes every transaction
//   serializable, which is what the token and hash-chain helpers rely on.
// - synchronous=FULL by default (see OpenOptions and docs/store.md).
#include <sqlite3.h>

#include <cctype>
#include <unordered_map>

#include "crypto/ossl_ptr.h"
#include "store/connection.h"

namespace vhsm::store::internal {
namespace {

using SqlitePtr = std::unique_ptr<sqlite3, crypto::CallFree<&sqlite3_close_v2>>;
using SqliteStmtPtr = std::unique_ptr<sqlite3_stmt, crypto::CallFree<&sqlite3_finalize>>;

constexpr size_t kMaxCachedStatements = 256;

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(SqlitePtr db) : db_(std::move(db)) {}

  Result<ExecResult> Run(std::string_view sql, const Params& params, bool want_rows) override;
  Status Script(std::string_view sql) override;
  Status Begin(Isolation) override { return Simple("BEGIN IMMEDIATE"); }
  Status Commit() override { return Simple("COMMIT"); }
  void Rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_.get())) Simple("ROLLBACK").IgnoreError();
  }
  bool Healthy() override {
    // A connection handed back inside a transaction (a bug path) must not leak it to the
    // next user: roll back; if that fails, discard the connection.
    if (!sqlite3_get_autocommit(db_.get())) Rollback();
    return !broken_ && sqlite3_get_autocommit(db_.get());
  }

  Status Error(int rc, std::string_view what);

 private:
  Status Simple(const char* sql);
  Result<sqlite3_stmt*> Prepare(std::string_view sql);

  SqlitePtr db_;
  // Declared after db_ so statements are finalized before the handle closes.
  std::unordered_map<std::string, SqliteStmtPtr> cache_;
  bool broken_ = false;
};

Status SqliteConnection::Error(int rc, std::string_view what) {
  const int primary = rc & 0xff;
  last_error_conflict_ = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
  std::string msg = "sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db_.get()) + " (" +
                    sqlite3_errstr(rc) + ")";
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(msg + "; database busy");
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return AlreadyExistsError(msg);
      return FailedPreconditionError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      broken_ = true;
      return DataLossError(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return UnavailableError(msg);
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return InvalidArgumentError(msg);
    default:
      return InternalError(msg);
  }
}

Status SqliteConnection::Simple(const char* sql) {
  // BEGIN IMMEDIATE / COMMIT / ROLLBACK run on every transaction: prepared once per connection
  // (sqlite3_exec would parse and compile them each time).
  VHSM_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
  const int rc = sqlite3_step(stmt);
  Status status = rc == SQLITE_DONE ? OkStatus() : Error(rc, sql);
  sqlite3_reset(stmt);
  if (status.ok()) last_error_conflict_ = false;
  return status;
}

Status SqliteConnection::Script(std::string_view sql) {
  std::string copy(sql);  // sqlite3_exec wants NUL termination
  int rc = sqlite3_exec(db_.get(), copy.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "script");
  return OkStatus();
}

Result<sqlite3_stmt*> SqliteConnection::Prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it != cache_.end()) return it->second.get();
  VHSM_ASSIGN_OR_RETURN(std::string translated, TranslatePlaceholdersForSqlite(sql));
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), translated.data(), static_cast<int>(translated.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, &tail);
  SqliteStmtPtr stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, "prepare \"" + std::string(sql.substr(0, 80)) + "\"");
  if (!stmt) return InvalidArgumentError("sqlite: empty statement");
  for (const char* p = tail; p && p < translated.data() + translated.size(); ++p) {
    if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';') {
      return InvalidArgumentError("sqlite: more than one statement in \"" + std::string(sql.substr(0, 80)) +
                                  "\"; use ExecScript for scripts");
    }
  }
  if (cache_.size() >= kMaxCachedStatements) cache_.clear();  // services use a bounded set of SQL
  sqlite3_stmt* out = stmt.get();
  cache_.emplace(std::string(sql), std::move(stmt));
  return out;
}

Result<ExecResult> SqliteConnection::Run(std::string_view sql, const Params& params, bool want_rows) {
  last_error_conflict_ = false;
  VHSM_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
  struct ResetGuard {
    sqlite3_stmt* s;
    ~ResetGuard() {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  } guard{stmt};

  const int want = sqlite3_bind_parameter_count(stmt);
  if (static_cast<size_t>(want) != params.size()) {
    return InvalidArgumentError("sql parameters: got " + std::to_string(params.size()) + ", statement wants " +
                                std::to_string(want));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const int idx = static_cast<int>(i + 1);
    const Value& v = params[i];
    int rc = SQLITE_OK;
    switch (v.type()) {
      case Value::Type::kNull: rc = sqlite3_bind_null(stmt, idx); break;
      case Value::Type::kInt: rc = sqlite3_bind_int64(stmt, idx, v.int_value()); break;
      case Value::Type::kText:
        rc = sqlite3_bind_text64(stmt, idx, v.text_value().data(), v.text_value().size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8);
        break;
      case Value::Type::kBlob:
        // A null pointer would bind NULL, not an empty blob.
        rc = v.blob_value().empty()
                 ? sqlite3_bind_zeroblob(stmt, idx, 0)
                 : sqlite3_bind_blob64(stmt, idx, v.blob_value().data(), v.blob_value().size(), SQLITE_TRANSIENT);
        break;
    }
    if (rc != SQLITE_OK) return Error(rc, "bind $" + std::to_string(idx));
  }

  ExecResult out;
  const int ncol = sqlite3_column_count(stmt);
  if (want_rows) {
    auto cols = std::make_shared<std::vector<std::string>>();
    for (int c = 0; c < ncol; ++c) cols->emplace_back(sqlite3_column_name(stmt, c));
    out.rows.columns = std::move(cols);
  }
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Error(rc, "step \"" + std::string(sql.substr(0, 80)) + "\"");
    if (!want_rows) continue;
    std::vector<Value> values;
    values.reserve(static_cast<size_t>(ncol));
    for (int c = 0; c < ncol; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL: values.emplace_back(); break;
        case SQLITE_INTEGER: values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c))); break;
        case SQLITE_TEXT: {
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          values.emplace_back(std::string(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, c))));
          break;
        }
        case SQLITE_BLOB: {
          const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, c));
          const auto n = static_cast<size_t>(sqlite3_column_bytes(stmt, c));
          values.emplace_back(p ? Bytes(p, p + n) : Bytes());
          break;
        }
        default:
          return InternalError("sqlite: column " + std::string(sqlite3_column_name(stmt, c)) +
                               ": REAL values are not supported; store integers or text");
      }
    }
    out.rows.rows.emplace_back(out.rows.columns, std::move(values));
  }
  out.affected = ncol == 0 ? static_cast<int64_t>(sqlite3_changes64(db_.get())) : 0;
  return out;
}

}  // namespace

Result<std::unique_ptr<Connection>> ConnectSqlite(const std::string& path, const OpenOptions& options) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  SqlitePtr db(raw);  // owns the handle even when open failed
  if (rc != SQLITE_OK) {
    return UnavailableError("sqlite: open " + path + ": " + (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
  auto conn = std::make_unique<SqliteConnection>(std::move(db));
  VHSM_ASSIGN_OR_RETURN(ExecResult mode, conn->Run("PRAGMA journal_mode=WAL", {}, true));
  if (path != ":memory:") {
    Result<std::string> got = mode.rows.empty() ? Result<std::string>(InternalError("no row")) : mode.rows[0].Text(0);
    if (!got.ok() || *got != "wal") {
      return UnavailableError("sqlite: " + path + ": journal_mode: want wal, got " +
                              (got.ok() ? *got : got.status().message()));
    }
  }
  VHSM_RETURN_IF_ERROR(conn->Script(options.sqlite_synchronous_full ? "PRAGMA synchronous=FULL"
                                                                    : "PRAGMA synchronous=NORMAL"));
  VHSM_RETURN_IF_ERROR(conn->Script("PRAGMA foreign_keys=ON"));
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace vhsm::store::internal
