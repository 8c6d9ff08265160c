// postgres_backend.cc: store::internal::Connection on libpq. Parameters go out untyped (the
// server infers each `$N` from context: ints and text in text format, blobs in binary format)
// and results come back in binary format, decoded by column type OID into the four store
// Values. Prepared statements are cached per connection under generated names.
// A dropped connection makes the call fail with kUnavailable and marks the connection
// unhealthy; the pool then discards it and the next caller gets a fresh one.
#include <libpq-fe.h>
#include <poll.h>

#include <unordered_map>

#include "crypto/ossl_ptr.h"
#include "store/connection.h"

namespace vhsm::store::internal {
namespace {

using PgConnPtr = std::unique_ptr<PGconn, crypto::CallFree<&PQfinish>>;
using PgResultPtr = std::unique_ptr<PGresult, crypto::CallFree<&PQclear>>;

// Type OIDs from the server's pg_type catalog (stable across versions).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kNameOid = 19, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23,
              kTextOid = 25, kOidOid = 26, kJsonOid = 114, kUnknownOid = 705, kBpcharOid = 1042,
              kVarcharOid = 1043, kJsonbOid = 3802;
constexpr size_t kMaxCachedStatements = 256;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int64_t ReadBigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  // Sign-extend 2- and 4-byte integers.
  if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
  return static_cast<int64_t>(v);
}

class PgConnection final : public Connection {
 public:
  explicit PgConnection(PgConnPtr conn) : conn_(std::move(conn)) {}

  Result<ExecResult> Run(std::string_view sql, const Params& params, bool want_rows) override;
  Status Script(std::string_view sql) override;
  Status Begin(Isolation isolation) override {
    return Simple(isolation == Isolation::kSerializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                        : "BEGIN ISOLATION LEVEL READ COMMITTED");
  }
  Status Commit() override;
  void Rollback() noexcept override {
    if (!broken_ && PQstatus(conn_.get()) == CONNECTION_OK && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      Simple("ROLLBACK").IgnoreError();
    }
  }
  bool Healthy() override;

 private:
  Status Simple(const char* sql);
  Status ResultError(const PGresult* res, std::string_view what);
  Result<std::string> Prepare(std::string_view sql);
  Result<Value> Decode(const PGresult* res, int row, int col) const;

  PgConnPtr conn_;
  std::unordered_map<std::string, std::string> cache_;  // sql -> prepared statement name
  uint64_t next_id_ = 0;
  bool broken_ = false;
};

bool PgConnection::Healthy() {
  PGconn* c = conn_.get();
  if (broken_ || PQstatus(c) != CONNECTION_OK) return false;
  if (PQtransactionStatus(c) != PQTRANS_IDLE) return false;  // left mid-transaction: start afresh
  // An idle connection has nothing to read unless the server said goodbye (shutdown, restart,
  // idle timeout) or sent a notice; reading that input makes libpq notice the closed socket.
  pollfd pfd{PQsocket(c), POLLIN, 0};
  if (pfd.fd < 0) return false;
  if (poll(&pfd, 1, 0) > 0) {
    if (!PQconsumeInput(c)) return false;
    while (PGnotify* n = PQnotifies(c)) PQfreemem(n);
  }
  return PQstatus(c) == CONNECTION_OK;
}

Status PgConnection::ResultError(const PGresult* res, std::string_view what) {
  const char* state_c = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_c ? state_c : "";
  std::string detail = Trim(res ? PQresultErrorMessage(res) : "");
  if (detail.empty()) detail = Trim(PQerrorMessage(conn_.get()));
  std::string msg = "postgresql: " + std::string(what) + ": " + detail + (state.empty() ? "" : " [" + state + "]");
  last_error_conflict_ = state == "40001" || state == "40P01";
  // Errors libpq raises itself (socket closed, EOF) carry no SQLSTATE; the connection status may
  // still read OK at that point, so treat such a connection as gone.
  if (state.empty() || state.starts_with("08") || state == "57P01") broken_ = true;
  if (broken_ || PQstatus(conn_.get()) != CONNECTION_OK || state.starts_with("08") || state == "57P01" || state == "57P02" ||
      state == "57P03") {
    return UnavailableError(msg + "; database connection lost");
  }
  if (last_error_conflict_) return UnavailableError(msg + "; serialization conflict");
  if (state == "23505") return AlreadyExistsError(msg);
  if (state.starts_with("23")) return FailedPreconditionError(msg);
  if (state.starts_with("22")) return InvalidArgumentError(msg);
  if (state == "57014") return DeadlineExceededError(msg);
  if (state.starts_with("53")) return UnavailableError(msg);
  if (state == "25P02") return FailedPreconditionError(msg + "; transaction aborted by an earlier error");
  return InternalError(msg);
}

Status PgConnection::Simple(const char* sql) {
  last_error_conflict_ = false;
  PgResultPtr res(PQexec(conn_.get(), sql));
  if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) return ResultError(res.get(), sql);
  return OkStatus();
}

