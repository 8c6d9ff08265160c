#!/usr/bin/env bash
# End-to-end provisioning benchmark with the real processes on loopback (vhsm-attestd,
# vhsm-provisiond with SQLite, vhsmd on the SEV-SNP simulator), reusing the e2e test harness:
#   1. time from vhsmd start to the first provisioned key usable: vhsmd starts with one AES and
#      one EC resource configured (RCAR + 2 releases + import), then a fresh PKCS#11 client logs in
#      and encrypts/decrypts/signs/verifies with them (vhsm-example-client). p50/min/max over RUNS
#      starts, each with a fresh copy of an initialised token store.
#   2. provisioning throughput for a batch of BATCH AES-256 resources: (a) at start, one attestation
#      for the whole batch (vhsmd "provision:" start -> "done" from its log timestamps is not
#      available, so wall clock from exec to "listening" minus an empty start); (b) on demand,
#      BATCH sequential `vhsm provision` calls (one attestation each).
# Usage: bench/e2e_bench.sh BUILD_DIR [RUNS=11] [BATCH=100]
set -uo pipefail
BUILD=$(cd "${1:?usage: e2e_bench.sh BUILD_DIR [RUNS] [BATCH]}" && pwd)
RUNS=${2:-11}
BATCH=${3:-100}
export VHSM_BIN_DIR=$BUILD/bin VHSM_LIB_DIR=$BUILD/lib
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tests/integration/e2e_lib.sh"
die() { echo "e2e_bench: $*" >&2; for f in "$E2E_WORK"/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }
now_ms() { date +%s%3N; }
p50() { sort -n | awk '{a[NR]=$1} END {m=int((NR+1)/2); printf "p50 %d ms (min %d, max %d, n=%d)", a[m], a[1], a[NR], NR}'; }

e2e_init || exit 2
sim=$E2E_WORK/sim
e2e_sim "$sim" --measurement "$E2E_MEASUREMENT" || die "sim init"
e2e_start_attestd "$sim" || die "attestd"
e2e_start_provisiond || die "provisiond"
e2e_load_secrets || die "secrets"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# An initialised token store to copy for every run.
e2e_init_token "$sim" "$E2E_WORK/template" || die "token init"

start_wait() {  # STORE: starts vhsmd (config already written) and waits for "listening"
  : > "$E2E_WORK/vhsmd.log"
  "$bin/vhsmd" --socket "$E2E_WORK/b.sock" --store "$1" --platform sim --sim-state "$sim" \
    --config "$E2E_WORK/vhsmd.conf" ${2:+--admin-socket "$2"} > "$E2E_WORK/vhsmd.log" 2>&1 &
  BPID=$!
  E2E_PIDS+=("$BPID")
  until grep -q "listening on" "$E2E_WORK/vhsmd.log"; do
    kill -0 "$BPID" 2>/dev/null || die "vhsmd exited"
    sleep 0.002
  done
}

echo "== 1. vhsmd start -> first provisioned key usable (RCAR + 2 releases + import + client login/encrypt/sign)"
e2e_vhsmd_config "demo/key/aes-256:demo-aes:aes,demo/key/ec-p256:demo-ec:ec"
listen=() usable=()
for ((r = 0; r < RUNS; r++)); do
  rm -rf "$E2E_WORK/run" && cp -a "$E2E_WORK/template" "$E2E_WORK/run"
  t0=$(now_ms)
  start_wait "$E2E_WORK/run"
  t1=$(now_ms)
  VHSM_SOCKET=$E2E_WORK/b.sock e2e_client > "$E2E_WORK/client.out" 2>&1 || die "client: $(cat "$E2E_WORK/client.out")"
  t2=$(now_ms)
  grep -q "all checks passed" "$E2E_WORK/client.out" || die "client checks"
  listen+=($((t1 - t0)))
  usable+=($((t2 - t0)))
  e2e_stop "$BPID"
done
echo "start_to_listening (provisioned, token loaded)   $(printf '%s\n' "${listen[@]}" | p50)"
echo "start_to_first_key_usable (client done)          $(printf '%s\n' "${usable[@]}" | p50)"
# The same start without provisioning, for the share of the broker round trips.
e2e_vhsmd_config ""
plain=()
for ((r = 0; r < RUNS; r++)); do
  rm -rf "$E2E_WORK/run" && cp -a "$E2E_WORK/template" "$E2E_WORK/run"
  t0=$(now_ms); start_wait "$E2E_WORK/run"; plain+=($(( $(now_ms) - t0 ))); e2e_stop "$BPID"
done
echo "start_to_listening without provisioning         $(printf '%s\n' "${plain[@]}" | p50)"

echo "== 2. batch of $BATCH AES-256 resources"
list=""
for ((i = 0; i < BATCH; i++)); do
  head -c 32 /dev/urandom > "$E2E_WORK/b.key"
  admin_call PUT "$PS_URL/kbs/v0/resource/demo/batch/k$i" "$E2E_WORK/b.key" application/octet-stream || die "put k$i"
  list+="${list:+,}demo/batch/k$i:batch-$i:aes"
done
e2e_vhsmd_config "$list"
rm -rf "$E2E_WORK/run" && cp -a "$E2E_WORK/template" "$E2E_WORK/run"
t0=$(now_ms); start_wait "$E2E_WORK/run"; tb=$(( $(now_ms) - t0 ))
n=$(grep -c "imported as sealed token object" "$E2E_WORK/vhsmd.log")
[[ $n == "$BATCH" ]] || die "imported $n of $BATCH"
e2e_stop "$BPID"
base=$(printf '%s\n' "${plain[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
awk -v n="$BATCH" -v t="$tb" -v b="$base" 'BEGIN {printf "at start, one attestation: %d keys in %d ms (start %d ms minus empty start %d ms): %.1f keys/s\n", n, t - b, t, b, n * 1000.0 / (t - b)}'
e2e_vhsmd_config ""
rm -rf "$E2E_WORK/run" && cp -a "$E2E_WORK/template" "$E2E_WORK/run"
start_wait "$E2E_WORK/run" "$E2E_WORK/admin-b.sock"
t0=$(now_ms)
for ((i = 0; i < BATCH; i++)); do
  "$bin/vhsm" provision --socket "$E2E_WORK/admin-b.sock" --resource "demo/batch/k$i" --label "od-$i" --key-type aes \
    > "$E2E_WORK/prov.out" 2>&1 || die "provision k$i: $(cat "$E2E_WORK/prov.out")"
done
td=$(( $(now_ms) - t0 ))
e2e_stop "$BPID"
awk -v n="$BATCH" -v t="$td" 'BEGIN {printf "on demand, one attestation per key (sequential vhsm provision): %d keys in %d ms: %.1f keys/s\n", n, t, n * 1000.0 / t}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
