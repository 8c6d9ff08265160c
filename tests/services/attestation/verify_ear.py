#!/usr/bin/python3
"""Independent check of a vhsm-attestd EAR token with python3-jwt (PyJWT) and the served JWKS.

usage: verify_ear.py TOKEN_FILE JWKS_FILE ISSUER
Exits 0 and prints the ear.status when the signature, exp/iat and iss verify; non-zero otherwise.
"""
import json
import sys

import jwt


def main():
    token = open(sys.argv[1]).read().strip()
    jwks = json.load(open(sys.argv[2]))
    issuer = sys.argv[3]
    kid = jwt.get_unverified_header(token)["kid"]
    keys = [k for k in jwks["keys"] if k.get("kid") == kid]
    if len(keys) != 1:
        print("no JWKS key with kid", kid)
        return 1
    key = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(keys[0]))
    claims = jwt.decode(token, key=key, algorithms=["ES256", "ES384"], issuer=issuer,
                        options={"require": ["exp", "iat", "iss", "jti"]})
    assert claims["eat_profile"] == "tag:github.com,2023:veraison/ear"
    cpu0 = claims["submods"]["cpu0"]
    print(cpu0["ear.status"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # any verification failure is a non-zero exit
        print("verification failed:", e)
        sys.exit(1)