Status PgConnection::Commit() {
  last_error_conflict_ = false;
  PgResultPtr res(PQexec(conn_.get(), "COMMIT"));
  if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) return ResultError(res.get(), "COMMIT");
  // WARNING: COMMIT of a transaction already aborted by an error "succeeds" with the command tag
  // ROLLBACK. Treat that as the failure it is.
  if (std::string_view(PQcmdStatus(res.get())) != "COMMIT") {
    return FailedPreconditionError("postgresql: COMMIT rolled back: the transaction had failed earlier");
  }
  return OkStatus();
}

Status PgConnection::Script(std::string_view sql) {
  last_error_conflict_ = false;
  std::string copy(sql);
  PgResultPtr res(PQexec(conn_.get(), copy.c_str()));
  if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
    if (res && PQresultStatus(res.get()) == PGRES_TUPLES_OK) return OkStatus();
    return ResultError(res.get(), "script");
  }
  return OkStatus();
}

Result<std::string> PgConnection::Prepare(std::string_view sql) {
  std::string key(sql);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedStatements) {
    Simple("DEALLOCATE ALL").IgnoreError();
    cache_.clear();
  }
  std::string name = "vhsm_" + std::to_string(next_id_++);
  PgResultPtr res(PQprepare(conn_.get(), name.c_str(), key.c_str(), 0, nullptr));
  if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
    return ResultError(res.get(), "prepare \"" + key.substr(0, 80) + "\"");
  }
  cache_.emplace(std::move(key), name);
  return name;
}

Result<Value> PgConnection::Decode(const PGresult* res, int row, int col) const {
  if (PQgetisnull(res, row, col)) return Value();
  const char* p = PQgetvalue(res, row, col);
  const int n = PQgetlength(res, row, col);
  const Oid type = PQftype(res, col);
  auto bad_len = [&]() {
    return InternalError("postgresql: column " + std::string(PQfname(res, col)) + ": unexpected binary length " +
                         std::to_string(n));
  };
  switch (type) {
    case kInt8Oid:
      if (n != 8) return bad_len();
      return Value(ReadBigEndian(p, 8));
    case kInt4Oid:
    case kOidOid:
      if (n != 4) return bad_len();
      return Value(type == kOidOid ? static_cast<int64_t>(static_cast<uint32_t>(ReadBigEndian(p, 4)))
                                   : ReadBigEndian(p, 4));
    case kInt2Oid:
      if (n != 2) return bad_len();
      return Value(ReadBigEndian(p, 2));
    case kBoolOid:
      if (n != 1) return bad_len();
      return Value(int64_t{p[0] != 0});
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
    case kJsonOid:
    case kUnknownOid:
      return Value(std::string(p, static_cast<size_t>(n)));
    case kJsonbOid:  // binary jsonb: a version byte (1), then the text
      if (n < 1 || p[0] != 1) return bad_len();
      return Value(std::string(p + 1, static_cast<size_t>(n - 1)));
    case kByteaOid:
      return Value(Bytes(reinterpret_cast<const uint8_t*>(p), reinterpret_cast<const uint8_t*>(p) + n));
    default:
      return InternalError("postgresql: column " + std::string(PQfname(res, col)) + " has type oid " +
                           std::to_string(type) + "; cast it to bigint, text or bytea in the SQL");
  }
}

