// jose_bench.cc: JOSE operations that dominate the services' hot paths, each beside the raw
// OpenSSL work it cannot avoid, measured in the same run, with the ratios printed at the end:
//   JWE ECDH-ES+A256KW P-256 encrypt (Provisioning Service release) vs raw P-256 keygen + ECDH;
//   ES256 JWT sign (EAR issuance) vs raw EVP ECDSA P-256 sign;
//   ES256 JWT verify (token check) vs raw EVP ECDSA P-256 verify;
//   JWE decrypt (inside vhsmd) vs raw ECDH.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdio>
#include <map>
#include <string>

#include "crypto/ossl_ptr.h"
#include "jose/json_util.h"
#include "jose/jwe.h"
#include "jose/jws.h"
#include "jose/jwt.h"

namespace {

using namespace vhsm;
using namespace vhsm::jose;

const crypto::PrivateKey& Key() {
  static const crypto::PrivateKey* key = new crypto::PrivateKey(crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value());
  return *key;
}

const nlohmann::json& Claims() {
  static const nlohmann::json* c = new nlohmann::json{
      {"iss", "vhsm-attestd"}, {"iat", 1'800'000'000}, {"exp", 1'800'000'300}, {"jti", "0123456789abcdef"},
      {"submods", {{"cpu0", {{"ear.status", "affirming"}, {"ear.trustworthiness-vector", {{"hardware", 2}}}}}}}};
  return *c;
}

void BM_JweEncryptP256(benchmark::State& state) {
  crypto::PublicKey pub = Key().Public();
  const Bytes secret(32, 0x42);
  for (auto _ : state) {
    auto jwe = EncryptFlattened(pub, secret);
    if (!jwe.ok()) state.SkipWithError(jwe.status().ToString().c_str());
    benchmark::DoNotOptimize(jwe);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JweEncryptP256);

void BM_JweDecryptP256(benchmark::State& state) {
  const std::string jwe = EncryptFlattened(Key().Public(), Bytes(32, 0x42)).value();
  for (auto _ : state) {
    auto d = DecryptFlattened(jwe, Key());
    if (!d.ok()) state.SkipWithError(d.status().ToString().c_str());
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JweDecryptP256);

// What any ECDH-ES sender must do: a fresh P-256 key pair and one ECDH.
void BM_RawKeygenEcdhP256(benchmark::State& state) {
  crypto::PublicKey pub = Key().Public();
  for (auto _ : state) {
    crypto::EvpPkeyPtr eph(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr));
    unsigned char z[32];
    size_t len = sizeof(z);
    if (EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), pub.evp()) != 1 ||
        EVP_PKEY_derive(ctx.get(), z, &len) != 1) {
      state.SkipWithError("raw ECDH failed");
    }
    benchmark::DoNotOptimize(z);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawKeygenEcdhP256);

void BM_RawEcdhP256(benchmark::State& state) {
  crypto::PrivateKey other = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value();
  crypto::PublicKey pub = other.Public();
  for (auto _ : state) {
    crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, Key().evp(), nullptr));
    unsigned char z[32];
    size_t len = sizeof(z);
    if (EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), pub.evp()) != 1 ||
        EVP_PKEY_derive(ctx.get(), z, &len) != 1) {
      state.SkipWithError("raw ECDH failed");
    }
    benchmark::DoNotOptimize(z);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdhP256);

