"""tagflow-vs-jinja-benchmark: the `lab` plug-in (see lab/experiment.py).

Every engine renders every scenario once; its output is compared with the reference after
normalization; then pyperf times it in worker processes on each interpreter. Engines whose output
differs are timed but not ranked. See html_bench/ for the parts and README.md for the method.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from lab.stats import geometric_mean
from lab.tables import markdown

TITLE = "fair, output-verified benchmark of Python HTML generators"
ISSUE = 4

#: Engines timed on interpreters other than the first one in quick mode (the full set in full).
QUICK_EXTRA_ENGINES = [
    "jinja2",
    "jinja2-noescape",
    "jinja2-template-per-render",
    "tagflow",
    "tagflow_cpp",
    "tagflow_cpp.compat",
    "fstring",
]


def run(ctx: Any) -> dict[str, Any]:
    from html_bench import envs, measure, report
    from html_bench.engines import all_engines

    ENGINES = all_engines()
    from html_bench.scenarios import SCENARIOS

    scen = list(SCENARIOS)
    load_at_start = os.getloadavg()[0]
    pythons = list(ctx.pythons) or [sys.executable]
    interpreters: list[dict[str, Any]] = []
    plan = []
    ctx.progress.describe("preparing interpreters")
    for i, py in enumerate(pythons):
        env = envs.bench_python(py, log=ctx.log)
        interpreters.append(env.as_dict())
        if env.python is None:
            ctx.log(f"skipping {py}: {env.reason}")
            continue
        engines = list(ENGINES) if (i == 0 or not ctx.quick) else QUICK_EXTRA_ENGINES
        plan.append((env, engines))
    ctx.progress.set_total(sum(measure.progress_steps(len(e), ctx.quick) for _, e in plan))
    rows: list[dict[str, Any]] = []
    for env, engines in plan:
        got = measure.measure(
            engines,
            scen,
            quick=ctx.quick,
            python=env.python,
            procs=ctx.procs,
            progress=ctx.progress,
            log=ctx.log,
        )
        for r in got:
            r["requested_python"] = env.requested
        rows += got
        versions = {r["python_version"] for r in got if r.get("python_version")}
        for info in interpreters:
            if info["requested"] == env.requested:
                info["version"] = next(iter(versions), None)

    ctx.progress.describe("plots")
    for s in scen:
        path = report.plot_scenario(rows, s, ctx.out / f"time_{s}.png")
        if path is not None:
            ctx.artifact(path)
    ctx.artifact(report.write_csv(rows, ctx.out / "measurements.csv"))
    measured_versions = []
    for r in rows:
        v = r.get("python_version")
        if v and v not in measured_versions:
            measured_versions.append(v)
    return {
        "mode": ctx.mode,
        "load_average_at_start": round(load_at_start, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "settings": measure.settings(ctx.quick).as_dict(),
        "interpreters": interpreters,
        "python_versions": measured_versions,
        "engines": {
            name: {"label": e.label, "kind": e.kind, "notes": e.notes, "reference": e.reference}
            for name, e in ENGINES.items()
        },
        "rows": rows,
        "verdicts": [v for py in measured_versions for v in report.verdicts(rows, py)],
    }


#: Row statuses that are findings, not harness errors: an engine whose output differs from the
#: reference is timed and reported as "not ranked".
FINDING_STATUSES = ("ok", "output differs")


def errors(results: dict[str, Any]) -> list[str]:
    """Harness errors: an interpreter that got no benchmark environment, an engine that failed or
    was unavailable, a planned (engine, scenario) cell missing or without a timing.

    "output differs" is a finding (the engine is timed and shown as not ranked), not an error.
    """
    out: list[str] = []
    rows = results.get("rows") or []
    quick = results.get("mode") == "quick"
    all_engines = list(results.get("engines") or {})
    scenarios = sorted({r["scenario"] for r in rows})
    measured = [i for i in results.get("interpreters", []) if i.get("python")]
    for info in results.get("interpreters", []):
        if not info.get("python"):
            out.append(f"interpreter {info.get('requested')}: {info.get('reason') or 'unusable'}")
    for i, info in enumerate(measured):
        req = info.get("requested")
        mine = [r for r in rows if r.get("requested_python") == req]
        expected = all_engines if (i == 0 or not quick) else QUICK_EXTRA_ENGINES
        have = {(r.get("spec", r["engine"]), r["scenario"]) for r in mine}
        for engine in expected:
            missing = [s for s in scenarios if (engine, s) not in have]
            if missing:
                out.append(f"{engine} on {req}: no row for {', '.join(missing)}")
        for r in mine:
            where = f"{r.get('spec', r['engine'])} / {r['scenario']} on {req}"
            if r.get("status") not in FINDING_STATUSES:
                out.append(f"{where}: {r.get('status')}: {r.get('detail')}")
            elif r.get("median_s") is None:
                out.append(f"{where}: not timed")
    if not rows:
        out.append("no engine was measured")
    return out


def measurement_count(results: dict[str, Any]) -> int:
    """Timed (engine, scenario, interpreter) cells."""
    return sum(1 for r in results.get("rows") or [] if r.get("median_s") is not None)


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    from html_bench import report

    rows = results.get("rows", [])
    versions = results.get("python_versions", [])
    if not rows or not versions:
        return [("status", "nothing measured")]
    v = versions[0]
    idx = report.index(rows, v)
    out = []
    t = [report.ratio(idx, "tagflow", "jinja2", s) for s in report.ORIGINAL_SCENARIOS]
    if all(x is not None for x in t):
        out.append(
            (
                f"tagflow / Jinja2 (autoescape), py{v}",
                f"{geometric_mean(t):.1f}x slower (geo. mean; original claimed 14.55x)",
            )
        )
    c = [report.ratio(idx, "tagflow_cpp", "jinja2", s) for s in report.SCENARIOS]
    if all(x is not None for x in c):
        out.append((f"tagflow_cpp / Jinja2, py{v}", f"{geometric_mean(c):.2f}x of Jinja2's time"))
    differs = sorted(
        {
            f"{r['engine']} ({r['scenario']})"
            for r in rows
            if r.get("status") == "output differs" and not r.get("reference_row")
        }
    )
    out.append(("output differs", ", ".join(differs) if differs else "none"))
    return out


def headline(results: dict[str, Any]) -> str:
    """A few generated sentences: the answer in words, from the first interpreter's numbers."""
    from html_bench import report

    rows = results.get("rows", [])
    versions = results.get("python_versions", [])
    if not rows or not versions:
        return "(not measured yet)"
    v = versions[0]
    idx = report.index(rows, v)
    out = [f"On Python {v} ({results.get('mode')} mode):"]
    t = [report.ratio(idx, "tagflow", "jinja2", s) for s in report.SCENARIOS]
    if all(x is not None for x in t):
        out.append(
            f"with autoescape on both sides, tagflow 0.12.0 takes {geometric_mean(t):.1f}x "
            "Jinja2's time (geometric mean over the five scenarios; the original reported "
            "14.55x against Jinja2 without autoescape)."
        )
    c = [report.ratio(idx, "tagflow_cpp", "jinja2", s) for s in report.SCENARIOS]
    if all(x is not None for x in c):
        g = geometric_mean(c)
        out.append(
            f"tagflow_cpp takes {g:.2f}x Jinja2's time ({1 / g:.1f}x faster), "
            f"faster on {sum(1 for x in c if x < 1)} of {len(c)} scenarios."
        )
    ranked = []
    for e in report.engines_in(rows):
        rs = [idx.get((e, s)) for s in report.SCENARIOS]
        if all(r is not None and r.get("ranked") for r in rs):
            ranked.append(
                (geometric_mean(report.ratio(idx, e, "jinja2", s) for s in report.SCENARIOS), e)
            )
    if ranked:
        best = min(ranked)
        out.append(
            f"Fastest engine with equal output everywhere: {best[1]} ({best[0]:.2f}x Jinja2)."
        )
    peaks = {
        e: idx[(e, "table1000")]["peak_bytes"]
        for e in ("tagflow", "jinja2", "tagflow_cpp")
        if idx.get((e, "table1000"), {}).get("peak_bytes")
    }
    if peaks:
        out.append(
            "Python memory allocated at the peak of one 1000-row table render (tracemalloc, "
            "output included): "
            + ", ".join(f"{e} {b / 2**20:.2f} MiB" for e, b in peaks.items())
            + " (tracemalloc sees Python's allocator only: a C++ engine's own buffer is not "
            "counted, its output string is)."
        )
    differs = sorted(
        {
            r["engine"]
            for r in rows
            if r.get("status") == "output differs" and not r.get("reference_row")
        }
    )
    failed = sorted({r["engine"] for r in rows if r.get("status") in ("failed", "unavailable")})
    if differs:
        out.append("Output differs from the reference (not ranked): " + ", ".join(differs) + ".")
    if failed:
        out.append("Not measured (failed or unavailable somewhere): " + ", ".join(failed) + ".")
    return " ".join(out)


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    from html_bench import report
    from html_bench.scenarios import SCENARIOS

    rows = results.get("rows", [])
    versions = results.get("python_versions", [])
    sections: dict[str, str] = {}
    if not rows or not versions:
        return {
            "results": "(not measured yet: run "
            "`uv run --frozen lab run tagflow-vs-jinja-benchmark`)"
        }
    sections["headline"] = headline(results)
    s = results.get("settings", {})
    method = (
        f"Mode: {results.get('mode')} (pyperf: {s.get('rounds')} interleaved rounds x "
        f"{s.get('processes')} worker processes x {s.get('values')} values after "
        f"{s.get('warmups')} warm-up, ≥{s.get('min_time')} s per value, loops "
        f"{'calibrated by pyperf' if s.get('calibrate') else 'from a probe'})."
    )
    parts = []
    for v in versions:
        parts += [f"#### Python {v}", report.results_table(rows, v)]
    parts.append(method)
    load = (results.get("load_average_at_start"), results.get("load_average_at_end"))
    cpus = results.get("cpu_count") or 1
    if None not in load:
        busy = max(load) > 0.5 * cpus
        parts.append(
            f"Load average {load[0]} at start and {load[1]} at the end on {cpus} CPUs: "
            + (
                "the machine was busy with other work, so absolute times are noisy; compare "
                "engines by the ratios, measured in the same run."
                if busy
                else "the machine was quiet."
            )
        )
    sections["results"] = "\n\n".join(parts)
    parts = []
    for v in versions:
        parts += [f"#### Python {v}", "", report.verdict_table(results.get("verdicts", []), v), ""]
    parts += ["#### Side by side with the original figures", "", report.original_table(rows)]
    sections["claims"] = "\n".join(parts)
    sections["equivalence"] = "\n\n".join(
        f"#### Python {v}\n\n" + report.equivalence_table(rows, v) for v in versions
    )
    sections["details"] = "\n\n".join(
        f"#### Python {v}\n\n" + report.spread_table(rows, v) for v in versions
    )
    sections["plots"] = "\n\n".join(
        f"![{name}](results/time_{name}.png)"
        for name in SCENARIOS
        if name in {r["scenario"] for r in rows if r.get("median_s") is not None}
    )
    env_lines = []
    for info in results.get("interpreters", []):
        if info.get("python") is None:
            env_lines.append(f"- `{info['requested']}`: skipped: {info.get('reason')}")
        else:
            notes = "; ".join(info.get("notes") or []) or "no notes"
            env_lines.append(f"- Python {info.get('version')} (`{info['requested']}`): {notes}")
    for v in versions:
        seen: dict[str, str] = {}
        for r in rows:
            if r.get("python_version") == v:
                for dist, ver in (r.get("versions") or {}).items():
                    seen.setdefault(dist, ver)
        env_lines.append(
            f"- packages on Python {v}: " + ", ".join(f"{d} {x}" for d, x in sorted(seen.items()))
        )
    sections["environment"] = "\n".join(env_lines)
    engines = results.get("engines", {})
    sections["engines"] = markdown(
        ["engine", "configuration and escaping"],
        [[name, e["notes"]] for name, e in engines.items()],
    )
    return sections
