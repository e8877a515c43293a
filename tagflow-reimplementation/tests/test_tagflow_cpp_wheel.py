"""`pip install ./tagflow-reimplementation` builds a manylinux wheel with the extension inside."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from lab.paths import uv

PROJECT = Path(__file__).resolve().parents[1]


def test_tagflow_cpp_wheel_is_a_manylinux_wheel_that_imports(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [uv(), "build", "--wheel", "--python", sys.executable, "-o", str(out), str(PROJECT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("*.whl")
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    # Repaired by auditwheel (manylinux = true): a tag pip accepts on other distributions.
    assert re.search(rf"-{tag}-{tag}-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert f"tagflow_cpp/_core{suffix}" in names
    for expected in ("tagflow_cpp/__init__.py", "tagflow_cpp/compat.py", "tagflow_cpp/py.typed"):
        assert expected in names
    assert "tagflow_cpp/_core.pyi" in names
    assert not [n for n in names if n.endswith(".cpp")]
    wheel_meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    assert "Root-Is-Purelib: false" in zipfile.ZipFile(wheel).read(wheel_meta).decode()
    # The repaired wheel, installed alone into a fresh environment, imports and renders.
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = "from tagflow_cpp import escape_kernel, _core; print(_core.__file__)"
    where = subprocess.run(
        [venv / "bin" / "python", "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert where.startswith(str(venv)), where
