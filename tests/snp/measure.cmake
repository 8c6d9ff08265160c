# Launch measurement tests: OVMF parser, VMSA pages, launch digest (shared known answers and
# Debian's ovmf package), ID blocks.
vhsm_test(NAME ovmf_test SRCS ${CMAKE_CURRENT_LIST_DIR}/ovmf_test.cc DEPS snp_measure)
vhsm_test(NAME vmsa_test SRCS ${CMAKE_CURRENT_LIST_DIR}/vmsa_test.cc DEPS snp_measure)
vhsm_test(NAME measure_test SRCS ${CMAKE_CURRENT_LIST_DIR}/measure_test.cc DEPS snp_measure)
vhsm_test(NAME id_block_test SRCS ${CMAKE_CURRENT_LIST_DIR}/id_block_test.cc DEPS snp_measure)
