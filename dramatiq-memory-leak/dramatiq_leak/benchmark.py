"""The whole experiment: environments, source diff, proof, the scenario x variant matrix, plots."""

from __future__ import annotations

import csv
import dataclasses
import difflib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dramatiq_leak import analysis, crash, envs, harness, plots
from dramatiq_leak.envs import VARIANTS, Variant
from dramatiq_leak.scenarios import SCENARIOS, Scenario
from dramatiq_leak.scenarios import scenario as get_scenario
from lab.procs import ProcessGroup

DEFAULT_CAP_GB = 6.0
CAP_ENV = "DRAMATIQ_LEAK_MEM_CAP_GB"


@dataclass(frozen=True)
class Plan:
    """Which cells run, how long, at what size."""

    quick: bool
    scale: float  # multiplies each scenario's MiB per exception
    durations: dict[str, float]  # seconds per scenario
    variants: dict[str, tuple[str, ...]]  # scenario -> variant keys
    #: cells repeated on each other interpreter (e.g. CPython 3.13 from `lab pythons`)
    other_pythons: tuple[tuple[str, str], ...] = (("async-raise", "2.2.0"),)
    #: burst scenarios: how long the worker is watched idle after its last message
    idle_s: float = 60.0
    #: crash cells (dramatiq_leak.crash): the variants, and their size
    crash_variants: tuple[str, ...] = ("2.2.1",)
    crash_plan: crash.CrashPlan = crash.FULL
    #: (scenario, variant) cells repeated on a private RabbitMQ node (this interpreter)
    rabbit_cells: tuple[tuple[str, str], ...] = ()
    #: the fix's throughput cost: rounds of (2.2.1, 2.2.0+fix) cells of FIX_COST, the order
    #: alternating, and seconds per cell
    cost_rounds: int = 2
    cost_seconds: float = 4.0

    def cells(self) -> list[tuple[Scenario, Variant]]:
        return [
            (sc, envs.variant(v))
            for sc in SCENARIOS
            if sc.key in self.durations
            for v in self.variants.get(sc.key, tuple(x.key for x in VARIANTS))
        ]

    def cells_on(self, pythons: list[str]) -> list[tuple[Scenario, Variant, str | None]]:
        """Every cell on this interpreter, then ``other_pythons`` cells on each of ``pythons``."""
        out: list[tuple[Scenario, Variant, str | None]] = [(s, v, None) for s, v in self.cells()]
        for py in pythons:
            for sc_key, v_key in self.other_pythons:
                if sc_key in self.durations:
                    out.append((get_scenario(sc_key), envs.variant(v_key), py))
        return out


ALL = tuple(v.key for v in VARIANTS)
#: The scenarios issue 16 added run with the three variants it names, on every interpreter.
ADDED = ("taskgroup", "reraise", "sync-async", "idle")
THREE = ("2.2.0", "2.2.1", "2.2.0+fix")
QUICK = Plan(
    quick=True,
    scale=0.5,
    durations={
        "async-raise": 8,
        "chained": 5,
        "sync-raise": 3,
        "async-sleep": 3,
        "concurrent": 4,
        "taskgroup": 4,
        "reraise": 3,
        "sync-async": 3,
        "idle": 30,  # at most: the burst, then idle_s
        "multi": 4,
    },
    variants={
        "sync-raise": ("2.2.0", "2.2.1"),
        "async-sleep": ("2.2.0", "2.2.1"),
        "taskgroup": THREE,
        "reraise": ("2.2.0", "2.2.1"),
        "sync-async": ("2.2.0", "2.2.1"),
        "idle": ("2.2.0", "2.2.1"),
        "multi": ("2.2.0", "2.2.1"),
    },
    other_pythons=(("async-raise", "2.2.0"), ("taskgroup", "2.2.1")),
    idle_s=4.0,
    crash_plan=crash.QUICK,
    rabbit_cells=(("async-raise", "2.2.0"), ("async-raise", "2.2.1")),
)
FULL = Plan(
    quick=False,
    scale=1.0,
    # ~14 min on 2 cores (budget 15): async-raise, the headline cell, keeps 60 s; the others
    # were 60/30/60/30 s (~19 min in all).
    durations={
        "async-raise": 60,
        "chained": 40,
        "sync-raise": 15,
        "async-sleep": 15,
        "concurrent": 30,
        "taskgroup": 20,
        "reraise": 20,
        "sync-async": 20,
        "idle": 120,  # at most: the burst (a few seconds), then 60 s idle
        "multi": 30,
    },
    variants={**{k: THREE for k in ADDED}, "multi": THREE},
    other_pythons=(
        ("async-raise", "2.2.0"),
        ("async-raise", "2.2.1"),
        ("chained", "2.2.0"),
        *((k, v) for k in ADDED for v in THREE),
    ),
    idle_s=60.0,
    crash_variants=("2.2.1", "2.2.0+fix"),
    crash_plan=crash.FULL,
    cost_rounds=8,
    cost_seconds=12.0,
    rabbit_cells=tuple((s, v) for s in ("async-raise", "taskgroup", "multi") for v in THREE),
)


