#!/usr/bin/env bash
# run-benchmarks.sh DIR: runs every benchmark binary in DIR (each prints its own ratios).
set -euo pipefail
for b in "$1"/*_bench; do
  echo "== $(basename "$b")"
  "$b" --benchmark_min_time=0.5
done
