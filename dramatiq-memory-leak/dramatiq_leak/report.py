"""Headline rows and generated README sections, computed from a run's results."""

from __future__ import annotations

from typing import Any

from dramatiq_leak import harness
from dramatiq_leak.scenarios import SCENARIOS
from lab.tables import markdown
from lab.verdicts import Verdict, find, verdict
from lab.verdicts import table as verdict_table

#: The original study's figures, as its README reports them (dramatiq 2.0.0 on Python 3.13;
#: dramatiq: https://github.com/Bogdanp/dramatiq), for side-by-side.
SEED = {
    "python": "3.13.7",
    "dramatiq": "2.0.0",
    "start_mb": 37.58,
    "peak_mb": 4902.49,
    "peak_after_s": 30,
    "last_sample_mb": 1960,
    "chained_peak_mb": 9382.69,
    "chained_after_s": 39,
    "sleep_control_mb": 166,
    "fixed_range_mb": (29, 157),
    "drop_every_s": (9, 13),
}


def _cell(
    results: dict[str, Any],
    scenario: str,
    variant: str,
    python_tag: str | None = None,
    broker: str = "redis",
) -> dict[str, Any] | None:
    return next(
        (
            c
            for c in results.get("cells", [])
            if c.get("scenario") == scenario
            and c.get("variant") == variant
            and "error" not in c
            and c.get("python_tag") == python_tag
            and c.get("broker", "redis") == broker
        ),
        None,
    )


def _fmt(x: Any, digits: int = 0, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}{unit}"
    return f"{x}{unit}"


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    a = _cell(results, "async-raise", "2.2.0")
    b = _cell(results, "async-raise", "2.2.1")
    f = _cell(results, "async-raise", "2.2.0+fix")
    if a and b and f:
        rows.append(
            (
                f"peak RSS, async actor raising {a['mb']} MB",
                f"2.2.0 {a['peak_mb']:.0f} MB; 2.2.1 {b['peak_mb']:.0f} MB; "
                f"2.2.0+fix {f['peak_mb']:.0f} MB",
            )
        )
    if a and a.get("growth_mb_per_retry") is not None:
        rows.append(
            (
                "2.2.0 growth per retry / time between drops",
                f"{a['growth_mb_per_retry']:.0f} MB of {a['mb']} MB; "
                f"{_fmt(a.get('s_between_drops'), 1, ' s')}",
            )
        )
    proof = results.get("proof", {})
    if proof:
        rows.append(
            (
                "exceptions alive after failures, gc disabled",
                "; ".join(f"{k} {v['live_after_processing']}" for k, v in proof.items()),
            )
        )
    acc = results.get("accounting_total")
    if acc:
        rows.append(
            (
                "messages accounted for",
                f"{acc['enqueued'] - acc['lost'] - acc['unexpected']}/{acc['enqueued']}"
                + ("" if acc["all_accounted_for"] else " (LOST MESSAGES)"),
            )
        )
    return rows


def summary_table(results: dict[str, Any]) -> str:
    header = [
        "scenario", "variant", "MB/exc.", "attempts", "peak MB", "final MB", "growth MB/retry",
        "bulk drops (matched to a GC run)", "s between drops", "gen-2 collections", "GC time ms",
        "live exc. max / final", "msg/s", "CPU %", "messages",
    ]  # fmt: skip
    rows: list[list[object]] = []
    for c in results.get("cells", []):
        if "error" in c:
            error = f"error: {c['error'][:80]}"
            rows.append([c["scenario"], c["variant"], error, *[""] * (len(header) - 3)])
            continue
        acc = c["accounting"]
        msgs = (
            f"{acc['enqueued']} sent: {acc['succeeded']} ok, {acc['dead_lettered']} dead, "
            f"{acc['still_queued']} queued, {acc['lost']} lost"
        )
        note = ""
        if c.get("capped"):
            note = " (stopped at memory cap)"
        elif c.get("crashed"):
            note = f" ({harness.describe_crash(c['crashed'])})"
        if c.get("python_tag"):
            note = f" on {c['python_tag']}" + note
        if c.get("broker", "redis") != "redis":
            note = f" on {c['broker']}" + note
        rows.append(
            [
                c["scenario"],
                f"{c['variant']}{note}",
                c["mb"],
                c["attempts"],
                _fmt(c["peak_mb"]),
                _fmt(c["final_mb"]),
                _fmt(c["growth_mb_per_retry"]),
                f"{c['bulk_drops']} ({c['drops_matched_to_gc']})",
                _fmt(c["s_between_drops"], 1),
                c["full_collections"],
                _fmt(c["gc_time_ms"]),
                f"{c['live_exceptions_max']} / {c['live_exceptions_final']}",
                _fmt(c["throughput_per_s"], 1),
                _fmt(c["cpu_percent"]),
                msgs,
            ]
        )
    return markdown(header, rows, "llrrrrrrrrrrrrl") + "\n"


