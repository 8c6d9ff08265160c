# Simulator tests (owner: sim).
add_library(vhsm_sim_testutil STATIC sim_test_util.cc)
target_link_libraries(vhsm_sim_testutil PUBLIC vhsm_sim vhsm_testing)
target_compile_options(vhsm_sim_testutil PRIVATE ${VHSM_WARNINGS})
vhsm_test(NAME sim_state_test SRCS sim_state_test.cc DEPS sim sim_testutil)
vhsm_test(NAME sim_firmware_test SRCS sim_firmware_test.cc DEPS sim sim_testutil attest snp_certs)
# End to end through the CLI: sim init → snp report → snp verify (with and without --trust-root).
add_test(NAME sim_cli_test
  COMMAND ${CMAKE_COMMAND} -E env VHSM=$<TARGET_FILE:vhsm> bash ${CMAKE_CURRENT_SOURCE_DIR}/sim_cli_test.sh)
set_tests_properties(sim_cli_test PROPERTIES LABELS integration TIMEOUT 600)
# `vhsm sim init --ovmf` (issue 8 integration): the simulated MEASUREMENT is the computed launch digest.
add_test(NAME sim_init_ovmf_test
  COMMAND ${CMAKE_COMMAND} -E env VHSM=$<TARGET_FILE:vhsm> VHSM_SHARED_DIR=${VHSM_SHARED_DIR}
          bash ${CMAKE_CURRENT_SOURCE_DIR}/sim_init_ovmf_test.sh)
set_tests_properties(sim_init_ovmf_test PROPERTIES LABELS integration TIMEOUT 600 SKIP_RETURN_CODE 77)
