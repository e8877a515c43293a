"""The parity suite: every project layout built by its usual tool and by hatchling-native.

Each folder under ``fixtures/`` is one project whose ``pyproject.toml`` holds both tools'
settings (``[tool.maturin]`` or ``[tool.scikit-build]``, and ``[tool.hatch.build.hooks.*]``);
the harness copies the fixtures once per tool and writes the ``[build-system]`` table, so the
two builds see the same sources, lock files and options, as a project moving between the
tools would. Then, per fixture and tool, with build isolation through ``uv build``:

* the outcome: a wheel that imports and behaves (``add``, ``layout``, ``OverflowError``, the
  pure-Python ``double`` where there is a package), a wheel that does not import, or a refusal;
* the wheel's tag and its file list, normalised (``{ext}`` for this interpreter's
  ``EXT_SUFFIX``, ``{dist-info}`` for the metadata folder);
* sdist -> wheel -> import (full mode);
* cold (no target/build folder) and warm (nothing changed) wheel build times, the tools
  interleaved round by round, with a 95 % interval on ours/peer.

Every difference between the two wheels is either in :data:`EXPLAINED` with its reason (and
the README lists it) or it is an error that fails the run.
"""

from __future__ import annotations

import fnmatch
import io
import json
import shutil
import subprocess
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"

MATURIN = "maturin==1.16.0"
SCIKIT_BUILD_CORE = "scikit-build-core==1.1.2"
HATCHLING = "hatchling==1.33.0"
OURS = "hatchling-native==0.1.0"

#: The CMake binding libraries, pinned, in both tools' build environments.
BINDINGS = {"nanobind": "nanobind==3.1.0", "pybind11": "pybind11==3.0.1"}

#: What a fixture's build can end in.
WORKS, UNIMPORTABLE, REFUSED = "works", "does not import", "refused"
#: Ships, and imports here only because this interpreter has a shared libpython.
LINKS_LIBPYTHON = "links libpython"


@dataclass(frozen=True)
class Fixture:
    name: str
    peer: str  # "maturin" or "scikit-build-core"
    root: str  # the folder under fixtures/ that holds pyproject.toml
    module: str  # what a user imports
    package: bool = False  # a Python package around the extension (has ``double``)
    binding: str = ""  # CMake: "nanobind" or "pybind11"
    #: the outcome each tool must reach; anything else is an error (a regression)
    expect: dict[str, str] = field(default_factory=lambda: {"peer": WORKS, "ours": WORKS})
    #: for a refusal: a fragment the tool's error must contain
    refusal: dict[str, str] = field(default_factory=dict)
    quick: bool = False  # also built in quick mode

    @property
    def timed(self) -> bool:
        return self.expect == {"peer": WORKS, "ours": WORKS}


FIXTURES: tuple[Fixture, ...] = (
    Fixture("pure", "maturin", "pure", "parity_pure"),
    Fixture("mixed", "maturin", "mixed", "parity_mixed", package=True),
    Fixture("mixed-src", "maturin", "mixed-src", "parity_src", package=True, quick=True),
    Fixture("py-subdir", "maturin", "py-subdir", "parity_subdir", package=True),
    Fixture("workspace", "maturin", "workspace", "parity_workspace"),
    Fixture("path-outside", "maturin", "path-outside/project", "parity_path"),
    Fixture("git-dep", "maturin", "git-dep/project", "parity_git"),
    Fixture("abi3-pyo3", "maturin", "abi3-pyo3", "parity_abi3"),
    Fixture("abi3-ffi", "maturin", "abi3-ffi", "parity_ffi"),
    Fixture(
        "libpython",
        "maturin",
        "libpython",
        "parity_embed",
        expect={"peer": LINKS_LIBPYTHON, "ours": REFUSED},
        refusal={"ours": "links libpython3"},
    ),
    Fixture(
        "wrong-name",
        "maturin",
        "wrong-name",
        "parity_wrong",
        expect={"peer": UNIMPORTABLE, "ours": REFUSED},
        refusal={"ours": "exports PyInit_parity_right"},
        quick=True,
    ),
    Fixture(
        "nanobind",
        "scikit-build-core",
        "nanobind",
        "parity_nanobind",
        package=True,
        binding="nanobind",
        quick=True,
    ),
    Fixture(
        "pybind11",
        "scikit-build-core",
        "pybind11",
        "parity_pybind11",
        package=True,
        binding="pybind11",
    ),  # fmt: skip
)

