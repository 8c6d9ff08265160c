# The SEV-SNP simulator (owner: sim). sim::OpenPlatform adds the "sim" branch to
# snp::OpenFirmware, so snp/ never depends on sim/.
vhsm_library(NAME sim
  SRCS sim_state.cc sim_certs.cc sim_firmware.cc sim_platform.cc
  DEPS snp snp_platform crypto base OpenSSL::Crypto)
