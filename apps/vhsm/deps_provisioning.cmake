# `vhsm audit verify` (audit_commands.cc): the Provisioning Service's audit chain check.
list(APPEND VHSM_CLI_DEPS vhsm_provisioning)
