"""Run ``test_break_cycle.py`` against dramatiq 2.2.0 and 2.2.1 on every interpreter here.

Each (dramatiq version, interpreter) gets a cached environment built by ``lab.venvs.ensure``
(exact pins: dramatiq, pytest); the package is put on ``PYTHONPATH`` from ``src/`` so the
code under test is the working tree's. A separate test builds the wheel with ``uv build``
and imports it in a fresh environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lab import pythons
from lab.paths import uv
from lab.venvs import Step, ensure

FIX = Path(__file__).resolve().parents[1]
PYTEST = "pytest==9.2.0"  # the workspace's pin (uv.lock)
DRAMATIQ_VERSIONS = ("2.2.0", "2.2.1")


def _interpreters() -> list[str]:
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    found = [base if py == sys.executable else py for py in pythons.default()]
    # The oldest Python the distribution supports (requires-python >= 3.10), where the machine
    # has one: no BaseExceptionGroup there, which the fix must not need.
    oldest = pythons.elsewhere("3.10")
    return ([oldest] if oldest else []) + found


def _tag(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


CASES = [(v, py) for py in _interpreters() for v in DRAMATIQ_VERSIONS]


@pytest.mark.parametrize(
    ("version", "python"), CASES, ids=[f"dramatiq{v}-py{_tag(p)}" for v, p in CASES]
)
def test_fix_suite_in_env(version: str, python: str) -> None:
    venv = ensure(
        f"dramatiq-fix-{version}",
        python,
        [Step((f"dramatiq=={version}", PYTEST))],
        check=f"import dramatiq, sys; sys.exit(dramatiq.__version__ != {version!r})",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PYTHONPATH"] = str(FIX / "src")
    proc = subprocess.run(
        [
            str(venv.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
            "--rootdir", str(FIX / "tests"), "--confcutdir", str(FIX / "tests"), "-c", os.devnull,
            str(FIX / "tests"),
        ],
        capture_output=True, text=True, env=env, timeout=240, cwd=FIX,
    )  # fmt: skip
    tail = "\n".join(proc.stdout.strip().splitlines()[-40:])
    assert proc.returncode == 0, f"{version} on {python}:\n{tail}\n{proc.stderr[-2000:]}"
    assert " passed" in tail and "test_break_cycle.py" in proc.stdout, tail


def test_wheel_builds_and_imports_in_a_fresh_env(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    proc = subprocess.run(
        [uv(), "build", "--wheel", "--out-dir", str(dist), str(FIX)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheels = list(dist.glob("dramatiq_async_exc_fix-*.whl"))
    assert len(wheels) == 1, proc.stderr[-2000:]
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "dramatiq_async_exc_fix/__init__.py" in names
    assert "dramatiq_async_exc_fix/py.typed" in names
    assert not any(n.startswith("tests/") for n in names)
    venv = ensure(
        "dramatiq-fix-wheel",
        os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        [Step((str(wheels[0]),))],
        check=(
            "import dramatiq, dramatiq_async_exc_fix as f; "
            "from dramatiq.middleware import Middleware; "
            "assert issubclass(f.BreakAsyncioCycle, Middleware); print(f.__file__)"
        ),
        root=tmp_path / "venvs",  # fresh: never a cached environment
    )
    out = subprocess.run(
        [str(venv.python), "-c", "import dramatiq_async_exc_fix as f; print(f.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert str(venv.path) in out.stdout  # the installed wheel, not the source tree
