"""What the ``pyo3`` and ``cmake`` hooks share: options, tags, names, placement, sdist, errors.

A hook subclass implements :meth:`NativeBuildHook.build_products` (compile, return the files to
ship with their dotted module paths) and :meth:`NativeBuildHook.sdist_sources` (the files an
sdist needs). Everything else — validating options, the wheel tag, ``pure_python``, editable
placement, staging, the manylinux repair and ``clean()`` — lives here once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from packaging import tags

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
}


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


_TRIPLE_PLATFORMS = {
    ("linux", "gnu"): "linux_{arch}",
    ("linux", "gnueabihf"): "linux_armv7l",
    ("linux", "musl"): "linux_{arch}",
    ("windows", "msvc"): "win_{arch}",
}


def platform_tag_for_target(target: str | None) -> str:
    """The platform tag for a Rust target triple (None: this machine)."""
    host = host_platform_tag()
    if not target:
        return host
    parts = target.split("-")
    arch = parts[0]
    if host.endswith("_" + arch) and "linux" in target and host.startswith("linux"):
        return host
    system = parts[2] if len(parts) > 2 else ""
    env = parts[3] if len(parts) > 3 else ""
    pattern = _TRIPLE_PLATFORMS.get((system, env))
    if pattern is None:
        raise NativeBuildError(
            f"cannot derive a wheel platform tag for target `{target}`;"
            " supported: *-linux-gnu, *-linux-musl, *-windows-msvc"
        )
    win_arch = {"x86_64": "amd64", "aarch64": "arm64", "i686": "32"}
    if system == "windows":
        return "win32" if arch == "i686" else pattern.format(arch=win_arch.get(arch, arch))
    return pattern.format(arch=arch)


def ext_suffix(*, abi3: bool = False, target: str | None = None) -> str:
    """The file suffix the target interpreter imports: EXT_SUFFIX, or ``.abi3.so``."""
    if abi3:
        return ".pyd" if sys.platform == "win32" else ".abi3.so"
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    if target:
        host_arch = platform_tag_for_target(None).split("_", 1)[-1]
        arch = target.split("-")[0]
        if arch != host_arch:
            suffix = suffix.replace(host_arch, arch)
    return suffix


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


# ------------------------------------------------------------------------------- the hook


@dataclass(frozen=True)
class Product:
    """A built file to ship: where it is now and its path inside the wheel."""

    path: Path
    wheel_path: str  # posix, relative to the wheel root (platlib)

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

    # -- options
    @property
    def options(self) -> dict[str, Any]:
        if self._options is None:
            self._options = validate_options(
                self.PLUGIN_NAME, self.config, {**COMMON_OPTIONS, **self.OPTIONS}
            )
        return self._options

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
    def _new_stage(self) -> Path:
        self._stage = Path(tempfile.mkdtemp(prefix=f"hatchling-native-{self.PLUGIN_NAME}-"))
        return self._stage

    def _initialize_wheel(self, version: str, build_data: dict[str, Any]) -> None:
        editable = version == "editable"
        stage = self._new_stage()
        products = self.build_products(editable=editable, stage=stage)
        if not products:
            if self.options["optional"]:
                warn(f"the `{self.PLUGIN_NAME}` hook built nothing; the wheel stays pure Python")
                return
            raise NativeBuildError(f"the `{self.PLUGIN_NAME}` hook built no extension module")
        build_data["pure_python"] = False
        tag = self.wheel_tag()
        if not editable and self.options["manylinux"]:
            tag = self._manylinux_tag(tag, products)
        self._tag = build_data["tag"] = tag
        build_data.setdefault("force_include", {})
        placed_inplace = []
        for product in products:
            if editable:
                target = self.inplace_target(product.wheel_path)
                if target is not None:
                    copy_if_changed(product.path, target)
                    placed_inplace.append(target)
                    continue
            build_data["force_include"][str(product.path)] = product.wheel_path
        if not editable:
            self._warn_stale_inplace(products)
        for target in placed_inplace:
            info(f"editable: {target.relative_to(self.root_path)}")

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

    def _warn_stale_inplace(self, products: list[Product]) -> None:
        shipped = {p.wheel_path for p in products}
        for path in self.inplace_candidates():
            if not path.is_file():
                continue
            for base in self.package_source_dirs():
                with contextlib.suppress(ValueError):
                    rel = path.relative_to(base).as_posix()
                    if rel not in shipped:
                        warn(
                            f"{path} (left by an editable install for another interpreter) is in"
                            " the package directory; add `*.so` to .gitignore or run `hatch build"
                            " --clean` so it is not shipped"
                        )
                    break

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
