"""Run records and published records, with a schema version and atomic writes.

A working run lives in ``runs/<experiment>/<stamp>/``: ``record.json`` (what was measured,
with the environment and the load on the machine) and the files the experiment wrote. It is
built in a hidden staging folder (``.<stamp>.partial``) and renamed into place only when the
run has ended, so a reader never finds half a run. ``runs/<experiment>/latest`` points to the
last good run. Failed runs end up in ``<stamp>.failed/`` (with their traceback) and never
become ``latest``.

A published record is ``<experiment>/results/published.json``: the run record plus
``published`` (when, by which command, whether the machine was noisy). Only ``lab publish``
writes it; git keeps the history.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.paths import results_dir, runs_dir

#: Version of the record layout. Readers refuse records of any other version.
SCHEMA_VERSION = 2
RECORD = "record.json"
PUBLISHED = "published.json"
LATEST = "latest"
PARTIAL = ".partial"
FAILED = ".failed"


class RecordError(Exception):
    """A stored record that cannot be read as this version of the lab writes it."""


def utc_stamp(when: datetime | None = None) -> str:
    """A sortable UTC stamp with microseconds: ``20261126T102252.123456Z``."""
    return (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")


def _clean(value: Any) -> Any:
    """JSON has no NaN/Infinity: store them as null so every reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(_clean(record), indent=2, default=str) + "\n"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        try:
            os.fchmod(fd, path.stat().st_mode & 0o777)
        except FileNotFoundError:
            os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any]:
    """Read a run or published record; refuse anything this lab does not write."""
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(record, dict):
        raise RecordError(f"{path}: not a record (a JSON object was expected)")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RecordError(
            f"{path}: schema_version {version!r} is not {SCHEMA_VERSION}, the version this lab "
            "reads; re-run the experiment (and `lab publish` it) to replace it"
        )
    return record


# -- working runs ---------------------------------------------------------------------------


def new_run(name: str) -> tuple[str, Path]:
    """Create a fresh staging folder for a run of ``name``; return its stamp and path."""
    folder = runs_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        stamp = utc_stamp()
        staging = folder / f".{stamp}{PARTIAL}"
        try:
            staging.mkdir()
        except FileExistsError:  # same microsecond: take the next one
            continue
        if not (folder / stamp).exists() and not (folder / f"{stamp}{FAILED}").exists():
            return stamp, staging
        staging.rmdir()


def finish_run(name: str, staging: Path, record: dict[str, Any]) -> Path:
    """Write the record into the staging folder and move the run into place.

    Good runs become ``<stamp>/`` and ``latest``; failed ones ``<stamp>.failed/``.
    """
    record = {"schema_version": SCHEMA_VERSION, **record}
    atomic_write(staging / RECORD, dumps(record))
    ok = record.get("status") == "ok"
    stamp: str = record["stamp"]
    final = runs_dir(name) / (stamp if ok else stamp + FAILED)
    os.rename(staging, final)
    if ok:
        link = runs_dir(name) / LATEST
        tmp = runs_dir(name) / f".{LATEST}.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(final.name)
        os.replace(tmp, link)
    return final


def discard_run(staging: Path) -> None:
    """An interrupted run leaves nothing behind."""
    shutil.rmtree(staging, ignore_errors=True)


def remove_stale_staging(names: list[str]) -> list[Path]:
    """Staging folders of runs that died (kill -9, power cut); called under the run lock."""
    removed = []
    for name in names:
        folder = runs_dir(name)
        if not folder.is_dir():
            continue
        for staging in folder.glob(f".*{PARTIAL}"):
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def latest_run(name: str) -> tuple[Path, dict[str, Any]] | None:
    """The last good working run of ``name`` (folder, record), or None."""
    link = runs_dir(name) / LATEST
    if not link.is_dir():
        return None
    folder = link.resolve()
    return folder, load(folder / RECORD)


def run_by_stamp(name: str, stamp: str) -> tuple[Path, dict[str, Any]]:
    for candidate in (stamp, stamp + FAILED):
        folder = runs_dir(name) / candidate
        if (folder / RECORD).is_file():
            return folder, load(folder / RECORD)
    raise RecordError(f"{name}: no run {stamp} in {runs_dir(name)}")


# -- published figures ----------------------------------------------------------------------


def published(name: str) -> dict[str, Any] | None:
    """The published record of ``name``, or None if nothing is published."""
    path = results_dir(name) / PUBLISHED
    if not path.is_file():
        return None
    return load(path)


def publish_files(name: str, run_folder: Path, record: dict[str, Any]) -> Path:
    """Replace ``<experiment>/results/`` with the run's files and its published record.

    The new folder is built beside the old one and swapped in with two renames; a stale
    half-swap from a crash is cleaned up first.
    """
    target = results_dir(name)
    new = target.with_name(".results.new")
    old = target.with_name(".results.old")
    for leftover in (new, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(run_folder, new, ignore=shutil.ignore_patterns(RECORD))
    atomic_write(new / PUBLISHED, dumps({"schema_version": SCHEMA_VERSION, **record}))
    if target.exists():
        os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)
    return target / PUBLISHED
