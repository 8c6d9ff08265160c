// random.h: cryptographic randomness (RAND_bytes), behind an interface tests can replace.
#pragma once

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"

namespace vhsm::crypto {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual Status Fill(std::span<uint8_t> out) = 0;
};

class SystemRng final : public Rng {
 public:
  Status Fill(std::span<uint8_t> out) override;
};

Result<Bytes> RandomBytes(size_t n);
Result<SecretBytes> RandomSecret(size_t n);

}  // namespace vhsm::crypto
