"""What a CMake project moved from scikit-build-core expects of its build backend.

* the ``SKBUILD_*`` cache entries scikit-build-core passes (its ``docs/cmakelists.md`` and
  ``builder/builder.py``): ``SKBUILD``, the project's name and version, the state, the wheel
  folders (``SKBUILD_PLATLIB_DIR`` …) and the limited-API entries;
* ``py-api`` (scikit-build-core's ``wheel.py-api``): ``"cp39"`` builds a ``cp39-abi3`` wheel,
  ``"py3"`` a Python-independent ``py3-none-<platform>`` one;
* stable copies of the CMake packages of the build environment (nanobind, pybind11): an
  isolated build gets a fresh environment each time, and a ``nanobind_DIR`` inside it makes every
  warm build recompile nanobind and everything that includes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from hatchling_native.core import NativeBuildError, info

#: The wheel folders scikit-build-core exposes as SKBUILD_<NAME>_DIR.
WHEEL_DIRS = ("platlib", "data", "headers", "scripts", "null")


@dataclass(frozen=True)
class PyApi:
    """What ``py-api`` asks for, resolved for the running interpreter."""

    value: str  # as written ("" when unset)
    limited: tuple[int, int] | None  # the abi3 minimum when the limited API is used
    pythonless: bool  # py3-none-<platform>

    def tag(self, interpreter: str, abi: str, platform: str) -> str:
        if self.pythonless:
            return f"{self.value}-none-{platform}"
        if self.limited:
            return f"cp{self.limited[0]}{self.limited[1]}-abi3-{platform}"
        return f"{interpreter}-{abi}-{platform}"

    @property
    def sabi_version(self) -> str:
        return f"{self.limited[0]}.{self.limited[1]}" if self.limited else ""

    @property
    def limited_api_hex(self) -> str:
        """``Py_LIMITED_API`` for the minimum, e.g. ``0x03090000`` (no USE_SABI in CMake < 3.26)."""
        return f"0x{self.limited[0]:02X}{self.limited[1]:02X}0000" if self.limited else ""


def parse_py_api(value: str) -> PyApi:
    """scikit-build-core's rules: ``cp3X`` uses the limited API when this CPython can (not PyPy,
    not free-threaded, not older than 3.X) and otherwise builds a normal wheel; ``py3`` and
    ``py2.py3`` build a wheel for any Python."""
    if not value:
        return PyApi("", None, False)
    if value in ("py3", "py2.py3"):
        return PyApi(value, None, True)
    m = re.fullmatch(r"cp3(\d+)", value)
    if not m or int(m.group(1)) < 2:
        raise NativeBuildError(
            f'option `py-api` must be "cp3X" (an abi3 wheel for CPython 3.X and newer, e.g.'
            f' "cp39") or "py3" (a wheel for any Python), got {value!r}'
        )
    minor = int(m.group(1))
    if sys.implementation.name != "cpython":
        info(f"py-api = {value!r}: {sys.implementation.name} has no limited API; normal wheel")
    elif sysconfig.get_config_var("Py_GIL_DISABLED"):
        info(f"py-api = {value!r}: free-threaded CPython has no limited API here; normal wheel")
    elif minor > sys.version_info[1]:
        info(f"py-api = {value!r} is newer than this Python; building a normal wheel")
    else:
        return PyApi(value, (3, minor), False)
    return PyApi(value, None, False)


def soabi(py_api: PyApi) -> str:
    """SKBUILD_SOABI: ``abi3`` for a limited-API build, else this interpreter's SOABI."""
    if py_api.limited:
        return "" if sys.platform == "win32" else "abi3"
    return str(sysconfig.get_config_var("SOABI") or "")


def release_version(version: str) -> str:
    """``1.2.3rc1`` -> ``1.2.3`` (what CMake's project(VERSION) accepts)."""
    from packaging.version import Version

    return ".".join(str(v) for v in Version(version).release)