#: The fixtures with a crate and no Python package or stub.
LONE_CRATES = "workspace|path-outside|git-dep|abi3-pyo3|abi3-ffi"

#: Differences between the peer's wheel and ours that are understood, with the reason the
#: README gives. Keys are ``(fixtures, difference)``: ``fnmatch`` patterns, several fixture
#: patterns separated by ``|``.
EXPLAINED: dict[tuple[str, str], str] = {
    **{
        (LONE_CRATES, f"file only in {where}: {pattern}"): (
            "maturin ships every lone crate as a package (`x/__init__.py` re-exporting"
            " `x/x.so`); hatchling-native ships the bare module `x.so`, as setuptools-rust"
            " does, unless the crate has an `x.pyi` stub (then it ships the package, as"
            " maturin: fixture `pure`). `import x` gives the same functions either way"
        )
        for where, pattern in (
            ("maturin", "parity_*/__init__.py"),
            ("maturin", "parity_*/parity_*{ext}"),
            ("maturin", "parity_*/parity_*.abi3.so"),
            ("ours", "parity_*{ext}"),
            ("ours", "parity_*.abi3.so"),
        )
    },
    ("libpython", "outcome: maturin links libpython, ours refused"): (
        "maturin 1.16.0 ships the library linked against libpython3.11.so.1.0 (it imports here"
        " only because this interpreter is built with --enable-shared; statically linked"
        " Pythons, such as python-build-standalone's and most distributions', cannot load it"
        " or load a second interpreter); hatchling-native refuses and names pyo3's"
        " extension-module feature"
    ),
    ("*", "file only in maturin: {dist-info}/sboms/*.cyclonedx.json"): (
        "maturin records the crate's dependency tree as a CycloneDX SBOM in the wheel's"
        " metadata (PEP 770); hatchling-native writes no SBOM"
    ),
    ("wrong-name", "outcome: maturin does not import, ours refused"): (
        "maturin warns that PyInit_parity_wrong is missing and ships the wheel anyway;"
        " hatchling-native reads the library's exports and refuses to ship a module that"
        " cannot be imported, naming the module it does export"
    ),
}

CHECK = """
import importlib, json, sys
m = importlib.import_module(sys.argv[1])
out = {"add": m.add(2, 3), "layout": m.layout()}
try:
    m.add(2**62, 2**62)
    out["overflow"] = "no error"
except OverflowError:
    out["overflow"] = "OverflowError"
if hasattr(m, "double"):
    out["double"] = m.double(21)
print(json.dumps(out, sort_keys=True))
"""


def expected_behaviour(fx: Fixture) -> dict[str, Any]:
    out: dict[str, Any] = {"add": 5, "layout": fx.name, "overflow": "OverflowError"}
    if fx.package:
        out["double"] = 42
    return out


def build_system(fx: Fixture, tool: str) -> str:
    """The [build-system] table a fixture gets for one tool."""
    extra = [BINDINGS[fx.binding]] if fx.binding else []
    if tool == "ours":
        requires, backend = [HATCHLING, OURS, *extra], "hatchling.build"
    elif fx.peer == "maturin":
        requires, backend = [MATURIN], "maturin"
    else:
        requires, backend = [SCIKIT_BUILD_CORE, *extra], "scikit_build_core.build"
    listed = ", ".join(f'"{r}"' for r in requires)
    return f'[build-system]\nrequires = [{listed}]\nbuild-backend = "{backend}"\n\n'


def tool_label(fx: Fixture, tool: str) -> str:
    return "ours" if tool == "ours" else fx.peer


