# vhsmd request dispatcher (template parsing and attribute policy included).
vhsm_fuzzer(NAME vhsm_request_fuzzer DEPS vhsm)
