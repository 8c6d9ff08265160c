#include "vhsm/sealed_store.h"

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <thread>

#include "base/byte_reader.h"
#include "crypto/error.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::hsm {
namespace {

constexpr std::string_view kCheckPlaintext = "vhsm sealed store key check v1";
constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;

struct StmtFree {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFree>;

Bytes Aad(std::string_view kind, uint64_t id) {
  ByteWriter w;
  w.WriteBytes(AsBytes("vhsm-store-v1|"));
  w.WriteBytes(AsBytes(kind));
  w.WriteU8('|');
  w.WriteU64Le(id);
  return w.Take();
}

}  // namespace

Bytes EncodeKeyRequest(const snp::DerivedKeyRequest& r) {
  ByteWriter w;
  w.WriteU32Le(1);  // encoding version
  w.WriteU32Le(static_cast<uint32_t>(r.root_key_select));
  w.WriteU64Le(r.guest_field_select);
  w.WriteU32Le(r.vmpl);
  w.WriteU32Le(r.guest_svn);
  w.WriteU64Le(r.tcb_version);
  w.WriteU64Le(r.launch_mit_vector);
  return w.Take();
}

Result<snp::DerivedKeyRequest> DecodeKeyRequest(ByteSpan b) {
  ByteReader r(b);
  VHSM_ASSIGN_OR_RETURN(uint32_t v, r.ReadU32Le("kdf.version"));
  if (v != 1) return DataLossError("kdf.version: got " + std::to_string(v) + ", want 1");
  snp::DerivedKeyRequest q;
  VHSM_ASSIGN_OR_RETURN(uint32_t root, r.ReadU32Le("kdf.root_key_select"));
  if (root > 1) return DataLossError("kdf.root_key_select: got " + std::to_string(root));
  q.root_key_select = static_cast<snp::RootKey>(root);
  VHSM_ASSIGN_OR_RETURN(q.guest_field_select, r.ReadU64Le("kdf.guest_field_select"));
  VHSM_ASSIGN_OR_RETURN(q.vmpl, r.ReadU32Le("kdf.vmpl"));
  VHSM_ASSIGN_OR_RETURN(q.guest_svn, r.ReadU32Le("kdf.guest_svn"));
  VHSM_ASSIGN_OR_RETURN(q.tcb_version, r.ReadU64Le("kdf.tcb_version"));
  VHSM_ASSIGN_OR_RETURN(q.launch_mit_vector, r.ReadU64Le("kdf.launch_mit_vector"));
  if (!r.empty()) return DataLossError("kdf: trailing bytes");
  return q;
}

SealedStore::~SealedStore() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status SealedStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return DataLossError(path_ + ": " + msg);
  }
  return OkStatus();
}

Result<Bytes> SealedStore::Seal(std::string_view kind, uint64_t id, ByteSpan plaintext) const {
  Bytes out(kNonce + plaintext.size() + kTag);
  if (RAND_bytes(out.data(), static_cast<int>(kNonce)) != 1) return crypto::OpenSslError("nonce");
  Bytes aad = Aad(kind, id);
  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key_.Expose().data(), out.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kNonce, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonce + len, &len) != 1) {
    return crypto::OpenSslError("seal " + std::string(kind));
  }
  OSSL_PARAM tp[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                       out.data() + kNonce + plaintext.size(), kTag),
                     OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_get_params(ctx.get(), tp) != 1) return crypto::OpenSslError("seal tag");
  return out;
}

Result<SecretBytes> SealedStore::Unseal(std::string_view kind, uint64_t id, ByteSpan blob) const {
  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key_.Expose().data(), nullptr, nullptr) != 1) {
    return crypto::OpenSslError("unseal " + std::string(kind) + ": cipher init");
  }
  return UnsealWith(ctx.get(), kind, id, blob);
}