def mem_cap_mb(cap_gb: float | None = None) -> float:
    """The memory cap in MB: argument, else $DRAMATIQ_LEAK_MEM_CAP_GB, else 6 GB."""
    if cap_gb is None:
        raw = os.environ.get(CAP_ENV)
        if raw:
            try:
                cap_gb = float(raw)
            except ValueError:
                raise ValueError(f"{CAP_ENV}={raw!r} is not a number of GB") from None
        else:
            cap_gb = DEFAULT_CAP_GB
    if not 0.2 <= cap_gb <= 1024:
        raise ValueError(f"memory cap {cap_gb} GB is out of range (0.2 to 1024 GB)")
    return cap_gb * 1024


def other_interpreters(pythons: list[str]) -> list[str]:
    """Those of ``pythons`` that are another CPython version than the one running this."""
    mine = envs.python_tag()
    seen: dict[str, str] = {}
    for py in pythons:
        tag = envs.python_tag(py)
        if tag != mine and tag not in seen:
            seen[tag] = py
    return list(seen.values())


def select(plan: Plan, scenarios: list[str] | None, variants: list[str] | None) -> Plan:
    """Restrict a plan to some scenarios / variants (validated)."""
    for v in variants or []:
        envs.variant(v)
    for s in scenarios or []:
        get_scenario(s)
    durations = {k: d for k, d in plan.durations.items() if not scenarios or k in scenarios}
    chosen = {
        sc.key: tuple(v for v in plan.variants.get(sc.key, ALL) if not variants or v in variants)
        for sc in SCENARIOS
    }
    if variants:  # an explicit variant list overrides the quick-mode subsets
        chosen = {k: tuple(variants) for k in chosen}
    others = tuple((s, v) for s, v in plan.other_pythons if not variants or v in variants)
    # A run restricted to some scenarios runs only their cells: no crash cells, no cost rounds.
    return dataclasses.replace(
        plan,
        durations=durations,
        variants=chosen,
        other_pythons=others,
        crash_variants=()
        if scenarios
        else tuple(v for v in plan.crash_variants if not variants or v in variants),
        cost_rounds=0 if scenarios else plan.cost_rounds,
        rabbit_cells=tuple(
            (s, v)
            for s, v in plan.rabbit_cells
            if s in durations and (not variants or v in variants)
        ),
    )


def source_diff(procs: ProcessGroup, redis_url: str) -> dict[str, Any]:
    """``run_coroutine`` and ``clear_exception`` as installed in 2.2.0 and 2.2.1, and the diff."""
    out: dict[str, Any] = {}
    for version in ("2.2.0", "2.2.1"):
        var = envs.variant(version)
        py = envs.ensure_env(version)
        out[version] = harness.client(
            procs, py, envs.child_env(var, redis_url, "src", None), "source"
        )
    diff = []
    for part in ("run_coroutine", "clear_exception"):
        diff += difflib.unified_diff(
            out["2.2.0"][part].splitlines(),
            out["2.2.1"][part].splitlines(),
            f"dramatiq 2.2.0 {part}",
            f"dramatiq 2.2.1 {part}",
            lineterm="",
        )
    return {"diff": "\n".join(diff), "files": {v: out[v]["file"] for v in out}}


def run_proof(
    procs: ProcessGroup, redis_url: str, variant: Variant, failures: int = 1, mb: int = 8
) -> dict[str, Any]:
    """Run :mod:`dramatiq_leak.proof` in ``variant``'s environment; its JSON result."""
    py = envs.ensure_env(variant.dramatiq)
    env = envs.child_env(variant, redis_url, f"proof-{variant.extra}-{failures}", None)
    res = procs.run(
        [str(py), "-m", "dramatiq_leak.proof", "--failures", str(failures), "--mb", str(mb)],
        env=env,
        stdout=harness.subprocess.PIPE,
        stderr=harness.subprocess.PIPE,
        text=True,
        timeout=120,
    )
    if res.returncode != 0:
        raise RuntimeError(f"proof on {variant.key} failed: {res.stderr.strip()[-2000:]}")
    result = json.loads(res.stdout)
    result["variant"] = variant.key
    return result


