#!/usr/bin/env python3
"""Interop check of vhsm's JOSE against independent implementations.

JWS/JWT: tokens signed by our code are verified with PyJWT (python3-jwt), and a token signed by
PyJWT is verified by our code. JWE: our ECDH-ES+A256KW (P-256/P-384/P-521) and RSA-OAEP-256
output is decrypted by a JWE implementation written here on python-cryptography (RFC 7516/7518),
and a JWE produced here is decrypted by our code. Exits 77 (ctest SKIP) when the python modules are
missing. Usage: jose_interop_test.py PATH/TO/jose_interop_tool
"""
import base64
import json
import os
import subprocess
import sys
import time

try:
    import jwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
except ImportError as e:  # pragma: no cover
    print(f"SKIP: python3-jwt / python3-cryptography not available ({e})")
    sys.exit(77)

TOOL = sys.argv[1]
CURVES = {"P-256": (ec.SECP256R1(), 32), "P-384": (ec.SECP384R1(), 48), "P-521": (ec.SECP521R1(), 66)}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ub64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def run(*args: str) -> str:
    out = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"tool {args[0]} failed: {out.stderr.strip()}")
    return out.stdout


def int_bytes(n: int, size: int) -> bytes:
    return n.to_bytes(size, "big")


def ec_jwk(priv, crv: str, with_private: bool) -> dict:
    size = CURVES[crv][1]
    nums = priv.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": crv, "x": b64u(int_bytes(nums.x, size)), "y": b64u(int_bytes(nums.y, size)), "kid": "py"}
    if with_private:
        jwk["d"] = b64u(int_bytes(priv.private_numbers().private_value, size))
    return jwk


def rsa_jwk(priv) -> dict:
    nums = priv.public_key().public_numbers()
    size = (nums.n.bit_length() + 7) // 8
    return {"kty": "RSA", "n": b64u(int_bytes(nums.n, size)), "e": b64u(int_bytes(nums.e, 3)), "kid": "py"}


def concat_kdf(z: bytes, alg: str, apu: bytes, apv: bytes, keylen: int) -> bytes:
    other = (len(alg).to_bytes(4, "big") + alg.encode() + len(apu).to_bytes(4, "big") + apu +
             len(apv).to_bytes(4, "big") + apv + (keylen * 8).to_bytes(4, "big"))
    return ConcatKDFHash(algorithm=hashes.SHA256(), length=keylen, otherinfo=other).derive(z)


def py_decrypt(jwe: dict, priv) -> bytes:
    header = json.loads(ub64u(jwe["protected"]))
    assert header["enc"] == "A256GCM", header
    if header["alg"] == "ECDH-ES+A256KW":
        epk = header["epk"]
        curve, _ = CURVES[epk["crv"]]
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(ub64u(epk["x"]), "big"),
                                             int.from_bytes(ub64u(epk["y"]), "big"), curve).public_key()
        z = priv.exchange(ec.ECDH(), peer)
        kek = concat_kdf(z, header["alg"], ub64u(header.get("apu", "")), ub64u(header.get("apv", "")), 32)
        cek = aes_key_unwrap(kek, ub64u(jwe["encrypted_key"]))
    elif header["alg"] == "RSA-OAEP-256":
        cek = priv.decrypt(ub64u(jwe["encrypted_key"]),
                           padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    else:
        raise AssertionError(f"unexpected alg {header['alg']}")
    aad = jwe["protected"].encode()
    if "aad" in jwe:
        aad += b"." + jwe["aad"].encode()
    return AESGCM(cek).decrypt(ub64u(jwe["iv"]), ub64u(jwe["ciphertext"]) + ub64u(jwe["tag"]), aad)


def py_encrypt(pub, crv: str, plaintext: bytes) -> str:
    curve, size = CURVES[crv]
    eph = ec.generate_private_key(curve)
    epk = ec_jwk(eph, crv, False)
    del epk["kid"]
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "epk": epk, "apv": b64u(b"vhsmd")}
    protected = b64u(json.dumps(header).encode())
    kek = concat_kdf(eph.exchange(ec.ECDH(), pub), "ECDH-ES+A256KW", b"", b"vhsmd", 32)
    cek = os.urandom(32)
    iv = os.urandom(12)
    ct = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return json.dumps({"protected": protected, "encrypted_key": b64u(aes_key_wrap(kek, cek)), "iv": b64u(iv),
                       "ciphertext": b64u(ct[:-16]), "tag": b64u(ct[-16:])})


def main() -> int:
    checks = 0
    # 1. Our JWTs verify with PyJWT.
    for line in run("sign-jwt").splitlines():
        item = json.loads(line)
        key = jwt.PyJWK(item["jwk"], algorithm=item["alg"])
        claims = jwt.decode(item["token"], key.key, algorithms=[item["alg"]])
        assert claims["iss"] == "vhsm-attestd" and claims["ear.status"] == "affirming", claims
        assert jwt.get_unverified_header(item["token"])["kid"] == "interop-key"
        checks += 1
    # 2. A PyJWT token verifies with our code, and a tampered one does not.
    priv = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode({"iss": "py", "exp": int(time.time()) + 60}, priv, algorithm="ES256", headers={"kid": "py"})
    claims = json.loads(run("verify-jwt", json.dumps(ec_jwk(priv, "P-256", False)), token))
    assert claims["iss"] == "py"
    bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    if subprocess.run([TOOL, "verify-jwt", json.dumps(ec_jwk(priv, "P-256", False)), bad], capture_output=True).returncode == 0:
        raise AssertionError("tampered PyJWT token verified")
    checks += 1
    # 3. Our JWEs decrypt with the python implementation, for every curve and RSA-OAEP-256.
    secret = os.urandom(48)
    for crv in CURVES:
        priv = ec.generate_private_key(CURVES[crv][0])
        jwe = json.loads(run("encrypt", json.dumps(ec_jwk(priv, crv, False)), secret.hex()))
        assert py_decrypt(jwe, priv) == secret, crv
        assert json.loads(ub64u(jwe["protected"]))["apu"] == b64u(b"vhsm-provisiond")
        checks += 1
    rsa_priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwe = json.loads(run("encrypt", json.dumps(rsa_jwk(rsa_priv)), secret.hex()))
    assert py_decrypt(jwe, rsa_priv) == secret
    checks += 1
    # 4. A python-made JWE decrypts with our code; a flipped tag is rejected.
    for crv in CURVES:
        priv = ec.generate_private_key(CURVES[crv][0])
        text = py_encrypt(priv.public_key(), crv, secret)
        assert bytes.fromhex(run("decrypt", json.dumps(ec_jwk(priv, crv, True)), text).strip()) == secret, crv
        j = json.loads(text)
        tag = bytearray(ub64u(j["tag"]))
        tag[0] ^= 1
        j["tag"] = b64u(bytes(tag))
        if subprocess.run([TOOL, "decrypt", json.dumps(ec_jwk(priv, crv, True)), json.dumps(j)],
                          capture_output=True).returncode == 0:
            raise AssertionError("tampered python JWE decrypted")
        checks += 1
    print(f"interop OK: {checks} checks (PyJWT {jwt.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
