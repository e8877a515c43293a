"""Where tagflow_cpp's time goes: callgrind instruction counts, split engine vs the rest.

For a scenario and an API (``explicit``: html_bench's ``tagflow_cpp`` engine, ``compat``: the
tagflow scenario code on ``tagflow_cpp.compat``), the render loop runs under callgrind once:
after start-up, imports and a warm-up render, a marker call (``os.getppid``) makes callgrind dump
what came before (``--dump-before``); a second marker after ``N`` renders closes the part that
holds exactly the renders, so its instruction count divided by ``N`` is one render.
Instructions are split by the source file they come from, using debug information:

* **engine**: instructions from tagflow-reimplementation's ``src/`` and ``include/`` (the C++
  engine, inlined or not), plus everything those lines call outside themselves
  (``memcpy``, ``malloc`` done for the engine): the engine's inclusive cost;
* **binding**: instructions from the binding source (``python/*.cpp``);
* **interpreter**: everything else (CPython evaluating the scenario code and the calls,
  argument parsing, reference counting, the allocator on its behalf).

To have debug information regardless of how ``tagflow_cpp`` was installed, the extension is
compiled again here from A's sources with the release flags plus ``-g`` (which does not change
the generated code) into a cache directory, and the render loop loads it in place of the
installed module.

``perf stat`` cycles are added when hardware counters work on this machine (they do not in
most VMs; the result says so).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.paths import cache_dir, repo_root

CPP_DIR_NAME = "tagflow-reimplementation"
RELEASE_FLAGS = ["-O2", "-DNDEBUG", "-fvisibility=hidden", "-std=c++20", "-fPIC"]


def reimpl_dir() -> Path:
    return repo_root() / CPP_DIR_NAME


def engine_sources(root: Path | None = None) -> tuple[list[Path], list[Path]]:
    """(engine .cpp files, binding .cpp files) of A's package, or ([], []) when absent."""
    root = root or reimpl_dir()
    return sorted((root / "src").glob("*.cpp")), sorted((root / "python").glob("*.cpp"))


def missing_reason() -> str | None:
    """None if the C++ engine can be analysed here, else what is missing."""
    root = reimpl_dir()
    eng, bind = engine_sources(root)
    if not eng:
        return f"no C++ engine sources in {root}/src"
    if not bind:
        return f"no binding source in {root}/python/*.cpp"
    if not (root / "python" / "tagflow_cpp" / "__init__.py").is_file():
        return f"no Python package in {root}/python/tagflow_cpp"
    if shutil.which("valgrind") is None:
        return "valgrind is not installed"
    try:
        import tagflow_cpp  # noqa: F401
    except ImportError as exc:
        return f"tagflow_cpp is not installed in this environment ({exc})"
    return None


def build_extension(
    sources: list[Path], target: Path, flags: list[str], deps: list[Path], run: Any
) -> Path:
    """Compile a CPython extension module unless ``target`` is newer than every source/dep and
    was built with the same flags (recorded next to it)."""
    newest = max(p.stat().st_mtime for p in [*sources, *deps])
    stamp = target.with_name(target.name + ".flags")
    wanted = " ".join(flags)
    if (
        target.exists()
        and target.stat().st_mtime >= newest
        and stamp.exists()
        and stamp.read_text() == wanted
    ):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")  # atomic: concurrent builds
    cmd = [
        os.environ.get("CXX", "g++"),
        *flags,
        "-g",  # for the callgrind split (does not change the generated code)
        "-shared",
        f"-I{sysconfig.get_paths()['include']}",
        *map(str, sources),
        "-o",
        str(tmp),
    ]
    proc = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"building {target.name} failed:\n{err[-3000:]}")
    tmp.replace(target)
    stamp.write_text(wanted)
    return target


def build_debug_extension(run: Any = subprocess.run) -> Path:
    """Compile A's extension module with the release flags + -g; returns the built module.

    The render loop loads it in place of the installed one (``TAGFLOW_ANALYSIS_CORE_SO``, see
    :func:`render_loop`).
    """
    root = reimpl_dir()
    eng, bind = engine_sources(root)
    module_names = {p.stem for p in bind}
    if len(module_names) != 1:
        raise RuntimeError(f"expected one binding source in {root}/python, found {sorted(bind)}")
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    out_dir = cache_dir() / "tagflow-analysis" / f"debug-ext-{tag}"
    target = out_dir / f"{module_names.pop()}{sysconfig.get_config_var('EXT_SUFFIX')}"
    headers = [p for p in (root / "include").rglob("*") if p.is_file()]
    flags = [*RELEASE_FLAGS, f"-I{root / 'include'}"]
    return build_extension(eng + bind, target, flags, headers, run)


