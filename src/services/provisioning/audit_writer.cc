// audit_writer.cc
#include "services/provisioning/audit_writer.h"

#include <sched.h>

#include <chrono>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/cpu.h"

namespace vhsm::provisioning {

struct AuditWriter::Slot {
  explicit Slot(store::CanonicalRecord r) : record(std::move(r)) {}
  ~Slot() { StopWorking(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  // The caller's request counts as working from its Intent until it waits (or drops the ticket).
  void StopWorking() {
    if (std::atomic<int>* w = std::exchange(working, nullptr)) w->fetch_sub(1, std::memory_order_relaxed);
  }
  store::CanonicalRecord record;
  bool done = false;  // guarded by the writer's mu_
  std::atomic<bool> published{false};  // `done`, for callers polling without mu_
  std::atomic<int>* working = nullptr;  // the writer's working_ while this counts in it
  Result<store::ChainEntry> result = InternalError("audit: record not written");
};

namespace {
std::chrono::microseconds NonNegative(std::chrono::microseconds d) {
  return d.count() < 0 ? std::chrono::microseconds(0) : d;
}
}  // namespace

AuditWriter::AuditWriter(store::HashChainLog& log, AuditWriterOptions options)
    : log_(log),
      max_batch_(options.max_batch < 1 ? 1 : options.max_batch),
      batch_wait_(NonNegative(options.batch_wait)),
      wait_spin_(NonNegative(options.wait_spin)),
      thread_([this] { Run(); }) {}

AuditWriter::Intent& AuditWriter::Intent::operator=(Intent&& o) noexcept {
  if (this != &o) {
    Drop();
    writer_ = std::exchange(o.writer_, nullptr);
  }
  return *this;
}

void AuditWriter::Intent::Drop() {
  AuditWriter* w = std::exchange(writer_, nullptr);
  if (w == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(w->mu_);
    --w->announced_;
  }
  w->working_.fetch_sub(1, std::memory_order_relaxed);
  w->work_cv_.notify_one();  // a writer waiting for this record need not wait any longer
}

AuditWriter::Intent AuditWriter::Announce() {
  std::lock_guard<std::mutex> lock(mu_);
  ++announced_;
  working_.fetch_add(1, std::memory_order_relaxed);
  return Intent(this);
}

AuditWriter::~AuditWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

// Canonicalization (a JSON parse and dump, or a dump) runs on the caller's thread, so the
// writer's critical path is only SQL and hashing.
Result<AuditWriter::Ticket> AuditWriter::Submit(std::string_view record_json) {
  return Enqueue(store::MakeCanonicalRecord(record_json), nullptr);
}

Result<AuditWriter::Ticket> AuditWriter::Submit(std::string_view record_json, Intent& intent) {
  return Enqueue(store::MakeCanonicalRecord(record_json), &intent);
}

Result<AuditWriter::Ticket> AuditWriter::SubmitObject(const nlohmann::json& record, Intent& intent) {
  return Enqueue(store::CanonicalRecordFromObject(record), &intent);
}

Result<AuditWriter::Ticket> AuditWriter::Enqueue(Result<store::CanonicalRecord> record, Intent* intent) {
  Ticket ticket = record.ok() ? std::make_shared<Slot>(std::move(*record)) : nullptr;
  bool stopped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The intent stops counting in the same step as its record is queued (or refused), so a
    // waiting writer wakes once and finds the record.
    const bool had_intent = intent != nullptr && intent->writer_ == this;
    if (had_intent) {
      intent->writer_ = nullptr;
      --announced_;
    }
    stopped = stop_;
    if (ticket && !stopped) {
      // The request goes on working (its JWE) until it waits for this ticket.
      if (had_intent) ticket->working = &working_;
      pending_.push_back(ticket);
    } else if (had_intent) {
      working_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  work_cv_.notify_one();
  if (!record.ok()) return record.status();
  if (stopped) return UnavailableError("audit: the writer is shutting down");
  return ticket;
}

Result<store::ChainEntry> AuditWriter::Wait(const Ticket& ticket) {
  if (!ticket) return InvalidArgumentError("audit: no ticket");
  ticket->StopWorking();
  const bool polled = !ticket->published.load(std::memory_order_acquire) && PollUntilDone(*ticket);
  std::unique_lock<std::mutex> lock(mu_);
  if (polled) {
    ++stats_.waits_polled;
  } else if (ticket->done) {
    ++stats_.waits_ready;  // committed before Wait(), or between the last poll and the lock
  } else {
    ++stats_.waits_slept;  // counted before sleeping, so a test can tell that this caller sleeps
  }
  done_cv_.wait(lock, [&] { return ticket->done; });
  return std::move(ticket->result);
}

bool AuditWriter::PollUntilDone(const Slot& slot) {
  if (wait_spin_.count() == 0) return false;
  const int cpus = AllowedCpus();
  if (cpus < 2) return false;  // the writer could not run while this thread polls
  const auto deadline = std::chrono::steady_clock::now() + wait_spin_;
  polling_.fetch_add(1, std::memory_order_relaxed);
  bool done = false;
  for (;;) {
    if (slot.published.load(std::memory_order_acquire)) {
      done = true;
      break;
    }
    // Stop (or do not start) as soon as requests with work would need this CPU, or the budget is
    // spent.
    if (polling_.load(std::memory_order_relaxed) + working_.load(std::memory_order_relaxed) > cpus ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    ::sched_yield();  // the writer, when it wakes on this CPU, goes first
  }
  polling_.fetch_sub(1, std::memory_order_relaxed);
  return done;
}

Result<store::ChainEntry> AuditWriter::Append(std::string_view record_json) {
  VHSM_ASSIGN_OR_RETURN(Ticket ticket, Submit(record_json));
  return Wait(ticket);
}

Result<store::ChainEntry> AuditWriter::AppendObject(const nlohmann::json& record) {
  VHSM_ASSIGN_OR_RETURN(Ticket ticket, Enqueue(store::CanonicalRecordFromObject(record), nullptr));
  return Wait(ticket);
}

void AuditWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stop_, and nothing left to commit
    if (announced_ > 0 && pending_.size() < max_batch_ && batch_wait_.count() > 0 && !stop_) {
      // Records are on their way: give them batch_wait to join this commit.
      ++stats_.batch_waits;
      work_cv_.wait_for(lock, batch_wait_,
                        [&] { return stop_ || announced_ == 0 || pending_.size() >= max_batch_; });
    }
    std::deque<Ticket> batch;
    while (!pending_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    in_batch_ = batch.size();
    lock.unlock();
    WriteBatch(batch);
    lock.lock();
    in_batch_ = 0;
  }
}

void AuditWriter::WriteBatch(std::deque<Ticket>& batch) {
  std::vector<store::CanonicalRecord> records;
  records.reserve(batch.size());
  for (const Ticket& s : batch) records.push_back(std::move(s->record));  // the slot keeps only its result
  const auto t0 = std::chrono::steady_clock::now();
  Result<std::vector<store::ChainEntry>> written = log_.AppendBatch(records);
  const auto took = std::chrono::steady_clock::now() - t0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.commit_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
    if (written.ok()) {
      ++stats_.batches;
      stats_.records += static_cast<int64_t>(batch.size());
      if (static_cast<int64_t>(batch.size()) > stats_.max_batch) stats_.max_batch = static_cast<int64_t>(batch.size());
    } else {
      ++stats_.failed_batches;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      Slot& s = *batch[i];
      s.result = written.ok() ? Result<store::ChainEntry>(std::move((*written)[i])) : Result<store::ChainEntry>(written.status());
      s.done = true;
      s.published.store(true, std::memory_order_release);
    }
  }
  done_cv_.notify_all();
}

size_t AuditWriter::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

size_t AuditWriter::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size() + in_batch_;
}

AuditWriterStats AuditWriter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  AuditWriterStats s = stats_;
  s.polling_now = polling_.load(std::memory_order_relaxed);
  s.working_now = working_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace vhsm::provisioning
