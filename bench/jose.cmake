# JOSE throughput: JWE ECDH-ES+A256KW encrypt and ES256 sign/verify beside raw OpenSSL.
vhsm_bench(NAME jose_bench DEPS jose)
