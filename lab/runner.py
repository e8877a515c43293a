"""`lab run`: run experiments with progress, record results, print a summary."""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
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

from lab import environment, results
from lab.experiment import Context, Experiment
from lab.experiment import Progress as ExpProgress
from lab.procs import ProcessGroup


@dataclass
class Outcome:
    name: str
    status: str  # ok | failed | not built | interrupted
    seconds: float
    summary: list[tuple[str, str]]
    error: str | None = None


def _summary_rows(module: Any, data: dict[str, Any]) -> list[tuple[str, str]]:
    summarize = getattr(module, "summarize", None)
    if summarize is None:
        return []
    return [(str(a), str(b)) for a, b in summarize(data)]


def run_one(
    exp: Experiment,
    *,
    quick: bool,
    pythons: list[str],
    argv: list[str],
    bars: Progress,
    console: Console,
) -> Outcome:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    task = bars.add_task(exp.name, total=None)

    def on_change(total: int | None, done: int, note: str | None) -> None:
        label = exp.name if not note else f"{exp.name}: {note}"
        bars.update(task, total=total, completed=done, description=label[:70])

    record: dict[str, Any] = {
        "experiment": exp.name,
        "stamp": results.utc_stamp(started),
        "started": started.isoformat(),
        "mode": "quick" if quick else "full",
    }
    status, error, data, rows = "ok", None, None, []
    module = None
    try:
        module = exp.load()
        record["title"] = getattr(module, "TITLE", "")
        if not getattr(module, "IMPLEMENTED", True):
            bars.update(task, total=1, completed=1, description=f"{exp.name}: not built yet")
            issue = getattr(module, "ISSUE", None)
            note = f"not built yet (issue #{issue} open)" if issue else "not built yet"
            return Outcome(exp.name, "not built", 0.0, [("status", note)])
        record["environment"] = environment.capture(pythons, argv, record["mode"])
        with ProcessGroup() as procs:
            ctx = Context(
                name=exp.name,
                quick=quick,
                pythons=pythons,
                procs=procs,
                progress=ExpProgress(on_change),
                log=lambda msg: console.print(f"[dim]{exp.name}:[/] {msg}", highlight=False),
            )
            data = module.run(ctx)
        if not isinstance(data, dict):
            raise TypeError(f"run() returned {type(data).__name__}, expected dict")
        rows = _summary_rows(module, data)
        record["artifacts"] = ctx.artifacts
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user (Ctrl-C)"
        raise
    except Exception as exc:
        status = "failed"
        error = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
        console.print(f"[red]{exp.name} failed:[/] {error}", highlight=False)
    finally:
        seconds = time.monotonic() - t0
        record.update(
            status=status,
            error=error,
            finished=datetime.now(UTC).isoformat(),
            duration_s=round(seconds, 3),
            summary=rows,
            results=data,
        )
        if module is not None and "environment" in record:
            results.write(exp.name, record, latest=status == "ok")
        bars.update(task, completed=bars.tasks[task].total or 1, total=bars.tasks[task].total or 1)
    return Outcome(exp.name, status, seconds, rows, error)


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
                outcomes.append(Outcome(exp.name, "interrupted", 0.0, [], "Ctrl-C"))
                interrupted = True
                break
            bars.advance(overall)
    print_summary(console, outcomes)
    if interrupted:
        console.print("[yellow]interrupted; child processes stopped.[/]")
        return 130
    return 1 if any(o.status == "failed" for o in outcomes) else 0


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
