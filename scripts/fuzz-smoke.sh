#!/usr/bin/env bash
# fuzz-smoke.sh DIR SECONDS: runs each libFuzzer binary in DIR for SECONDS on a scratch copy of
# its seed corpus (the committed corpus is never modified). Fails on any crash.
set -euo pipefail
dir=$1; secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
for f in "$dir"/*_fuzzer; do
  name=$(basename "$f" _fuzzer)
  work=$(mktemp -d)
  cp -r "$root/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  echo "fuzz-smoke: $name for ${secs}s"
  status=0
  "$f" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 "$work" > "$work.log" 2>&1 || status=$?
  grep -E "stat::number_of_executed_units|ERROR|crash|Done" "$work.log" || true
  if [ "$status" -ne 0 ]; then tail -40 "$work.log"; echo "fuzz-smoke: $name FAILED (exit $status)"; rm -rf "$work" "$work.log"; exit 1; fi
  rm -rf "$work" "$work.log"
done
