// vhsm-provisiond: the Provisioning Service (key broker). Thin main: reads the TOML config and
// flags, opens the store, loads the KEK, the JWKS source and the admin key, registers the
// service on the HTTP server and serves until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "base/file.h"
#include "base/log.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "http/server.h"
#include "services/provisioning/config.h"
#include "services/provisioning/ear_token.h"
#include "services/provisioning/provisioning_store.h"
#include "services/provisioning/service.h"
#include "store/database.h"

namespace {

using namespace vhsm;  // NOLINT
using provisioning::ProvisiondConfig;

int Fail(const Status& s) {
  std::fprintf(stderr, "vhsm-provisiond: %s\n", s.ToString().c_str());
  return 2;
}

int Run(int argc, char** argv) {
  http::BlockShutdownSignals();
  CLI::App app{"vhsm-provisiond: Provisioning Service (releases secrets to attested vHSMs as JWE)"};
  std::string config_file, listen, tls_cert, tls_key, store, jwks, admin_key, issuer, kek;
  bool dev = false;
  app.add_option("--config", config_file, "TOML configuration file");
  app.add_option("--listen", listen, "HOST:PORT (port 0 picks a free port)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain");
  app.add_option("--tls-key", tls_key, "PEM private key");
  app.add_option("--store", store, "sqlite:PATH (default) or postgresql:// URL");
  app.add_option("--jwks", jwks, "Attestation Service JWKS: file or http(s) URL (.../.well-known/jwks.json)");
  app.add_option("--admin-key", admin_key, "PEM public key (EC P-256 or Ed25519) that signs admin bearer JWTs");
  app.add_option("--issuer", issuer, "required token issuer (default vhsm-attestd)");
  app.add_option("--kek", kek, "key-encryption key: a file with 32 raw bytes or 64 hex digits, or a pkcs11: URI (RFC 7512, with module-path and pin-source) naming an AES-256 key in a token");
  app.add_flag("--dev", dev, "plain HTTP on loopback; an ephemeral KEK when --kek is not given");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  Logger log;
  ProvisiondConfig c;
  if (!config_file.empty()) {
    Result<ProvisiondConfig> loaded = provisioning::LoadProvisiondConfig(config_file);
    if (!loaded.ok()) return Fail(loaded.status());
    c = std::move(*loaded);
  }
  if (!listen.empty()) c.listen = listen;
  if (!tls_cert.empty()) c.tls_cert = tls_cert;
  if (!tls_key.empty()) c.tls_key = tls_key;
  if (!store.empty()) c.store = store;
  if (!jwks.empty()) c.jwks = jwks;
  if (!admin_key.empty()) c.admin_key = admin_key;
  if (!issuer.empty()) c.issuer = issuer;
  if (!kek.empty()) c.kek = kek;
  c.dev = c.dev || dev;

  Result<provisioning::Kek> k = [&]() -> Result<provisioning::Kek> {
    if (!c.kek.empty()) return provisioning::LoadKek(c.kek);
    if (!c.dev) return InvalidArgumentError("--kek: required (resources are encrypted at rest under it)");
    log.Warn("no --kek: using an ephemeral KEK (--dev); stored resources will not open after a restart");
    VHSM_ASSIGN_OR_RETURN(SecretBytes key, crypto::RandomSecret(32));
    return provisioning::MakeKek(std::move(key));
  }();
  if (!k.ok()) return Fail(k.status());

  SystemClock clock;
  Result<std::unique_ptr<store::Database>> db = store::Open(c.store);
  if (!db.ok()) return Fail(db.status().Annotate("--store"));
  Result<std::unique_ptr<provisioning::ProvisioningStore>> pstore =
      provisioning::ProvisioningStore::Open(**db, std::move(*k), clock);
  if (!pstore.ok()) return Fail(pstore.status().Annotate("--store"));

  provisioning::JwksSourceOptions jo;
  jo.location = c.jwks;
  jo.ca_file = c.jwks_ca_file;
  jo.min_refresh_interval_ms = c.jwks_min_refresh_ms;
  jo.logger = &log;
  Result<std::unique_ptr<provisioning::JwksSource>> source = provisioning::JwksSource::Create(jo, clock);
  if (!source.ok()) return Fail(source.status());
  provisioning::TokenVerifierOptions vo;
  vo.issuer = c.issuer;
  vo.clock_skew_seconds = c.clock_skew_seconds;
  vo.cache_entries = static_cast<size_t>(c.token_cache_entries);
  provisioning::TokenVerifier verifier(vo, **source, clock);

  provisioning::ServiceOptions so;
  so.clock = &clock;
  so.max_resource_bytes = static_cast<size_t>(c.max_resource_bytes);
  so.log = &log;
  so.audit_batch_wait = std::chrono::microseconds(c.audit_batch_wait_us);
  so.audit_wait_spin = std::chrono::microseconds(c.audit_wait_spin_us);
  if (!c.admin_key.empty()) {
    Result<std::string> pem = ReadFileText(c.admin_key, 64 * 1024);
    if (!pem.ok()) return Fail(pem.status().Annotate("--admin-key"));
    Result<crypto::PublicKey> ak = crypto::PublicKey::FromPem(*pem);
    if (!ak.ok()) return Fail(ak.status().Annotate("--admin-key"));
    so.admin_key = std::move(*ak);
  } else {
    log.Warn("no --admin-key: the admin API answers 401 to everything");
  }
  Result<std::unique_ptr<provisioning::ProvisioningService>> service =
      provisioning::ProvisioningService::Create(std::move(so), **pstore, verifier);
  if (!service.ok()) return Fail(service.status());

  http::ServerOptions ho;
  ho.listen = c.listen;
  ho.tls_cert_file = c.tls_cert;
  ho.tls_key_file = c.tls_key;
  ho.dev = c.dev;
  ho.max_body_bytes = static_cast<size_t>(c.max_resource_bytes) + 64 * 1024;
  ho.logger = &log;
  Result<std::unique_ptr<http::Server>> server = http::Server::Create(ho);
  if (!server.ok()) return Fail(server.status());
  (*service)->Register(**server);
  if (Status s = (*server)->Start(); !s.ok()) return Fail(s);
  std::fflush(stdout);
  http::WaitForShutdownSignal();
  (*server)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
