# The two commands: `make run` (every experiment, quick mode) and `make test`.
# Both set up whatever is missing first; a second run skips what is done.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# uv on PATH if it is the pinned 0.13.x, else the private one lab/setup.sh installs (lab/uv.sh).
UV := $(shell bash lab/uv.sh)
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: help setup build build-asan run bench test test-cpp test-python lint format pythons fuzz clean

help:
	@echo "make run      set up, then run every experiment (quick mode); report in runs/index.html"
	@echo "make test     set up, then lint, C++ tests (release + ASan/UBSan) and pytest"
	@echo "make bench    every experiment in full mode (publishable with lab publish)"
	@echo "make lint     ruff check, ruff format --check, clang-format --dry-run -Werror"
	@echo "make format   apply ruff format and clang-format"
	@echo "make pythons  build CPython 3.13 from Debian's trixie sources into ~/.cache/experiments"
	@echo "make fuzz     run the libFuzzer targets for FUZZ_SECONDS (default 60) each"

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

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	@if [ -n "$(CPP_FILES)" ]; then clang-format --dry-run -Werror $(CPP_FILES); fi

format: setup
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .
	@if [ -n "$(CPP_FILES)" ]; then clang-format -i $(CPP_FILES); fi

pythons: setup
	$(UV) run --frozen lab pythons

fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@found=0; for f in build/fuzz/fuzz_*; do \
	  [ -x "$$f" ] || continue; found=1; \
	  echo "== $$f ($(FUZZ_SECONDS) s)"; \
	  "$$f" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	done; [ $$found = 1 ] || { echo "no fuzz targets built"; exit 1; }

clean:
	rm -rf build
