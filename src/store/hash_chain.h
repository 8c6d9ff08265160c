// hash_chain.h: an append-only, hash-chained log in a store table (the Provisioning Service's
// audit log; `vhsm audit verify`). Entry n stores seq, time, the canonical JSON record,
// prev_hash (the hash of entry n-1; 32 zero bytes for seq 1) and
//   hash = SHA-256(prev_hash || BE64(seq) || BE64(time) || canonical record)
// so editing, deleting or reordering any stored entry breaks the chain at that entry. Appends
// from any number of threads and replicas serialize (PostgreSQL: transaction-scoped advisory
// lock; SQLite: BEGIN IMMEDIATE). AppendBatch() writes several records in one transaction (one
// fsync; group commit) with consecutive seqs, so the chain stays linear. Truncating the newest
// entries is only visible against a head (seq, hash) kept elsewhere: pass it to Verify().
// Thread-safe; borrows the Database and Clock, which must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "store/database.h"

namespace vhsm::store {

struct ChainEntry {
  int64_t seq = 0;
  int64_t time = 0;    // Unix seconds, from the injected Clock
  std::string record;  // canonical JSON (sorted keys, no whitespace)
  Bytes prev_hash;
  Bytes hash;
};

struct ChainHead {
  int64_t seq = 0;  // 0: empty chain
  Bytes hash;       // 32 zero bytes for an empty chain
};

struct ChainVerification {
  int64_t entries = 0;        // entries checked and found good
  ChainHead head;             // the last good entry
  int64_t first_bad_seq = 0;  // 0 when the chain is intact
  std::string problem;        // "seq 7: hash mismatch (entry edited)"
  bool intact() const { return first_bad_seq == 0; }
};

// The hash of an entry as defined above (exposed for independent checkers and tests).
Bytes ChainEntryHash(ByteSpan prev_hash, int64_t seq, int64_t time, std::string_view record);

// Canonical form of a JSON object record: sorted keys, no insignificant whitespace, UTF-8.
// kInvalidArgument for malformed JSON, a non-object, or more than 64 KiB.
Result<std::string> CanonicalJsonRecord(std::string_view json);

// A record already in canonical form; only MakeCanonicalRecord() builds one, so AppendBatch()
// need not parse it again (callers canonicalize on their own thread, off the commit path).
class CanonicalRecord {
 public:
  const std::string& text() const { return text_; }

 private:
  friend Result<CanonicalRecord> MakeCanonicalRecord(std::string_view json);
  friend Result<CanonicalRecord> CanonicalRecordFromObject(const nlohmann::json& record);
  explicit CanonicalRecord(std::string text) : text_(std::move(text)) {}
  std::string text_;
};
// Errors as CanonicalJsonRecord().
Result<CanonicalRecord> MakeCanonicalRecord(std::string_view json);
// From a document already parsed or built in code: its compact dump is canonical as it is (object
// keys are kept sorted), so nothing is parsed again. Same errors; invalid UTF-8 in a string
// becomes U+FFFD.
Result<CanonicalRecord> CanonicalRecordFromObject(const nlohmann::json& record);

class HashChainLog {
 public:
  // Creates/migrates the table `table` (component "hash_chain/<table>").
  static Result<HashChainLog> Open(Database& db, std::string table, const Clock& clock);
  // An existing log, as it is: no migration runs (for readers such as `vhsm audit verify`, which
  // must not rewrite what they check). kFailedPrecondition when the table was never created, or
  // when its schema is newer than this binary knows. Every schema version reads the same way.
  static Result<HashChainLog> Attach(Database& db, std::string table, const Clock& clock);

  // Appends a record (a JSON object; stored canonicalized). Returns the stored entry.
  Result<ChainEntry> Append(std::string_view record_json);

  // Appends all `records`, in order, in one transaction: either every one is stored (consecutive
  // seqs, each chained to the one before) or none is. Returns the stored entries in order. An
  // empty batch writes nothing and returns no entries.
  Result<std::vector<ChainEntry>> AppendBatch(const std::vector<CanonicalRecord>& records);

  // Entries with seq > after_seq, ascending, at most `limit` (capped at 1000).
  Result<std::vector<ChainEntry>> List(int64_t after_seq, size_t limit);

  Result<ChainHead> Head();

  // Walks the whole chain from seq 1. A store error is returned as a Status; a broken chain is a
  // successful result with first_bad_seq set. With `expected_head`, also reports a chain that
  // lacks that entry or holds another hash for it (truncation or rewrite since it was taken).
  Result<ChainVerification> Verify(const std::optional<ChainHead>& expected_head = std::nullopt);

 private:
  HashChainLog(Database& db, std::string table, const Clock& clock)
      : db_(&db), table_(std::move(table)), clock_(&clock) {}
  Database* db_;
  std::string table_;
  const Clock* clock_;
};

}  // namespace vhsm::store