Result<SecretBytes> SealedStore::UnsealWith(EVP_CIPHER_CTX* keyed, std::string_view kind, uint64_t id,
                                            ByteSpan blob) const {
  if (blob.size() < kNonce + kTag) {
    return DataLossError(path_ + ": " + std::string(kind) + " " + std::to_string(id) + ": sealed blob of " +
                         std::to_string(blob.size()) + " bytes, want >= 28");
  }
  Bytes aad = Aad(kind, id);
  ByteSpan ct = blob.subspan(kNonce, blob.size() - kNonce - kTag);
  SecretBytes out(ct.size());
  int len = 0;
  OSSL_PARAM tp[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                       const_cast<uint8_t*>(blob.data() + blob.size() - kTag), kTag),
                     OSSL_PARAM_construct_end()};
  // Key and cipher stay from the caller's init; only the IV (and so the GCM state) is reset.
  if (EVP_DecryptInit_ex2(keyed, nullptr, nullptr, blob.data(), nullptr) != 1 ||
      EVP_DecryptUpdate(keyed, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(keyed, out.MutableExpose().data(), &len, ct.data(), static_cast<int>(ct.size())) != 1 ||
      EVP_CIPHER_CTX_set_params(keyed, tp) != 1 ||
      EVP_DecryptFinal_ex(keyed, out.MutableExpose().data() + len, &len) != 1) {
    crypto::ClearOpenSslErrors();
    return DataLossError(path_ + ": " + std::string(kind) + " " + std::to_string(id) +
                         ": authentication failed (tampered row or wrong sealing key)");
  }
  return out;
}