# ---------------------------------------------------------------------------------------------
# callgrind output
# ---------------------------------------------------------------------------------------------


@dataclass
class CallgrindSplit:
    """Instructions (Ir) of one callgrind run, by where they come from."""

    total: int = 0
    engine_self: int = 0  # engine source lines
    engine_calls: int = 0  # callees outside the engine, called from engine lines (inclusive)
    binding: int = 0
    other: dict[str, int] = field(default_factory=dict)  # by object file (self cost)
    functions: dict[str, int] = field(default_factory=dict)  # outside engine/binding, self cost

    @property
    def engine(self) -> int:
        return self.engine_self + self.engine_calls

    @property
    def interpreter(self) -> int:
        return self.total - self.engine - self.binding


_NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")


def _records(path: Path) -> Iterator[tuple[str, str, str, str, str | None, int]]:
    """Cost records of a callgrind file: (object, function, file, kind, callee, cost).

    ``kind`` is "self" for a function's own instructions at a line of ``file`` (the file the
    line comes from, inlined or not) and "call" for the inclusive cost of a call made there to
    ``callee``. Handles name compression (``(id) name``) and relative positions.
    """
    names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}

    def name(table: str, value: str) -> str:
        m = _NAME.match(value)
        if not m:
            return value
        idx, text = m.group(1), m.group(2)
        if text is not None:
            names[table][idx] = text
            return text
        return names[table].get(idx, value)

    ob = fl = fi = fn = ""
    callee: str | None = None
    pending_call = False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if not line:
                continue
            head = line[0]
            if head.isdigit() or head in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                cost = int(parts[1])
                if pending_call:
                    pending_call = False
                    yield ob, fn, fi, "call", callee, cost
                else:
                    yield ob, fn, fi, "self", None, cost
                continue
            key, _, value = line.partition("=")
            if key == "ob":
                ob = name("ob", value)
            elif key == "fl":
                fl = fi = name("fl", value)
            elif key in ("fi", "fe"):
                fi = name("fl", value)
            elif key == "fn":
                fn = name("fn", value)
                fi = fl
            elif key in ("cfi", "cfl"):
                name("fl", value)
            elif key == "cob":
                name("ob", value)
            elif key == "cfn":
                callee = name("fn", value)
            elif key == "calls":
                pending_call = True


def parse_callgrind(
    path: Path, engine_dirs: list[Path], binding_files: list[Path]
) -> CallgrindSplit:
    """Read a callgrind.out file into a :class:`CallgrindSplit`.

    A function is a *binding* function if any of its instructions come from a binding source,
    else an *engine* function if any come from an engine source (its inlined ``std::`` code
    included). Engine instructions inlined into binding functions count as engine; so does the
    inclusive cost of every call that engine code makes to a non-engine function (``memcpy``,
    ``operator new``, out-of-line ``std::string`` code).
    """
    eng_prefixes = tuple(str(d.resolve()) + "/" for d in engine_dirs)
    bind_set = {str(p.resolve()) for p in binding_files}

    def is_engine(f: str) -> bool:
        return f.startswith(eng_prefixes)

    kinds: dict[str, str] = {}
    for _ob, fn, fi, kind, _callee, _cost in _records(path):
        if kind != "self":
            continue
        if fi in bind_set:
            kinds[fn] = "binding"
        elif is_engine(fi) and kinds.get(fn) != "binding":
            kinds[fn] = "engine"

    split = CallgrindSplit()
    for ob, fn, fi, kind, callee, cost in _records(path):
        fkind = kinds.get(fn, "other")
        engine_here = fkind == "engine" or is_engine(fi)
        if kind == "call":
            if engine_here and kinds.get(callee or "") != "engine":
                split.engine_calls += cost
            continue
        split.total += cost
        if engine_here:
            split.engine_self += cost
        elif fkind == "binding":
            split.binding += cost
        else:
            split.other[ob] = split.other.get(ob, 0) + cost
            split.functions[fn] = split.functions.get(fn, 0) + cost
    if split.total <= 0:
        raise RuntimeError(f"callgrind recorded no instructions in {path}")
    return split


