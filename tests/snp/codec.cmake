# snp codec tests: report, TCB, product, certificate table, JSON rendering.
vhsm_test(NAME report_test SRCS report_test.cc DEPS snp)
vhsm_test(NAME tcb_test SRCS tcb_test.cc DEPS snp)
vhsm_test(NAME product_test SRCS product_test.cc DEPS snp)
vhsm_test(NAME cert_table_test SRCS cert_table_test.cc DEPS snp)
vhsm_test(NAME report_json_test SRCS report_json_test.cc DEPS snp)
# Runs the built CLI (skips when bin/vhsm is absent).
vhsm_test(NAME snp_show_test SRCS snp_show_test.cc DEPS base)
add_dependencies(snp_show_test vhsm)