def _post_drop_mb(c: dict[str, Any]) -> list[float]:
    """RSS right after each bulk drop (peak before the drop minus the drop's size)."""
    return [
        mark[1] - size
        for mark, size in zip(
            c.get("bulk_drop_marks", []), c.get("bulk_drop_sizes_mb", []), strict=False
        )
    ]


def _gen_words(gens: list[int]) -> str:
    if not gens:
        return "no GC run"
    counts = {g: gens.count(g) for g in sorted(set(gens))}
    return ", ".join(f"generation {g} ({n}x)" for g, n in counts.items())


#: Thresholds of the verdicts (stored with each verdict in the results).
RETAINED_RATIO = 2.0  # 2.2.0's peak over 2.2.1's above which exceptions are "retained"
FLAT_LIVE_EXCEPTIONS = 1  # a control "stays flat" with at most this many live exceptions
FIX_FREE_SHARE = 0.9  # the fix "costs nothing measurable" above this share of 2.2.1's rate
CONCURRENT_COST = 1.2  # 2.2.1 faster than 2.2.0 by more than this: retention costs throughput

Q_RETAINED = "async actor exceptions retained on 2.2.0"
Q_CHAINED = "chained exceptions make it worse"
Q_CONTROLS = "sync and sleeping controls stay flat"
Q_SHAPE = "a busy 2.2.0 worker frees the retained memory at collections (drops)"
Q_FIX_COST = "the fix middleware costs nothing measurable"
Q_CONCURRENT = "retention costs throughput with 5 concurrent failures"
#: The scenarios of issue 16 (each on every interpreter, with 2.2.0, 2.2.1 and the fix).
ADDED_RETRY = ("taskgroup", "reraise", "sync-async")
ADDED_VARIANTS = ("2.2.0", "2.2.1", "2.2.0+fix")
#: How the added scenarios are named in verdicts and tables.
ADDED_NAMES = {
    "taskgroup": "TaskGroup child raises (ExceptionGroup)",
    "reraise": "catch, log, bare re-raise",
    "sync-async": "sync actor calls async code (async_to_sync)",
    "idle": "burst of 8 failures, then idle",
}


