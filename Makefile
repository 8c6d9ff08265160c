# The two entry points (README): `make demo` and `make test`. Both install what is missing,
# configure and build into build/, then run.
PRESET ?= dev
.PHONY: all deps configure build test demo asan-test fuzz-build fuzz-smoke bench clean format

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	./scripts/configure.sh $(PRESET)

build: configure
	cmake --build --preset $(PRESET)

test: build
	ctest --preset $(PRESET)

demo: build
	./scripts/demo.sh

asan-test: deps
	./scripts/configure.sh asan
	cmake --build --preset asan
	ctest --preset asan

fuzz-build: deps
	./scripts/configure.sh fuzz
	cmake --build --preset fuzz --target vhsm_fuzzers

# Runs every fuzzer briefly on its seed corpus (FUZZ_SECONDS each, two at a time): ctest tests
# fuzz_smoke.<name> of the fuzz preset.
fuzz-smoke: fuzz-build
	FUZZ_SECONDS=$${FUZZ_SECONDS:-20} ctest --preset fuzz

bench: deps
	./scripts/configure.sh release
	cmake --build --preset release
	./scripts/run-benchmarks.sh build-release/bench

format:
	find src apps tests fuzz bench examples -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-release build-fuzz
