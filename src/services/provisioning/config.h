// config.h: vhsm-provisiond's configuration: the TOML file given with --config, overridden by
// command-line flags (ARCHITECTURE.md section 3). Strict: unknown keys and wrong types are
// errors naming the key.
//
//   listen = "127.0.0.1:8444"   tls_cert = "cert.pem"   tls_key = "key.pem"   dev = false
//   store = "sqlite:/var/lib/vhsm/provisiond.db"   (or a postgresql:// URL)
//   jwks = "https://attestd:8443/.well-known/jwks.json"   (or a JWKS file)   jwks_ca_file = ""
//   issuer = "vhsm-attestd"   kek = "/etc/vhsm/kek"   admin_key = "admin.pub.pem"
//   max_resource_bytes = 262144   clock_skew_seconds = 60   jwks_min_refresh_ms = 1000
//   token_cache_entries = 1024   (verified tokens remembered until they expire; 0: verify every time)
//   audit_batch_wait_us = 100   (hold an audit commit this long for releases in progress; 0: never)
//   audit_wait_spin_us = 1000   (a release polls this long for its audit commit while CPUs are
//                                free, then sleeps; 0: always sleeps)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vhsm::provisioning {

struct ProvisiondConfig {
  std::string listen = "127.0.0.1:8081";
  std::string tls_cert, tls_key;
  bool dev = false;
  std::string store = "sqlite:vhsm-provisiond.db";
  std::string jwks;
  std::string jwks_ca_file;
  std::string issuer = "vhsm-attestd";
  std::string kek;        // file (32 raw bytes or 64 hex digits) or pkcs11: URI; empty: ephemeral, --dev only
  std::string admin_key;  // PEM public key
  int64_t max_resource_bytes = 256 * 1024;
  int64_t clock_skew_seconds = 60;
  int64_t jwks_min_refresh_ms = 1000;
  int64_t token_cache_entries = 1024;
  int64_t audit_batch_wait_us = 100;
  int64_t audit_wait_spin_us = 1000;
};

// kInvalidArgument naming the key (or toml++'s line/column for malformed TOML).
Result<ProvisiondConfig> ParseProvisiondConfig(std::string_view toml_text);
Result<ProvisiondConfig> LoadProvisiondConfig(const std::string& path);

}  // namespace vhsm::provisioning