def decide(results: dict[str, Any]) -> list[Verdict]:
    """The run's verdicts, decided from its cells when the run ends (stored in the results)."""
    out: list[Verdict] = []
    a = _cell(results, "async-raise", "2.2.0")
    up = _cell(results, "async-raise", "2.2.1")
    fix = _cell(results, "async-raise", "2.2.0+fix")
    ch = _cell(results, "chained", "2.2.0")
    sync = _cell(results, "sync-raise", "2.2.0")
    sleep = _cell(results, "async-sleep", "2.2.0")
    if a and up and up["peak_mb"]:
        ratio = a["peak_mb"] / up["peak_mb"]
        out.append(
            verdict(
                Q_RETAINED,
                "holds" if ratio > RETAINED_RATIO else "does not hold",
                f"peak {a['peak_mb']:.0f} MB vs {up['peak_mb']:.0f} MB on 2.2.1 ({ratio:.1f}x)",
                f"holds when 2.2.0's peak exceeds {RETAINED_RATIO:g}x 2.2.1's",
                ratio=RETAINED_RATIO,
            )
        )
    if ch and a:
        out.append(
            verdict(
                Q_CHAINED,
                "holds" if ch["peak_mb"] > a["peak_mb"] else "not here",
                f"chained peak {ch['peak_mb']:.0f} MB vs single {a['peak_mb']:.0f} MB",
                "holds when the chained cell peaks higher than the single-exception cell",
            )
        )
    if sync and sleep:
        worst = max(sync["live_exceptions_max"], sleep["live_exceptions_max"])
        out.append(
            verdict(
                Q_CONTROLS,
                "holds" if worst <= FLAT_LIVE_EXCEPTIONS else "does not hold",
                f"at most {worst} live exception(s); peaks {sync['peak_mb']:.0f} / "
                f"{sleep['peak_mb']:.0f} MB",
                f"holds when no control keeps more than {FLAT_LIVE_EXCEPTIONS} exception alive",
                live_exceptions=FLAT_LIVE_EXCEPTIONS,
            )
        )
    if a:
        out.append(
            verdict(
                Q_SHAPE,
                "holds" if a["bulk_drops"] else "not shown in this cell",
                f"{a['bulk_drops']} bulk drops in {a['duration_s']:.0f} s",
                "holds when RSS drops back in bulk at least once within the cell",
                drops=1,
            )
        )
    if results.get("fix_cost"):
        out += fix_cost_verdict(results["fix_cost"])
    elif up and fix and up["throughput_per_s"]:  # a run from before the paired rounds
        rel = fix["throughput_per_s"] / up["throughput_per_s"]
        out.append(
            verdict(
                Q_FIX_COST,
                "holds" if rel > FIX_FREE_SHARE else f"no: {rel:.0%} of 2.2.1's throughput",
                f"{fix['throughput_per_s']:.1f} vs {up['throughput_per_s']:.1f} msg/s",
                f"holds above {FIX_FREE_SHARE:.0%} of 2.2.1's throughput",
                share=FIX_FREE_SHARE,
            )
        )
    c0 = _cell(results, "concurrent", "2.2.0")
    c1 = _cell(results, "concurrent", "2.2.1")
    if c0 and c1 and c0["throughput_per_s"]:
        ratio = c1["throughput_per_s"] / c0["throughput_per_s"]
        out.append(
            verdict(
                Q_CONCURRENT,
                "holds" if ratio > CONCURRENT_COST else "throughput is similar",
                f"2.2.1 {c1['throughput_per_s']:.1f} vs 2.2.0 {c0['throughput_per_s']:.1f} msg/s",
                f"holds when 2.2.1 is more than {CONCURRENT_COST:g}x faster",
                ratio=CONCURRENT_COST,
            )
        )
    out += added_verdicts(results)
    out += crash_verdicts(results)
    out += broker_verdicts(results)
    return out


Q_DELIVERY = "every message accounted for when a worker is killed with SIGKILL mid-run"
#: The scenarios run on both brokers.
BROKER_SCENARIOS = ("async-raise", "taskgroup", "multi")


def broker_verdicts(results: dict[str, Any]) -> list[Verdict]:
    """Does the retention depend on the broker? Per scenario, the variants that retain on
    Redis and on RabbitMQ (same interpreter)."""
    out = []
    for key in BROKER_SCENARIOS:
        per: dict[str, list[str]] = {}
        measured = []
        for broker in ("redis", "rabbitmq"):
            cells = {v: _cell(results, key, v, None, broker) for v in ADDED_VARIANTS}
            if not all(cells.values()):
                break
            per[broker] = [v for v, c in cells.items() if c and _retains(c)]
            measured.append(
                f"{broker}: " + ", ".join(
                    f"{v} {c['live_exceptions_max']} alive" for v, c in cells.items() if c
                )
            )  # fmt: skip
        if len(per) < 2:
            continue
        same = per["redis"] == per["rabbitmq"]
        kept = ", ".join(per["rabbitmq"]) or "none"
        out.append(
            verdict(
                f"retention depends on the broker ({key})",
                f"no: the same variants retain on both ({kept})"
                if same
                else (
                    f"yes: on Redis {', '.join(per['redis']) or 'none'}, on RabbitMQ "
                    f"{', '.join(per['rabbitmq']) or 'none'}"
                ),
                "; ".join(measured),
                "a variant retains when more exceptions are alive at once than a worker "
                "process has threads (failures in flight); compared variant by variant",
            )
        )
    return out


