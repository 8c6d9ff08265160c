#!/usr/bin/env bash
# `vhsm sim init --ovmf ...` must set MEASUREMENT to exactly what `vhsm measure` computes for the
# same launch inputs, and a report from that state must carry it (checked against the shared
# known answer for the AmdSev fixture). Exit 77 (skip) when shared/snp-vectors is absent.
set -euo pipefail
: "${VHSM:?path to the vhsm binary}"
shared=${VHSM_SHARED_DIR:-$(dirname "$0")/../../../shared}
ovmf=$shared/snp-vectors/measure/ovmf_AmdSev_suffix.bin
if [ ! -f "$ovmf" ]; then echo "SKIP: $ovmf not found (shared/snp-vectors absent)"; exit 77; fi
want=803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
: > "$work/empty"
args=(--ovmf "$ovmf" --kernel "$work/empty" --initrd "$work/empty" --append "console=ttyS0 loglevel=7"
      --vcpu-sig 0x800F12 --guest-features 0x21)
got_measure=$("$VHSM" measure "${args[@]}")
[ "$got_measure" = "$want" ] || { echo "vhsm measure: got $got_measure want $want"; exit 1; }
"$VHSM" sim init "$work/s" --product genoa "${args[@]}" > "$work/init.txt"
grep -q "measurement:    $want" "$work/init.txt" || { cat "$work/init.txt"; echo "sim init did not set the measurement"; exit 1; }
"$VHSM" snp report --platform sim --sim-state "$work/s" --report-data "$(printf '%0128d' 0)" -o "$work/r.bin" \
  --certs-out "$work/c" > /dev/null
"$VHSM" snp show "$work/r.bin" --json | grep "\"$want\"" >/dev/null || { echo "report does not carry the measurement"; exit 1; }
# --ovmf and --measurement together are refused; so are launch inputs without --ovmf.
if "$VHSM" sim init "$work/s2" --ovmf "$ovmf" --measurement "$want" 2>/dev/null; then echo "conflict accepted"; exit 1; fi
if "$VHSM" sim init "$work/s3" --kernel "$work/empty" 2>/dev/null; then echo "--kernel without --ovmf accepted"; exit 1; fi
# A non-OVMF file is refused with the file named.
head -c 4096 /dev/zero > "$work/zero.bin"
if err=$("$VHSM" sim init "$work/s4" --ovmf "$work/zero.bin" 2>&1); then echo "non-OVMF accepted"; exit 1; fi
echo "$err" | grep -q "zero.bin" || { echo "error does not name the file: $err"; exit 1; }
echo "ok: sim init --ovmf sets MEASUREMENT $want"
