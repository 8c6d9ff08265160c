// provisioning_store.cc
#include "services/provisioning/provisioning_store.h"

#include <algorithm>

#include "base/file.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "p11/key.h"
#include "store/migrate.h"

namespace vhsm::provisioning {

using nlohmann::json;

namespace {

// Distinct policy keys whose parsed form is kept; beyond it the cache starts over.
constexpr size_t kPolicyCacheEntries = 1024;

Bytes ResourceAad(const std::string& path, int64_t version) {
  return ToBytes("vhsm-provisiond/resource/v1\n" + path + "\n" + std::to_string(version));
}

Result<ResourceInfo> InfoFromRow(const store::Row& row) {
  ResourceInfo i;
  VHSM_ASSIGN_OR_RETURN(i.path, row.Text("path"));
  VHSM_ASSIGN_OR_RETURN(i.version, row.Int("version"));
  VHSM_ASSIGN_OR_RETURN(i.size_bytes, row.Int("size_bytes"));
  VHSM_ASSIGN_OR_RETURN(i.created_at, row.Int("created_at"));
  VHSM_ASSIGN_OR_RETURN(i.updated_at, row.Int("updated_at"));
  VHSM_ASSIGN_OR_RETURN(i.kek_id, row.Text("kek_id"));
  return i;
}

// The columns of a resource row as LookupResource()/LookupForRelease() read it, and its decoding.
#define VHSM_SEALED_RESOURCE_COLUMNS "path, version, size_bytes, created_at, updated_at, kek_id, value"

Result<SealedResource> SealedFromRow(const store::Row& row) {
  SealedResource r;
  VHSM_ASSIGN_OR_RETURN(r.info, InfoFromRow(row));
  VHSM_ASSIGN_OR_RETURN(r.sealed, row.Blob("value"));
  return r;
}

}  // namespace

const std::vector<store::Migration>& ProvisioningMigrations() {
  static const std::vector<store::Migration> kMigrations = {
      {1, "create resources and policies tables",
       "CREATE TABLE prov_resources (path TEXT PRIMARY KEY, version BIGINT NOT NULL, kek_id TEXT NOT NULL,"
       " value {{BLOB}} NOT NULL, size_bytes BIGINT NOT NULL, created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL);"
       "CREATE TABLE prov_policies (path TEXT PRIMARY KEY, policy TEXT NOT NULL, updated_at BIGINT NOT NULL)"},
  };
  return kMigrations;
}

Result<Kek> MakeKek(SecretBytes key) {
  if (key.size() != crypto::kAes256KeySize) {
    return InvalidArgumentError("KEK: got " + std::to_string(key.size()) + " bytes, want 32 (AES-256)");
  }
  Bytes input = ToBytes("vhsm-provisiond KEK id v1");
  input.insert(input.end(), key.Expose().begin(), key.Expose().end());
  Bytes d = crypto::Sha256(input);
  std::fill(input.begin(), input.end(), uint8_t{0});
  Kek k;
  k.id = HexEncode(ByteSpan(d.data(), 8));
  k.key = std::move(key);
  return k;
}

Result<Kek> MakeTokenKek(std::shared_ptr<p11::Key> key) {
  if (!key || !key->has_secret_key()) {
    return InvalidArgumentError("KEK: the PKCS#11 URI names no secret key object (want an AES-256 key)");
  }
  const Bytes zero_iv(crypto::kAesGcmIvSize, 0);
  const Bytes zero_block(16, 0);
  VHSM_ASSIGN_OR_RETURN(Bytes check, key->AeadEncrypt(zero_iv, ToBytes("vhsm-provisiond KEK check value"), zero_block));
  Bytes input = ToBytes("vhsm-provisiond KEK id v1 pkcs11");
  input.insert(input.end(), check.begin(), check.end());
  const Bytes d = crypto::Sha256(input);
  Kek k;
  k.id = HexEncode(ByteSpan(d.data(), 8));
  k.hsm = std::move(key);
  return k;
}

Result<Bytes> SealUnderKek(const Kek& kek, ByteSpan value, ByteSpan aad) {
  if (!kek.hsm) return crypto::AesGcmSealCombined(kek.key, value, aad);
  VHSM_ASSIGN_OR_RETURN(Bytes iv, crypto::RandomBytes(crypto::kAesGcmIvSize));
  VHSM_ASSIGN_OR_RETURN(Bytes ct, kek.hsm->AeadEncrypt(iv, aad, value));
  iv.insert(iv.end(), ct.begin(), ct.end());
  return iv;
}

Result<SecretBytes> OpenUnderKek(const Kek& kek, ByteSpan sealed, ByteSpan aad) {
  if (!kek.hsm) return crypto::AesGcmOpenCombined(kek.key, sealed, aad);
  if (sealed.size() < crypto::kAesGcmIvSize + crypto::kAesGcmTagSize) {
    return InvalidArgumentError("sealed value: " + std::to_string(sealed.size()) + " bytes, want at least 28");
  }
  return kek.hsm->AeadDecrypt(sealed.subspan(0, crypto::kAesGcmIvSize), aad, sealed.subspan(crypto::kAesGcmIvSize));
}

Result<Kek> LoadKek(const std::string& path_or_uri) {
  if (path_or_uri.rfind("pkcs11:", 0) == 0) {
    Result<std::unique_ptr<p11::Key>> key = p11::Key::Open(path_or_uri);
    if (!key.ok()) return Status(key.status().code(), "--kek: " + key.status().message());
    return MakeTokenKek(std::shared_ptr<p11::Key>(std::move(*key)));
  }
  VHSM_ASSIGN_OR_RETURN(Bytes raw, ReadFileBytes(path_or_uri, 4096));
  SecretBytes bytes(raw);
  std::fill(raw.begin(), raw.end(), uint8_t{0});
  if (bytes.size() == 32) return MakeKek(std::move(bytes));
  std::string_view text(reinterpret_cast<const char*>(bytes.Expose().data()), bytes.size());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (text.size() != 64) {
    return InvalidArgumentError("--kek " + path_or_uri + ": want 32 raw bytes or 64 hex digits, got " +
                                std::to_string(bytes.size()) + " bytes");
  }
  Result<Bytes> decoded = HexDecode(text);
  if (!decoded.ok()) return InvalidArgumentError("--kek " + path_or_uri + ": not 64 hex digits");
  SecretBytes key(*decoded);
  std::fill(decoded->begin(), decoded->end(), uint8_t{0});
  return MakeKek(std::move(key));
}

json ResourceInfo::ToJson() const {
  return json{{"path", path},           {"version", version},       {"size_bytes", size_bytes},
              {"created_at", created_at}, {"updated_at", updated_at}, {"kek_id", kek_id}};
}

Result<std::unique_ptr<ProvisioningStore>> ProvisioningStore::Open(store::Database& db, Kek kek, const Clock& clock) {
  VHSM_RETURN_IF_ERROR(store::Migrate(db, kSchemaComponent, ProvisioningMigrations()));
  VHSM_ASSIGN_OR_RETURN(store::HashChainLog log, store::HashChainLog::Open(db, std::string(kAuditTable), clock));
  return std::unique_ptr<ProvisioningStore>(new ProvisioningStore(db, std::move(kek), clock, std::move(log)));
}

Result<ResourceInfo> ProvisioningStore::PutResource(const ResourcePath& rp, ByteSpan value) {
  const std::string path = rp.ToString();
  ResourceInfo info;
  Status s = db_.InTransaction([&](store::Transaction& tx) -> Status {
    VHSM_ASSIGN_OR_RETURN(store::Rows rows,
                          tx.Query("SELECT version, created_at FROM prov_resources WHERE path = $1", {path}));
    const int64_t now = clock_.NowUnix();
    info = ResourceInfo{};
    info.path = path;
    info.size_bytes = static_cast<int64_t>(value.size());
    info.updated_at = now;
    info.created_at = now;
    info.kek_id = kek_.id;
    info.version = 1;
    if (!rows.empty()) {
      VHSM_ASSIGN_OR_RETURN(int64_t old_version, rows[0].Int(0));
      VHSM_ASSIGN_OR_RETURN(info.created_at, rows[0].Int(1));
      info.version = old_version + 1;
    }
    VHSM_ASSIGN_OR_RETURN(Bytes sealed, SealUnderKek(kek_, value, ResourceAad(path, info.version)));
    if (rows.empty()) {
      return tx
          .Exec("INSERT INTO prov_resources (path, version, kek_id, value, size_bytes, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                {path, info.version, info.kek_id, std::move(sealed), info.size_bytes, info.created_at, now})
          .status();
    }
    return tx
        .Exec("UPDATE prov_resources SET version = $2, kek_id = $3, value = $4, size_bytes = $5, updated_at = $6"
              " WHERE path = $1",
              {path, info.version, info.kek_id, std::move(sealed), info.size_bytes, now})
        .status();
  });
  VHSM_RETURN_IF_ERROR(s);
  return info;
}

Status ProvisioningStore::DeleteResource(const ResourcePath& rp) {
  VHSM_ASSIGN_OR_RETURN(int64_t n, db_.Exec("DELETE FROM prov_resources WHERE path = $1", {rp.ToString()}));
  if (n == 0) return NotFoundError("resource " + rp.ToString() + ": not found");
  return OkStatus();
}

Result<SecretBytes> ProvisioningStore::GetResource(const ResourcePath& rp, ResourceInfo* info_out) {
  VHSM_ASSIGN_OR_RETURN(SealedResource r, LookupResource(rp));
  VHSM_ASSIGN_OR_RETURN(SecretBytes value, OpenResource(r));
  if (info_out) *info_out = std::move(r.info);
  return value;
}

Result<SealedResource> ProvisioningStore::LookupResource(const ResourcePath& rp) {
  const std::string path = rp.ToString();
  VHSM_ASSIGN_OR_RETURN(store::Rows rows,
                        db_.Query("SELECT " VHSM_SEALED_RESOURCE_COLUMNS " FROM prov_resources WHERE path = $1", {path}));
  if (rows.empty()) return NotFoundError("resource " + path + ": not found");
  return SealedFromRow(rows[0]);
}

Result<SecretBytes> ProvisioningStore::OpenResource(const SealedResource& r) {
  const ResourceInfo& info = r.info;
  if (info.kek_id != kek_.id) {
    return DataLossError("resource " + info.path + ": encrypted under KEK id " + info.kek_id +
                         ", configured KEK id is " + kek_.id);
  }
  values_opened_.fetch_add(1);
  Result<SecretBytes> value = OpenUnderKek(kek_, r.sealed, ResourceAad(info.path, info.version));
  if (!value.ok()) {
    return DataLossError("resource " + info.path + " version " + std::to_string(info.version) +
                         ": stored value does not open under the KEK (" + value.status().message() + ")");
  }
  return value;
}

Result<std::vector<ResourceInfo>> ProvisioningStore::ListResources() {
  VHSM_ASSIGN_OR_RETURN(store::Rows rows, db_.Query("SELECT path, version, size_bytes, created_at, updated_at, kek_id"
                                                    " FROM prov_resources ORDER BY path"));
  std::vector<ResourceInfo> out;
  for (const store::Row& r : rows) {
    VHSM_ASSIGN_OR_RETURN(ResourceInfo i, InfoFromRow(r));
    out.push_back(std::move(i));
  }
  return out;
}

Status ProvisioningStore::PutPolicy(const std::string& key, const ReleasePolicy& policy) {
  return db_.InTransaction([&](store::Transaction& tx) -> Status {
    const int64_t now = clock_.NowUnix();
    VHSM_ASSIGN_OR_RETURN(int64_t n, tx.Exec("UPDATE prov_policies SET policy = $2, updated_at = $3 WHERE path = $1",
                                             {key, policy.canonical_text(), now}));
    if (n > 0) return OkStatus();
    return tx.Exec("INSERT INTO prov_policies (path, policy, updated_at) VALUES ($1, $2, $3)",
                   {key, policy.canonical_text(), now})
        .status();
  });
}

Result<std::string> ProvisioningStore::GetPolicy(const std::string& key) {
  VHSM_ASSIGN_OR_RETURN(store::Rows rows, db_.Query("SELECT policy FROM prov_policies WHERE path = $1", {key}));
  if (rows.empty()) return NotFoundError("policy " + key + ": not found");
  return rows[0].Text(0);
}

Status ProvisioningStore::DeletePolicy(const std::string& key) {
  VHSM_ASSIGN_OR_RETURN(int64_t n, db_.Exec("DELETE FROM prov_policies WHERE path = $1", {key}));
  if (n == 0) return NotFoundError("policy " + key + ": not found");
  return OkStatus();
}

Result<std::shared_ptr<const ReleasePolicy>> ProvisioningStore::ParsedPolicy(const std::string& key,
                                                                             const std::string& text) {
  {
    std::lock_guard<std::mutex> lock(policy_cache_mu_);
    auto it = policy_cache_.find(key);
    if (it != policy_cache_.end() && it->second.first == text) return it->second.second;
  }
  Result<ReleasePolicy> p = ReleasePolicy::Parse(text);
  if (!p.ok()) return DataLossError("stored policy " + key + " no longer parses: " + p.status().message());
  auto parsed = std::make_shared<const ReleasePolicy>(std::move(*p));
  std::lock_guard<std::mutex> lock(policy_cache_mu_);
  if (policy_cache_.size() >= kPolicyCacheEntries) policy_cache_.clear();
  policy_cache_[key] = {text, parsed};
  return parsed;
}

Result<ProvisioningStore::ReleaseLookup> ProvisioningStore::LookupForRelease(const ResourcePath& rp) {
  const std::string path = rp.ToString();
  const std::vector<std::string> keys = rp.PolicyKeys();
  // Three indexed point lookups as scalar subqueries: no join to materialize or sort (a LEFT JOIN
  // on the most specific of the IN (...) rows measured slower than the two separate queries).
  VHSM_ASSIGN_OR_RETURN(
      store::Rows rows,
      db_.Query("SELECT " VHSM_SEALED_RESOURCE_COLUMNS ","
                " (SELECT policy FROM prov_policies WHERE path = $2) AS policy0,"
                " (SELECT policy FROM prov_policies WHERE path = $3) AS policy1,"
                " (SELECT policy FROM prov_policies WHERE path = $4) AS policy2"
                " FROM prov_resources WHERE path = $1",
                {path, keys[0], keys[1], keys[2]}));
  if (rows.empty()) return NotFoundError("resource " + path + ": not found");
  const store::Row& row = rows[0];
  ReleaseLookup out;
  VHSM_ASSIGN_OR_RETURN(out.resource, SealedFromRow(row));
  // Most specific wins: the first of `keys` (full path, then repo/type/, then repo/) present.
  for (size_t i = 0; i < keys.size(); ++i) {
    if (row.IsNull(7 + i)) continue;
    VHSM_ASSIGN_OR_RETURN(std::string text, row.Text(7 + i));
    VHSM_ASSIGN_OR_RETURN(std::shared_ptr<const ReleasePolicy> p, ParsedPolicy(keys[i], text));
    out.policy = ApplicablePolicy{keys[i], std::move(p)};
    break;
  }
  return out;
}

#undef VHSM_SEALED_RESOURCE_COLUMNS

}  // namespace vhsm::provisioning
