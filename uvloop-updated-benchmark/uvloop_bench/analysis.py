"""Ratios with bootstrap intervals, tables and verdicts computed from a run's cells.

Everything here is a pure function of the results dictionary ``experiment.run`` returns. Every
ratio is paired by repetition (contenders of a group take turns within each round), so its
interval reflects the noise that remains after the machine's drift between rounds cancels; a
verdict names a winner only when its interval excludes 1 (``lab.stats.direction``). A window whose
client was saturated or starved, or (saturation, HTTP) whose Python server was not saturated, is
left out of its cell's medians and ratios; a cell with too few valid windows
(runner.MIN_VALID_SHARE) is left out of every ratio and verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lab.stats import Interval, direction, geometric_mean_interval, ratio_interval
from lab.verdicts import Verdict, verdict
from uvloop_bench.plan import APIS, AT_RATE, LOOPS, SIZES

#: The original study's figures (Python 3.13.7, uvloop 0.21.0, 3 connections; req/s).
ORIGINAL: dict[tuple[str, int], tuple[float, float]] = {
    ("sockets", 1000): (21041, 13854),
    ("sockets", 10000): (17564, 13009),
    ("sockets", 100000): (9601, 6751),
    ("streams", 1000): (15477, 34462),
    ("streams", 10000): (13889, 29883),
    ("streams", 100000): (7176, 15523),
    ("protocol", 1000): (24249, 50874),
    ("protocol", 10000): (18575, 44018),
    ("protocol", 100000): (8681, 19886),
}
ORIGINAL_OVERALL = 1.68  # their "overall": ratio of arithmetic means
CROSSCHECK_AGREEMENT = 0.10  # echoload and the original's client agree within this share
TWO_CLIENT_EQUAL = (0.95, 1.05)  # two clients "give the same rate" inside this interval

Cell = dict[str, Any]


def usable(cell: Cell | None, section: str) -> bool:
    """Whether a cell's figures measure its server: enough of its windows valid (see
    runner.Cell.summarize, which judges each window, saturation included where ``section``
    needs it)."""
    if not cell or not cell.get("ok") or not cell.get("runs"):
        return False
    return not (cell.get("extra") or {}).get("invalid")


def find(cells: Iterable[Cell], **key: Any) -> Cell | None:
    for c in cells:
        if all(c["key"].get(k) == v for k, v in key.items()):
            return c
    return None


def per_round(cell: Cell, stat: str) -> dict[int, float]:
    out = {}
    for i, r in enumerate(cell["runs"]):
        if not r.get("valid", True):  # a window left out of its cell (runner.Cell.summarize)
            continue
        value = r.get("latency_us", {}).get(stat[:-3]) if stat.endswith("_us") else r.get(stat)
        if value:
            out[r.get("round", i)] = float(value)
    return out


def paired(a: Cell, b: Cell, stat: str) -> tuple[list[float], list[float]]:
    """Values of ``stat`` in the rounds both cells measured, in round order."""
    ra, rb = per_round(a, stat), per_round(b, stat)
    common = sorted(set(ra) & set(rb))
    return [ra[k] for k in common], [rb[k] for k in common]


def ratio(a: Cell, b: Cell, stat: str = "req_per_s") -> Interval | None:
    """a / b of ``stat``, paired by round (None when fewer than 2 rounds pair up)."""
    xa, xb = paired(a, b, stat)
    return ratio_interval(xa, xb) if len(xa) >= 2 else None


def round_ratios(a: Cell, b: Cell, stat: str = "req_per_s") -> list[float]:
    xa, xb = paired(a, b, stat)
    return [x / y for x, y in zip(xa, xb, strict=True)]


def interpreters(results: dict[str, Any], main: bool | None = None) -> list[dict[str, Any]]:
    return [
        p
        for p in results.get("pythons", [])
        if p.get("ok") and (main is None or p.get("main") == main)
    ]


def version_key(p: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(part) for part in p["version"].split(".")[:3])


def label(p: dict[str, Any]) -> str:
    return f"{p['version']} {p['build']}"


def loop_cell(
    results: dict[str, Any], section: str, p: dict[str, Any], loop: str, **key: Any
) -> Cell | None:
    c = find(results[section], contender=f"{label(p)} {loop}", **key)
    return c if usable(c, section) else None


def loop_vs_asyncio(
    results: dict[str, Any], section: str, p: dict[str, Any], loop: str, stat: str = "req_per_s"
) -> dict[str, Any]:
    """``loop``/asyncio on interpreter ``p``: per (api, size) intervals and their geomean."""
    return loop_vs(results, section, p, loop, "asyncio", stat)


def loop_vs(
    results: dict[str, Any],
    section: str,
    p: dict[str, Any],
    loop: str,
    base: str,
    stat: str = "req_per_s",
    suffix: str = "",
) -> dict[str, Any]:
    """``loop``/``base`` on interpreter ``p``: per (api, size) intervals and their geomean, over
    the cells where both are usable (``suffix``: of contenders named "<loop><suffix>")."""
    per: dict[str, Any] = {}
    samples = []
    for api in APIS:
        for size in SIZES:
            a = loop_cell(results, section, p, base + suffix, api=api, size=size)
            b = loop_cell(results, section, p, loop + suffix, api=api, size=size)
            if a and b and (iv := ratio(b, a, stat)):
                per[f"{api} {size}"] = iv.as_dict()
                samples.append(round_ratios(b, a, stat))
    out: dict[str, Any] = {"cells": per}
    if samples:
        out["geomean"] = geometric_mean_interval(samples).as_dict()
    return out


#: ringloop (this repository's loop) against the two replacement loops it must beat.
RINGLOOP_PEERS = ("uvloop", "rloop")
CPU = "server_cpu_us_per_req"


def ringloop_vs_peers(results: dict[str, Any]) -> dict[str, Any]:
    """ringloop's server CPU per request over uvloop's and rloop's: at saturation on every
    interpreter (the cells where both servers were saturated and their client was not), and
    at the C++ servers' fixed rate on the newest one (protocol API: the same load for both)."""
    out: dict[str, Any] = {"saturation": {}, "at_rate": {}}
    for p in interpreters(results):
        for peer in RINGLOOP_PEERS:
            out["saturation"][f"{label(p)} {peer}"] = loop_vs(
                results, "saturation", p, "ringloop", peer, CPU
            )
    for p in interpreters(results, main=True):
        for peer in RINGLOOP_PEERS:
            r = loop_vs(results, "saturation", p, "ringloop", peer, CPU, suffix=f" {AT_RATE}")
            if r["cells"]:
                out["at_rate"][f"{label(p)} {peer}"] = r
    return out


