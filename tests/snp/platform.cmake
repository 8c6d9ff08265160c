# SEV-SNP guest interface backends (owner: sim). The fake kernel / fake device use the simulator.
vhsm_test(NAME configfs_tsm_test SRCS configfs_tsm_test.cc DEPS snp_platform sim vhsm_sim_testutil)
vhsm_test(NAME sev_guest_test SRCS sev_guest_test.cc DEPS snp_platform sim vhsm_sim_testutil)
target_include_directories(configfs_tsm_test PRIVATE ${PROJECT_SOURCE_DIR}/tests/sim)
target_include_directories(sev_guest_test PRIVATE ${PROJECT_SOURCE_DIR}/tests/sim)
