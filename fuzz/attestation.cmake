# Attestation Service fuzzers (owner: attestd): the RCAR/verify request parsers and the appraisal
# policy loader (JSON and TOML). Seeds in fuzz/corpus/{attest_request,attestation_policy}/.
vhsm_fuzzer(NAME attest_request_fuzzer DEPS attestation)
vhsm_fuzzer(NAME attestation_policy_fuzzer DEPS attestation)
# RFC 7512 pkcs11: URI parser (src/p11), used for attestd's PKCS#11 signing key. Seeds in
# fuzz/corpus/p11_uri/.
vhsm_fuzzer(NAME p11_uri_fuzzer DEPS p11)
