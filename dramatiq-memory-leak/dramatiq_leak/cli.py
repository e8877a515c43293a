"""``dramatiq-leak`` (or ``python -m dramatiq_leak``): run the experiment outside ``lab``.

Examples::

    dramatiq-leak run --quick                      # the quick matrix, results into ./dleak-results
    dramatiq-leak run --full --mem-cap-gb 8        # published figures (about 20 minutes)
    dramatiq-leak run --scenario async-raise --variant 2.2.0 --variant 2.2.0+fix
    dramatiq-leak proof                            # print the reference cycle (2.2.0) and the fixes
    dramatiq-leak envs                             # build the per-version environments only

``uv run --frozen lab run dramatiq-memory-leak [--full]`` runs the same thing and records it
in results/latest.json; the memory cap then comes from $DRAMATIQ_LEAK_MEM_CAP_GB.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dramatiq_leak import benchmark, envs
from dramatiq_leak.scenarios import SCENARIOS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dramatiq-leak",
        description="Reproduce, prove and fix exception memory retention in dramatiq's AsyncIO "
        "middleware, on a private redis-server.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    r = sub.add_parser("run", help="run the scenario x variant matrix, write CSVs and plots")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short cells, half-size buffers")
    mode.add_argument("--full", action="store_true", help="60 s cells, 128 MB buffers")
    r.add_argument(
        "--scenario",
        action="append",
        choices=[s.key for s in SCENARIOS],
        help="only this scenario (repeatable)",
    )
    r.add_argument(
        "--variant",
        action="append",
        choices=[v.key for v in envs.VARIANTS],
        help="only this variant (repeatable)",
    )
    r.add_argument(
        "--mem-cap-gb",
        type=float,
        default=None,
        help=f"kill a worker whose RSS passes this (default ${benchmark.CAP_ENV} or "
        f"{benchmark.DEFAULT_CAP_GB:g})",
    )
    r.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PATH",
        help="another CPython to repeat the async-raise cells on (repeatable), e.g. "
        "~/.cache/experiments/pythons/3.13/bin/python3.13",
    )
    r.add_argument("--out", type=Path, default=Path("dleak-results"), help="output folder")
    pr = sub.add_parser("proof", help="show the reference cycle, and that the fixes free at once")
    pr.add_argument("--failures", type=int, default=1)
    sub.add_parser("envs", help="build the per-version environments (uv, cached)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from dramatiq_leak.redis_server import RedisError, redis_binary
    from lab.procs import ProcessGroup

    try:
        if args.cmd in ("run", "proof"):
            redis_binary()  # before building anything: a missing redis-server is one line
        if args.cmd == "envs":
            for version in sorted({v.dramatiq for v in envs.VARIANTS}):
                print(envs.ensure_env(version))
            return 0
        if args.cmd == "proof":
            if args.failures < 1:
                print("dramatiq-leak proof: --failures must be at least 1", file=sys.stderr)
                return 2
            from dramatiq_leak.redis_server import RedisServer

            with ProcessGroup() as procs, RedisServer(procs) as redis:
                for var in envs.VARIANTS:
                    if var.extra != "gc":
                        print(benchmark.run_proof(procs, redis.url, var, args.failures)["text"])
            return 0
        cap = benchmark.mem_cap_mb(args.mem_cap_gb)
        plan = benchmark.select(
            benchmark.FULL if args.full else benchmark.QUICK, args.scenario, args.variant
        )
        with ProcessGroup() as procs:
            res = benchmark.run_all(
                procs,
                args.out,
                plan,
                cap,
                advance=lambda note: print(f"done: {note}"),
                pythons=benchmark.other_interpreters(args.python),
            )
        (args.out / "results.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        print(f"wrote {args.out}/results.json, summary.csv, csv/, rss_*.png")
        problems = benchmark.run_errors(res)
        for problem in problems:
            print(f"dramatiq-leak: error: {problem}", file=sys.stderr)
        return 1 if problems else 0
    except ValueError as exc:
        print(f"dramatiq-leak: {exc}", file=sys.stderr)
        return 2
    except RedisError as exc:
        print(f"dramatiq-leak: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dramatiq-leak: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