def broker_section(results: dict[str, Any]) -> str:
    rows = []
    for key in BROKER_SCENARIOS:
        for v in ADDED_VARIANTS:
            for broker in ("redis", "rabbitmq"):
                c = _cell(results, key, v, None, broker)
                if c is None:
                    continue
                rows.append([
                    key, v, broker, _fmt(c["peak_mb"]), c["live_exceptions_max"],
                    ", ".join(f"{p:,.0f}" for p in c.get("process_peaks_mb") or []) or "–",
                    _fmt(c["throughput_per_s"], 1),
                ])  # fmt: skip
    if not rows:
        return "(not in this run)\n"
    return markdown(
        ["scenario", "variant", "broker", "peak MB (all worker processes)",
         "live exceptions (max)", "peak MB per worker process (whole cell)", "msg/s"],
        rows,
        "lllrrrr",
    ) + "\n"  # fmt: skip


#: Issue 16's goal for the fix's throughput cost against 2.2.1.
FIX_COST_BAND = 0.02


def fix_cost_verdict(cost: dict[str, Any]) -> list[Verdict]:
    from dramatiq_leak.benchmark import fix_cost_interval

    iv = fix_cost_interval(cost)
    if iv is None:
        return []
    # A cost bound: the fix may not make the worker more than FIX_COST_BAND slower; being
    # faster than 2.2.1 (it runs 2.2.0, whose code differs) is no cost.
    lo = 1 - FIX_COST_BAND
    if iv.low >= lo:
        faster = f", {iv.value - 1:.1%} faster than 2.2.1" if iv.low > 1 else ""
        answer = f"holds: costs at most {FIX_COST_BAND:.0%}{faster}"
    elif iv.high < lo:
        answer = f"no: {1 - iv.value:.1%} slower than 2.2.1"
    else:
        answer = f"not shown: the interval reaches below -{FIX_COST_BAND:.0%}"
    return [
        verdict(
            Q_FIX_COST,
            answer,
            f"2.2.0+fix / 2.2.1 messages/s {iv.value:.3f}x, 95 % CI [{iv.low:.3f}, "
            f"{iv.high:.3f}], {len(cost['rounds'])} paired rounds of {cost['seconds']:g} s",
            f"holds when the whole interval is above {1 - FIX_COST_BAND:g} (at most "
            f"{FIX_COST_BAND:.0%} slower than 2.2.1)",
            band=FIX_COST_BAND,
        )
    ]


def crash_verdicts(results: dict[str, Any]) -> list[Verdict]:
    from dramatiq_leak.crash import crash_errors

    out = []
    for c in results.get("crash") or []:
        if "error" in c:
            continue
        acc = c["accounting"]
        problems = crash_errors(c)
        out.append(
            verdict(
                f"{Q_DELIVERY} ({c['variant']})",
                "holds" if not problems else "does not hold: " + "; ".join(problems),
                f"{acc['enqueued']} sent: {acc['succeeded']} succeeded, {acc['dead_lettered']} "
                f"dead-lettered as designed, {c['held_at_kill']} held by the killed worker and "
                f"all {c['redelivered']} delivered again, {acc['lost']} lost",
                "holds when every message succeeded or is a designed dead letter, and every "
                "message the killed worker held was delivered again",
            )
        )
    return out


def crash_section(results: dict[str, Any]) -> str:
    from dramatiq_leak.crash import crash_errors

    rows = []
    for c in results.get("crash") or []:
        if "error" in c:
            rows.append([c["variant"], f"failed: {c['error']}", *[""] * 7])
            continue
        acc = c["accounting"]
        rows.append([
            c["variant"],
            f"{acc['enqueued']:,}",
            f"{c['processed_by_a']:,} then SIGKILL ({harness.describe_crash(c)})",
            f"{c['processed_by_b']:,}",
            f"{c['held_at_kill']} / {c['redelivered']}",
            c["processed_twice"],
            f"{acc['succeeded']:,} / {acc['dead_lettered']} (designed: {c['meant_to_fail']})",
            acc["lost"],
            "ok" if not crash_errors(c) else "**" + "; ".join(crash_errors(c)) + "**",
        ])  # fmt: skip
    if not rows:
        return "(not in this run)\n"
    plan = next((c["plan"] for c in results.get("crash") or [] if "plan" in c), None)
    how = (
        f"Each message is {plan['ms']} ms of work on {plan['threads']} threads; every "
        f"{plan['fail_every']}th fails by design (no retries: dead-letter queue). Worker A is "
        f"killed once it has processed {plan['kill_after']}; worker B is started, and the "
        f"broker gives A's unacknowledged messages back to the queue {plan['heartbeat_ms']} ms "
        "after A's last heartbeat. Outcomes come from a ledger each worker writes before "
        "dramatiq acknowledges a message, and from Redis."
        if plan
        else ""
    )
    return (
        markdown(
            ["variant", "messages", "worker A", "worker B", "held by A at the kill / delivered "
             "again", "processed twice", "succeeded / dead-lettered", "lost", "verdict"],
            rows,
        )
        + "\n\n" + how + "\n"
    )  # fmt: skip


