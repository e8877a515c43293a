"""The `lab` command line: list, run and report the experiments.

Run it as ``uv run lab ...`` from the repository root.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from lab import pythons, registry, report, results, runner
from lab.experiment import Experiment

EPILOG = """\
examples:
  lab list                                   what exists and when it was last measured
  lab run                                    every experiment, quick mode
  lab run tagflow-vs-jinja-benchmark --full  one experiment, publication mode
  lab run uvloop-updated-benchmark --python ~/.cache/experiments/pythons/3.13/bin/python3.13
  lab report                                 rebuild results/index.html, SUMMARY.md, READMEs
  lab pythons                                build CPython 3.13 into ~/.cache/experiments

Results go to <experiment>/results/<UTC timestamp>.json and latest.json, with the
environment they were measured in. Exit status: 0 all good, 1 an experiment
failed, 2 bad usage, 130 interrupted.
"""


def _experiments(names: list[str] | None = None) -> list[Experiment]:
    known = registry.names()
    return [Experiment(n) for n in (names or known)]


def cmd_list(_: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Experiments")
    for col in ("experiment", "issue", "what it shows", "status", "latest results (UTC)"):
        table.add_column(col)
    for exp in _experiments():
        info = exp.describe()
        rec = results.latest(exp.name)
        if not info["implemented"]:
            status = "[yellow]not built yet[/]"
        elif rec is None:
            status = "implemented, not run"
        else:
            status = f"implemented, last run {rec.get('status', '?')}"
        when = str(rec.get("finished", "?"))[:16].replace("T", " ") if rec else "-"
        issue = f"#{info['issue']}" if info["issue"] else "-"
        table.add_row(exp.name, issue, info["title"], status, when)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    known = registry.names()
    unknown = [n for n in args.experiments if n not in known]
    if unknown:
        print(
            f"lab run: no such experiment: {', '.join(unknown)}\n"
            f"valid names: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    interpreters: list[str] = []
    for p in args.python or []:
        path = Path(p).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            print(f"lab run: --python {p}: not an executable file", file=sys.stderr)
            return 2
        interpreters.append(str(path))
    chosen = _experiments(args.experiments)
    code = runner.run(
        chosen,
        quick=not args.full,
        pythons=interpreters or pythons.default(),
        argv=sys.argv,
    )
    for line in report.build(_experiments()):
        print(line)
    return code


def cmd_report(_: argparse.Namespace) -> int:
    for line in report.build(_experiments()):
        print(line)
    return 0


def cmd_pythons(args: argparse.Namespace) -> int:
    return pythons.provision(args.rest)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lab",
        description="Run the experiments of this repository and report their results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="each experiment, what it shows, its status").set_defaults(
        fn=cmd_list
    )
    r = sub.add_parser(
        "run",
        help="run experiments (default: all, quick mode)",
        description="Run experiments, record results with their environment, rebuild reports.",
    )
    r.add_argument(
        "experiments", nargs="*", metavar="EXPERIMENT", help="names from `lab list`; default all"
    )
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short runs (default)")
    mode.add_argument("--full", action="store_true", help="long runs for published figures")
    r.add_argument(
        "--python",
        action="append",
        metavar="PATH",
        help="interpreter to measure on (repeatable); default: this one plus `lab pythons` builds",
    )
    r.set_defaults(fn=cmd_run)
    sub.add_parser(
        "report", help="rebuild results/index.html, results/SUMMARY.md and README figures"
    ).set_defaults(fn=cmd_report)
    py = sub.add_parser(
        "pythons",
        help="provision extra interpreters (CPython 3.13) into ~/.cache/experiments",
        add_help=False,
    )
    py.add_argument("rest", nargs=argparse.REMAINDER)
    py.set_defaults(fn=cmd_pythons)
    return p


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if args.command == "pythons":
        args.rest = extra + args.rest  # `lab pythons` parses its own options
    elif extra:
        # Let the subcommand's own parser print its usage with the error.
        sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
