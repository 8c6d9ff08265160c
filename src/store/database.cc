// database.cc: backend-independent parts of the store: values, rows, the connection pool,
// transactions with retry, URL dispatch and placeholder translation.
#include "store/database.h"

#include <chrono>
#include <random>
#include <thread>

#include "store/connection.h"

namespace vhsm::store {

std::string_view TypeName(Value::Type t) {
  switch (t) {
    case Value::Type::kNull: return "NULL";
    case Value::Type::kInt: return "INTEGER";
    case Value::Type::kText: return "TEXT";
    case Value::Type::kBlob: return "BLOB";
  }
  return "?";
}

std::string_view DialectName(Dialect d) { return d == Dialect::kSqlite ? "sqlite" : "postgresql"; }

// ---- Row ----

Result<const Value*> Row::Cell(size_t i, Value::Type want) const {
  if (i >= values_.size()) {
    return InternalError("row: column index " + std::to_string(i) + " out of range (" +
                         std::to_string(values_.size()) + " columns)");
  }
  const Value& v = values_[i];
  if (v.type() != want) {
    std::string name = i < columns_->size() ? (*columns_)[i] : std::to_string(i);
    return InternalError("column " + name + ": got " + std::string(TypeName(v.type())) + ", want " +
                         std::string(TypeName(want)));
  }
  return &v;
}

Result<int64_t> Row::Int(size_t i) const {
  VHSM_ASSIGN_OR_RETURN(const Value* v, Cell(i, Value::Type::kInt));
  return v->int_value();
}
Result<std::string> Row::Text(size_t i) const {
  VHSM_ASSIGN_OR_RETURN(const Value* v, Cell(i, Value::Type::kText));
  return v->text_value();
}
Result<Bytes> Row::Blob(size_t i) const {
  VHSM_ASSIGN_OR_RETURN(const Value* v, Cell(i, Value::Type::kBlob));
  return v->blob_value();
}
Result<size_t> Row::IndexOf(std::string_view column) const {
  for (size_t i = 0; i < columns_->size(); ++i) {
    if ((*columns_)[i] == column) return i;
  }
  return InternalError("row: no column named " + std::string(column));
}
Result<int64_t> Row::Int(std::string_view column) const {
  VHSM_ASSIGN_OR_RETURN(size_t i, IndexOf(column));
  return Int(i);
}
Result<std::string> Row::Text(std::string_view column) const {
  VHSM_ASSIGN_OR_RETURN(size_t i, IndexOf(column));
  return Text(i);
}
Result<Bytes> Row::Blob(std::string_view column) const {
  VHSM_ASSIGN_OR_RETURN(size_t i, IndexOf(column));
  return Blob(i);
}

Result<Row> Executor::QueryOne(std::string_view sql, const Params& params) {
  VHSM_ASSIGN_OR_RETURN(Rows rows, Query(sql, params));
  if (rows.empty()) return NotFoundError("query returned no row");
  if (rows.size() > 1) {
    return InternalError("query returned " + std::to_string(rows.size()) + " rows, want 1");
  }
  return std::move(rows.rows[0]);
}

// ---- Pool and Lease ----

namespace internal {

Lease::Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (conn_) pool_->Release(std::move(conn_));
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
  }
  return *this;
}
Lease::~Lease() { Release(); }
void Lease::Release() {
  if (conn_) pool_->Release(std::move(conn_));
}

Pool::Pool(ConnectionFactory factory, int size, int acquire_timeout_ms)
    : factory_(std::move(factory)), size_(size < 1 ? 1 : size), acquire_timeout_ms_(acquire_timeout_ms) {}

Result<Lease> Pool::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(acquire_timeout_ms_);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      // An idle connection the server closed (restart, failover, idle timeout) is noticed here,
      // before any statement is sent, and replaced by a fresh one.
      if (conn->Healthy()) return Lease(this, std::move(conn));
      conn.reset();
      lock.lock();
      --open_;
      continue;
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      Result<std::unique_ptr<Connection>> conn = factory_();
      if (!conn.ok()) {
        lock.lock();
        --open_;
        cv_.notify_one();
        return conn.status();
      }
      return Lease(this, std::move(conn).value());
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
      return UnavailableError("store: all " + std::to_string(size_) + " connections busy for " +
                              std::to_string(acquire_timeout_ms_) + " ms");
    }
  }
}

