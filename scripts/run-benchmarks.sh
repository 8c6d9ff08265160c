#!/usr/bin/env bash
# run-benchmarks.sh DIR: runs every Google Benchmark binary in DIR (build-release/bench; each
# prints its own baseline and ratios), then the PKCS#11 comparisons (ours vs SoftHSM2 vs raw
# OpenSSL, and the object-store scale with 100k objects) and the end-to-end provisioning bench.
set -euo pipefail
dir=$1
build=$(cd "$dir/.." && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
for b in "$dir"/*_bench; do
  [[ $(basename "$b") == pkcs11_bench ]] && continue  # a PKCS#11 load tool, driven below
  echo "== $(basename "$b")"
  "$b" --benchmark_min_time=0.5
done
echo "== pkcs11_compare"
"$root/bench/pkcs11_compare.sh" "$build" 3
echo "== pkcs11_objects"
"$root/bench/pkcs11_objects.sh" "$build" 100000 10000
echo "== e2e_bench"
"$root/bench/e2e_bench.sh" "$build" 11 100
