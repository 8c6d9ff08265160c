# attest::Verifier: SEV-SNP evidence → VerifiedReport.
vhsm_library(NAME attest SRCS verifier.cc DEPS snp snp_certs crypto base)
