#!/usr/bin/env bash
# fuzz-one.sh FUZZER CORPUS_DIR: runs one libFuzzer binary for FUZZ_SECONDS (default 20) on a
# scratch copy of its seed corpus (the committed corpus is never modified); ctest runs it as
# fuzz_smoke.<name> in the fuzz preset. Exit non-zero on any crash, leak, timeout or sanitizer
# report, with the fuzzer's tail and the reproducer's path in the output.
set -uo pipefail
fuzzer=${1:?usage: fuzz-one.sh FUZZER CORPUS_DIR}
corpus=${2:?usage: fuzz-one.sh FUZZER CORPUS_DIR}
secs=${FUZZ_SECONDS:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-one.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
cp -r "$corpus/." "$work/corpus/" 2>/dev/null || true
echo "fuzz: $(basename "$fuzzer") for ${secs}s on $(find "$work/corpus" -type f | wc -l) seeds"
"$fuzzer" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" \
  "$work/corpus" > "$work/log" 2>&1
status=$?
grep -E "stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs" "$work/log" || true
if [[ $status -ne 0 ]]; then
  tail -60 "$work/log"
  for a in "$work"/artifacts/*; do
    [[ -f $a ]] && { echo "reproducer ($(stat -c %s "$a") bytes), base64:"; base64 -w0 "$a"; echo; }
  done
  echo "fuzz: $(basename "$fuzzer") FAILED (exit $status)"
  exit 1
fi
