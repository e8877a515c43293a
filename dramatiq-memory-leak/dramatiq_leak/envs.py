"""Per-variant Python environments, built by ``lab.venvs``.

Each dramatiq version gets its own virtual environment with exact pins (proven by importing
it); the harness's own package and the fix distribution's source (``fix/src``) are put on
``PYTHONPATH`` of the processes it starts there (the in-worker modules import only the standard
library, dramatiq, redis and ``dramatiq_async_exc_fix``).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.venvs import Step, ensure

#: The redis client pinned in every variant environment (tested with it).
REDIS_PY = "8.1.0"
#: The AMQP client dramatiq's RabbitmqBroker uses, pinned the same way.
PIKA = "1.3.2"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
#: The fix distribution's import root (``dramatiq_async_exc_fix``), put on the same PYTHONPATH.
FIX_SRC = PACKAGE_PARENT / "fix" / "src"


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


def ensure_env(version: str, python: str | None = None, log: Callable[[str], None] = print) -> Path:
    """The environment for ``dramatiq==version`` on ``python`` (built once); return its python.

    ``python`` defaults to the interpreter running this. Concurrent calls build it once.
    """
    check = f"import dramatiq, sys; sys.exit(dramatiq.__version__ != {version!r})"
    venv = ensure(
        f"dramatiq-{version}",
        python or _base_python(),
        [Step((f"dramatiq[redis]=={version}", f"redis=={REDIS_PY}", f"pika=={PIKA}"))],
        check=check,
        log=log,
    )
    return venv.python


def child_env(variant_: Variant, redis_url: str, queue: str, probe: str | None) -> dict[str, str]:
    """Environment for a worker or client process of ``variant_``.

    ``DLEAK_BROKER_PID`` is set when ``redis_url`` is a server this process started and proved
    its own (:func:`dramatiq_leak.redis_server.proven_pid`); the client flushes nothing else.
    """
    from dramatiq_leak.redis_server import proven_pid

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(
        PYTHONPATH=os.pathsep.join((str(PACKAGE_PARENT), str(FIX_SRC))),
        PYTHONUNBUFFERED="1",
        DLEAK_BROKER_URL=redis_url,
        DLEAK_QUEUE=queue,
        DLEAK_EXTRA=variant_.extra,
    )
    from dramatiq_leak import rabbitmq_server

    pid = proven_pid(redis_url) or rabbitmq_server.proven_pid(redis_url)
    if pid is not None:
        env["DLEAK_BROKER_PID"] = str(pid)
    else:
        env.pop("DLEAK_BROKER_PID", None)
    if probe:
        env["DLEAK_PROBE"] = probe
    else:
        env.pop("DLEAK_PROBE", None)
    return env
