# attest::Verifier tests (real vectors + generated PKI). Designated initialisers leave
# defaulted members out on purpose, hence -Wno-missing-field-initializers.
add_library(vhsm_test_pki STATIC test_pki.cc)
target_link_libraries(vhsm_test_pki PUBLIC vhsm_snp vhsm_crypto)
target_compile_options(vhsm_test_pki PRIVATE ${VHSM_WARNINGS} -Wno-missing-field-initializers)
vhsm_test(NAME verifier_test SRCS verifier_test.cc DEPS attest test_pki)
target_compile_options(verifier_test PRIVATE -Wno-missing-field-initializers)
# The CLI end to end: exit codes 0/1/2 on the shared vectors (skipped when they are absent).
add_test(NAME cli.snp_verify COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli_verify_test.sh $<TARGET_FILE:vhsm> ${VHSM_SHARED_DIR})
set_tests_properties(cli.snp_verify PROPERTIES LABELS integration SKIP_RETURN_CODE 77)