def _iv(d: dict[str, float]) -> Interval:
    return Interval(**d)


def fmt(d: dict[str, float] | None, unit: str = "x") -> str:
    if not d:
        return "–"
    return f"{d['value']:.2f}{unit} [{d['low']:.2f}, {d['high']:.2f}]"


def pgo_effect(results: dict[str, Any]) -> list[dict[str, Any]]:
    """For each version with a PGO and a plain build: how PGO changes uvloop/asyncio, per API
    at the sizes both ran (ratio of the two ratios, paired by round), and asyncio's own gain."""
    out = []
    byver: dict[str, dict[str, dict[str, Any]]] = {}
    for p in interpreters(results):
        byver.setdefault(p["version"][:4], {})[p["build"]] = p
    for ver, builds in sorted(byver.items()):
        fast = builds.get("pgo") or builds.get("debian")
        slow = builds.get("plain") or builds.get("pyenv")
        if not (fast and slow):
            continue
        gap, gain = [], []
        for api in APIS:
            for size in SIZES:
                cells = {
                    (b, lp): loop_cell(results, "saturation", p, lp, api=api, size=size)
                    for b, p in (("fast", fast), ("slow", slow))
                    for lp in ("asyncio", "uvloop")
                }
                if not all(cells.values()):
                    continue
                fa, fu = cells[("fast", "asyncio")], cells[("fast", "uvloop")]
                sa, su = cells[("slow", "asyncio")], cells[("slow", "uvloop")]
                assert fa and fu and sa and su
                r_fast = dict(zip(*map(list, _rounds(fu, fa)), strict=True))
                r_slow = dict(zip(*map(list, _rounds(su, sa)), strict=True))
                common = sorted(set(r_fast) & set(r_slow))
                if len(common) >= 2:
                    gap.append([r_fast[k] / r_slow[k] for k in common])
                gain.append(round_ratios(fa, sa))
        if gap:
            out.append(
                {
                    "version": ver,
                    "with_pgo": label(fast),
                    "without": label(slow),
                    "ratio_change": geometric_mean_interval(gap).as_dict(),
                    "asyncio_gain": geometric_mean_interval(
                        [g for g in gain if len(g) >= 2]
                    ).as_dict(),
                }
            )
    return out


