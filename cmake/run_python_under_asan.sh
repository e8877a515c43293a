#!/usr/bin/env bash
# Runs a package's pytest suite against an ASan+UBSan build of its extension module.
# Usage: run_python_under_asan.sh PYTHON EXTENSION_SO SOURCE_DIR PACKAGE [PYTEST_ARG...] -- PRELOAD...
#   SOURCE_DIR holds python/PACKAGE/ and tests/; EXTENSION_SO replaces PACKAGE's extension.
# The interpreter runs with -S so the editable install's .pth hook cannot shadow the sanitized
# module; the venv's site-packages is put on PYTHONPATH for pytest instead. Tests that need what
# a sanitizer run lacks (a compiler, packages outside the venv) look at RUNNING_UNDER_ASAN.
set -euo pipefail
python=$1 so=$2 src=$3 package=$4
shift 4
pytest_args=()
while (($#)) && [[ $1 != -- ]]; do pytest_args+=("$1"); shift; done
[[ ${1:-} == -- ]] || { echo "usage: $0 PYTHON SO SOURCE_DIR PACKAGE [PYTEST_ARG...] -- PRELOAD..." >&2; exit 2; }
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/python/$package" "$tmp/"
# An editable install may have left its own build of the extension beside the sources.
find "$tmp/$package" \( -name '*.so' -o -name __pycache__ \) -prune -exec rm -rf {} +
cp "$so" "$tmp/$package/"
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cd "$tmp"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LD_PRELOAD="$*" PYTHONPATH="$tmp:$site" RUNNING_UNDER_ASAN=1
module="$package.$(basename "$so" | cut -d. -f1)"
"$python" -S -c 'import importlib, sys
m = importlib.import_module(sys.argv[1])
sys.exit(0 if m.__file__.startswith(sys.argv[2]) else "not the sanitized module: " + m.__file__)' "$module" "$tmp"
exec "$python" -S -m pytest -q -p no:cacheprovider -o addopts= "$src/tests" "${pytest_args[@]}"