# ------------------------------------------------------------------------------ preparing


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=parity", "-c", "user.email=parity@example.invalid", *args],
        cwd=repo, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def prepare(work: Path, tools: Iterable[str] = ("peer", "ours")) -> dict[str, Path]:
    """Copy the fixtures once per tool under ``work``; returns ``{tool: fixtures copy}``.

    The git dependency becomes a repository under ``work`` (one for both tools, so both lock
    the same commit), and each fixture gets its tool's [build-system] table.
    """
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    repo = work / "gitdep-repo"
    shutil.copytree(FIXTURES_DIR / "git-dep" / "repo", repo)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "parity git dependency")
    copies = {}
    for tool in tools:
        dest = work / tool
        shutil.copytree(FIXTURES_DIR, dest, ignore=shutil.ignore_patterns("target", "build"))
        cargo = dest / "git-dep" / "project" / "Cargo.toml"
        cargo.write_text(cargo.read_text().replace("{GIT_URL}", f"file://{repo}"))
        for fx in FIXTURES:
            pyproject = dest / fx.root / "pyproject.toml"
            pyproject.write_text(build_system(fx, tool) + pyproject.read_text())
        copies[tool] = dest
    return copies


def clean_outputs(project: Path) -> None:
    """A cold build: no cargo target folder, no CMake build folder, anywhere in the project."""
    for pattern in ("**/target", "**/build"):
        for path in project.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)


# ------------------------------------------------------------------------------ wheel facts


def normalised_files(wheel: Path) -> list[str]:
    """The wheel's members with this interpreter's EXT_SUFFIX as ``{ext}`` and the metadata
    folder as ``{dist-info}``: comparable across tools."""
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    return sorted(normalise(n, ext) for n in zipfile.ZipFile(wheel).namelist())


def normalise(name: str, ext: str) -> str:
    head, sep, rest = name.partition("/")
    if sep and head.endswith(".dist-info"):
        name = "{dist-info}/" + rest
    return name[: -len(ext)] + "{ext}" if name.endswith(ext) else name


def links_libpython(wheel: Path) -> list[str]:
    """The libpython entries in DT_NEEDED of the wheel's extension modules."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    found = []
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if not name.endswith(".so"):
                continue
            elf = ELFFile(io.BytesIO(zf.read(name)))
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    found += [
                        t.needed
                        for t in section.iter_tags("DT_NEEDED")
                        if t.needed.startswith("libpython")
                    ]
    return found


def wheel_tag(wheel: Path) -> str:
    """The tag from the file name (what installers match on)."""
    parts = wheel.name[: -len(".whl")].split("-")
    return "-".join(parts[-3:])


def differences(fx: Fixture, peer: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """What differs between the two tools' results for one fixture, one line each."""
    name = fx.peer
    out = []
    if peer.get("outcome") != ours.get("outcome"):
        out.append(f"outcome: {name} {peer.get('outcome')}, ours {ours.get('outcome')}")
        return out  # the rest compares wheels that both work
    if peer.get("outcome") != WORKS:
        return out
    if peer.get("tag") != ours.get("tag"):
        out.append(f"tag: {name} {peer.get('tag')}, ours {ours.get('tag')}")
    a, b = set(peer.get("files") or []), set(ours.get("files") or [])
    out += [f"file only in {name}: {f}" for f in sorted(a - b)]
    out += [f"file only in ours: {f}" for f in sorted(b - a)]
    if peer.get("behaviour") != ours.get("behaviour"):
        out.append(f"behaviour: {name} {peer.get('behaviour')}, ours {ours.get('behaviour')}")
    if "sdist" in peer and peer["sdist"] != ours.get("sdist"):
        out.append(f"sdist -> wheel: {name} {peer['sdist']}, ours {ours.get('sdist')}")
    return out


def explanation(fixture: str, difference: str) -> str | None:
    for (fx_pattern, diff_pattern), reason in EXPLAINED.items():
        if any(fnmatch.fnmatchcase(fixture, p) for p in fx_pattern.split("|")) and (
            fnmatch.fnmatchcase(difference, diff_pattern)
        ):
            return reason
    return None


# ------------------------------------------------------------------------------ running


#: uv's own framing around a backend's failure (not the reason).
UV_FRAMING = ("hint:", "cause:", "error: Failed to build", "×", "├", "╰", "│")


