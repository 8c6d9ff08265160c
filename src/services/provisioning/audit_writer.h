// audit_writer.h: group commit for the Provisioning Service's hash-chained audit log. A
// dedicated writer thread takes every queued record (up to max_batch), appends them with
// store::HashChainLog::AppendBatch() in one transaction (one fsync on SQLite with
// synchronous=FULL, one round of the advisory lock on PostgreSQL), publishes each record's outcome
// and goes straight on with whatever queued meanwhile, so a busy writer never waits for a thread
// to wake up between two commits. Callers either Append() (queue and block until committed) or
// Submit() a record, do other work, and Wait() for it: a release hands its record over before it
// encrypts the JWE, so the commit's fsync runs while the JWE is made. The chain stays linear:
// batches are serialized by the one writer within a process and by the log's lock across
// replicas. A failed commit fails every record of that batch with the store's status
// (kUnavailable: HTTP 503), and none of them is stored. Durability is the store's: a record is
// reported committed only after COMMIT returned. Thread-safe; borrows the log, which must outlive
// the writer; the destructor commits what is still queued, then stops the thread.
//
// Batching across requests in progress (PostgreSQL's commit_delay/commit_siblings idea): a
// request Announce()s at its start that a record will follow. When the writer holds records while
// announced ones are still to come, it waits up to batch_wait for them (or until none is announced
// any more) before it commits, so two releases in flight share one fsync instead of the second
// waiting for a whole commit behind the first. The first caller's commit starts up to batch_wait
// later; it spends that time on its own work between Submit() and Wait() (a release encrypts its
// JWE), but where the commit outlasts that work (SQLite FULL) it can answer up to batch_wait later
// (docs/provisioning-service.md, "Audit").
//
// Waiting without a wake-up: a caller whose record is still being committed polls for the
// outcome (yielding the CPU each round) for up to wait_spin before it sleeps, but only while the
// polling callers and the requests still working (announced, or submitted and not yet waiting)
// together need no more CPUs than the process may use: spinning never takes a CPU from a
// request with work to do. The commit's fsync leaves the CPUs idle, and waking a sleeping thread
// on a halted vCPU costs tens of microseconds per release on these VMs (docs/PERFORMANCE.md).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "store/hash_chain.h"

namespace vhsm::provisioning {

struct AuditWriterOptions {
  size_t max_batch = 256;                     // records per transaction at most (0 counts as 1)
  std::chrono::microseconds batch_wait{100};  // hold a commit this long for announced records
  std::chrono::microseconds wait_spin{1000};  // Wait() polls this long before sleeping; 0: never
};

struct AuditWriterStats {
  int64_t records = 0;    // records committed
  int64_t batches = 0;    // transactions committed
  int64_t max_batch = 0;  // largest batch committed
  int64_t failed_batches = 0;
  int64_t commit_ns = 0;  // wall time spent in AppendBatch (write + commit), all batches
  int64_t batch_waits = 0;  // commits that first waited for announced records
  // Wait() calls: outcome already there, found while polling, or slept for (the wake-up the
  // polling saves).
  int64_t waits_ready = 0;
  int64_t waits_polled = 0;
  int64_t waits_slept = 0;
  int polling_now = 0;  // callers polling at the moment of the snapshot
  int working_now = 0;  // requests with work left at that moment (see AuditWriter::working_)
};

class AuditWriter {
 public:
  struct Slot;
  // A submitted record; Wait() on it once. The writer must outlive its tickets and intents.
  using Ticket = std::shared_ptr<Slot>;

  // A record to come: counts until it is handed to Submit() or destroyed (a request that ends
  // without a record). Movable, not copyable.
  class Intent {
   public:
    Intent() = default;
    Intent(Intent&& o) noexcept : writer_(std::exchange(o.writer_, nullptr)) {}
    Intent& operator=(Intent&& o) noexcept;
    Intent(const Intent&) = delete;
    Intent& operator=(const Intent&) = delete;
    ~Intent() { Drop(); }

   private:
    friend class AuditWriter;
    explicit Intent(AuditWriter* w) : writer_(w) {}
    void Drop();
    AuditWriter* writer_ = nullptr;
  };

  static constexpr std::chrono::microseconds kDefaultBatchWait = AuditWriterOptions{}.batch_wait;
  static constexpr std::chrono::microseconds kDefaultWaitSpin = AuditWriterOptions{}.wait_spin;
  static constexpr size_t kDefaultMaxBatch = AuditWriterOptions{}.max_batch;

  explicit AuditWriter(store::HashChainLog& log, AuditWriterOptions options = {});
  ~AuditWriter();
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  // Canonicalizes `record_json` on the caller's thread (kInvalidArgument when it is not a JSON
  // object of at most 64 KiB) and queues it; the writer starts committing it at once.
  Result<Ticket> Submit(std::string_view record_json);
  // The same, fulfilling `intent` (which no longer counts afterwards, whatever the outcome).
  Result<Ticket> Submit(std::string_view record_json, Intent& intent);
  // From a document built in code: canonical as dumped, not parsed again (the release path).
  Result<Ticket> SubmitObject(const nlohmann::json& record, Intent& intent);
  // Says that a record will be submitted soon; see the header comment.
  Intent Announce();
  // Blocks until the transaction holding the ticket's record committed; the stored entry, or the
  // commit's error. Polls first while that leaves CPUs for other requests (header comment).
  Result<store::ChainEntry> Wait(const Ticket& ticket);
  // Submit() and Wait().
  Result<store::ChainEntry> Append(std::string_view record_json);
  Result<store::ChainEntry> AppendObject(const nlohmann::json& record);

  AuditWriterStats stats() const;
  // Records queued and not yet taken by the writer.
  size_t queued() const;
  // Records queued or in the transaction being committed.
  size_t in_flight() const;

 private:
  // Queues the record and, in the same step, stops `intent` (if any) from counting.
  Result<Ticket> Enqueue(Result<store::CanonicalRecord> record, Intent* intent);
  void Run();  // the writer thread
  // Commits `batch` (without mu_ held) and publishes the outcome.
  void WriteBatch(std::deque<Ticket>& batch);
  // Polls for `slot`'s outcome within the rule of the header comment; true when it is there.
  bool PollUntilDone(const Slot& slot);

  store::HashChainLog& log_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the writer waits here for records or stop_
  std::condition_variable done_cv_;  // callers wait here for their record's outcome
  std::deque<Ticket> pending_;       // guarded by mu_
  const std::chrono::microseconds batch_wait_;
  const std::chrono::microseconds wait_spin_;
  size_t announced_ = 0;             // guarded by mu_: live Intents
  // Requests with work left: live Intents, and submitted records whose caller has not reached
  // Wait() yet (a release making its JWE). Read without mu_ by polling callers.
  std::atomic<int> working_{0};
  std::atomic<int> polling_{0};      // callers polling in Wait()
  size_t in_batch_ = 0;              // guarded by mu_: records of the transaction in progress
  bool stop_ = false;                // guarded by mu_
  AuditWriterStats stats_;           // guarded by mu_
  std::thread thread_;               // last: starts after everything above is initialized
};

}  // namespace vhsm::provisioning
