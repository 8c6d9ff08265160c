# Launch-digest throughput vs raw OpenSSL SHA-384 (prints the ratio; target >= 0.9x).
vhsm_bench(NAME measure_bench SRCS ${CMAKE_CURRENT_LIST_DIR}/measure_bench.cc DEPS snp_measure)
target_include_directories(measure_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests)
