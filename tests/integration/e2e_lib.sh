# e2e_lib.sh: shared by scripts/demo.sh and tests/integration/e2e_test.sh. Starts the real
# vhsm-attestd, vhsm-provisiond and vhsmd on loopback (port 0) / a Unix socket in a temp dir,
# loads policies and secrets through the admin APIs, and stops everything it started (trap).
# Needs: VHSM_BIN_DIR (build/bin), VHSM_LIB_DIR (build/lib). Sourced, not executed.

E2E_PIDS=()
E2E_WORK=""
E2E_ATTESTD_ARGS=()     # extra flags for vhsm-attestd / vhsm-provisiond (e.g. --config FILE)
E2E_PROVISIOND_ARGS=()
E2E_ATTESTD_ENV=()      # extra environment for vhsm-attestd (e.g. VHSM_SOCKET of the HSM holding its key)
E2E_MEASUREMENT=${E2E_MEASUREMENT:-$(printf 'd3%.0s' {1..48})}   # the demo VM image
E2E_BAD_MEASUREMENT=$(printf 'ba%.0s' {1..48})                  # a VM that is not allowed
bin=${VHSM_BIN_DIR:?VHSM_BIN_DIR must point at build/bin}
lib=${VHSM_LIB_DIR:?VHSM_LIB_DIR must point at build/lib}