def last_line(text: str) -> str:
    """The line of a failed build's output that says why: the last one mentioning an error,
    skipping uv's own framing (its hints and causes, the "Failed to build" tree)."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(UV_FRAMING)]
    errors = [ln for ln in lines if "error" in ln.lower()]
    pick = errors or lines
    return pick[-1][:300] if pick else "(no output)"


class Parity:
    """Runs the suite with the experiment's Bench (uv, ProcessGroup, progress)."""

    def __init__(self, bench: Any, work: Path, fixtures: Iterable[Fixture]) -> None:
        self.bench = bench
        self.work = work
        self.fixtures = list(fixtures)
        self.copies: dict[str, Path] = {}

    def project(self, fx: Fixture, tool: str) -> Path:
        return self.copies[tool] / fx.root

    def outdir(self, fx: Fixture, tool: str, kind: str) -> Path:
        return self.work / "out" / fx.name / tool / kind

    def build(self, source: Path, kind: str, out: Path) -> tuple[Any, float]:
        shutil.rmtree(out, ignore_errors=True)
        return self.bench.uv_build(source, out, kind)

    def check(self, fx: Fixture, tool: str, wheel: Path) -> tuple[str, Any]:
        """Install into a fresh venv and run CHECK: (outcome, behaviour or error line)."""
        python = self.bench.venv(self.outdir(fx, tool, "venv"))
        inst = self.bench.pip_install(python, str(wheel))
        if inst.returncode != 0:
            return UNIMPORTABLE, f"install: {last_line(inst.stderr)}"
        proc = self.bench.run([str(python), "-c", CHECK, fx.module])
        if proc.returncode != 0:
            return UNIMPORTABLE, last_line(proc.stderr)
        return WORKS, json.loads(proc.stdout)

    def outcome(self, fx: Fixture, tool: str, with_sdist: bool) -> dict[str, Any]:
        """Build once (the last timed build's wheel when there is one) and check it."""
        ctx = self.bench.ctx
        ctx.progress.describe(f"parity {fx.name}: {tool_label(fx, tool)} wheel")
        res: dict[str, Any] = {}
        out = self.outdir(fx, tool, "wheel")
        wheels = sorted(out.glob("*.whl")) if out.is_dir() else []
        if not wheels:
            proc, _secs = self.build(self.project(fx, tool), "wheel", out)
            wheels = sorted(out.glob("*.whl"))
            if proc.returncode != 0 or not wheels:
                res["outcome"] = REFUSED
                res["error"] = last_line(proc.stderr)
                res["refused_with"] = fx.refusal.get(tool, "") in proc.stderr
                return res
        wheel = wheels[0]
        res.update(wheel=wheel.name, tag=wheel_tag(wheel), files=normalised_files(wheel))
        res["outcome"], detail = self.check(fx, tool, wheel)
        res["behaviour" if res["outcome"] == WORKS else "error"] = detail
        linked = links_libpython(wheel)
        if linked:
            res["outcome"], res["error"] = LINKS_LIBPYTHON, f"DT_NEEDED {', '.join(linked)}"
        if with_sdist and res["outcome"] == WORKS:
            res["sdist"] = self.sdist_round_trip(fx, tool)
        return res

    def sdist_round_trip(self, fx: Fixture, tool: str) -> str:
        """sdist, then a wheel from it, then import: "works" or where it broke."""
        self.bench.ctx.progress.describe(f"parity {fx.name}: {tool_label(fx, tool)} sdist")
        sdist_dir = self.outdir(fx, tool, "sdist")
        proc, _ = self.build(self.project(fx, tool), "sdist", sdist_dir)
        sdists = sorted(sdist_dir.glob("*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            return f"sdist fails: {last_line(proc.stderr)}"
        with tarfile.open(sdists[0]) as tf:
            junk = [n for n in tf.getnames() if "/target/" in n or n.endswith("/target")]
        if junk:
            return f"sdist packs build output: {junk[0]}"
        wheel_dir = self.outdir(fx, tool, "from-sdist")
        proc, _ = self.build(sdists[0], "wheel", wheel_dir)
        wheels = sorted(wheel_dir.glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            return f"wheel from sdist fails: {last_line(proc.stderr)}"
        outcome, detail = self.check(fx, tool, wheels[0])
        return WORKS if outcome == WORKS else f"wheel from sdist {outcome}: {detail}"

    def time_builds(self, cold_runs: int, warm_runs: int) -> dict[str, dict[str, dict]]:
        """Cold then warm wheel builds of every timed fixture, the two tools interleaved and
        the one going first alternating, so load drift hits both alike."""
        ctx = self.bench.ctx
        timed = [fx for fx in self.fixtures if fx.timed]
        res = {
            fx.name: {t: {"cold_s": [], "warm_s": [], "errors": []} for t in ("peer", "ours")}
            for fx in timed
        }
        for kind, runs in (("cold", cold_runs), ("warm", warm_runs)):
            for i in range(runs):
                for j, fx in enumerate(timed):
                    order = ("peer", "ours") if (i + j) % 2 == 0 else ("ours", "peer")
                    for tool in order:
                        slot = res[fx.name][tool]
                        if kind == "warm" and not slot["cold_s"]:
                            continue
                        ctx.progress.describe(
                            f"parity {fx.name}: {tool_label(fx, tool)} {kind} build"
                            f" {i + 1}/{runs}"
                        )
                        project = self.project(fx, tool)
                        if kind == "cold":
                            clean_outputs(project)
                        out = self.outdir(fx, tool, "wheel")
                        proc, secs = self.build(project, "wheel", out)
                        ctx.progress.advance()
                        if proc.returncode != 0:
                            slot["errors"].append(f"{kind} build: {last_line(proc.stderr)}")
                        else:
                            slot[f"{kind}_s"].append(secs)
        return res

    def run(self, cold_runs: int, warm_runs: int, with_sdist: bool) -> dict[str, Any]:
        ctx = self.bench.ctx
        timed = [fx for fx in self.fixtures if fx.timed]
        ctx.progress.describe("parity: copying the fixtures")
        self.copies = prepare(self.work / "projects")
        shutil.rmtree(self.work / "out", ignore_errors=True)
        started = time.perf_counter()
        timings = self.time_builds(cold_runs, warm_runs)
        fixtures: dict[str, Any] = {}
        for fx in self.fixtures:
            entry: dict[str, Any] = {"peer": fx.peer, "module": fx.module, "tools": {}}
            for tool in ("peer", "ours"):
                res = self.outcome(fx, tool, with_sdist)
                ctx.progress.advance()
                res.update(timings.get(fx.name, {}).get(tool, {}))
                res.setdefault("errors", [])
                entry["tools"][tool] = res
            diffs = differences(fx, entry["tools"]["peer"], entry["tools"]["ours"])
            entry["differences"] = [{"what": d, "reason": explanation(fx.name, d)} for d in diffs]
            entry["problems"] = problems(fx, entry)
            fixtures[fx.name] = entry
        return {
            "fixtures": fixtures,
            "cold_runs": cold_runs if timed else 0,
            "warm_runs": warm_runs if timed else 0,
            "sdist": with_sdist,
            "seconds": time.perf_counter() - started,
        }

    def steps(self, cold_runs: int, warm_runs: int) -> int:
        timed = sum(fx.timed for fx in self.fixtures)
        return 2 * timed * (cold_runs + warm_runs) + 2 * len(self.fixtures)


def problems(fx: Fixture, entry: dict[str, Any]) -> list[str]:
    """What makes this fixture's result an error: an outcome other than the expected one, a
    refusal for another reason than the expected one, behaviour other than the expected,
    a failed timed build, a broken sdist round trip where the peer's works."""
    out = []
    expected = expected_behaviour(fx)
    for tool in ("peer", "ours"):
        res = entry["tools"][tool]
        who = tool_label(fx, tool)
        want = fx.expect[tool]
        if res.get("outcome") != want:
            detail = res.get("error") or res.get("behaviour")
            out.append(f"{who}: expected '{want}', got '{res.get('outcome')}' ({detail})")
        elif want == REFUSED and not res.get("refused_with"):
            out.append(f"{who}: refused, but not with '{fx.refusal[tool]}': {res.get('error')}")
        elif want == WORKS and res.get("behaviour") != expected:
            out.append(f"{who}: behaves as {res.get('behaviour')}, expected {expected}")
        out += [f"{who}: {e}" for e in res.get("errors", [])]
        if tool == "ours" and res.get("sdist") not in (None, WORKS):
            out.append(f"ours: sdist round trip: {res['sdist']}")
    out += [f"unexplained difference: {d['what']}" for d in entry["differences"] if not d["reason"]]
    return out
