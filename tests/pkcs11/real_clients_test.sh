#!/usr/bin/env bash
# Real PKCS#11 clients against a running vhsmd: OpenSC pkcs11-tool (init-token, init-pin,
# keypairgen EC/RSA, keygen AES, sign/verify, encrypt/decrypt, write-object cert, list-objects,
# --test) and GnuTLS p11tool (list-all, list-all-certs, generate-privkey, test-sign). Usage: real_clients_test.sh BUILD_DIR
set -euo pipefail
BUILD=${1:?build dir}
MODULE="$BUILD/lib/libvhsm-pkcs11.so"
WORK=$(mktemp -d /tmp/vhsm-clients-XXXXXX)
DAEMON_PID=
cleanup() {
  if [[ -n "$DAEMON_PID" ]]; then kill "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BUILD/bin/vhsm" sim init "$WORK/platform" > "$WORK/sim-init.log" 2>&1 || fail "vhsm sim init: $(cat "$WORK/sim-init.log")"
"$BUILD/bin/vhsmd" --socket "$WORK/s.sock" --store "$WORK/store" --platform sim \
  --sim-state "$WORK/platform" > "$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 50); do grep -q "listening on unix:" "$WORK/daemon.log" && break; sleep 0.1; done
grep -q "listening on unix:$WORK/s.sock" "$WORK/daemon.log" || fail "vhsmd did not start: $(cat "$WORK/daemon.log")"
export VHSM_SOCKET="$WORK/s.sock"

# In the ASan+UBSan build the module needs the ASan runtime, and the clients below are not
# instrumented: preload the runtime the module was linked against. Leak reports are turned off
# for these third-party processes only (pkcs11-tool, p11tool and openssl keep memory until exit);
# our module's own leaks are checked by pkcs11_conformance.vhsm, an instrumented executable.
ASAN_RT=$(ldd "$MODULE" | awk '/libasan\.so/ {print $3; exit}')
if [[ -n "$ASAN_RT" ]]; then
  export LD_PRELOAD="$ASAN_RT${LD_PRELOAD:+:$LD_PRELOAD}"
  export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  echo "ASan build: clients run with $ASAN_RT preloaded"
fi

if command -v pkcs11-tool >/dev/null; then
  P=(pkcs11-tool --module "$MODULE")
  "${P[@]}" --init-token --label ctest --so-pin 87654321 >/dev/null || fail "--init-token"
  "${P[@]}" --init-pin --login --so-pin 87654321 --pin 1234 >/dev/null || fail "--init-pin"
  "${P[@]}" -l --pin 1234 --keypairgen --key-type EC:prime256v1 --id 01 --label eck >/dev/null || fail "EC keypairgen"
  "${P[@]}" -l --pin 1234 --keypairgen --key-type RSA:2048 --id 02 --label rsak >/dev/null || fail "RSA keypairgen"
  "${P[@]}" -l --pin 1234 --keygen --key-type AES:32 --id 03 --label aesk >/dev/null 2>&1 || fail "AES keygen"
  echo "data to sign" > "$WORK/data"
  for spec in ECDSA-SHA256:01 ECDSA:01 SHA256-RSA-PKCS:02 SHA256-RSA-PKCS-PSS:02 RSA-PKCS:02; do
    mech=${spec%:*}; id=${spec#*:}
    "${P[@]}" -l --pin 1234 --sign -m "$mech" --id "$id" -i "$WORK/data" -o "$WORK/sig" 2>/dev/null || fail "sign $mech"
    "${P[@]}" -l --pin 1234 --verify -m "$mech" --id "$id" -i "$WORK/data" --signature-file "$WORK/sig" 2>&1 \
      | grep "Signature is valid" >/dev/null || fail "verify $mech"
    printf 'X' >> "$WORK/data"
    if "${P[@]}" -l --pin 1234 --verify -m "$mech" --id "$id" -i "$WORK/data" --signature-file "$WORK/sig" 2>&1 \
      | grep "Signature is valid" >/dev/null; then fail "verify $mech accepted modified data"; fi
  done
  IV=00112233445566778899aabbccddeeff
  "${P[@]}" -l --pin 1234 --encrypt -m AES-CBC-PAD --iv $IV --id 03 -i "$WORK/data" -o "$WORK/ct" 2>/dev/null || fail "encrypt"
  "${P[@]}" -l --pin 1234 --decrypt -m AES-CBC-PAD --iv $IV --id 03 -i "$WORK/ct" -o "$WORK/pt" 2>/dev/null || fail "decrypt"
  cmp -s "$WORK/data" "$WORK/pt" || fail "AES-CBC-PAD round trip"
  "${P[@]}" -l --pin 1234 --list-objects 2>/dev/null | grep "Secret Key Object; AES" >/dev/null || fail "--list-objects"
  # The AES key value must not be readable.
  if "${P[@]}" -l --pin 1234 --read-object --type secrkey --id 03 2>/dev/null | grep . >/dev/null; then fail "secret readable"; fi
  # X.509 certificate objects: written with --write-object, listed, read back byte for byte.
  if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/cert.key" \
      -subj "/CN=vhsm ctest cert" -days 2 -outform DER -out "$WORK/cert.der" >/dev/null 2>&1 || fail "openssl req"
    "${P[@]}" -l --pin 1234 --write-object "$WORK/cert.der" --type cert --id 04 --label certk >/dev/null 2>&1 \
      || fail "--write-object cert"
    "${P[@]}" --list-objects 2>/dev/null > "$WORK/objects.txt"
    grep -q "Certificate Object; type = X.509 cert" "$WORK/objects.txt" || fail "cert not listed: $(cat "$WORK/objects.txt")"
    grep -q "subject:.*vhsm ctest cert" "$WORK/objects.txt" || fail "cert subject not listed: $(cat "$WORK/objects.txt")"
    "${P[@]}" --read-object --type cert --id 04 -o "$WORK/cert.back" >/dev/null 2>&1 || fail "--read-object cert"
    cmp -s "$WORK/cert.der" "$WORK/cert.back" || fail "certificate read back differs"
  fi
  "${P[@]}" -l --pin 1234 --test > "$WORK/test.log" 2>&1 || fail "--test: $(tail -5 "$WORK/test.log")"
  grep -q "No errors" "$WORK/test.log" || fail "--test reported errors: $(tail -5 "$WORK/test.log")"
  echo "pkcs11-tool: ok"
else
  echo "pkcs11-tool not installed: skipped"
fi

# OpenSSL through libp11's pkcs11 engine: sign with keys named by pkcs11: URIs, verify with the
# public keys the engine reads from the token (and with plain OpenSSL from an exported PEM).
ENGINE_SO=$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -1 || true)
if [[ -n "$ENGINE_SO" ]] && command -v openssl >/dev/null && command -v pkcs11-tool >/dev/null; then
  cat > "$WORK/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $MODULE
init = 0
EOF
  echo "openssl engine data" > "$WORK/edata"
  openssl dgst -sha256 -binary "$WORK/edata" > "$WORK/edig"
  printf 'Y' | cat "$WORK/edata" - | openssl dgst -sha256 -binary > "$WORK/edig2"
  for obj in eck rsak; do
    URI="pkcs11:token=ctest;object=$obj"
    OPENSSL_CONF="$WORK/openssl.cnf" openssl pkeyutl -engine pkcs11 -keyform engine -sign \
      -inkey "$URI;type=private;pin-value=1234" -in "$WORK/edig" -out "$WORK/esig.$obj" 2>"$WORK/eng.err" \
      || fail "openssl engine sign $obj: $(cat "$WORK/eng.err")"
    OPENSSL_CONF="$WORK/openssl.cnf" openssl pkey -engine pkcs11 -inform engine -pubin -in "$URI;type=public" -pubout \
      -out "$WORK/$obj.pem" 2>"$WORK/eng.err" || fail "openssl engine public key $obj: $(cat "$WORK/eng.err")"
    openssl pkeyutl -verify -pubin -inkey "$WORK/$obj.pem" -in "$WORK/edig" -sigfile "$WORK/esig.$obj" >/dev/null 2>&1 \
      || fail "openssl verify of engine signature ($obj)"
    if openssl pkeyutl -verify -pubin -inkey "$WORK/$obj.pem" -in "$WORK/edig2" -sigfile "$WORK/esig.$obj" \
      >/dev/null 2>&1; then
      fail "openssl accepted a signature over other data ($obj)"
    fi
  done
  # The token's public key object verifies the RSA signature through the engine as well.
  OPENSSL_CONF="$WORK/openssl.cnf" openssl pkeyutl -engine pkcs11 -keyform engine -verify -pubin \
    -inkey "pkcs11:token=ctest;object=rsak;type=public" -in "$WORK/edig" -sigfile "$WORK/esig.rsak" >/dev/null 2>&1 \
    || fail "openssl engine verify with the token public key"
  echo "openssl pkcs11 engine: ok"
else
  echo "libengine-pkcs11-openssl not installed: skipped"
fi

if command -v p11tool >/dev/null; then
  export GNUTLS_PIN=1234
  p11tool --provider "$MODULE" --list-all 2>/dev/null | grep "object=eck" >/dev/null || fail "p11tool --list-all"
  if [[ -f "$WORK/cert.der" ]]; then
    p11tool --provider "$MODULE" --list-all-certs 2>/dev/null | grep "object=certk" >/dev/null || fail "p11tool --list-all-certs"
  fi
  p11tool --provider "$MODULE" --login --generate-privkey ecdsa --curve secp256r1 --label gnutls \
    "pkcs11:token=ctest" >/dev/null 2>&1 || fail "p11tool --generate-privkey"
  p11tool --provider "$MODULE" --login --test-sign "pkcs11:token=ctest;object=gnutls" 2>&1 \
    | grep "Verifying against public key in the token... ok" >/dev/null || fail "p11tool --test-sign"
  echo "p11tool: ok"
else
  echo "p11tool not installed: skipped"
fi
exit 0
