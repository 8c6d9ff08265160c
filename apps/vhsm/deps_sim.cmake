list(APPEND VHSM_CLI_DEPS vhsm_sim)