def _rounds(a: Cell, b: Cell) -> tuple[list[int], list[float]]:
    ra, rb = per_round(a, "req_per_s"), per_round(b, "req_per_s")
    common = sorted(set(ra) & set(rb))
    return common, [ra[k] / rb[k] for k in common]


def newer_python(results: dict[str, Any]) -> dict[str, Any] | None:
    """asyncio and uvloop on the newest main interpreter vs the oldest (paired, saturation)."""
    main = interpreters(results, main=True)
    if len(main) < 2:
        return None
    # By version, not by the order the run lists them in (it put 3.13 before 3.11, and the
    # published verdict called the older Python the newer one).
    old, new = sorted(main, key=version_key)[:: len(main) - 1]
    out: dict[str, Any] = {"old": label(old), "new": label(new)}
    for loop in ("asyncio", "uvloop"):
        samples = []
        for api in APIS:
            for size in SIZES:
                a = loop_cell(results, "saturation", old, loop, api=api, size=size)
                b = loop_cell(results, "saturation", new, loop, api=api, size=size)
                if a and b and len(r := round_ratios(b, a)) >= 2:
                    samples.append(r)
        if samples:
            out[loop] = geometric_mean_interval(samples).as_dict()
    return out


#: Where the C++ servers run beside the Python ones: section -> the APIs of its Python cells.
FLOOR_GROUPS = {
    "saturation": ("protocol",),
    "pingpong": ("protocol",),
    "http": ("http", "http-httptools", "http-streams"),
}
#: The C++ servers that are floors (the busy-polling one is a diagnostic: it burns its core).
FLOOR_ENGINES = ("epoll", "io_uring", "epoll-http")


#: The floor's two measures: all the server's CPU per request (schedstat), and the part of it
#: spent in user space, the loop's own work (perf samples in a second window; usercpu).
FLOOR_STATS = {"floor": "server_cpu_us_per_req", "floor_user": "server_user_us_per_req"}


