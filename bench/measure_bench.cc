// measure_bench.cc: launch-digest throughput (MB/s of firmware hashed) against raw OpenSSL
// SHA-384 over the same bytes, in the same run. The digest hashes every 4 KiB page and then a
// 0x70-byte PAGE_INFO, so ~35 SHA-512-family blocks per page against 32 for the raw hash: the
// ideal ratio is ~0.91x. Prints the ratio of medians (CPU time) at the end (target >= 0.9x).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdio>
#include <map>
#include <string>

#include "base/bytes.h"
#include "crypto/ossl_ptr.h"
#include "snp/measure.h"
#include "snp/synthetic_ovmf.h"  // tests/snp: synthetic OVMF-like images

namespace {

constexpr size_t kImageBytes = 4u << 20;  // a 4 MiB firmware, like OVMF_CODE_4M

const vhsm::Bytes& Image() {
  static const vhsm::Bytes image = [] {
    vhsm::snp::testing::SyntheticOvmf s;
    s.image_size = kImageBytes;
    return s.Build();
  }();
  return image;
}

void BM_RawSha384(benchmark::State& state) {
  const vhsm::Bytes& image = Image();
  vhsm::crypto::EvpMdPtr md(EVP_MD_fetch(nullptr, "SHA384", nullptr));
  uint8_t out[48];
  unsigned int len = 0;
  for (auto _ : state) {
    EVP_Digest(image.data(), image.size(), out, &len, md.get(), nullptr);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(image.size()));
}
BENCHMARK(BM_RawSha384)->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_OvmfHash(benchmark::State& state) {
  const vhsm::Bytes& image = Image();
  for (auto _ : state) {
    auto d = vhsm::snp::ComputeOvmfHash(image, static_cast<unsigned>(state.range(0)));
    if (!d.ok()) state.SkipWithError(d.status().ToString().c_str());
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(image.size()));
}
// Arg = max threads. Single-threaded runs are compared on CPU time; threaded ones (and the raw
// baseline below) on wall time, since CPU time would not count the worker threads.
BENCHMARK(BM_OvmfHash)->Arg(1)->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_OvmfHash)->Name("BM_OvmfHashThreaded")->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_RawSha384)->Name("BM_RawSha384RealTime")->UseRealTime()->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);

// Full digest: parse + image pages + metadata sections + 4 VMSAs.
void BM_LaunchDigest(benchmark::State& state) {
  const vhsm::Bytes& image = Image();
  vhsm::snp::MeasureOptions opt;
  opt.vcpus = 4;
  opt.max_threads = 1;
  for (auto _ : state) {
    auto info = vhsm::snp::ParseOvmf(image);
    if (!info.ok()) {
      state.SkipWithError(info.status().ToString().c_str());
      break;
    }
    auto d = vhsm::snp::ComputeLaunchDigest(image, *info, opt);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(image.size()));
}
BENCHMARK(BM_LaunchDigest)->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);

// Console output as usual, plus the bytes/s of each run for the ratio line.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      // Medians of the repetitions (the machine may be shared); plain runs otherwise.
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto it = r.counters.find("bytes_per_second");
      if (it == r.counters.end()) continue;
      std::string key = r.run_name.function_name;
      if (!r.run_name.args.empty()) key += "/" + r.run_name.args;
      rates_[key] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const std::pair<const char*, const char*> pairs[] = {
      {"BM_OvmfHash/1", "BM_RawSha384"},
      {"BM_LaunchDigest", "BM_RawSha384"},
      {"BM_OvmfHashThreaded/0", "BM_RawSha384RealTime"},
  };
  for (const auto& [name, base] : pairs) {
    const double v = reporter.rates_[name];
    const double raw = reporter.rates_[base];
    if (raw > 0 && v > 0) {
      std::printf("%s: %.1f MB/s vs %s %.1f MB/s = %.3fx (target >= 0.9x)\n", name, v / 1e6,
                  base, raw / 1e6, v / raw);
    }
  }
  benchmark::Shutdown();
  return 0;
}
