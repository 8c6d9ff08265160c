# vhsmd wire protocol: frame header + payload codec.
vhsm_fuzzer(NAME ipc_fuzzer DEPS ipc)
