# The README's two commands; everything else is CMake.
#
#   make demo   install missing Debian packages, build (Release, build/) and run
#               `odeflow demo spiral`: train torchdiffeq's ode_demo spiral (plots,
#               summary.json and a checkpoint in out/)
#   make test   install missing Debian packages, build, run the whole suite under
#               AddressSanitizer + UBSan (build-asan/), fuzz the safetensors
#               reader for FUZZ_SECONDS (`make fuzz`, build-fuzz/), then run the
#               Release suite (build/); the output ends with ctest's summary of
#               the latter
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
ODEFLOW := $(BUILD)/apps/odeflow/odeflow

DEB_PACKAGES := build-essential cmake libeigen3-dev libfmt-dev libcli11-dev nlohmann-json3-dev \
  libgtest-dev libgmock-dev libbenchmark-dev libplplot-dev plplot-driver-cairo fonts-dejavu-core \
  libboost-dev libsundials-dev clang libclang-rt-14-dev
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The sanitizer build: Debug keeps assertions (Eigen's bounds checks); -O1
# keeps the suite fast enough under ASan.
ASAN_FLAGS := -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g" -DODEFLOW_SANITIZE=ON \
  -DODEFLOW_BUILD_BENCHMARKS=OFF

# The fuzz build: clang's libFuzzer + ASan + UBSan, only the fuzz targets.
FUZZ_FLAGS := -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DODEFLOW_BUILD_FUZZERS=ON \
  -DODEFLOW_BUILD_TESTS=OFF -DODEFLOW_BUILD_BENCHMARKS=OFF -DODEFLOW_BUILD_CLI=OFF
# New inputs go to the first corpus directory (in the build tree); the
# committed malformed files and the nn reference files are read-only seeds.
FUZZ_CORPUS := $(FUZZ_BUILD)/corpus tests/data/safetensors_malformed tests/data/nn
FUZZ_OPTIONS := -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -dict=fuzz/safetensors.dict \
  -artifact_prefix=$(FUZZ_BUILD)/ -print_final_stats=1

.PHONY: demo test fuzz deps build build-asan clean

demo: deps build
	$(ODEFLOW) demo spiral --out out

test: deps build build-asan
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory fuzz
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# A crash, sanitizer report or timeout fails the target; the input that caused
# it is saved as $(FUZZ_BUILD)/crash-* (rerun: $(FUZZ_BUILD)/fuzz/safetensors_fuzz FILE).
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) $(FUZZ_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target safetensors_fuzz
	mkdir -p $(FUZZ_BUILD)/corpus
	@echo "fuzzing the safetensors reader for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/fuzz.log)"
	@$(FUZZ_BUILD)/fuzz/safetensors_fuzz $(FUZZ_OPTIONS) $(FUZZ_CORPUS) > $(FUZZ_BUILD)/fuzz.log 2>&1 \
	  || { tail -n 80 $(FUZZ_BUILD)/fuzz.log; echo "fuzz: FAILED (see $(FUZZ_BUILD)/fuzz.log)"; exit 1; }
	@grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(FUZZ_BUILD)/fuzz.log

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps build
	cmake -S . -B $(ASAN_BUILD) $(ASAN_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) out