def _python_tags(results: dict[str, Any]) -> list[str | None]:
    """None (the lab's interpreter) and the tags of the other interpreters, in run order."""
    tags: list[str | None] = [None]
    for c in results.get("cells", []):
        if c.get("python_tag") and c["python_tag"] not in tags:
            tags.append(c["python_tag"])
    return tags


def _python_name(results: dict[str, Any], tag: str | None) -> str:
    return f"Python {results.get('python', '?')}" if tag is None else f"Python {tag[2:]}"


def _retains(c: dict[str, Any]) -> bool:
    """More exceptions alive at once than failures in flight: one per worker thread (a
    process's probe counts its own; the multi cell's 2 threads may hold 2 at once)."""
    return c["live_exceptions_max"] > FLAT_LIVE_EXCEPTIONS * c.get("threads", 1)


def added_verdicts(results: dict[str, Any]) -> list[Verdict]:
    """Which variants keep the exceptions of the added scenarios alive, per interpreter, and
    how long an idle 2.2.0 worker holds a burst's memory."""
    out: list[Verdict] = []
    for tag in _python_tags(results):
        on = _python_name(results, tag)
        for key in ADDED_RETRY:
            cells = {v: _cell(results, key, v, tag) for v in ADDED_VARIANTS}
            have = {v: c for v, c in cells.items() if c}
            if len(have) < len(ADDED_VARIANTS):
                continue
            keep = [v for v, c in have.items() if _retains(c)]
            free = [v for v in have if v not in keep]
            answer = (f"retained by {', '.join(keep)}" if keep else "retained by none") + (
                f"; freed by {', '.join(free)}" if free else ""
            )
            out.append(
                verdict(
                    f"{ADDED_NAMES[key]}: exceptions kept alive ({on})",
                    answer,
                    "; ".join(
                        f"{v}: up to {c['live_exceptions_max']} alive, peak {c['peak_mb']:.0f} MB"
                        for v, c in have.items()
                    ),
                    f"a variant retains when more than {FLAT_LIVE_EXCEPTIONS} exception is alive "
                    "at once (one failure in flight)",
                    live_exceptions=FLAT_LIVE_EXCEPTIONS,
                )
            )
        c = _cell(results, "idle", "2.2.0", tag)
        idle = (c or {}).get("idle")
        if idle:
            held = idle["released_after_s"] is None
            if held and idle["full_collections_while_idle"] == 0:
                answer = "held until the next collection, which an idle worker never triggers"
            elif held:
                answer = "held through the idle period (collections ran but freed nothing)"
            else:
                answer = f"released after {idle['released_after_s']:.1f} s idle"
            out.append(
                verdict(
                    f"an idle 2.2.0 worker after a burst of failures ({on})",
                    answer,
                    f"{idle['live_exceptions_end']} of the burst's exceptions alive and "
                    f"{idle['held_mb']:.0f} MB above the lowest RSS before the burst ended "
                    f"({idle['boot_mb']:.0f} MB) after {idle['watched_s']:.0f} s idle; "
                    f"{idle['collections_while_idle']} collections while idle "
                    f"({idle['full_collections_while_idle']} full)",
                    "released when RSS falls below boot + half the burst's growth while idle",
                    share=0.5,
                )
            )
    return out