def floor(results: dict[str, Any], stat: str = "server_cpu_us_per_req") -> list[dict[str, Any]]:
    """Per mode and size: ``stat`` (CPU µs per request, or its user-space part) of each C++
    server against the cheapest Python server measured under the same load beside it, paired
    by round; the C++ server is the floor when that ratio's interval is above 1.

    Same load: in saturation and HTTP the C++ servers run at a fixed rate (one client thread
    cannot saturate them), so the reference is the Python loops at that same rate (cells whose
    key has the same ``rate``): CPU per request falls as load rises (each wake-up serves more
    requests), so a saturated Python server is no reference for a part-loaded C++ one. In
    ping-pong every server gets the same 3-connection closed loop."""
    out = []
    for section, apis in FLOOR_GROUPS.items():
        for size in SIZES:
            group = [
                c
                for c in results.get(section, [])
                if c["key"].get("api") in apis
                and c["key"].get("size") == size
                and c.get("ok")
                and c.get("runs")
            ]
            for c in (c for c in group if c["key"].get("engine") in FLOOR_ENGINES):
                # Every Python server under the same load, client-bound ones included: their
                # CPU per request is a real measurement, and leaving the fastest loops out would
                # flatter the C++ server.
                rate = c["key"].get("rate")
                py = [
                    p
                    for p in group
                    if "engine" not in p["key"]
                    and p["key"].get("rate") == rate
                    and stat in p.get("stats", {})
                ]
                if not py or stat not in c.get("stats", {}):
                    continue
                row = _floor_row(out, section, size, rate, py, stat)
                iv = ratio(row["_cheapest"], c, stat)
                row["engines"][c["key"]["engine"]] = {
                    "us": c["stats"][stat]["median"],
                    "req_per_s": c["stats"].get("req_per_s", {}).get("median"),
                    "valid": not (c.get("extra") or {}).get("invalid"),
                    "python_over_cpp": iv.as_dict() if iv else None,
                    "lowest": bool(iv and iv.low > 1),
                }
    for row in out:
        del row["_cheapest"]
    return out


def _floor_row(
    rows: list[dict[str, Any]],
    mode: str,
    size: int,
    rate: float | None,
    py: list[Cell],
    stat: str,
) -> dict[str, Any]:
    for row in rows:
        if (row["mode"], row["size"], row["rate"]) == (mode, size, rate):
            return row
    cheapest = min(py, key=lambda c: c["stats"][stat]["median"])
    row = {
        "mode": mode,
        "size": size,
        "rate": rate,
        "python": cheapest["key"]["contender"],
        "python_us": cheapest["stats"][stat]["median"],
        "engines": {},
        "_cheapest": cheapest,
    }
    rows.append(row)
    return row


def wakeups(results: dict[str, Any]) -> dict[str, Any] | None:
    """Why the C++ epoll server can lose the 3-connection ping-pong: the same server with
    epoll_wait never blocking (busy polling) against it blocking, paired by round, and the
    fastest Python server against the blocking one. A busy/blocking ratio above 1 means the
    blocking server's rate is bound by being woken for every request, not by its work."""
    group = [
        c
        for c in results.get("pingpong", [])
        if c["key"].get("api") == "protocol" and c.get("ok") and c.get("runs")
    ]
    group = [c for c in group if "rate" not in c["key"]]  # closed loop only (not the floor's)
    blocking = find(group, engine="epoll")
    busy = find(group, engine="epoll-busy")
    if not blocking or not busy:
        return None
    out: dict[str, Any] = {"size": blocking["key"].get("size")}
    # A window where echoload was saturated measures the client, not the server's wake-ups.
    bad = [c["key"]["contender"] for c in (blocking, busy) if not usable(c, "pingpong")]
    if bad:
        out["invalid"] = f"client-bound windows in {', '.join(bad)}"
        return out
    for name, cell in (("epoll", blocking), ("epoll-busy", busy)):
        out[name] = {
            "req_per_s": cell["stats"].get("req_per_s", {}).get("median"),
            "p50_us": cell["stats"].get("p50_us", {}).get("median"),
            "us": cell["stats"].get("server_cpu_us_per_req", {}).get("median"),
        }
    iv = ratio(busy, blocking)
    out["busy_over_blocking"] = iv.as_dict() if iv else None
    py = [c for c in group if "engine" not in c["key"] and usable(c, "pingpong")]
    if py:
        fastest = max(py, key=lambda c: c["stats"].get("req_per_s", {}).get("median", 0))
        iv = ratio(fastest, blocking)
        out["python"] = fastest["key"]["contender"]
        out["python_over_blocking"] = iv.as_dict() if iv else None
        iv = ratio(busy, fastest)
        out["busy_over_python"] = iv.as_dict() if iv else None
    return out


