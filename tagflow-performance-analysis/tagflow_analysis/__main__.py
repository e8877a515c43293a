"""Command line: ``python -m tagflow_analysis {profile,check,native} ...`` (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tagflow_analysis",
        description=(
            "Where tagflow 0.12.0's time goes. The full experiment (profiles, ladder, C++ "
            "analysis, README figures) is "
            "`uv run --frozen lab run tagflow-performance-analysis`; "
            "these subcommands are its parts."
        ),
    )
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser(
        "profile",
        help="cProfile + pyinstrument profiles of one scenario, flame graph, attribution (JSON)",
    )
    p.add_argument("scenario", help="simple, complex, table100, table1000 or escaping")
    p.add_argument("--engine", default="tagflow", help="tagflow | pybuilder | ladder:<a+b+...>")
    p.add_argument("--out", type=Path, required=True, help="directory for .prof/.pyisession/flames")
    p.add_argument("--loops", type=int, default=50, help="renders under cProfile (default 50)")
    p.add_argument("--seconds", type=float, default=1.0, help="seconds under pyinstrument")

    c = sub.add_parser("check", help="equivalence of every ladder rung with tagflow, per scenario")
    c.add_argument("--rungs", nargs="*", default=None, help="rung names (default: all)")

    n = sub.add_parser("native", help="callgrind analysis of tagflow_cpp on one scenario (JSON)")
    n.add_argument("scenario")
    n.add_argument("--api", choices=("compat", "explicit", "pydispatch"), default="explicit")
    n.add_argument("--out", type=Path, required=True)

    w = sub.add_parser("render-loop", help="(internal) render a scenario N times, for callgrind")
    w.add_argument("scenario")
    w.add_argument("--engine", required=True, help="an html_bench engine name or spec")
    w.add_argument("--loops", type=int, default=10)

    args = parser.parse_args(argv)
    try:
        if args.cmd == "profile":
            if args.loops < 1 or args.seconds <= 0:
                parser.error("--loops must be >= 1 and --seconds > 0")
            from tagflow_analysis.profiling import profile_scenario

            result = profile_scenario(
                args.scenario, args.out, engine=args.engine, loops=args.loops, seconds=args.seconds
            )
        elif args.cmd == "check":
            from tagflow_analysis.engines import check_rungs

            result = check_rungs(args.rungs)
        elif args.cmd == "native":
            from tagflow_analysis.native import analyse_scenario

            result = analyse_scenario(args.scenario, args.api, args.out)
        else:
            from tagflow_analysis.native import render_loop

            render_loop(args.scenario, args.engine, args.loops)
            return 0
    except (KeyError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
