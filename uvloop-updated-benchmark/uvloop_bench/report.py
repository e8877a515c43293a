"""README sections and plots from a run's results (figures and verdicts as the run stored them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.tables import markdown
from lab.verdicts import find as find_verdict
from lab.verdicts import table as verdict_table
from uvloop_bench import analysis as an
from uvloop_bench import plan
from uvloop_bench.plan import APIS, LOOPS, SIZES
from uvloop_bench.runner import (
    CLIENT_SATURATED_CORES,
    CLIENT_STARVED_SHARE,
    MIN_VALID_SHARE,
    STARVED_RETRIES,
)


def _median(c: dict[str, Any] | None, stat: str) -> float | None:
    if not c or not c.get("ok"):
        return None
    s = c.get("stats", {}).get(stat)
    return s["median"] if s else None


def _num(v: float | None, digits: int = 0) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def plots(results: dict[str, Any], out: Path) -> list[Path]:
    """CPU per request at saturation per interpreter, and the uvloop/asyncio intervals."""
    import matplotlib.pyplot as plt

    from lab.plotting import save

    paths: list[Path] = []
    pys = an.interpreters(results)
    cells = results["saturation"]
    if pys and cells:
        fig, axes = plt.subplots(1, len(SIZES), figsize=(4.4 * len(SIZES), 3.6), squeeze=False)
        for j, size in enumerate(SIZES):
            ax = axes[0][j]
            # Saturated servers only: the C++ ones run at a fixed rate (see the floor section).
            names = [f"{an.label(p)} {lp}" for p in pys for lp in LOOPS]
            width = 0.8 / len(APIS)
            for ai, api in enumerate(APIS):
                ys, xs = [], []
                for ni, n in enumerate(names):
                    c = an.find(cells, contender=n, api=api, size=size)
                    v = _median(c, "server_cpu_us_per_req")
                    if v is not None and an.usable(c, "saturation"):
                        xs.append(ni + (ai - (len(APIS) - 1) / 2) * width)
                        ys.append(v)
                if xs:
                    ax.barh(xs, ys, height=width, label=api)
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels(names if j == 0 else [""] * len(names), fontsize=7)
            ax.set_title(f"{size:,} B", fontsize=9)
            ax.set_xlabel("server CPU µs per request (lower is better)", fontsize=8)
            ax.invert_yaxis()
        axes[0][0].legend(fontsize=7)
        fig.suptitle("Saturation: server CPU per request, medians of the rounds", fontsize=10)
        paths.append(save(fig, out / "saturation_cpu.png"))
    rows = [
        (name, d["geomean"])
        for section in ("saturation", "pingpong")
        for name, d in sorted(results["analysis"].get(section, {}).items())
        if d.get("geomean")
        for name in [f"{section}: {name}"]
    ]
    if rows:
        fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.2))
        for i, (_name, g) in enumerate(rows):
            ax.errorbar(
                g["value"],
                i,
                xerr=[[g["value"] - g["low"]], [g["high"] - g["value"]]],
                fmt="o",
                color="C0",
                capsize=3,
            )
        ax.axvline(1.0, color="grey", linewidth=0.8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([n for n, _ in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("req/s ratio vs asyncio on the same interpreter (95 % interval)", fontsize=8)
        paths.append(save(fig, out / "ratios.png"))
    return paths


def _setup(results: dict[str, Any]) -> str:
    cfg = results["config"]
    pin = (
        "Every server pinned to CPU 0, echoload to CPU 1."
        if cfg["pinned"]
        else "CPUs 0 and 1 were not both available: nothing was pinned."
    )
    rows = []
    for p in results["pythons"]:
        if p["ok"]:
            loops = ", ".join(f"{k} {v}" for k, v in p["loops"].items())
            role = (
                "everywhere"
                if p.get("main")
                else "beside, at "
                + ", ".join(
                    f"{s:,} B"
                    for s in sorted(
                        {
                            c["key"]["size"]
                            for c in results["saturation"]
                            if c["key"].get("build") == p["build"]
                        }
                    )
                )
            )
            rows.append([p["version"], p["build"], p["exe"], loops, role])
        else:
            rows.append(["–", "–", p["exe"], f"no venv: {p['error']}", ""])
    cal = results.get("calibration", {})
    conns = ", ".join(f"{int(s):,} B: {c}" for s, c in cal.get("connections", {}).items())
    return "\n".join(
        [
            f"Mode **{cfg['mode']}**: {cfg['reps']} rounds of {cfg['duration']} s windows "
            f"({cfg['warmup']} s warm-up each); every round gives one window to each contender "
            f"of a group, in rotating order, all servers alive. {pin} Saturation connections "
            f"(calibrated: the fewest of 16/64/256 keeping the fastest Python server ≥ 95 % "
            f"busy): {conns or '–'}.",
            "",
            markdown(["Python", "build", "interpreter", "event loops", "measured"], rows),
            "",
            f"A window is invalid (it leaves its cell's medians and ratios) when an echoload "
            f"thread used ≥ {CLIENT_SATURATED_CORES} of a core or waited ≥ "
            f"{CLIENT_STARVED_SHARE:.0%} of the window in the run queue, or, at saturation, the "
            f"Python server was < 95 % busy; a cell with fewer than {MIN_VALID_SHARE:.0%} of its "
            f"windows valid is invalid and leaves every ratio and verdict. Invalid cells in this "
            f"run: {results['analysis']['invalid_cells']}; invalid windows in the cells that "
            f"count: {results['analysis'].get('discarded_windows', 0)}. A window whose client "
            f"or server waited ≥ {CLIENT_STARVED_SHARE:.0%} for its CPU (the machine was busy "
            f"elsewhere) is measured again, at most {STARVED_RETRIES} times, and the run fails "
            f"if it stays starved; windows measured again in this run: "
            f"{results['analysis'].get('remeasured_windows', 0)}. "
            f"Two-client check: {_two(results)}.",
        ]
    )


def _two(results: dict[str, Any]) -> str:
    t = results.get("two_clients") or {}
    if not t.get("ran"):
        return "not run here (" + str(t.get("why", "not recorded")) + ")"
    return (
        "two echoload processes on separate cores gave "
        + an.fmt(t["two_over_one"])
        + " the server rate of one (uvloop, protocol, 1,000 B)"
    )


def _why_invalid(c: dict[str, Any]) -> str:
    problems = (c.get("extra") or {}).get("invalid") or []
    if any("client" in p and "saturated" in p for p in problems):
        return "invalid: client-bound"
    if any("starved" in p for p in problems):
        return "invalid: starved"
    return "invalid: server not saturated"


def _section_table(results: dict[str, Any], section: str, p: dict[str, Any]) -> str:
    """Per API and size: req/s and CPU µs/request per loop, and loop/asyncio with intervals."""
    rows = []
    sizes = sorted({c["key"]["size"] for c in results[section]})
    for api in APIS:
        for size in sizes:
            row = [api, f"{size:,}"]
            cells = {
                lp: an.find(results[section], contender=f"{an.label(p)} {lp}", api=api, size=size)
                for lp in LOOPS
            }
            if not any(cells.values()):
                continue
            for lp in LOOPS:
                c = cells[lp]
                if c is None:
                    row.append("–")
                elif not an.usable(c, section):
                    row.append(_why_invalid(c) if c.get("ok") else "failed")
                else:
                    row.append(
                        f"{_num(_median(c, 'req_per_s'))} / "
                        f"{_num(_median(c, 'server_cpu_us_per_req'), 1)}"
                    )
            a = cells["asyncio"]
            for lp in LOOPS[1:]:
                b = cells[lp]
                ok = a and b and an.usable(a, section) and an.usable(b, section)
                iv = an.ratio(b, a) if ok and a and b else None
                row.append(an.fmt(iv.as_dict()) if iv else "–")
            rows.append(row)
    head = ["API", "size (B)", *(f"{lp}: req/s / CPU µs" for lp in LOOPS)]
    head += [f"{lp}/asyncio req/s" for lp in LOOPS[1:]]
    return markdown(head, rows)


def _saturation(results: dict[str, Any]) -> str:
    parts = []
    for p in an.interpreters(results):
        parts += [f"#### Python {an.label(p)}", "", _section_table(results, "saturation", p), ""]
    return "\n".join(parts)


def _ringloop(results: dict[str, Any]) -> str:
    """ringloop's server CPU per request over each peer's, per cell, with intervals."""
    a = results.get("analysis") or {}
    rl = a.get("ringloop") or {}
    rows = []
    for where, load in (("saturation", "saturated"), ("at_rate", "at the C++ rate")):
        for p in an.interpreters(results):
            vs_asyncio = (a.get("saturation_cpu") or {}).get(f"{an.label(p)} ringloop", {})
            per = {peer: (rl.get(where) or {}).get(f"{an.label(p)} {peer}", {}) for peer in
                   an.RINGLOOP_PEERS}  # fmt: skip
            cells = sorted(
                {k for d in per.values() for k in d.get("cells", {})},
                key=lambda k: (APIS.index(k.split()[0]), int(k.split()[1])),
            )
            for k in cells:
                row = [an.label(p), load, k.split()[0], f"{int(k.split()[1]):,}"]
                row += [an.fmt(per[peer].get("cells", {}).get(k)) for peer in an.RINGLOOP_PEERS]
                row.append(
                    an.fmt(vs_asyncio.get("cells", {}).get(k)) if where == "saturation" else "–"
                )
                rows.append(row)
            geo = [per[peer].get("geomean") for peer in an.RINGLOOP_PEERS]
            if any(geo):
                rows.append([an.label(p), load, "**geometric mean**", "",
                             *(an.fmt(g) for g in geo),
                             an.fmt(vs_asyncio.get("geomean")) if where == "saturation"
                             else "–"])  # fmt: skip
    if not rows:
        return "ringloop was not measured in this run."
    head = ["Python", "load", "API", "size (B)", *(f"ringloop/{peer} CPU per request"
            for peer in an.RINGLOOP_PEERS), "ringloop/asyncio CPU per request"]  # fmt: skip
    return markdown(head, rows)


def _floor_load(row: dict[str, Any]) -> str:
    if row["mode"] != "pingpong":
        return f"{row['rate']:,.0f} req/s offered"
    conns = f"{plan.PINGPONG_CONNECTIONS} connections"
    return f"{row['rate']:,.0f} req/s over {conns}" if row.get("rate") else f"closed loop, {conns}"


def _floor_table(rows_in: list[dict[str, Any]], measure: str) -> str:
    rows = [
        [
            r["mode"],
            f"{r['size']:,}",
            _floor_load(r),
            f"C++ {engine}",
            _num(d["us"], 2),
            _num(d.get("req_per_s")),
            r["python"],
            _num(r["python_us"], 2),
            an.fmt(d["python_over_cpp"]),
        ]
        for r in rows_in
        for engine, d in r["engines"].items()
    ]
    if not rows:
        return "(no C++ server measured beside the Python ones)"
    head = ["mode", "size (B)", "load (every server)", "server", f"{measure} µs/request", "req/s"]
    head += ["cheapest Python server at that load", f"its {measure} µs/request", "Python / C++"]
    return markdown(head, rows)


def _floor(results: dict[str, Any]) -> str:
    parts = [_floor_table(results["analysis"].get("floor", []), "CPU")]
    parts += _wakeups(results["analysis"].get("wakeups"))
    return "\n".join(parts)


def _floor_user(results: dict[str, Any]) -> str:
    return _floor_table(results["analysis"].get("floor_user", []), "user-space CPU")


def _wakeups(w: dict[str, Any] | None) -> list[str]:
    """The ping-pong busy-polling diagnosis under the floor table."""
    parts: list[str] = []
    if w and w.get("invalid"):
        parts += ["", f"Ping-pong wake-ups ({w['size']:,} B): not measurable: {w['invalid']}."]
    elif w:
        rows = [
            [
                f"C++ {name}",
                _num(w[name]["req_per_s"]),
                _num(w[name]["p50_us"]),
                _num(w[name]["us"], 2),
            ]
            for name in ("epoll", "epoll-busy")
        ]
        parts += [
            "",
            f"Ping-pong ({w['size']:,} B, 3 connections): the epoll server blocking in "
            "epoll_wait against the same server busy polling (never sleeping). Busy polling / "
            f"blocking req/s: {an.fmt(w['busy_over_blocking'])}; the fastest Python server "
            f"({w.get('python', '–')}) / blocking: {an.fmt(w.get('python_over_blocking'))}; "
            f"busy polling / that Python server: {an.fmt(w.get('busy_over_python'))}.",
            "",
            markdown(["server", "req/s", "p50 µs", "CPU µs/request"], rows),
        ]
    return parts


def _pingpong(results: dict[str, Any]) -> str:
    if not results["pingpong"]:
        return "(not measured)"
    parts = []
    for p in an.interpreters(results, main=True):
        parts += [f"#### Python {an.label(p)}", "", _section_table(results, "pingpong", p), ""]
        rows = []
        for c in results["pingpong"]:
            if (
                c["key"].get("python") == p["version"]
                and c["key"].get("build") == p["build"]
                and "rate" not in c["key"]  # the floor's fixed-rate cells: see the floor
            ):
                rows.append(
                    [
                        c["key"]["contender"],
                        c["key"]["api"],
                        _num(_median(c, "p50_us")),
                        _num(_median(c, "p99_us")),
                    ]
                )
        parts += [markdown(["contender", "API", "p50 µs", "p99 µs"], rows), ""]
    orig = ", ".join(
        f"{api} {size:,} B {u / a:.2f}x"
        for (api, size), (a, u) in an.ORIGINAL.items()
        if size == 1000
    )
    parts.append(f"The original (Python 3.13.7, uvloop 0.21.0) at 1,000 B: {orig}.")
    return "\n".join(parts)


def _http(results: dict[str, Any]) -> str:
    if not results["http"]:
        return "(not measured)"
    rows = []
    for c in results["http"]:
        rows.append(
            [
                c["key"]["contender"],
                _num(_median(c, "req_per_s")),
                _num(_median(c, "server_cpu_us_per_req"), 1),
                "ok" if an.usable(c, "http") else "invalid",
            ]
        )
    return markdown(["contender", "req/s", "server CPU µs/request", "valid"], rows)


def _pgo(results: dict[str, Any]) -> str:
    rows = [
        [
            e["version"],
            e["with_pgo"],
            e["without"],
            an.fmt(e["ratio_change"]),
            an.fmt(e["asyncio_gain"]),
        ]
        for e in results["analysis"].get("pgo", [])
    ]
    if not rows:
        return "(no interpreter measured with and without PGO in this run)"
    return markdown(
        ["Python", "with PGO+LTO", "without", "change of uvloop/asyncio", "asyncio with / without"],
        rows,
    )


def _crosscheck(results: dict[str, Any]) -> str:
    if not results.get("crosscheck"):
        return "(not measured)"
    rows = []
    for c in results["crosscheck"]:
        k = c["key"]
        head = [k["python"], k["loop"], k["api"], f"{k['size']:,}"]
        if not c["ok"]:
            rows.append([*head, f"failed: {c['error']}", "", "", ""])
            continue
        decided = find_verdict(results.get("verdicts", []), an.crosscheck_question(c))
        rows.append(
            [
                *head,
                _num(c["echoload_req_per_s"]),
                _num(c["pyclient_loop_req_per_s"]),
                f"{c['difference'] * 100:+.0f} %",
                decided["answer"] if decided else "not decided",
            ]
        )
    return markdown(
        [
            "Python",
            "loop",
            "API",
            "size",
            "echoload req/s",
            "original client req/s",
            "difference",
            "verdict",
        ],
        rows,
    )


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    return {
        "setup": _setup(results),
        "answers": verdict_table(results.get("verdicts", [])),
        "saturation": _saturation(results) + "\n\n![CPU per request](results/saturation_cpu.png)"
        "\n\n![ratios](results/ratios.png)",
        "ringloop": _ringloop(results),
        "pingpong": _pingpong(results),
        "http": _http(results),
        "floor": _floor(results),
        "floor_user": _floor_user(results),
        "pgo": _pgo(results),
        "crosscheck": _crosscheck(results),
    }
