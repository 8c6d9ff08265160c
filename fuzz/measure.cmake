# OVMF footer/metadata parser (snp/ovmf.h); corpus: synthetic OVMF-like images in fuzz/corpus/ovmf/.
vhsm_fuzzer(NAME ovmf_fuzzer SRCS ${CMAKE_CURRENT_LIST_DIR}/ovmf_fuzzer.cc DEPS snp_measure)
