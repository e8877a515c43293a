# The two commands: `make run` (every experiment, quick mode) and `make test`.
# Both set up whatever is missing first; a second run skips what is done.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# uv on PATH if it is the pinned 0.13.x, else the private one lab/setup.sh installs (lab/uv.sh).
UV := $(shell bash lab/uv.sh)
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: help setup build build-asan run bench test test-cpp test-python lint format pythons fuzz mutants clean

help:
	@echo "make run      set up, then run every experiment (quick mode); report in runs/index.html"
	@echo "make test     set up, then lint, C++ tests (release + ASan/UBSan) and pytest"
	@echo "make bench    every experiment in full mode (publishable with lab publish)"
	@echo "make lint     ruff check + format, strict mypy, clippy + rustfmt on the Rust demos, clang-format"
	@echo "make format   apply ruff format and clang-format"
	@echo "make pythons  build CPython 3.13 (PGO+LTO, and free-threaded 3.13t) from Debian's trixie sources into ~/.cache/experiments"
	@echo "make fuzz     run the libFuzzer targets for FUZZ_SECONDS (default 60) each"
	@echo "make mutants  apply hand-made bugs one by one to a scratch copy; each must fail a test"

setup:
	@bash lab/setup.sh

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

# Working runs go to runs/ (ignored): `make run` never changes a tracked file.
run: build
	$(UV) run --frozen lab run

# Full mode, one experiment after another; publish each with `lab publish EXPERIMENT`.
bench: build
	$(UV) run --frozen lab run --full

test: lint test-cpp test-python

test-cpp: build build-asan
	ctest --preset release -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# pytest exit 5 means "no tests collected": with the lab's own tests always present
# that can only mean the suite is broken, so it fails (a run must never pass empty).
test-python: build
	$(UV) run --frozen pytest -q -p no:cacheprovider

CPP_FILES = $(shell git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' 2>/dev/null)

# The parity fixtures (hatchling-pyo3-plugin/parity/fixtures) are compiled by every parity run;
# clippy over all of them would add minutes to `make test`, and one has a URL the run fills in.
RUST_CRATES = $(shell git ls-files '*/Cargo.toml' ':!:*/parity/fixtures/*' 2>/dev/null)

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	@for toml in $(RUST_CRATES); do \
	  cargo fmt --manifest-path $$toml --check && \
	  cargo clippy --quiet --manifest-path $$toml --all-targets -- -D warnings || exit 1; \
	done
	@if [ -n "$(CPP_FILES)" ]; then clang-format --dry-run -Werror $(CPP_FILES); fi

format: setup
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .
	@if [ -n "$(CPP_FILES)" ]; then clang-format -i $(CPP_FILES); fi

pythons: setup
	$(UV) run --frozen lab pythons
	$(UV) run --frozen lab pythons --free-threaded

# The libFuzzer targets (clang, ASan+UBSan, every library they link coverage-instrumented), each
# for FUZZ_SECONDS from its seed corpus <experiment>/fuzz/corpus/<target>/ (kept in git);
# what the fuzzer finds on top goes to build/fuzz/corpus/<target>/ (not tracked).
FUZZ_TARGETS = fuzz_tagflow fuzz_echoload_args fuzz_histogram fuzz_http_response
fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@for name in $(FUZZ_TARGETS); do \
	  bin=build/fuzz/fuzz/$$name; seeds=$$(ls -d */fuzz/corpus/$$name); \
	  [ -x "$$bin" ] || { echo "fuzz: $$bin was not built"; exit 1; }; \
	  mkdir -p build/fuzz/corpus/$$name; \
	  echo "== $$name ($(FUZZ_SECONDS) s, seeds in $$seeds)"; \
	  if ! "$$bin" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      build/fuzz/corpus/$$name $$seeds >build/fuzz/$$name.log 2>&1; then \
	    tail -40 build/fuzz/$$name.log; echo "fuzz: $$name found a failure (log: build/fuzz/$$name.log)"; exit 1; \
	  fi; \
	  grep -E "DONE|stat::(number_of_executed_units|new_units_added)" build/fuzz/$$name.log; \
	done

# Slow (C++ rebuilds in a scratch copy): not part of `make test`; run it before a release.
mutants: build
	$(UV) run --frozen python tests/mutants.py

clean:
	rm -rf build
