"""Results files: ``<experiment>/results/<UTC timestamp>.json`` and ``latest.json``."""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.paths import results_dir

LATEST = "latest.json"


def utc_stamp(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def _clean(value: Any) -> Any:
    """JSON has no NaN/Infinity: store them as null so every reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(name: str, record: dict[str, Any], *, latest: bool = True) -> Path:
    """Write a run record as ``<stamp>.json`` and, when ``latest``, ``latest.json``.

    Failed runs keep their stamped file but do not replace ``latest.json``, so
    reports keep showing the last good measurement (and say when it was taken).
    """
    folder = results_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_clean(record), indent=2, sort_keys=False, default=str) + "\n"
    stamped = folder / f"{record['stamp']}.json"
    _atomic_write(stamped, text)
    if latest:
        _atomic_write(folder / LATEST, text)
    return stamped


def latest(name: str) -> dict[str, Any] | None:
    path = results_dir(name) / LATEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return {"status": "unreadable", "error": f"{path}: {exc}"}
