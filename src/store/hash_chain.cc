// hash_chain.cc
#include "store/hash_chain.h"

#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "store/migrate.h"

namespace vhsm::store {
namespace {

constexpr size_t kMaxRecordBytes = 64 * 1024;
constexpr size_t kHashBytes = 32;
constexpr size_t kPage = 500;

void PutBe64(crypto::Hasher& h, int64_t v) {
  uint8_t b[8];
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(u >> (56 - 8 * i));
  h.Update(ByteSpan(b, 8));
}

// A stable 64-bit advisory-lock key per table, so two chains do not contend.
int64_t LockKey(std::string_view table) {
  Bytes d = crypto::Sha256(AsBytes("vhsm.hash_chain." + std::string(table)));
  uint64_t k = 0;
  for (int i = 0; i < 8; ++i) k = (k << 8) | d[static_cast<size_t>(i)];
  return static_cast<int64_t>(k);
}

Result<ChainEntry> ToEntry(const Row& row) {
  ChainEntry e;
  VHSM_ASSIGN_OR_RETURN(e.seq, row.Int(0));
  VHSM_ASSIGN_OR_RETURN(e.time, row.Int(1));
  VHSM_ASSIGN_OR_RETURN(e.record, row.Text(2));
  VHSM_ASSIGN_OR_RETURN(e.prev_hash, row.Blob(3));
  VHSM_ASSIGN_OR_RETURN(e.hash, row.Blob(4));
  return e;
}

Status RecordTooLarge(size_t size) {
  return InvalidArgumentError("log record: got " + std::to_string(size) + " bytes, limit 65536");
}

// The canonical text of a record document: nlohmann objects are std::map, so dump() emits keys
// sorted, compact. `replace` turns invalid UTF-8 (only possible in a document built in code; the
// parser rejects it) into U+FFFD instead of throwing.
Result<std::string> CanonicalDump(const nlohmann::json& doc) {
  if (!doc.is_object()) return InvalidArgumentError("log record: want a JSON object");
  std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxRecordBytes) return RecordTooLarge(text.size());
  return text;
}

}  // namespace

Bytes ChainEntryHash(ByteSpan prev_hash, int64_t seq, int64_t time, std::string_view record) {
  crypto::Hasher h(crypto::HashAlg::kSha256);
  h.Update(prev_hash);
  PutBe64(h, seq);
  PutBe64(h, time);
  h.Update(AsBytes(record));
  return h.Finish();
}

Result<std::string> CanonicalJsonRecord(std::string_view json) {
  if (json.size() > kMaxRecordBytes) return RecordTooLarge(json.size());
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgumentError("log record: not valid JSON");
  return CanonicalDump(doc);
}

namespace {

std::vector<Migration> ChainMigrations(const std::string& t) {
  const std::string columns = " time BIGINT NOT NULL, record TEXT NOT NULL, prev_hash {{BLOB}} NOT NULL,"
                              " hash {{BLOB}} NOT NULL)";
  return {
      {1, "create " + t, "CREATE TABLE " + t + " (seq BIGINT PRIMARY KEY," + columns},
      // On SQLite a BIGINT primary key is a unique index beside the rowid table: every append
      // wrote two B-trees (about 2.3 WAL pages per commit). As the rowid the table is one B-tree;
      // the audit commit's SQL time fell by about a quarter. Entries are copied unchanged (same
      // seq, time, record and hashes), so the chain and any head taken before still verify.
      {2, "seq as the rowid of " + t,
       "CREATE TABLE " + t + "__v2 (seq {{ROWID_KEY}}," + columns + ";" +
           "INSERT INTO " + t + "__v2 (seq, time, record, prev_hash, hash)"
           " SELECT seq, time, record, prev_hash, hash FROM " + t + " ORDER BY seq;" +
           "DROP TABLE " + t + ";" + "ALTER TABLE " + t + "__v2 RENAME TO " + t,
       Dialect::kSqlite},
  };
}

std::string ChainComponent(const std::string& table) { return "hash_chain/" + table; }

}  // namespace

Result<HashChainLog> HashChainLog::Open(Database& db, std::string table, const Clock& clock) {
  VHSM_RETURN_IF_ERROR(ValidateIdentifier(table, "hash chain table"));
  VHSM_RETURN_IF_ERROR(Migrate(db, ChainComponent(table), ChainMigrations(table)));
  return HashChainLog(db, std::move(table), clock);
}

Result<HashChainLog> HashChainLog::Attach(Database& db, std::string table, const Clock& clock) {
  VHSM_RETURN_IF_ERROR(ValidateIdentifier(table, "hash chain table"));
  VHSM_ASSIGN_OR_RETURN(int64_t version, SchemaVersion(db, ChainComponent(table)));
  const int64_t newest = ChainMigrations(table).back().version;
  if (version == 0) return FailedPreconditionError("hash chain " + table + ": no such log in " + db.description());
  if (version > newest) {
    return FailedPreconditionError("hash chain " + table + ": schema version " + std::to_string(version) +
                                   " is newer than this binary's " + std::to_string(newest));
  }
  return HashChainLog(db, std::move(table), clock);
}

Result<CanonicalRecord> MakeCanonicalRecord(std::string_view json) {
  VHSM_ASSIGN_OR_RETURN(std::string text, CanonicalJsonRecord(json));
  return CanonicalRecord(std::move(text));
}

Result<CanonicalRecord> CanonicalRecordFromObject(const nlohmann::json& record) {
  VHSM_ASSIGN_OR_RETURN(std::string text, CanonicalDump(record));
  return CanonicalRecord(std::move(text));
}

