# vhsmd provisioner fuzzers (owner: e2e): the admin-socket request parser. Seeds in
# fuzz/corpus/admin_request/.
vhsm_fuzzer(NAME admin_request_fuzzer DEPS provisioner)
