#!/usr/bin/env bash
# demo.sh (interim, until the end-to-end flow lands): shows a real AMD-signed SEV-SNP report and
# verifies real reports from ${VHSM_SHARED_DIR:-../shared}/snp-vectors with build/bin/vhsm,
# saying what was checked; then shows that a tampered report and a wrong chain are rejected.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${VHSM_SHARED_DIR:-$root/../shared}
vectors=$shared/snp-vectors
vhsm=${VHSM_BIN:-$root/build/bin/vhsm}

if [[ ! -x $vhsm ]]; then
  echo "demo: $vhsm not found; run 'make demo' (it builds first) or 'make build'" >&2
  exit 2
fi
if [[ ! -f $vectors/MANIFEST.json ]]; then
  echo "demo: no SEV-SNP test vectors at $vectors" >&2
  echo "demo: set VHSM_SHARED_DIR to the directory holding snp-vectors/ (read-only shared data)" >&2
  exit 2
fi
v=$vectors/vectors
amd=$vectors/certs/amd
rule() { printf '\n== %s\n' "$*"; }

rule "1. A real AMD-signed Genoa report (version 5, from Project Oak), decoded"
if ! "$vhsm" snp show "$v/genoa-v5-vcek-oak/report.bin" 2>/dev/null | head -40; then
  echo "(vhsm snp show not available yet; the verifier's JSON below carries every field)"
fi

rule "2. Verify it: AMD chain ARK-Genoa -> SEV-Genoa -> VCEK (pinned in the binary), signature, cross-checks"
"$vhsm" snp verify "$v/genoa-v5-vcek-oak/report.bin" --vcek "$v/genoa-v5-vcek-oak/vcek.der" \
  --ark "$amd/genoa_ark.pem" --ask "$amd/genoa_ask.pem"
rc=$?
echo "exit code $rc (0 = valid)"
[[ $rc == 0 ]] || { echo "demo: the genuine Genoa report did not verify" >&2; exit 1; }

rule "3. A v2 Milan report (no CPUID): the product is found by trying the pinned chains"
"$vhsm" snp verify "$v/milan-v2-vcek-virtee/report.bin" --vcek "$v/milan-v2-vcek-virtee/vcek.der" | tail -1

rule "4. A VLEK-signed report (AWS): ARK-Milan -> SEV-VLEK-Milan -> VLEK; its VLEK expired 2025-12-10"
"$vhsm" snp verify "$v/milan-v3-vlek-vmpl1-trustee/report.bin" --vlek "$v/milan-v3-vlek-vmpl1-trustee/vlek.der" \
  --at 2025-06-01T00:00:00Z | tail -1
echo "-- the same evidence at today's date:"
"$vhsm" snp verify "$v/milan-v3-vlek-vmpl1-trustee/report.bin" --vlek "$v/milan-v3-vlek-vmpl1-trustee/vlek.der" >/dev/null
echo "exit code $? (1 = rejected)"

rule "5. Negative cases are rejected with a one-line reason"
echo "-- REPORT_DATA byte 0x50 flipped:"
"$vhsm" snp verify "$v/neg-milan-v2-vcek-tampered-reportdata/report.bin" --vcek "$v/milan-v2-vcek-virtee/vcek.der" >/dev/null
echo "exit code $?"
echo "-- Genoa report presented with the Milan chain:"
"$vhsm" snp verify "$v/genoa-v3-vcek-azure-trustee/report.bin" --vcek "$v/genoa-v3-vcek-azure-trustee/vcek.pem" \
  --ark "$amd/milan_ark.pem" --ask "$amd/milan_ask.pem" >/dev/null
echo "exit code $?"
echo "-- a synthetic VCEK claiming to be from SEV-Milan:"
"$vhsm" snp verify "$v/milan-v2-vcek-virtee/report.bin" --product milan \
  --vcek "$v/neg-fake-vcek-hwid-encodings-trustee/vcek_hwid_raw64.der" >/dev/null
echo "exit code $?"

rule "What was checked"
cat <<'EOF'
For each report: length/version/reserved fields; SIGNING_KEY chooses the VCEK or VLEK path;
product from CPUID (v3+) or by the pinned chain that verifies (v2); any supplied ARK compared
byte-for-byte with AMD's pinned ARK (never trusted); ARK self-signature, ASK/ASVK by ARK and
leaf by ASK/ASVK, each RSASSA-PSS SHA-384/MGF1-SHA-384/salt 48 with the parameters checked;
subject/issuer names; validity periods at the verification time (--at pins it); CRL if given
(ARK-signed, fresh, ASK/ASVK and leaf serials); ECDSA P-384 report signature over 0x000-0x29F;
leaf SPL extensions == REPORTED_TCB; VCEK hwID == CHIP_ID; leaf productName == product.
Appraisal policy (debug, measurement, TCB minimums) is the Attestation Service's next step.
EOF
