"""Profiles of tagflow 0.12.0 on the shared scenarios, and their attribution tables.

For one scenario and one engine module (tagflow by default, or a ladder variant):

* a deterministic profile (cProfile) of ``loops`` renders, saved as ``<name>.prof``
  (``python -m pstats``, snakeviz and gprof2dot read it);
* a sampling profile (pyinstrument, 200 µs interval) of about ``seconds`` of renders, saved as
  ``<name>.pyisession.gz`` (``pyinstrument --load <file>`` replays it) and drawn as a flame graph
  (``<name>-flame.png`` / ``.svg``);
* the share of time per category (``attribution.CATEGORIES``) from each profile.

Profiles run in a child process (``python -m tagflow_analysis profile ...``) so that the
profilers' hooks never touch the process that measures timings.
"""

from __future__ import annotations

import cProfile
import gzip
import importlib
import json
import pstats
import time
from pathlib import Path
from typing import Any

from tagflow_analysis import attribution

SAMPLING_INTERVAL = 0.0002


def load_module(engine: str) -> Any:
    """``tagflow`` (the installed 0.12.0), ``ladder:<spec>`` or ``pybuilder``."""
    if engine == "tagflow":
        return importlib.import_module("tagflow")
    if engine == "pybuilder":
        return importlib.import_module("tagflow_analysis.pybuilder")
    if engine.startswith("ladder:"):
        from tagflow_analysis import ladder

        return ladder.variant(engine.partition(":")[2])
    raise ValueError(f"unknown engine {engine!r}: use tagflow, pybuilder or ladder:<a+b+...>")


def _render_loop(render: Any, data: Any, loops: int) -> None:
    for _ in range(loops):
        render(data)


def profile_scenario(
    scenario: str, out_dir: Path, *, engine: str = "tagflow", loops: int = 50, seconds: float = 1.0
) -> dict[str, Any]:
    """Profile one scenario both ways; write the files; return the two attribution tables."""
    from html_bench import scenarios, tagflow_api

    sc = scenarios.get(scenario)
    data = sc.build()
    render = tagflow_api.renderers(load_module(engine))[scenario]
    html = render(data)  # warm-up (imports, caches) outside both profiles
    stem = f"{scenario}" if engine == "tagflow" else f"{scenario}-{_slug(engine)}"
    out_dir.mkdir(parents=True, exist_ok=True)

    # deterministic (cProfile's default clock: a process-CPU-time clock would shield the shares
    # from other processes, but it costs a system call per event and inflates call-heavy code)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    _render_loop(render, data, loops)
    prof.disable()
    wall_cprofile = time.perf_counter() - t0
    prof_path = out_dir / f"{stem}.prof"
    prof.dump_stats(prof_path)
    det = attribution.attribute_pstats(pstats.Stats(prof))

    # sampling: calibrate a batch, then sample batches until `seconds` have passed
    import pyinstrument

    t0 = time.perf_counter()
    _render_loop(render, data, 3)
    per_render = max((time.perf_counter() - t0) / 3, 1e-6)
    batch = max(1, int(0.05 / per_render))
    profiler = pyinstrument.Profiler(interval=SAMPLING_INTERVAL, use_timing_thread=True)
    renders = 0
    profiler.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _render_loop(render, data, batch)
        renders += batch
    profiler.stop()
    session = profiler.last_session
    assert session is not None
    session_path = out_dir / f"{stem}.pyisession.gz"
    with gzip.open(session_path, "wt", encoding="utf-8") as fh:
        json.dump(session.to_json(), fh)
    root = aggregated_tree(session)
    samp = attribution.attribute_frames(attribution_root(root))

    from tagflow_analysis import flamegraph

    focus = flamegraph.find_frame(root, "html_bench/tagflow_api.py")
    flames = flamegraph.draw(
        focus,
        out_dir / f"{stem}-flame",
        f"{engine} on '{scenario}': pyinstrument samples every {SAMPLING_INTERVAL * 1e6:.0f} µs, "
        f"{renders} renders",
    )
    return {
        "scenario": scenario,
        "engine": engine,
        "output_chars": len(html),
        "cprofile": {
            "loops": loops,
            "wall_s": wall_cprofile,
            "seconds": det,
            "shares": attribution.shares(det),
            "file": prof_path.name,
        },
        "sampling": {
            "renders": renders,
            "samples_s": root.time,
            "seconds": samp,
            "shares": attribution.shares(samp),
            "file": session_path.name,
        },
        "flamegraphs": [p.name for p in flames],
        "top_functions": top_functions(pstats.Stats(str(prof_path)), 12),
    }


def aggregated_tree(session: Any) -> Any:
    """The session's call tree with repeated calls along the same stack added together."""
    from pyinstrument import processors

    root = session.root_frame()
    if root is None:
        raise RuntimeError("pyinstrument recorded no samples")
    root = processors.aggregate_repeated_calls(root, {})
    return processors.merge_consecutive_self_time(root, {})


def attribution_root(root: Any) -> Any:
    """The part of the sampled tree that is rendering (not the sampling loop around it)."""
    from tagflow_analysis.flamegraph import find_frame

    return find_frame(root, "html_bench/tagflow_api.py")


def top_functions(stats: pstats.Stats, n: int) -> list[dict[str, Any]]:
    """The ``n`` functions with most self time: name, calls, self and cumulative seconds."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    return [
        {
            "function": pstats.func_std_string(key).replace(str(Path.home()), "~"),
            "category": _category_of(key),
            "calls": nc,
            "self_pct": 100.0 * tt / total,
            "cum_pct": 100.0 * ct / total,
        }
        for key, (_cc, nc, tt, ct, _callers) in rows
    ]


def _category_of(key: tuple[str, int, str]) -> str:
    return attribution.categorize(*key) or "(inherits)"


def _slug(engine: str) -> str:
    return engine.replace("ladder:", "ladder-").replace("+", "")
