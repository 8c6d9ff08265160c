# `vhsm measure` (measure_commands.cc): launch digest and ID blocks.
list(APPEND VHSM_CLI_DEPS vhsm_snp_measure)
