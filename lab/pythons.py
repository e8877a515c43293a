"""Interpreters the experiments run on, and ``lab pythons`` which builds them.

The lab's own interpreter (Python 3.11 on this machine) is always used.
Extra interpreters are provisioned by ``lab pythons`` into
``~/.cache/experiments/pythons/<version>/`` and picked up here.

How CPython 3.13 is built. The rule: only from the source package Debian itself publishes
(trixie's ``python3.13``, which apt verifies against the signed index), never from a prebuilt
binary of another origin, and without changing the system's apt configuration or state:

1. A private apt configuration (``~/.cache/experiments/pythons/apt-trixie/``):
   one deb822 ``Types: deb-src`` entry for suite ``trixie`` on the same Debian
   mirror the system already uses, its own lists and cache directories. The
   system's apt configuration and state are never read for sources nor written.
2. ``apt-get update`` on that private list, then the version of ``python3.13``
   that trixie's ``Sources`` index lists is pinned and fetched with
   ``apt-get source --download-only python3.13=<version>`` (apt verifies the
   files against the signed index).
3. The pristine upstream tarball (``python3.13_<upstream>.orig.tar.xz``) is
   configured with the performance-relevant options of the lab interpreter
   (``sysconfig.get_config_var('CONFIG_ARGS')``: ``--enable-shared``, PGO and LTO
   only if it had them), with prefix and rpath in the cache, built with make,
   installed into a staging directory and moved into place in one rename, so a
   half-built interpreter is never picked up.
4. A smoke test imports the modules the experiments need (ssl, ctypes, sqlite3, ...).

Experiments build their own per-interpreter environments with ``lab.venvs`` when they run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.paths import cache_dir

#: The extra interpreter ``lab pythons`` builds, and where its sources come from.
VERSION = "3.13"
SUITE = "trixie"
SOURCE_PACKAGE = f"python{VERSION}"


#: Debian packages CPython's build needs for the modules the experiments import.
BUILD_DEPS = (
    "gcc",
    "make",
    "pkg-config",
    "xz-utils",
    "libssl-dev",
    "libffi-dev",
    "zlib1g-dev",
    "libbz2-dev",
    "liblzma-dev",
    "libsqlite3-dev",
    "libreadline-dev",
    "libncurses-dev",
    "uuid-dev",
)

#: Modules whose absence means the build silently dropped an extension.
SMOKE_MODULES = ("ssl", "ctypes", "sqlite3", "zlib", "lzma", "bz2", "readline", "uuid", "_asyncio")


#: The PGO training task: upstream's default, its exit status ignored (see _make_with_progress).
PROFILE_TASK = "-m test --pgo --timeout=1200 || true"


class ProvisionError(RuntimeError):
    """A step of ``lab pythons`` failed; the message says which and what to do."""


def pythons_dir() -> Path:
    return cache_dir() / "pythons"


#: Build flavours: "pgo" (--enable-optimizations --with-lto, as distributions ship CPython; the
#: default, in ``<version>/``), "plain" (the lab interpreter's options without PGO/LTO, in
#: ``<version>-plain/``, built on request to measure what PGO changes) and "ft" (free-threaded:
#: the plain options plus --disable-gil, in ``<version>t/``, executable ``python<version>t``).
FLAVOURS = ("pgo", "plain", "ft")
PGO_ARGS = ("--enable-optimizations", "--with-lto")
FREE_THREADED_ARGS = ("--disable-gil",)


def flavour_dir(flavour: str = "pgo") -> Path:
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown build flavour {flavour!r}; choose from {', '.join(FLAVOURS)}")
    name = {"pgo": VERSION, "ft": f"{VERSION}t"}.get(flavour, f"{VERSION}-{flavour}")
    return pythons_dir() / name


def executable_name(flavour: str = "pgo") -> str:
    """``python3.13``, or ``python3.13t`` for the free-threaded build (what it installs)."""
    return f"python{VERSION}t" if flavour == "ft" else f"python{VERSION}"


def built(flavour: str = "pgo") -> str | None:
    """The executable of the ``flavour`` build of CPython ``VERSION``, if it is provisioned."""
    exe = flavour_dir(flavour) / "bin" / executable_name(flavour)
    return str(exe) if exe.is_file() and (exe.parent.parent / "PROVENANCE.json").is_file() else None


def free_threaded() -> str | None:
    """The free-threaded CPython ``VERSION`` (``make pythons`` builds it), if provisioned."""
    return built("ft")


#: Where the distribution's interpreters are (Debian's python3.X packages).
SYSTEM_BIN = Path("/usr/bin")


def elsewhere(minor: str) -> str | None:
    """An interpreter for ``minor`` ("3.12") already on this machine, not built by the lab:
    Debian's ``/usr/bin/python<minor>``, else the newest pyenv one (a stock Debian 12 has
    neither for 3.12; this image has pyenv's); None if there is none that runs."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    pyenv = sorted(
        root.glob(f"{minor}.*/bin/python{minor}"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parents[1].name)],
        reverse=True,
    )
    for exe in [SYSTEM_BIN / f"python{minor}", *pyenv]:
        if not exe.is_file():
            continue
        proc = subprocess.run(
            [str(exe), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0 and proc.stdout.strip() == minor:
            return str(exe)
    return None


def provenance(python: str) -> dict[str, Any] | None:
    """What ``lab pythons`` recorded about the interpreter ``python`` (None: not built by it)."""
    stamp = Path(python).resolve().parent.parent / "PROVENANCE.json"
    try:
        data: dict[str, Any] = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return data


def provisioned() -> list[str]:
    """Executables of the default (PGO+LTO) interpreters built by ``lab pythons``."""
    exe = built("pgo")
    return [exe] if exe else []


def default() -> list[str]:
    """The lab interpreter plus every provisioned one."""
    return [sys.executable, *provisioned()]


# --------------------------------------------------------------------------- output


def _say(msg: str) -> None:
    print(f"lab pythons: {msg}", flush=True)


def _run(
    args: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    log: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command; on failure raise ProvisionError naming ``what`` with the output's tail."""
    if log is not None:
        with log.open("ab") as fh:
            fh.write(f"\n$ {shlex.join(map(str, args))}\n".encode())
            fh.flush()
            logged = subprocess.run(args, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        if logged.returncode != 0:
            tail = log.read_text(errors="replace").splitlines()[-25:]
            raise ProvisionError(
                f"{what} failed (exit {logged.returncode}); last lines of {log}:\n  "
                + "\n  ".join(tail)
            )
        return ""
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
        raise ProvisionError(f"{what} failed (exit {proc.returncode}):\n  " + "\n  ".join(out))
    return proc.stdout


# --------------------------------------------------------------------------- apt sources


@dataclass(frozen=True)
class Mirror:
    uri: str
    signed_by: str | None
    origin: str  # the file it was read from


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    key: str | None = None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if cur:
                stanzas.append(cur)
            cur, key = {}, None
            continue
        if raw[0] in " \t" and key:
            cur[key] += "\n" + raw.strip()
            continue
        if ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            cur[key] = value.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


def system_mirror(etc_apt: Path = Path("/etc/apt")) -> Mirror:
    """The Debian mirror the system's apt already uses for its main archive.

    Looks at deb822 ``*.sources`` files first, then one-line ``*.list`` files and
    ``sources.list``; takes the first entry of the main archive (not security).
    """
    candidates: list[Mirror] = []
    parts = etc_apt / "sources.list.d"
    files = sorted(parts.glob("*.sources")) if parts.is_dir() else []
    for f in files:
        for st in _deb822_stanzas(f.read_text(errors="replace")):
            if st.get("enabled", "yes").lower() == "no":
                continue
            uris = st.get("uris", "").split()
            suites = st.get("suites", "").split()
            if (
                "deb" not in st.get("types", "").split()
                and "deb-src" not in st.get("types", "").split()
            ):
                continue
            if not suites or all("security" in s for s in suites):
                continue
            for uri in uris:
                if _is_debian_archive(uri):
                    candidates.append(Mirror(uri.rstrip("/"), st.get("signed-by"), str(f)))
    lists = [etc_apt / "sources.list"]
    if parts.is_dir():
        lists += sorted(parts.glob("*.list"))
    for f in lists:
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(r"^(deb|deb-src)\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if not m or "security" in m.group(4):
                continue
            if _is_debian_archive(m.group(3)):
                candidates.append(Mirror(m.group(3).rstrip("/"), None, str(f)))
    if not candidates:
        raise ProvisionError(
            f"no Debian archive mirror found in {etc_apt}/sources.list or "
            f"{etc_apt}/sources.list.d/: lab pythons fetches {SOURCE_PACKAGE} from the "
            "mirror the system already uses"
        )
    return candidates[0]


def _is_debian_archive(uri: str) -> bool:
    """A URI of the Debian archive proper (path ends in /debian; not the security archive)."""
    from urllib.parse import urlparse

    path = urlparse(uri).path.rstrip("/")
    return path.endswith("/debian") and "security" not in uri


class PrivateApt:
    """apt-get/apt-cache on a private deb-src list and state; the system's is untouched."""

    def __init__(self, root: Path, mirror: Mirror) -> None:
        self.root = root
        self.mirror = mirror
        self.sources = root / f"{SUITE}-src.sources"
        self.lists = root / "lists"
        self.cache = root / "cache"

    def write_config(self) -> None:
        (self.lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        keyring = self.mirror.signed_by or "/usr/share/keyrings/debian-archive-keyring.gpg"
        text = (
            f"# Written by `lab pythons` (from the mirror in {self.mirror.origin}).\n"
            "Types: deb-src\n"
            f"URIs: {self.mirror.uri}\n"
            f"Suites: {SUITE}\n"
            "Components: main\n"
            f"Signed-By: {keyring}\n"
        )
        if not self.sources.is_file() or self.sources.read_text() != text:
            self.sources.write_text(text)

    def options(self) -> list[str]:
        opts = {
            "Dir::Etc::sourcelist": str(self.sources),
            "Dir::Etc::sourceparts": "/dev/null",
            "Dir::State::Lists": str(self.lists),
            "Dir::Cache": str(self.cache),
            "Dir::State::status": "/dev/null",
            "APT::Sandbox::User": "root" if os.geteuid() == 0 else os.environ.get("USER", ""),
            "Debug::NoLocking": "true",
        }
        out: list[str] = []
        for k, v in opts.items():
            if v:
                out += ["-o", f"{k}={v}"]
        return out

    def update(self, log: Path) -> None:
        _run(
            ["apt-get", "-q", *self.options(), "update"],
            what=f"apt-get update of the private {SUITE} deb-src list ({self.sources})",
            log=log,
        )

    def candidate_version(self) -> str:
        out = _run(
            ["apt-cache", *self.options(), "showsrc", "--only-source", SOURCE_PACKAGE],
            what=f"apt-cache showsrc {SOURCE_PACKAGE}",
        )
        versions: list[str] = re.findall(r"^Version:\s*(\S+)", out, flags=re.M)
        if not versions:
            raise ProvisionError(
                f"{SUITE}'s Sources index on {self.mirror.uri} lists no {SOURCE_PACKAGE}"
            )
        # Several stanzas are possible; dpkg ordering picks the newest one listed.
        return max(versions, key=_DebVersion)

    def download(self, version: str, dest: Path, log: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        _run(
            [
                "apt-get",
                "-q",
                *self.options(),
                "source",
                "--download-only",
                f"{SOURCE_PACKAGE}={version}",
            ],
            what=f"apt-get source --download-only {SOURCE_PACKAGE}={version}",
            log=log,
            cwd=dest,
        )


class _DebVersion:
    """Debian version ordering (enough of dpkg's algorithm for upstream-debian versions)."""

    def __init__(self, v: str) -> None:
        epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
        upstream, _, rev = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        self.key = (int(epoch or 0), _deb_key(upstream), _deb_key(rev))

    def __lt__(self, other: _DebVersion) -> bool:
        return self.key < other.key


def _deb_key(s: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    def char(c: str) -> int:  # dpkg: "~" before the end, letters before other symbols
        return -1 if c == "~" else ord(c) if c.isalpha() else ord(c) + 256

    parts = []
    for m in re.finditer(r"(\D*)(\d*)", s):
        text, num = m.group(1), m.group(2)
        if text or num:
            parts.append(((*map(char, text), 0), int(num or 0)))
    parts += [((0,), 0)] * (32 - len(parts))  # a missing part compares as an empty one
    return tuple(parts)


# --------------------------------------------------------------------------- build


def configure_args(
    prefix: Path, config_args: str | None = None, *, pgo: bool = False, free_threaded: bool = False
) -> list[str]:
    """Configure options for ``prefix`` with the lab interpreter's performance options.

    Everything in the lab interpreter's CONFIG_ARGS that points at its own
    install (prefix, libdir, -L/-I/-rpath flags) is dropped; the options that
    change performance (--enable-shared, --enable-optimizations, --with-lto,
    --with-computed-gotos, --without-pymalloc, --with-pydebug, ...) are kept.
    ``pgo`` adds --enable-optimizations --with-lto (the distributions' way);
    ``free_threaded`` adds --disable-gil.
    """
    if config_args is None:
        config_args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    kept: list[str] = []
    for arg in shlex.split(config_args):
        name = arg.split("=", 1)[0]
        if name in ("--prefix", "--exec-prefix", "--libdir", "--bindir", "--includedir"):
            continue
        if re.match(r"^[A-Z_]+=", arg):  # LDFLAGS=..., CPPFLAGS=..., LIBS=...: install paths
            continue
        if arg.startswith("--with-openssl") or arg.startswith("--with-tcltk"):
            continue
        kept.append(arg)
    if pgo:
        kept += [a for a in PGO_ARGS if a not in kept]
    if free_threaded:
        kept += [a for a in FREE_THREADED_ARGS if a not in kept]
    lib = prefix / "lib"
    return [f"--prefix={prefix}", *kept, f"LDFLAGS=-Wl,-rpath,{lib}"]


def missing_debs(packages: Sequence[str] = BUILD_DEPS) -> list[str]:
    missing = []
    for pkg in packages:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
        )
        if "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return missing


def ensure_build_deps(log: Path) -> None:
    missing = missing_debs()
    if not missing:
        return
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise ProvisionError(
            "CPython's build needs Debian packages that are missing: "
            + " ".join(missing)
            + "\n  run as root:  sudo apt-get update && sudo "
            + shlex.join(cmd)
        )
    _say(f"installing build dependencies: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], what="apt-get update", log=log, env=env)
    _run([*cmd, "-qq"], what="apt-get install of build dependencies", log=log, env=env)


def _orig_tarball(src: Path) -> Path:
    found = sorted(src.glob(f"{SOURCE_PACKAGE}_*.orig.tar.xz"))
    if not found:
        raise ProvisionError(f"no {SOURCE_PACKAGE}_*.orig.tar.xz in {src} after apt-get source")
    return found[-1]


def _extract(tarball: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(tarball) as tf:
        tf.extractall(dest, filter="data")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "configure").is_file():
        raise ProvisionError(f"{tarball} does not unpack to one CPython source tree")
    return tops[0]


def _make_with_progress(tree: Path, jobs: int, log: Path) -> None:
    """``make -jN`` with a live line: elapsed time and objects compiled so far."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    total = sum(1 for _ in tree.glob("Objects/*.c")) + sum(1 for _ in tree.glob("Python/*.c"))
    with (
        log.open("ab") as fh,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar,
    ):
        # The PGO training run is CPython's test suite; since 3.13 one failing test fails the
        # build, and a few are timing-sensitive on a loaded 2-core machine (test_generators
        # failed once here, then passed alone). The profile is what the run executes, pass or
        # fail, so its exit status is ignored, as CPython's Makefile did up to 3.12 ("|| true";
        # regrtest refuses --rerun with --pgo). The smoke test still checks the result.
        cmd = ["make", f"-j{jobs}", f"PROFILE_TASK={PROFILE_TASK}"]
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=tree, stdout=fh, stderr=subprocess.STDOUT)
        task = bar.add_task("make")
        try:
            while proc.poll() is None:
                done = sum(1 for _ in tree.glob("Objects/*.o")) + sum(
                    1 for _ in tree.glob("Python/*.o")
                )
                mods = sum(1 for _ in tree.glob("build/lib.*/*.so"))
                bar.update(
                    task,
                    description=f"make -j{jobs}: core {done}/{total} objects, {mods} extensions",
                )
                time.sleep(1.0)
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise ProvisionError(
            f"make failed (exit {proc.returncode}); last lines of {log}:\n  " + "\n  ".join(tail)
        )


def smoke_test(exe: Path, *, free_threaded: bool = False) -> dict[str, str]:
    """Import the modules that need a -dev package; a free-threaded build must also run
    without the GIL (Py_GIL_DISABLED, and the GIL still off after the imports)."""
    code = (
        "import json, sys, sysconfig\n"
        f"for m in {SMOKE_MODULES!r}: __import__(m)\n"
        "print(json.dumps({'version': sys.version.split()[0],"
        " 'config_args': sysconfig.get_config_var('CONFIG_ARGS') or '',"
        " 'py_enable_shared': str(sysconfig.get_config_var('Py_ENABLE_SHARED')),"
        " 'gil_disabled': str(sysconfig.get_config_var('Py_GIL_DISABLED')),"
        " 'gil_enabled_now': str(getattr(sys, '_is_gil_enabled', lambda: True)())}))\n"
    )
    proc = subprocess.run([str(exe), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ProvisionError(
            f"{exe} was built but fails its smoke test (a module is missing; "
            f"install the -dev package and rebuild with --force):\n  {proc.stderr.strip()}"
        )
    info: dict[str, str] = json.loads(proc.stdout)
    if free_threaded and (info["gil_disabled"] != "1" or info["gil_enabled_now"] != "False"):
        raise ProvisionError(
            f"{exe} was built with --disable-gil but runs with the GIL"
            f" (Py_GIL_DISABLED={info['gil_disabled']}, GIL enabled: {info['gil_enabled_now']})"
        )
    return info


@dataclass
class BuildPlan:
    prefix: Path
    work: Path
    jobs: int
    force: bool
    pgo: bool = True
    free_threaded: bool = False

    @property
    def flavour(self) -> str:
        return "ft" if self.free_threaded else "pgo" if self.pgo else "plain"


def provision_cpython(plan: BuildPlan) -> Path:
    """Build CPython ``VERSION`` into ``plan.prefix`` (cached); return its executable."""
    exe = plan.prefix / "bin" / executable_name(plan.flavour)
    stamp = plan.prefix / "PROVENANCE.json"
    want_args = configure_args(plan.prefix, pgo=plan.pgo, free_threaded=plan.free_threaded)
    started = time.monotonic()
    if exe.is_file() and stamp.is_file() and not plan.force:
        info = json.loads(stamp.read_text())
        if info.get("configure_args") == want_args:
            _say(f"CPython {info.get('python_version')} already built: {exe} (--force rebuilds)")
            return exe
        _say("configure options changed since the cached build; rebuilding")
    plan.work.mkdir(parents=True, exist_ok=True)
    log = plan.work / "build.log"
    log.write_text("")
    steps = 7
    _say(f"[1/{steps}] checking build dependencies (log: {log})")
    ensure_build_deps(log)

    mirror = system_mirror()
    apt = PrivateApt(plan.work / f"apt-{SUITE}", mirror)
    apt.write_config()
    _say(f"[2/{steps}] apt-get update of a private {SUITE} deb-src list on {mirror.uri}")
    apt.update(log)
    version = apt.candidate_version()
    _say(f"[3/{steps}] fetching {SOURCE_PACKAGE}={version} (pinned: what {SUITE} lists)")
    src = plan.work / "src" / version
    have = sorted(src.glob(f"{SOURCE_PACKAGE}_*.orig.tar.xz")) if src.is_dir() else []
    if not have:
        apt.download(version, src, log)
    tarball = _orig_tarball(src)

    _say(f"[4/{steps}] unpacking the pristine upstream tarball {tarball.name}")
    tree = _extract(tarball, plan.work / "tree")
    _say(f"[5/{steps}] configure {shlex.join(want_args)}")
    _run(["./configure", *want_args], what="configure", log=log, cwd=tree)
    how_long = "30-60 minutes with PGO on 2 cores" if plan.pgo else "a few minutes"
    _say(f"[6/{steps}] make -j{plan.jobs} ({how_long}; log: {log})")
    _make_with_progress(tree, plan.jobs, log)
    _say(f"[7/{steps}] installing into {plan.prefix}")
    stage = plan.work / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    _run(["make", "install", f"DESTDIR={stage}"], what="make install", log=log, cwd=tree)
    staged = stage / plan.prefix.relative_to("/")
    if plan.prefix.exists():
        shutil.rmtree(plan.prefix)
    plan.prefix.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, plan.prefix)
    shutil.rmtree(stage, ignore_errors=True)
    info = smoke_test(exe, free_threaded=plan.free_threaded)
    provenance = {
        "python_version": info["version"],
        "source": f"Debian {SUITE} source package {SOURCE_PACKAGE}={version}",
        "tarball": tarball.name,
        "tarball_sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
        "mirror": mirror.uri,
        "configure_args": want_args,
        "profile_task": PROFILE_TASK if "--enable-optimizations" in want_args else None,
        "reference_config_args": sysconfig.get_config_var("CONFIG_ARGS") or "",
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "flavour": plan.flavour,
        "build_seconds": round(time.monotonic() - started),
    }
    stamp.write_text(json.dumps(provenance, indent=2) + "\n")
    shutil.rmtree(tree.parent, ignore_errors=True)
    _say(f"built CPython {info['version']}: {exe}")
    return exe


# --------------------------------------------------------------------------- CLI


EPILOG = f"""\
what it does:
  1. checks CPython's build dependencies (Debian packages; installs them when root)
  2. apt-get update on a private deb-src list for {SUITE} (same mirror as the system's
     apt; private lists and cache under the work directory; system apt untouched)
  3. pins the {SOURCE_PACKAGE} version {SUITE}'s Sources index lists and fetches it with
     apt-get source --download-only
  4-7. builds the pristine *.orig.tar.xz with the lab interpreter's configure options plus
     --enable-optimizations --with-lto (PGO+LTO, as distributions build CPython; --plain
     leaves them out), prefix and rpath in the cache, then installs it atomically and
     smoke-tests it; the build time is recorded in PROVENANCE.json

Everything is cached: a second run only checks. The PGO+LTO interpreter lands in
{pythons_dir()}/{VERSION}/ and is used by `lab run` automatically; the --plain one in
{pythons_dir()}/{VERSION}-plain/ is used only where an experiment compares the two builds;
the --free-threaded one (--disable-gil, no PGO; 4 minutes on 2 cores here) in
{pythons_dir()}/{VERSION}t/bin/python{VERSION}t, for the free-threading tests and benchmarks.
"""


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="lab pythons",
        description=f"Build CPython {VERSION} from Debian {SUITE}'s source package into "
        f"{pythons_dir()}.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--force", action="store_true", help="rebuild even if a cached build exists")
    p.add_argument(
        "--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1), help="make -j (default 2)"
    )
    p.add_argument(
        "--plain",
        action="store_true",
        help="build without PGO/LTO (the lab interpreter's options only) into "
        f"{VERSION}-plain/, to measure what PGO changes",
    )
    p.add_argument(
        "--free-threaded",
        action="store_true",
        help=f"build the free-threaded interpreter (--disable-gil, without PGO/LTO) into"
        f" {VERSION}t/",
    )
    p.add_argument(
        "--list", action="store_true", help="print the interpreters `lab run` uses and exit"
    )
    return p.parse_args(argv)


def provision(argv: list[str]) -> int:
    """Entry point of ``lab pythons``."""
    args = _parse(argv)
    if args.list:
        for python in default():
            print(python)
        return 0
    if args.jobs < 1:
        print("lab pythons: --jobs must be at least 1", file=sys.stderr)
        return 2
    if args.plain and args.free_threaded:
        print("lab pythons: --plain and --free-threaded are separate builds", file=sys.stderr)
        return 2
    flavour = "ft" if args.free_threaded else "plain" if args.plain else "pgo"
    prefix = flavour_dir(flavour)
    plan = BuildPlan(
        prefix=prefix,
        work=pythons_dir() / f"work-{prefix.name}",
        jobs=args.jobs,
        force=args.force,
        pgo=flavour == "pgo",
        free_threaded=flavour == "ft",
    )
    try:
        provision_cpython(plan)
    except ProvisionError as exc:
        print(f"lab pythons: error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"lab pythons: error: a required program is missing: {exc.filename}", file=sys.stderr)
        return 1
    return 0
