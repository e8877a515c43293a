"""From one cell's raw data to its figures: RSS, drops, collections, live exceptions, throughput."""

from __future__ import annotations

import bisect
import csv
import itertools
import statistics
from pathlib import Path
from typing import Any

from dramatiq_leak import envs

MiB = 1 << 20
#: A "bulk drop" frees more than this many failures' worth of memory (times the
#: number of worker threads) at once: a collection of accumulated cycles. With the
#: cycle broken, each failure's memory is freed on its own and RSS moves by at most
#: one failure per thread at a time.
BULK_DROP_FAILURES = 1.5
DROP_WINDOW_S = 0.3
GC_MATCH_S = 0.15


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _spread(xs: list[float]) -> list[float] | None:
    return [min(xs), max(xs)] if xs else None


def _slope(pts: list[tuple[float, float]]) -> float:
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0


def bulk_drops(t: list[float], rss_mb: list[float], threshold_mb: float) -> list[dict[str, float]]:
    """Times where RSS fell by more than ``threshold_mb`` within ``DROP_WINDOW_S``.

    Consecutive falling samples are merged into one drop (start, end, size).
    """
    drops: list[dict[str, float]] = []
    i = 1
    n = len(t)
    while i < n:
        # highest value within the window before i
        j = i - 1
        top_k = j
        while j >= 0 and t[i] - t[j] <= DROP_WINDOW_S:
            if rss_mb[j] > rss_mb[top_k]:
                top_k = j
            j -= 1
        if rss_mb[top_k] - rss_mb[i] >= threshold_mb:
            k = i
            while k + 1 < n and rss_mb[k + 1] < rss_mb[k]:
                k += 1
            drops.append(
                {
                    "t_start": t[top_k],
                    "t": t[k],
                    "from_mb": rss_mb[top_k],
                    "to_mb": rss_mb[k],
                    "size_mb": rss_mb[top_k] - rss_mb[k],
                }
            )
            i = k + 1
            while i < n and t[i] - t[k] <= DROP_WINDOW_S:
                i += 1
            continue
        i += 1
    return drops


