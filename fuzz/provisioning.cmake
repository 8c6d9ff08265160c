# Provisioning Service fuzzers (owner: provisiond): release-policy parser/evaluator and the EAR
# token parser (compact JWS + claim extraction). Seeds in fuzz/corpus/{provisioning_policy,ear_token}/.
vhsm_fuzzer(NAME provisioning_policy_fuzzer DEPS provisioning)
vhsm_fuzzer(NAME ear_token_fuzzer DEPS provisioning)
