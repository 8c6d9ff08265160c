// one_use_tokens.cc
#include "store/one_use_tokens.h"

#include "crypto/digest.h"
#include "store/migrate.h"

namespace vhsm::store {
namespace {
std::string IdDigest(std::string_view id) { return HexEncode(crypto::Sha256(AsBytes(id))); }
constexpr size_t kMaxIdBytes = 1024;
constexpr size_t kMaxPayloadBytes = 1 << 20;
}  // namespace

Result<OneUseTokens> OneUseTokens::Open(Database& db, std::string table, const Clock& clock) {
  VHSM_RETURN_IF_ERROR(ValidateIdentifier(table, "one-use token table"));
  const std::string& t = table;
  VHSM_RETURN_IF_ERROR(Migrate(db, "one_use_tokens/" + t,
                               {{1, "create " + t,
                                 "CREATE TABLE " + t + " (id_sha256 TEXT PRIMARY KEY, payload TEXT NOT NULL,"
                                 " expires_at BIGINT NOT NULL, taken_at BIGINT);"
                                 "CREATE INDEX " + t + "_expires ON " + t + " (expires_at)"}}));
  return OneUseTokens(db, std::move(table), clock);
}

Status OneUseTokens::Put(std::string_view id, std::string_view payload, int64_t ttl_seconds) {
  if (id.empty() || id.size() > kMaxIdBytes) return InvalidArgumentError("token id: want 1..1024 bytes");
  if (payload.size() > kMaxPayloadBytes) return InvalidArgumentError("token payload: over 1 MiB");
  if (ttl_seconds <= 0) return InvalidArgumentError("token ttl: got " + std::to_string(ttl_seconds) + ", want > 0");
  Result<int64_t> r = db_->Exec("INSERT INTO " + table_ + " (id_sha256, payload, expires_at) VALUES ($1, $2, $3)",
                                {IdDigest(id), payload, clock_->NowUnix() + ttl_seconds});
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kAlreadyExists) return AlreadyExistsError(table_ + ": token id already present");
    return r.status();
  }
  return OkStatus();
}

Result<std::string> OneUseTokens::Take(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return NotFoundError(table_ + ": unknown token");
  const std::string digest = IdDigest(id);
  const int64_t now = clock_->NowUnix();
  // One statement decides: under PostgreSQL READ COMMITTED a concurrent taker blocks on the row
  // lock and then re-checks `taken_at IS NULL` against the committed winner; SQLite writers are
  // serialized. Either way only one UPDATE matches.
  VHSM_ASSIGN_OR_RETURN(Rows won, db_->Query("UPDATE " + table_ + " SET taken_at = $2 WHERE id_sha256 = $1"
                                             " AND taken_at IS NULL AND expires_at > $2 RETURNING payload",
                                             {digest, now}));
  if (!won.empty()) return won[0].Text(0);
  // Lost: say why (best effort, the decision above is what counts).
  VHSM_ASSIGN_OR_RETURN(Rows why, db_->Query("SELECT expires_at, taken_at FROM " + table_ + " WHERE id_sha256 = $1",
                                             {digest}));
  if (why.empty()) return NotFoundError(table_ + ": unknown token");
  if (!why[0].IsNull(1)) return FailedPreconditionError(table_ + ": token already used");
  VHSM_ASSIGN_OR_RETURN(int64_t expires_at, why[0].Int(0));
  return FailedPreconditionError(table_ + ": token expired at " + FormatRfc3339(expires_at) + " (now " +
                                 FormatRfc3339(now) + ")");
}

Result<int64_t> OneUseTokens::PurgeExpired(int64_t grace_seconds) {
  return db_->Exec("DELETE FROM " + table_ + " WHERE expires_at <= $1", {clock_->NowUnix() - grace_seconds});
}

}  // namespace vhsm::store
