// audit_writer.h: group commit for the Provisioning Service's hash-chained audit log. Request
// threads hand their record to Append() and block until the transaction holding it has
// committed; whichever waiting thread finds no commit in progress becomes the writer, takes
// every queued record (up to max_batch), appends them with store::HashChainLog::AppendBatch() in
// one transaction (one fsync on SQLite with synchronous=FULL, one round of the advisory lock on
// PostgreSQL), then wakes all waiters with their own outcome. The chain stays linear: batches
// are serialized here within a process and by the log's lock across replicas. A failed commit
// fails every record of that batch with the store's status (kUnavailable: HTTP 503), and none of
// them is stored. Durability is the store's: a record is reported committed only after COMMIT
// returned. Thread-safe; borrows the log, which must outlive the writer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>

#include "base/status.h"
#include "store/hash_chain.h"

namespace vhsm::provisioning {

struct AuditWriterStats {
  int64_t records = 0;    // records committed
  int64_t batches = 0;    // transactions committed
  int64_t max_batch = 0;  // largest batch committed
  int64_t failed_batches = 0;
};

class AuditWriter {
 public:
  explicit AuditWriter(store::HashChainLog& log, size_t max_batch = 256)
      : log_(log), max_batch_(max_batch < 1 ? 1 : max_batch) {}
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  // Canonicalizes `record_json` (kInvalidArgument when it is not a JSON object of at most
  // 64 KiB), queues it and returns the stored entry once its transaction committed, or the
  // commit's error.
  Result<store::ChainEntry> Append(std::string_view record_json);

  AuditWriterStats stats() const;
  // Records queued and not yet taken by a writer.
  size_t queued() const;

 private:
  struct Slot {
    store::CanonicalRecord record;
    bool done = false;
    Result<store::ChainEntry> result = InternalError("audit: record not written");
  };
  // Commits `batch` (called by the writer thread without mu_ held) and publishes the outcome.
  void WriteBatch(std::deque<Slot*>& batch);

  store::HashChainLog& log_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Slot*> pending_;  // guarded by mu_; slots live on the waiting threads' stacks
  bool writing_ = false;       // guarded by mu_
  AuditWriterStats stats_;     // guarded by mu_
};

}  // namespace vhsm::provisioning
