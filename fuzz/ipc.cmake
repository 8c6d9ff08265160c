# vhsmd wire protocol: frame header + payload codec.
vhsm_fuzzer(NAME ipc_fuzzer DEPS ipc)
# vhsmd's side of the shared-memory lanes, against a client writing the mapping.
vhsm_fuzzer(NAME shm_lane_fuzzer DEPS ipc)