def run_all(
    procs: ProcessGroup,
    out: Path,
    plan: Plan,
    cap_mb: float,
    log: Callable[[str], None] = print,
    advance: Callable[[str], None] | None = None,
    set_total: Callable[[int], None] | None = None,
    artifact: Callable[[Path], object] | None = None,
    pythons: list[str] | None = None,
) -> dict[str, Any]:
    """Everything; writes CSVs, plots and proof files into ``out``; returns the results.

    ``pythons``: other interpreters on which ``plan.other_pythons`` cells are repeated.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dleak-cells-") as tmp:
        return _run_all(
            procs, out, Path(tmp), plan, cap_mb, log, advance, set_total, artifact, pythons or []
        )


def _run_all(
    procs: ProcessGroup,
    out: Path,
    work: Path,
    plan: Plan,
    cap_mb: float,
    log: Callable[[str], None],
    advance: Callable[[str], None] | None,
    set_total: Callable[[int], None] | None,
    artifact: Callable[[Path], object] | None,
    pythons: list[str],
) -> dict[str, Any]:
    from dramatiq_leak.redis_server import RedisServer

    cells = plan.cells_on(pythons)
    proof_variants = [v for v in VARIANTS if v.extra != "gc"]
    if set_total:
        set_total(
            len(cells)
            + len(proof_variants)
            + 2
            + len(plan.crash_variants)
            + plan.cost_rounds
            + len(plan.rabbit_cells)
        )
    register = artifact or (lambda p: p)
    step = advance or (lambda note: None)

    for version, py in sorted(
        {(v.dramatiq, p or "") for _, v, p in cells} | {("2.2.0", ""), ("2.2.1", "")}
    ):
        envs.ensure_env(version, py or None, log=log)
    results: dict[str, Any] = {
        "mode": "quick" if plan.quick else "full",
        "mem_cap_mb": cap_mb,
        "plan": {"durations_s": plan.durations, "scale": plan.scale},
        "redis_py": envs.REDIS_PY,
        "python": envs.python_tag(),
        "other_pythons": {envs.python_tag(p): p for p in pythons},
    }
    with RedisServer(procs) as redis:
        results["redis_server"] = redis.binary
        results["source"] = source_diff(procs, redis.url)
        (out / "run_coroutine.diff").write_text(results["source"]["diff"] + "\n")
        register(out / "run_coroutine.diff")
        step("source diff")
        py = envs.ensure_env("2.2.0")
        results["alloc_check"] = harness.client(
            procs, py, envs.child_env(envs.variant("2.2.0"), redis.url, "x", None), "alloc-check"
        )
        step("allocation check")

        proofs = {}
        for var in proof_variants:
            proofs[var.key] = run_proof(procs, redis.url, var)
            step(f"proof {var.key}")
        results["proof"] = proofs
        text = "\n\n".join(p["text"] for p in proofs.values())
        (out / "proof.txt").write_text(text + "\n")
        (out / "proof.json").write_text(json.dumps(proofs, indent=2) + "\n")
        register(out / "proof.txt")
        register(out / "proof.json")
        log(proofs["2.2.0"]["text"])

        summaries: list[dict[str, Any]] = []
        figures: dict[str, list[tuple[str, dict, dict]]] = {}

        def one_cell(sc: Scenario, var: Variant, py: str | None, url: str, broker: str) -> None:
            mb = max(1, round(sc.mb_per_exception * plan.scale))
            cfg = harness.CellConfig(
                sc,
                var,
                mb,
                plan.durations[sc.key],
                cap_mb,
                python=py,
                max_retries=0 if sc.burst else None,
                idle_s=plan.idle_s if sc.burst else 0.0,
                broker=broker,
            )
            tag = "" if py is None else f"py{envs.python_tag(py)}"
            step_note = " / ".join(x for x in (sc.key, var.key, tag, broker) if x != "redis" and x)
            try:
                raw = harness.run_cell(procs, url, cfg, work, log=log)
            except (RuntimeError, TimeoutError) as exc:  # recorded, the run goes on
                log(f"{step_note}: failed: {exc}")
                summaries.append(
                    {
                        "scenario": sc.key,
                        "variant": var.key,
                        "python_tag": tag or None,
                        "broker": broker,
                        "error": str(exc),
                        "peak_mb": None,
                    }
                )
                step(step_note)
                return
            summary = analysis.analyse(raw)
            summaries.append(summary)
            for p in analysis.write_csvs(raw, out / "csv"):
                register(p)
            if broker == "redis":  # the RSS figures are the Redis cells'
                fig_key = sc.key + (f"-{tag}" if tag else "")
                figures.setdefault(fig_key, []).append((var.label, analysis.series(raw), summary))
            if summary["capped"]:
                log(
                    f"{step_note}: stopped at the memory cap ({summary['capped']['rss_mb']:.0f} MB)"
                )
            if summary["crashed"]:
                log(f"{step_note}: worker crashed: {harness.describe_crash(summary['crashed'])}")
            step(step_note)

        for sc, var, py in cells:
            one_cell(sc, var, py, redis.url, "redis")

        crashes = []
        for key in plan.crash_variants:
            try:
                cell = crash.run_crash_cell(procs, redis.url, key, work, plan.crash_plan, log=log)
            except (RuntimeError, TimeoutError) as exc:  # recorded, the run goes on (and fails)
                cell = {"variant": key, "python_tag": None, "error": str(exc)}
            for problem in crash.crash_errors(cell):
                log(problem)
            crashes.append(cell)
            step(f"crash / {key}")
        results["crash"] = crashes
        if plan.cost_rounds:
            results["fix_cost"] = fix_cost_rounds(procs, redis.url, work, plan, cap_mb, log, step)

    # The same scenarios on RabbitMQ: a private node (its own ports, epmd and data), proven.
    if plan.rabbit_cells:
        from dramatiq_leak.rabbitmq_server import RabbitError, RabbitServer

        try:
            with RabbitServer(procs) as rabbit:
                results["rabbitmq_node"] = rabbit.node
                for sc_key, v_key in plan.rabbit_cells:
                    one_cell(get_scenario(sc_key), envs.variant(v_key), None, rabbit.url,
                             "rabbitmq")  # fmt: skip
        except RabbitError as exc:  # e.g. rabbitmq-server not installed: said, no traceback
            log(f"RabbitMQ cells not run: {exc}")
            results["rabbitmq_error"] = str(exc)

    mine = f"Python {envs.python_tag()}"
    for fig_key, fig_cells in figures.items():
        sc = get_scenario(fig_key.split("-py")[0])
        mb = max(1, round(sc.mb_per_exception * plan.scale))
        label = sc.label.replace(f"{sc.mb_per_exception} MB", f"{mb} MB")
        on = f"Python {fig_key.split('-py')[1]}" if "-py" in fig_key else mine
        path = out / f"rss_{fig_key}.png"
        register(plots.rss_figure(f"{label}  ({on})", fig_cells, path, cap_mb))
    scenario_keys = [sc.key for sc in SCENARIOS if sc.key in figures]
    ok_rows = [
        r
        for r in summaries
        if "error" not in r and not r.get("python_tag") and r.get("broker", "redis") == "redis"
    ]
    if ok_rows:
        register(plots.peaks_figure(ok_rows, scenario_keys, out / "peaks.png"))
    results["cells"] = summaries
    results["accounting_total"] = total_accounting(summaries)
    summary_csv = write_summary_csv(summaries, out / "summary.csv")
    register(summary_csv)
    return results


COST_VARIANTS = ("2.2.1", "2.2.0+fix")


def fix_cost_rounds(
    procs: ProcessGroup,
    redis_url: str,
    work: Path,
    plan: Plan,
    cap_mb: float,
    log: Callable[[str], None],
    step: Callable[[str], None],
) -> dict[str, Any]:
    """Messages/s of FIX_COST on 2.2.1 and on 2.2.0 + the fix, side by side in each round."""
    from dramatiq_leak.scenarios import FIX_COST

    rounds: list[dict[str, float]] = []
    errors: list[str] = []
    for r in range(plan.cost_rounds):
        order = COST_VARIANTS if r % 2 == 0 else COST_VARIANTS[::-1]
        got: dict[str, float] = {}
        for key in order:
            cfg = harness.CellConfig(FIX_COST, envs.variant(key), FIX_COST.mb_per_exception,
                                     plan.cost_seconds, cap_mb, queue="cost")  # fmt: skip
            try:
                summary = analysis.analyse(harness.run_cell(procs, redis_url, cfg, work, log=log))
            except (RuntimeError, TimeoutError) as exc:
                errors.append(f"fix cost round {r + 1} / {key}: {exc}")
                continue
            if summary["crashed"] or not summary["accounting"]["ok"]:
                errors.append(f"fix cost round {r + 1} / {key}: crashed or lost messages")
                continue
            got[key] = summary["throughput_per_s"]
        if len(got) == len(COST_VARIANTS):
            rounds.append(got)
        step(f"fix cost round {r + 1}")
    return {"seconds": plan.cost_seconds, "rounds": rounds, "errors": errors}


def fix_cost_interval(cost: dict[str, Any]) -> Any:
    """2.2.0+fix's messages/s over 2.2.1's, paired by round, 95 % CI (None: < 2 rounds)."""
    from lab.stats import ratio_interval

    rounds = cost.get("rounds") or []
    if len(rounds) < 2:
        return None
    return ratio_interval([r["2.2.0+fix"] for r in rounds], [r["2.2.1"] for r in rounds])


def run_errors(results: dict[str, Any]) -> list[str]:
    """What went wrong in a run (a failed or crashed cell, a lost message, a missing proof); the
    lab plug-in's ``errors`` and ``dramatiq-leak run``'s exit status both come from here. A
    2.2.0 cell that grows to the memory cap is the finding, not an error."""
    out: list[str] = []
    cells = results.get("cells") or []
    if not cells:
        out.append("no cell was run")
    for c in cells:
        where = (
            f"{c.get('scenario')} / {c.get('variant')}"
            + (f" / {c['python_tag']}" if c.get("python_tag") else "")
            + (f" / {c['broker']}" if c.get("broker", "redis") != "redis" else "")
        )
        if "error" in c:
            out.append(f"{where}: failed: {c['error']}")
            continue
        if c.get("crashed"):
            out.append(f"{where}: worker crashed: {harness.describe_crash(c['crashed'])}")
        acc = c.get("accounting")
        if not acc:
            out.append(f"{where}: no message accounting")
        elif not acc.get("ok", acc.get("lost") == 0 and acc.get("unexpected") == 0):
            out.append(
                f"{where}: messages lost {acc.get('lost')}, unexpected {acc.get('unexpected')}"
            )
        if c.get("peak_mb") is None:
            out.append(f"{where}: no RSS measured")
    for cell in results.get("crash") or []:
        out += crash.crash_errors(cell)
    if results.get("rabbitmq_error"):
        out.append(f"RabbitMQ cells not run: {results['rabbitmq_error']}")
    if "fix_cost" in results:
        cost = results["fix_cost"]
        out += cost.get("errors") or []
        if len(cost.get("rounds") or []) < 2:
            out.append("fix cost: fewer than 2 complete rounds")
    check = results.get("alloc_check") or {}
    if not check or check.get("written_rss_growth_mb", 0) < 0.5 * check.get("mb", 0):
        out.append(f"RSS probe does not see written memory: {check}")
    proof = results.get("proof") or {}
    for variant in ("2.2.0", "2.2.1", "2.2.0+fix"):
        if variant not in proof:
            out.append(f"proof for {variant} missing")
    return out


def total_accounting(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("enqueued", "succeeded", "dead_lettered", "still_queued", "lost", "unexpected")
    total = {k: 0 for k in keys}
    for r in rows:
        acc = r.get("accounting")
        if acc:
            for k in keys:
                total[k] += acc[k]
    total["all_accounted_for"] = total["lost"] == 0 and total["unexpected"] == 0
    total["cells_with_errors"] = sum(1 for r in rows if "error" in r)
    return total


SUMMARY_COLUMNS = (
    "scenario", "variant", "mb", "duration_s", "attempts", "floor_mb", "peak_mb", "final_mb",
    "growth_mb_per_retry", "bulk_drops", "drops_matched_to_gc", "s_between_drops",
    "full_collections", "gc_time_ms", "gc_max_pause_ms", "live_exceptions_max",
    "live_exceptions_final", "throughput_per_s", "cpu_percent", "cpu_ms_per_attempt",
    "stop_reason",
)  # fmt: skip


def write_summary_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*SUMMARY_COLUMNS, "messages_enqueued", "messages_lost", "error"])
        for r in rows:
            acc = r.get("accounting") or {}
            w.writerow(
                [r.get(c, "") for c in SUMMARY_COLUMNS]
                + [acc.get("enqueued", ""), acc.get("lost", ""), r.get("error", "")]
            )
    return path
