// vhsm-attestd: the Attestation Service (RCAR issuer of EAR tokens). Thin main: reads the TOML
// config and flags, builds the verifier, store, policy, issuer and HTTP server, then serves until
// SIGINT/SIGTERM. SIGHUP reloads the policy file and the signing key file (a changed key is
// rotated in; the old one stays in the JWKS until its tokens expire).
#include <signal.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attest/verifier.h"
#include "base/file.h"
#include "base/log.h"
#include "crypto/keys.h"
#include "http/server.h"
#include "p11/key.h"
#include "p11/uri.h"
#include "services/attestation/config.h"
#include "services/attestation/ear.h"
#include "services/attestation/policy.h"
#include "services/attestation/service.h"
#include "snp/kds.h"
#include "store/database.h"

namespace {

using namespace vhsm;  // NOLINT
using attestation::ServiceConfig;

Result<std::unique_ptr<attestation::TokenSigner>> LoadSigningKey(const ServiceConfig& c, Logger& log) {
  if (p11::IsPkcs11Uri(c.signing_key)) {
    p11::KeyOptions ko;
    ko.module_path = c.pkcs11_module;
    if (!c.pkcs11_pin_file.empty()) {
      Result<Bytes> pin = ReadFileBytes(c.pkcs11_pin_file, p11::kMaxPinBytes + 2);
      if (!pin.ok()) return pin.status().Annotate("pkcs11_pin_file");
      size_t n = pin->size();
      while (n > 0 && ((*pin)[n - 1] == '\n' || (*pin)[n - 1] == '\r')) --n;
      ko.pin = SecretBytes(ByteSpan(*pin).first(n));
      std::fill(pin->begin(), pin->end(), 0);
    }
    Result<std::unique_ptr<p11::Key>> key = p11::Key::Open(c.signing_key, std::move(ko));
    if (!key.ok()) return key.status().Annotate("--signing-key");
    const std::string desc = (*key)->description();
    Result<std::unique_ptr<attestation::TokenSigner>> s = attestation::MakePkcs11Signer(std::move(*key));
    if (s.ok()) log.Info("EAR signing key in PKCS#11 token: " + desc);
    return s;
  }
  if (c.signing_key.empty()) {
    log.Warn("no --signing-key: using an ephemeral key (tokens stop verifying after a restart)");
    VHSM_ASSIGN_OR_RETURN(crypto::PrivateKey k, crypto::PrivateKey::GenerateEc(
                                                   c.signing_alg == "ES384" ? crypto::EcCurve::kP384 : crypto::EcCurve::kP256));
    return attestation::MakeSoftwareSigner(std::move(k));
  }
  VHSM_ASSIGN_OR_RETURN(std::string pem, ReadFileText(c.signing_key, 64 * 1024));
  Result<crypto::PrivateKey> k = crypto::PrivateKey::FromPem(pem);
  if (!k.ok()) return k.status().Annotate(c.signing_key);
  return attestation::MakeSoftwareSigner(std::move(*k));
}

Result<attestation::AppraisalPolicy> LoadPolicy(const ServiceConfig& c) {
  if (!c.policy.empty()) return attestation::LoadPolicyFile(c.policy);
  if (c.dev) return attestation::DevDefaultPolicy();
  return InvalidArgumentError("no appraisal policy: give --policy FILE (or --dev for the permissive default)");
}

int Run(int argc, char** argv) {
  http::BlockShutdownSignals();
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hup, nullptr);

