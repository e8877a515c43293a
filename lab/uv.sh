#!/usr/bin/env bash
# Which uv the lab uses, in one place: the Makefile runs this script (it prints the path) and
# lab/setup.sh sources it (for UV_VERSION, UV_VENV and uv_path).
#   - `uv` on PATH, if it is the pinned major.minor (0.13.x);
#   - otherwise the private uv in ${XDG_CACHE_HOME:-$HOME/.cache}/experiments/uv-venv/bin/uv,
#     a venv that lab/setup.sh creates with Debian's python3-venv and fills with pip.
# The private path is printed even before it exists: `make` reads it before set-up runs.
UV_VERSION=0.13.9
UV_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/experiments/uv-venv"

# uv_version UV: prints the version UV reports ("0.13.9"), nothing if it does not run.
uv_version() {
  local out
  out=$("$1" --version 2>/dev/null) || return 0
  out=${out#uv }
  echo "${out%% *}"
}

uv_path() {
  local found
  found=$(command -v uv 2>/dev/null) || true
  if [[ -n $found && $(uv_version "$found") == "${UV_VERSION%.*}".* ]]; then
    echo "$found"
  else
    echo "$UV_VENV/bin/uv"
  fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  uv_path
fi
