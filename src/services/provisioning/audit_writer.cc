// audit_writer.cc
#include "services/provisioning/audit_writer.h"

#include <utility>
#include <vector>

namespace vhsm::provisioning {

Result<store::ChainEntry> AuditWriter::Append(std::string_view record_json) {
  // Canonicalization (a JSON parse and dump) runs here, on the caller's thread, so the writer's
  // critical path is only SQL and hashing.
  VHSM_ASSIGN_OR_RETURN(store::CanonicalRecord record, store::MakeCanonicalRecord(record_json));
  Slot slot{std::move(record)};
  std::unique_lock<std::mutex> lock(mu_);
  pending_.push_back(&slot);
  while (!slot.done) {
    if (writing_) {
      cv_.wait(lock);
      continue;
    }
    // Become the writer for everything queued so far (our own slot is among it: it was queued
    // before we could see writing_ == false, and only a writer removes slots).
    writing_ = true;
    std::deque<Slot*> batch;
    while (!pending_.empty() && batch.size() < max_batch_) {
      batch.push_back(pending_.front());
      pending_.pop_front();
    }
    lock.unlock();
    WriteBatch(batch);
    lock.lock();
    writing_ = false;
    cv_.notify_all();  // waiters of this batch, and the next writer for what queued meanwhile
  }
  return std::move(slot.result);
}

void AuditWriter::WriteBatch(std::deque<Slot*>& batch) {
  std::vector<store::CanonicalRecord> records;
  records.reserve(batch.size());
  for (Slot* s : batch) records.push_back(std::move(s->record));  // the slot keeps only its result
  Result<std::vector<store::ChainEntry>> written = log_.AppendBatch(records);
  std::lock_guard<std::mutex> lock(mu_);
  if (written.ok()) {
    ++stats_.batches;
    stats_.records += static_cast<int64_t>(batch.size());
    if (static_cast<int64_t>(batch.size()) > stats_.max_batch) stats_.max_batch = static_cast<int64_t>(batch.size());
  } else {
    ++stats_.failed_batches;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Slot* s = batch[i];
    s->result = written.ok() ? Result<store::ChainEntry>(std::move((*written)[i])) : Result<store::ChainEntry>(written.status());
    s->done = true;
  }
}

size_t AuditWriter::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

AuditWriterStats AuditWriter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace vhsm::provisioning
