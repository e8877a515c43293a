"""Plots and README sections for a run (all generated from the results dictionary)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lab.stats import geometric_mean
from lab.tables import markdown
from lab.verdicts import find
from uvloop_bench import analysis as an
from uvloop_bench.analysis import crosscheck_question

LOOP_COLORS = {"asyncio": "#30638e", "uvloop": "#d1495b", "rloop": "#edae49"}


def plots(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from lab.plotting import save

    paths = []
    pys = an.pyversions(results)
    loops = [lp for lp in an.LOOPS if any(c["key"].get("loop") == lp for c in results["grid"])]
    if pys and results["grid"]:
        # req/s and MB/s per loop x API x size x Python.
        for stat, unit, name in (
            ("req_per_s", "requests/s", "grid_req_s"),
            ("mb_per_s", "MB/s", "grid_mb_s"),
        ):
            fig, axes = plt.subplots(
                len(pys),
                len(an.SIZES),
                figsize=(4.2 * len(an.SIZES), 3.2 * len(pys)),
                squeeze=False,
            )
            for i, py in enumerate(pys):
                for j, size in enumerate(an.SIZES):
                    ax = axes[i][j]
                    width = 0.8 / max(1, len(loops))
                    for li, lp in enumerate(loops):
                        xs, ys, lo, hi = [], [], [], []
                        for ai, api in enumerate(an.APIS):
                            c = an.find(results["grid"], python=py, loop=lp, api=api, size=size)
                            if c and c["ok"] and stat in c["stats"]:
                                s = c["stats"][stat]
                                xs.append(ai + (li - (len(loops) - 1) / 2) * width)
                                ys.append(s["median"])
                                lo.append(s["median"] - s["min"])
                                hi.append(s["max"] - s["median"])
                        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=lp,
                               color=LOOP_COLORS[lp])  # fmt: skip
                    ax.set_xticks(range(len(an.APIS)), an.APIS, fontsize=8)
                    ax.set_title(f"Python {py}, {size:,} B", fontsize=9)
                    if j == 0:
                        ax.set_ylabel(unit)
            axes[0][0].legend(fontsize=8)
            fig.suptitle(f"Echo {unit}, 3 connections ping-pong (median, bars: min-max)")
            paths.append(save(fig, out / f"{name}.png"))

        # uvloop/asyncio ratio per cell, ours on each Python vs the original's.
        fig, ax = plt.subplots(figsize=(10, 3.6))
        labels = [f"{api}\n{size // 1000}k" for api in an.APIS for size in an.SIZES]
        orig = an.original_ratios()
        ax.scatter(
            [k for k, (api, size) in enumerate((a, s) for a in an.APIS for s in an.SIZES)
             if (api, size) in orig],
            [orig[(a, s)] for a in an.APIS for s in an.SIZES if (a, s) in orig],
            marker="x", color="black", label="original (3.13.7, uvloop 0.21)", zorder=3,
        )  # fmt: skip
        for n, py in enumerate(pys):
            pairs = an.loop_ratios(results, py, apis=an.APIS)
            xs = [
                k for k, key in enumerate((a, s) for a in an.APIS for s in an.SIZES) if key in pairs
            ]
            ys = [
                pairs[key][1] / pairs[key][0]
                for key in ((a, s) for a in an.APIS for s in an.SIZES)
                if key in pairs
            ]
            ax.scatter([x + 0.12 * (n + 1) for x in xs], ys, label=f"Python {py}", zorder=3)
        keys = [(a, s) for a in an.APIS for s in an.SIZES]
        old = {(r["api"], r["size"]): r["ratio_021"] for r in an.original_uvloop(results)}
        old_pts = [(keys.index(k), v) for k, v in old.items() if v]
        if old_pts:
            ax.scatter(
                [x - 0.12 for x, _ in old_pts],
                [v for _, v in old_pts],
                marker="s",
                facecolors="none",
                edgecolors="gray",
                label=f"Python {pys[-1]}, uvloop 0.21.0",
                zorder=3,
            )
        ax.axhline(1, color="gray", lw=1)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel("uvloop / asyncio req/s")
        ax.legend(fontsize=8)
        ax.set_title("uvloop/asyncio per cell (below 1: asyncio faster)")
        paths.append(save(fig, out / "ratios.png"))

        # Server CPU microseconds per request.
        fig, axes = plt.subplots(1, len(pys), figsize=(6 * len(pys), 3.4), squeeze=False)
        for i, py in enumerate(pys):
            ax = axes[0][i]
            width = 0.8 / max(1, len(loops))
            for li, lp in enumerate(loops):
                xs, ys = [], []
                for ai, api in enumerate(an.APIS):
                    c = an.find(results["grid"], python=py, loop=lp, api=api, size=1000)
                    v = an.median(c, "server_cpu_us_per_req")
                    if v:
                        xs.append(ai + (li - (len(loops) - 1) / 2) * width)
                        ys.append(v)
                ax.bar(xs, ys, width, label=lp, color=LOOP_COLORS[lp])
            ax.set_xticks(range(len(an.APIS)), an.APIS)
            ax.set_ylabel("server CPU µs per request")
            ax.set_title(f"Python {py}, 1000 B")
        axes[0][0].legend(fontsize=8)
        paths.append(save(fig, out / "cpu_per_request.png"))

    if results.get("sweep"):
        sweep_pys = sorted({c["key"]["python"] for c in results["sweep"]})
        apis = [a for a in an.APIS if any(c["key"]["api"] == a for c in results["sweep"])]
        size = (4 * len(apis), 3.2 * len(sweep_pys))
        fig, axes = plt.subplots(len(sweep_pys), len(apis), figsize=size, squeeze=False)
        for i, py in enumerate(sweep_pys):
            for j, api in enumerate(apis):
                ax = axes[i][j]
                for lp in loops:
                    pts = [(c["key"]["connections"], an.median(c)) for c in results["sweep"]
                           if c["key"]["python"] == py and c["key"]["api"] == api
                           and c["key"]["loop"] == lp and an.median(c)]  # fmt: skip
                    if pts:
                        ax.plot(
                            *zip(*sorted(pts), strict=True),
                            marker="o",
                            label=lp,
                            color=LOOP_COLORS[lp],
                        )
                ax.set_xscale("log")
                ax.set_title(f"Python {py}, {api}, 1000 B", fontsize=9)
                ax.set_xlabel("connections")
                ax.set_ylabel("requests/s")
        axes[0][0].legend(fontsize=8)
        paths.append(save(fig, out / "concurrency.png"))

    if results.get("latency"):
        lat_keys = sorted({(c["key"]["python"], c["key"]["api"]) for c in results["latency"]})
        fig, axes = plt.subplots(1, len(lat_keys), figsize=(5 * len(lat_keys), 3.4), squeeze=False)
        for j, (py, api) in enumerate(lat_keys):
            ax = axes[0][j]
            for lp in loops:
                cells = sorted(
                    (c for c in results["latency"] if c["key"]["python"] == py
                     and c["key"]["api"] == api and c["key"]["loop"] == lp and c["ok"]),
                    key=lambda c: c["key"]["rate"],
                )  # fmt: skip
                if not cells:
                    continue
                rates = [c["key"]["rate"] for c in cells]
                ax.plot(rates, [c["stats"]["p50_us"]["median"] for c in cells], marker="o",
                        color=LOOP_COLORS[lp], label=f"{lp} p50")  # fmt: skip
                ax.plot(rates, [c["stats"]["p99_us"]["median"] for c in cells], marker="^",
                        ls="--", color=LOOP_COLORS[lp], label=f"{lp} p99")  # fmt: skip
            ax.set_yscale("log")
            ax.set_xlabel("offered load (req/s, open loop)")
            ax.set_ylabel("latency µs (from intended send)")
            ax.set_title(f"Python {py}, {api}, 3 conns, 1000 B", fontsize=9)
            ax.legend(fontsize=7)
        paths.append(save(fig, out / "latency.png"))

    findings = an.sock_recv_findings(results) if results.get("sock_recv") else {}
    if findings:
        fig, axes = plt.subplots(
            1, len(findings), figsize=(3.6 * len(findings), 3.4), squeeze=False
        )
        variants = ("sockets", "sockets-eager", "sockets-wait")
        for ax, row in zip(axes[0], findings, strict=True):
            for li, lp in enumerate(("asyncio", "uvloop")):
                vals = [row.get(f"{lp} {v}", {}).get("cpu_us") or 0 for v in variants]
                xs = [k + (li - 0.5) * 0.4 for k in range(len(variants))]
                ax.bar(xs, vals, 0.4, label=lp, color=LOOP_COLORS[lp])
            ax.set_xticks(range(len(variants)), ["plain", "eager", "wait"])
            ax.set_title(
                f"Python {row['python']}, {row['size']:,} B, {row['depth']} in flight", fontsize=8
            )
            ax.set_ylabel("server CPU µs / request")
        axes[0][0].legend(fontsize=8)
        fig.suptitle("sock_recv: plain vs recv() first vs always wait (3 connections)")
        paths.append(save(fig, out / "sock_recv.png"))
    return paths


# --------------------------------------------------------------------------- README


def _pct(x: float) -> str:
    return f"{x * 100:+.0f} %"


def _table(header: list[str], rows: list[list[str]]) -> str:
    return markdown(header, rows)


def _loops(results: dict[str, Any]) -> list[str]:
    return [lp for lp in an.LOOPS if any(c["key"].get("loop") == lp for c in results["grid"])]


def _setup(results: dict[str, Any]) -> str:
    cfg = results["config"]
    pin = (
        "Server pinned to CPU 0, echoload (one thread) to CPU 1."
        if cfg["pinned"]
        else "CPUs 0 and 1 were not both available: nothing was pinned."
    )
    rows = []
    for p in results["pythons"]:
        if p["ok"]:
            loops = ", ".join(f"{k} {v}" for k, v in p["loops"].items())
            rows.append([p["version"], loops, ", ".join(p["skipped"]) or "–"])
        else:
            rows.append([p["exe"], f"(no venv: {p['error']})", ""])
    failed = results["analysis"]["failed_cells"]
    load = cfg.get("loadavg_start")
    busy = ""
    if load and load[0] > 0.5:
        busy = (
            f" The machine was busy (load average {load[0]:.1f} at the start, "
            f"{cfg['loadavg_end'][0]:.1f} at the end, on {os.cpu_count()} CPUs): differences "
            "within the min–max ranges are noise."
        )
    return "\n".join(
        [
            f"Mode **{cfg['mode']}**: {cfg['reps']} repetitions per cell, {cfg['warmup']} s "
            f"warm-up, {cfg['duration']} s measured; figures are medians with (min–max) of the "
            f"repetitions. {pin}{busy}",
            "",
            _table(["Python", "event loops (versions)", "not installed"], rows),
            "",
            f"Failed cells in this run: {failed}."
            + (" They are marked *failed* in the tables." if failed else ""),
        ]
    )


def _overall(results: dict[str, Any]) -> str:
    rows = []
    for py in an.pyversions(results):
        o = results["analysis"]["overall"][py]
        r = results["analysis"]["overall_rloop"].get(py, {})
        rows.append(
            [
                py,
                str(o["cells"]),
                f"{o['geomean']:.2f}x",
                f"{o['ratio_of_means']:.2f}x",
                f"{r['geomean']:.2f}x" if r.get("cells") else "–",
            ]
        )
    orig = geometric_mean(an.original_ratios().values())
    rows.append(["original (3.13.7)", "9", f"{orig:.2f}x", f"{an.ORIGINAL_OVERALL}x", "–"])
    head = ["Python", "cells", "uvloop/asyncio, geometric mean"]
    head += ["ratio of means (the original's method)", "rloop/asyncio, geometric mean"]
    return _table(head, rows)


def _cpu_latency(results: dict[str, Any]) -> str:
    out = []
    loops = _loops(results)
    for py in an.pyversions(results):
        out.append(f"#### Python {py}: server CPU µs per request (from /proc, all threads)\n")
        out.append(an.metric_table(results, py, "server_cpu_us_per_req", 1))
        out.append(f"\n#### Python {py}: latency p50 / p99 in µs (closed loop, ping-pong)\n")
        rows = []
        for api in an.APIS:
            for size in an.SIZES:
                vals = []
                for lp in loops:
                    c = an.find(results["grid"], python=py, loop=lp, api=api, size=size)
                    p50, p99 = an.median(c, "p50_us"), an.median(c, "p99_us")
                    if p50 and p99:
                        vals.append(f"{p50:,.0f} / {p99:,.0f}")
                    else:
                        vals.append("failed" if c and not c["ok"] else "–")
                rows.append([api, f"{size:,}", *vals])
        out.append(_table(["API", "size", *loops], rows))
        out.append("")
    return "\n".join(out)


def _sweep(results: dict[str, Any]) -> str:
    if not results.get("sweep"):
        return "(not measured)"
    keys = sorted(
        {(c["key"]["python"], c["key"]["loop"], c["key"]["api"]) for c in results["sweep"]},
        key=lambda k: (k[0], an.APIS.index(k[2]), an.LOOPS.index(k[1])),
    )
    rows = []
    for py, lp, api in keys:
        cells = [
            an.find(results["sweep"], python=py, loop=lp, api=api, connections=n)
            for n in (1, 10, 100)
        ]
        rows.append([py, api, lp, *(an.fmt_spread(c) for c in cells)])
    return _table(["Python", "API", "loop", "1 connection", "10", "100"], rows)


def _latency(results: dict[str, Any]) -> str:
    if not results.get("latency"):
        return "(not measured)"
    rows = []
    order = sorted(
        results["latency"],
        key=lambda c: (
            c["key"]["python"],
            c["key"]["api"],
            c["key"]["rate"],
            an.LOOPS.index(c["key"]["loop"]),
        ),
    )
    for c in order:
        k = c["key"]
        head = [k["python"], k["api"], f"{k['rate']:,}", k["loop"]]
        if not c["ok"]:
            rows.append([*head, "failed", "", "", ""])
            continue
        s = c["stats"]
        rows.append(
            head + [f"{s[n]['median']:,.0f}" for n in ("req_per_s", "p50_us", "p99_us", "p999_us")]
        )
    head = ["Python", "API", "offered req/s", "loop", "achieved req/s", "p50 µs", "p99 µs"]
    return (
        _table([*head, "p99.9 µs"], rows)
        + "\n\nOpen loop, 3 connections, 1000 B. An achieved rate below the offered one means "
        "the server saturated; latency is counted from each request's intended send time, so "
        "the queue that builds up shows in it (no coordinated omission)."
    )


def _proof(results: dict[str, Any]) -> str:
    ce = results["analysis"]["ceiling"]
    if not ce:
        return "(not measured)"
    fk = ce["fastest_python"]
    out = [
        f"Fastest Python server at 1000 B with 3 connections: **{fk['loop']} {fk['api']} on "
        f"Python {fk['python']}, {ce['fastest_req_per_s']:,.0f} req/s**.\n"
    ]
    rows = []
    for c in results["ceiling"]:
        k = c["key"]
        d = ce.get(f"{k['engine']}_depth{k['depth']}")
        if d:
            rows.append(
                [
                    k["engine"],
                    str(k["depth"]),
                    f"{d['req_per_s']:,.0f}",
                    f"{d['ratio']:.1f}x",
                    f"{d['echoload_cores']:.2f}",
                    f"{d['server_cores']:.2f}",
                ]
            )
        else:
            rows.append([k["engine"], str(k["depth"]), f"failed: {c.get('error')}", "", "", ""])
    head = ["C++ server", "requests in flight per connection", "req/s", "× fastest Python"]
    out.append(_table([*head, "echoload CPU (cores, max)", "server CPU (cores)"], rows))
    best, d1 = ce.get("best_epoll"), ce.get("epoll_depth1")
    if best:
        verdict = "**the 3x requirement holds**" if ce["passes"] else "**below 3x on this run**"
        out.append(
            f"\nOn one thread and 3 connections, echoload drives the C++ epoll server at "
            f"{best['ratio']:.1f}x the fastest Python server's rate (depth {best['depth']}): "
            f"{verdict}."
        )
    if d1:
        out.append(
            f" In strict ping-pong (depth 1) it reaches {d1['ratio']:.1f}x: there, three "
            "connections are bound by the round-trip time (two wake-ups across cores per "
            f"request), not by CPU: the C++ server used {d1['server_cores']:.2f} of its core "
            f"and echoload {d1['echoload_cores']:.2f} of its own."
        )
    if ce.get("echoload_max_cores_in_grid") is not None:
        out.append(
            f" During the Python grid echoload never used more than "
            f"{ce['echoload_max_cores_in_grid']:.2f} of its core."
        )
    return "\n".join(out)


def _crosscheck(results: dict[str, Any]) -> str:
    if not results.get("crosscheck"):
        return "(not measured)"
    rows, notes = [], []
    for c in results["crosscheck"]:
        k = c["key"]
        head = [k["python"], k["loop"], k["api"], f"{k['size']:,}"]
        if not c["ok"]:
            rows.append([*head, f"failed: {c['error']}", "", "", "", "", ""])
            continue
        decided = find(results.get("verdicts", []), crosscheck_question(c))
        verdict = decided["answer"] if decided else "not decided"
        agree = verdict != "disagree"
        rows.append(
            [
                *head,
                f"{c['echoload_req_per_s']:,.0f}",
                f"{c['pyclient_loop_req_per_s']:,.0f}",
                f"{c['pyclient_wall_req_per_s']:,.0f}",
                _pct(c["difference"]),
                f"{c['pyclient_cpu_us_per_req']:.1f} / {c['echoload_cpu_us_per_req']:.1f}",
                verdict,
            ]
        )
        if not agree:
            notes.append(
                f"{k['loop']} {k['api']} ({k['python']}, {k['size']:,} B): the original's client "
                f"spends {c['pyclient_cpu_us_per_req']:.1f} µs of CPU per request against "
                f"echoload's {c['echoload_cpu_us_per_req']:.1f} µs. In ping-pong that time is "
                "part of every round trip, so a client that is far from saturated "
                f"({c['pyclient_cpu_cores']:.2f} cores) still lowers the rate, and more so the "
                "faster the server: three processes sharing one core also pay a context switch "
                "per echo, where echoload serves all three connections from one epoll thread."
            )
    head = ["Python", "loop", "API", "size", "echoload req/s", "original client req/s"]
    head += ["(with start-up, their figure)", "difference", "client CPU µs/req (theirs / ours)"]
    text = _table([*head, "verdict"], rows)
    if notes:
        text += "\n\nWhere they disagree:\n\n" + "\n".join(f"- {n}" for n in notes)
    return text


def _sock_recv(results: dict[str, Any]) -> str:
    findings = results["analysis"].get("sock_recv") or []
    if not findings:
        return "(not measured)"
    rows = []
    for row in findings:
        for loop in ("asyncio", "uvloop"):
            cols = []
            for api in ("sockets", "sockets-eager", "sockets-wait"):
                e = row.get(f"{loop} {api}", {})
                rps, cpu = e.get("req_per_s"), e.get("cpu_us")
                cols.append(f"{rps:,.0f} / {cpu:.1f}" if rps and cpu else "–")
            hit = row.get(f"{loop} sockets-eager", {}).get("hit_rate")
            head = [row["python"], f"{row['size']:,}", str(row["depth"]), loop]
            rows.append([*head, *cols, f"{hit * 100:.0f} %" if hit is not None else "–"])
    head = ["Python", "size", "in flight", "loop", "plain `sock_recv`", "eager: `recv()` first"]
    head += ["always wait", "eager `recv()` found data"]
    text = _table(head, rows)
    text += "\n\nCells: req/s / server CPU µs per request (medians), 3 connections."
    words = an.sock_recv_text(findings)
    if words:
        text += "\n\n" + "\n\n".join(words)
    return text


def _code(results: dict[str, Any]) -> str:
    out = []
    for py, src in results.get("code", {}).items():
        if src.get("asyncio"):
            out.append(
                f"Python {py}, `asyncio.selector_events.BaseSelectorEventLoop.sock_recv`:\n\n"
                f"```python\n{src['asyncio'].rstrip()}\n```\n"
            )
    uv = [s["uvloop"] for s in results.get("code", {}).values() if s.get("uvloop")]
    if uv:
        out.append(
            "uvloop `Loop.sock_recv` (`uvloop/loop.pyx` as installed):\n\n"
            f"```cython\n{uv[-1].rstrip()}\n```"
        )
    return "\n".join(out) or "(sources not found)"


def _original_uvloop(results: dict[str, Any]) -> str:
    rows = results["analysis"].get("original_uvloop") or []
    if not rows:
        return "(not measured: uvloop 0.21.0 did not install, or no interpreter)"

    def n(v: float | None) -> str:
        return f"{v:,.0f}" if v else "failed"

    def x(v: float | None) -> str:
        return f"{v:.2f}x" if v else "–"

    body = [
        [
            *(r["python"], r["api"], f"{r['size']:,}"),
            *(n(r["asyncio"]), n(r["uvloop_new"]), n(r["uvloop_021"])),
            *(x(r["ratio_new"]), x(r["ratio_021"]), x(r["original_ratio"])),
            " / ".join(f"{v:.1f}" if v else "–" for v in r.get("cpu_us", [])),
        ]
        for r in rows
    ]
    head = ["Python", "API", "size", "asyncio", "uvloop 0.23.0", "uvloop 0.21.0"]
    head += ["0.23/asyncio", "0.21/asyncio", "original 0.21/asyncio"]
    return _table([*head, "server µs/req: asyncio / 0.23 / 0.21"], body)


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    tables = []
    for py in an.pyversions(results):
        tables += [f"#### Python {py}: requests/s, 3 connections, ping-pong\n"]
        tables += [an.grid_table(results, py), ""]
    tables.append(
        "The original's columns are its single run on Python 3.13.7 with uvloop 0.21.0 on "
        "another machine: compare ratios, not absolute numbers."
    )
    return {
        "setup": _setup(results),
        "answers": "\n\n".join(results["analysis"]["verdicts"]) or "(no data)",
        "grid": "\n".join(tables),
        "overall": _overall(results),
        "cpu_latency": _cpu_latency(results),
        "sweep": _sweep(results),
        "latency": _latency(results),
        "proof": _proof(results),
        "crosscheck": _crosscheck(results),
        "sock_recv": _sock_recv(results),
        "code": _code(results),
        "original_uvloop": _original_uvloop(results),
    }
