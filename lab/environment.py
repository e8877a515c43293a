"""The environment a result was measured in, recorded next to every result."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
from functools import cache
from pathlib import Path

from lab.paths import repo_root

_PY_PROBE = r"""
import json, platform, sys, sysconfig
from importlib import metadata
print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "compiler": platform.python_compiler(),
    "config_args": sysconfig.get_config_var("CONFIG_ARGS"),
    "cflags": sysconfig.get_config_var("CFLAGS"),
    "py_debug": bool(sysconfig.get_config_var("Py_DEBUG")),
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "packages": {d.metadata["Name"].lower(): d.version for d in metadata.distributions()
                 if d.metadata["Name"]},
}))
"""


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_bytes() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def git_commit() -> dict[str, object]:
    root = repo_root()
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    return {"commit": sha or None, "dirty": bool(dirty)}


@cache
def interpreter(executable: str) -> dict[str, object]:
    """Version, build flags and installed packages of a Python interpreter."""
    if Path(executable).resolve() == Path(sys.executable).resolve():
        exec_ = sys.executable
    else:
        exec_ = executable
    try:
        out = subprocess.run(
            [exec_, "-c", _PY_PROBE], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        return json.loads(out)
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        return {"executable": executable, "error": f"could not query interpreter: {exc}"}


def load_average() -> list[float] | None:
    with contextlib.suppress(OSError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def capture(pythons: list[str], argv: list[str], mode: str) -> dict[str, object]:
    """Everything needed to judge or repeat a measurement."""
    uname = platform.uname()
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "kernel": f"{uname.system} {uname.release}",
        "machine": uname.machine,
        "memory_bytes": memory_bytes(),
        "load_average_at_start": load_average(),
        "lab_python": interpreter(sys.executable),
        "pythons": [interpreter(p) for p in pythons],
        "git": git_commit(),
        "command_line": argv,
        "mode": mode,
    }