def cache_entries(
    *, name: str, version: str, state: str, wheel_dirs: dict[str, Path], py_api: PyApi
) -> dict[str, str]:
    """The ``SKBUILD_*`` entries, spelt as scikit-build-core spells them."""
    entries = {
        "SKBUILD": "2",
        "SKBUILD_PROJECT_NAME": name.replace("-", "_").replace(".", "_"),
        "SKBUILD_PROJECT_VERSION": release_version(version),
        "SKBUILD_PROJECT_VERSION_FULL": version,
        "SKBUILD_STATE": state,
        "SKBUILD_SOABI": soabi(py_api),
        "SKBUILD_SABI_COMPONENT": "Development.SABIModule" if py_api.limited else "",
        "SKBUILD_SABI_VERSION": py_api.sabi_version,
        "HATCHLING_NATIVE_PY_LIMITED_API": py_api.limited_api_hex,
    }
    for key, path in wheel_dirs.items():
        entries[f"SKBUILD_{key.upper()}_DIR"] = str(path)
    return entries


# ------------------------------------------------------------------ stable dependency dirs


def _fingerprint(dist_name: str, package_dir: Path) -> str:
    """A hash of the package's files: the RECORD lines (path and hash of each file) under the
    package folder if the distribution has a RECORD, else the files themselves.

    Only the package folder's lines: the rest of a RECORD differs between two environments
    with the same release (pybind11's ``pybind11-config`` script is written with the
    environment's interpreter in its shebang), and a new fingerprint each build means a new
    copy, new header paths, and everything recompiled."""
    digest = hashlib.sha256()
    record = None
    with contextlib.suppress(importlib.metadata.PackageNotFoundError, FileNotFoundError):
        record = importlib.metadata.distribution(dist_name).read_text("RECORD")
    if record:
        prefix = f"{package_dir.name}/"
        lines = sorted(ln for ln in record.splitlines() if ln.startswith(prefix))
        digest.update("\n".join(lines).encode())
    else:
        for path in sorted(package_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(package_dir).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stable_copy(dist_name: str, package_dir: Path, cache: Path) -> Path:
    """A copy of ``package_dir`` under ``cache`` whose path depends only on its contents.

    Copied once (mtimes kept) and then reused by every build that brings the same release, so
    the compiler sees the same header paths and the same mtimes each time. Copies of other
    releases of the package are removed.
    """
    version = ""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        version = importlib.metadata.version(dist_name)
    key = f"{dist_name}-{version}-{_fingerprint(dist_name, package_dir)}"
    dest = cache / key / package_dir.name
    if not dest.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{key}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(
            package_dir,
            tmp / package_dir.name,
            copy_function=shutil.copy2,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        shutil.rmtree(cache / key, ignore_errors=True)
        os.replace(tmp, cache / key)
        info(f"{dist_name} {version}: stable copy in {cache / key}")
    for other in cache.glob(f"{dist_name}-*"):
        if other.name != key:
            shutil.rmtree(other, ignore_errors=True)
    return dest


def binding_cmake_dirs(cache: Path) -> dict[str, str]:
    """``<pkg>_DIR`` for nanobind and pybind11 of the build environment, at stable paths."""
    found: dict[str, str] = {}
    with contextlib.suppress(ImportError):
        import nanobind

        cmake_dir = Path(nanobind.cmake_dir())
        package = Path(nanobind.__file__).parent
        copy = stable_copy("nanobind", package, cache)
        found["nanobind_DIR"] = str(copy / cmake_dir.relative_to(package))
    with contextlib.suppress(ImportError):
        import pybind11

        cmake_dir = Path(pybind11.get_cmake_dir())
        package = Path(pybind11.__file__).parent
        copy = stable_copy("pybind11", package, cache)
        found["pybind11_DIR"] = str(copy / cmake_dir.relative_to(package))
    return found
