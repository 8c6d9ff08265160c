#include "sim_test_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/file.h"
#include "sim/sim_certs.h"
#include "testing/testdata.h"

namespace vhsm::sim::testing {

crypto::EvpPkeyPtr CachedRsaKey(int index) {
  std::string dir = vhsm::testdata::BuildDir() + "/sim-test-keys";
  ::mkdir(dir.c_str(), 0700);
  std::string path = dir + "/rsa4096-" + std::to_string(index) + ".pem";
  if (Result<Bytes> pem = ReadFileBytes(path); pem.ok()) {
    Result<crypto::EvpPkeyPtr> key = PrivateKeyFromPem(*pem, path);
    if (key.ok()) return std::move(*key);
  }
  Result<crypto::EvpPkeyPtr> key = GenerateRsaKey(4096);
  VHSM_CHECK(key.ok(), "RSA-4096 test key generation");
  Result<SecretBytes> pem = PrivateKeyToPem(key->get());
  VHSM_CHECK(pem.ok(), "PEM export");
  // Atomic publish: concurrent test processes either see a whole key or none.
  Status s = WriteFileAtomic(path, pem->Expose(), 0600);
  (void)s;
  return std::move(*key);
}

SimConfig Defaults(snp::Product product, uint32_t version) {
  Result<SimConfig> c = DefaultSimConfig(product, version);
  VHSM_CHECK(c.ok(), "DefaultSimConfig");
  return *c;
}

SimState MakeState(const std::string& dir, const SimConfig& config, bool with_vlek) {
  crypto::EvpPkeyPtr ark = CachedRsaKey(0), ask = CachedRsaKey(1), asvk = CachedRsaKey(2);
  InitOptions opts;
  opts.with_vlek = with_vlek;
  opts.sign_with_vlek = with_vlek;
  opts.reuse_ark_key = ark.get();
  opts.reuse_ask_key = ask.get();
  opts.reuse_asvk_key = asvk.get();
  Result<SimState> st = InitSimState(dir, config, opts);
  if (!st.ok()) {
    ADD_FAILURE() << st.status().ToString();
    VHSM_CHECK(false, "InitSimState");
  }
  return std::move(*st);
}

std::array<uint8_t, 64> Nonce(uint8_t seed) {
  std::array<uint8_t, 64> n{};
  for (size_t i = 0; i < n.size(); ++i) n[i] = static_cast<uint8_t>(seed + 7 * i);
  return n;
}

}  // namespace vhsm::sim::testing
