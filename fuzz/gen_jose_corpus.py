#!/usr/bin/env python3
"""Writes seed corpora for the JOSE fuzzers into fuzz/corpus/{jws,jwe,jwk}/.

JWS samples are signed with the fixed key of jose_fuzz_keys.h (RFC 7515 A.3), JWE samples are
encrypted to its fixed P-384 key (RFC 7520 5.4), so the fuzzers start from inputs that pass the
signature and tag checks. Needs python3-cryptography. Run: /usr/bin/python3 fuzz/gen_jose_corpus.py
"""
import base64
import json
import os
import pathlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ub64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def write(kind: str, name: str, text: str) -> None:
    d = ROOT / kind
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)


SIG_D = ub64u("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI")
ENC = {"x": "YU4rRUzdmVqmRtWOs2OpDE_T5fsNIodcG8G5FWPrTPMyxpzsSOGaQLpe2FpxBmu2",
       "y": "A8-yxCHxkfBz3hKZfI1jUYMjUhsEveZ9THuwFjH2sCNdtksRJU7D5-SkgaFL1ETP"}


def sign_es256(header: dict, payload: bytes) -> str:
    key = ec.derive_private_key(int.from_bytes(SIG_D, "big"), ec.SECP256R1())
    signing_input = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + b64u(payload)
    r, s = utils.decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def encrypt_p384(plaintext: bytes, aad: bytes = b"", apu: bytes = b"") -> str:
    recipient = ec.EllipticCurvePublicNumbers(int.from_bytes(ub64u(ENC["x"]), "big"),
                                              int.from_bytes(ub64u(ENC["y"]), "big"), ec.SECP384R1()).public_key()
    eph = ec.generate_private_key(ec.SECP384R1())
    n = eph.public_key().public_numbers()
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "fuzz",
              "epk": {"kty": "EC", "crv": "P-384", "x": b64u(n.x.to_bytes(48, "big")), "y": b64u(n.y.to_bytes(48, "big"))}}
    if apu:
        header["apu"] = b64u(apu)
    alg = header["alg"].encode()
    other = len(alg).to_bytes(4, "big") + alg + len(apu).to_bytes(4, "big") + apu + (0).to_bytes(4, "big") + (256).to_bytes(4, "big")
    kek = ConcatKDFHash(hashes.SHA256(), 32, other).derive(eph.exchange(ec.ECDH(), recipient))
    cek, iv = os.urandom(32), os.urandom(12)
    protected = b64u(json.dumps(header).encode())
    full_aad = protected.encode() + (b"." + b64u(aad).encode() if aad else b"")
    ct = AESGCM(cek).encrypt(iv, plaintext, full_aad)
    out = {"protected": protected, "encrypted_key": b64u(aes_key_wrap(kek, cek)), "iv": b64u(iv),
           "ciphertext": b64u(ct[:-16]), "tag": b64u(ct[-16:])}
    if aad:
        out["aad"] = b64u(aad)
    return json.dumps(out)


def main() -> None:
    claims = {"iss": "vhsm-attestd", "exp": 1300819380 + 3600, "iat": 1300000000, "jti": "j1",
              "submods": {"cpu0": {"ear.status": "affirming"}}}
    write("jws", "es256_jwt", sign_es256({"alg": "ES256", "kid": "k1", "typ": "JWT"}, json.dumps(claims).encode()))
    write("jws", "es256_plain", sign_es256({"alg": "ES256"}, b"hello"))
    write("jws", "es256_crit", sign_es256({"alg": "ES256", "crit": ["exp"], "exp": 1}, b"{}"))
    write("jws", "rfc7515_a3", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
    write("jws", "alg_none", b64u(b'{"alg":"none"}') + "." + b64u(b'{"exp":1}') + ".")
    write("jwe", "p384_a256kw", encrypt_p384(b"secret resource bytes"))
    write("jwe", "p384_with_aad", encrypt_p384(os.urandom(40), aad=b"resource=/a/b/c", apu=b"provisiond"))
    write("jwe", "p384_empty", encrypt_p384(b""))
    write("jwk", "ec_p256", json.dumps({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                                        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "a", "use": "sig"}))
    write("jwk", "ec_p384_private", json.dumps({"kty": "EC", "crv": "P-384", **ENC, "d": "iTx2pk7wW-GqJkHcEkFQb2EFyYcO7RugmaW3mRrQVAOUiPommT0IdnYK2xDlZh-j"}))
    write("jwk", "okp", json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}))
    write("jwk", "rsa_rfc7638", json.dumps({"kty": "RSA", "e": "AQAB", "kid": "2011-04-29", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}))
    keys = [json.loads((ROOT / "jwk" / n).read_text()) for n in ("ec_p256", "okp")]
    write("jwk", "jwks", json.dumps({"keys": keys + [{"kty": "oct", "k": "AAAA"}]}))
    write("jwk", "jcs_sample", '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA","literals":[null,true,false]}')


if __name__ == "__main__":
    main()
