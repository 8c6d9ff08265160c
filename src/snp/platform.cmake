# Real SEV-SNP guest interfaces (owner: sim): configfs-tsm, /dev/sev-guest, and the factory.
vhsm_library(NAME snp_platform
  SRCS configfs_tsm.cc sev_guest.cc platform.cc
  DEPS snp crypto base)
