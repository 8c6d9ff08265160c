# snp codec fuzzers: report parser and extended-report certificate table.
vhsm_fuzzer(NAME report_fuzzer DEPS snp)
vhsm_fuzzer(NAME cert_table_fuzzer DEPS snp)
