"""The ``cmake`` build hook: configure, build and install a CMake project into the wheel.

Whatever the project installs (``install(TARGETS mod LIBRARY DESTINATION pkg)``) lands in the
wheel at the same relative path; the modules are read from CMake's ``install_manifest.txt``,
never globbed, so nothing stale is shipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any, ClassVar

from hatchling_native import skbuild
from hatchling_native.core import (
    NativeBuildError,
    NativeBuildHook,
    Option,
    Product,
    info,
    interpreter_abi_tag,
    iter_files,
    platform_tag_for_target,
    require_tool,
    run,
    warn,
)
from hatchling_native.skbuild import WHEEL_DIRS, PyApi, binding_cmake_dirs, parse_py_api

CMAKE_HINT = (
    "Install CMake (e.g. `apt-get install cmake`, or add `cmake` to [build-system] requires"
    " to get it from PyPI), or set CMAKE to the cmake executable."
)

SOURCE_SUFFIXES = (
    ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".inl", ".ipp", ".cmake", ".in",
)  # fmt: skip


def define(name: str, value: object) -> str:
    if isinstance(value, bool):
        value = "ON" if value else "OFF"
    return f"-D{name}={value}"


class CMakeBuildHook(NativeBuildHook):
    """``[tool.hatch.build.hooks.cmake]``."""

    PLUGIN_NAME = "cmake"

    OPTIONS: ClassVar[dict[str, Option]] = {
        "source-dir": Option((str,), ".", "directory holding the top CMakeLists.txt"),
        "build-dir": Option((str,), "", "build directory (default build/cmake-<tag>-<type>)"),
        "build-type": Option((str,), "Release", "CMAKE_BUILD_TYPE for wheels"),
        "editable-build-type": Option((str,), "Debug", "CMAKE_BUILD_TYPE for editable installs"),
        "defines": Option((dict,), {}, '-D cache entries, e.g. {FOO = "ON"}'),
        "cmake-args": Option((list,), [], "extra arguments for the configure step"),
        "build-args": Option((list,), [], "extra arguments for `cmake --build`"),
        "targets": Option((list,), [], "build only these targets (default: all)"),
        "generator": Option((str,), "", "CMake generator (default Ninja when on PATH)"),
        "jobs": Option((int,), 0, "parallel jobs (default CMAKE_BUILD_PARALLEL_LEVEL or CPUs)"),
        "strip": Option(
            (bool,), None, "cmake --install --strip (default: Release/MinSizeRel wheels)"
        ),
        "py-api": Option(
            (str,), "", '"cp39": abi3 wheel (scikit-build-core\'s wheel.py-api); "py3": py3-none'
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: dict[str, dict[str, str]] = {}

    @property
    def source_dir(self) -> Path:
        path = self.root_path.joinpath(self.options["source-dir"]).resolve()
        return path

    def has_project(self) -> bool:
        return (self.source_dir / "CMakeLists.txt").is_file()

    @property
    def py_api(self) -> PyApi:
        return parse_py_api(self.options["py-api"])

    def preflight(self) -> None:
        self.py_api  # noqa: B018 - a bad py-api is refused before CMake runs

    def wheel_tag(self) -> str:
        interpreter, abi = interpreter_abi_tag()
        return self.py_api.tag(interpreter, abi, platform_tag_for_target(None))

    def strips(self, build_type: str, *, editable: bool) -> bool:
        """scikit-build-core's install.strip: on for release wheels unless set. Editable installs
        keep their symbols (they are for development: debuggers and profilers need them)."""
        if self.options["strip"] is not None:
            return bool(self.options["strip"])
        return not editable and build_type in ("Release", "MinSizeRel")

    def build_dir(self, build_type: str) -> Path:
        if self.options["build-dir"]:
            return self.root_path.joinpath(self.options["build-dir"]).resolve()
        interpreter, abi = interpreter_abi_tag()
        return self.root_path / "build" / f"cmake-{interpreter}-{abi}-{build_type.lower()}"

    def wheel_dirs(self, build_dir: Path) -> dict[str, Path]:
        """Where CMake installs to: stable folders in the build dir (SKBUILD_<NAME>_DIR)."""
        return {name: build_dir / "wheel" / name for name in WHEEL_DIRS}

    def configure_args(
        self, cmake: str, build_dir: Path, build_type: str, *, editable: bool = False
    ) -> list[str]:
        o = self.options
        args = [cmake, "-S", str(self.source_dir), "-B", str(build_dir)]
        cache = build_dir / "CMakeCache.txt"
        if o["generator"]:
            args += ["-G", o["generator"]]
        elif (
            not cache.is_file()
            and "CMAKE_GENERATOR" not in self.build_env()
            and shutil.which("ninja")
        ):
            args += ["-G", "Ninja"]
        python = sys.executable
        args += [
            define("CMAKE_BUILD_TYPE", build_type),
            define("Python_EXECUTABLE", python),
            define("Python3_EXECUTABLE", python),
            define("Python_INCLUDE_DIR", sysconfig.get_paths()["include"]),
            define("Python_FIND_STRATEGY", "LOCATION"),
            define("HATCHLING_NATIVE", True),
            define("HATCHLING_NATIVE_EXT_SUFFIX", sysconfig.get_config_var("EXT_SUFFIX")),
        ]
        for name, value in binding_cmake_dirs(build_dir / "deps").items():
            args.append(define(name, value))
        skbuild_entries = skbuild.cache_entries(
            name=self.metadata.core.raw_name,
            version=self.metadata.version,
            state="editable" if editable else "wheel",
            wheel_dirs=self.wheel_dirs(build_dir),
            py_api=self.py_api,
        )
        for name, value in skbuild_entries.items():
            args.append(define(name, value))
        for name, value in o["defines"].items():
            if not isinstance(value, (str, bool, int, float)):  # noqa: UP038 (runs on 3.9)
                raise NativeBuildError(f"`defines.{name}` must be a string, number or boolean")
            args.append(define(name, value))
        return args + list(o["cmake-args"])

    def build_products(self, *, editable: bool, stage: Path) -> list[Product]:
        if not self.has_project():
            if self.options["optional"]:
                warn(f"no CMakeLists.txt in {self.source_dir}; skipping the optional `cmake` hook")
                return []
            raise NativeBuildError(
                f"no CMakeLists.txt in {self.source_dir} (option `source-dir`);"
                " set `optional = true` to skip the hook when there is none"
            )
        cmake = require_tool("cmake", CMAKE_HINT, env_var="CMAKE")
        build_type = self.options["editable-build-type" if editable else "build-type"]
        build_dir = self.build_dir(build_type)
        env = self.build_env()
        info(f"cmake configure ({build_type}) in {build_dir}")
        configure = self.configure_args(cmake, build_dir, build_type, editable=editable)
        run(configure, what="CMake configure", env=env)
        build = [cmake, "--build", str(build_dir), "--config", build_type]
        jobs = self.options["jobs"] or int(env.get("CMAKE_BUILD_PARALLEL_LEVEL") or 0)
        build += ["--parallel", str(jobs or os.cpu_count() or 1)]
        for target in self.options["targets"]:
            build += ["--target", target]
        build += list(self.options["build-args"])
        run(build, what="CMake build", env=env)
        dirs = self.wheel_dirs(build_dir)
        shutil.rmtree(build_dir / "wheel", ignore_errors=True)  # nothing stale is shipped
        for path in dirs.values():
            path.mkdir(parents=True)
        prefix = dirs["platlib"]
        install = [
            cmake,
            "--install",
            str(build_dir),
            "--prefix",
            str(prefix),
            "--config",
            build_type,
        ]
        if self.strips(build_type, editable=editable):
            install.append("--strip")
        manifest = build_dir / "install_manifest.txt"
        with contextlib.suppress(FileNotFoundError):
            manifest.unlink()
        run(install, what="CMake install", env=env)
        kept = self.rebuild_env(env)
        # configure is not repeated: `cmake --build` reconfigures when CMakeLists.txt changed.
        self.rebuild_steps = [
            {"argv": build, "cwd": str(self.root_path), "env": kept},
            {"argv": install, "cwd": str(self.root_path), "env": kept,
             "fresh": str(build_dir / "wheel")},
        ]  # fmt: skip
        if not manifest.is_file():
            raise NativeBuildError(
                "CMake installed nothing: add install(TARGETS <module> LIBRARY DESTINATION <pkg>)"
                " to CMakeLists.txt"
            )
        products = []
        self._shared = {"shared_data": {}, "shared_scripts": {}}
        for line in manifest.read_text().splitlines():
            path = Path(line.strip())
            if not line.strip() or not path.is_file():
                continue
            where, rel = self.wheel_location(path, dirs)
            if where == "platlib":
                products.append(Product(path, rel))
            elif where in ("data", "scripts"):
                self._shared[f"shared_{where}"][str(path)] = rel
            elif where == "headers":
                raise NativeBuildError(
                    f"CMake installed {path.name} into SKBUILD_HEADERS_DIR, which hatchling cannot"
                    " put in a wheel: install it into the package (or SKBUILD_DATA_DIR) instead"
                )
        self.check_py_api(products)
        if not any(p.is_extension for p in products):
            raise NativeBuildError(
                f"CMake installed {[p.wheel_path for p in products]} but no extension module"
            )
        for p in products:
            if p.is_extension:
                info(f"module {p.wheel_path}")
        return products

    @staticmethod
    def wheel_location(path: Path, dirs: dict[str, Path]) -> tuple[str, str]:
        """(wheel folder, path inside it) of an installed file; null for SKBUILD_NULL_DIR."""
        for name, base in dirs.items():
            with contextlib.suppress(ValueError):
                return name, path.relative_to(base).as_posix()
        raise NativeBuildError(
            f"CMake installed {path} outside the wheel folders; use relative DESTINATIONs (or"
            " ${SKBUILD_PLATLIB_DIR}, ${SKBUILD_DATA_DIR}, ${SKBUILD_SCRIPTS_DIR})"
        )

    def check_py_api(self, products: list[Product]) -> None:
        """The file names must be what py-api promises: the wheel tag is derived from it."""
        from hatchling_native.checks import module_leaf

        py_api = self.py_api
        if not (py_api.limited or py_api.pythonless):
            return
        for p in products:
            filename = p.wheel_path.rpartition("/")[2]
            leaf = module_leaf(filename) if p.is_extension else None
            if leaf is None or not leaf[1]:
                continue
            if py_api.limited and not filename.endswith(".abi3.so"):
                raise NativeBuildError(
                    f'py-api = "{py_api.value}" makes a cp3{py_api.limited[1]}-abi3 wheel but'
                    f" CMake installed {p.wheel_path}, a module for this Python only: build it"
                    " for the limited API (python_add_library(... WITH_SOABI USE_SABI"
                    " ${SKBUILD_SABI_VERSION}), nanobind_add_module(... STABLE_ABI), or define"
                    " Py_LIMITED_API=${HATCHLING_NATIVE_PY_LIMITED_API} and name it .abi3.so),"
                    " or remove py-api"
                )
            if py_api.pythonless:
                raise NativeBuildError(
                    f'py-api = "{py_api.value}" makes a wheel for any Python but CMake installed'
                    f" {p.wheel_path}, a CPython extension module: remove py-api (py3 is for"
                    " libraries loaded with ctypes/cffi)"
                )

    def extra_build_data(self) -> dict[str, dict[str, str]]:
        return {k: v for k, v in self._shared.items() if v}

    def inplace_candidates(self) -> list[Path]:
        # The editable build records what it copied into the source tree.
        record = self.root_path / "build" / "hatchling-native-cmake-inplace.txt"
        if not record.is_file():
            return []
        return [Path(line) for line in record.read_text().splitlines() if line]

    def inplace_target(self, wheel_path: str) -> Path | None:
        target = super().inplace_target(wheel_path)
        if target is not None:
            record = self.root_path / "build" / "hatchling-native-cmake-inplace.txt"
            record.parent.mkdir(parents=True, exist_ok=True)
            lines = set(record.read_text().splitlines()) if record.is_file() else set()
            lines.add(str(target))
            record.write_text("\n".join(sorted(lines)) + "\n")
        return target

    def clean(self, versions: list[str]) -> None:
        super().clean(versions)
        with contextlib.suppress(FileNotFoundError):
            (self.root_path / "build" / "hatchling-native-cmake-inplace.txt").unlink()
        for build_type in {self.options["build-type"], self.options["editable-build-type"]}:
            build_dir = self.build_dir(build_type)
            if build_dir.is_dir() and (build_dir / "CMakeCache.txt").is_file():
                shutil.rmtree(build_dir)
                info(f"removed {build_dir}")

    def build_output_candidates(self) -> list[Path]:
        if not self.options["build-dir"]:
            return [self.root_path / "build"]  # the hook's: cmake-<tag>-<type>/ and its records
        return [self.build_dir(self.options["build-type"])]

    def sdist_sources(self, stage: Path) -> dict[str, str]:
        if not self.has_project():
            return {}
        root = self.root_path.resolve()
        files = {}
        for f in iter_files(self.source_dir, SOURCE_SUFFIXES):
            with contextlib.suppress(ValueError):
                files[str(f.resolve())] = f.resolve().relative_to(root).as_posix()
        return files
