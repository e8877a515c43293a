"""lab.venvs: every environment is built the same way, once, and a failure is loud and leaves
nothing that could be taken for a finished environment."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from lab.venvs import MANIFEST, Step, VenvError, ensure


def _package(root: Path, name: str) -> Path:
    """A minimal local project (no index needed)."""
    src = root / name
    (src / name).mkdir(parents=True)
    (src / name / "__init__.py").write_text("VALUE = 42\n")
    (src / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    return src


def test_builds_once_records_what_it_installed_and_reuses_it(tmp_path: Path) -> None:
    pkg = _package(tmp_path, "labvenvprobe")
    steps = [
        Step(("--no-build-isolation-package", "x", "-e", str(pkg)), what="probe", note="editable"),
        Step((str(tmp_path / "does-not-exist"),), what="missing", optional=True),
    ]
    check = "import labvenvprobe, sys; sys.exit(labvenvprobe.VALUE != 42)"
    built: list[str] = []
    root = tmp_path / "venvs"
    first = ensure("probe", sys.executable, steps, check=check, log=built.append, root=root)
    assert first.installed == ["probe"] and first.notes == ["editable"]
    assert "missing" in first.skipped and first.python.is_file()
    again = ensure("probe", sys.executable, steps, check=check, log=built.append, root=root)
    assert again.path == first.path and len(built) == 1  # built once
    data = json.loads((first.path / MANIFEST).read_text())
    assert data["version"] == ".".join(map(str, sys.version_info[:3]))
    # a different fingerprint is a different environment, and the stale one goes
    other = ensure("probe", sys.executable, steps, fingerprint=["v2"], check=check, root=root)
    assert other.path != first.path and not first.path.exists()


def test_a_failed_required_step_or_check_raises_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "venvs"
    with pytest.raises(VenvError, match="installing missing for Python"):
        ensure("bad", sys.executable, [Step((str(tmp_path / "nope"),), what="missing")], root=root)
    with pytest.raises(VenvError, match="fails its check"):
        ensure("bad", sys.executable, [], check="raise SystemExit(3)", root=root)
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == []


def test_interpreters_that_do_not_run_are_named(tmp_path: Path) -> None:
    with pytest.raises(VenvError, match="interpreter not found"):
        ensure("x", str(tmp_path / "python9"), [], root=tmp_path)
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(VenvError, match="does not run: broken"):
        ensure("x", str(fake), [], root=tmp_path)


def test_concurrent_callers_build_one_environment(tmp_path: Path) -> None:
    logs: list[str] = []
    results = []

    def build() -> None:
        results.append(ensure("same", sys.executable, [], log=logs.append, root=tmp_path))

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.path for r in results}) == 1 and len(logs) == 1


def test_two_interpreters_of_one_version_keep_their_own_environments(tmp_path: Path) -> None:
    """A PGO and a plain build of the same version: building one must not delete the other's."""
    real = Path(sys.executable).resolve()
    copy = tmp_path / "copy" / real.name
    copy.parent.mkdir()
    import shutil

    shutil.copy2(real, copy)  # a second interpreter binary of the same version
    root = tmp_path / "venvs"
    first = ensure("loops", sys.executable, [], root=root)
    second = ensure("loops", str(copy), [], root=root)
    assert first.path != second.path
    assert first.python.is_file() and second.python.is_file()
