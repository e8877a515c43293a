"""Per-variant Python environments, built with uv under ``lab.paths.cache_dir()``.

Each dramatiq version gets its own virtual environment with exact pins; the
harness's own package is put on ``PYTHONPATH`` of the processes it starts there
(the in-worker modules import only the standard library, dramatiq and redis).
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.paths import cache_dir

#: The redis client pinned in every variant environment (tested with it).
REDIS_PY = "8.1.0"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    dramatiq: str
    extra: str  # none | fix | gc  (see worker_app.EXTRAS)


VARIANTS: tuple[Variant, ...] = (
    Variant("2.2.0", "dramatiq 2.2.0 (affected)", "2.2.0", "none"),
    Variant("2.2.1", "dramatiq 2.2.1 (upstream fix)", "2.2.1", "none"),
    Variant("2.2.0+fix", "2.2.0 + BreakAsyncioCycle", "2.2.0", "fix"),
    Variant("2.2.0+gc", "2.2.0 + gc.collect() per failure", "2.2.0", "gc"),
)
BY_KEY = {v.key: v for v in VARIANTS}


def variant(key: str) -> Variant:
    try:
        return BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown variant {key!r}; choose from {', '.join(BY_KEY)}") from None


def _uv() -> list[str]:
    from lab.paths import uv

    return [uv()]


def _base_python() -> str:
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


@functools.cache
def python_tag(python: str | None = None) -> str:
    """``3.11`` for the interpreter at ``python`` (default: the one running this)."""
    if python is None:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ValueError(f"cannot run the interpreter {python!r}: {exc}") from None
    return out.stdout.strip()


def env_dir(version: str, python: str | None = None) -> Path:
    tag = f"py{python_tag(python)}"
    return cache_dir() / "dramatiq-memory-leak" / f"dramatiq-{version}-{tag}"


def ensure_env(version: str, python: str | None = None, log: Callable[[str], None] = print) -> Path:
    """Build (once) the environment for ``dramatiq==version`` on ``python``; return its python.

    ``python`` defaults to the interpreter running this. Safe to call concurrently (a
    lock file). The marker file is written last, so a half-built environment
    (interrupted build) is detected and rebuilt.
    """
    target = env_dir(version, python)
    marker = target / "dleak-env.json"
    base = os.path.realpath(python) if python else _base_python()
    want = {"dramatiq": version, "redis": REDIS_PY, "python": base}
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and json.loads(marker.read_text()) == want:
            return target / "bin" / "python"
        log(f"building environment dramatiq=={version} in {target}")
        shutil.rmtree(target, ignore_errors=True)
        python = target / "bin" / "python"
        _run([*_uv(), "venv", "-q", "--python", want["python"], str(target)])
        _run(
            [
                *_uv(), "pip", "install", "-q", "--python", str(python),
                f"dramatiq[redis]=={version}", f"redis=={REDIS_PY}",
            ]
        )  # fmt: skip
        got = subprocess.run(
            [str(python), "-c", "import dramatiq; print(dramatiq.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if got != version:
            raise RuntimeError(f"environment {target} has dramatiq {got}, expected {version}")
        marker.write_text(json.dumps(want))
    return python


def _run(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr.strip()[-2000:]}"
        )


def child_env(variant_: Variant, redis_url: str, queue: str, probe: str | None) -> dict[str, str]:
    """Environment for a worker or client process of ``variant_``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(
        PYTHONPATH=str(PACKAGE_PARENT),
        PYTHONUNBUFFERED="1",
        DLEAK_REDIS_URL=redis_url,
        DLEAK_QUEUE=queue,
        DLEAK_EXTRA=variant_.extra,
    )
    if probe:
        env["DLEAK_PROBE"] = probe
    else:
        env.pop("DLEAK_PROBE", None)
    return env
