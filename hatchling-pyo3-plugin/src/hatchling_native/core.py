"""What the ``pyo3`` and ``cmake`` hooks share: options, tags, names, placement, sdist, errors.

A hook subclass implements :meth:`NativeBuildHook.build_products` (compile, return the files to
ship with their dotted module paths) and :meth:`NativeBuildHook.sdist_sources` (the files an
sdist needs). Everything else — validating options, the wheel tag, ``pure_python``, editable
placement, staging, the manylinux repair and ``clean()`` — lives here once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from packaging import tags

from hatchling_native import settings

#: Options every build hook accepts because hatchling itself interprets them.
HATCH_GENERIC_OPTIONS = frozenset(
    {
        "dependencies",
        "require-runtime-dependencies",
        "require-runtime-features",
        "enable-by-default",
    }
)


class NativeBuildError(SystemExit):
    """A build failure explained in one message.

    It derives from :class:`SystemExit` on purpose: a PEP 517 frontend runs the backend in a
    subprocess and prints whatever it writes, so the user sees this one line (and whatever the
    compiler printed before it) instead of a wall of traceback through hatchling's internals.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"hatchling-native: error: {message}")
        self.message = message

    def __str__(self) -> str:
        return str(self.code)


def warn(message: str) -> None:
    print(f"hatchling-native: warning: {message}", file=sys.stderr, flush=True)


