#!/usr/bin/env bash
# Object-store scale benchmark, ours and SoftHSM2 in the same run: token-object creation rate and
# C_FindObjects-by-label latency with N token objects (pkcs11_bench --ops objects), then vhsmd
# restart (process start → "listening", which loads and unseals every object) and the first
# C_Initialize + C_Login on a fresh process (pkcs11_bench --ops none).
# Usage: bench/pkcs11_objects.sh BUILD_DIR [N_OURS=100000] [N_SOFTHSM=10000]
set -euo pipefail
BUILD=${1:?build dir}
N=${2:-100000}
NS=${3:-10000}
WORK=$(mktemp -d /tmp/vhsm-objbench-XXXXXX)
PID=
trap '[[ -n $PID ]] && { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; }; rm -rf "$WORK"' EXIT
now_ms() { date +%s%3N; }
start_daemon() {
  : > "$WORK/daemon.log"
  local t0; t0=$(now_ms)
  "$BUILD/bin/vhsmd" --socket "$WORK/s.sock" --store "$WORK/store" --platform sim --sim-state "$WORK/platform" \
    > "$WORK/daemon.log" 2>&1 &
  PID=$!
  until grep -q "listening on" "$WORK/daemon.log"; do sleep 0.005; done
  echo "vhsmd_start_to_listening	objects=$1	$(( $(now_ms) - t0 )) ms"
}
"$BUILD/bin/vhsm" sim init "$WORK/platform" > "$WORK/sim-init.log" 2>&1
start_daemon 0
echo "== vhsm (libvhsm-pkcs11.so + vhsmd), $N token objects"
VHSM_SOCKET="$WORK/s.sock" "$BUILD/bench/pkcs11_bench" --module "$BUILD/lib/libvhsm-pkcs11.so" --ops objects \
  --objects "$N"
kill $PID; wait $PID 2>/dev/null || true
start_daemon "$N"
VHSM_SOCKET="$WORK/s.sock" "$BUILD/bench/pkcs11_bench" --module "$BUILD/lib/libvhsm-pkcs11.so" --ops none | grep initialize_open_login
echo "== SoftHSM2 2.6.1, $NS token objects"
mkdir -p "$WORK/softhsm"
printf 'directories.tokendir = %s/softhsm\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK" > "$WORK/softhsm2.conf"
SOFTHSM2_CONF="$WORK/softhsm2.conf" "$BUILD/bench/pkcs11_bench" --module /usr/lib/softhsm/libsofthsm2.so \
  --ops objects --objects "$NS"
SOFTHSM2_CONF="$WORK/softhsm2.conf" "$BUILD/bench/pkcs11_bench" --module /usr/lib/softhsm/libsofthsm2.so \
  --ops none | grep initialize_open_login