def analyse(raw: dict[str, Any]) -> dict[str, Any]:
    """Summary figures of one cell (JSON-serialisable)."""
    cfg = raw["config"]
    t0, t_end = raw["t0"], raw["stopped_at"]
    s = raw["samples"]
    keep = [i for i, ti in enumerate(s.t) if t0 <= ti <= t_end]
    t = [s.t[i] - t0 for i in keep]
    rss = [s.worker_rss[i] / MiB for i in keep]
    cpu = [s.cpu_s[i] for i in keep]
    events = raw["events"]
    msgs = [e for e in events if e["ev"] == "msg" and t0 <= e["t"] <= t_end]
    msg_t = [e["t"] - t0 for e in msgs]
    gcs = [e for e in events if e["ev"] == "gc" and t0 <= e["t"] <= t_end]
    full = [e for e in gcs if e["gen"] == 2]
    ticks = [e for e in events if e["ev"] == "tick" and e["t"] <= t_end]
    mb_failure = cfg.scenario.mb_per_failure(cfg.mb)
    wall = max(1e-9, (t[-1] if t else t_end - t0))

    # Up to `threads` failures are in flight at once; a bulk drop frees more than that.
    drops = bulk_drops(t, rss, BULK_DROP_FAILURES * mb_failure * cfg.scenario.threads)
    matched = 0
    matched_gens: list[int] = []
    marks: list[list[float]] = []  # [t, from_mb, generation or -1] per bulk drop
    for d in drops:
        window = [
            e
            for e in gcs
            if d["t_start"] - GC_MATCH_S <= e["t"] - t0 <= d["t"] + GC_MATCH_S
            and e["collected"] > 0
        ]
        gen = max((e["gen"] for e in window), default=-1)
        marks.append([round(d["t"], 3), round(d["from_mb"], 1), gen])
        if window:
            matched += 1
            matched_gens.append(gen)

    # growth per retry: least-squares slope of RSS against attempts so far, per segment
    # between bulk drops (boot -> first drop -> ... -> end)
    growth: list[float] = []
    bounds = [0.0, *[d["t"] for d in drops], wall]
    for a, b in itertools.pairwise(bounds):
        pts = [
            (float(bisect.bisect_right(msg_t, ti)), r)
            for ti, r in zip(t, rss, strict=False)
            if a < ti <= b
        ]
        if len({x for x, _ in pts}) >= 3:
            growth.append(_slope(pts))

    drop_times = [d["t"] for d in drops]
    full_times = [e["t"] - t0 for e in full]
    lives = [e["live"] for e in ticks if e["t"] >= t0] or [0]
    cpu_used = (cpu[-1] - cpu[0]) if len(cpu) >= 2 else 0.0
    attempts = len(msgs)
    return {
        "scenario": cfg.scenario.key,
        "variant": cfg.variant.key,
        "python_tag": None if cfg.python is None else f"py{envs.python_tag(cfg.python)}",
        "python": (raw.get("boot") or {}).get("python"),
        "mb": cfg.mb,
        "threads": cfg.scenario.threads,
        "duration_s": round(wall, 2),
        "stop_reason": raw["stop_reason"],
        "capped": raw["capped"],
        "crashed": raw["crashed"],
        "floor_mb": round(min(rss), 1) if rss else None,
        "peak_mb": round(max(rss), 1) if rss else None,
        "final_mb": round(rss[-1], 1) if rss else None,
        "attempts": attempts,
        "failures": sum(1 for e in msgs if not e["ok"]),
        "succeeded": sum(1 for e in msgs if e["ok"]),
        "throughput_per_s": round(attempts / wall, 2),
        "cpu_percent": round(100 * cpu_used / wall, 1),
        "cpu_ms_per_attempt": round(1000 * cpu_used / attempts, 1) if attempts else None,
        "growth_mb_per_retry": round(_median(growth), 1) if growth else None,
        "growth_spread": [round(x, 1) for x in _spread(growth)] if growth else None,
        "bulk_drops": len(drops),
        "bulk_drop_sizes_mb": [round(d["size_mb"]) for d in drops],
        "bulk_drop_marks": marks,
        "drops_matched_to_gc": matched,
        "drop_gc_generations": matched_gens,
        "s_between_drops": (
            round(_median([b - a for a, b in itertools.pairwise(drop_times)]), 2)
            if len(drop_times) >= 2
            else None
        ),
        "full_collections": len(full),
        "s_between_full_collections": (
            round(_median([b - a for a, b in itertools.pairwise(full_times)]), 3)
            if len(full_times) >= 2
            else None
        ),
        "gc_time_ms": round(1000 * sum(e["dur"] for e in gcs), 1),
        "gc_max_pause_ms": round(1000 * max((e["dur"] for e in gcs), default=0.0), 2),
        "collections_by_gen": [sum(1 for e in gcs if e["gen"] == g) for g in range(3)],
        "live_exceptions_max": max(lives),
        "live_exceptions_final": lives[-1],
        "accounting": raw["accounting"],
        "idle": idle_figures(raw, t, rss, gcs, ticks) if cfg.scenario.burst else None,
        "broker": cfg.broker,
        "processes": cfg.scenario.processes,
        # peak RSS of each worker process (several in the multi-process cells)
        "process_peaks_mb": sorted(
            (round(b / MiB, 1) for b in (raw.get("peak_by_pid") or {}).values()), reverse=True
        ),
    }


#: Memory counts as released while idle once RSS is back below boot + this share of what the
#: burst added.
IDLE_RELEASED_SHARE = 0.5