Result<ExecResult> PgConnection::Run(std::string_view sql, const Params& params, bool want_rows) {
  last_error_conflict_ = false;
  VHSM_ASSIGN_OR_RETURN(std::string name, Prepare(sql));
  const size_t n = params.size();
  std::vector<std::string> ints(n);
  std::vector<const char*> values(n, nullptr);
  std::vector<int> lengths(n, 0);
  std::vector<int> formats(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const Value& v = params[i];
    switch (v.type()) {
      case Value::Type::kNull: break;
      case Value::Type::kInt:
        ints[i] = std::to_string(v.int_value());
        values[i] = ints[i].c_str();
        break;
      case Value::Type::kText:
        if (v.text_value().find('\0') != std::string::npos) {
          return InvalidArgumentError("sql parameter $" + std::to_string(i + 1) + ": text contains a NUL byte");
        }
        values[i] = v.text_value().c_str();
        break;
      case Value::Type::kBlob:
        if (v.blob_value().size() > (1u << 30)) return InvalidArgumentError("sql parameter: blob over 1 GiB");
        values[i] = v.blob_value().empty() ? "" : reinterpret_cast<const char*>(v.blob_value().data());
        lengths[i] = static_cast<int>(v.blob_value().size());
        formats[i] = 1;
        break;
    }
  }
  PgResultPtr res(PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(n), values.data(), lengths.data(),
                                 formats.data(), /*resultFormat=binary*/ 1));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return ResultError(res.get(), "\"" + std::string(sql.substr(0, 80)) + "\"");
  }
  ExecResult out;
  const char* tuples = PQcmdTuples(res.get());
  out.affected = (tuples && *tuples) ? std::strtoll(tuples, nullptr, 10) : 0;
  if (want_rows && st == PGRES_TUPLES_OK) {
    const int ncol = PQnfields(res.get());
    const int nrow = PQntuples(res.get());
    auto cols = std::make_shared<std::vector<std::string>>();
    for (int c = 0; c < ncol; ++c) cols->emplace_back(PQfname(res.get(), c));
    out.rows.columns = std::move(cols);
    out.rows.rows.reserve(static_cast<size_t>(nrow));
    for (int r = 0; r < nrow; ++r) {
      std::vector<Value> row;
      row.reserve(static_cast<size_t>(ncol));
      for (int c = 0; c < ncol; ++c) {
        VHSM_ASSIGN_OR_RETURN(Value v, Decode(res.get(), r, c));
        row.push_back(std::move(v));
      }
      out.rows.rows.emplace_back(out.rows.columns, std::move(row));
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Connection>> ConnectPostgres(const std::string& url, const OpenOptions& options) {
  // Later keywords override earlier ones, and the URL (expanded from "dbname") comes last, so a
  // connect_timeout in the URL wins over the option.
  const std::string timeout = std::to_string(options.connect_timeout_s);
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* vals[] = {timeout.c_str(), "vhsm", url.c_str(), nullptr};
  PgConnPtr conn(PQconnectdbParams(keys, vals, /*expand_dbname=*/1));
  if (!conn) return UnavailableError("postgresql: out of memory creating a connection");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return UnavailableError("postgresql: connect: " + Trim(PQerrorMessage(conn.get())));
  }
  return std::unique_ptr<Connection>(std::make_unique<PgConnection>(std::move(conn)));
}

}  // namespace vhsm::store::internal
