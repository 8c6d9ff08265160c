# SEV-SNP report verification throughput vs raw OpenSSL ECDSA P-384.
vhsm_bench(NAME snp_verify_bench DEPS attest)
target_compile_definitions(snp_verify_bench PRIVATE VHSM_BENCH_SHARED_DIR="${VHSM_SHARED_DIR}")
target_compile_options(snp_verify_bench PRIVATE ${VHSM_WARNINGS} -Wno-missing-field-initializers)