def info(message: str) -> None:
    print(f"hatchling-native: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Option:
    """One hook option: the types it accepts, its default and a one-line help."""

    types: tuple[type, ...]
    default: Any
    help: str


COMMON_OPTIONS: dict[str, Option] = {
    "env": Option((dict,), {}, "extra environment variables for the build tool"),
    "strip": Option((bool,), False, "strip debug symbols from the shipped libraries"),
    "manylinux": Option((bool,), False, "repair to manylinux with auditwheel (if installed)"),
    "optional": Option((bool,), False, "skip (with a warning) when there is nothing to build"),
    "allow-libpython": Option(
        (bool,), False, "ship an extension that links libpython (embedding on purpose)"
    ),
    "rebuild-on-import": Option(
        (bool,), False, "editable installs: rebuild at the first import in each process"
    ),
}

#: Environment a rebuild on import keeps from the install-time build (besides option `env`):
#: what decides where the build tool puts its output and how it builds.
REBUILD_ENV_PREFIXES = ("CARGO_", "RUSTFLAGS", "RUSTC", "RUSTUP_", "PYO3_", "CMAKE_")


def validate_options(
    hook: str, config: Mapping[str, Any], specs: Mapping[str, Option]
) -> dict[str, Any]:
    """Check names and types; return the options with defaults filled in."""
    known = set(specs) | HATCH_GENERIC_OPTIONS
    if hook == "custom":  # loaded through hatch's `custom` hook: its `path` option is hatch's
        known.add("path")
    unknown = sorted(set(config) - known)
    if unknown:
        valid = ", ".join(sorted(specs))
        names = ", ".join(f"`{u}`" for u in unknown)
        raise NativeBuildError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {names} for the `{hook}` build hook;"
            f" valid options: {valid}"
        )
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        value = config.get(name, spec.default)
        if name in config and not isinstance(value, spec.types):
            # bool is an int: reject True for int options and 1 for bool options alike
            wanted = " or ".join(t.__name__ for t in spec.types)
            raise NativeBuildError(
                f"option `{name}` of the `{hook}` build hook must be {wanted},"
                f" got {type(value).__name__} {value!r}"
            )
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise NativeBuildError(
                f"option `{name}` of the `{hook}` hook must be a list of strings"
            )
        values[name] = value
    env = values.get("env", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise NativeBuildError(f"option `env` of the `{hook}` hook must map strings to strings")
    return values


# -------------------------------------------------------------------------- tags and names


def interpreter_abi_tag() -> tuple[str, str]:
    """(interpreter, abi) of the running interpreter, e.g. ("cp311", "cp311")."""
    tag = next(iter(tags.sys_tags()))
    return tag.interpreter, tag.abi


def host_platform_tag() -> str:
    """The plain platform tag of this machine, e.g. ``linux_x86_64`` (never many/musllinux)."""
    for tag in tags.sys_tags():
        if "manylinux" not in tag.platform and "musllinux" not in tag.platform:
            return tag.platform
    raise NativeBuildError("cannot determine this platform's wheel tag")  # pragma: no cover


@dataclass(frozen=True)
class LinuxArch:
    """How one Rust architecture is spelt in a wheel tag and in CPython's EXT_SUFFIX."""

    wheel: str  # platform tag: linux_<wheel>, musllinux_1_2_<wheel>
    multiarch: str  # EXT_SUFFIX: .cpython-311-<multiarch>-linux-<env>.so
    abi: str = ""  # the env suffix this arch needs ("eabihf" for 32-bit ARM hard-float)


#: Rust target arch -> spellings. The wheel arch is what packaging.tags reports on such a
#: machine (platform.machine()), the multiarch part what Debian's and CPython's configure use.
LINUX_ARCHES = {
    "x86_64": LinuxArch("x86_64", "x86_64"),
    "i686": LinuxArch("i686", "i386"),
    "aarch64": LinuxArch("aarch64", "aarch64"),
    "armv7": LinuxArch("armv7l", "arm", abi="eabihf"),
    "powerpc64le": LinuxArch("ppc64le", "powerpc64le"),
    "s390x": LinuxArch("s390x", "s390x"),
    "riscv64gc": LinuxArch("riscv64", "riscv64"),
}

#: The musl version Rust's *-linux-musl targets have shipped since Rust 1.71 (maturin's default).
MUSLLINUX = "musllinux_1_2"


@dataclass(frozen=True)
class LinuxTarget:
    """A Rust target triple read as the wheel platform tag and the EXT_SUFFIX it needs."""

    triple: str
    arch: LinuxArch
    libc: str  # "gnu" or "musl"

    @property
    def platform_tag(self) -> str:
        prefix = "linux" if self.libc == "gnu" else MUSLLINUX
        return f"{prefix}_{self.arch.wheel}"

    def ext_suffix(self, soabi_prefix: str, version: tuple[int, int]) -> str:
        libc = self.libc
        if libc == "musl" and version < (3, 11):
            libc = "gnu"  # CPython < 3.11 called musl "gnu" in SOABI (auditwheel#349, maturin)
        return f".{soabi_prefix}-{self.arch.multiarch}-linux-{libc}{self.arch.abi}.so"


def linux_target(triple: str) -> LinuxTarget:
    """Parse ``<arch>-<vendor>-linux-<gnu|musl>[eabihf]``; anything else is refused, naming why.

    Refused before anything is built: a tag and a file name derived for one platform from an
    interpreter of another would be a mismatched pair (e.g. a .so named for CPython on Windows).
    """
    parts = triple.split("-")
    supported = ", ".join(f"{a}-unknown-linux-{{gnu,musl}}{v.abi}" for a, v in LINUX_ARCHES.items())
    if len(parts) != 4 or parts[2] != "linux":
        raise NativeBuildError(
            f"target `{triple}` is not a Linux target: hatchling-native names files and tags"
            " wheels for Linux triples only; build on that platform without `target`"
            f" (supported: {supported})"
        )
    arch = LINUX_ARCHES.get(parts[0])
    env = parts[3]
    libc = next((c for c in ("gnu", "musl") if env == c + (arch.abi if arch else "")), None)
    if arch is None or libc is None:
        raise NativeBuildError(
            f"target `{triple}` is not supported (no known wheel tag and EXT_SUFFIX for it);"
            f" supported: {supported}"
        )
    return LinuxTarget(triple, arch, libc)


def soabi_prefix() -> str:
    """The interpreter part of SOABI, e.g. ``cpython-311`` (``cpython-313t`` when free-threaded)."""
    soabi = sysconfig.get_config_var("SOABI") or ""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    if multiarch and soabi.endswith("-" + multiarch):
        return soabi[: -len(multiarch) - 1]
    m = re.fullmatch(r"(cpython-\d+t?)(-.*)?", soabi)
    if not m:
        raise NativeBuildError(
            f"cannot derive an EXT_SUFFIX for a target triple from this interpreter (SOABI"
            f" {soabi!r}); build without `target` on the target machine"
        )
    return m.group(1)


def platform_tag_for_target(target: str | None) -> str:
    """The platform tag for a Rust target triple (None: this machine)."""
    if not target:
        return host_platform_tag()
    return linux_target(target).platform_tag


def ext_suffix(*, abi3: bool = False, target: str | None = None) -> str:
    """The file suffix the target interpreter imports: EXT_SUFFIX, or ``.abi3.so``."""
    if target:
        linux = linux_target(target)
        return ".abi3.so" if abi3 else linux.ext_suffix(soabi_prefix(), sys.version_info[:2])
    if abi3:
        return ".pyd" if sys.platform == "win32" else ".abi3.so"
    return str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def parse_abi3(value: str | bool) -> tuple[int, int] | None:
    """``abi3 = "3.9"`` -> (3, 9); false/empty -> None."""
    if value is False or value == "":
        return None
    m = re.fullmatch(r"3\.(\d+)", str(value))
    if not m or int(m.group(1)) < 7:
        raise NativeBuildError(
            'option `abi3` must be a minimum Python version like "3.9" (3.7 or newer),'
            f" got {value!r}"
        )
    minor = int(m.group(1))
    if (3, minor) > sys.version_info[:2]:
        raise NativeBuildError(
            f"abi3 minimum {value} is newer than the interpreter being built for"
            f" ({sys.version_info[0]}.{sys.version_info[1]})"
        )
    return 3, minor


def check_module_path(module: str, what: str = "module") -> str:
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module):
        raise NativeBuildError(f"option `{what}` must be a dotted import path, got {module!r}")
    return module


