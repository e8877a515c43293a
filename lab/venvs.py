"""One way to build the virtual environments experiments run other interpreters or versions in.

Every per-interpreter or per-version environment (uvloop's loop venvs, the HTML benchmark's
engine venvs, one venv per dramatiq version) is built by :func:`ensure` the same way:

- with the lab's pinned uv (``lab.paths.uv``), into ``<cache>/venvs/<name>-py<X.Y.Z>-<who>-<key>/``
  (``<who>`` a hash of the interpreter's path: two builds of one version each keep theirs),
  where the key hashes the interpreter's real path and version, every install step and the
  caller's ``fingerprint`` (e.g. a source tree's stamp): a change makes a new environment;
- under an exclusive file lock, so concurrent runs and tests build it once;
- each :class:`Step` a ``uv pip install`` whose failure raises :class:`VenvError` naming the
  step and uv's last lines (an ``optional`` step's failure is recorded in the manifest instead);
- an optional ``check``: Python code run in the new environment that must exit 0;
- the manifest ``lab-venv.json`` written last, so a half-built environment (interrupted, failed)
  is never taken for a finished one: it is rebuilt.

Requirements should be exact pins (``pkg==1.2.3``) or local paths; the manifest records what
was installed and what an optional step could not install, for the run record.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "lab-venv.json"


class VenvError(RuntimeError):
    """An environment could not be built (the message says which step and why)."""


@dataclass(frozen=True)
class Step:
    """One ``uv pip install`` into the environment."""

    args: tuple[str, ...]  # requirements and install flags, e.g. ("--no-deps", "-e", path)
    what: str = ""  # for messages; defaults to the arguments
    optional: bool = False  # a failure is recorded in the manifest, not raised
    note: str | None = None  # recorded in the manifest when the step succeeds

    def describe(self) -> str:
        return self.what or " ".join(self.args)


@dataclass(frozen=True)
class Venv:
    """A finished environment: its interpreter and its manifest."""

    python: Path
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def installed(self) -> list[str]:
        return list(self.manifest.get("installed", []))

    @property
    def skipped(self) -> dict[str, str]:
        return dict(self.manifest.get("skipped", {}))

    @property
    def notes(self) -> list[str]:
        return list(self.manifest.get("notes", []))


def interpreter(python: str) -> dict[str, str]:
    """``{"exe": real path, "version": "3.11.7"}`` of ``python``, proven by running it."""
    code = "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"
    try:
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise VenvError(f"interpreter not found: {python}") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise VenvError(f"{python} does not run: {exc}") from None
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2:
        raise VenvError(f"{python} does not run: {out.stderr.strip()[-300:]}")
    return {"exe": str(Path(lines[0]).resolve()), "version": lines[1]}


def venvs_dir() -> Path:
    from lab.paths import cache_dir

    return cache_dir() / "venvs"


def _tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def ensure(
    name: str,
    python: str,
    steps: Sequence[Step],
    *,
    fingerprint: Sequence[str] = (),
    check: str | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    root: Path | None = None,
) -> Venv:
    """The environment ``name`` for ``python`` with ``steps`` installed (built once, then reused).

    Raises :class:`VenvError` when the interpreter does not run, a required step fails or the
    ``check`` fails; the half-built folder is removed.
    """
    from lab.paths import uv

    info = interpreter(python)
    material = [info["exe"], info["version"], *(json.dumps(s.args) for s in steps)]
    key = hashlib.sha256("\n".join([*material, "--", *fingerprint, "--", check or ""]).encode())
    base = root if root is not None else venvs_dir()
    # The interpreter's own tag keeps two builds of one version (PGO and plain) apart: a newer
    # environment replaces only older ones of the same interpreter.
    who = hashlib.sha256(info["exe"].encode()).hexdigest()[:6]
    path = base / f"{name}-py{info['version']}-{who}-{key.hexdigest()[:10]}"
    exe = path / "bin" / "python"
    manifest_file = path / MANIFEST
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.is_file() and manifest_file.is_file():
            return Venv(exe, path, json.loads(manifest_file.read_text()))
        for stale in base.glob(f"{name}-py{info['version']}-{who}-*"):  # older pins, sources
            if stale != path and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
        log(f"building environment {path.name} (Python {info['version']})")
        try:
            manifest = _build(uv(), info, path, steps, check)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        manifest_file.write_text(json.dumps(manifest, indent=2) + "\n")
        return Venv(exe, path, manifest)


def _build(
    uv: str, info: dict[str, str], path: Path, steps: Sequence[Step], check: str | None
) -> dict[str, Any]:
    def run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise VenvError(f"{' '.join(args[:4])}… took more than {timeout:.0f} s") from None

    proc = run([uv, "venv", "--quiet", "--python", info["exe"], str(path)], 300)
    if proc.returncode != 0:
        raise VenvError(f"uv venv for Python {info['version']} failed: {_tail(proc.stderr)}")
    exe = path / "bin" / "python"
    installed: list[str] = []
    skipped: dict[str, str] = {}
    notes: list[str] = []
    for step in steps:
        proc = run([uv, "pip", "install", "--quiet", "--python", str(exe), *step.args], 1800)
        if proc.returncode == 0:
            installed.append(step.describe())
            if step.note:
                notes.append(step.note)
        elif step.optional:
            skipped[step.describe()] = _tail(proc.stderr, 1)
        else:
            raise VenvError(
                f"installing {step.describe()} for Python {info['version']} failed: "
                f"{_tail(proc.stderr)}"
            )
    if check is not None:
        proc = run([str(exe), "-c", check], 120)
        if proc.returncode != 0:
            raise VenvError(f"environment {path.name} fails its check: {_tail(proc.stderr)}")
    return {
        "python": info["exe"],
        "version": info["version"],
        "installed": installed,
        "skipped": skipped,
        "notes": notes,
    }


def tree_stamp(
    folder: Path, suffixes: Sequence[str] = (".py", ".pyi", ".cpp", ".hpp", ".h", ".toml", ".txt")
) -> str:
    """A cheap fingerprint of a source folder (paths, sizes, mtimes), for ``fingerprint``."""
    h = hashlib.sha256()
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            if any(part in {"results", "build", ".venv", "__pycache__"} for part in p.parts):
                continue
            if p.is_file() and p.suffix in suffixes:
                st = p.stat()
                h.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
