"""``python -m html_bench``: render, check or time one engine on one scenario."""

from __future__ import annotations

import argparse
import json
import sys

from html_bench import scenarios
from html_bench.engines import names as engine_names
from html_bench.engines import resolve
from html_bench.scenarios import UnknownNameError

EPILOG = """\
examples:
  python -m html_bench --list                                  engines, scenarios, availability
  python -m html_bench --scenario escaping --engine jinja2     print the HTML
  python -m html_bench --scenario table100 --engine tagflow --check
  python -m html_bench --scenario simple --engine htpy --time  quick pyperf timing

The full benchmark (every engine, every scenario, plots, README tables) is
`uv run --frozen lab run tagflow-vs-jinja-benchmark [--full] [--python PATH]`.
An engine may also be given as an import spec 'package.module:factory'.
Exit status: 0 ok, 1 output differs / engine failed, 2 bad arguments or names.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m html_bench",
        description="Render, verify or time one HTML engine on one benchmark scenario.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scenario", "-s", help=f"one of: {', '.join(scenarios.SCENARIOS)}")
    p.add_argument("--engine", "-e", help=f"one of: {', '.join(engine_names())}")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with the reference output")
    mode.add_argument("--time", action="store_true", help="time with pyperf (quick settings)")
    mode.add_argument("--list", action="store_true", help="list engines and scenarios")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for name in engine_names():
            reason = resolve(name).available()
            print(f"engine   {name:28} {'ok' if reason is None else reason}")
        for s in scenarios.SCENARIOS.values():
            print(f"scenario {s.name:28} {s.description}")
        return 0
    if not args.scenario or not args.engine:
        parser.error("--scenario and --engine are required (or use --list)")
    try:
        scenarios.get(args.scenario)
        engine = resolve(args.engine)
    except (UnknownNameError, ValueError, ImportError) as exc:
        parser.error(str(exc))  # exits 2
    except Exception as exc:  # an engine spec whose factory raised
        parser.error(f"engine {args.engine!r} could not be created: {type(exc).__name__}: {exc}")
    if args.time:
        from html_bench.measure import measure

        rows = measure(
            [engine.name if ":" not in args.engine else args.engine], [args.scenario], quick=True
        )
        print(json.dumps(rows, indent=2))
        return 0 if all(r.get("status") == "ok" for r in rows) else 1
    from html_bench.scenarios import data
    from html_bench.verify import check

    result = check(engine, args.scenario)
    if args.check:
        print(json.dumps(result.as_dict(), indent=2))
        return 0 if result.ok else 1
    if result.status in ("failed", "unavailable"):
        print(f"{engine.name}: {result.status}: {result.detail}", file=sys.stderr)
        return 1
    sys.stdout.write(engine.renderers()[args.scenario](data(args.scenario)))
    sys.stdout.write("\n")
    if not result.ok:
        print(f"warning: output differs from the reference: {result.detail}", file=sys.stderr)
        return 1
    return 0
