// jose_interop_tool.cc: a small CLI over vhsm::jose for the interop test (jose_interop_test.py),
// which checks our JWS/JWT and JWE against independent implementations (PyJWT and a JWE written
// on python-cryptography). Usage:
//   jose_interop_tool sign-jwt                    → JSON lines {"alg","jwk","token"} for several algs
//   jose_interop_tool verify-jwt PUBLIC_JWK TOKEN → prints the claims (exit 1 when invalid)
//   jose_interop_tool encrypt PUBLIC_JWK HEX      → flattened JWE of the bytes, alg by key type
//   jose_interop_tool decrypt PRIVATE_JWK JWE     → hex of the plaintext (exit 1 when invalid)
#include <cstdio>
#include <iostream>
#include <string>

#include "base/clock.h"
#include "jose/jwe.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "jose/jwt.h"

namespace {

using namespace vhsm;
using namespace vhsm::jose;

int Fail(const Status& s) {
  std::cerr << s.ToString() << "\n";
  return 1;
}

int SignJwts() {
  struct Case {
    JwsAlg alg;
    Result<crypto::PrivateKey> key;
  };
  Case cases[] = {
      {JwsAlg::kEs256, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256)},
      {JwsAlg::kEs384, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384)},
      {JwsAlg::kEs512, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP521)},
      {JwsAlg::kEdDsa, crypto::PrivateKey::GenerateEd25519()},
      {JwsAlg::kPs256, crypto::PrivateKey::GenerateRsa(2048)},
      {JwsAlg::kRs256, crypto::PrivateKey::GenerateRsa(2048)},
  };
  SystemClock clock;
  for (Case& c : cases) {
    if (!c.key.ok()) return Fail(c.key.status());
    nlohmann::json claims = {{"iss", "vhsm-attestd"}, {"iat", clock.NowUnix()}, {"exp", clock.NowUnix() + 300},
                             {"jti", "interop"}, {"ear.status", "affirming"}};
    auto token = SignJwt(*c.key, c.alg, claims, {.kid = "interop-key", .typ = "", .extra_header = {}});
    if (!token.ok()) return Fail(token.status());
    Jwk jwk = Jwk::FromPublicKey(c.key->Public(), {.kid = "interop-key", .alg = "", .use = ""});
    nlohmann::json line = {{"alg", std::string(JwsAlgName(c.alg))}, {"jwk", jwk.ToPublicJson()}, {"token", *token}};
    std::cout << line.dump() << "\n";
  }
  return 0;
}

int VerifyJwtCmd(const std::string& jwk_text, const std::string& token) {
  auto jwk = Jwk::ParseText(jwk_text);
  if (!jwk.ok()) return Fail(jwk.status());
  SystemClock clock;
  JwtValidationOptions opts;
  auto v = VerifyJwt(token, jwk->public_key(), opts, clock);
  if (!v.ok()) return Fail(v.status());
  std::cout << v->claims.dump() << "\n";
  return 0;
}

int EncryptCmd(const std::string& jwk_text, const std::string& hex) {
  auto jwk = Jwk::ParseText(jwk_text);
  if (!jwk.ok()) return Fail(jwk.status());
  auto plaintext = HexDecode(hex);
  if (!plaintext.ok()) return Fail(plaintext.status());
  auto alg = DefaultJweAlgForKey(jwk->public_key());
  if (!alg.ok()) return Fail(alg.status());
  JweEncryptOptions opts;
  opts.alg = *alg;
  opts.kid = jwk->kid();
  opts.apu = ToBytes("vhsm-provisiond");
  opts.aad = ToBytes("interop-aad");
  auto jwe = EncryptFlattened(jwk->public_key(), *plaintext, opts);
  if (!jwe.ok()) return Fail(jwe.status());
  std::cout << *jwe << "\n";
  return 0;
}

int DecryptCmd(const std::string& jwk_text, const std::string& jwe) {
  auto jwk = Jwk::ParseText(jwk_text);
  if (!jwk.ok()) return Fail(jwk.status());
  auto key = jwk->private_key();
  if (!key.ok()) return Fail(key.status());
  auto d = DecryptFlattened(jwe, **key);
  if (!d.ok()) return Fail(d.status());
  std::cout << HexEncode(d->plaintext.Expose()) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "sign-jwt" && argc == 2) return SignJwts();
  if (cmd == "verify-jwt" && argc == 4) return VerifyJwtCmd(argv[2], argv[3]);
  if (cmd == "encrypt" && argc == 4) return EncryptCmd(argv[2], argv[3]);
  if (cmd == "decrypt" && argc == 4) return DecryptCmd(argv[2], argv[3]);
  std::cerr << "usage: jose_interop_tool sign-jwt | verify-jwt JWK TOKEN | encrypt JWK HEX | decrypt JWK JWE\n";
  return 2;
}
