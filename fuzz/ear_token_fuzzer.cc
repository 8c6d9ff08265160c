// ear_token_fuzzer.cc: the Provisioning Service's token path on arbitrary bytes: compact JWS
// parsing (header, alg, kid) and, for a payload that is a JSON object, EAR claim extraction
// (submods.cpu0, ear.status, TEE key JWK). Property: never crashes; a successful extraction
// always carries a TEE key.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jose/json_util.h"
#include "jose/jws.h"
#include "services/provisioning/ear_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Raw bytes as a token.
  vhsm::Result<vhsm::jose::UnverifiedJws> jws = vhsm::jose::ParseCompactUnverified(text);
  std::string_view payload = text;
  std::string decoded;
  if (jws.ok()) {
    decoded.assign(jws->payload.begin(), jws->payload.end());
    payload = decoded;
  }
  // The payload (or the raw bytes) as a claim set.
  vhsm::Result<nlohmann::json> claims = vhsm::jose::ParseJsonObject(payload, "claims");
  if (!claims.ok()) return 0;
  vhsm::Result<vhsm::provisioning::AttestedToken> t = vhsm::provisioning::ExtractEarClaims(std::move(*claims));
  if (t.ok() && !t->tee_key.has_value()) std::abort();
  return 0;
}