# -------------------------------------------------------------------------------- processes


def require_tool(name: str, hint: str, env_var: str | None = None) -> str:
    """The path of a build tool, or one clear error with the install hint."""
    candidate = os.environ.get(env_var, "") if env_var else ""
    found = shutil.which(candidate or name)
    if not found:
        shown = candidate or name
        raise NativeBuildError(f"`{shown}` was not found on PATH. {hint}")
    return found


def run(
    args: Sequence[str],
    *,
    what: str,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    on_stdout_line: Callable[[str], None] | None = None,
) -> None:
    """Run a build tool; stderr goes straight to the user, stdout lines to ``on_stdout_line``.

    A failure ends in one summary line (the tool's own diagnostics are above it). The child
    is killed if we are interrupted, so no compiler outlives the frontend.
    """
    try:
        proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE if on_stdout_line else None,
            stderr=None,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise NativeBuildError(f"cannot run {args[0]!r}: {exc.strerror}") from None
    try:
        if on_stdout_line is not None:
            assert proc.stdout is not None
            for line in proc.stdout:
                on_stdout_line(line)
        code = proc.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if code != 0:
        raise NativeBuildError(f"{what} failed (exit status {code}); see the messages above")


def capture(
    args: Sequence[str],
    *,
    what: str,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run a quick query command and return its stdout (errors summarised)."""
    try:
        out = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise NativeBuildError(f"cannot run {args[0]!r}: {exc.strerror}") from None
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise NativeBuildError(f"{what} failed: {last}")
    return out.stdout


def describe_exports(exported: Sequence[str]) -> str:
    if not exported:
        return "no PyInit_ function (so Python cannot import it)"
    return " and ".join(f"PyInit_{e}" for e in exported)


# ------------------------------------------------------------------------------- the hook


@dataclass(frozen=True)
class Product:
    """A built file to ship: where it is now and its path inside the wheel."""

    path: Path
    wheel_path: str  # posix, relative to the wheel root (platlib)
    origin: Path | None = None  # where the build tool leaves it each build, if not at path

    @property
    def is_extension(self) -> bool:
        return self.wheel_path.endswith((".so", ".pyd", ".dylib"))


class NativeBuildHook(BuildHookInterface[BuilderConfig]):
    """The shared contract; subclasses set PLUGIN_NAME, OPTIONS, TOOL and the two methods."""

    OPTIONS: ClassVar[dict[str, Option]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._options: dict[str, Any] | None = None
        self._stage: Path | None = None
        self._tag: str | None = None
        self._policy = ""  # the manylinux policy auditwheel found, when manylinux = true
        # What an editable install reruns on import (rebuild-on-import): argv, cwd, env.
        self.rebuild_steps: list[dict[str, Any]] = []

    # -- options
    @property
    def options(self) -> dict[str, Any]:
        """pyproject.toml's options, then what PEP 517 config_settings set (:mod:`.settings`)."""
        if self._options is None:
            specs = {**COMMON_OPTIONS, **self.OPTIONS}
            values = validate_options(self.PLUGIN_NAME, self.config, specs)
            try:
                given = settings.overrides(self.PLUGIN_NAME, specs, self._active_hooks())
            except settings.SettingsError as exc:
                raise NativeBuildError(str(exc)) from None
            if given:
                shown = ", ".join(f"{k}={v!r}" for k, v in sorted(given.items()))
                info(f"config_settings for the `{self.PLUGIN_NAME}` hook: {shown}")
            for name, value in given.items():
                values[name] = {**values[name], **value} if isinstance(value, dict) else value
            self._options = values
        return self._options

    def _active_hooks(self) -> dict[str, dict[str, Option]]:
        """Every hatchling-native hook of this build target, with its options."""
        configured = set(self.build_config.hook_config)
        hooks = {self.PLUGIN_NAME: {**COMMON_OPTIONS, **self.OPTIONS}}
        pending: list[type[NativeBuildHook]] = list(NativeBuildHook.__subclasses__())
        while pending:
            cls = pending.pop()
            pending += cls.__subclasses__()
            if cls.PLUGIN_NAME in configured and cls.PLUGIN_NAME not in hooks:
                hooks[cls.PLUGIN_NAME] = {**COMMON_OPTIONS, **cls.OPTIONS}
        return hooks

    @property
    def root_path(self) -> Path:
        return Path(self.root)

    def build_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.options["env"])
        return env

    # -- subclass interface
    def build_products(self, *, editable: bool, stage: Path) -> list[Product]:
        raise NotImplementedError

    def sdist_sources(self, stage: Path) -> dict[str, str]:
        """Map of absolute source path -> path inside the sdist."""
        raise NotImplementedError

    def wheel_tag(self) -> str:
        interpreter, abi = interpreter_abi_tag()
        return f"{interpreter}-{abi}-{host_platform_tag()}"

    def inplace_candidates(self) -> list[Path]:
        """Files an editable install may have copied into the source tree (for clean())."""
        return []

    def preflight(self) -> None:
        """Check what can be checked before building (options, target); subclasses extend it."""

    def extra_build_data(self) -> dict[str, dict[str, str]]:
        """More inclusion maps for hatchling's build data (``shared_data``, ``shared_scripts``)."""
        return {}

    def module_mismatch(self, product: Product, module: str, exported: Sequence[str]) -> str:
        """The error for an extension shipped as ``module`` that exports other PyInit_ names."""
        leaf = module.rsplit(".", 1)[-1]
        return (
            f"{product.wheel_path} is imported as '{module}' but the library exports"
            f" {describe_exports(exported)}: give the installed file the module's name or"
            f" name the module after the file (NB_MODULE({leaf}, m), PYBIND11_MODULE({leaf}, m),"
            f" PyInit_{leaf})"
        )

    def libpython_fix(self) -> str:
        """How to stop an extension from linking libpython, for this hook's build tool."""
        return (
            "link the module with Python::Module (find_package(Python COMPONENTS"
            " Development.Module), python_add_library / nanobind_add_module /"
            " pybind11_add_module), not Python::Python"
        )

    def collision_fix(self, product: Product, module: str) -> str:
        folder = module.replace(".", "/")
        return f"install it into the package (DESTINATION {folder}) or rename one of them"

    def shipped_project_files(self) -> set[str]:
        """Paths in the wheel of the project's own files (what hatchling selects)."""
        builder: Any = self.build_config.builder
        try:
            files = list(builder.recurse_selected_project_files())
        except ValueError:
            # hatchling found no package of the project's own; it raises until the hook's
            # force_include exists and then ships nothing but forced files: none to clash with.
            return set()
        return {f.distribution_path.replace(os.sep, "/") for f in files}

    def check_products(self, products: Sequence[Product], tag: str) -> None:
        """Read each built extension and refuse what would make a wrong wheel (checks.py)."""
        from hatchling_native import checks

        arch = checks.platform_arch(tag.split("-")[-1])
        machine = checks.MACHINES.get(arch)
        shipped: set[str] | None = None
        for product in products:
            if not product.is_extension:
                continue
            folder, _, filename = product.wheel_path.rpartition("/")
            leaf = checks.module_leaf(filename)
            elf = checks.read_elf(product.path)
            if elf is None:
                info(f"{product.wheel_path} is not an ELF file: its exports are not checked")
                continue
            if machine and elf.machine != machine:
                raise NativeBuildError(
                    f"{product.wheel_path} is built for {elf.machine} but the wheel is tagged"
                    f" {tag.split('-')[-1]} ({machine}): {self.machine_fix()}"
                )
            if leaf is None:
                continue
            name, tagged = leaf
            if not (tagged or elf.pyinit):
                continue  # a plain helper library (e.g. libfoo.so), not a module
            module = f"{folder.replace('/', '.')}.{name}" if folder else name
            if name not in elf.pyinit:
                raise NativeBuildError(self.module_mismatch(product, module, elf.pyinit))
            linked = checks.libpython(elf)
            if linked and not self.options["allow-libpython"]:
                raise NativeBuildError(
                    f"{product.wheel_path} links {linked} (DT_NEEDED), so it imports only next to"
                    f" that exact libpython and breaks on statically linked Pythons:"
                    f" {self.libpython_fix()}; or set `allow-libpython = true` to embed on purpose"
                )
            if shipped is None:
                shipped = self.shipped_project_files()
            clashes = checks.package_collisions(product.wheel_path, shipped)
            if clashes:
                raise NativeBuildError(
                    f"module '{module}' ({product.wheel_path}) collides with {', '.join(clashes)}"
                    f" in the wheel, so one of them is never imported:"
                    f" {self.collision_fix(product, module)}"
                )

    def machine_fix(self) -> str:
        return "build for the platform the wheel is tagged for"

    # -- hatchling entry points
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self.options  # noqa: B018 - validate before any work, for every target
        if self.target_name == "sdist":
            self._initialize_sdist(build_data)
        elif self.target_name == "wheel":
            self._initialize_wheel(version, build_data)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        try:
            if (
                self.target_name == "wheel"
                and version != "editable"
                and self.options["manylinux"]
                and self._tag
                and "manylinux" in self._tag
            ):
                self._repair_manylinux(Path(artifact_path))
        finally:
            if self._stage is not None:
                shutil.rmtree(self._stage, ignore_errors=True)
                self._stage = None

    def clean(self, versions: list[str]) -> None:
        for path in self.inplace_candidates():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                info(f"removed {path}")

    # -- wheel
    def build_output_candidates(self) -> list[Path]:
        """Build folders this hook knows of, whether or not they exist yet (subclasses)."""
        return []

    def _exclude_build_output(self) -> None:
        """Keep build output out of the sdist, with or without a .gitignore.

        hatchling decides what an sdist holds from its exclude spec once the hooks have run;
        the hook adds every cargo target dir and CMake build dir it finds (or configures).
        """
        root = self.root_path.resolve()
        dirs = set(build_output_dirs(root))
        for path in self.build_output_candidates():
            if not path.is_dir():
                continue
            with contextlib.suppress(ValueError):
                rel = path.resolve().relative_to(root).as_posix()
                if rel != ".":
                    dirs.add(rel)
        if dirs:
            self._exclude(f"/{d}/" for d in sorted(dirs))
            info(f"sdist: leaving out build output {', '.join(f'{d}/' for d in sorted(dirs))}")

    def _exclude_inplace_copies(self, products: Sequence[Product] = ()) -> None:
        """Never pack what an editable install copied into the source package.

        A project-level .gitignore without ``*.so`` (hatchling reads only the nearest one) lets
        hatchling select the copy as a project file: a wheel would then hold the module twice
        (hatchling refuses) and an sdist would carry a binary built for one interpreter.
        """
        root = self.root_path.resolve()
        paths = list(self.inplace_candidates())
        for product in products:
            # the base class's lookup: cmake's override also records what it returns
            target = NativeBuildHook.inplace_target(self, product.wheel_path)
            if target is not None:
                paths.append(target)
        rels = set()
        for path in paths:
            if path.is_file():
                with contextlib.suppress(ValueError):
                    rels.add(path.resolve().relative_to(root).as_posix())
        if rels:
            self._exclude(f"/{r}" for r in sorted(rels))
            info(f"leaving out editable copies {', '.join(sorted(rels))}")

    def _exclude(self, patterns: Iterable[str]) -> None:
        """Add gitignore-style patterns to the exclude spec hatchling applies after the hooks."""
        import pathspec

        config: Any = self.build_config
        extra = pathspec.GitIgnoreSpec.from_lines(patterns)
        current = config.exclude_spec
        config.__dict__["exclude_spec"] = extra if current is None else current + extra

    def _new_stage(self) -> Path:
        self._stage = Path(tempfile.mkdtemp(prefix=f"hatchling-native-{self.PLUGIN_NAME}-"))
        return self._stage

    def _initialize_wheel(self, version: str, build_data: dict[str, Any]) -> None:
        editable = version == "editable"
        self.preflight()
        stage = self._new_stage()
        products = self.build_products(editable=editable, stage=stage)
        if not products:
            if self.options["optional"]:
                warn(f"the `{self.PLUGIN_NAME}` hook built nothing; the wheel stays pure Python")
                return
            raise NativeBuildError(f"the `{self.PLUGIN_NAME}` hook built no extension module")
        build_data["pure_python"] = False
        tag = self.wheel_tag()
        if not editable:
            self._exclude_inplace_copies(products)
        self.check_products(products, tag)
        if not editable and self.options["manylinux"]:
            tag = self._manylinux_tag(tag, products)
        self._tag = build_data["tag"] = tag
        build_data.setdefault("force_include", {})
        placed_inplace = []
        copies: list[tuple[str, str]] = []  # rebuild on import: origin -> where it is imported
        modules: list[str] = []  # ... and the import names that trigger it
        for product in products:
            if editable:
                target = self.inplace_target(product.wheel_path)
                if target is not None:
                    copy_if_changed(product.path, target)
                    placed_inplace.append(target)
                if product.is_extension:
                    where = str(target) if target is not None else product.wheel_path
                    copies.append((str(product.origin or product.path), where))
                    *package, leaf = product.wheel_path.split("/")
                    modules.append(".".join([*package, leaf.split(".")[0]]))
                if target is not None:
                    continue
            build_data["force_include"][str(product.path)] = product.wheel_path
        if editable and self.options["rebuild-on-import"]:
            self._ship_rebuild(copies, sorted(modules), build_data)
        for key, mapping in self.extra_build_data().items():
            build_data.setdefault(key, {}).update(mapping)
        for target in placed_inplace:
            info(f"editable: {target.relative_to(self.root_path)}")

    def rebuild_env(self, env: Mapping[str, str]) -> dict[str, str | None]:
        """What of ``env`` (the build's) a rebuild on import needs: option ``env``, the
        variables that decide where and how the build tool builds, and the environment markers
        PyO3's build script watches as they were (None: unset), so a no-change import stays a
        no-op in any virtual environment."""
        kept: dict[str, str | None] = {
            k: v for k, v in env.items() if k.startswith(REBUILD_ENV_PREFIXES)
        }
        for name in ("VIRTUAL_ENV", "CONDA_PREFIX"):
            kept[name] = env.get(name)
        return {**kept, **self.options["env"]}

    def _ship_rebuild(
        self, copies: list[tuple[str, str]], modules: list[str], build_data: dict[str, Any]
    ) -> None:
        """Put the rebuild-on-import finder, its plan and the .pth that loads it in the wheel."""
        if not self.rebuild_steps:
            raise NativeBuildError(f"the `{self.PLUGIN_NAME}` hook cannot rebuild on import")
        dist = re.sub(r"[-_.]+", "_", self.metadata.core.name).lower()
        name = f"_hatchling_native_rebuild_{dist}_{self.PLUGIN_NAME}"
        plan = {
            "project": self.metadata.core.name,
            "modules": modules,
            "steps": self.rebuild_steps,
            "copies": copies,
        }
        stage = self._stage or self._new_stage()
        (stage / f"{name}.json").write_text(json.dumps(plan, indent=1), encoding="utf-8")
        runtime = Path(__file__).with_name("rebuild_runtime.py")
        shutil.copyfile(runtime, stage / f"{name}.py")
        (stage / f"{name}.pth").write_text(f"import {name}\n", encoding="utf-8")
        for suffix in (".json", ".py", ".pth"):
            build_data["force_include"][str(stage / f"{name}{suffix}")] = f"{name}{suffix}"
        info(f"editable: rebuilds {', '.join(modules)} on import ({name}.pth)")

    def package_source_dirs(self) -> list[Path]:
        """Directories that hold the project's top-level packages in the source tree."""
        bases = []
        with contextlib.suppress(Exception):
            for pkg in self.build_config.packages:
                bases.append((self.root_path / pkg).parent)
        for sub in ("", "src", "python"):
            bases.append(self.root_path / sub)
        seen: list[Path] = []
        for b in bases:
            if b not in seen:
                seen.append(b)
        return seen

    def inplace_target(self, wheel_path: str) -> Path | None:
        """Where an editable install puts a file so the source package imports it, if anywhere."""
        parts = wheel_path.split("/")
        if len(parts) < 2:
            return None  # a top-level module: shipped inside the editable wheel
        for base in self.package_source_dirs():
            pkg = base.joinpath(*parts[:-1])
            if (pkg / "__init__.py").is_file():
                return pkg / parts[-1]
        return None

    # -- manylinux
    def _auditwheel(self) -> list[str] | None:
        exe = shutil.which("auditwheel")
        if exe:
            return [exe]
        try:
            import auditwheel  # noqa: F401
        except ImportError:
            return None
        return [sys.executable, "-m", "auditwheel"]

    def _manylinux_tag(self, tag: str, products: list[Product]) -> str:
        auditwheel = self._auditwheel()
        if auditwheel is None:
            warn("`manylinux = true` but auditwheel is not installed; keeping the linux tag")
            return tag
        # Ask auditwheel about a probe wheel holding just the built libraries.
        assert self._stage is not None
        probe = self._stage / f"probe-0-{tag}.whl"
        with zipfile.ZipFile(probe, "w") as zf:
            for p in products:
                zf.write(p.path, p.wheel_path)
            zf.writestr(
                "probe-0.dist-info/WHEEL",
                "Wheel-Version: 1.0\nGenerator: hatchling-native\nRoot-Is-Purelib: false\n"
                f"Tag: {tag}\n",
            )
            zf.writestr(
                "probe-0.dist-info/METADATA", "Metadata-Version: 2.1\nName: probe\nVersion: 0\n"
            )
            record = "".join(f"{p.wheel_path},,\n" for p in products)
            zf.writestr("probe-0.dist-info/RECORD", record + "probe-0.dist-info/RECORD,,\n")
        out = capture([*auditwheel, "show", str(probe)], what="auditwheel show")
        m = re.search(r'platform\s+tag:?\s*\n?\s*"(manylinux_\d+_\d+_\w+)"', out)
        if not m:
            warn("auditwheel found no manylinux policy for this build; keeping the linux tag")
            return tag
        self._policy = m.group(1)
        interpreter, abi, _ = tag.split("-")
        return f"{interpreter}-{abi}-{self._policy}"

    def _repair_manylinux(self, wheel: Path) -> None:
        auditwheel = self._auditwheel()
        assert auditwheel is not None and self._stage is not None
        outdir = self._stage / "repaired"
        run(
            [
                *auditwheel,
                "repair",
                "--plat",
                self._policy,
                "--only-plat",
                "-w",
                str(outdir),
                str(wheel),
            ],
            what="auditwheel repair",
        )
        repaired = list(outdir.glob("*.whl"))
        if len(repaired) != 1 or repaired[0].name != wheel.name:
            raise NativeBuildError(
                f"auditwheel produced {[r.name for r in repaired]}, expected {wheel.name}"
            )
        os.replace(repaired[0], wheel)
        info(f"repaired to {self._policy} with auditwheel")

    # -- sdist
    def _initialize_sdist(self, build_data: dict[str, Any]) -> None:
        stage = self._new_stage()
        self._exclude_build_output()
        self._exclude_inplace_copies()
        include = build_data.setdefault("force_include", {})
        for src, dest in self.sdist_sources(stage).items():
            include[src] = dest


def copy_if_changed(src: Path, dest: Path) -> bool:
    """Atomically replace ``dest`` with ``src`` unless identical (never rewrite a loaded .so)."""
    with contextlib.suppress(FileNotFoundError):
        if dest.stat().st_size == src.stat().st_size and dest.read_bytes() == src.read_bytes():
            return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)
    return True


def iter_files(base: Path, suffixes: tuple[str, ...] | None = None) -> Iterator[Path]:
    """Files under base (sorted), skipping hidden, build and target directories."""
    skip = {"target", "build", "__pycache__", "node_modules", "dist"}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in skip)
        for f in sorted(filenames):
            if suffixes is None or f.endswith(suffixes) or f == "CMakeLists.txt":
                yield Path(dirpath) / f


def build_output_dirs(root: Path) -> list[str]:
    """Folders under ``root`` that build tools made: a cargo target dir (it holds the
    ``CACHEDIR.TAG`` cargo writes) or a CMake build dir (``CMakeCache.txt``). Posix, relative."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here != root and ("CACHEDIR.TAG" in filenames or "CMakeCache.txt" in filenames):
            found.append(here.relative_to(root).as_posix())
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return found
