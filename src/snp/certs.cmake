# AMD certificate extensions (VCEK/VLEK) and pinned AMD roots.
vhsm_library(NAME snp_certs SRCS amd_certs.cc amd_roots.cc DEPS snp crypto)
