"""The environment a result was measured in, recorded next to every result."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
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
        info: dict[str, object] = json.loads(out)
        return info
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


def _cpu_busy_seconds() -> float | None:
    """CPU time the whole machine spent on work (user, nice, system, steal), in seconds."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this process and every child (and their children) it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class LoadMonitor:
    """How busy the machine was with work other than the run's own, while the run ran.

    The load average counts the run itself (a benchmark that keeps both cores busy shows a
    load of 2), so it cannot tell a quiet machine from a noisy one. What can: the machine's
    busy CPU time minus the CPU time of the run's own processes, over the run's wall time.
    That is ``other_cores``; ``other_per_core`` divides by the CPU count, and ``lab publish``
    refuses runs where it exceeds 0.5 (interrupt and softirq time is left out on both sides,
    as loopback networking is charged there). The 1-minute load average is recorded as well.
    """

    THRESHOLD_PER_CORE = 0.5

    def __init__(self) -> None:
        self._t0 = 0.0
        self._busy0: float | None = None
        self._own0 = 0.0
        self.started = False
        self.load_at_start: list[float] | None = None

    def start(self) -> None:
        self.started = True
        self._t0 = time.monotonic()
        self._busy0 = _cpu_busy_seconds()
        self._own0 = _own_cpu_seconds()
        self.load_at_start = load_average()

    def stop(self) -> dict[str, object]:
        wall = max(time.monotonic() - self._t0, 1e-9)
        busy = _cpu_busy_seconds()
        own = _own_cpu_seconds() - self._own0
        cpus = os.cpu_count() or 1
        other = None
        if busy is not None and self._busy0 is not None:
            other = max(0.0, (busy - self._busy0) - own) / wall
        return {
            "wall_s": round(wall, 3),
            "run_cpu_s": round(own, 3),
            "other_cores": None if other is None else round(other, 3),
            "other_per_core": None if other is None else round(other / cpus, 3),
            "threshold_per_core": self.THRESHOLD_PER_CORE,
            "load_average_at_start": self.load_at_start,
            "load_average_at_end": load_average(),
        }


def working_python(path: str) -> str:
    """Resolve ``path`` (a file, or a name looked up on PATH) and prove it runs Python 3.

    Returns the absolute path; raises ValueError with a one-line reason otherwise.
    """
    import shutil

    found = shutil.which(path) if os.sep not in path else str(Path(path).expanduser())
    if not found or not Path(found).is_file():
        raise ValueError(f"{path}: no such file (nor a command on PATH)")
    if not os.access(found, os.X_OK):
        raise ValueError(f"{found}: not executable")
    probe = "import sys; print(sys.implementation.name, sys.version_info[0])"
    try:
        out = subprocess.run(
            [found, "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"{found}: does not run: {exc}") from None
    words = out.stdout.split()
    if out.returncode != 0 or len(words) != 2 or words[1] != "3":
        raise ValueError(f"{found}: not a working Python 3 interpreter (`-c` printed nothing)")
    return str(Path(found).absolute())