def added_section(results: dict[str, Any]) -> str:
    """The added scenarios, cell by cell on every interpreter."""
    rows = []
    for tag in _python_tags(results):
        for key in (*ADDED_RETRY, "idle"):
            for v in ADDED_VARIANTS:
                c = _cell(results, key, v, tag)
                if c is None:
                    continue
                idle = c.get("idle") or {}
                rows.append([
                    ADDED_NAMES[key],
                    _python_name(results, tag).removeprefix("Python "),
                    v,
                    _fmt(c["peak_mb"]),
                    _fmt(c["final_mb"]),
                    c["live_exceptions_max"],
                    c["attempts"],
                    _fmt(idle.get("held_mb")) if idle else "",
                    (_fmt(idle.get("released_after_s"), 1, " s")
                     if idle.get("released_after_s") is not None else
                     (f"not in {idle['watched_s']:.0f} s" if idle else "")),
                    idle.get("live_exceptions_end", "") if idle else "",
                    idle.get("collections_while_idle", "") if idle else "",
                ])  # fmt: skip
    if not rows:
        return "(not in this run)\n"
    return markdown(
        ["scenario", "Python", "variant", "peak MB", "final MB", "live exceptions (max)",
         "attempts", "held MB after idle", "released while idle", "alive after idle",
         "collections while idle"],
        rows,
        "lllrrrrrrrr",
    ) + "\n"  # fmt: skip


def _answer(results: dict[str, Any], question: str) -> str:
    found = find(results.get("verdicts", []), question)
    return str(found["answer"]) if found else "not decided"


