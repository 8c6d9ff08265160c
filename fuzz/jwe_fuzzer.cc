// jwe_fuzzer.cc: flattened (and compact) JWE parsing plus a decryption attempt with a fixed P-384
// key. Properties: no crash; every rejection carries a message; a JWE that decrypts, re-encrypted
// to the same key, decrypts again to the same plaintext.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jose/jwe.h"
#include "jose/jwk.h"
#include "jose_fuzz_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm;
  using namespace vhsm::jose;
  static const Jwk* key = new Jwk(Jwk::ParseText(fuzzkeys::kDecryptionJwk).value());
  const crypto::PrivateKey& priv = *key->private_key().value();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto flat = DecryptFlattened(text, priv);
  if (!flat.ok() && flat.status().message().empty()) std::abort();
  auto compact = DecryptCompact(text, priv);
  if (!compact.ok() && compact.status().message().empty()) std::abort();
  if (flat.ok()) {
    JweEncryptOptions opts;
    opts.aad = flat->aad;
    auto again = EncryptFlattened(key->public_key(), flat->plaintext.Expose(), opts);
    if (!again.ok()) std::abort();
    auto back = DecryptFlattened(*again, priv);
    if (!back.ok() || !std::equal(back->plaintext.Expose().begin(), back->plaintext.Expose().end(),
                                  flat->plaintext.Expose().begin(), flat->plaintext.Expose().end())) {
      std::abort();
    }
  }
  return 0;
}
