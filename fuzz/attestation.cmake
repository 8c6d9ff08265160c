# Attestation Service fuzzers (owner: attestd): the RCAR/verify request parsers and the appraisal
# policy loader (JSON and TOML). Seeds in fuzz/corpus/{attest_request,attestation_policy}/.
vhsm_fuzzer(NAME attest_request_fuzzer DEPS attestation)
vhsm_fuzzer(NAME attestation_policy_fuzzer DEPS attestation)
