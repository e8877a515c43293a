"""`lab run`: run experiments with progress, record each run, print a summary.

Each experiment runs in its own staging folder under ``runs/`` and is judged when it ends:
"ok" only when ``run()`` returned, ``errors(results)`` is empty and
``measurement_count(results)`` is positive; otherwise "failed", with the reason. A failure
of one experiment (an exception, a folder it cannot write) never stops the others.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from lab import environment, results, verdicts
from lab.experiment import Context, Experiment
from lab.experiment import Progress as ExpProgress
from lab.procs import ProcessGroup


@dataclass
class Outcome:
    name: str
    status: str  # ok | failed | interrupted
    seconds: float
    summary: list[tuple[str, str]]
    error: str | None = None
    folder: Path | None = None


def _summary_rows(module: Any, data: dict[str, Any]) -> list[tuple[str, str]]:
    summarize = getattr(module, "summarize", None)
    if summarize is None:
        return []
    return [(str(a), str(b)) for a, b in summarize(data)]


def judge(module: Any, data: Any) -> list[str]:
    """Why a run that returned ``data`` is not good (empty: it is good)."""
    if not isinstance(data, dict):
        return [f"run() returned {type(data).__name__}, expected dict"]
    problems: list[str] = []
    for fn in ("errors", "measurement_count"):
        if not callable(getattr(module, fn, None)):
            problems.append(f"experiment.py defines no {fn}(results): the run cannot be judged")
    if problems:
        return problems
    problems += [str(e) for e in module.errors(data)]
    if "verdicts" not in data:
        problems.append("results have no 'verdicts' (lab.verdicts): decide them at run time")
    else:
        problems += verdicts.problems(data["verdicts"])
    count = module.measurement_count(data)
    if not isinstance(count, int) or count <= 0:
        problems.append(f"no successful measurement (measurement_count = {count!r})")
    return problems


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_one(
    exp: Experiment,
    *,
    quick: bool,
    pythons: list[str],
    argv: list[str],
    bars: Progress,
    console: Console,
) -> Outcome:
    t0 = time.monotonic()
    task = bars.add_task(exp.name, total=None)

    def on_change(total: int | None, done: int, note: str | None) -> None:
        label = exp.name if not note else f"{exp.name}: {note}"
        bars.update(task, total=total, completed=done, description=label[:70])

    def fail(message: str) -> Outcome:
        console.print(f"[red]{exp.name} failed:[/] {message}", highlight=False)
        return Outcome(exp.name, "failed", time.monotonic() - t0, [], message)

    try:
        stamp, staging = results.new_run(exp.name)
    except OSError as exc:
        return fail(f"cannot write its run folder: {_one_line(exc)}")

    started = datetime.now(UTC)
    record: dict[str, Any] = {
        "experiment": exp.name,
        "stamp": stamp,
        "started": started.isoformat(),
        "mode": "quick" if quick else "full",
    }
    status, problems, data, rows = "ok", [], None, []
    monitor = environment.LoadMonitor()
    try:
        module = exp.load()
        record["title"] = getattr(module, "TITLE", "")
        record["environment"] = environment.capture(pythons, argv, record["mode"])
        monitor.start()
        with ProcessGroup() as procs:
            ctx = Context(
                name=exp.name,
                quick=quick,
                pythons=pythons,
                procs=procs,
                out=staging,
                progress=ExpProgress(on_change),
                log=lambda msg: console.print(f"[dim]{exp.name}:[/] {msg}", highlight=False),
            )
            data = module.run(ctx)
        problems = judge(module, data)
        if not problems:
            rows = _summary_rows(module, data)
        record["artifacts"] = ctx.artifacts
    except KeyboardInterrupt:
        results.discard_run(staging)
        raise
    except Exception as exc:
        problems = [_one_line(exc)]
        record["traceback"] = traceback.format_exc()
    if problems:
        status = "failed"
    record.update(
        status=status,
        errors=problems,
        error=problems[0] if problems else None,
        finished=datetime.now(UTC).isoformat(),
        duration_s=round(time.monotonic() - t0, 3),
        load=monitor.stop() if monitor.started else None,
        summary=rows,
        results=data,
    )
    bars.update(task, completed=bars.tasks[task].total or 1, total=bars.tasks[task].total or 1)
    try:
        folder = results.finish_run(exp.name, staging, record)
    except OSError as exc:
        results.discard_run(staging)
        return fail(f"cannot write its results: {_one_line(exc)}")
    if problems:
        more = (
            f" (and {len(problems) - 1} more, see {folder}/record.json)"
            if len(problems) > 1
            else ""
        )
        console.print(f"[red]{exp.name} failed:[/] {problems[0]}{more}", highlight=False)
    return Outcome(exp.name, status, time.monotonic() - t0, rows, record["error"], folder)


def run(experiments: list[Experiment], *, quick: bool, pythons: list[str], argv: list[str]) -> int:
    console = Console(width=None if sys.stdout.isatty() else 160)
    outcomes: list[Outcome] = []
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    interrupted = False
    with Progress(*columns, console=console, transient=False) as bars:
        overall = bars.add_task("all experiments", total=len(experiments))
        for exp in experiments:
            try:
                outcomes.append(
                    run_one(
                        exp,
                        quick=quick,
                        pythons=pythons,
                        argv=argv,
                        bars=bars,
                        console=console,
                    )
                )
            except KeyboardInterrupt:
                outcomes.append(Outcome(exp.name, "interrupted", 0.0, [], "interrupted"))
                interrupted = True
                break
            bars.advance(overall)
    print_summary(console, outcomes)
    if interrupted:
        console.print("[yellow]interrupted; child processes stopped, nothing was written.[/]")
        return 130
    return 1 if any(o.status != "ok" for o in outcomes) else 0


def print_summary(console: Console, outcomes: list[Outcome]) -> None:
    table = Table(title="Summary", show_lines=True)
    table.add_column("experiment")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("headline")
    colors = {"ok": "green", "failed": "red", "interrupted": "yellow"}
    for o in outcomes:
        color = colors.get(o.status, "dim")
        headline = "\n".join(f"{a}: {b}" for a, b in o.summary)
        if o.error:
            headline = (headline + "\n" if headline else "") + f"[red]{o.error}[/]"
        table.add_row(o.name, f"[{color}]{o.status}[/]", f"{o.seconds:.1f} s", headline)
    console.print(table)
    sys.stdout.flush()
