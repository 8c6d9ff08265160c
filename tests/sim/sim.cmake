# Simulator tests (owner: sim).
add_library(vhsm_sim_testutil STATIC sim_test_util.cc)
target_link_libraries(vhsm_sim_testutil PUBLIC vhsm_sim vhsm_testing)
target_compile_options(vhsm_sim_testutil PRIVATE ${VHSM_WARNINGS})
vhsm_test(NAME sim_state_test SRCS sim_state_test.cc DEPS sim sim_testutil)
vhsm_test(NAME sim_firmware_test SRCS sim_firmware_test.cc DEPS sim sim_testutil attest snp_certs)
