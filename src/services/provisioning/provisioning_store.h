// provisioning_store.h: the Provisioning Service's persistent state on store::Database (SQLite
// by default, PostgreSQL for replicas): resources, release policies and the hash-chained audit
// log. Resource values are sealed with AES-256-GCM under the KEK; the AAD binds each ciphertext
// to its resource path and version ("vhsm-provisiond/resource/v1\n<path>\n<version>"), so a row
// copied to another path or an old ciphertext put back under a newer version does not open.
// Each row records the KEK id (a public fingerprint of the KEK) so a wrong KEK is reported as
// such. Every call reads the database, so several replicas on one PostgreSQL see each other's
// writes at once; the only in-process cache maps a policy's stored text to its parsed form (a
// changed text is parsed afresh, so it cannot go stale). Schema migrations: component
// "provisioning".
// Errors are the store's (kUnavailable when the database is gone: HTTP 503), kNotFound for
// absent rows, kDataLoss for a value that does not open under the KEK. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "services/provisioning/release_policy.h"
#include "services/provisioning/resource_path.h"
#include "store/database.h"
#include "store/hash_chain.h"
#include "store/migrate.h"

namespace vhsm::p11 {
class Key;
}  // namespace vhsm::p11

namespace vhsm::provisioning {

inline constexpr std::string_view kAuditTable = "prov_audit";
inline constexpr std::string_view kSchemaComponent = "provisioning";

struct Kek {
  SecretBytes key;                // 32 bytes, when the KEK is local (a file, or ephemeral with --dev)
  std::shared_ptr<p11::Key> hsm;  // set when the KEK is an AES key in a PKCS#11 token (never read out)
  // hex, 16 characters. Local: SHA-256("vhsm-provisiond KEK id v1" || key)[0..8). In a token:
  // SHA-256("vhsm-provisiond KEK id v1 pkcs11" || GCM(KEK, iv 0^12, aad label, 0^16))[0..8), a
  // key check value, so the same token key gives the same id whatever URI names it.
  std::string id;
};
// From 32 raw bytes. kInvalidArgument for another length.
Result<Kek> MakeKek(SecretBytes key);
// From an AES-256 secret key object in a token (p11::Key with has_secret_key()).
Result<Kek> MakeTokenKek(std::shared_ptr<p11::Key> key);
// A KEK file holds 32 raw bytes or 64 hex digits (surrounding whitespace ignored); it should be
// mode 0600. A "pkcs11:" URI (RFC 7512, with module-path and pin-value/pin-source in the URI)
// names an AES-256 key in a token: values are then sealed by the token with CKM_AES_GCM.
Result<Kek> LoadKek(const std::string& path_or_uri);
// iv(12) || ciphertext || tag(16) under the KEK, local or in the token.
Result<Bytes> SealUnderKek(const Kek& kek, ByteSpan value, ByteSpan aad);
// Inverse of SealUnderKek; kUnauthenticated / kInvalidArgument as crypto::AesGcmOpenCombined.
Result<SecretBytes> OpenUnderKek(const Kek& kek, ByteSpan sealed, ByteSpan aad);

struct ResourceInfo {
  std::string path;
  int64_t version = 0;
  int64_t size_bytes = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::string kek_id;
  nlohmann::json ToJson() const;
};

struct ApplicablePolicy {
  std::string key;  // "repo/", "repo/type/" or "repo/type/tag"
  std::shared_ptr<const ReleasePolicy> policy;  // never null
};

// A resource row as stored: metadata plus the value still sealed under the KEK. Looking a
// resource up does not decrypt it; OpenResource() does, and the service calls it only once the
// release policy allowed the release.
struct SealedResource {
  ResourceInfo info;
  Bytes sealed;  // iv || ciphertext || tag
};

class ProvisioningStore {
 public:
  // Runs the migrations. `db` and `clock` must outlive the store.
  static Result<std::unique_ptr<ProvisioningStore>> Open(store::Database& db, Kek kek, const Clock& clock);

  // Creates or replaces a value; the version increases by one per write.
  Result<ResourceInfo> PutResource(const ResourcePath& path, ByteSpan value);
  // kNotFound when absent.
  Status DeleteResource(const ResourcePath& path);
  // The decrypted value. kNotFound when absent; kDataLoss for another KEK or a tampered row.
  Result<SecretBytes> GetResource(const ResourcePath& path, ResourceInfo* info = nullptr);
  // The row without decrypting it. kNotFound when absent.
  Result<SealedResource> LookupResource(const ResourcePath& path);
  // Decrypts a looked-up row. kDataLoss for another KEK or a tampered row.
  Result<SecretBytes> OpenResource(const SealedResource& resource);
  // How many values this store has decrypted (GetResource/OpenResource); for tests and metrics.
  int64_t values_opened() const { return values_opened_.load(); }
  // Metadata only, sorted by path.
  Result<std::vector<ResourceInfo>> ListResources();

  Status PutPolicy(const std::string& key, const ReleasePolicy& policy);
  // The canonical policy text. kNotFound when absent.
  Result<std::string> GetPolicy(const std::string& key);
  Status DeletePolicy(const std::string& key);
  // What a release needs before its decision, in one statement (one snapshot, one round trip):
  // the row as LookupResource() reads it and the most specific policy covering `path` (nullopt:
  // default deny). kNotFound when the resource is absent.
  struct ReleaseLookup {
    SealedResource resource;
    std::optional<ApplicablePolicy> policy;
  };
  Result<ReleaseLookup> LookupForRelease(const ResourcePath& path);

  store::HashChainLog& audit() { return audit_; }
  store::Database& db() { return db_; }
  const std::string& kek_id() const { return kek_.id; }

 private:
  ProvisioningStore(store::Database& db, Kek kek, const Clock& clock, store::HashChainLog audit)
      : db_(db), kek_(std::move(kek)), clock_(clock), audit_(std::move(audit)) {}
  // The parsed policy for stored text `text` under `key` (cached; see the header comment).
  Result<std::shared_ptr<const ReleasePolicy>> ParsedPolicy(const std::string& key, const std::string& text);

  store::Database& db_;
  Kek kek_;
  const Clock& clock_;
  store::HashChainLog audit_;
  std::atomic<int64_t> values_opened_{0};
  std::mutex policy_cache_mu_;
  // key -> (stored text, parsed); guarded by policy_cache_mu_, at most kPolicyCacheEntries.
  std::unordered_map<std::string, std::pair<std::string, std::shared_ptr<const ReleasePolicy>>> policy_cache_;
};

// The migrations of component "provisioning" (exposed for tests and `vhsm audit verify`).
const std::vector<store::Migration>& ProvisioningMigrations();

}  // namespace vhsm::provisioning
