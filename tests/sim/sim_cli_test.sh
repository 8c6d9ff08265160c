#!/usr/bin/env bash
# End-to-end CLI test (ctest sim_cli_test): `vhsm sim init` a Turin v5 and a Milan v2 state,
# `vhsm snp report` from each, then `vhsm snp verify` accepts them only with the simulator ARK
# as --trust-root and prints the measurement/TCB chosen at init. $VHSM is the vhsm binary.
set -u
: "${VHSM:?set VHSM to the vhsm binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/vhsm-sim-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_rc() {  # expect_rc WANT LABEL -- cmd...
  local want=$1 label=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  [ "$rc" = "$want" ] || { fail "$label: exit $rc, want $want"; cat "$T/out" "$T/err" >&2; }
}
expect_in() {  # expect_in FILE TEXT LABEL
  grep -qF -- "$2" "$1" || { fail "$3: '$2' not in $(basename "$1")"; cat "$1" >&2; }
}
hex_repeat() { local out=""; for _ in $(seq "$2"); do out="$out$1"; done; echo "$out"; }

run_case() {  # run_case NAME PRODUCT VERSION TCB TCB_TEXT [extra init flags]
  local name=$1 product=$2 version=$3 tcb=$4 tcb_text=$5; shift 5
  local meas rd
  meas=$(hex_repeat "$(printf '%02x' $((RANDOM % 256)))" 48)
  rd=$(hex_repeat 5a 64)
  expect_rc 0 "$name init" -- "$VHSM" sim init "$T/$name" --product "$product" --report-version "$version" \
      --measurement "$meas" --tcb "$tcb" "$@"
  expect_in "$T/out" "TEST keys" "$name init warns about test keys"
  expect_rc 0 "$name report" -- "$VHSM" snp report --platform sim --sim-state "$T/$name" --report-data "$rd" \
      -o "$T/$name.bin" --certs-out "$T/$name-certs"
  [ "$(stat -c %s "$T/$name.bin" 2>/dev/null)" = 1184 ] || fail "$name: report is not 1184 bytes"
  for f in ark.pem ask.pem vcek.pem; do [ -f "$T/$name-certs/$f" ] || fail "$name: --certs-out lacks $f"; done
  expect_rc 0 "$name verify --trust-root" -- "$VHSM" snp verify "$T/$name.bin" --certs "$T/$name-certs" \
      --trust-root "$T/$name-certs/ark.pem"
  expect_in "$T/out" "$tcb_text" "$name verify prints the TCB set at init"
  expect_in "$T/out" "trusted non-AMD root" "$name verify names the root"
  expect_rc 0 "$name verify --json" -- "$VHSM" snp verify "$T/$name.bin" --certs "$T/$name-certs" \
      --trust-root "$T/$name-certs/ark.pem" --json
  expect_in "$T/out" "\"measurement\": \"$meas\"" "$name verify prints the measurement set at init"
  expect_rc 1 "$name verify without --trust-root" -- "$VHSM" snp verify "$T/$name.bin" --certs "$T/$name-certs"
  cat "$T/out" "$T/err" >"$T/both"
  expect_in "$T/both" "not AMD's" "$name rejection reason"
  # One flipped bit in MEASUREMENT (offset 0x90) must be rejected even with the trust root.
  cp "$T/$name.bin" "$T/$name-bad.bin"
  printf '\x00' | dd of="$T/$name-bad.bin" bs=1 seek=$((0x90)) conv=notrunc status=none
  expect_rc 1 "$name tampered report" -- "$VHSM" snp verify "$T/$name-bad.bin" --certs "$T/$name-certs" \
      --trust-root "$T/$name-certs/ark.pem"
}

run_case turin5 turin 5 "fmc=2,bl=3,tee=4,snp=5,ucode=0x44" "fmc=2 bl=3 tee=4 snp=5 ucode=68"
run_case milan2 milan 2 "bl=3,tee=0,snp=8,ucode=115" "bl=3 tee=0 snp=8 ucode=115" --vmpl 1

RD=$(hex_repeat 00 64)
expect_rc 2 "short report data" -- "$VHSM" snp report --platform sim --sim-state "$T/milan2" --report-data 00 -o "$T/x.bin"
expect_in "$T/err" "exactly 64 bytes" "short report data message"
expect_rc 2 "vmpl 4" -- "$VHSM" snp report --platform sim --sim-state "$T/milan2" --report-data "$RD" -o "$T/x.bin" --vmpl 4
expect_rc 1 "vmpl below the guest's" -- "$VHSM" snp report --platform sim --sim-state "$T/milan2" --report-data "$RD" -o "$T/x.bin" --vmpl 0
[ -e "$T/x.bin" ] && fail "a failed report left a file behind"
expect_rc 2 "auto without interfaces" -- "$VHSM" snp report --report-data "$RD" -o "$T/x.bin" \
    --configfs-root "$T/none" --device "$T/none-dev"
expect_in "$T/err" "no SEV-SNP guest interface found" "auto error message"
expect_rc 2 "sim state without --platform sim" -- "$VHSM" snp report --report-data "$RD" -o "$T/x.bin" --sim-state "$T/milan2"
expect_rc 2 "missing state" -- "$VHSM" snp report --platform sim --sim-state "$T/nope" --report-data "$RD" -o "$T/x.bin"
expect_in "$T/err" "vhsm sim init" "missing state message"

expect_rc 0 "key --reveal" -- "$VHSM" snp key --platform sim --sim-state "$T/milan2" --fields measurement,policy --reveal
key=$(tr -d '\n' <"$T/out")
[ ${#key} = 64 ] || fail "revealed key is not 32 bytes hex: $key"
expect_rc 0 "key fingerprint" -- "$VHSM" snp key --platform sim --sim-state "$T/milan2" --fields measurement,policy
expect_in "$T/out" "fingerprint sha256:" "key prints a fingerprint"
grep -qF "$key" "$T/out" && fail "fingerprint output reveals the key"
expect_rc 1 "key svn above launch" -- "$VHSM" snp key --platform sim --sim-state "$T/milan2" --svn 1

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed" >&2; exit 1; fi
echo "sim CLI: all checks passed"
