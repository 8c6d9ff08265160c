// one_use_tokens.h: a table of single-use tokens with a time to live, for RCAR sessions and
// nonces: Put(id, payload, ttl) once, Take(id) succeeds at most once and only before expiry.
// Take is one conditional UPDATE, so with any number of threads, processes or replicas on the
// same database exactly one taker wins. Ids are stored as SHA-256 digests: someone who can
// read the table cannot replay a live session id from it. Thread-safe; borrows the Database
// and Clock, which must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "store/database.h"

namespace vhsm::store {

class OneUseTokens {
 public:
  // Creates/migrates the table `table` (component "one_use_tokens/<table>").
  static Result<OneUseTokens> Open(Database& db, std::string table, const Clock& clock);

  // Stores `payload` under `id` until now + ttl_seconds. kAlreadyExists if `id` is present
  // (also when taken or expired but not yet purged); kInvalidArgument for ttl <= 0 or an empty id.
  Status Put(std::string_view id, std::string_view payload, int64_t ttl_seconds);

  // Marks `id` taken and returns its payload. kNotFound for an unknown id;
  // kFailedPrecondition "already used" / "expired" otherwise. The id is never echoed.
  Result<std::string> Take(std::string_view id);

  // Deletes tokens expired at least `grace_seconds` ago; returns how many.
  Result<int64_t> PurgeExpired(int64_t grace_seconds = 0);

  const std::string& table() const { return table_; }

 private:
  OneUseTokens(Database& db, std::string table, const Clock& clock)
      : db_(&db), table_(std::move(table)), clock_(&clock) {}
  Database* db_;
  std::string table_;
  const Clock* clock_;
};

}  // namespace vhsm::store
