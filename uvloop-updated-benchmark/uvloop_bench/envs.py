"""The loop environments: one venv per interpreter with the pinned event loops.

Built by ``lab.venvs`` (cached, locked, manifest last). uvloop is required; rloop is optional,
since it has wheels for some interpreters only, and so is ringloop, this repository's loop, built
from ringloop-event-loop/ for each interpreter (it needs the interpreter's headers, a C++20
compiler and liburing-dev). What did not install is in the manifest and in the run record. The
uvloop the original study used gets an environment of its own.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from lab.venvs import Step, Venv, ensure, tree_stamp

RINGLOOP = Path(__file__).resolve().parents[2] / "ringloop-event-loop"

#: httptools is the HTTP parser uvloop's own HTTP benchmark uses (the http-httptools server).
LOOP_PACKAGES: tuple[str, ...] = ("uvloop==0.23.0", "httptools==0.9.0")
OPTIONAL_LOOP_PACKAGES: tuple[str, ...] = ("rloop==0.5.0",)
#: The uvloop the original study used, measured beside the current one on the newest Python.
ORIGINAL_UVLOOP = "uvloop==0.21.0"


def ringloop_version() -> str:
    with open(RINGLOOP / "pyproject.toml", "rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def loop_venv(
    python: str,
    *,
    packages: Sequence[str] = LOOP_PACKAGES,
    optional: Sequence[str] = OPTIONAL_LOOP_PACKAGES,
    ringloop: bool = True,
    log: Callable[[str], None] = lambda _msg: None,
) -> Venv:
    """The environment for ``python`` with ``packages`` (and ``optional`` where a wheel exists),
    and ringloop built from this checkout (rebuilt when its sources change)."""
    steps = [Step(tuple(packages))] if packages else []
    steps += [Step(("--only-binary", ":all:", pkg), what=pkg, optional=True) for pkg in optional]
    fingerprint = []
    if ringloop:
        what = f"ringloop=={ringloop_version()}"
        steps.append(Step((str(RINGLOOP),), what=what, optional=True))
        # what the build reads: a change to ringloop's tests or notes does not rebuild
        fingerprint += [tree_stamp(RINGLOOP / d) for d in ("src", "python")]
        fingerprint.append(tree_stamp(RINGLOOP, (".toml", ".txt")))
    name = "loops" if tuple(packages) == LOOP_PACKAGES else "loops-" + "-".join(packages)
    return ensure(name.replace("==", "-"), python, steps, fingerprint=fingerprint, log=log)


def loops(venv: Venv) -> dict[str, str]:
    """``{"asyncio": "3.11.7", "uvloop": "0.23.0", ...}``: the loops ``venv`` can run."""
    found = {"asyncio": str(venv.manifest["version"])}
    for spec in venv.installed:
        for req in spec.split():
            name, sep, version = req.partition("==")
            if sep and name != "httptools":
                found[name] = version
    return found
