# Simulator state-file parser and the real-platform response parsers (owner: sim).
vhsm_fuzzer(NAME sim_state_fuzzer DEPS sim)
vhsm_fuzzer(NAME platform_response_fuzzer DEPS snp_platform)
