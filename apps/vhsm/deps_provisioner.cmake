# `vhsm provision` (provision_commands.cc): vhsmd's admin-socket protocol.
list(APPEND VHSM_CLI_DEPS vhsm_provisioner)
