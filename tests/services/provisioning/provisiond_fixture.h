// provisiond_fixture.h: an in-process vhsm-provisiond for tests. It plays the Attestation
// Service too: an EAR signing key whose JWKS is served by a small HTTP server on 127.0.0.1:0
// (so the URL source, caching and refresh are exercised), and MintEar() builds tokens with the
// same claim layout vhsm-attestd issues (submods.cpu0["ear.status"],
// ["ear.veraison.annotated-evidence"] with report fields and runtime_data_claims["tee-pubkey"]).
// The service runs on http::Server at 127.0.0.1:0 over a store URL (SQLite temp file by default,
// or a PostgreSQL URL for replica tests), with an Ed25519 admin key and a FixedClock.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "base/clock.h"
#include "crypto/keys.h"
#include "http/client.h"
#include "http/server.h"
#include "services/provisioning/ear_token.h"
#include "services/provisioning/provisioning_store.h"
#include "services/provisioning/service.h"
#include "store/database.h"
#include "testing/testdata.h"

namespace vhsm::provisioning::testing {

inline constexpr int64_t kNow = 1800000000;  // 2027-01-15

// The fake Attestation Service: signing key + JWKS endpoint.
class FakeIssuer {
 public:
  FakeIssuer();
  ~FakeIssuer();
  const std::string& jwks_url() const { return jwks_url_; }
  const crypto::PrivateKey& key() const { return key_; }
  const std::string& kid() const { return kid_; }
  // Replaces the signing key (the JWKS then serves only the new one).
  void Rotate();
  int jwks_fetches() const { return fetches_.load(); }

  // Standard EAR claims for `tee_key`; `edit` may change anything before signing.
  nlohmann::json Claims(const crypto::PublicKey& tee_key) const;
  std::string Sign(const nlohmann::json& claims, std::string_view alg_name = "ES256") const;
  std::string MintEar(const crypto::PublicKey& tee_key) const { return Sign(Claims(tee_key)); }

 private:
  crypto::PrivateKey key_;
  std::string kid_;
  mutable std::mutex mu_;
  std::string jwks_;  // guarded by mu_
  std::atomic<int> fetches_{0};
  std::unique_ptr<http::Server> server_;
  std::string jwks_url_;
};

struct InstanceOptions {
  std::string store_url;  // empty: a SQLite file in the instance's temp dir
  size_t max_resource_bytes = 4096;
  std::string jwks_url;  // empty: the FakeIssuer's
  std::string issuer = "vhsm-attestd";
};

// One vhsm-provisiond (replicas: several instances on one store URL).
class Instance {
 public:
  Instance(const FakeIssuer& issuer, const Clock& clock, const crypto::PublicKey& admin_pub, SecretBytes kek,
           const InstanceOptions& options);
  ~Instance();
  bool ok() const { return ok_; }
  const std::string& url() const { return url_; }
  http::Server& server() { return *server_; }
  store::Database& db() { return *db_; }
  ProvisioningStore& store() { return *store_; }
  ProvisioningService& service() { return *service_; }
  const std::string& store_url() const { return store_url_; }

 private:
  bool ok_ = false;
  std::unique_ptr<testdata::TempDir> dir_;
  std::string store_url_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<ProvisioningStore> store_;
  std::unique_ptr<JwksSource> jwks_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<ProvisioningService> service_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
};

// Client side helpers.
std::unique_ptr<http::Client> ClientFor(const std::string& url);
std::string AdminToken(const crypto::PrivateKey& admin, const Clock& clock, int64_t ttl = 300);
http::ClientResponse Send(http::Client& c, std::string_view method, const std::string& path, const std::string& bearer,
                          std::string_view body = {});
SecretBytes TestKek();

class ProvisiondTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Starts an instance over `store_url` ("" = fresh SQLite).
  std::unique_ptr<Instance> Start(const std::string& store_url = "", size_t max_resource_bytes = 4096);
  // Admin helpers against `inst` (expect success).
  void PutResource(Instance& inst, const std::string& path, const std::string& value);
  void PutPolicy(Instance& inst, const std::string& target, const std::string& policy);
  http::ClientResponse Get(Instance& inst, const std::string& path, const std::string& bearer);
  http::ClientResponse Admin(Instance& inst, std::string_view method, const std::string& path,
                             std::string_view body = {});

  FixedClock clock_{kNow};
  std::unique_ptr<FakeIssuer> issuer_;
  std::optional<crypto::PrivateKey> admin_;
};

}  // namespace vhsm::provisioning::testing
