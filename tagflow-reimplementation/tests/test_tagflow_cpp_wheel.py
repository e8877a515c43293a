"""`pip install ./tagflow-reimplementation` builds a manylinux wheel with the extension inside,
for every interpreter here: the lab's (cp311), a 3.12 found on the machine, the lab's 3.13 and
free-threaded 3.13t (`make pythons`). Each wheel is installed alone into a fresh environment and
the package's own engine, context and parser-oracle tests run against it there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from lab import pythons
from lab.paths import uv

PROJECT = Path(__file__).resolve().parents[1]
#: The package's tests that need nothing but the wheel and TOOLS (at the workspace's versions).
SUITE = (
    "test_tagflow_cpp_document.py",
    "test_tagflow_cpp_contexts.py",
    "test_tagflow_cpp_parser_oracle.py",
    "test_tagflow_cpp_properties.py",
)
TOOLS = ("pytest", "hypothesis", "html5lib", "markupsafe")


def _interpreters() -> list[str]:
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    found = [base, pythons.elsewhere("3.12"), pythons.built("pgo"), pythons.free_threaded()]
    return [p for p in found if p is not None]


def _abi(python: str) -> str:
    code = "import sys, sysconfig; print('cp%d%d' % sys.version_info[:2] + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''))"  # noqa: E501
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip  # noqa: E501


INTERPRETERS = _interpreters()


@pytest.mark.parametrize("python", INTERPRETERS, ids=[_abi(p) for p in INTERPRETERS])
def test_tagflow_cpp_wheel_is_a_manylinux_wheel_that_passes_its_tests(
    python: str, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [uv(), "build", "--wheel", "--python", python, "-o", str(out), str(PROJECT)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    (wheel,) = out.glob("*.whl")
    abi = _abi(python)
    py = re.sub(r"t$", "", abi)
    # Repaired by auditwheel (manylinux = true): a tag pip accepts on other distributions.
    assert re.search(rf"-{py}-{abi}-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert f"tagflow_cpp/_core.cpython-{abi[2:]}-x86_64-linux-gnu.so" in names, names
    for expected in ("tagflow_cpp/__init__.py", "tagflow_cpp/compat.py", "tagflow_cpp/py.typed"):
        assert expected in names
    assert "tagflow_cpp/_core.pyi" in names
    assert not [n for n in names if n.endswith(".cpp")]
    wheel_meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    assert "Root-Is-Purelib: false" in zipfile.ZipFile(wheel).read(wheel_meta).decode()
    # The repaired wheel, installed alone into a fresh environment (with the test tools at the
    # workspace's versions), imports from there and passes the package's own tests.
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "-q", "--python", python, str(venv)], check=True)
    tools = [f"{d}=={metadata.version(d)}" for d in TOOLS]
    subprocess.run(
        [uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel),
         *tools],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    code = "from tagflow_cpp import escape_kernel, _core; print(_core.__file__)"
    where = subprocess.run(
        [venv / "bin" / "python", "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert where.startswith(str(venv)), where
    tests = tmp_path / "tests"  # outside the repository: no conftest, nothing from the workspace
    tests.mkdir()
    for name in SUITE:
        shutil.copy(PROJECT / "tests" / name, tests / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-W", "error::RuntimeWarning", str(tests)],
        cwd=tests, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert re.search(r"\d+ passed", proc.stdout) and " skipped" not in proc.stdout, proc.stdout