Result<std::unique_ptr<SealedStore>> SealedStore::Open(const std::string& path, snp::Firmware& firmware,
                                                       const snp::DerivedKeyRequest& request) {
  std::unique_ptr<SealedStore> s(new SealedStore());
  s->path_ = path;
  if (sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return DataLossError(path + ": cannot open: " + (s->db_ ? sqlite3_errmsg(s->db_) : "out of memory"));
  }
  sqlite3_busy_timeout(s->db_, 5000);
  VHSM_RETURN_IF_ERROR(s->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  VHSM_RETURN_IF_ERROR(s->Exec(
      "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS objects(id INTEGER PRIMARY KEY, blob BLOB NOT NULL);"));
  // Header: format, derivation inputs, key check.
  auto get_meta = [&](const char* k) -> std::optional<Bytes> {
    sqlite3_stmt* raw = nullptr;
    sqlite3_prepare_v2(s->db_, "SELECT v FROM meta WHERE k=?", -1, &raw, nullptr);
    StmtPtr st(raw);
    sqlite3_bind_text(st.get(), 1, k, -1, SQLITE_STATIC);
    if (sqlite3_step(st.get()) != SQLITE_ROW) return std::nullopt;
    const uint8_t* p = static_cast<const uint8_t*>(sqlite3_column_blob(st.get(), 0));
    return Bytes(p, p + sqlite3_column_bytes(st.get(), 0));
  };
  std::optional<Bytes> kdf = get_meta("kdf");
  snp::DerivedKeyRequest effective = request;
  if (kdf) {
    VHSM_ASSIGN_OR_RETURN(effective, DecodeKeyRequest(*kdf));
  }
  Result<SecretBytes> key = firmware.GetDerivedKey(effective);
  if (!key.ok()) return key.status().Annotate("deriving the store sealing key");
  if (key->size() != 32) return InternalError("derived key: got " + std::to_string(key->size()) + " bytes, want 32");
  s->key_ = std::move(*key);
  if (kdf) {
    std::optional<Bytes> check = get_meta("check");
    if (!check) return DataLossError(path + ": header has kdf but no key check");
    Result<SecretBytes> pt = s->Unseal("check", 0, *check);
    if (!pt.ok() || !ConstantTimeEquals(pt->Expose(), AsBytes(kCheckPlaintext))) {
      return PermissionDeniedError(path + ": the platform sealing key does not open this store (sealed to "
                                   "another measurement/policy or another machine; derivation inputs " +
                                   HexEncode(EncodeKeyRequest(effective)) + ")");
    }
    return s;
  }
  VHSM_ASSIGN_OR_RETURN(Bytes check, s->Seal("check", 0, AsBytes(kCheckPlaintext)));
  Bytes kdf_bytes = EncodeKeyRequest(request);
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(s->db_, "INSERT INTO meta(k, v) VALUES ('format', x'01'), ('kdf', ?), ('check', ?)", -1, &raw,
                     nullptr);
  StmtPtr st(raw);
  sqlite3_bind_blob(st.get(), 1, kdf_bytes.data(), static_cast<int>(kdf_bytes.size()), SQLITE_TRANSIENT);
  sqlite3_bind_blob(st.get(), 2, check.data(), static_cast<int>(check.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return DataLossError(path + ": writing header: " + sqlite3_errmsg(s->db_));
  return s;
}

Result<std::optional<SecretBytes>> SealedStore::LoadTokenRecord() {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(db_, "SELECT v FROM meta WHERE k='token'", -1, &raw, nullptr);
  StmtPtr st(raw);
  if (sqlite3_step(st.get()) != SQLITE_ROW) return std::optional<SecretBytes>();
  const uint8_t* p = static_cast<const uint8_t*>(sqlite3_column_blob(st.get(), 0));
  VHSM_ASSIGN_OR_RETURN(SecretBytes rec,
                        Unseal("token", 0, ByteSpan(p, static_cast<size_t>(sqlite3_column_bytes(st.get(), 0)))));
  return std::optional<SecretBytes>(std::move(rec));
}

Status SealedStore::SaveTokenRecord(ByteSpan record) {
  VHSM_ASSIGN_OR_RETURN(Bytes blob, Seal("token", 0, record));
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta(k, v) VALUES ('token', ?)", -1, &raw, nullptr);
  StmtPtr st(raw);
  sqlite3_bind_blob(st.get(), 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return DataLossError(path_ + ": saving token: " + sqlite3_errmsg(db_));
  return OkStatus();
}

Status SealedStore::PutObject(uint64_t id, ByteSpan body) {
  VHSM_ASSIGN_OR_RETURN(Bytes blob, Seal("object", id, body));
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO objects(id, blob) VALUES (?, ?)", -1, &raw, nullptr);
  StmtPtr st(raw);
  sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(id));
  sqlite3_bind_blob(st.get(), 2, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.get()) != SQLITE_DONE) {
    return DataLossError(path_ + ": storing object " + std::to_string(id) + ": " + sqlite3_errmsg(db_));
  }
  return OkStatus();
}

Status SealedStore::DeleteObject(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(db_, "DELETE FROM objects WHERE id=?", -1, &raw, nullptr);
  StmtPtr st(raw);
  sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(id));
  if (sqlite3_step(st.get()) != SQLITE_DONE) {
    return DataLossError(path_ + ": deleting object " + std::to_string(id) + ": " + sqlite3_errmsg(db_));
  }
  return OkStatus();
}

Status SealedStore::DeleteAllObjects() {
  std::lock_guard<std::mutex> lock(mu_);
  return Exec("DELETE FROM objects");
}

Status SealedStore::ApplyObjectBatch(const std::vector<std::pair<uint64_t, ByteSpan>>& puts,
                                     const std::vector<uint64_t>& deletes,
                                     const std::function<void(size_t)>& after_write) {
  std::vector<Bytes> blobs;
  blobs.reserve(puts.size());
  for (const auto& [id, body] : puts) {
    VHSM_ASSIGN_OR_RETURN(Bytes blob, Seal("object", id, body));
    blobs.push_back(std::move(blob));
  }
  std::lock_guard<std::mutex> lock(mu_);
  VHSM_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](const std::string& what) {
    std::string msg = path_ + ": " + what + ": " + sqlite3_errmsg(db_);
    Exec("ROLLBACK").IgnoreError();
    return DataLossError(msg);
  };
  for (size_t i = 0; i < puts.size(); ++i) {
    sqlite3_stmt* raw = nullptr;
    sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO objects(id, blob) VALUES (?, ?)", -1, &raw, nullptr);
    StmtPtr st(raw);
    sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(puts[i].first));
    sqlite3_bind_blob(st.get(), 2, blobs[i].data(), static_cast<int>(blobs[i].size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st.get()) != SQLITE_DONE) return fail("storing object " + std::to_string(puts[i].first));
    if (after_write) after_write(i);
  }
  for (uint64_t id : deletes) {
    sqlite3_stmt* raw = nullptr;
    sqlite3_prepare_v2(db_, "DELETE FROM objects WHERE id=?", -1, &raw, nullptr);
    StmtPtr st(raw);
    sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(id));
    if (sqlite3_step(st.get()) != SQLITE_DONE) return fail("deleting object " + std::to_string(id));
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");
  return OkStatus();
}

Status SealedStore::ForEachObject(const std::function<Status(uint64_t id, SecretBytes body)>& fn) {
  return ForEachObjectParallel(1, [&](unsigned, uint64_t id, SecretBytes body) { return fn(id, std::move(body)); });
}

