list(APPEND VHSM_CLI_DEPS vhsm_attest vhsm_snp_certs vhsm_snp)
