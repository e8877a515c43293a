#!/usr/bin/env bash
# Idempotent set-up for `make run` / `make test` on Debian 12:
#   Debian packages (apt-get, only when missing), uv (pip, only when missing),
#   `uv sync --all-packages --frozen`. The CMake build is done by the Makefile.
# A second run does nothing but checks and takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
# Everything the experiments need from Debian, beyond what the machine ships.
PACKAGES=(
  g++ cmake ninja-build libgtest-dev valgrind  # usually present; checked anyway
  clang clang-format libclang-rt-14-dev        # libFuzzer, formatting
  libbenchmark-dev                             # Google Benchmark (C++ ceilings)
  liburing-dev                                 # io_uring reference echo server
  redis-server                                 # dramatiq broker
  patchelf                                     # auditwheel repair of native wheels
)

# SETUP_EXTRA_PACKAGES adds names (tests use it to check the not-root message).
read -r -a extra <<<"${SETUP_EXTRA_PACKAGES:-}"
missing=()
for pkg in "${PACKAGES[@]}" "${extra[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this as root, then try again:" >&2
    echo "    sudo apt-get update && sudo $cmd" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  $cmd -qq
fi

# The `redis-server` package starts a system-wide instance; the experiments start
# their own on free loopback ports, so the system one is not needed.

if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
  echo "setup: installing uv ${UV_VERSION} with pip"
  python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
UV=$(command -v uv || echo "python3 -m uv")

$UV sync --all-packages --frozen --quiet
