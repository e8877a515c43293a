#!/usr/bin/env bash
# Runs ringloop's pytest suite against an ASan+UBSan build of ringloop._core.
# Usage: run_python_under_asan.sh PYTHON EXTENSION_SO SOURCE_DIR PRELOAD...
# The interpreter runs with -S so the editable install's .pth hook cannot shadow the sanitized
# module; the venv's site-packages is put on PYTHONPATH for pytest instead.
set -euo pipefail
python=$1 so=$2 src=$3
shift 3
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
mkdir -p "$pkg/ringloop"
cp "$src"/python/ringloop/*.py "$src"/python/ringloop/py.typed "$pkg/ringloop/"
cp "$so" "$pkg/ringloop/"
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cd "$pkg"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LD_PRELOAD="$*" PYTHONPATH="$pkg:$site"
"$python" -S -c 'import ringloop._core as c, sys; sys.exit(0 if c.__file__.startswith(sys.argv[1]) else "not the sanitized module: " + c.__file__)' "$pkg"
exec "$python" -S -m pytest -q -p no:cacheprovider -o addopts= "$src/tests"
