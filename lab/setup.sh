#!/usr/bin/env bash
# Idempotent set-up for `make run` / `make test` on Debian 12 (stock: no pip, no uv needed):
#   1. Debian packages, with apt-get, only when missing (as root; otherwise it prints the
#      exact commands and exits 1);
#   2. uv: the one on PATH if it is 0.13.x, otherwise a private venv in
#      ${XDG_CACHE_HOME:-$HOME/.cache}/experiments/uv-venv (Debian's python3-venv, then
#      uv==0.13.9 from PyPI with that venv's own pip; needs no root, and leaves the system
#      Python alone, as PEP 668 asks). lab/uv.sh says which uv that is, for the Makefile too;
#   3. `uv sync --all-packages --frozen`. The CMake build is done by the Makefile.
# A second run does nothing but checks and takes a few seconds.
# Environment: SETUP_EXTRA_PACKAGES="a b" checks more Debian packages (tests use it);
#   SETUP_SKIP_SYNC=1 stops before step 3 (tests use it: set-up of uv alone, fast).
set -euo pipefail
cd "$(dirname "$0")/.."
source lab/uv.sh # UV_VERSION, UV_VENV, uv_version, uv_path

# Debian's interpreter: python3-venv (below) is what gives it `-m venv` with pip.
VENV_PYTHON=/usr/bin/python3
# Everything the experiments need from Debian, beyond what the machine ships.
PACKAGES=(
  g++ cmake ninja-build libgtest-dev valgrind  # usually present; checked anyway
  clang clang-format libclang-rt-14-dev        # libFuzzer, formatting
  libbenchmark-dev                             # Google Benchmark (C++ ceilings)
  liburing-dev                                 # io_uring reference echo server
  linux-perf                                   # servers' user-space CPU (uvloop floor)
  redis-server                                 # dramatiq broker
  rabbitmq-server                              # dramatiq broker (the same cells on AMQP)
  patchelf                                     # auditwheel repair of native wheels
  python3-venv                                 # the private venv that holds uv
)

# SETUP_EXTRA_PACKAGES adds names (tests use it to check the not-root message).
read -r -a extra <<<"${SETUP_EXTRA_PACKAGES:-}"
missing=()
for pkg in "${PACKAGES[@]}" "${extra[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

UV=$(uv_path)
uv_ok() {
  local version
  version=$(uv_version "$UV")
  if [[ $UV == "$UV_VENV/bin/uv" ]]; then
    [[ $version == "$UV_VERSION" ]]
  else
    [[ -n $version ]]
  fi
}
# The private uv: a venv of its own, and uv from PyPI with that venv's pip.
venv_cmd=("$VENV_PYTHON" -m venv --clear "$UV_VENV")
pip_cmd=("$UV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION")
printf -v venv_shown '%q ' "${venv_cmd[@]}"
printf -v pip_shown '%q ' "${pip_cmd[@]}"
install_uv_cmd="${venv_shown}&& ${pip_shown% }"

if ((${#missing[@]})); then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this as root, then try again:" >&2
    echo "    sudo apt-get update && sudo $cmd" >&2
    if ! uv_ok; then
      echo "setup: uv $UV_VERSION is missing too: once the packages are in, the next run" >&2
      echo "setup: installs it (no root needed); or, by hand:" >&2
      echo "    $install_uv_cmd" >&2
    fi
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  $cmd -qq
fi

# The `redis-server` and `rabbitmq-server` packages start system-wide instances; the
# experiments start their own (a unix socket; a private RabbitMQ node with its own ports,
# epmd and data), so the system ones are not needed.

if ! uv_ok; then
  echo "setup: installing uv $UV_VERSION into $UV_VENV"
  mkdir -p "$(dirname "$UV_VENV")"
  if ! { "${venv_cmd[@]}" && "${pip_cmd[@]}"; } || ! uv_ok; then
    echo "setup: could not install uv $UV_VERSION into $UV_VENV with:" >&2
    echo "    $install_uv_cmd" >&2
    exit 1
  fi
fi

if [[ ${SETUP_SKIP_SYNC:-} == 1 ]]; then
  exit 0
fi
"$UV" sync --all-packages --frozen --quiet
