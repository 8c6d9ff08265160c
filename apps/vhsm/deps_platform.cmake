list(APPEND VHSM_CLI_DEPS vhsm_snp_platform)
