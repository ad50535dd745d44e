# SPDX-License-Identifier: Apache-2.0
# The two commands a new user needs: `make run` and `make test`.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DATA ?= data

.PHONY: all deps build run test asan fuzz clean bench

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	@meson setup $(BUILD) --buildtype=debugoptimized >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null || ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	@CC=clang meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null

asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD) >/dev/null || ninja -C $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja:
	@CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null

fuzz: deps $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD) >/dev/null || ninja -C $(FUZZ_BUILD)

# First run writes ./data/homeserver.yaml and the signing key for `localhost`
# (registration enabled: the server listens on 127.0.0.1 only).
run: build
	@test -f $(DATA)/homeserver.yaml || \
		$(BUILD)/myelin generate-config --server-name localhost --data-dir $(DATA) \
			--enable-registration
	exec $(BUILD)/myelin serve -c $(DATA)/homeserver.yaml

# Style check, unit tests on the release build and under ASan/UBSan, short
# libFuzzer runs, and the end-to-end suite against the sanitized server. Ends with "N passed, N failed".
test: build asan fuzz
	@scripts/run-tests.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

bench: build
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
