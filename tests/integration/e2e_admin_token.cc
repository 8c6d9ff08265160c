// vhsm-e2e-admin-token: test/demo helper for the services' admin APIs.
//   vhsm-e2e-admin-token keygen PRIVATE_PEM PUBLIC_PEM   (EC P-256; the public half is --admin-key)
//   vhsm-e2e-admin-token sign PRIVATE_PEM [SUBJECT]      (prints an ES256 JWT, exp = now + 10 min)
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "jose/jwt.h"

using namespace vhsm;  // NOLINT

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "keygen" && argc == 4) {
    auto key = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
    if (!key.ok()) return 1;
    auto priv = key->ToPem();
    auto pub = key->Public().ToPem();
    if (!priv.ok() || !pub.ok()) return 1;
    std::ofstream(argv[2]).write(reinterpret_cast<const char*>(priv->Expose().data()),
                                 static_cast<std::streamsize>(priv->size()));
    std::ofstream(argv[3]) << *pub;
    return 0;
  }
  if (cmd == "sign" && (argc == 3 || argc == 4)) {
    auto pem = ReadFileText(argv[2], 64 * 1024);
    if (!pem.ok()) {
      std::fprintf(stderr, "%s\n", pem.status().ToString().c_str());
      return 2;
    }
    auto key = crypto::PrivateKey::FromPem(*pem);
    if (!key.ok()) return 2;
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    auto jti = crypto::RandomBytes(12);
    nlohmann::json claims = {{"sub", argc == 4 ? argv[3] : "e2e-admin"},
                             {"iat", now},
                             {"exp", now + 600},
                             {"jti", jti.ok() ? HexEncode(*jti) : "x"}};
    auto jwt = jose::SignJwt(*key, jose::JwsAlg::kEs256, claims);
    if (!jwt.ok()) return 1;
    std::printf("%s\n", jwt->c_str());
    return 0;
  }
  std::fprintf(stderr, "usage: vhsm-e2e-admin-token keygen PRIV PUB | sign PRIV [SUBJECT]\n");
  return 2;
}