def crosscheck_question(c: dict[str, Any]) -> str:
    k = c["key"]
    return (
        f"echoload and the original's client agree ({k['loop']} {k['api']}, "
        f"Python {k['python']}, {k['size']:,} B)"
    )


def analyze(results: dict[str, Any]) -> dict[str, Any]:
    """Everything the report and the verdicts read, computed once when the run ends."""
    out: dict[str, Any] = {"saturation": {}, "saturation_cpu": {}, "pingpong": {}, "http": {}}
    for p in interpreters(results):
        for loop in LOOPS[1:]:
            name = f"{label(p)} {loop}"
            out["saturation"][name] = loop_vs_asyncio(results, "saturation", p, loop)
            out["saturation_cpu"][name] = loop_vs_asyncio(
                results, "saturation", p, loop, "server_cpu_us_per_req"
            )
            if results["pingpong"]:
                out["pingpong"][name] = loop_vs_asyncio(results, "pingpong", p, loop)
    for p in interpreters(results, main=True):
        for loop in LOOPS[1:]:
            for api in ("http-httptools", "http-streams"):
                a = loop_cell(results, "http", p, f"asyncio {api}", api=api)
                b = loop_cell(results, "http", p, f"{loop} {api}", api=api)
                if a and b and (iv := ratio(b, a)):
                    out["http"][f"{label(p)} {loop} {api}"] = iv.as_dict()
    out["pgo"] = pgo_effect(results)
    out["ringloop"] = ringloop_vs_peers(results)
    out["newer_python"] = newer_python(results)
    for name, stat in FLOOR_STATS.items():
        out[name] = floor(results, stat)
    out["wakeups"] = wakeups(results)
    out["invalid_cells"] = sum(
        1
        for s in ("saturation", "pingpong", "http")
        for c in results.get(s, [])
        if not usable(c, s) and "engine" not in c["key"]
    )
    out["discarded_windows"] = sum(
        1
        for s in ("saturation", "pingpong", "http")
        for c in results.get(s, [])
        if usable(c, s)
        for r in c["runs"]
        if not r.get("valid", True)
    )
    out["remeasured_windows"] = sum(
        len((c.get("extra") or {}).get("remeasured") or [])
        for s in ("saturation", "pingpong", "http")
        for c in results.get(s, [])
    )
    return out


def _sockets_answer(results: dict[str, Any], p: dict[str, Any]) -> tuple[str, str]:
    per = []
    for size in SIZES:
        a = loop_cell(results, "saturation", p, "asyncio", api="sockets", size=size)
        u = loop_cell(results, "saturation", p, "uvloop", api="sockets", size=size)
        if a and u and (iv := ratio(a, u)):
            per.append((size, iv))
    if not per:
        return "not measured", "–"
    won = [s for s, iv in per if iv.low > 1]
    lost = [s for s, iv in per if iv.high < 1]
    measured = ", ".join(f"{s:,} B {iv}" for s, iv in per)
    if len(won) == len(per):
        return "yes, at every size", measured
    if won:
        return "only at " + ", ".join(f"{s:,} B" for s in won), measured
    if len(lost) == len(per):
        return "no: uvloop is faster at every size", measured
    return ("no" if lost else "no difference shown"), measured