void Pool::Release(std::unique_ptr<Connection> conn) noexcept {
  bool healthy = conn->Healthy();
  std::lock_guard<std::mutex> lock(mu_);
  if (healthy) {
    idle_.push_back(std::move(conn));
  } else {
    conn.reset();
    --open_;
  }
  cv_.notify_one();
}

}  // namespace internal

// ---- Transaction ----

Transaction::Transaction(internal::Lease lease, Dialect dialect) : lease_(std::move(lease)), dialect_(dialect) {}
Transaction::Transaction(Transaction&& other) noexcept
    : lease_(std::move(other.lease_)), dialect_(other.dialect_), active_(other.active_), conflicted_(other.conflicted_) {
  other.active_ = false;
}

void Transaction::Finish() noexcept {
  active_ = false;
  conflicted_ = lease_->last_error_conflict();
  lease_.Release();
}
Transaction::~Transaction() { Rollback(); }

Status Transaction::Check(std::string_view what) const {
  if (!active_) return FailedPreconditionError("transaction: " + std::string(what) + " after commit/rollback");
  return OkStatus();
}

Result<int64_t> Transaction::Exec(std::string_view sql, const Params& params) {
  VHSM_RETURN_IF_ERROR(Check("Exec"));
  Result<internal::ExecResult> r = lease_->Run(sql, params, false);
  conflicted_ = lease_->last_error_conflict();
  if (!r.ok()) return r.status();
  return r->affected;
}

Result<Rows> Transaction::Query(std::string_view sql, const Params& params) {
  VHSM_RETURN_IF_ERROR(Check("Query"));
  Result<internal::ExecResult> r = lease_->Run(sql, params, true);
  conflicted_ = lease_->last_error_conflict();
  if (!r.ok()) return r.status();
  return std::move(r->rows);
}

Status Transaction::ExecScript(std::string_view sql) {
  VHSM_RETURN_IF_ERROR(Check("ExecScript"));
  Status s = lease_->Script(sql);
  conflicted_ = lease_->last_error_conflict();
  return s;
}

Status Transaction::Commit() {
  VHSM_RETURN_IF_ERROR(Check("Commit"));
  Status s = lease_->Commit();
  const bool conflict = lease_->last_error_conflict();
  if (!s.ok()) lease_->Rollback();
  Finish();
  conflicted_ = conflict;
  return s;
}

void Transaction::Rollback() noexcept {
  if (!active_) return;
  const bool conflict = lease_->last_error_conflict();
  lease_->Rollback();
  Finish();
  conflicted_ = conflict;
}

bool Transaction::conflicted() const { return conflicted_; }

// ---- Database ----

Database::Database(Dialect dialect, std::unique_ptr<internal::Pool> pool, std::string description)
    : dialect_(dialect), pool_(std::move(pool)), description_(std::move(description)) {}
Database::~Database() = default;

Result<int64_t> Database::Exec(std::string_view sql, const Params& params) {
  VHSM_ASSIGN_OR_RETURN(internal::Lease lease, pool_->Acquire());
  VHSM_ASSIGN_OR_RETURN(internal::ExecResult r, lease->Run(sql, params, false));
  return r.affected;
}

Result<Rows> Database::Query(std::string_view sql, const Params& params) {
  VHSM_ASSIGN_OR_RETURN(internal::Lease lease, pool_->Acquire());
  VHSM_ASSIGN_OR_RETURN(internal::ExecResult r, lease->Run(sql, params, true));
  return std::move(r.rows);
}

Status Database::ExecScript(std::string_view sql) {
  VHSM_ASSIGN_OR_RETURN(internal::Lease lease, pool_->Acquire());
  return lease->Script(sql);
}

Result<Transaction> Database::Begin(const TxOptions& options) {
  VHSM_ASSIGN_OR_RETURN(internal::Lease lease, pool_->Acquire());
  VHSM_RETURN_IF_ERROR(lease->Begin(options.isolation));
  return Transaction(std::move(lease), dialect_);
}

