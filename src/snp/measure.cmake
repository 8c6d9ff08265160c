# Launch measurement: OVMF parsing, VMSA pages, the SNP launch digest, ID blocks.
vhsm_library(NAME snp_measure
  SRCS ${CMAKE_CURRENT_LIST_DIR}/ovmf.cc ${CMAKE_CURRENT_LIST_DIR}/vmsa.cc
       ${CMAKE_CURRENT_LIST_DIR}/measure.cc ${CMAKE_CURRENT_LIST_DIR}/id_block.cc
  DEPS base crypto)