e2e_cleanup() {
  local p
  for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${E2E_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  E2E_PIDS=()
  if [[ -n $E2E_WORK && -z ${E2E_KEEP:-} ]]; then rm -rf "$E2E_WORK"; fi
}

e2e_init() {
  E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/vhsm-e2e.XXXXXX")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  local b
  for b in vhsm vhsmd vhsm-attestd vhsm-provisiond vhsm-example-client vhsm-e2e-admin-token vhsm-e2e-fake-broker; do
    [[ -x $bin/$b ]] || { echo "e2e: $bin/$b not built" >&2; return 2; }
  done
  [[ -f $lib/libvhsm-pkcs11.so ]] || { echo "e2e: $lib/libvhsm-pkcs11.so not built" >&2; return 2; }
  "$bin/vhsm-e2e-admin-token" keygen "$E2E_WORK/admin.key.pem" "$E2E_WORK/admin.pub.pem" || return 2
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$E2E_WORK/kek.hex"
}

# Starts "$@" in the background with output in $E2E_WORK/$name.log and waits (up to 30 s) for its
# "listening on URL" line; sets E2E_URL and E2E_PID.
e2e_start() {
  local name=$1; shift
  # The redirection below truncates the log in the child, after the parent has gone on to read it:
  # remove a previous run's log (same name) first, or its "listening on" line is taken for this one.
  rm -f "$E2E_WORK/$name.log"
  "$@" > "$E2E_WORK/$name.log" 2>&1 &
  E2E_PID=$!
  E2E_PIDS+=("$E2E_PID")
  local i
  for ((i = 0; i < 300; i++)); do
    E2E_URL=$(grep -m1 -o 'listening on [^ ]*' "$E2E_WORK/$name.log" 2>/dev/null | sed 's/listening on //')
    [[ -n $E2E_URL ]] && return 0
    kill -0 "$E2E_PID" 2>/dev/null || { echo "e2e: $name exited:" >&2; tail -20 "$E2E_WORK/$name.log" >&2; return 1; }
    sleep 0.1
  done
  echo "e2e: $name did not start" >&2
  return 1
}

e2e_stop() {  # PID
  kill "$1" 2>/dev/null; wait "$1" 2>/dev/null
  return 0
}

# A simulated SEV-SNP VM: e2e_sim DIR [vhsm sim init flags...]
e2e_sim() {
  local dir=$1; shift
  "$bin/vhsm" sim init "$dir" "$@" > "$E2E_WORK/sim-init.log" 2>&1 || { cat "$E2E_WORK/sim-init.log" >&2; return 1; }
}

# The same platform (chip, AMD-shaped CA) running another VM image: copy of DIR with a new
# MEASUREMENT (and optionally POLICY).
e2e_sim_clone() {  # SRC DST MEASUREMENT [POLICY_HEX]
  cp -a "$1" "$2" || return 1
  sed -i -E "s/^measurement *=.*/measurement = \"$3\"/" "$2/sim.toml"
  if [[ -n ${4:-} ]]; then sed -i -E "s/^policy *=.*/policy = $4/" "$2/sim.toml"; fi
}

admin_token() { "$bin/vhsm-e2e-admin-token" sign "$E2E_WORK/admin.key.pem" e2e; }

# curl with the admin token; prints the body, fails on HTTP >= 400.
admin_call() {  # METHOD URL [DATA_FILE] [CONTENT_TYPE]
  local args=(-sS -X "$1" -H "Authorization: Bearer $(admin_token)" -o "$E2E_WORK/admin.out" -w '%{http_code}')
  [[ -n ${3:-} ]] && args+=(--data-binary "@$3" -H "Content-Type: ${4:-application/json}")
  local code
  code=$(curl "${args[@]}" "$2") || return 1
  if ((code >= 400)); then echo "e2e: $1 $2 -> $code: $(cat "$E2E_WORK/admin.out")" >&2; return 1; fi
}

# Starts attestd trusting SIM's root with a policy allowing MEASUREMENT.
e2e_start_attestd() {  # SIM_DIR [POLICY_FILE]
  local policy=${2:-$E2E_WORK/as-policy.json}
  if [[ -z ${2:-} ]]; then
    cat > "$policy" <<JSON
{"id": "e2e-demo", "measurements": [{"label": "demo-vm", "measurement": "$E2E_MEASUREMENT"}],
 "guest_policy": {"allow_debug": false}}
JSON
  fi
  e2e_start attestd env "${E2E_ATTESTD_ENV[@]}" "$bin/vhsm-attestd" --listen 127.0.0.1:0 --dev --trust-root "$1/ark.pem" --policy "$policy" \
    --admin-key "$E2E_WORK/admin.pub.pem" --store "sqlite:$E2E_WORK/attestd.sqlite" "${E2E_ATTESTD_ARGS[@]}" || return 1
  AS_URL=$E2E_URL
  AS_PID=$E2E_PID
}

e2e_start_provisiond() {
  e2e_start provisiond "$bin/vhsm-provisiond" --listen 127.0.0.1:0 --dev --store "sqlite:$E2E_WORK/provisiond.sqlite" \
    --jwks "$AS_URL/.well-known/jwks.json" --admin-key "$E2E_WORK/admin.pub.pem" --kek "$E2E_WORK/kek.hex" \
    "${E2E_PROVISIOND_ARGS[@]}" || return 1
  PS_URL=$E2E_URL
  PS_PID=$E2E_PID
}

# Release policy for repo "demo": affirming token from the demo measurement. Secrets: an AES-256
# key and an EC P-256 private key (PKCS#8 DER); their bytes stay in files for the memory scan.
e2e_load_secrets() {
  cat > "$E2E_WORK/release-policy.json" <<JSON
{"allOf": [{"claim": "/submods/cpu0/ear.status", "equals": "affirming"},
           {"claim": "/submods/cpu0/ear.veraison.annotated-evidence/measurement", "equals": "$E2E_MEASUREMENT"}]}
JSON
  admin_call PUT "$PS_URL/kbs/v0/resource-policy/demo" "$E2E_WORK/release-policy.json" || return 1
  head -c 32 /dev/urandom > "$E2E_WORK/aes.key"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -outform DER -out "$E2E_WORK/ec.p8.der" 2>/dev/null ||
    return 1
  admin_call PUT "$PS_URL/kbs/v0/resource/demo/key/aes-256" "$E2E_WORK/aes.key" application/octet-stream || return 1
  admin_call PUT "$PS_URL/kbs/v0/resource/demo/key/ec-p256" "$E2E_WORK/ec.p8.der" application/octet-stream || return 1
}

# Writes vhsmd's config: PROVISION_LIST [extra lines...]
e2e_vhsmd_config() {
  local list=$1; shift
  {
    echo "pbkdf2_iterations = 1000"
    echo "attestation_url = ${AS_URL:-http://127.0.0.1:9}"
    echo "provisioning_url = ${PS_URL:-http://127.0.0.1:9}"
    echo "provision = $list"
    echo "provision_attempts = ${E2E_ATTEMPTS:-3}"
    echo "provision_backoff_ms = 100"
    local l
    for l in "$@"; do echo "$l"; done
  } > "$E2E_WORK/vhsmd.conf"
}

# Starts vhsmd for SIM_DIR with STORE_DIR and the config written above.
e2e_start_vhsmd() {  # SIM_DIR STORE_DIR
  VHSM_SOCKET=$E2E_WORK/vhsm.sock
  export VHSM_SOCKET
  local extra=()
  # E2E_ADMIN=1: also serve the admin socket (on-demand `vhsm provision`) at $VHSM_ADMIN_SOCKET.
  if [[ -n ${E2E_ADMIN:-} ]]; then
    VHSM_ADMIN_SOCKET=$E2E_WORK/admin.sock
    export VHSM_ADMIN_SOCKET
    extra=(--admin-socket "$VHSM_ADMIN_SOCKET")
  fi
  e2e_start vhsmd "$bin/vhsmd" --socket "$VHSM_SOCKET" --store "$2" --platform sim --sim-state "$1" \
    --config "$E2E_WORK/vhsmd.conf" "${extra[@]}" || return 1
  VHSMD_PID=$E2E_PID
}

# pkcs11-tool on our module (e2e_pkcs11_tool ARGS...). pkcs11-tool is not instrumented: in the ASan
# build, preload the ASan runtime our module was linked against (leak reports off for this
# third-party process only).
e2e_pkcs11_tool() {
  local asan_rt pre=()
  asan_rt=$(ldd "$lib/libvhsm-pkcs11.so" 2>/dev/null | awk '/libasan\.so/ {print $3; exit}')
  [[ -n $asan_rt ]] &&
    pre=(env "LD_PRELOAD=$asan_rt${LD_PRELOAD:+:$LD_PRELOAD}" "ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}")
  "${pre[@]}" pkcs11-tool --module "$lib/libvhsm-pkcs11.so" "$@"
}
# Token objects as pkcs11-tool lists them (needs a running vhsmd and the user PIN 1234).
e2e_p11_list() { e2e_pkcs11_tool --login --pin 1234 --list-objects 2>&1; }
# How many token objects carry CKA_LABEL LABEL, and their CKA_IDs (one per line).
e2e_label_count() { e2e_p11_list | grep -cE "^[[:space:]]*label:[[:space:]]+$1\$"; }
e2e_label_ids() {
  e2e_p11_list | awk -v L="$1" '/^[[:space:]]*label:/ {lab=$2} /^[[:space:]]*ID:/ {if (lab == L) print $2}'
}

# Runs vhsmd to completion expecting it to fail (a denial at start); prints its log.
e2e_vhsmd_expect_fail() {  # SIM_DIR STORE_DIR
  VHSM_SOCKET=$E2E_WORK/vhsm-fail.sock
  timeout 60 "$bin/vhsmd" --socket "$VHSM_SOCKET" --store "$2" --platform sim --sim-state "$1" \
    --config "$E2E_WORK/vhsmd.conf" > "$E2E_WORK/vhsmd-fail.log" 2>&1
  local rc=$?
  cat "$E2E_WORK/vhsmd-fail.log"
  return $((rc == 0 ? 1 : 0))
}

# Token initialisation (no provisioning configured), then stop.
e2e_init_token() {  # SIM_DIR STORE_DIR
  e2e_vhsmd_config ""
  e2e_start_vhsmd "$1" "$2" || return 1
  "$bin/vhsm-example-client" --module "$lib/libvhsm-pkcs11.so" --init-token so-secret --pin 1234 || return 1
  e2e_stop "$VHSMD_PID"
}

e2e_client() {  # extra args
  "$bin/vhsm-example-client" --module "$lib/libvhsm-pkcs11.so" --pin 1234 --aes-label demo-aes --ec-label demo-ec "$@"
}