Status SealedStore::ForEachObjectParallel(unsigned workers, const ParallelObjectFn& fn) {
  if (workers == 0) workers = 1;
  // Split points: the id at each 1/workers quantile (ids are the primary key, so OFFSET walks the
  // index, not the blobs). Worker w reads ids in [bounds[w], bounds[w+1]) itself, straight from
  // SQLite's page buffers: no serial copy of the whole table first.
  std::vector<int64_t> bounds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t count = 0;
    {
      sqlite3_stmt* raw = nullptr;
      sqlite3_prepare_v2(db_, "SELECT count(*) FROM objects", -1, &raw, nullptr);
      StmtPtr st(raw);
      if (sqlite3_step(st.get()) != SQLITE_ROW) return DataLossError(path_ + ": counting objects: " + sqlite3_errmsg(db_));
      count = sqlite3_column_int64(st.get(), 0);
    }
    // Workers past the first read through their own read-only connection; a store that cannot be
    // reopened by path (in-memory) is read by one worker.
    if (count < 2 * static_cast<int64_t>(workers) || path_.empty() || path_ == ":memory:") workers = 1;
    bounds.push_back(std::numeric_limits<int64_t>::min());
    sqlite3_stmt* raw = nullptr;
    sqlite3_prepare_v2(db_, "SELECT id FROM objects ORDER BY id LIMIT 1 OFFSET ?1", -1, &raw, nullptr);
    StmtPtr st(raw);
    for (unsigned w = 1; w < workers; ++w) {
      sqlite3_reset(st.get());
      sqlite3_bind_int64(st.get(), 1, count * w / workers);
      if (sqlite3_step(st.get()) != SQLITE_ROW) return DataLossError(path_ + ": splitting objects: " + sqlite3_errmsg(db_));
      bounds.push_back(sqlite3_column_int64(st.get(), 0));
    }
    bounds.push_back(std::numeric_limits<int64_t>::max());
  }
  std::vector<Status> results(workers);
  std::atomic<bool> failed{false};
  auto run = [&](unsigned w) {
    auto fail = [&](Status st) {
      results[w] = std::move(st);
      failed = true;
    };
    sqlite3* db = nullptr;
    std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
    if (w == 0) {
      lock.lock();  // worker 0 uses the store's own connection
      db = db_;
    } else if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      fail(DataLossError(path_ + ": cannot reopen for reading: " + (db ? sqlite3_errmsg(db) : "out of memory")));
      sqlite3_close_v2(db);
      return;
    }
    auto close_db = [&] {
      if (w != 0) sqlite3_close_v2(db);
    };
    crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx || EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key_.Expose().data(), nullptr, nullptr) != 1) {
      fail(crypto::OpenSslError("unseal objects: cipher init"));
      close_db();
      return;
    }
    sqlite3_stmt* raw = nullptr;
    sqlite3_prepare_v2(db, "SELECT id, blob FROM objects WHERE id >= ?1 AND id < ?2 ORDER BY id", -1, &raw, nullptr);
    StmtPtr st(raw);
    sqlite3_bind_int64(st.get(), 1, bounds[w]);
    sqlite3_bind_int64(st.get(), 2, bounds[w + 1]);
    int rc = SQLITE_DONE;
    while (!failed.load(std::memory_order_relaxed) && (rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      const uint64_t id = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
      const uint8_t* p = static_cast<const uint8_t*>(sqlite3_column_blob(st.get(), 1));
      const ByteSpan blob(p, static_cast<size_t>(sqlite3_column_bytes(st.get(), 1)));
      Result<SecretBytes> body = UnsealWith(ctx.get(), "object", id, blob);
      Status s = body.ok() ? fn(w, id, std::move(*body)) : body.status();
      if (!s.ok()) {
        fail(std::move(s));
        break;
      }
    }
    if (!failed && rc != SQLITE_DONE) fail(DataLossError(path_ + ": reading objects: " + sqlite3_errmsg(db)));
    st.reset();
    close_db();
  };
  std::vector<std::thread> threads;
  for (unsigned w = 1; w < workers; ++w) threads.emplace_back(run, w);
  run(0);
  for (std::thread& t : threads) t.join();
  for (Status& st : results) {
    if (!st.ok()) return std::move(st);
  }
  return OkStatus();
}

}  // namespace vhsm::hsm
