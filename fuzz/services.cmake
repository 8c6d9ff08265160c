# Fuzz targets for the service infrastructure (store/, http/) and, later, the services.
# Corpora: fuzz/corpus/<name without _fuzzer>/.
vhsm_fuzzer(NAME http_headers_fuzzer DEPS http)
vhsm_fuzzer(NAME store_sql_fuzzer DEPS store)
