// snp_verify_bench.cc: SEV-SNP reports verified per second on one core with the chain cached
// (attest::Verifier::Verify on a real Genoa v5 report + VCEK), beside raw OpenSSL ECDSA P-384
// SHA-384 verification of the same 672 bytes measured in the same run, and the ratio
// (target >= 0.85x). Also the uncached cost (full chain: 2 RSA-4096 PSS + 1 RSA-4096 self-sig).
// Needs shared/snp-vectors (VHSM_SHARED_DIR or ../shared).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "attest/verifier.h"
#include "base/clock.h"
#include "base/file.h"
#include "crypto/error.h"
#include "crypto/signature.h"
#include "crypto/x509.h"

namespace {

using namespace vhsm;

struct Fixture {
  Bytes report;
  Bytes vcek;
  bool ok = false;
};

Fixture& Data() {
  static Fixture f = [] {
    Fixture x;
    const char* env = std::getenv("VHSM_SHARED_DIR");
    std::string dir = std::string(env != nullptr ? env : VHSM_BENCH_SHARED_DIR) + "/snp-vectors/vectors/genoa-v5-vcek-oak/";
    auto r = ReadFileBytes(dir + "report.bin");
    auto c = ReadFileBytes(dir + "vcek.der");
    if (r.ok() && c.ok()) {
      x.report = *r;
      x.vcek = *c;
      x.ok = true;
    }
    return x;
  }();
  return f;
}

const FixedClock& Clock() {
  static FixedClock clock(ParseRfc3339("2026-11-27T00:00:00Z").value());
  return clock;
}

void BM_VerifyCachedChain(benchmark::State& state) {
  Fixture& f = Data();
  attest::VerifierOptions opts;
  opts.clock = &Clock();
  auto verifier = attest::Verifier::Create(opts).value();
  attest::Evidence ev{f.report, {.vcek = f.vcek}, std::nullopt};
  if (!verifier->Verify(ev).ok()) {
    state.SkipWithError("vector does not verify");
    return;
  }
  for (auto _ : state) {
    auto r = verifier->Verify(ev);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_VerifyNoCache(benchmark::State& state) {
  Fixture& f = Data();
  attest::VerifierOptions opts;
  opts.clock = &Clock();
  opts.chain_cache_entries = 0;
  auto verifier = attest::Verifier::Create(opts).value();
  attest::Evidence ev{f.report, {.vcek = f.vcek}, std::nullopt};
  for (auto _ : state) {
    auto r = verifier->Verify(ev);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RawOpenSslEcdsaP384(benchmark::State& state) {
  Fixture& f = Data();
  auto cert = crypto::Certificate::Parse(f.vcek).value();
  Bytes r(f.report.begin() + 0x2A0, f.report.begin() + 0x2E8);
  Bytes s(f.report.begin() + 0x2E8, f.report.begin() + 0x330);
  std::reverse(r.begin(), r.end());
  std::reverse(s.begin(), s.end());
  Bytes der = crypto::EcdsaSigToDer(r, s).value();
  EVP_PKEY* key = const_cast<EVP_PKEY*>(cert.public_key());
  for (auto _ : state) {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, key, nullptr);
    int ok = EVP_DigestVerify(ctx.get(), der.data(), der.size(), f.report.data(), 0x2A0);
    if (ok != 1) state.SkipWithError("raw verify failed");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(BM_VerifyCachedChain);
BENCHMARK(BM_RawOpenSslEcdsaP384);
BENCHMARK(BM_VerifyNoCache);

// Records items/s per benchmark so main() can print the ratio.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates[r.benchmark_name()] = it->second.value;
    }
  }
  std::map<std::string, double> rates;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!Data().ok) {
    std::printf("snp_verify_bench: shared/snp-vectors not found (set VHSM_SHARED_DIR); nothing measured\n");
    return 0;
  }
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  // With --benchmark_repetitions=N the medians are used (less noise on a shared machine).
  auto rate_of = [&](const std::string& prefix) {
    double plain = 0;
    for (const auto& [name, rate] : reporter.rates) {
      if (name.rfind(prefix, 0) != 0) continue;
      if (name.size() > 7 && name.compare(name.size() - 7, 7, "_median") == 0) return rate;
      if (name.find('_', prefix.size()) == std::string::npos) plain = rate;
    }
    return plain;
  };
  const double cached = rate_of("BM_VerifyCachedChain");
  const double raw = rate_of("BM_RawOpenSslEcdsaP384");
  if (cached > 0 && raw > 0) {
    std::printf("snp_verify: %.0f reports/s verified (chain cached) vs %.0f raw ECDSA P-384 verifies/s: ratio %.3fx (target >= 0.85x)\n",
                cached, raw, cached / raw);
  }
  benchmark::Shutdown();
  return 0;
}
