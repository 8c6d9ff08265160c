// jws_fuzzer.cc: compact JWS/JWT parsing and verification against a fixed P-256 key. Properties:
// no crash; every rejection carries a message; a token that verifies as a JWS decodes to the same
// payload through ParseCompactUnverified, and JWT validation of it never crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/clock.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "jose/jwt.h"
#include "jose_fuzz_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm;
  using namespace vhsm::jose;
  static const Jwk* key = new Jwk(Jwk::ParseText(fuzzkeys::kSigningJwk).value());
  std::string_view token(reinterpret_cast<const char*>(data), size);
  auto verified = VerifyCompact(token, key->public_key());
  if (!verified.ok()) {
    if (verified.status().message().empty()) std::abort();
  } else {
    auto unverified = ParseCompactUnverified(token);
    if (!unverified.ok() || unverified->payload != verified->payload || unverified->alg != verified->alg) std::abort();
  }
  FixedClock clock(1'300'000'000);
  JwtValidationOptions opts;
  auto jwt = VerifyJwt(token, key->public_key(), opts, clock);
  if (!jwt.ok() && jwt.status().code() != StatusCode::kUnauthenticated) std::abort();  // the JWT contract
  if (jwt.ok() && !verified.ok()) std::abort();
  JwkSet set;
  (void)set.Add(key->Clone());
  (void)VerifyCompact(token, set);
  return 0;
}
