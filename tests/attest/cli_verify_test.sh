#!/usr/bin/env bash
# cli_verify_test.sh VHSM SHARED_DIR: runs `vhsm snp verify` on the shared vectors and checks
# exit codes (0 valid, 1 rejected, 2 unreadable/usage) and that rejections print one stderr line.
set -u
vhsm=$1
v=${2:-}/snp-vectors
if [[ ! -f $v/MANIFEST.json ]]; then echo "shared/snp-vectors not found; skipped"; exit 77; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
expect() {  # expect CODE description -- args...
  local want=$1 what=$2; shift 3
  "$vhsm" snp verify "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [[ $got != "$want" ]]; then
    echo "FAIL ($what): exit $got, want $want"; sed 's/^/  stderr: /' "$tmp/err"; fail=1; return
  fi
  if [[ $want == 1 && $(wc -l <"$tmp/err") != 1 ]]; then
    echo "FAIL ($what): rejection must print exactly one stderr line"; cat "$tmp/err"; fail=1; return
  fi
  echo "ok   ($what): exit $got $(head -c 160 "$tmp/err")"
}
m=$v/vectors; c=$v/certs/amd
expect 0 "milan v2 vcek" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der"
expect 0 "milan v2 vcek with chain + product" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der" --ark "$c/milan_ark.pem" --ask "$c/milan_ask.pem" --product milan
expect 0 "milan v2 debug policy (crypto valid)" -- "$m/milan-v2-vcek-debugpolicy-gosevguest/report.bin" --vcek "$m/milan-v2-vcek-debugpolicy-gosevguest/vcek.der"
expect 0 "genoa v3 azure, KDS cert_chain bundle" -- "$m/genoa-v3-vcek-azure-trustee/report.bin" --vcek "$m/genoa-v3-vcek-azure-trustee/vcek.pem" --ask "$c/genoa_vcek_cert_chain_kds.pem"
expect 0 "genoa v5 oak" -- "$m/genoa-v5-vcek-oak/report.bin" --vcek "$m/genoa-v5-vcek-oak/vcek.der"
expect 0 "vlek at pinned time" -- "$m/milan-v3-vlek-vmpl1-trustee/report.bin" --vlek "$m/milan-v3-vlek-vmpl1-trustee/vlek.der" --asvk "$c/milan_asvk.pem" --ark "$c/milan_ark.pem" --at 2025-06-01T00:00:00Z
expect 1 "vlek expired at 2026-11-27" -- "$m/milan-v3-vlek-vmpl1-trustee/report.bin" --vlek "$m/milan-v3-vlek-vmpl1-trustee/vlek.der" --at 2026-11-27T00:00:00Z
expect 1 "vlek with the ASK" -- "$m/milan-v3-vlek-vmpl1-trustee/report.bin" --vlek "$m/milan-v3-vlek-vmpl1-trustee/vlek.der" --ask "$c/milan_ask.pem" --at 2025-06-01T00:00:00Z
expect 1 "tampered report data" -- "$m/neg-milan-v2-vcek-tampered-reportdata/report.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der"
expect 1 "genoa report, milan chain" -- "$m/genoa-v3-vcek-azure-trustee/report.bin" --vcek "$m/genoa-v3-vcek-azure-trustee/vcek.pem" --ark "$c/milan_ark.pem" --ask "$c/milan_ask.pem"
expect 1 "wrong vcek" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/milan-v2-vcek-debugpolicy-gosevguest/vcek.der"
expect 1 "fake vcek raw64" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/neg-fake-vcek-hwid-encodings-trustee/vcek_hwid_raw64.der" --product milan
expect 1 "fake vcek octet string" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/neg-fake-vcek-hwid-encodings-trustee/vcek_hwid_octetstring.der" --product milan
expect 1 "non-AMD root as ARK" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der" --ark "$c/genoa_ark.pem" --product milan
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/fake.key" -subj /CN=ARK-Milan -days 30 \
     -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sha384 -out "$tmp/fake_ark.pem" 2>/dev/null; then
  expect 1 "self-made ARK-Milan" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der" --ark "$tmp/fake_ark.pem"
  grep -q "not AMD's" "$tmp/err" || { echo "FAIL: non-AMD root reason must say it is not AMD's"; fail=1; }
fi
head -c 1183 "$m/milan-v2-vcek-virtee/report.bin" >"$tmp/short.bin"
expect 1 "truncated report" -- "$tmp/short.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der"
cp "$m/genoa-v5-vcek-oak/report.bin" "$tmp/sig57.bin"
python3 - "$tmp/sig57.bin" <<'PY'
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[0x2A0:0x4A0]=b'\x57'*0x200; open(p,'wb').write(b)
PY
expect 1 "signature overwritten" -- "$tmp/sig57.bin" --vcek "$m/genoa-v5-vcek-oak/vcek.der"
printf 'garbage' >"$tmp/garbage.pem"
expect 1 "garbage VCEK" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$tmp/garbage.pem"
mkdir "$tmp/certs"; cp "$c/genoa_ark.pem" "$tmp/certs/ark.pem"; cp "$c/genoa_ask.pem" "$tmp/certs/ask.pem"; cp "$m/genoa-v5-vcek-oak/vcek.der" "$tmp/certs/vcek.der"
expect 0 "certs dir" -- "$m/genoa-v5-vcek-oak/report.bin" --certs "$tmp/certs"
expect 0 "json" -- "$m/genoa-v5-vcek-oak/report.bin" --certs "$tmp/certs" --json
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['valid'] and j['product']=='Genoa' and j['signer']=='VCEK' and j['checks'] and j['reason'] is None and 'measurement' in j" "$tmp/out" || { echo "FAIL json fields"; fail=1; }
expect 1 "json rejected" -- "$m/neg-milan-v2-vcek-tampered-reportdata/report.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der" --json
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['valid'] is False and 'signature' in j['reason'] and not j['checks'][-1]['ok']" "$tmp/out" || { echo "FAIL json reject fields"; fail=1; }
expect 2 "missing report" -- "$tmp/nope.bin"
expect 2 "missing vcek file" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$tmp/nope.der"
expect 2 "bad --at" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek "$m/milan-v2-vcek-virtee/vcek.der" --at yesterday
expect 2 "bad --product" -- "$m/milan-v2-vcek-virtee/report.bin" --product epyc
expect 2 "vcek and vlek" -- "$m/milan-v2-vcek-virtee/report.bin" --vcek a --vlek b
expect 2 "no REPORT" --
head -c 2000000 /dev/zero >"$tmp/huge.bin"
expect 2 "huge report" -- "$tmp/huge.bin"
exit $fail