  CLI::App app{"vhsm-attestd: SEV-SNP Attestation Service (RCAR, EAR tokens)"};
  std::string config_file, listen, tls_cert, tls_key, store, policy, signing_key, admin_key;
  std::vector<std::string> trust_roots;
  bool dev = false;
  app.add_option("--config", config_file, "TOML configuration file");
  app.add_option("--listen", listen, "HOST:PORT (port 0 picks a free port)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain");
  app.add_option("--tls-key", tls_key, "PEM private key");
  app.add_option("--store", store, "sqlite:PATH or postgresql:// URL");
  app.add_option("--policy", policy, "appraisal policy (JSON or .toml)");
  app.add_option("--trust-root", trust_roots, "extra trusted ARK (PEM/DER), e.g. the simulator's");
  app.add_flag("--dev", dev, "plain HTTP on loopback, permissive default policy (debug still rejected)");
  app.add_option("--signing-key", signing_key, "EAR signing key: PEM file or RFC 7512 pkcs11: URI");
  app.add_option("--admin-key", admin_key, "PEM public key that signs admin bearer JWTs");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  Logger log;
  ServiceConfig c;
  if (!config_file.empty()) {
    Result<ServiceConfig> loaded = attestation::LoadServiceConfig(config_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "vhsm-attestd: %s\n", loaded.status().ToString().c_str());
      return 2;
    }
    c = std::move(*loaded);
  }
  if (!listen.empty()) c.listen = listen;
  if (!tls_cert.empty()) c.tls_cert = tls_cert;
  if (!tls_key.empty()) c.tls_key = tls_key;
  if (!store.empty()) c.store = store;
  if (!policy.empty()) c.policy = policy;
  if (!signing_key.empty()) c.signing_key = signing_key;
  if (!admin_key.empty()) c.admin_key = admin_key;
  for (std::string& r : trust_roots) c.trust_roots.push_back(std::move(r));
  c.dev = c.dev || dev;

  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vhsm-attestd: %s\n", s.ToString().c_str());
    return 2;
  };

  attest::VerifierOptions vo;
  for (const std::string& path : c.trust_roots) {
    Result<Bytes> b = ReadFileBytes(path, 64 * 1024);
    if (!b.ok()) return fail(b.status().Annotate("--trust-root"));
    vo.extra_trusted_roots.push_back(std::move(*b));
  }
  for (const std::string& path : c.crls) {
    Result<Bytes> b = ReadFileBytes(path, 1 << 20);
    if (!b.ok()) return fail(b.status().Annotate("collateral.crls"));
    vo.crls.push_back(std::move(*b));
  }
  vo.crl_mode = c.require_crl ? attest::CrlMode::kRequire : attest::CrlMode::kIfPresent;
  attestation::ServiceOptions so;
  if (!c.default_product.empty()) {
    Result<snp::Product> p = snp::ParseProduct(c.default_product);
    if (!p.ok()) return fail(p.status().Annotate("default_product"));
    vo.product = *p;
    so.default_product = *p;
  }
  Result<std::unique_ptr<attest::Verifier>> verifier = attest::Verifier::Create(std::move(vo));
  if (!verifier.ok()) return fail(verifier.status());

  Result<std::unique_ptr<store::Database>> db = store::Open(c.store);
  if (!db.ok()) return fail(db.status().Annotate("--store"));

  Result<attestation::AppraisalPolicy> pol = LoadPolicy(c);
  if (!pol.ok()) return fail(pol.status());

  Result<std::unique_ptr<attestation::TokenSigner>> key = LoadSigningKey(c, log);
  if (!key.ok()) return fail(key.status());
  attestation::EarIssuerOptions eo;
  eo.issuer = c.issuer;
  eo.alg = c.signing_alg == "ES384" ? jose::JwsAlg::kEs384 : jose::JwsAlg::kEs256;
  eo.token_ttl_seconds = c.token_ttl_seconds;
  Result<std::unique_ptr<attestation::EarIssuer>> issuer = attestation::EarIssuer::Create(eo, std::move(*key));
  if (!issuer.ok()) return fail(issuer.status().Annotate("--signing-key"));

  if (!c.admin_key.empty()) {
    Result<std::string> pem = ReadFileText(c.admin_key, 64 * 1024);
    if (!pem.ok()) return fail(pem.status().Annotate("--admin-key"));
    Result<crypto::PublicKey> ak = crypto::PublicKey::FromPem(*pem);
    if (!ak.ok()) return fail(ak.status().Annotate("--admin-key"));
    so.admin_key = std::move(*ak);
  }
  std::unique_ptr<snp::CollateralCache> cache;
  std::unique_ptr<snp::HttplibFetcher> fetcher;
  std::unique_ptr<snp::CollateralProvider> provider;
  SystemClock clock;
  if (!c.collateral_cache_dir.empty()) {
    cache = std::make_unique<snp::CollateralCache>(c.collateral_cache_dir);
    if (c.collateral_online) fetcher = std::make_unique<snp::HttplibFetcher>();
    snp::CollateralProviderOptions po;
    po.base_url = c.kds_url;
    po.offline = !c.collateral_online;
    po.logger = &log;
    provider = std::make_unique<snp::CollateralProvider>(*cache, fetcher.get(), clock, po);
    so.collateral = provider.get();
    so.fetch_crl = c.fetch_crl;
    so.fetch_chain = c.fetch_chain;
  }
  so.session_ttl_seconds = c.session_ttl_seconds;
  so.policy_sync_ms = c.policy_sync_ms;
  so.init_data = c.init_data == "off"       ? attestation::InitDataMode::kOff
                 : c.init_data == "require" ? attestation::InitDataMode::kRequire
                                            : attestation::InitDataMode::kOptional;
  so.secure_cookie = !c.tls_cert.empty() || !c.dev;
  so.audit = &log;
  so.log = &log;
  Result<std::unique_ptr<attestation::AttestationService>> service =
      attestation::AttestationService::Create(std::move(so), **verifier, **db, std::move(*pol), std::move(*issuer));
  if (!service.ok()) return fail(service.status());

  http::ServerOptions ho;
  ho.listen = c.listen;
  ho.tls_cert_file = c.tls_cert;
  ho.tls_key_file = c.tls_key;
  ho.dev = c.dev;
  ho.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  ho.logger = &log;
  Result<std::unique_ptr<http::Server>> server = http::Server::Create(ho);
  if (!server.ok()) return fail(server.status());
  (*service)->Register(**server);
  if (Status s = (*server)->Start(); !s.ok()) return fail(s);

  sigset_t waitset;
  sigemptyset(&waitset);
  sigaddset(&waitset, SIGINT);
  sigaddset(&waitset, SIGTERM);
  sigaddset(&waitset, SIGHUP);
  for (;;) {
    int sig = 0;
    sigwait(&waitset, &sig);
    if (sig != SIGHUP) break;
    if (!c.policy.empty()) {
      Result<attestation::AppraisalPolicy> p = attestation::LoadPolicyFile(c.policy);
      if (p.ok()) {
        if (Status s = (*service)->SetPolicy(std::move(*p), "SIGHUP"); !s.ok()) {
          log.Error("SIGHUP: policy not stored, keeping the current one: " + s.ToString());
        }
      } else {
        log.Error("SIGHUP: policy not reloaded, keeping the current one: " + p.status().ToString());
      }
    }
    if (!c.signing_key.empty()) {
      Result<std::unique_ptr<attestation::TokenSigner>> k = LoadSigningKey(c, log);
      Status s = k.ok() ? (*service)->issuer().Rotate(std::move(*k)) : k.status();
      if (!s.ok()) log.Error("SIGHUP: signing key not reloaded: " + s.ToString());
    }
  }
  (*server)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
