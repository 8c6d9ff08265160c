# Provisioning Service benchmark (owner: provisiond): releases/s on loopback with 2 client
# threads, SQLite (synchronous FULL and NORMAL) and PostgreSQL.
if(TARGET vhsm_provisioning)
  vhsm_bench(NAME provisiond_bench DEPS provisioning)
  target_compile_options(provisiond_bench PRIVATE ${VHSM_WARNINGS})
  target_compile_definitions(provisiond_bench PRIVATE VHSM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endif()
