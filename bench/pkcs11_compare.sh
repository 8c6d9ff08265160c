#!/usr/bin/env bash
# Runs pkcs11_bench against libvhsm-pkcs11.so (with a fresh vhsmd) and SoftHSM2 in the same run,
# at 1 and 2 client threads. Usage: bench/pkcs11_compare.sh BUILD_DIR [SECONDS]
set -euo pipefail
BUILD=${1:?build dir}
SECS=${2:-3}
WORK=$(mktemp -d /tmp/vhsm-bench-XXXXXX)
"$BUILD/bin/vhsm" sim init "$WORK/platform" > "$WORK/sim-init.log" 2>&1
"$BUILD/bin/vhsmd" --socket "$WORK/s.sock" --store "$WORK/store" --platform sim \
  --sim-state "$WORK/platform" > "$WORK/daemon.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$WORK/daemon.log" && break; sleep 0.1; done
mkdir -p "$WORK/softhsm"
printf 'directories.tokendir = %s/softhsm\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK" > "$WORK/softhsm2.conf"
for threads in 1 2; do
  echo "== vhsm (libvhsm-pkcs11.so + vhsmd), $threads thread(s)"
  VHSM_SOCKET="$WORK/s.sock" "$BUILD/bench/pkcs11_bench" --module "$BUILD/lib/libvhsm-pkcs11.so" \
    --threads "$threads" --seconds "$SECS"
  echo "== SoftHSM2, $threads thread(s)"
  SOFTHSM2_CONF="$WORK/softhsm2.conf" "$BUILD/bench/pkcs11_bench" --module /usr/lib/softhsm/libsofthsm2.so \
    --threads "$threads" --seconds "$SECS"
done
