"""Benchmark environments for interpreters other than the lab's own.

``bench_python(path)`` returns an interpreter that can run the benchmark: the lab's own
interpreter as is (the workspace has everything), or a virtual environment built with uv under
``lab.paths.cache_dir()/html-bench/`` holding the pinned engines (this package's pyproject),
``html_bench`` itself (editable, so it always runs the current code), and, if they install,
``tagflow_cpp`` (built from tagflow-reimplementation/) and ``tagflow_analysis`` (pybuilder). An
environment is rebuilt when the interpreter, the pins or those packages' sources change.

tagflow 0.12.0 declares Requires-Python >=3.12 although its code runs on 3.11; on an older
interpreter it is installed with its declared dependencies and ``--python-version 3.12
--no-deps`` (the equivalence check then shows whether it works), and the environment notes say so.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent  # tagflow-vs-jinja-benchmark/
REPO = PROJECT.parent
NATIVE = REPO / "tagflow-reimplementation"
ANALYSIS = REPO / "tagflow-performance-analysis"
TAGFLOW_DEPS = [
    "anyio>=4.8.0",
    "beautifulsoup4>=4.12.3",
    "fastapi>=0.115.6",
    "hypercorn>=0.17.3",
    "rich>=13.9.4",
    "trio>=0.28.0",
]


@dataclass
class BenchEnv:
    python: str | None  # interpreter to run the benchmark with; None if skipped
    requested: str
    reason: str | None = None  # why it was skipped
    notes: list[str] = field(default_factory=list)
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _requirements() -> list[str]:
    data = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    return list(data["project"]["dependencies"])


def _is_self(python: str) -> bool:
    """The lab's own interpreter (or the very binary its environment runs): measured in place."""
    if python == sys.executable:
        return True
    try:
        return Path(python).resolve() == Path(sys.executable).resolve()
    except OSError:
        return False


def _interp_info(python: str, run: Callable) -> dict[str, str]:
    code = "import json,sys,platform;print(json.dumps({'version':platform.python_version(),"
    code += "'exe':sys.executable,'impl':sys.implementation.name}))"
    proc = run([python, "-c", code], timeout=60, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[-300:]
        raise RuntimeError(f"{python} does not run: {err}")
    return json.loads(proc.stdout)


def _tree_stamp(folder: Path) -> str:
    """Cheap fingerprint of a source folder (paths, sizes, mtimes of tracked-looking files)."""
    h = hashlib.sha256()
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            if any(part in {"results", "build", ".venv", "__pycache__"} for part in p.parts):
                continue
            if p.is_file() and p.suffix in {".py", ".pyi", ".cpp", ".hpp", ".h", ".toml", ".txt"}:
                st = p.stat()
                h.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".")[:2] if x.isdigit())


def bench_python(
    python: str,
    run: Callable[..., subprocess.CompletedProcess],
    *,
    cache: Path | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> BenchEnv:
    """An interpreter ready to run the benchmark for ``python`` (see the module docstring).

    ``run`` is ``ProcessGroup.run`` (or ``subprocess.run``-compatible). Never raises for an
    unusable interpreter: the result then has ``python=None`` and the ``reason``.
    """
    if _is_self(python):
        return BenchEnv(sys.executable, python, notes=["the lab's own environment"])
    if not Path(python).exists() and shutil.which(python) is None:
        return BenchEnv(None, python, reason=f"interpreter not found: {python}")
    from lab.paths import uv as find_uv

    try:
        uv = find_uv()
    except FileNotFoundError as exc:
        return BenchEnv(None, python, reason=str(exc))
    try:
        info = _interp_info(python, run)
    except Exception as exc:
        return BenchEnv(None, python, reason=str(exc))
    if cache is None:
        from lab.paths import cache_dir

        cache = cache_dir()
    reqs = _requirements()
    key = hashlib.sha256(
        json.dumps(
            [info["exe"], info["version"], reqs, _tree_stamp(NATIVE), _tree_stamp(ANALYSIS)]
        ).encode()
    ).hexdigest()[:12]
    venv = cache / "html-bench" / f"py{info['version']}-{key}"
    vpy = venv / "bin" / "python"
    stamp = venv / "html-bench-env.json"
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        return BenchEnv(str(vpy), python, notes=saved.get("notes", []), path=str(venv))

    notes: list[str] = []

    def uv_run(args: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
        return run([uv, *args], timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def err(proc: subprocess.CompletedProcess) -> str:
        lines = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-3:]) if lines else f"exit status {proc.returncode}"

    log(f"building benchmark environment for Python {info['version']} in {venv}")
    for stale in venv.parent.glob(f"py{info['version']}-*"):  # older pins or sources
        shutil.rmtree(stale, ignore_errors=True)
    proc = uv_run(["venv", "--quiet", "--python", info["exe"], str(venv)], timeout=300)
    if proc.returncode != 0:
        return BenchEnv(None, python, reason=f"uv venv failed: {err(proc)}")
    pip = ["pip", "install", "--quiet", "--python", str(vpy)]
    tagflow_req = [r for r in reqs if r.startswith("tagflow")]
    others = [r for r in reqs if not r.startswith("tagflow")]
    proc = uv_run([*pip, *others, *TAGFLOW_DEPS])
    if proc.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        return BenchEnv(None, python, reason=f"installing the pinned engines failed: {err(proc)}")
    for req in tagflow_req:
        proc = uv_run([*pip, "--no-deps", req])
        if proc.returncode != 0 and _version_tuple(info["version"]) < (3, 12):
            proc = uv_run([*pip, "--no-deps", "--python-version", "3.12", req])
            notes.append(
                "tagflow 0.12.0 declares Requires-Python >=3.12: installed with its declared "
                "dependencies, its Requires-Python check bypassed"
            )
        if proc.returncode != 0:
            notes.append(f"tagflow not installed: {err(proc)}")
    proc = uv_run([*pip, "--no-deps", "-e", str(PROJECT)])
    if proc.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        return BenchEnv(None, python, reason=f"installing html_bench failed: {err(proc)}")
    if (NATIVE / "pyproject.toml").exists():
        log(f"building tagflow_cpp for Python {info['version']} (C++ build, may take a while)")
        proc = uv_run([*pip, str(NATIVE)], timeout=1200)
        if proc.returncode != 0:
            notes.append(f"tagflow_cpp did not build here: {err(proc)}")
    else:
        notes.append("tagflow_cpp: tagflow-reimplementation has no pyproject.toml yet")
    if (ANALYSIS / "pyproject.toml").exists():
        proc = uv_run([*pip, "--no-deps", "-e", str(ANALYSIS)])
        if proc.returncode != 0:
            notes.append(f"tagflow_analysis (pybuilder) not installed: {err(proc)}")
    stamp.write_text(json.dumps({"notes": notes, "python": info}))
    return BenchEnv(str(vpy), python, notes=notes, path=str(venv))
