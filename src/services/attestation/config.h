// config.h: vhsm-attestd's configuration: the TOML file given with --config, overridden by
// command-line flags (ARCHITECTURE.md section 3). Parsing is strict: unknown keys and wrong
// types are errors naming the key. Paths are taken as given (relative to the working directory).
//
//   listen = "127.0.0.1:8443"        tls_cert = "cert.pem"   tls_key = "key.pem"
//   store = "sqlite:/var/lib/vhsm/attestd.db"  (or a postgresql:// URL)
//   policy = "policy.toml"           trust_roots = ["sim/ark.pem"]   dev = false
//   signing_key = "ear-key.pem"      signing_alg = "ES256"   admin_key = "admin.pub.pem"
//   issuer = "vhsm-attestd"          token_ttl_seconds = 300  session_ttl_seconds = 300
//   max_body_bytes = 262144          [collateral] cache_dir = "..."  online = false
//   kds_url = "https://kdsintf.amd.com"  fetch_crl = false  fetch_chain = false  crls = ["milan.crl"]  require_crl = false
//   default_product = "Milan"
//   signing_key = "pkcs11:token=ear;object=ear-p256?pin-source=/run/secrets/pin"  (key in an HSM)
//   pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"   pkcs11_pin_file = "/run/secrets/pin"
//     (defaults for pkcs11: URIs without module-path / pin-value / pin-source)
//   policy_sync_ms = 1000   (how often a replica checks the Store for admin changes; 0 = every request)
//   init_data = "off" | "optional" | "require"   (init-data -> HOST_DATA binding, see rcar.h)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vhsm::attestation {

struct ServiceConfig {
  std::string listen = "127.0.0.1:8080";
  std::string tls_cert, tls_key;
  std::string store = "sqlite:vhsm-attestd.db";
  std::string policy;               // file; empty: dev default (with --dev) or deny-all
  std::vector<std::string> trust_roots;
  bool dev = false;
  std::string signing_key;          // PEM file or pkcs11: URI; empty: an ephemeral key (logged)
  std::string pkcs11_module;        // module for pkcs11: URIs without module-path
  std::string pkcs11_pin_file;      // PIN file for pkcs11: URIs without a PIN
  std::string signing_alg = "ES256";
  std::string admin_key;            // PEM public key
  std::string issuer = "vhsm-attestd";
  int64_t token_ttl_seconds = 300;
  int64_t session_ttl_seconds = 300;
  int64_t max_body_bytes = 256 * 1024;
  std::string collateral_cache_dir;  // empty: no cache/KDS lookups
  bool collateral_online = false;
  std::string kds_url = "https://kdsintf.amd.com";
  bool fetch_crl = false;
  bool fetch_chain = false;
  std::vector<std::string> crls;
  bool require_crl = false;
  std::string default_product;
  int64_t policy_sync_ms = 1000;
  std::string init_data = "optional";
};

// Parses the TOML config text (keys above). kInvalidArgument naming the key.
Result<ServiceConfig> ParseServiceConfig(std::string_view toml_text);
Result<ServiceConfig> LoadServiceConfig(const std::string& path);

}  // namespace vhsm::attestation
