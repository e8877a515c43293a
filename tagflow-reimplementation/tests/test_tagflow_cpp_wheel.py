"""`pip install ./tagflow-reimplementation` builds a platform wheel with the extension inside."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from lab.paths import uv

PROJECT = Path(__file__).resolve().parents[1]


def test_tagflow_cpp_wheel_is_a_platform_wheel(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [uv(), "build", "--wheel", "--python", sys.executable, "-o", str(out), str(PROJECT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("*.whl")
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert wheel.name.endswith(f"-{tag}-{tag}-linux_x86_64.whl"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert f"tagflow_cpp/_core{suffix}" in names
    for expected in ("tagflow_cpp/__init__.py", "tagflow_cpp/compat.py", "tagflow_cpp/py.typed"):
        assert expected in names
    assert "tagflow_cpp/_core.pyi" in names
    assert not [n for n in names if n.endswith(".cpp")]
    wheel_meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    assert "Root-Is-Purelib: false" in zipfile.ZipFile(wheel).read(wheel_meta).decode()
