// ecdsa_p384_fuzzer.cc: differential fuzzing of the two ECDSA P-384/SHA-384 verifiers (Nettle,
// which the report verifier uses, and OpenSSL). Input: byte 0 picks the mode, bytes 1..96 are r
// and s (mode 0) or masks XORed onto a genuine signature of the message (mode 1), the rest is the
// message. Property: both implementations return the same status code for every input, and an
// all-zero mask (the genuine signature) verifies.
#include <cstdint>
#include <cstdlib>

#include "crypto/keys.h"
#include "crypto/p384.h"

namespace {

using namespace vhsm;  // NOLINT

const crypto::PrivateKey& Key() {
  static const crypto::PrivateKey key = [] {
    Bytes d(48, 0);
    d[0] = 0x3c;  // any scalar in [1, n-1]
    d[47] = 0x2b;
    auto k = crypto::PrivateKey::FromEcScalar(crypto::EcCurve::kP384, d);
    if (!k.ok()) std::abort();
    return std::move(*k);
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 97 || size > 4096) return 0;
  static const crypto::PublicKey pub = Key().Public();
  const ByteSpan msg(data + 97, size - 97);
  Bytes r(data + 1, data + 49), s(data + 49, data + 97);
  bool genuine = false;
  if (data[0] & 1) {
    auto sig = crypto::SignEcdsaP384Sha384(Key().evp(), msg);
    if (!sig.ok()) std::abort();
    genuine = true;
    for (size_t i = 0; i < 48; ++i) {
      genuine = genuine && r[i] == 0 && s[i] == 0;
      r[i] ^= sig->r[i];
      s[i] ^= sig->s[i];
    }
  }
  const Status a = crypto::VerifyEcdsaP384Sha384Nettle(pub.evp(), msg, r, s);
  const Status b = crypto::VerifyEcdsaP384Sha384OpenSsl(pub.evp(), msg, r, s);
  if (!crypto::P384UsesNettle()) return 0;
  if (a.code() != b.code()) std::abort();
  if (genuine && !a.ok()) std::abort();
  return 0;
}
