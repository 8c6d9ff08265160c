#!/usr/bin/env bash
# e2e_test.sh CASE: one end-to-end case with real processes (see CMakeLists.txt for the list).
# Exit 0 = pass. Every case asserts the outcome it names, including the reason of a denial.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/e2e_lib.sh"
fail() { echo "FAIL: $*" >&2; for f in "$E2E_WORK"/*.log; do echo "--- $f" >&2; tail -15 "$f" >&2; done; exit 1; }
# vhsm-attestd's EAR token must fit the 8 KiB header line cpp-httplib accepts (it used not to);
# name that failure plainly if it ever comes back.
skip_if_token_blocked() {
  if grep -q "answered 400: Bad Request (the Authorization header carried a" <<<"$1"; then
    fail "EAR token too large for vhsm-provisiond's HTTP header line limit"
  fi
}
expect_in() { grep -q -- "$2" <<<"$1" || fail "expected \"$2\" in: $1"; }
wait_for_line() {  # FILE TEXT [TENTHS]: waits (default 30 s) for TEXT to appear in FILE
  local i
  for ((i = 0; i < ${3:-300}; i++)); do grep -qs -- "$2" "$1" && return 0; sleep 0.1; done
  return 1
}
need_pkcs11_tool() { command -v pkcs11-tool >/dev/null || { echo "SKIP: pkcs11-tool (opensc) not installed"; exit 77; }; }

PROVISION="demo/key/aes-256:demo-aes:aes,demo/key/ec-p256:demo-ec:ec"
case_name=${1:?usage: e2e_test.sh CASE}
e2e_init || exit 2
sim=$E2E_WORK/sim
e2e_sim "$sim" --measurement "$E2E_MEASUREMENT" || fail "sim init"

services() {
  e2e_start_attestd "$sim" || fail "attestd"
  e2e_start_provisiond || fail "provisiond"
  e2e_load_secrets || fail "loading secrets"
}

provisioned_vhsmd() {  # STORE [extra config lines]
  local store=$1; shift
  e2e_init_token "$sim" "$store" || fail "token init"
  e2e_vhsmd_config "$PROVISION" "$@"
  if ! e2e_start_vhsmd "$sim" "$store"; then
    skip_if_token_blocked "$(cat "$E2E_WORK/vhsmd.log")"
    fail "vhsmd with provisioning"
  fi
}

case $case_name in
  full_flow)
    services
    provisioned_vhsmd "$E2E_WORK/store"
    log=$(cat "$E2E_WORK/vhsmd.log")
    for s in "step 2" "step 3" "step 4" "step 5" "demo/key/aes-256 -> label \"demo-aes\" (aes 256-bit): imported" \
             "demo/key/ec-p256 -> label \"demo-ec\" (ec 256-bit): imported"; do expect_in "$log" "$s"; done
    # Key material in the secure heap: locked when vhsmd may lock memory (root or a large
    # RLIMIT_MEMLOCK), and the imported keys fit in it.
    # (An ASan-built vhsmd cannot lock: ASan turns mlock into a no-op, and vhsmd must say so.)
    if ldd "$bin/vhsmd" 2>/dev/null | grep libasan >/dev/null; then
      expect_in "$log" "secure heap: 32 MiB, excluded from core dumps but NOT locked"
    elif [[ $(id -u) == 0 || $(ulimit -l) == unlimited ]]; then
      expect_in "$log" "secure heap: 32 MiB, locked in memory, excluded from core dumps"
    else
      expect_in "$log" "secure heap: 32 MiB, excluded from core dumps but NOT locked"
    fi
    expect_in "$log" "MiB in use after loading the token"
    grep -q "did not fit" <<<"$log" && fail "secrets outside the secure heap: $log"
    out=$(e2e_client) || fail "client: $out"
    expect_in "$out" "CKR_ATTRIBUTE_SENSITIVE (as required"
    expect_in "$out" "resource demo/key/aes-256"
    expect_in "$out" "all checks passed"
    # The provisioning service audited both releases.
    admin_call GET "$PS_URL/kbs/v0/audit" || fail "audit"
    [[ $(grep -o 'demo/key/aes-256' "$E2E_WORK/admin.out" | wc -l) -ge 1 ]] || fail "no audit record: $(cat "$E2E_WORK/admin.out")"
    ;;
  measurement_denied)
    services
    bad=$E2E_WORK/sim-bad
    e2e_sim_clone "$sim" "$bad" "$E2E_BAD_MEASUREMENT" || fail "clone"
    e2e_vhsmd_config "$PROVISION"
    out=$(e2e_vhsmd_expect_fail "$bad" "$E2E_WORK/store-bad") || fail "vhsmd started for a disallowed measurement: $out"
    expect_in "$out" "attestation denied"
    expect_in "$out" "measurement"
    ;;
  debug_denied)
    services
    dbg=$E2E_WORK/sim-debug
    # Same measurement, but the guest policy allows debugging (bit 19).
    e2e_sim_clone "$sim" "$dbg" "$E2E_MEASUREMENT" "0x00000000000b0000" || fail "clone"
    e2e_vhsmd_config "$PROVISION"
    out=$(e2e_vhsmd_expect_fail "$dbg" "$E2E_WORK/store-dbg") || fail "vhsmd started for a debug guest: $out"
    expect_in "$out" "attestation denied"
    expect_in "$out" "debug"
    ;;
  resource_policy_denied)
    services
    # A resource whose policy wants another measurement: attestation passes, release is refused.
    echo "{\"claim\": \"/submods/cpu0/ear.veraison.annotated-evidence/measurement\", \"equals\": \"$E2E_BAD_MEASUREMENT\"}" \
      > "$E2E_WORK/other-policy.json"
    admin_call PUT "$PS_URL/kbs/v0/resource-policy/other" "$E2E_WORK/other-policy.json" || fail "policy"
    admin_call PUT "$PS_URL/kbs/v0/resource/other/key/aes" "$E2E_WORK/aes.key" application/octet-stream || fail "put"
    e2e_vhsmd_config "demo/key/aes-256:demo-aes:aes,other/key/aes:other-aes:aes"
    out=$(e2e_vhsmd_expect_fail "$sim" "$E2E_WORK/store-rp") || fail "vhsmd started despite a resource denial: $out"
    skip_if_token_blocked "$out"
    expect_in "$out" "step 3"
    expect_in "$out" "release of other/key/aes denied"
    # All or nothing: the allowed key of the same batch was not imported either.
    expect_in "$out" "FAILED"
    ! grep -q "imported" <<<"$out" || fail "something was imported: $out"
    ;;
  wrong_key_type)
    services
    e2e_vhsmd_config "demo/key/aes-256:demo-aes:ec"
    out=$(e2e_vhsmd_expect_fail "$sim" "$E2E_WORK/store-wt") || fail "vhsmd accepted an AES key as EC: $out"
    skip_if_token_blocked "$out"
    expect_in "$out" "secret for key type ec: not a PKCS#8 private key"
    ;;
  restart_without_services)
    services
    provisioned_vhsmd "$E2E_WORK/store"
    e2e_stop "$VHSMD_PID"
    e2e_stop "$PS_PID"
    e2e_stop "$AS_PID"
    e2e_start_vhsmd "$sim" "$E2E_WORK/store" || fail "restart"
    expect_in "$(cat "$E2E_WORK/vhsmd.log")" "already on the token, kept"
    out=$(e2e_client) || fail "client after restart: $out"
    expect_in "$out" "all checks passed"
    ;;
  store_moved)
    # A sealed token store (initialised token + provisioned keys when the release leg works).
    services
    if ! (provisioned_vhsmd "$E2E_WORK/store" && e2e_stop "$VHSMD_PID") >/dev/null 2>&1; then
      rm -rf "$E2E_WORK/store"
      e2e_init_token "$sim" "$E2E_WORK/store" || fail "token init"
    fi
    other=$E2E_WORK/sim-other
    e2e_sim_clone "$sim" "$other" "$E2E_BAD_MEASUREMENT" || fail "clone"
    e2e_vhsmd_config ""
    out=$(e2e_vhsmd_expect_fail "$other" "$E2E_WORK/store") || fail "store opened under another measurement: $out"
    expect_in "$out" "cannot open token store"
    ;;
  client_memory_clean)
    services
    provisioned_vhsmd "$E2E_WORK/store"
    "$bin/vhsm-example-client" --module "$lib/libvhsm-pkcs11.so" --pin 1234 --hold-seconds 20 > "$E2E_WORK/client.out" 2>&1 &
    cpid=$!
    E2E_PIDS+=("$cpid")
    for ((i = 0; i < 100; i++)); do grep -qs "holding the session" "$E2E_WORK/client.out" && break; sleep 0.1; done
    grep -q "holding the session" "$E2E_WORK/client.out" || fail "client did not reach the hold: $(cat "$E2E_WORK/client.out")"
    # Scan every readable mapping of the live client for the AES key and the EC scalar.
    python3 "$here/scan_memory.py" "$cpid" "$E2E_WORK/aes.key" "$E2E_WORK/ec.p8.der" || fail "key bytes found in the client"
    wait "$cpid" || fail "client failed: $(cat "$E2E_WORK/client.out")"
    ;;
  services_down)
    # No services at all: bounded retries with a clear status, then vhsmd refuses to start.
    AS_URL=http://127.0.0.1:9 PS_URL=http://127.0.0.1:9 e2e_vhsmd_config "$PROVISION"
    start=$(date +%s)
    out=$(e2e_vhsmd_expect_fail "$sim" "$E2E_WORK/store-down") || fail "vhsmd started without services: $out"
    expect_in "$out" "retry 1/2"
    expect_in "$out" "attestation service unreachable"
    expect_in "$out" "after 3 attempts"
    (( $(date +%s) - start < 30 )) || fail "retries not bounded"
    ;;
  fake_broker_flow)
    # vhsmd import + PKCS#11 use + memory scan + restart, with a stand-in broker (binding checked,
    # no chain/policy): independent of the real services' state.
    head -c 32 /dev/urandom > "$E2E_WORK/aes.key"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -outform DER -out "$E2E_WORK/ec.p8.der" 2>/dev/null
    e2e_start broker "$bin/vhsm-e2e-fake-broker" "demo/key/aes-256=$E2E_WORK/aes.key" \
      "demo/key/ec-p256=$E2E_WORK/ec.p8.der" || fail "broker"
    AS_URL=$E2E_URL PS_URL=$E2E_URL
    broker_pid=$E2E_PID
    provisioned_vhsmd "$E2E_WORK/store"
    expect_in "$(cat "$E2E_WORK/vhsmd.log")" "(ec 256-bit): imported"
    "$bin/vhsm-example-client" --module "$lib/libvhsm-pkcs11.so" --pin 1234 --hold-seconds 8 > "$E2E_WORK/client.out" 2>&1 &
    cpid=$!
    E2E_PIDS+=("$cpid")
    for ((i = 0; i < 100; i++)); do grep -qs "holding the session" "$E2E_WORK/client.out" && break; sleep 0.1; done
    grep -q "holding the session" "$E2E_WORK/client.out" || fail "client: $(cat "$E2E_WORK/client.out")"
    python3 "$here/scan_memory.py" "$cpid" "$E2E_WORK/aes.key" "$E2E_WORK/ec.p8.der" || fail "key bytes in the client"
    wait "$cpid" || fail "client failed: $(cat "$E2E_WORK/client.out")"
    cat "$E2E_WORK/client.out"
    e2e_stop "$VHSMD_PID"
    e2e_stop "$broker_pid"
    e2e_start_vhsmd "$sim" "$E2E_WORK/store" || fail "restart without broker"
    out=$(e2e_client) || fail "client after restart: $out"
    expect_in "$out" "all checks passed"
    ;;
  import_killed)
    # vhsmd is SIGKILLed in the middle of importing a key pair (a test hook pauses the import after
    # the first row, inside the open transaction): after a restart each label's set is complete
    # (the old pair) or absent, never half. Start-up import, on-demand new label, on-demand replace.
    need_pkcs11_tool
    services
    store=$E2E_WORK/store
    e2e_init_token "$sim" "$store" || fail "token init"
    e2e_vhsmd_config "demo/key/ec-p256:boot-ec:ec"
    VHSM_TEST_IMPORT_PAUSE_MS=60000 "$bin/vhsmd" --socket "$E2E_WORK/k.sock" --store "$store" --platform sim \
      --sim-state "$sim" --config "$E2E_WORK/vhsmd.conf" > "$E2E_WORK/vhsmd-kill-start.log" 2>&1 &
    kpid=$!
    E2E_PIDS+=("$kpid")
    wait_for_line "$E2E_WORK/vhsmd-kill-start.log" "TEST HOOK: import paused" || fail "start-up import never paused"
    kill -KILL "$kpid"
    wait "$kpid" 2>/dev/null
    E2E_ADMIN=1
    e2e_vhsmd_config ""
    e2e_start_vhsmd "$sim" "$store" || fail "vhsmd (admin)"
    out=$("$bin/vhsm" provision --resource demo/key/ec-p256 --label od-ec --key-type ec --id 01 2>&1) || fail "provision: $out"
    expect_in "$out" "imported as handle(s)"
    e2e_stop "$VHSMD_PID"
    for what in replace new; do
      VHSM_TEST_IMPORT_PAUSE_MS=60000 e2e_start_vhsmd "$sim" "$store" || fail "vhsmd with the pause hook"
      if [[ $what == replace ]]; then
        args=(--label od-ec --id 02 --on-duplicate replace)
      else
        args=(--label od-new --id 03)
      fi
      "$bin/vhsm" provision --resource demo/key/ec-p256 --key-type ec "${args[@]}" > "$E2E_WORK/cli-$what.out" 2>&1 &
      cli=$!
      wait_for_line "$E2E_WORK/vhsmd.log" "TEST HOOK: import paused" || fail "$what: import never paused"
      kill -KILL "$VHSMD_PID"
      wait "$VHSMD_PID" 2>/dev/null
      wait "$cli" && fail "$what: vhsm provision reported success although vhsmd died: $(cat "$E2E_WORK/cli-$what.out")"
    done
    e2e_start_vhsmd "$sim" "$store" || fail "restart after the kills"
    [[ $(e2e_label_count boot-ec) == 0 ]] || fail "half start-up import: $(e2e_p11_list)"
    [[ $(e2e_label_count od-new) == 0 ]] || fail "half on-demand import: $(e2e_p11_list)"
    [[ $(e2e_label_ids od-ec | sort | uniq -c | tr -s ' ') == " 2 01" ]] || fail "od-ec is not the old complete pair: $(e2e_p11_list)"
    # Without a kill the replace switches the whole pair at once.
    out=$("$bin/vhsm" provision --resource demo/key/ec-p256 --label od-ec --key-type ec --id 04 --on-duplicate replace 2>&1) ||
      fail "replace: $out"
    expect_in "$out" "replaced as handle(s)"
    [[ $(e2e_label_ids od-ec | sort | uniq -c | tr -s ' ') == " 2 04" ]] || fail "replace not complete: $(e2e_p11_list)"
    echo "after 3 kills: boot-ec absent, od-new absent, od-ec the complete old pair; replace without a kill: new pair"
    ;;
  on_demand)
    # `vhsm provision` through vhsmd's admin socket with the real services: provision, use, refuse
    # a duplicate, replace, denial with its reason, wrong key type, status, service down.
    services
    E2E_ADMIN=1
    e2e_init_token "$sim" "$E2E_WORK/store" || fail "token init"
    e2e_vhsmd_config ""
    e2e_start_vhsmd "$sim" "$E2E_WORK/store" || fail "vhsmd"
    [[ $(stat -c %a "$VHSM_ADMIN_SOCKET") == 600 ]] || fail "admin socket mode $(stat -c %a "$VHSM_ADMIN_SOCKET")"
    out=$("$bin/vhsm" provision --resource demo/key/aes-256 --label od-aes --key-type aes 2>&1) || fail "aes: $out"
    for s in "step 2" "step 3" "step 4" "step 5" "provisioned demo/key/aes-256 -> label \"od-aes\" (aes 256-bit): imported as handle(s)" \
             "token jti" "total"; do expect_in "$out" "$s"; done
    echo "$out"
    out=$("$bin/vhsm" provision --resource demo/key/ec-p256 --label od-ec --key-type ec --id 0a0b 2>&1) || fail "ec: $out"
    expect_in "$out" "(ec 256-bit): imported"
    out=$("$bin/vhsm-example-client" --module "$lib/libvhsm-pkcs11.so" --pin 1234 --aes-label od-aes --ec-label od-ec) ||
      fail "client: $out"
    expect_in "$out" "all checks passed"
    expect_in "$out" "CKR_ATTRIBUTE_SENSITIVE (as required"
    out=$("$bin/vhsm" provision --resource demo/key/aes-256 --label od-aes --key-type aes --on-duplicate refuse 2>&1)
    [[ $? == 1 ]] || fail "duplicate label accepted: $out"
    expect_in "$out" "ALREADY_EXISTS"
    out=$("$bin/vhsm" provision --resource demo/key/aes-256 --label od-aes --key-type aes --on-duplicate replace 2>&1) ||
      fail "replace: $out"
    expect_in "$out" "replaced as handle(s)"
    echo "{\"claim\": \"/submods/cpu0/ear.veraison.annotated-evidence/measurement\", \"equals\": \"$E2E_BAD_MEASUREMENT\"}" \
      > "$E2E_WORK/other-policy.json"
    admin_call PUT "$PS_URL/kbs/v0/resource-policy/other" "$E2E_WORK/other-policy.json" || fail "policy"
    admin_call PUT "$PS_URL/kbs/v0/resource/other/key/aes" "$E2E_WORK/aes.key" application/octet-stream || fail "put"
    out=$("$bin/vhsm" provision --resource other/key/aes --label od-other --key-type aes 2>&1)
    [[ $? == 1 ]] || fail "denied release accepted: $out"
    expect_in "$out" "PERMISSION_DENIED: release of other/key/aes denied"
    out=$("$bin/vhsm" provision --resource demo/key/aes-256 --label od-wrong --key-type ec 2>&1)
    [[ $? == 1 ]] || fail "AES bytes accepted as ec: $out"
    expect_in "$out" "secret for key type ec: not a PKCS#8 private key"
    out=$("$bin/vhsm" provision --resource demo/key/aes-256 --label od-hmac --key-type hmac --json 2>&1) || fail "hmac: $out"
    expect_in "$out" '"jti"'
    out=$("$bin/vhsm" provision status 2>&1) || fail "status: $out"
    expect_in "$out" '"succeeded": 4'
    expect_in "$out" '"failed": 3'
    expect_in "$out" '"startup": "nothing configured"'
    e2e_stop "$PS_PID"
    start=$(date +%s)
    out=$("$bin/vhsm" provision --resource demo/key/aes-256 --label od-down --key-type aes 2>&1)
    [[ $? == 1 ]] || fail "provisioned with the provisioning service down: $out"
    expect_in "$out" "UNAVAILABLE"
    expect_in "$out" "provisioning service unreachable"
    (( $(date +%s) - start < 30 )) || fail "retries not bounded"
    [[ $(e2e_label_count od-down) == 0 || ! -x $(command -v pkcs11-tool) ]] || fail "object after a failure"
    # Usage errors are exit 2 and never reach vhsmd.
    "$bin/vhsm" provision --resource a/b --label x --key-type aes >/dev/null 2>&1; [[ $? == 2 ]] || fail "bad resource not exit 2"
    VHSM_ADMIN_SOCKET=$E2E_WORK/nope.sock "$bin/vhsm" provision status >/dev/null 2>&1; [[ $? == 2 ]] || fail "no socket not exit 2"
    ;;
  token_expired)
    # The EAR token expires between attest and fetch (attestd issues 1-second tokens, provisiond
    # allows no clock skew, vhsmd waits 2.5 s before the first fetch): vhsmd attests once more and
    # the import succeeds (a second expiry would fail: RcarFake.ExpiredTokenReattestsOnce).
    printf 'token_ttl_seconds = 1\n' > "$E2E_WORK/attestd.toml"
    printf 'clock_skew_seconds = 0\n' > "$E2E_WORK/provisiond.toml"
    E2E_ATTESTD_ARGS=(--config "$E2E_WORK/attestd.toml") E2E_PROVISIOND_ARGS=(--config "$E2E_WORK/provisiond.toml")
    services
    e2e_init_token "$sim" "$E2E_WORK/store" || fail "token init"
    e2e_vhsmd_config "$PROVISION"
    VHSM_TEST_FETCH_DELAY_MS=2500 e2e_start_vhsmd "$sim" "$E2E_WORK/store" || fail "vhsmd: $(cat "$E2E_WORK/vhsmd.log")"
    log=$(cat "$E2E_WORK/vhsmd.log")
    expect_in "$log" "TEST HOOK: waiting 2500 ms"
    expect_in "$log" "provisioning service refused the token"
    expect_in "$log" "attesting again (once)"
    expect_in "$log" "(ec 256-bit): imported"
    [[ $(grep -c "step 3" <<<"$log") == 2 ]] || fail "want exactly two attestations: $log"
    out=$(e2e_client) || fail "client: $out"
    expect_in "$out" "all checks passed"
    ;;
  foreign_uid)
    # Access control against a client running as another uid (the account "nobody"): the socket
    # file's mode, vhsmd's SO_PEERCRED allow-list (uid, primary gid, the account's supplementary
    # groups), socket_group, and the admin socket (root or vhsmd's uid only).
    [[ $(id -u) == 0 ]] || { echo "SKIP: needs root to run a client under another uid"; exit 77; }
    command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) not installed"; exit 77; }
    nuid=$(id -u nobody) || fail "no account nobody"
    ngid=$(getent passwd nobody | cut -d: -f4)
    other=54321   # a uid/gid with no account and in no allow-list
    chmod 711 "$E2E_WORK"   # traversal only, so the other uid reaches the sockets
    fb=$E2E_WORK/foreign    # the client binaries, readable whatever the checkout's permissions
    mkdir "$fb" && cp "$bin/vhsm-example-client" "$bin/vhsm" "$lib/libvhsm-pkcs11.so" "$fb/" && chmod 755 "$fb" "$fb"/* ||
      fail "copy client binaries"
    as_other() {  # UID GID GROUPS(comma list or -) CMD...: runs CMD as that uid/gid
      local u=$1 g=$2 grp=$3; shift 3
      local gflag=(--clear-groups)
      [[ $grp != - ]] && gflag=(--groups "$grp")
      setpriv --reuid "$u" --regid "$g" "${gflag[@]}" env VHSM_SOCKET="$VHSM_SOCKET" \
        VHSM_ADMIN_SOCKET="${VHSM_ADMIN_SOCKET:-}" "$@" 2>&1
    }
    init_as() { as_other "$@" "$fb/vhsm-example-client" --module "$fb/libvhsm-pkcs11.so" --init-token so-secret --pin 1234; }
    # 1. Default: socket 0660 root:root, admin socket 0600, no allow-list.
    E2E_ADMIN=1
    e2e_vhsmd_config ""
    e2e_start_vhsmd "$sim" "$E2E_WORK/store" || fail "vhsmd"
    [[ $(stat -c '%a %u %g' "$VHSM_SOCKET") == "660 0 0" ]] || fail "socket: $(stat -c '%a %u %g' "$VHSM_SOCKET")"
    out=$(init_as "$nuid" "$ngid" -) && fail "nobody used the token through a 0660 root socket: $out"
    expect_in "$out" "Permission denied"
    chmod 666 "$VHSM_SOCKET"   # past the file mode: the allow-list must refuse
    out=$(init_as "$nuid" "$ngid" -) && fail "a uid outside the allow-list was served: $out"
    wait_for_line "$E2E_WORK/vhsmd.log" "refused connection from uid $nuid gid $ngid" 50 || fail "no refusal logged"
    out=$(as_other "$nuid" "$ngid" - "$fb/vhsm" provision status) && fail "nobody read the admin socket: $out"
    expect_in "$out" "Permission denied"
    chmod 666 "$VHSM_ADMIN_SOCKET"   # past the file mode: the uid check must refuse
    out=$(as_other "$nuid" "$ngid" - "$fb/vhsm" provision status) && fail "nobody used the admin socket: $out"
    expect_in "$out" "PERMISSION_DENIED"
    expect_in "$out" "uid $nuid is not root"
    e2e_stop "$VHSMD_PID"
    # 2. socket_group + allowed_gids = nobody's group.
    unset E2E_ADMIN VHSM_ADMIN_SOCKET
    e2e_vhsmd_config "" "socket_group = $ngid" "allowed_gids = $ngid"
    e2e_start_vhsmd "$sim" "$E2E_WORK/store" || fail "vhsmd (socket_group)"
    [[ $(stat -c '%a %g' "$VHSM_SOCKET") == "660 $ngid" ]] || fail "socket_group: $(stat -c '%a %g' "$VHSM_SOCKET")"
    out=$(init_as "$nuid" "$ngid" -) || fail "nobody (primary gid allowed) refused: $out"
    expect_in "$out" "token initialised"
    # Primary gid not listed, but the account's group is (getgrouplist); the process reaches the
    # socket through its supplementary group.
    out=$(init_as "$nuid" "$other" "$ngid") || fail "nobody (account group allowed) refused: $out"
    expect_in "$out" "token initialised"
    # A uid with no account: same supplementary group gets it past the file mode, not the allow-list.
    out=$(init_as "$other" "$other" "$ngid") && fail "uid $other with no allowed group was served: $out"
    wait_for_line "$E2E_WORK/vhsmd.log" "refused connection from uid $other gid $other" 50 || fail "no refusal logged for $other"
    # 3. An unknown socket_group is a start-up error that names it.
    e2e_stop "$VHSMD_PID"
    e2e_vhsmd_config "" "socket_group = no-such-group-vhsm"
    out=$(e2e_vhsmd_expect_fail "$sim" "$E2E_WORK/store") || fail "vhsmd started with an unknown socket_group: $out"
    expect_in "$out" 'no group named "no-such-group-vhsm"'
    echo "foreign uid: file mode, allow-list (uid, primary and account groups), socket_group and admin socket all enforced"
    ;;
  attestd_key_in_vhsm | attestd_key_in_softhsm)
    # The real vhsm-attestd with its EAR signing key in a PKCS#11 token named by an RFC 7512 URI
    # (module-path, pin-source): our own vHSM (a second vhsmd on its own simulated VM) or SoftHSM2.
    # The JWKS must publish the token's key; a Trustee-shaped client written in Python gets a token
    # that python3-jwt verifies against it; vhsmd's provisioning works end to end with it; a wrong
    # PIN stops vhsm-attestd at start with a clear error.
    need_pkcs11_tool
    printf 'ear-pin-1' > "$E2E_WORK/ear.pin"
    printf 'not-the-pin' > "$E2E_WORK/bad.pin"
    if [[ $case_name == attestd_key_in_vhsm ]]; then
      hsm_mod=$lib/libvhsm-pkcs11.so
      e2e_sim "$E2E_WORK/hsm-sim" || fail "sim for the HSM's VM"
      e2e_start earhsm "$bin/vhsmd" --socket "$E2E_WORK/ear.sock" --store "$E2E_WORK/ear-store" --platform sim \
        --sim-state "$E2E_WORK/hsm-sim" || fail "vhsmd holding the EAR key"
      E2E_ATTESTD_ENV=("VHSM_SOCKET=$E2E_WORK/ear.sock")
      p11() { VHSM_SOCKET=$E2E_WORK/ear.sock e2e_pkcs11_tool "$@"; }
    else
      hsm_mod=/usr/lib/softhsm/libsofthsm2.so
      [[ -f $hsm_mod ]] || { echo "SKIP: SoftHSM2 not installed"; exit 77; }
      mkdir "$E2E_WORK/softhsm"
      printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$E2E_WORK/softhsm" \
        > "$E2E_WORK/softhsm2.conf"
      E2E_ATTESTD_ENV=("SOFTHSM2_CONF=$E2E_WORK/softhsm2.conf")
      p11() { SOFTHSM2_CONF=$E2E_WORK/softhsm2.conf pkcs11-tool --module "$hsm_mod" "$@"; }
    fi
    p11 --init-token --label ear --so-pin 87654321 > "$E2E_WORK/p11.log" 2>&1 || fail "init-token: $(cat "$E2E_WORK/p11.log")"
    p11 --token-label ear --login --login-type so --so-pin 87654321 --init-pin --new-pin ear-pin-1 > "$E2E_WORK/p11.log" 2>&1 ||
      fail "init-pin: $(cat "$E2E_WORK/p11.log")"
    p11 --token-label ear --login --pin ear-pin-1 --keypairgen --key-type EC:prime256v1 --label ear-p256 --id 0e \
      > "$E2E_WORK/p11.log" 2>&1 || fail "keypairgen: $(cat "$E2E_WORK/p11.log")"
    # The public point as pkcs11-tool lists it (CKA_EC_POINT, DER OCTET STRING). (Not
    # --read-object --type pubkey: OpenSC 0.23's pkcs11-tool uses a freed buffer on that path for
    # EC keys, which ASan, preloaded into it in the ASan build, reports.)
    p11 --token-label ear --list-objects --type pubkey > "$E2E_WORK/p11.log" 2>&1 || fail "list public key: $(cat "$E2E_WORK/p11.log")"
    ec_point=$(awk '/EC_POINT:/ {print $2; exit}' "$E2E_WORK/p11.log")
    [[ -n $ec_point ]] || fail "no EC_POINT listed: $(cat "$E2E_WORK/p11.log")"
    uri="pkcs11:token=ear;object=ear-p256?module-path=$hsm_mod"
    # A wrong PIN: vhsm-attestd refuses to start and says why.
    out=$(env "${E2E_ATTESTD_ENV[@]}" timeout 60 "$bin/vhsm-attestd" --listen 127.0.0.1:0 --dev --trust-root "$sim/ark.pem" \
          --store "sqlite:$E2E_WORK/unused.sqlite" --signing-key "$uri&pin-source=$E2E_WORK/bad.pin" 2>&1) && fail "vhsm-attestd started with a wrong PIN: $out"
    expect_in "$out" "--signing-key"
    expect_in "$out" "CKR_PIN_INCORRECT"
    E2E_ATTESTD_ARGS=(--signing-key "$uri&pin-source=$E2E_WORK/ear.pin")
    services
    expect_in "$(cat "$E2E_WORK/attestd.log")" "EAR signing key in PKCS#11 token"
    curl -sSf "$AS_URL/.well-known/jwks.json" -o "$E2E_WORK/jwks.json" || fail "JWKS"
    /usr/bin/python3 - "$ec_point" "$E2E_WORK/jwks.json" <<'PY' || fail "JWKS does not publish the token's key"
import base64, json, sys
point = bytes.fromhex(sys.argv[1])
if len(point) == 67 and point[:2] == bytes([0x04, 0x41]):  # DER OCTET STRING around 04||X||Y
    point = point[2:]
assert len(point) == 65 and point[0] == 0x04, "want an uncompressed P-256 point"
keys = json.load(open(sys.argv[2]))["keys"]
b64 = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
sys.exit(0 if len(keys) == 1 and "d" not in keys[0] and b64(keys[0]["x"]) + b64(keys[0]["y"]) == point[1:] else 1)
PY
    /usr/bin/python3 "$here/rcar_client.py" "$AS_URL" "$sim" "$bin/vhsm" "$E2E_WORK/ear.jwt" > "$E2E_WORK/rcar.log" 2>&1 ||
      fail "RCAR from the Python client: $(cat "$E2E_WORK/rcar.log")"
    out=$(/usr/bin/python3 "$here/../services/attestation/verify_ear.py" "$E2E_WORK/ear.jwt" "$E2E_WORK/jwks.json" vhsm-attestd) ||
      fail "python3-jwt rejected the EAR: $out"
    [[ $out == affirming ]] || fail "EAR status: $out"
    provisioned_vhsmd "$E2E_WORK/store"
    out=$(e2e_client) || fail "client: $out"
    expect_in "$out" "all checks passed"
    echo "EAR signed in the token behind $hsm_mod: JWKS matches, python3-jwt verifies, provisioning works"
    ;;
  clean_stop)
    # SIGTERM while clients hold idle connections: every daemon stops cleanly (exit 0), at once.
    # (vhsmd used to abort: the signal thread's Stop() raced main's, and main destroyed the server
    # while a connection thread was still alive.)
    services
    e2e_vhsmd_config ""
    e2e_start_vhsmd "$sim" "$E2E_WORK/store" || fail "vhsmd"
    hold() {  # hold an idle connection: hold unix PATH | hold tcp URL
      /usr/bin/python3 -c '
import socket, sys, time, urllib.parse
if sys.argv[1] == "unix":
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[2])
else:
    u = urllib.parse.urlsplit(sys.argv[2]); s = socket.create_connection((u.hostname, u.port))
print("connected", flush=True)
time.sleep(20)' "$@" > "$E2E_WORK/hold.${#HOLD_PIDS[@]}.out" 2>&1 &
      HOLD_PIDS+=("$!")
      wait_for_line "$E2E_WORK/hold.$((${#HOLD_PIDS[@]} - 1)).out" connected 100 || fail "cannot connect to $2"
    }
    HOLD_PIDS=()
    hold unix "$VHSM_SOCKET"
    hold tcp "$AS_URL"
    hold tcp "$PS_URL"
    for name in vhsmd:$VHSMD_PID attestd:$AS_PID provisiond:$PS_PID; do
      pid=${name#*:}
      start=$(date +%s%N)
      kill -TERM "$pid"
      wait "$pid"
      rc=$?
      ms=$((($(date +%s%N) - start) / 1000000))
      ((rc == 0)) || fail "${name%%:*} exited $rc on SIGTERM with an idle client connected"
      # (HTTP services: up to their 2 s keep-alive timeout, which cpp-httplib 0.11 waits out.)
      ((ms < 4000)) || fail "${name%%:*} took $ms ms to stop"
      grep -q "terminate called" "$E2E_WORK/${name%%:*}.log" && fail "${name%%:*} aborted"
      echo "${name%%:*}: stopped in $ms ms, exit 0"
    done
    kill "${HOLD_PIDS[@]}" 2>/dev/null
    ;;
  *) echo "unknown case $case_name" >&2; exit 2 ;;
esac
echo "PASS: $case_name"
