#!/usr/bin/env bash
# Runs this experiment's pytest suite against an ASan+UBSan build of the extension.
# Usage: run_python_under_asan.sh PYTHON EXTENSION_SO SOURCE_DIR PRELOAD...
# The interpreter runs with -S so the editable install's .pth hook cannot shadow the sanitized
# module; the venv's site-packages is put on PYTHONPATH for pytest and hypothesis instead.
set -euo pipefail
python=$1 so=$2 src=$3
shift 3
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
mkdir -p "$pkg/tagflow_cpp"
cp "$src"/python/tagflow_cpp/*.py "$src"/python/tagflow_cpp/*.pyi "$src"/python/tagflow_cpp/py.typed "$pkg/tagflow_cpp/"
cp "$so" "$pkg/tagflow_cpp/"
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cd "$pkg"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LD_PRELOAD="$*" PYTHONPATH="$pkg:$site" TAGFLOW_CPP_UNDER_ASAN=1
"$python" -S -c 'import tagflow_cpp._core as c, sys; sys.exit(0 if c.__file__.startswith(sys.argv[1]) else "not the sanitized module: " + c.__file__)' "$pkg"
# The wheel test builds with uv and a compiler: not something to run with libasan preloaded.
# The status test judges stored results with the lab (not installed here): no native code.
exec "$python" -S -m pytest -q -p no:cacheprovider -o addopts= "$src/tests" \
  --ignore="$src/tests/test_tagflow_cpp_wheel.py" \
  --ignore="$src/tests/test_tagflow_cpp_status.py"
