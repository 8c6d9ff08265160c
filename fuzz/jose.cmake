# JOSE fuzzers: compact JWS/JWT verification, flattened JWE decryption, JWK/JWKS parsing.
# Seed corpora in fuzz/corpus/{jws,jwe,jwk}/ (regenerate with fuzz/gen_jose_corpus.py).
vhsm_fuzzer(NAME jws_fuzzer DEPS jose)
vhsm_fuzzer(NAME jwe_fuzzer DEPS jose)
vhsm_fuzzer(NAME jwk_fuzzer DEPS jose)
