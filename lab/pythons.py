"""Interpreters the experiments run on.

The lab's own interpreter (Python 3.11 on this machine) is always used.
Extra interpreters are provisioned by ``lab pythons`` into
``~/.cache/experiments/pythons/<version>/`` and picked up here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lab.paths import cache_dir


def pythons_dir() -> Path:
    return cache_dir() / "pythons"


def provisioned() -> list[str]:
    """Executables of interpreters built by ``lab pythons`` (sorted by version)."""
    found = []
    base = pythons_dir()
    if base.is_dir():
        for version_dir in sorted(base.iterdir()):
            exe = version_dir / "bin" / f"python{version_dir.name}"
            if exe.is_file():
                found.append(str(exe))
    return found


def default() -> list[str]:
    """The lab interpreter plus every provisioned one."""
    return [sys.executable, *provisioned()]


def provision(argv: list[str]) -> int:
    """Entry point of ``lab pythons``."""
    try:
        from lab import provision as _provision  # built by the uvloop experiment's issue
    except ImportError:
        print(
            "lab pythons: provisioning of extra interpreters is not built yet; "
            f"found: {', '.join(default())}",
            file=sys.stderr,
        )
        return 1
    return _provision.main(argv)