void BM_Es256JwtSign(benchmark::State& state) {
  for (auto _ : state) {
    auto t = SignJwt(Key(), JwsAlg::kEs256, Claims(), {.kid = "k1", .typ = "", .extra_header = {}});
    if (!t.ok()) state.SkipWithError(t.status().ToString().c_str());
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Es256JwtSign);

void BM_Es256JwtVerify(benchmark::State& state) {
  const std::string token = SignJwt(Key(), JwsAlg::kEs256, Claims(), {.kid = "k1", .typ = "", .extra_header = {}}).value();
  crypto::PublicKey pub = Key().Public();
  FixedClock clock(1'800'000'100);
  JwtValidationOptions opts;
  opts.issuer = "vhsm-attestd";
  for (auto _ : state) {
    auto v = VerifyJwt(token, pub, opts, clock);
    if (!v.ok()) state.SkipWithError(v.status().ToString().c_str());
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Es256JwtVerify);

// The strict JSON parse (duplicate names, depth) of an EAR payload the size vhsm-attestd issues:
// every fresh token pays it before its signature is checked.
void BM_ParseEarPayloadStrict(benchmark::State& state) {
  nlohmann::json ev;
  for (const char* k : {"measurement", "host_data", "chip_id", "report_data", "family_id", "image_id", "report_id"}) {
    ev[k] = std::string(96, 'a');
  }
  ev["reported_tcb"] = {{"bootloader", 3}, {"tee", 0}, {"snp", 22}, {"microcode", 213}, {"fmc", 0}};
  ev["policy"] = {{"smt", true}, {"debug", false}, {"migrate_ma", false}, {"abi_major", 1}, {"abi_minor", 0}};
  ev["runtime_data_claims"] = {{"tee-pubkey", {{"kty", "EC"}, {"crv", "P-256"}, {"x", std::string(43, 'x')}, {"y", std::string(43, 'y')}}}};
  nlohmann::json claims = Claims();
  claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"] = ev;
  const std::string text = claims.dump();
  for (auto _ : state) {
    auto v = ParseJsonObject(text, "payload", JsonLimits{});
    if (!v.ok()) state.SkipWithError(v.status().ToString().c_str());
    benchmark::DoNotOptimize(v);
  }
  state.counters["bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_ParseEarPayloadStrict);

const std::string& RawMessage() {
  static const std::string* m = new std::string(300, 'm');  // about an EAR signing input's size
  return *m;
}

void BM_RawEcdsaP256Sign(benchmark::State& state) {
  for (auto _ : state) {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    unsigned char sig[80];
    size_t len = sizeof(sig);
    if (EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, Key().evp(), nullptr) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(RawMessage().data()),
                       RawMessage().size()) != 1) {
      state.SkipWithError("raw sign failed");
    }
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaP256Sign);

void BM_RawEcdsaP256Verify(benchmark::State& state) {
  Bytes sig = Key().Sign(crypto::SignatureScheme::kEcdsaSha256, AsBytes(RawMessage())).value();
  crypto::PublicKey pub = Key().Public();
  for (auto _ : state) {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pub.evp(), nullptr) != 1 ||
        EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(RawMessage().data()),
                         RawMessage().size()) != 1) {
      state.SkipWithError("raw verify failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaP256Verify);

// Console output plus a table of rates, for the ratio summary.
class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates[r.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rates;
};

void PrintRatio(const RateReporter& r, const char* what, const char* ours, const char* raw) {
  auto a = r.rates.find(ours);
  auto b = r.rates.find(raw);
  if (a == r.rates.end() || b == r.rates.end() || b->second <= 0) return;
  std::printf("%-40s %10.0f/s vs raw %10.0f/s  ratio %.2f\n", what, a->second, b->second, a->second / b->second);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n");
  PrintRatio(reporter, "JWE ECDH-ES+A256KW P-256 encrypt", "BM_JweEncryptP256", "BM_RawKeygenEcdhP256");
  PrintRatio(reporter, "JWE ECDH-ES+A256KW P-256 decrypt", "BM_JweDecryptP256", "BM_RawEcdhP256");
  PrintRatio(reporter, "ES256 JWT sign", "BM_Es256JwtSign", "BM_RawEcdsaP256Sign");
  PrintRatio(reporter, "ES256 JWT verify (+claims)", "BM_Es256JwtVerify", "BM_RawEcdsaP256Verify");
  benchmark::Shutdown();
  return 0;
}