def findings(results: dict[str, Any]) -> str:
    """What the original study got right and wrong, told from this run's numbers and verdicts."""
    out: list[str] = []
    a = _cell(results, "async-raise", "2.2.0")
    up = _cell(results, "async-raise", "2.2.1")
    fix = _cell(results, "async-raise", "2.2.0+fix")
    gcv = _cell(results, "async-raise", "2.2.0+gc")
    ch = _cell(results, "chained", "2.2.0")
    sync = _cell(results, "sync-raise", "2.2.0")
    sleep = _cell(results, "async-sleep", "2.2.0")
    proof = results.get("proof", {})
    alloc = results.get("alloc_check", {})
    mode = results.get("mode", "?")
    out.append(
        f"Measured in {mode} mode (cells of {results.get('plan', {}).get('durations_s', {})} "
        f"seconds). The original ran dramatiq {SEED['dramatiq']} on Python {SEED['python']}; "
        f"this run used dramatiq 2.2.0 / 2.2.1."
    )
    out.append("")
    out.append("**What the original got right**")
    out.append("")
    if a and up:
        ratio = a["peak_mb"] / up["peak_mb"] if up["peak_mb"] else float("nan")
        grow = a.get("growth_mb_per_retry")
        out.append(
            f"- Exceptions raised by async actors are retained: with a {a['mb']} MB buffer, "
            f"2.2.0 peaked at {a['peak_mb']:.0f} MB against {up['peak_mb']:.0f} MB on 2.2.1 "
            f"({ratio:.1f}x), growing by {_fmt(grow)} MB per retry between drops "
            f"(the original: ~128 MB per retry with 128 MB buffers, peak "
            f"{SEED['peak_mb']:,.0f} MB)."
        )
    if ch and a:
        worse = _answer(results, Q_CHAINED) == "holds"
        out.append(
            f"- Chained exceptions make it "
            f"{'worse' if worse else 'no worse here'}: "
            f"`raise Outer(big) from Inner(big)` peaked at "
            f"{ch['peak_mb']:.0f} MB ({ch['live_exceptions_max']} live exceptions at most; "
            f"the original: {SEED['chained_peak_mb']:,.0f} MB)."
        )
    if sync and sleep:
        flat = "stay flat" if _answer(results, Q_CONTROLS) == "holds" else "do NOT stay flat"
        out.append(
            f"- The controls {flat}: the same failure from a sync actor peaked at "
            f"{sync['peak_mb']:.0f} MB (at most {sync['live_exceptions_max']} live exception), "
            f"an async actor sleeping with its buffer at {sleep['peak_mb']:.0f} MB "
            f"(the original's sleep control: ~{SEED['sleep_control_mb']} MB)."
        )
    out.append("")
    out.append("**What the original got wrong**")
    out.append("")
    if a:
        drops = a["bulk_drops"]
        floors = _post_drop_mb(a)
        idle = find(results.get("verdicts", []), f"an idle 2.2.0 worker after a burst of "
                    f"failures (Python {results.get('python', '?')})")  # fmt: skip
        kind = (
            "a reference cycle freed at the next collection"
            + (
                ", which a busy worker soon triggers, and an idle one may never ("
                + idle["answer"]
                + " in the idle cell below)"
                if idle is not None
                else ""
            )
            if _answer(results, Q_SHAPE) == "holds"
            else "growth without a drop within this cell"
        )
        floor_txt = (
            f"each drop brought RSS back to {min(floors):.0f}-{max(floors):.0f} MB"
            if floors
            else "no drop happened within the cell"
        )
        out.append(
            f"- It is {kind}: 2.2.0's RSS is a "
            f"sawtooth with {drops} bulk drops in {a['duration_s']:.0f} s "
            f"({a['drops_matched_to_gc']} of them at the same moment as a GC run, median "
            f"{_fmt(a.get('s_between_drops'), 1, ' s')} apart); {floor_txt}, and "
            f"`gc.collect()` frees every retained exception (see the proof below). The "
            f"original reported its maximum ({SEED['peak_mb']:,.0f} MB) as the end state; its "
            f"last sample was ~{SEED['last_sample_mb']:,} MB."
        )
        gens = a.get("drop_gc_generations", [])
        if gens:
            out.append(
                f"- The drops coincide with collections of {_gen_words(gens)}, not with full "
                f"collections: the cycle's objects are young, so a young collection frees "
                f"them, unless they were promoted while still in use (which is why the floor "
                f"between drops creeps up until an older generation is collected). The "
                f"collector is triggered by counts of container allocations, not by bytes: a "
                f"cycle pinning {a['mb']} MB weighs a few dozen objects."
            )
    for tag in results.get("other_pythons", {}):
        o = _cell(results, "async-raise", "2.2.0", f"py{tag}")
        if o:
            out.append(
                f"- On Python {tag} (the original used {SEED['python']}) the same cell peaked at "
                f"{o['peak_mb']:.0f} MB with {o['bulk_drops']} bulk drop(s) in "
                f"{o['duration_s']:.0f} s (median {_fmt(o.get('s_between_drops'), 1, ' s')} "
                f"apart), coinciding with collections of "
                f"{_gen_words(o.get('drop_gc_generations', []))} (the original: peak "
                f"{SEED['peak_mb']:,.0f} MB, drops every ~{SEED['drop_every_s'][0]}-"
                f"{SEED['drop_every_s'][1]} s). The cadence of the drops depends on the "
                f"interpreter and on the allocation rate, not on the memory held."
            )
    p0 = proof.get("2.2.0")
    if p0:
        names = " -> ".join(step["object"].split(" (")[0] for step in p0["cycle"]) or "(none)"
        out.append(
            f"- Its explanation was a guess; here the cycle is found by code "
            f"(`gc.get_referrers`, collector disabled): {names}. "
            f"{p0['live_after_processing']} exception(s) alive after "
            f"{p0['failures']} failure(s) on 2.2.0, "
            + ", ".join(
                f"{k}: {v['live_after_processing']}" for k, v in proof.items() if k != "2.2.0"
            )
            + f"; `gc.collect()` frees them all ({p0['live_after_gc_collect']} left)."
        )
    if gcv and fix:
        per = gcv["gc_time_ms"] / gcv["attempts"] if gcv["attempts"] else 0.0
        out.append(
            f"- Forcing `gc.collect()` after every failure is unnecessary and costly: "
            f"{per:.0f} ms of collection per failure ({gcv['gc_time_ms']:.0f} ms in "
            f"{gcv['attempts']} failures, longest pause {gcv['gc_max_pause_ms']:.0f} ms), "
            f"{gcv['throughput_per_s']:.1f} msg/s vs {fix['throughput_per_s']:.1f} with the "
            f"cycle broken, and it still peaks at {gcv['peak_mb']:.0f} MB (it runs while the "
            f"current exception is alive) vs {fix['peak_mb']:.0f} MB for the fix middleware, "
            f"which forces no collection at all."
        )
    if alloc:
        out.append(
            f"- Its follow-up tests allocated with `bytes(N)`: here `bytes({alloc['mb']} MiB)` "
            f"grew RSS by {alloc['bytes_n_rss_growth_mb']} MB, a written buffer of the same size "
            f"by {alloc['written_rss_growth_mb']} MB. Unwritten memory cannot show the effect."
        )
    extra = _also_measured(results)
    if extra:
        out += ["", "**Also measured here**", "", *extra]
    return "\n".join(out) + "\n"