Status Database::InTransaction(const std::function<Status(Transaction&)>& body, const TxOptions& options) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  Status last;
  const int attempts = options.max_attempts < 1 ? 1 : options.max_attempts;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    bool conflict = false;
    {
      Result<Transaction> tx = Begin(options);
      if (!tx.ok()) return tx.status();
      last = body(*tx);
      if (last.ok()) {
        last = tx->Commit();
        if (last.ok()) return last;
      }
      conflict = tx->conflicted();
    }
    if (!conflict) return last;
    // Backoff grows with the attempt and is jittered so colliding replicas do not collide again.
    const int max_ms = 2 << (attempt < 6 ? attempt : 6);
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + static_cast<int>(jitter() % static_cast<unsigned>(max_ms))));
  }
  return UnavailableError("store: transaction still conflicting after " + std::to_string(attempts) +
                          " attempts: " + last.message());
}

namespace {

// Drops "user:password@" from a URL for logs and errors.
std::string RedactUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url.substr(0, url.find('?')));
  size_t auth_start = scheme_end + 3;
  size_t path_start = url.find_first_of("/?", auth_start);
  std::string_view authority = url.substr(auth_start, path_start == std::string_view::npos ? url.npos : path_start - auth_start);
  size_t at = authority.rfind('@');
  std::string out(url.substr(0, auth_start));
  out += at == std::string_view::npos ? authority : authority.substr(at + 1);
  if (path_start != std::string_view::npos) {
    std::string_view rest = url.substr(path_start);
    out += rest.substr(0, rest.find('?'));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Database>> Open(std::string_view url, const OpenOptions& options) {
  if (url.starts_with("sqlite:")) {
    std::string path(url.substr(7));
    if (path.starts_with("//")) path = path.substr(2);
    if (path.empty()) return InvalidArgumentError("store URL: sqlite: needs a file path, got \"" + std::string(url) + "\"");
    OpenOptions opts = options;
    if (path == ":memory:") opts.pool_size = 1;  // each connection would see its own empty database
    auto factory = [path, opts]() { return internal::ConnectSqlite(path, opts); };
    auto pool = std::make_unique<internal::Pool>(factory, opts.pool_size, opts.acquire_timeout_ms);
    { VHSM_ASSIGN_OR_RETURN(internal::Lease first, pool->Acquire()); }
    return std::unique_ptr<Database>(new Database(Dialect::kSqlite, std::move(pool), "sqlite:" + path));
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    std::string conninfo(url);
    auto factory = [conninfo, options]() { return internal::ConnectPostgres(conninfo, options); };
    auto pool = std::make_unique<internal::Pool>(factory, options.pool_size, options.acquire_timeout_ms);
    { VHSM_ASSIGN_OR_RETURN(internal::Lease first, pool->Acquire()); }
    return std::unique_ptr<Database>(new Database(Dialect::kPostgres, std::move(pool), RedactUrl(url)));
  }
  return InvalidArgumentError("store URL: got \"" + RedactUrl(url) +
                              "\", want sqlite:PATH or postgresql://...");
}

Result<std::string> TranslatePlaceholdersForSqlite(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {  // literal or quoted identifier; doubled quote escapes
      size_t j = i + 1;
      while (j < sql.size()) {
        if (sql[j] == c) {
          if (j + 1 < sql.size() && sql[j + 1] == c) { j += 2; continue; }
          break;
        }
        ++j;
      }
      if (j >= sql.size()) return InvalidArgumentError("sql: unterminated quote starting at offset " + std::to_string(i));
      out.append(sql.substr(i, j + 1 - i));
      i = j + 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t j = sql.find('\n', i);
      if (j == std::string_view::npos) j = sql.size();
      out.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t j = sql.find("*/", i + 2);
      if (j == std::string_view::npos) return InvalidArgumentError("sql: unterminated comment starting at offset " + std::to_string(i));
      out.append(sql.substr(i, j + 2 - i));
      i = j + 2;
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      size_t j = i + 1;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
      std::string_view digits = sql.substr(i + 1, j - i - 1);
      if (digits.size() > 5 || digits[0] == '0') {
        return InvalidArgumentError("sql: placeholder $" + std::string(digits) + " at offset " + std::to_string(i) +
                                    ": want $1..$99999");
      }
      out.push_back('?');
      out.append(digits);
      i = j;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

}  // namespace vhsm::store
