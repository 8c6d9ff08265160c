// sealed_store.h: the persistent half of a vhsmd token: one SQLite file (WAL) per token holding
// the token record (label, PIN hashes, lockout counters) and the token objects, every row sealed
// with AES-256-GCM under a key from snp::Firmware::GetDerivedKey. The header (meta table) records
// the derivation inputs and a key-check blob; opening the file on a platform whose derived key
// differs (another measurement/policy) fails with PermissionDenied and nothing is decrypted. Each
// row's AAD binds its kind and id, so rows cannot be swapped. A write returns only after its
// transaction committed (crash-safe: kill -9 loses no acknowledged object). Thread-safe (one
// internal mutex; writes are not on the crypto hot path).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "snp/firmware.h"

namespace vhsm::hsm {

class SealedStore {
 public:
  // Opens (or creates) the store file at `path`. A new store is sealed with `request`; an
  // existing one with the request recorded in its header. Errors: DataLoss for a corrupt or
  // foreign file, PermissionDenied when the platform key does not open it, Unavailable when the
  // firmware cannot derive a key.
  static Result<std::unique_ptr<SealedStore>> Open(const std::string& path, snp::Firmware& firmware,
                                                   const snp::DerivedKeyRequest& request);
  ~SealedStore();

  // The token record, or nullopt for a fresh store.
  Result<std::optional<SecretBytes>> LoadTokenRecord();
  Status SaveTokenRecord(ByteSpan record);
  Status PutObject(uint64_t id, ByteSpan body);
  Status DeleteObject(uint64_t id);
  Status DeleteAllObjects();
  // Writes every (id, body) of `puts` and removes every id of `deletes` in ONE SQLite
  // transaction: after a crash (kill -9 included) either all of them happened or none did.
  // `after_write(i)`, when set, runs after the i-th put inside the open transaction (a test seam
  // for pausing or dying mid-batch). Used by provisioning to import a key pair atomically.
  Status ApplyObjectBatch(const std::vector<std::pair<uint64_t, ByteSpan>>& puts, const std::vector<uint64_t>& deletes,
                          const std::function<void(size_t)>& after_write = nullptr);
  // Calls `fn` for every object (decrypted body). Stops at the first error.
  Status ForEachObject(const std::function<Status(uint64_t id, SecretBytes body)>& fn);
  // Start-up load on `workers` threads (>= 1): the ids are split into `workers` contiguous ranges
  // of equal row count, and each worker reads its range through its own read-only SQLite
  // connection (worker 0: the store's, under the store lock) and unseals it with one keyed
  // AES-GCM context (no per-row key schedule). `fn(worker, id, body)` runs on worker `worker`
  // (0..workers-1) concurrently with the other workers, in id order within a worker, so it may
  // only touch per-worker state. Meant for start-up: nothing may write to the store meanwhile.
  // Returns the first error of the lowest-numbered failing worker (DataLoss for a row that does
  // not authenticate); the other workers stop early.
  using ParallelObjectFn = std::function<Status(unsigned worker, uint64_t id, SecretBytes body)>;
  Status ForEachObjectParallel(unsigned workers, const ParallelObjectFn& fn);

 private:
  SealedStore() = default;
  Status Exec(const char* sql);
  Result<Bytes> Seal(std::string_view kind, uint64_t id, ByteSpan plaintext) const;
  Result<SecretBytes> Unseal(std::string_view kind, uint64_t id, ByteSpan blob) const;
  // Unseal with a context already initialised with AES-256-GCM and key_ (only the IV changes).
  Result<SecretBytes> UnsealWith(EVP_CIPHER_CTX* keyed, std::string_view kind, uint64_t id, ByteSpan blob) const;

  std::mutex mu_;
  sqlite3* db_ = nullptr;
  SecretBytes key_;
  std::string path_;
};

// Derivation inputs as stored in the header (stable little-endian encoding).
Bytes EncodeKeyRequest(const snp::DerivedKeyRequest& r);
Result<snp::DerivedKeyRequest> DecodeKeyRequest(ByteSpan b);

}  // namespace vhsm::hsm
