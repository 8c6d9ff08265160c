# AMD certificate extensions and pinned roots.
vhsm_test(NAME amd_certs_test SRCS amd_certs_test.cc DEPS snp_certs)
vhsm_test(NAME amd_roots_test SRCS amd_roots_test.cc DEPS snp_certs)
