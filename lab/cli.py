"""The `lab` command line: list, run and report the experiments.

Run it as ``uv run --frozen lab ...`` from the repository root.
"""

from __future__ import annotations

import argparse
import signal
import sys

from lab import environment, publish, pythons, registry, report, results, runner, supervisor
from lab.experiment import Experiment

EPILOG = """\
examples:
  lab list                                   each experiment, its last run, what is published
  lab run                                    every experiment, quick mode
  lab run tagflow-vs-jinja-benchmark --full  one experiment, full mode (publishable)
  lab run uvloop-updated-benchmark --python ~/.cache/experiments/pythons/3.13/bin/python3.13
  lab report                                 rebuild runs/index.html from your latest runs
  lab publish tagflow-vs-jinja-benchmark     make its latest full run the published figures
  lab pythons                                build CPython 3.13 into ~/.cache/experiments

Working runs go to runs/<experiment>/<stamp>/ (ignored by git; runs/index.html is their
report). Only `lab publish` writes tracked files. One run at a time per machine.
Exit status: 0 all good, 1 an experiment failed or publishing was refused, 2 bad usage,
3 another lab run holds the lock, 130 interrupted.
"""

EXIT_LOCKED = 3


def _experiments(names: list[str] | None = None) -> list[Experiment]:
    known = registry.names()
    return [Experiment(n) for n in (names or known)]


def _check_names(names: list[str], command: str) -> bool:
    known = registry.names()
    unknown = [n for n in names if n not in known]
    if unknown:
        print(
            f"lab {command}: no such experiment: {', '.join(unknown)}\n"
            f"valid names: {', '.join(known)}",
            file=sys.stderr,
        )
    return not unknown


def cmd_list(_: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Experiments")
    for col in ("experiment", "issue", "what it shows", "your last good run", "published"):
        table.add_column(col)
    for exp in _experiments():
        info = exp.describe()
        try:
            last = results.latest_run(exp.name)
            run_s = f"{last[1].get('mode')} {last[0].name}" if last else "-"
        except results.RecordError as exc:
            run_s = f"unreadable: {exc}"
        try:
            pub = results.published(exp.name)
            pub_s = f"{pub.get('mode')} {pub.get('stamp')}" if pub else "not published"
        except results.RecordError:
            pub_s = "unreadable (old schema)"
        issue = f"#{info['issue']}" if info["issue"] else "-"
        table.add_row(exp.name, issue, info["title"], run_s, pub_s)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if not _check_names(args.experiments, "run"):
        return 2
    interpreters: list[str] = []
    for p in args.python or []:
        try:
            interpreters.append(environment.working_python(p))
        except ValueError as exc:
            print(f"lab run: --python {exc}", file=sys.stderr)
            return 2
    chosen = _experiments(args.experiments)
    try:
        with supervisor.RunGuard():
            removed = results.remove_stale_staging(list(registry.names()))
            for path in removed:
                print(f"lab run: removed {path} (left by a run that was killed)")
            code = runner.run(
                chosen,
                quick=not args.full,
                pythons=interpreters or pythons.default(),
                argv=sys.argv,
            )
    except supervisor.LockBusy as exc:
        print(f"lab run: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    if code != 130:
        for line in report.build_local(_experiments()):
            print(line)
        print("open runs/index.html for tables and plots (not published; see `lab publish`)")
    return code


def cmd_report(_: argparse.Namespace) -> int:
    for line in report.build_local(_experiments()):
        print(line)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    if not _check_names([args.experiment], "publish"):
        return 2
    try:
        with supervisor.RunGuard():
            lines = publish.publish(
                Experiment(args.experiment),
                _experiments(),
                stamp=args.run,
                allow_noisy=args.allow_noisy,
                argv=sys.argv,
            )
    except supervisor.LockBusy as exc:
        print(f"lab publish: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except publish.Refused as exc:
        print(f"lab publish: refused: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    print(f"review with `git diff`, then commit {args.experiment}/ README.md results/")
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
    sub.add_parser("list", help="each experiment, its last run, what is published").set_defaults(
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
    mode.add_argument("--full", action="store_true", help="long runs; only these can be published")
    r.add_argument(
        "--python",
        action="append",
        metavar="PATH",
        help="interpreter to measure on (repeatable; a path or a name on PATH, checked by running "
        "it); default: this one plus `lab pythons` builds",
    )
    r.set_defaults(fn=cmd_run)
    sub.add_parser(
        "report", help="rebuild runs/index.html and runs/SUMMARY.md from your latest runs"
    ).set_defaults(fn=cmd_report)
    pub = sub.add_parser(
        "publish",
        help="make a full-mode run the published figures (results/, README sections)",
        description=publish.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pub.add_argument("experiment", metavar="EXPERIMENT")
    pub.add_argument(
        "--run",
        metavar="STAMP",
        help="a run folder name under runs/EXPERIMENT/ " "(default: the latest good run)",
    )
    pub.add_argument(
        "--allow-noisy",
        action="store_true",
        help="publish although other work loaded the machine (the README says so)",
    )
    pub.set_defaults(fn=cmd_publish)
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