# ---------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------


def _preload_core(path: str) -> None:
    """Load ``tagflow_cpp._core`` from ``path`` before the package imports its own."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.ExtensionFileLoader("tagflow_cpp._core", path)
    spec = importlib.util.spec_from_file_location("tagflow_cpp._core", path, loader=loader)
    if spec is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules["tagflow_cpp._core"] = module
    import tagflow_cpp

    tagflow_cpp._core = module  # type: ignore[attr-defined]
    if sys.modules["tagflow_cpp._core"].__file__ != path:
        raise RuntimeError("tagflow_cpp imported another _core than the debug build")


#: the render loop calls os.getppid() right before and right after the timed renders; callgrind
#: dumps a part at each call (--dump-before=getppid), so part 2 holds exactly the renders
MARKER = "getppid"


def render_loop(scenario: str, engine: str, loops: int) -> None:
    """Render ``scenario`` once (warm-up) and then ``loops`` times with an html_bench engine."""
    from html_bench import engines, scenarios

    if loops < 0:
        raise ValueError("--loops must be >= 0")
    core = os.environ.get("TAGFLOW_ANALYSIS_CORE_SO")
    if core:
        _preload_core(core)
    render = engines.resolve(engine).renderers()[scenarios.get(scenario).name]
    data = scenarios.get(scenario).build()
    render(data)
    os.getppid()
    for _ in range(loops):
        render(data)
    os.getppid()


def _engine_for(api: str) -> str:
    return {
        "explicit": "tagflow_cpp",
        "compat": "tagflow_cpp.compat",
        "pydispatch": "tagflow_analysis.compat_variants:renderers",
    }[api]


def callgrind_run(
    scenario: str, api: str, loops: int, out_file: Path, core_so: Path, run: Any
) -> Path:
    """Run the render loop under callgrind; returns the part holding just the ``loops`` renders."""
    env = dict(os.environ)
    env["TAGFLOW_ANALYSIS_CORE_SO"] = str(core_so)
    for stale in out_file.parent.glob(out_file.name + "*"):
        stale.unlink()
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        f"--dump-before={MARKER}",
        "--dump-instr=no",
        "--compress-strings=no",
        "--compress-pos=no",
        sys.executable,
        "-m",
        "tagflow_analysis",
        "render-loop",
        scenario,
        "--engine",
        _engine_for(api),
        "--loops",
        str(loops),
    ]
    proc = run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"callgrind run failed ({proc.returncode}): {err[-1500:]}")
    # parts: .1 = start-up and warm-up (dumped at the first marker), .2 = the renders, then
    # the rest at exit
    parts = sorted(
        out_file.parent.glob(out_file.name + ".*"), key=lambda p: int(p.suffix.lstrip("."))
    )
    if len(parts) < 2:
        raise RuntimeError(f"callgrind wrote {len(parts)} parts, expected the marker dumps")
    loop_part = parts[1]
    keep = out_file.with_name(out_file.name + ".renders")
    loop_part.replace(keep)
    for p in [*parts, out_file]:  # start-up part, tail part (written to the plain name)
        if p.exists():
            p.unlink()
    return keep


def perf_stat_available(run: Any = subprocess.run) -> str | None:
    """None if ``perf stat -e instructions,cycles`` counts here, else the reason."""
    if shutil.which("perf") is None:
        return "perf is not installed"
    proc = run(
        ["perf", "stat", "-x,", "-e", "instructions,cycles", "true"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=30,
    )
    text = proc.stderr.decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        return f"perf stat failed: {text.strip()[-200:]}"
    if "<not supported>" in text or "<not counted>" in text:
        return "hardware counters are not available on this machine (virtualised CPU)"
    return None


def analyse_scenario(
    scenario: str, api: str, out_dir: Path, *, loops: int = 10, run: Any = None
) -> dict[str, Any]:
    """Callgrind ``loops`` renders; per-render, per-element and per-byte instruction counts."""
    from html_bench import engines, scenarios

    why = missing_reason()
    if why is not None:
        raise RuntimeError(why)
    if loops < 1:
        raise ValueError("loops must be >= 1")
    run = run or subprocess.run
    sc = scenarios.get(scenario)
    html = engines.resolve(_engine_for(api)).renderers()[scenario](sc.build())
    core_so = build_debug_extension(run)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = reimpl_dir()
    _, bind = engine_sources(root)
    f = callgrind_run(scenario, api, loops, out_dir / f"callgrind.{scenario}.{api}", core_so, run)
    split = parse_callgrind(f, [root / "src", root / "include"], bind)
    kept = f.with_name(f.name + ".gz")  # kept for callgrind_annotate (gunzip first)
    with f.open("rb") as src, gzip.open(kept, "wb") as dst:
        shutil.copyfileobj(src, dst)
    f.unlink()
    per_render = {
        "total": split.total / loops,
        "engine": split.engine / loops,
        "binding": split.binding / loops,
        "interpreter": split.interpreter / loops,
    }
    elements = sc.elements
    size = len(html.encode("utf-8"))
    return {
        "scenario": scenario,
        "api": api,
        "loops": loops,
        "elements": elements,
        "bytes": size,
        "ir_per_render": per_render,
        "ir_per_element": {k: v / elements for k, v in per_render.items()},
        "ir_per_byte": {k: v / size for k, v in per_render.items()},
        "engine_share": split.engine / split.total,
        "top_objects": {
            Path(k).name: v / loops for k, v in sorted(split.other.items(), key=_by_cost)[:5]
        },
        "top_interpreter_functions": {
            k: v / loops for k, v in sorted(split.functions.items(), key=_by_cost)[:10]
        },
        "callgrind_file": kept.name,
    }


def _by_cost(kv: tuple[str, int]) -> int:
    return -kv[1]


def find_or_build_ceiling(run: Any = subprocess.run) -> Path | str:
    """A's Google Benchmark binary: from the release build, else compiled here (cached).

    Returns the executable, or the reason there is none.
    """
    from lab.paths import built

    with contextlib.suppress(FileNotFoundError):
        return built("tagflow-reimplementation", "bench_tagflow_pages")
    root = reimpl_dir()
    bench = root / "bench" / "bench_tagflow_pages.cpp"
    eng, _ = engine_sources(root)
    if not bench.is_file() or not eng:
        return f"no {bench.relative_to(repo_root())} and no release build"
    out = cache_dir() / "tagflow-analysis" / "bench_tagflow_pages"
    deps = [bench, *eng, *(p for p in root.rglob("*.hpp") if p.is_file())]
    if not out.exists() or out.stat().st_mtime < max(p.stat().st_mtime for p in deps):
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            os.environ.get("CXX", "g++"),
            "-O2",
            "-DNDEBUG",
            "-std=c++20",
            f"-I{root / 'include'}",
            f"-I{root / 'bench'}",
            str(bench),
            *map(str, eng),
            "-lbenchmark",
            "-lpthread",
            "-o",
            str(out),
        ]
        proc = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace") if proc.stderr else ""
            return f"building bench_tagflow_pages failed: {err[-300:]}"
    return out


def google_benchmark_ceiling(run: Any = subprocess.run, quick: bool = True) -> dict[str, Any]:
    """A's C++ ceiling (bench_tagflow_pages, Google Benchmark): ns/page, elements/s, bytes/s."""
    import json

    exe = find_or_build_ceiling(run)
    if isinstance(exe, str):
        return {"available": exe}
    cmd = [str(exe), "--benchmark_format=json", f"--benchmark_min_time={0.05 if quick else 0.3}"]
    proc = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if proc.stderr else ""
        return {"available": f"{exe.name} failed ({proc.returncode}): {err[-300:]}"}
    data = json.loads(proc.stdout)
    pages = {}
    for b in data.get("benchmarks", []):
        ns = b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        pages[b["name"].split("/")[0]] = {  # "table100/real_time" -> "table100"
            "ns_per_page": ns,
            "elements": b.get("elements"),
            "page_bytes": b.get("page_bytes"),
            "ns_per_element": ns / b["elements"] if b.get("elements") else None,
            "bytes_per_second": b.get("bytes_per_second"),
            "items_per_second": b.get("items_per_second"),
        }
    try:
        shown = str(exe.relative_to(repo_root()))
    except ValueError:
        shown = f"{exe.name}, built from {CPP_DIR_NAME}/bench with -O2"
    return {"available": None, "binary": shown, "pages": pages}
