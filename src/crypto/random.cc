#include "crypto/random.h"

#include <openssl/rand.h>

#include "crypto/error.h"

namespace vhsm::crypto {

Status SystemRng::Fill(std::span<uint8_t> out) {
  if (out.empty()) return OkStatus();
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) return OpenSslError("RAND_bytes", StatusCode::kUnavailable);
  return OkStatus();
}

Result<Bytes> RandomBytes(size_t n) {
  Bytes out(n);
  SystemRng rng;
  VHSM_RETURN_IF_ERROR(rng.Fill(out));
  return out;
}

Result<SecretBytes> RandomSecret(size_t n) {
  SecretBytes out(n);
  SystemRng rng;
  VHSM_RETURN_IF_ERROR(rng.Fill(out.MutableExpose()));
  return out;
}

}  // namespace vhsm::crypto