def decide(results: dict[str, Any]) -> list[Verdict]:
    """The run's verdicts, decided from ``results["analysis"]`` when the run ends."""
    a = results["analysis"]
    rule = "a winner only when the 95 % bootstrap interval of the paired ratio excludes 1"
    out: list[Verdict] = []
    for p in interpreters(results):
        g = a["saturation"].get(f"{label(p)} uvloop", {}).get("geomean")
        if g:
            out.append(
                verdict(
                    f"Is uvloop faster than asyncio at saturation on Python {label(p)}?",
                    direction(_iv(g), above="uvloop faster", below="asyncio faster"),
                    f"uvloop/asyncio req/s, geometric mean over APIs and sizes: {fmt(g)}",
                    rule,
                    confidence=0.95,
                )
            )
    rl = a.get("ringloop") or {}
    for where, what in (("saturation", "at saturation"), ("at_rate", "at the C++ servers' rate")):
        for name, d in (rl.get(where) or {}).items():
            if not d.get("geomean"):
                continue
            python, peer = name.rsplit(" ", 1)
            out.append(
                verdict(
                    f"Does ringloop use less CPU per request than {peer} {what} on Python "
                    f"{python}?",
                    direction(
                        _iv(d["geomean"]),
                        above=f"no: {peer} uses less",
                        below="yes: ringloop uses less",
                    ),
                    f"ringloop/{peer} server CPU µs per request, geometric mean over "
                    f"{len(d['cells'])} cells ({', '.join(d['cells'])}): {fmt(d['geomean'])}",
                    rule,
                    confidence=0.95,
                )
            )
    for p in interpreters(results, main=True):
        answer, measured = _sockets_answer(results, p)
        out.append(
            verdict(
                f"Does asyncio beat uvloop with the sockets API on Python {label(p)}?",
                answer,
                f"asyncio/uvloop req/s at saturation: {measured}",
                rule + ", per size",
                confidence=0.95,
            )
        )
    newer = a.get("newer_python")
    if newer and newer.get("asyncio"):
        out.append(
            verdict(
                f"Is asyncio faster on Python {newer['new']} than on {newer['old']}?",
                direction(
                    _iv(newer["asyncio"]),
                    above="faster on the newer Python",
                    below="slower on the newer Python",
                ),
                f"req/s ratio at saturation (geometric mean): {fmt(newer['asyncio'])}; "
                f"uvloop: {fmt(newer.get('uvloop'))}",
                rule,
                confidence=0.95,
            )
        )
    for e in a.get("pgo", []):
        out.append(
            verdict(
                f"Does PGO+LTO change uvloop's lead on Python {e['version']}?",
                direction(
                    _iv(e["ratio_change"]),
                    above="PGO widens uvloop's lead",
                    below="PGO narrows uvloop's lead",
                ),
                f"(uvloop/asyncio with {e['with_pgo']}) / (same without, {e['without']}): "
                f"{fmt(e['ratio_change'])}; asyncio itself {fmt(e['asyncio_gain'])} faster",
                rule,
                confidence=0.95,
            )
        )
    for name, what in (("floor", "CPU"), ("floor_user", "user-space CPU")):
        for row in a.get(name, []):
            # Ping-pong is judged twice: in the original's closed loop and at one fixed rate.
            fixed = (
                f", {row['rate']:,.0f} req/s" if row["mode"] == "pingpong" and row["rate"] else ""
            )
            for engine, d in row["engines"].items():
                out.append(
                    verdict(
                        f"Does the C++ {engine} server use the least {what} per request "
                        f"({row['mode']}, {row['size']:,} B{fixed})?",
                        "yes" if d["lowest"] else "not shown",
                        f"{d['us']:.2f} µs vs {row['python_us']:.2f} µs for the cheapest Python "
                        f"server under the same load ({row['python']}); Python/C++ "
                        f"{fmt(d['python_over_cpp'])}",
                        f"yes when the interval of the cheapest Python server's {what} per "
                        "request (of all measured under the same load in the group, client-bound "
                        "ones included) over the C++ server's lies above 1",
                        confidence=0.95,
                    )
                )
    w = a.get("wakeups")
    if w and w.get("invalid"):
        out.append(
            verdict(
                "Is the C++ epoll server's 3-connection ping-pong rate bound by wake-ups?",
                "not measurable",
                w["invalid"],
                "paired by round, over windows where echoload was not saturated",
            )
        )
    elif w and w.get("busy_over_blocking"):
        out.append(
            verdict(
                "Is the C++ epoll server's 3-connection ping-pong rate bound by wake-ups?",
                direction(
                    _iv(w["busy_over_blocking"]),
                    above="yes: the same server busy polling is faster",
                    below="no: busy polling is slower",
                ),
                f"busy-polling/blocking req/s {fmt(w['busy_over_blocking'])}; fastest Python "
                f"({w.get('python', '–')})/blocking {fmt(w.get('python_over_blocking'))}; "
                f"busy-polling/that Python {fmt(w.get('busy_over_python'))}",
                "paired by round; a winner only when the interval excludes 1",
                confidence=0.95,
            )
        )
    for p in interpreters(results, main=True):
        g = a["pingpong"].get(f"{label(p)} uvloop", {}).get("geomean")
        if g:
            out.append(
                verdict(
                    f"Original question, 3-connection ping-pong: is uvloop faster on Python "
                    f"{label(p)}?",
                    direction(_iv(g), above="uvloop faster", below="asyncio faster"),
                    f"uvloop/asyncio req/s (geometric mean): {fmt(g)}; the original: "
                    f"{ORIGINAL_OVERALL}x",
                    rule + "; latency-bound, not the loops' CPU",
                    confidence=0.95,
                )
            )
    for name, d in a.get("http", {}).items():
        out.append(
            verdict(
                f"HTTP/1.1 keep-alive: {name} vs asyncio",
                direction(_iv(d), above="faster than asyncio", below="slower than asyncio"),
                f"req/s ratio {fmt(d)}",
                rule,
                confidence=0.95,
            )
        )
    two = results.get("two_clients") or {}
    if two.get("ran"):
        iv = two["two_over_one"]
        low, high = TWO_CLIENT_EQUAL
        out.append(
            verdict(
                "Does a second echoload process on its own core leave the server rate unchanged?",
                "yes: one client has headroom"
                if low <= iv["low"] and iv["high"] <= high
                else "no: one client was not enough",
                f"server rate with two clients / one: {fmt(iv)}",
                f"yes when the interval lies within [{low}, {high}]",
                low=low,
                high=high,
            )
        )
    for c in results.get("crosscheck", []):
        if not c.get("ok"):
            continue
        agree = abs(c["difference"]) <= CROSSCHECK_AGREEMENT
        out.append(
            verdict(
                crosscheck_question(c),
                "client saturated"
                if c["pyclient_saturated"]
                else "agree within 10 %"
                if agree
                else "disagree",
                f"difference {c['difference'] * 100:+.0f} %",
                f"agree when the rates differ by at most {CROSSCHECK_AGREEMENT:.0%}",
                agreement=CROSSCHECK_AGREEMENT,
            )
        )
    return out


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    a = results["analysis"]
    rows = []
    for p in interpreters(results, main=True):
        g = a["saturation"].get(f"{label(p)} uvloop", {}).get("geomean")
        if g:
            rows.append((f"uvloop/asyncio at saturation, Python {label(p)}", fmt(g)))
        g = a["saturation_cpu"].get(f"{label(p)} uvloop", {}).get("geomean")
        if g:
            rows.append((f"uvloop/asyncio CPU per request, Python {label(p)}", fmt(g)))
        for peer in RINGLOOP_PEERS:
            d = (a.get("ringloop") or {}).get("saturation", {}).get(f"{label(p)} {peer}", {})
            if d.get("geomean"):
                rows.append(
                    (f"ringloop/{peer} CPU per request, Python {label(p)}", fmt(d["geomean"]))
                )
    for p in interpreters(results, main=True)[-1:]:
        g = a["pingpong"].get(f"{label(p)} uvloop", {}).get("geomean")
        if g:
            rows.append((f"ping-pong (original question), Python {label(p)}", fmt(g)))
    for row in a.get("floor_user", []):
        d = row["engines"].get("epoll")
        if row["mode"] == "saturation" and row["size"] == 1000 and d and d["python_over_cpp"]:
            what = "user-space CPU per request, cheapest Python loop / C++ epoll, same load"
            rows.append((what, fmt(d["python_over_cpp"])))
    return rows
