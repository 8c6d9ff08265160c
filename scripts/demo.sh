#!/usr/bin/env bash
# demo.sh (`make demo`): the end-to-end flow with real processes. In a temp dir it creates a
# simulated SEV-SNP VM, starts vhsm-attestd (--dev, the simulator root trusted, a policy naming
# the demo measurement), vhsm-provisiond (SQLite, JWKS from attestd) and vhsmd (simulator) on
# loopback / a Unix socket, loads a release policy and two secrets (AES-256 key, EC P-256 PKCS#8)
# through the admin API, lets vhsmd attest and provision them, and runs examples/ client which
# uses the keys through PKCS#11 and cannot read them. It prints the six seed steps with what was
# checked and how long each took, then repeats with a VM whose measurement is not allowed and
# shows the denial. Everything it started is stopped on exit. Exit 0 only if all of that happened.
# Step 0 (when the shared vectors are present): a real AMD-signed report is verified first.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export VHSM_BIN_DIR=${VHSM_BIN_DIR:-$root/build/bin}
export VHSM_LIB_DIR=${VHSM_LIB_DIR:-$root/build/lib}
source "$root/tests/integration/e2e_lib.sh"
shared=${VHSM_SHARED_DIR:-$root/../shared}

rule() { printf '\n== %s\n' "$*"; }
die() { echo "demo: FAILED: $*" >&2; for f in "$E2E_WORK"/*.log; do echo "--- $f" >&2; tail -12 "$f" >&2; done; exit 1; }
now_ms() { date +%s%3N; }

e2e_init || exit 2

v=$shared/snp-vectors/vectors/genoa-v5-vcek-oak
if [[ -f $v/report.bin ]]; then
  rule "0. Before the simulator: a real AMD-signed Genoa report verifies against AMD's pinned chain"
  "$bin/vhsm" snp verify "$v/report.bin" --vcek "$v/vcek.der" > /dev/null 2>&1 || die "real report did not verify"
  echo "  valid (exit 0): ARK-Genoa -> SEV-Genoa -> VCEK, report signature, TCB and hwID cross-checks"
fi

rule "Setup: a simulated SEV-SNP VM (Genoa, measurement ${E2E_MEASUREMENT:0:16}...), the two services, secrets"
sim=$E2E_WORK/vm
t=$(now_ms); e2e_sim "$sim" --measurement "$E2E_MEASUREMENT" || die "vhsm sim init"
echo "  vhsm sim init: simulated AMD SP with its own test CA ($(( $(now_ms) - t )) ms)"
e2e_start_attestd "$sim" || die "vhsm-attestd did not start"
echo "  vhsm-attestd    at $AS_URL (policy e2e-demo: measurement allow-list, no debug; sim root trusted)"
e2e_start_provisiond || die "vhsm-provisiond did not start"
echo "  vhsm-provisiond at $PS_URL (SQLite, JWKS from vhsm-attestd)"
e2e_load_secrets || die "loading secrets"
echo "  admin API: release policy for repo demo (ear.status affirming AND the demo measurement);"
echo "             secrets demo/key/aes-256 (32 random bytes), demo/key/ec-p256 (EC P-256 PKCS#8)"
e2e_init_token "$sim" "$E2E_WORK/store" > /dev/null || die "token initialisation"
echo "  vhsmd token initialised (C_InitToken, C_InitPIN through the PKCS#11 module)"

rule "The six seed steps"
e2e_vhsmd_config "demo/key/aes-256:demo-aes:aes,demo/key/ec-p256:demo-ec:ec" "provision_on_duplicate = replace"
t=$(now_ms)
e2e_start_vhsmd "$sim" "$E2E_WORK/store" || die "vhsmd with provisioning"
t_ready=$(( $(now_ms) - t ))
echo "1. The application's keys are requested: vhsmd's config lists demo/key/aes-256 -> \"demo-aes\" (AES) and"
echo "   demo/key/ec-p256 -> \"demo-ec\" (EC); vhsmd generates an ephemeral P-256 key inside itself."
grep -o 'provision: step [2-5] .*' "$E2E_WORK/vhsmd.log" | sed -E 's/^provision: step ([2-5]) \(([^)]*)\): (.*)$/\1. [\2] \3/' |
  awk '{ print; if ($1 == "5.") seen5 = 1 } END { exit !seen5 }' || die "the provisioning steps did not all happen"
grep -o 'provision: demo/key/.*' "$E2E_WORK/vhsmd.log" | sed 's/^provision: /   -> /'
echo "   (vhsmd from start to serving, with provisioning: ${t_ready} ms)"
echo "6. The application uses the keys by handle through PKCS#11 (examples/vhsm-example-client):"
out=$(e2e_client) || { echo "$out"; die "the example client failed"; }
echo "$out" | sed 's/^/   /'

rule "A VM whose measurement is not allowed"
bad=$E2E_WORK/vm-bad
e2e_sim_clone "$sim" "$bad" "$E2E_BAD_MEASUREMENT" || die "clone"
echo "  same platform, another VM image: measurement ${E2E_BAD_MEASUREMENT:0:16}..."
e2e_vhsmd_config "demo/key/aes-256:demo-aes:aes"
t=$(now_ms)
out=$(e2e_vhsmd_expect_fail "$bad" "$E2E_WORK/store-bad") || { echo "$out"; die "the disallowed VM was provisioned"; }
echo "$out" | grep -E 'step 2|FAILED' | sed 's/^/  /'
grep -q "attestation denied" <<<"$out" || die "no attestation denial in: $out"
echo "  -> denied by vhsm-attestd; nothing was released or imported ($(( $(now_ms) - t )) ms)"

rule "Done: all steps happened; stopping everything that was started"
exit 0
