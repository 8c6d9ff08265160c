#!/usr/bin/env bash
# Runs pkcs11_bench against libvhsm-pkcs11.so (with a fresh vhsmd), SoftHSM2 and raw OpenSSL
# (pkcs11_bench --raw) in the same run, at 1 and 2 client threads, then prints one table with the
# ratios the targets of issue 4 are stated in. Usage: bench/pkcs11_compare.sh BUILD_DIR [SECONDS] [ROUNDS]
# The three are measured in ROUNDS (default 3) interleaved rounds and each figure is the median of
# its rounds, so that a drift of this VM's speed during the run (measured: ±20% within a minute)
# hits all three alike instead of whichever ran in the slow minute.
set -euo pipefail
BUILD=${1:?build dir}
SECS=${2:-3}
ROUNDS=${3:-3}
WORK=$(mktemp -d /tmp/vhsm-bench-XXXXXX)
"$BUILD/bin/vhsm" sim init "$WORK/platform" > "$WORK/sim-init.log" 2>&1
"$BUILD/bin/vhsmd" --socket "$WORK/s.sock" --store "$WORK/store" --platform sim \
  --sim-state "$WORK/platform" > "$WORK/daemon.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$WORK/daemon.log" && break; sleep 0.1; done
mkdir -p "$WORK/softhsm"
printf 'directories.tokendir = %s/softhsm\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK" > "$WORK/softhsm2.conf"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), ${SECS}s per figure, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  for threads in 1 2; do
    echo "== round $round: vhsm (libvhsm-pkcs11.so + vhsmd), $threads thread(s)"
    VHSM_SOCKET="$WORK/s.sock" "$BUILD/bench/pkcs11_bench" --module "$BUILD/lib/libvhsm-pkcs11.so" \
      --threads "$threads" --seconds "$SECS" | tee -a "$WORK/vhsm.$threads"
    echo "== round $round: SoftHSM2, $threads thread(s)"
    SOFTHSM2_CONF="$WORK/softhsm2.conf" "$BUILD/bench/pkcs11_bench" --module /usr/lib/softhsm/libsofthsm2.so \
      --threads "$threads" --seconds "$SECS" | tee -a "$WORK/softhsm.$threads"
    echo "== round $round: raw OpenSSL, $threads thread(s)"
    "$BUILD/bench/pkcs11_bench" --raw --threads "$threads" --seconds "$SECS" | tee -a "$WORK/raw.$threads"
  done
done

# The median of an op's rounds (the lower middle one for an even count).
rate() {
  awk -v op="$1" '$1 == op && $3 ~ /^[0-9]+$/ {print $3}' "$2" | sort -n |
    awk '{v[NR] = $1} END {if (NR > 0) print v[int((NR + 1) / 2)]}'
}
echo
echo "ops/s, median of $ROUNDS rounds (1 thread / 2 threads); ratios: vhsm ÷ raw OpenSSL and vhsm ÷ SoftHSM2 at the same thread count;"
echo "2t÷SoftHSM2(1t): vhsm at 2 threads against SoftHSM2 at 1 thread (target ≥ 1.7)"
echo
echo "| op | raw OpenSSL | SoftHSM2 2.6.1 | vhsm | vhsm ÷ raw | vhsm ÷ SoftHSM2 | vhsm 2t ÷ SoftHSM2 1t |"
echo "|---|---|---|---|---|---|---|"
for op in ecdsa rsa gcm hmac; do
  r1=$(rate $op "$WORK/raw.1"); r2=$(rate $op "$WORK/raw.2")
  s1=$(rate $op "$WORK/softhsm.1"); s2=$(rate $op "$WORK/softhsm.2")
  v1=$(rate $op "$WORK/vhsm.1"); v2=$(rate $op "$WORK/vhsm.2")
  awk -v op=$op -v r1="${r1:-0}" -v r2="${r2:-0}" -v s1="${s1:-0}" -v s2="${s2:-0}" -v v1="${v1:-0}" -v v2="${v2:-0}" '
    function q(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
    BEGIN {
      printf "| %s | %d / %d | %d / %d | %d / %d | %s / %s | %s / %s | %s |\n", op, r1, r2, s1, s2, v1, v2,
             q(v1, r1), q(v2, r2), q(v1, s1), q(v2, s2), q(v2, s1)
    }'
done
