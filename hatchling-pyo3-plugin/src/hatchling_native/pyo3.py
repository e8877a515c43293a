"""The ``pyo3`` build hook: a PyO3 crate compiled by cargo into a correctly named, tagged wheel."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hatchling_native import pathdeps
from hatchling_native.core import (
    NativeBuildError,
    NativeBuildHook,
    Option,
    Product,
    capture,
    check_module_path,
    describe_exports,
    ext_suffix,
    info,
    interpreter_abi_tag,
    iter_files,
    parse_abi3,
    platform_tag_for_target,
    require_tool,
    run,
    warn,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

CARGO_HINT = (
    "Install Rust with rustup (https://rustup.rs) or your system's `cargo` package,"
    " or set CARGO to the cargo executable."
)

CARGO_SOURCE_FILES = (
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    "rust-toolchain",
    "rust-toolchain.toml",
)

VENDOR_MARKER = "# Added by hatchling-native (vendor = true): what `cargo vendor` printed."

VENDOR_CONFIG = """
# Added by hatchling-native (vendor = true): build from the vendored crates, offline.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
"""


def stable_interpreter() -> str:
    """The interpreter to tell PyO3 about, as a path that stays the same across builds.

    Isolated builds run in a fresh virtual environment each time; its ``python`` is a link to
    the same base interpreter. PyO3's build script reruns (and everything after it rebuilds)
    whenever PYO3_PYTHON changes, so we pass the resolved base interpreter: same version, ABI
    and EXT_SUFFIX, and warm builds stay warm.
    """
    base = getattr(sys, "_base_executable", None) or sys.executable
    resolved = os.path.realpath(base)
    return resolved if os.path.isfile(resolved) else sys.executable


@dataclass(frozen=True)
class Pyo3Facts:
    """What ``cargo metadata``'s resolve says about PyO3 for this build's features."""

    abi3: tuple[int, int] | None  # the lowest abi3-py3X feature of pyo3/pyo3-ffi, if any
    version: tuple[int, ...] | None  # the resolved pyo3 version


def read_pyo3(meta: dict[str, Any]) -> Pyo3Facts:
    """abi3 and version from ``cargo metadata --format-version 1`` (resolved features).

    PyO3 builds for the lowest ``abi3-py3X`` feature enabled on pyo3 or pyo3-ffi (each one
    enables the newer ones); ``abi3`` alone means the interpreter it builds with (maturin's rule).
    """
    by_id = {pkg["id"]: pkg for pkg in meta.get("packages", [])}
    features: set[str] = set()
    version: tuple[int, ...] | None = None
    for node in (meta.get("resolve") or {}).get("nodes", []):
        pkg = by_id.get(node["id"], {})
        if pkg.get("name") in ("pyo3", "pyo3-ffi"):
            features.update(node.get("features", []))
        if pkg.get("name") == "pyo3":
            version = tuple(int(x) for x in re.findall(r"\d+", pkg["version"].split("-")[0]))
    minors = [int(m.group(1)) for f in features if (m := re.fullmatch(r"abi3-py3(\d+)", f))]
    if minors:
        return Pyo3Facts((3, min(minors)), version)
    if "abi3" in features:
        return Pyo3Facts((3, sys.version_info[1]), version)
    return Pyo3Facts(None, version)


class Pyo3BuildHook(NativeBuildHook):
    """``[tool.hatch.build.hooks.pyo3]`` (or ``[tool.hatch.build.targets.wheel.hooks.pyo3]``)."""

    PLUGIN_NAME = "pyo3"

    OPTIONS: ClassVar[dict[str, Option]] = {
        "manifest-path": Option((str,), "Cargo.toml", "the crate's (or workspace's) Cargo.toml"),
        "module": Option((str,), "", "dotted import path of the extension, e.g. pkg._native"),
        "profile": Option((str,), "release", "cargo profile for wheels (passed as --profile)"),
        "editable-profile": Option((str,), "dev", "cargo profile for editable installs"),
        "features": Option((list,), [], "cargo features to enable"),
        "no-default-features": Option((bool,), False, "pass --no-default-features"),
        "all-features": Option((bool,), False, "pass --all-features"),
        "locked": Option((bool,), False, "pass --locked (Cargo.lock must be up to date)"),
        "frozen": Option((bool,), False, "pass --frozen (--locked and --offline)"),
        "target": Option((str,), "", "Rust target triple (CARGO_BUILD_TARGET is honoured)"),
        "target-dir": Option((str,), "", "cargo target directory (CARGO_TARGET_DIR is honoured)"),
        "cargo-args": Option((list,), [], "extra arguments for cargo build"),
        "abi3": Option(
            (str, bool), True, 'true: from Cargo\'s pyo3 features; "3.9": enable abi3-py39; false'
        ),
        "vendor": Option((bool,), False, "sdist: vendor crates and the cargo config to use them"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pyo3: Pyo3Facts | None = None

    # -- configuration
    @property
    def manifest(self) -> Path:
        path = self.root_path.joinpath(self.options["manifest-path"]).resolve()
        if not path.is_file():
            if self.options["optional"]:
                return path
            raise NativeBuildError(
                f"no Cargo.toml at {path} (option `manifest-path`); create the crate with"
                " `cargo init --lib`, fix the path, or set `optional = true` to skip it"
            )
        return path

    def manifest_data(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.manifest.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise NativeBuildError(f"{self.manifest} is not valid TOML: {exc}") from None

    def target_triple(self) -> str:
        return self.options["target"] or self.build_env().get("CARGO_BUILD_TARGET", "")

    def requested_abi3(self) -> tuple[int, int] | None:
        """The minimum the `abi3` option asks cargo to build for (a version string only)."""
        value = self.options["abi3"]
        return None if isinstance(value, bool) else parse_abi3(value)

    def abi3(self) -> tuple[int, int] | None:
        """The abi3 minimum the library is built for: what cargo resolves, unless abi3 = false."""
        if self.options["abi3"] is False:
            return None
        return self.pyo3_facts().abi3

    def pyo3_facts(self) -> Pyo3Facts:
        if self._pyo3 is None:
            cargo = require_tool("cargo", CARGO_HINT, env_var="CARGO")
            cmd = [cargo, "metadata", "--format-version", "1"]
            cmd += ["--manifest-path", str(self.manifest), *self.feature_args()]
            if self.target_triple():
                cmd += ["--filter-platform", self.target_triple()]
            meta = json.loads(
                capture(cmd, what="cargo metadata", cwd=self.root, env=self.build_env())
            )
            self._pyo3 = read_pyo3(meta)
        return self._pyo3

    def lib_name(self) -> str:
        data = self.manifest_data()
        lib: str = data.get("lib", {}).get("name") or data.get("package", {}).get("name", "")
        return lib.replace("-", "_")

    def module_name(self) -> str:
        return self.resolve_module(self.lib_name())

    def mixed_package(self, name: str) -> Path | None:
        """The Python package folder named like the extension, if the project has one."""
        for base in self.package_source_dirs():
            if (base / name / "__init__.py").is_file():
                return base / name
        return None

    def resolve_module(self, lib: str) -> str:
        """`module`, else maturin's rule: a Python package named like the lib gets it inside."""
        if self.options["module"]:
            return check_module_path(self.options["module"])
        return f"{lib}.{lib}" if self.mixed_package(lib) else lib

    def preflight(self) -> None:
        """Options, target and what cargo resolves, all before `cargo build` runs."""
        if self.options["optional"] and not self.manifest.is_file():
            return
        self.manifest  # noqa: B018 - a missing Cargo.toml is the first thing to say
        if self.options["module"]:
            check_module_path(self.options["module"])
        self.requested_abi3()
        target = self.target_triple()
        platform_tag_for_target(target)
        ext_suffix(target=target)
        if not self.options["module"] and self.lib_name():
            package = self.mixed_package(self.lib_name())
            shipped = self.shipped_project_files()
            if package is not None and f"{package.name}/__init__.py" not in shipped:
                rel = package.relative_to(self.root_path).as_posix()
                raise NativeBuildError(
                    f"{rel}/ is the Python half of a mixed project (named like the crate's lib),"
                    f' but the wheel does not ship it: add packages = ["{rel}"] to'
                    " [tool.hatch.build.targets.wheel], or set `module`"
                )
        abi3 = self.abi3()
        if abi3 is not None:
            parse_abi3(f"{abi3[0]}.{abi3[1]}")  # not newer than the interpreter
            requested = self.requested_abi3()
            if requested and requested != abi3:
                info(f"abi3: Cargo's pyo3 features resolve to abi3-py{abi3[0]}{abi3[1]}")
        elif self.options["abi3"] is not False and self.requested_abi3():
            raise NativeBuildError(
                f"abi3 = \"{self.options['abi3']}\" but cargo resolves no abi3 feature on pyo3"
                " or pyo3-ffi: depend on pyo3 directly (the hook enables pyo3/abi3-py3X)"
            )

    def wheel_tag(self) -> str:
        platform = platform_tag_for_target(self.target_triple())
        abi3 = self.abi3()
        if abi3:
            return f"cp{abi3[0]}{abi3[1]}-abi3-{platform}"
        interpreter, abi = interpreter_abi_tag()
        return f"{interpreter}-{abi}-{platform}"

    def stub_products(self, module: str, stage: Path) -> list[Product]:
        """``<leaf>.pyi`` from the project root (or next to Cargo.toml), as maturin ships it.

        In a mixed layout the Python package holds its own stubs and ``py.typed``, and
        hatchling ships them with the package. Otherwise the stub goes next to the module, and
        a package folder that only the extension creates gets a ``py.typed`` (PEP 561).
        """
        parts = module.split(".")
        folder, leaf = parts[:-1], parts[-1]
        if folder and any(
            base.joinpath(*folder, "__init__.py").is_file() for base in self.package_source_dirs()
        ):
            return []
        stub = self.root_stub(leaf)
        if stub is None:
            return []
        prefix = "".join(f"{p}/" for p in folder)
        products = [Product(stub, f"{prefix}{leaf}.pyi")]
        if prefix:
            marker = stage / "py.typed"
            marker.write_text("")
            products.append(Product(marker, f"{prefix}py.typed"))
        info(f"stubs: {stub.relative_to(self.root_path)} -> {prefix}{leaf}.pyi")
        return products

    # -- what the checks say, for cargo
    def module_mismatch(self, product: Product, module: str, exported: Sequence[str]) -> str:
        leaf = module.rsplit(".", 1)[-1]
        where = module.rpartition(".")[0]
        if not exported:
            return (
                f"'{module}' ({product.wheel_path}) exports no PyInit_ function, so Python cannot"
                f" import it: give the crate a #[pymodule] named {leaf}"
            )
        names = [f"{where}.{e}" if where else e for e in exported]
        choices = " or ".join(f"'{n}'" for n in names)
        if self.options["module"]:
            said = f"module = '{module}'"
        else:
            said = f"the extension is shipped as '{module}' (from the crate's lib name)"
        return (
            f"{said} but the library exports {describe_exports(exported)}: set module to"
            f" {choices} (or rename the #[pymodule] to {leaf})"
        )

    def libpython_fix(self) -> str:
        version = self._pyo3.version if self._pyo3 else None
        shown = ".".join(map(str, version)) if version else ""
        if version and version < (0, 26):
            return f"enable pyo3's `extension-module` feature (pyo3 {shown} < 0.26)"
        if version:
            return (
                f"pyo3 {shown} does not link it here (the hook sets PYO3_BUILD_EXTENSION_MODULE),"
                " so remove the link from build.rs (cargo:rustc-link-lib) or RUSTFLAGS"
            )
        return (
            "remove the libpython link from build.rs (cargo:rustc-link-lib) or RUSTFLAGS"
            " (with pyo3 < 0.26, enable its `extension-module` feature)"
        )

    def collision_fix(self, product: Product, module: str) -> str:
        leaf = module.rsplit(".", 1)[-1]
        return (
            f"set module to '{module}.{leaf}' to put the extension inside the package (maturin's"
            " mixed layout), or rename one of them"
        )

    def machine_fix(self) -> str:
        return (
            "give the triple as the `target` option or CARGO_BUILD_TARGET (not in cargo-args or"
            " .cargo/config.toml) so the tag and file name follow it"
        )

    def wheel_path_for(self, module: str) -> str:
        parts = module.split(".")
        suffix = ext_suffix(abi3=self.abi3() is not None, target=self.target_triple())
        return "/".join(parts[:-1] + [parts[-1] + suffix])

    # -- the build
    def feature_args(self) -> list[str]:
        """Feature and lock flags, the same for `cargo metadata` and `cargo build`."""
        o = self.options
        cmd: list[str] = []
        features = list(o["features"])
        requested = self.requested_abi3()
        if requested and o["abi3"] is not False:
            features.append(f"pyo3/abi3-py{requested[0]}{requested[1]}")
        if features:
            cmd += ["--features", ",".join(features)]
        for flag in ("no-default-features", "all-features", "locked", "frozen"):
            if o[flag]:
                cmd.append(f"--{flag}")
        return cmd

    def cargo_command(self, cargo: str, profile: str) -> list[str]:
        o = self.options
        cmd = [cargo, "build", "--lib", "--message-format=json-render-diagnostics"]
        cmd += ["--manifest-path", str(self.manifest), "--profile", profile]
        cmd += self.feature_args()
        if o["target"]:
            cmd += ["--target", o["target"]]
        if o["target-dir"]:
            cmd += ["--target-dir", str(self.root_path / o["target-dir"])]
        return cmd + list(o["cargo-args"])

    def cargo_env(self, profile: str) -> dict[str, str]:
        env = self.build_env()
        env["PYO3_PYTHON"] = stable_interpreter()
        env["PYO3_BUILD_EXTENSION_MODULE"] = "1"
        if self.options["strip"]:
            env[f"CARGO_PROFILE_{profile.upper().replace('-', '_')}_STRIP"] = "symbols"
        return env

    def build_products(self, *, editable: bool, stage: Path) -> list[Product]:
        if self.options["optional"] and not self.manifest.is_file():
            warn(f"no Cargo.toml at {self.manifest}; skipping the optional `pyo3` hook")
            return []
        cargo = require_tool("cargo", CARGO_HINT, env_var="CARGO")
        profile = self.options["editable-profile" if editable else "profile"]
        module = self.options["module"] and check_module_path(self.options["module"])
        cdylibs: list[tuple[str, Path]] = []

        def on_message(line: str) -> None:
            if not line.startswith("{"):
                sys.stderr.write(line)
                return
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
                if msg.get("reason") != "compiler-artifact":
                    return
                target = msg.get("target", {})
                if "cdylib" not in target.get("kind", []):
                    return
                for filename in msg.get("filenames", []):
                    if filename.endswith((".so", ".dylib", ".dll", ".pyd")):
                        cdylibs.append((target.get("name", "?"), Path(filename)))

        info(f"cargo build --profile {profile} ({self.manifest.relative_to(self.root_path)})")
        started = time.monotonic()
        command, env = self.cargo_command(cargo, profile), self.cargo_env(profile)
        run(
            command,
            what=f"cargo build of {self.manifest}",
            cwd=self.root,
            env=env,
            on_stdout_line=on_message,
        )
        self.rebuild_steps = [{"argv": command, "cwd": self.root, "env": self.rebuild_env(env)}]
        info(f"cargo finished in {time.monotonic() - started:.2f} s")
        library = self._pick(cdylibs, module)
        name = self.resolve_module(library[0])
        if not module and name != library[0]:
            info(f"mixed layout: the package {library[0]}/ gets the extension as '{name}'")
        src = library[1]
        # Stage a copy outside the project: the wheel then never also picks up a same-named
        # file an editable install left in the source tree, and strip-free cargo output stays.
        staged = stage / src.name
        staged.write_bytes(src.read_bytes())
        stub = None if (module or editable or "." in name) else self.root_stub(name)
        if stub is not None:
            return self.stub_package(name, staged, src, stub, stage)
        extension = Product(staged, self.wheel_path_for(name), origin=src)
        return [extension, *self.stub_products(name, stage)]

    def root_stub(self, leaf: str) -> Path | None:
        """``<leaf>.pyi`` at the project root or next to Cargo.toml."""
        for folder in (self.root_path, self.manifest.parent):
            if (folder / f"{leaf}.pyi").is_file():
                return folder / f"{leaf}.pyi"
        return None

    def stub_package(
        self, lib: str, staged: Path, origin: Path, stub: Path, stage: Path
    ) -> list[Product]:
        """A lone crate with a ``<lib>.pyi`` ships as the package ``lib/``, as maturin does:
        the extension at ``lib/lib``, an ``__init__.py`` re-exporting it, the stub as
        ``__init__.pyi`` and ``py.typed``. PEP 561 type checkers (mypy) read stubs only from
        packages; a top-level ``lib.pyi`` beside ``lib.so`` is ignored. Wheels only: an
        editable install keeps the module at the top level, with the stub beside it."""
        init = stage / "__init__.py"
        init.write_text(
            f"from .{lib} import *\n\n__doc__ = {lib}.__doc__\n"
            f'if hasattr({lib}, "__all__"):\n    __all__ = {lib}.__all__\n'
        )
        marker = stage / "py.typed"
        marker.write_text("")
        info(f"stubs: {stub.relative_to(self.root_path)} -> {lib}/__init__.pyi (the extension"
             f" ships as the package {lib}/, so type checkers read the stub)")  # fmt: skip
        return [
            Product(staged, self.wheel_path_for(f"{lib}.{lib}"), origin=origin),
            Product(init, f"{lib}/__init__.py"),
            Product(stub, f"{lib}/__init__.pyi"),
            Product(marker, f"{lib}/py.typed"),
        ]

    def _pick(self, cdylibs: list[tuple[str, Path]], module: str) -> tuple[str, Path]:
        if not cdylibs:
            raise NativeBuildError(
                f'cargo built no cdylib from {self.manifest}; add `crate-type = ["cdylib"]`'
                " to its [lib] section"
            )
        if len(cdylibs) == 1:
            return cdylibs[0]
        if module:
            leaf = module.rsplit(".", 1)[-1]
            matching = [c for c in cdylibs if c[0] == leaf]
            if len(matching) == 1:
                return matching[0]
        found = ", ".join(f"{n} ({p})" for n, p in cdylibs)
        raise NativeBuildError(
            f"cargo built {len(cdylibs)} cdylibs: {found}; set `module` to the dotted import path"
            " whose last part names the one to ship"
        )

    def inplace_candidates(self) -> list[Path]:
        try:
            module = self.module_name()
        except NativeBuildError:
            return []
        parts = module.split(".")
        if len(parts) < 2:
            return []
        found = []
        for base in self.package_source_dirs():
            pkg = base.joinpath(*parts[:-1])
            found += sorted(pkg.glob(f"{parts[-1]}.*so")) + sorted(pkg.glob(f"{parts[-1]}.*pyd"))
        return found

    def clean(self, versions: list[str]) -> None:
        super().clean(versions)
        cargo = require_tool("cargo", CARGO_HINT, env_var="CARGO")
        if not self.manifest.is_file():
            return
        package = self.manifest_data().get("package", {}).get("name")
        if not package:
            return
        for profile in {self.options["profile"], self.options["editable-profile"]}:
            cmd = [cargo, "clean", "--manifest-path", str(self.manifest), "-p", package]
            cmd += ["--profile", profile]
            if self.options["target"]:
                cmd += ["--target", self.options["target"]]
            if self.options["target-dir"]:
                cmd += ["--target-dir", str(self.root_path / self.options["target-dir"])]
            run(cmd, what="cargo clean", cwd=self.root, env=self.build_env())

    # -- sdist
    def build_output_candidates(self) -> list[Path]:
        dirs = [self.root_path / "target", self.manifest.parent / "target"]
        if self.options["target-dir"]:
            dirs.append(self.root_path / self.options["target-dir"])
        if self.build_env().get("CARGO_TARGET_DIR"):
            dirs.append(self.root_path / self.build_env()["CARGO_TARGET_DIR"])
        return dirs

    def sdist_sources(self, stage: Path) -> dict[str, str]:
        if self.options["optional"] and not self.manifest.is_file():
            return {}
        cargo = require_tool("cargo", CARGO_HINT, env_var="CARGO")
        meta = json.loads(
            capture(
                [
                    cargo,
                    "metadata",
                    "--no-deps",
                    "--format-version",
                    "1",
                    "--offline",
                    "--manifest-path",
                    str(self.manifest),
                ],
                what="cargo metadata",
                cwd=self.root,
                env=self.build_env(),
            )
        )
        root = self.root_path.resolve()
        files: dict[str, str] = {}

        def add(path: Path) -> None:
            path = path.resolve()
            try:
                rel = path.relative_to(root).as_posix()
            except ValueError:
                raise NativeBuildError(
                    f"{path} is outside the project root {root}; the sdist could not build it"
                ) from None
            files[str(path)] = rel

        workspace = Path(meta["workspace_root"])
        for name in CARGO_SOURCE_FILES:
            if (workspace / name).is_file():
                add(workspace / name)
        if not (workspace / "Cargo.lock").is_file():
            warn("no Cargo.lock: the sdist will resolve crate versions again when it is built")
        for pkg in meta["packages"]:
            pkg_dir = Path(pkg["manifest_path"]).parent
            for name in CARGO_SOURCE_FILES:
                if (pkg_dir / name).is_file():
                    add(pkg_dir / name)
            for target in pkg["targets"]:
                src_dir = Path(target["src_path"]).parent
                for f in iter_files(src_dir):
                    add(f)
        members = {Path(pkg["manifest_path"]).parent.resolve() for pkg in meta["packages"]}
        for pkg in meta["packages"]:
            for dep in pkg.get("dependencies", []):
                dep_dir = Path(dep["path"]).resolve() if dep.get("path") else None
                if dep_dir is None or dep_dir in members or pathdeps.outside(dep_dir, root):
                    continue
                for f in iter_files(dep_dir):  # a path dependency inside the project
                    add(f)
        manifests = [workspace.resolve() / "Cargo.toml"]
        manifests += [Path(pkg["manifest_path"]).resolve() for pkg in meta["packages"]]
        carried, replaced = pathdeps.carry(manifests, root, stage)
        files.update(carried)
        for original, staged in replaced.items():  # the re-pointed manifests replace theirs
            files[staged] = files.pop(original)
        if carried:
            folders = sorted({d.split("/")[1] for d in carried.values()})
            info(
                f"sdist: path dependencies outside the project go to {pathdeps.FOLDER}/:"
                f" {', '.join(folders)}"
            )
        if self.options["vendor"]:
            files.update(self.vendor(cargo, stage))
        return files

    def vendor(self, cargo: str, stage: Path) -> dict[str, str]:
        """``cargo vendor`` into the stage; returns the vendor dir and the cargo config.

        The config is the one ``cargo vendor`` prints: it redirects every source it vendored
        (crates.io, other registries, each git repository) to the vendor folder.
        """
        vendor_dir = stage / "vendor"
        info("cargo vendor (vendor = true)")
        printed: list[str] = []
        run(
            [
                cargo,
                "vendor",
                "--manifest-path",
                str(self.manifest),
                "--versioned-dirs",
                *(["--locked"] if (self.manifest.parent / "Cargo.lock").is_file() else []),
                str(vendor_dir),
            ],
            what="cargo vendor",
            cwd=self.root,
            env=self.build_env(),
            on_stdout_line=printed.append,
        )
        config_dir = stage / "cargo-config"
        config_dir.mkdir()
        existing = self.root_path / ".cargo" / "config.toml"
        text = existing.read_text() if existing.is_file() else ""
        text = text.split(VENDOR_MARKER)[0]  # an unpacked sdist being packed again
        if "[source." in text:
            raise NativeBuildError(
                f"{existing} already replaces sources ([source.…]), so `vendor = true` cannot add"
                " its own: remove them (the hook writes what `cargo vendor` prints) or vendor"
                " yourself and set `vendor = false`"
            )
        snippet = "".join(printed).replace(str(vendor_dir), "vendor")
        if "vendored-sources" not in snippet:
            snippet = VENDOR_CONFIG  # nothing to vendor: still build offline from the folder
        (config_dir / "config.toml").write_text(f"{text}\n{VENDOR_MARKER}\n{snippet}")
        vendor_dir.mkdir(exist_ok=True)
        return {str(vendor_dir): "vendor", str(config_dir / "config.toml"): ".cargo/config.toml"}