Result<ChainEntry> HashChainLog::Append(std::string_view record_json) {
  VHSM_ASSIGN_OR_RETURN(CanonicalRecord record, MakeCanonicalRecord(record_json));
  std::vector<CanonicalRecord> one;
  one.push_back(std::move(record));
  VHSM_ASSIGN_OR_RETURN(std::vector<ChainEntry> entries, AppendBatch(one));
  return std::move(entries.front());
}

Result<std::vector<ChainEntry>> HashChainLog::AppendBatch(const std::vector<CanonicalRecord>& records) {
  std::vector<ChainEntry> entries;
  if (records.empty()) return entries;
  TxOptions opts;
  // READ COMMITTED + advisory lock: after the lock is granted, the tail query sees the entry the
  // previous holder committed (a serializable snapshot would predate the wait).
  opts.isolation = Isolation::kReadCommitted;
  const std::string insert =
      "INSERT INTO " + table_ + " (seq, time, record, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)";
  Status status = db_->InTransaction(
      [&](Transaction& tx) -> Status {
        entries.clear();  // the body may run again after a conflict
        if (tx.dialect() == Dialect::kPostgres) {
          VHSM_RETURN_IF_ERROR(tx.Exec("SELECT pg_advisory_xact_lock($1)", {LockKey(table_)}).status());
        }
        VHSM_ASSIGN_OR_RETURN(Rows tail, tx.Query("SELECT seq, hash FROM " + table_ + " ORDER BY seq DESC LIMIT 1"));
        int64_t seq = 0;
        Bytes prev(kHashBytes, 0);
        if (!tail.empty()) {
          VHSM_ASSIGN_OR_RETURN(seq, tail[0].Int(0));
          VHSM_ASSIGN_OR_RETURN(prev, tail[0].Blob(1));
        }
        const int64_t now = clock_->NowUnix();
        entries.reserve(records.size());
        for (const CanonicalRecord& r : records) {
          ChainEntry e;
          e.seq = ++seq;
          e.time = now;
          e.record = r.text();
          e.prev_hash = std::move(prev);
          e.hash = ChainEntryHash(e.prev_hash, e.seq, e.time, e.record);
          prev = e.hash;
          VHSM_RETURN_IF_ERROR(tx.Exec(insert, {e.seq, e.time, e.record, e.prev_hash, e.hash}).status());
          entries.push_back(std::move(e));
        }
        return OkStatus();
      },
      opts);
  VHSM_RETURN_IF_ERROR(status);
  return entries;
}

Result<std::vector<ChainEntry>> HashChainLog::List(int64_t after_seq, size_t limit) {
  if (limit > 1000) limit = 1000;
  VHSM_ASSIGN_OR_RETURN(Rows rows, db_->Query("SELECT seq, time, record, prev_hash, hash FROM " + table_ +
                                                  " WHERE seq > $1 ORDER BY seq LIMIT $2",
                                              {after_seq, static_cast<int64_t>(limit)}));
  std::vector<ChainEntry> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    VHSM_ASSIGN_OR_RETURN(ChainEntry e, ToEntry(r));
    out.push_back(std::move(e));
  }
  return out;
}

Result<ChainHead> HashChainLog::Head() {
  VHSM_ASSIGN_OR_RETURN(Rows tail, db_->Query("SELECT seq, hash FROM " + table_ + " ORDER BY seq DESC LIMIT 1"));
  ChainHead head{0, Bytes(kHashBytes, 0)};
  if (!tail.empty()) {
    VHSM_ASSIGN_OR_RETURN(head.seq, tail[0].Int(0));
    VHSM_ASSIGN_OR_RETURN(head.hash, tail[0].Blob(1));
  }
  return head;
}

Result<ChainVerification> HashChainLog::Verify(const std::optional<ChainHead>& expected_head) {
  ChainVerification v;
  v.head = ChainHead{0, Bytes(kHashBytes, 0)};
  auto fail = [&](int64_t seq, std::string problem) {
    v.first_bad_seq = seq;
    v.problem = "seq " + std::to_string(seq) + ": " + std::move(problem);
    return v;
  };
  bool anchor_seen = false;
  for (;;) {
    VHSM_ASSIGN_OR_RETURN(std::vector<ChainEntry> page, List(v.head.seq, kPage));
    if (page.empty()) break;
    for (const ChainEntry& e : page) {
      const int64_t want = v.head.seq + 1;
      if (e.seq != want) return fail(want, "missing (next stored entry is seq " + std::to_string(e.seq) + ")");
      if (e.prev_hash != v.head.hash) return fail(e.seq, "prev_hash does not match the hash of the entry before");
      if (e.hash != ChainEntryHash(e.prev_hash, e.seq, e.time, e.record)) {
        return fail(e.seq, "hash mismatch (entry edited)");
      }
      if (expected_head && e.seq == expected_head->seq) {
        if (e.hash != expected_head->hash) return fail(e.seq, "hash differs from the expected head (chain rewritten)");
        anchor_seen = true;
      }
      v.head = ChainHead{e.seq, e.hash};
      ++v.entries;
    }
  }
  if (expected_head && expected_head->seq > 0 && !anchor_seen) {
    return fail(v.head.seq + 1, "missing: expected head is seq " + std::to_string(expected_head->seq) +
                                    " but the chain ends at seq " + std::to_string(v.head.seq) + " (truncated)");
  }
  return v;
}

}  // namespace vhsm::store
