"""Path dependencies outside the project, carried into the sdist and re-pointed.

An sdist holds the project root only, so ``shared = { path = "../shared" }`` would point
nowhere once unpacked. Each such crate (and the path crates it needs in turn) is copied to
``_path_deps/<crate>/`` in the sdist, and every manifest that names it gets the new relative
path. Cargo.lock stays valid: it records path crates by name and version, not by path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hatchling_native.core import NativeBuildError, iter_files

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

FOLDER = "_path_deps"


def path_entries(data: Any) -> Iterator[str]:
    """Every ``path = "…"`` of a dependency-like table in a Cargo.toml (any depth)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "path" and isinstance(value, str):
                yield value
            else:
                yield from path_entries(value)
    elif isinstance(data, list):
        for value in data:
            yield from path_entries(value)


def read_manifest(manifest: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(manifest.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise NativeBuildError(f"cannot read {manifest}: {exc}") from None


def crate_deps(manifest: Path) -> dict[str, Path]:
    """The written path -> resolved crate folder of every path that names a crate folder."""
    found = {}
    for written in path_entries(read_manifest(manifest)):
        target = (manifest.parent / written).resolve()
        if (target / "Cargo.toml").is_file():
            found[written] = target
    return found


def outside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return True
    return False


def rewritten(manifest: Path, new_paths: dict[str, str]) -> str:
    """The manifest's text with each written path replaced (as a TOML string literal)."""
    text = manifest.read_text()
    for old, new in new_paths.items():
        literals = [f'"{old}"', f"'{old}'"]
        if not any(lit in text for lit in literals):
            raise NativeBuildError(
                f"cannot re-point path = {old!r} in {manifest} for the sdist (write it as a plain"
                " string): the sdist would not build"
            )
        for lit in literals:
            text = text.replace(lit, f'"{new}"')
    return text


def carry(manifests: list[Path], root: Path, stage: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Copy plan for path crates outside ``root`` that ``manifests`` (the workspace's) need.

    Returns (files: source path -> sdist path, replaced: original manifest -> staged manifest).
    """
    crates: dict[Path, str] = {}  # outside crate folder -> its sdist folder
    queue = list(manifests)
    seen: set[Path] = set()
    while queue:
        manifest = queue.pop()
        if manifest in seen:
            continue
        seen.add(manifest)
        for target in crate_deps(manifest).values():
            if outside(target, root) and target not in crates:
                name = read_manifest(target / "Cargo.toml").get("package", {}).get("name")
                folder = f"{FOLDER}/{name or target.name}"
                if folder in crates.values():
                    folder = f"{folder}-{len(crates)}"
                crates[target] = folder
                queue.append(target / "Cargo.toml")
    if not crates:
        return {}, {}
    files: dict[str, str] = {}
    replaced: dict[str, str] = {}
    for target, folder in crates.items():
        if re.search(r"\bworkspace\s*=\s*true", (target / "Cargo.toml").read_text()):
            raise NativeBuildError(
                f"path dependency {target} inherits from its own workspace (workspace = true), so"
                " the sdist cannot carry it alone: move it into the project (e.g. as a workspace"
                " member) or depend on a published version"
            )
        for f in iter_files(target):
            files[str(f)] = f"{folder}/{f.relative_to(target).as_posix()}"
    for manifest in seen:
        deps = crate_deps(manifest)
        here = crates.get(manifest.parent)
        base = root / here if here else manifest.parent
        new_paths = {}
        for written, target in deps.items():
            dest = root / crates[target] if target in crates else target
            if target in crates or here:
                new_paths[written] = Path(os.path.relpath(dest, base)).as_posix()
        if not new_paths:
            continue
        staged = stage / "manifests" / str(len(replaced)) / "Cargo.toml"
        staged.parent.mkdir(parents=True)
        staged.write_text(rewritten(manifest, new_paths))
        replaced[str(manifest)] = str(staged)
    return files, replaced