def idle_figures(
    raw: dict[str, Any],
    t: list[float],
    rss: list[float],
    gcs: list[dict[str, Any]],
    ticks: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """A burst cell's idle period: what the burst left in RSS above the lowest RSS before it
    ended (``boot``), for how long, and whether the collector ran at all (None when the burst
    did not finish within the cell)."""
    done = raw.get("burst_done")
    if done is None or not rss:
        return None
    b = done - raw["t0"]
    boot = min(r for ti, r in zip(t, rss, strict=True) if ti <= b)  # before the burst's first
    burst_peak = max((r for ti, r in zip(t, rss, strict=True) if ti <= b + 0.5), default=boot)
    idle = [(ti, r) for ti, r in zip(t, rss, strict=True) if ti >= b]
    if not idle:
        return None
    threshold = boot + IDLE_RELEASED_SHARE * (burst_peak - boot)
    released = next((ti - b for ti, r in idle if r < threshold), None)
    live = [e["live"] for e in ticks if e["t"] - raw["t0"] >= b]
    return {
        "burst_end_s": round(b, 2),
        "watched_s": round(idle[-1][0] - b, 1),
        "boot_mb": round(boot, 1),
        "burst_peak_mb": round(burst_peak, 1),
        "end_mb": round(idle[-1][1], 1),
        "held_mb": round(idle[-1][1] - boot, 1),
        "released_after_s": None if released is None else round(released, 2),
        "collections_while_idle": sum(1 for e in gcs if e["t"] - raw["t0"] >= b),
        "full_collections_while_idle": sum(
            1 for e in gcs if e["t"] - raw["t0"] >= b and e["gen"] == 2
        ),
        "live_exceptions_end": live[-1] if live else None,
    }


def write_csvs(raw: dict[str, Any], out: Path) -> list[Path]:
    """``<cell>.rss.csv`` (t, RSS, attempts, live exceptions) and ``<cell>.gc.csv``."""
    cfg = raw["config"]
    t0 = raw["t0"]
    s = raw["samples"]
    events = raw["events"]
    msg_t = [e["t"] for e in events if e["ev"] == "msg"]
    ticks = [e for e in events if e["ev"] == "tick"]
    tick_t = [e["t"] for e in ticks]
    out.mkdir(parents=True, exist_ok=True)
    rss_path = out / f"{cfg.name}.rss.csv"
    with open(rss_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "worker_rss_mb", "tree_rss_mb", "cpu_s", "attempts", "live_exceptions"])
        for ti, wr, tr, c in zip(s.t, s.worker_rss, s.tree_rss, s.cpu_s, strict=False):
            k = bisect.bisect_right(tick_t, ti) - 1
            w.writerow(
                [
                    f"{ti - t0:.3f}",
                    f"{wr / MiB:.1f}",
                    f"{tr / MiB:.1f}",
                    f"{c:.2f}",
                    bisect.bisect_right(msg_t, ti),
                    ticks[k]["live"] if k >= 0 else 0,
                ]
            )
    gc_path = out / f"{cfg.name}.gc.csv"
    with open(gc_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "generation", "collected", "uncollectable", "duration_ms"])
        for e in events:
            if e["ev"] == "gc":
                w.writerow(
                    [
                        f"{e['t'] - t0:.4f}",
                        e["gen"],
                        e["collected"],
                        e["uncollectable"],
                        f"{1000 * e['dur']:.3f}",
                    ]
                )
    return [rss_path, gc_path]


def series(raw: dict[str, Any]) -> dict[str, list[float]]:
    """What the plots need: t (s since boot), worker RSS (MB), full-collection times."""
    t0 = raw["t0"]
    s = raw["samples"]
    return {
        "t": [ti - t0 for ti in s.t],
        "rss_mb": [r / MiB for r in s.worker_rss],
        "full_gc_t": [e["t"] - t0 for e in raw["events"] if e["ev"] == "gc" and e["gen"] == 2],
        "young_gc_t": [
            e["t"] - t0
            for e in raw["events"]
            if e["ev"] == "gc" and e["gen"] < 2 and e["collected"] > 0
        ],
    }