def _also_measured(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    c0 = _cell(results, "concurrent", "2.2.0")
    c1 = _cell(results, "concurrent", "2.2.1")
    if c0 and c1 and c0["throughput_per_s"]:
        ratio = c1["throughput_per_s"] / c0["throughput_per_s"]
        costs = _answer(results, Q_CONCURRENT) == "holds"
        cost = "the retention costs throughput too" if costs else "throughput is similar"
        out.append(
            f"- With 5 threads failing at once ({c0['mb']} MB each), 2.2.0 peaked at "
            f"{c0['peak_mb']:.0f} MB vs {c1['peak_mb']:.0f} MB on 2.2.1, with up to "
            f"{c0['live_exceptions_max']} exceptions alive, and processed "
            f"{c0['throughput_per_s']:.1f} msg/s vs {c1['throughput_per_s']:.1f} "
            f"({ratio:.1f}x): {cost} ({c0['gc_time_ms'] / 1000:.1f} s spent in the collector)."
        )
    cost = find(results.get("verdicts", []), Q_FIX_COST)
    if cost is not None and results.get("fix_cost"):
        out.append(
            f"- The fix middleware's throughput cost against 2.2.1 ({cost['answer']}): "
            f"{cost['measured']}, each round the two side by side on 1 MB failures with 50 "
            "messages in flight, so the worker never waits for a retry."
        )
    return out


def proof_section(results: dict[str, Any]) -> str:
    proof = results.get("proof", {})
    if not proof:
        return "(no proof in this run)\n"
    text = "\n\n".join(p["text"] for p in proof.values())
    return "```text\n" + text + "\n```\n"


def diff_section(results: dict[str, Any]) -> str:
    src = results.get("source", {})
    if not src:
        return "(not recorded)\n"
    return "```diff\n" + src["diff"] + "\n```\n"


def figures_section(results: dict[str, Any]) -> str:
    present = {
        c["scenario"] + (f"-{c['python_tag']}" if c.get("python_tag") else "")
        for c in results.get("cells", [])
        if "error" not in c
    }
    parts = []
    scale = results.get("plan", {}).get("scale", 1.0)
    for sc in SCENARIOS:
        mb = max(1, round(sc.mb_per_exception * scale))
        label = sc.label.replace(f"{sc.mb_per_exception} MB", f"{mb} MB")
        for key in sorted(k for k in present if k == sc.key or k.startswith(sc.key + "-py")):
            on = f" (on Python {key.split('-py')[1]})" if "-py" in key else ""
            parts.append(f"**{key}**: {label}{on}\n\n![{key}](results/rss_{key}.png)\n")
    if present:
        parts.append("![peaks](results/peaks.png)\n")
    return "\n".join(parts)


def accounting_section(results: dict[str, Any]) -> str:
    acc = results.get("accounting_total", {})
    if not acc:
        return ""
    cells = results.get("cells", [])
    stopped = [c for c in cells if c.get("capped")]
    crashed = [c for c in cells if c.get("crashed")]
    return (
        f"Messages: {acc['enqueued']} enqueued, {acc['succeeded']} succeeded, "
        f"{acc['dead_lettered']} dead-lettered, {acc['still_queued']} still queued "
        f"(delayed retries or unprocessed), **{acc['lost']} lost**. "
        f"Workers stopped at the memory cap ({results.get('mem_cap_mb', 0) / 1024:.1f} GB): "
        f"{len(stopped)}; workers crashed: {len(crashed)}; cells that failed: "
        f"{acc['cells_with_errors']}.\n"
    )


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    return {
        "verdict": verdict_table(results.get("verdicts", [])) + "\n\n" + findings(results),
        "summary-table": summary_table(results) + "\n" + accounting_section(results),
        "proof": proof_section(results),
        "diff": diff_section(results),
        "figures": figures_section(results),
        "added": added_section(results),
        "crash": crash_section(results),
        "broker": broker_section(results),
    }
