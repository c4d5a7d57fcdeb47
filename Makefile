# The README's two commands; everything else is CMake.
#
#   make demo   install missing Debian packages, build (Release, build/) and run
#               `odeflow demo` (plots and summary.json in out/)
#   make test   install missing Debian packages, build, run the whole suite under
#               AddressSanitizer + UBSan (build-asan/), then the Release suite
#               (build/); the output ends with ctest's summary of the latter
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
ODEFLOW := $(BUILD)/apps/odeflow/odeflow

DEB_PACKAGES := build-essential cmake libeigen3-dev libfmt-dev libcli11-dev nlohmann-json3-dev \
  libgtest-dev libgmock-dev libbenchmark-dev libplplot-dev plplot-driver-cairo fonts-dejavu-core \
  libboost-dev libsundials-dev
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The sanitizer build: Debug keeps assertions (Eigen's bounds checks); -O1
# keeps the suite fast enough under ASan.
ASAN_FLAGS := -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g" -DODEFLOW_SANITIZE=ON \
  -DODEFLOW_BUILD_BENCHMARKS=OFF

.PHONY: demo test deps build build-asan clean

demo: deps build
	$(ODEFLOW) demo --out out

test: deps build build-asan
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

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
	rm -rf $(BUILD) $(ASAN_BUILD) out
