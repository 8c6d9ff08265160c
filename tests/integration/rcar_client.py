#!/usr/bin/python3
"""A Trustee-shaped RCAR client written apart from vhsm's C++ code, for end-to-end checks.

usage: rcar_client.py AS_URL SIM_DIR VHSM_CLI TOKEN_OUT

POST /kbs/v0/auth (protocol 0.4.0, tee "snp"), then a report from the simulated guest in SIM_DIR
(`vhsm snp report --platform sim`) whose REPORT_DATA is SHA-384 of the JCS form of
{"additional-evidence": "", "nonce": ..., "tee-pubkey": <fresh P-256 JWK>} followed by 16 zero
bytes, then POST /kbs/v0/attest with the session cookie. Writes the EAR token to TOKEN_OUT and exits
0 on HTTP 200; prints the status and body otherwise and exits 1.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def post(url, body, cookie=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def main():
    as_url, sim_dir, cli, token_out = sys.argv[1:5]
    status, headers, body = post(as_url + "/kbs/v0/auth", {"version": "0.4.0", "tee": "snp", "extra-params": ""})
    if status != 200:
        print("auth:", status, body)
        return 1
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    nonce = json.loads(body)["nonce"]

    pub = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64url(pub.x.to_bytes(32, "big")), "y": b64url(pub.y.to_bytes(32, "big"))}
    # JCS (RFC 8785) of an object whose values are strings or objects of strings: sorted keys, no
    # whitespace, UTF-8 without escapes.
    jcs = json.dumps({"additional-evidence": "", "nonce": nonce, "tee-pubkey": jwk},
                     sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    report_data = hashlib.sha384(jcs.encode()).digest() + bytes(16)

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([cli, "snp", "report", "--platform", "sim", "--sim-state", sim_dir, "--report-data",
                        report_data.hex(), "-o", os.path.join(tmp, "report.bin"), "--certs-out", tmp],
                       check=True, stdout=subprocess.DEVNULL)
        report = open(os.path.join(tmp, "report.bin"), "rb").read()
        chain = []
        for cert_type, name in (("VCEK", "vcek.pem"), ("ASK", "ask.pem"), ("ARK", "ark.pem")):
            pem = open(os.path.join(tmp, name), "rb").read()
            der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
            chain.append({"cert_type": cert_type, "data": base64.b64encode(der).decode()})

    evidence = {"runtime-data": {"nonce": nonce, "tee-pubkey": jwk},
                "tee-evidence": {"primary_evidence": {"attestation_report": base64.b64encode(report).decode(),
                                                      "cert_chain": chain},
                                 "additional_evidence": ""}}
    status, _, body = post(as_url + "/kbs/v0/attest", evidence, cookie)
    if status != 200:
        print("attest:", status, body)
        return 1
    with open(token_out, "w") as f:
        f.write(json.loads(body)["token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
