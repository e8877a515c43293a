"""pyperf benchmark script: times one engine on one scenario in pyperf worker processes.

``python -m html_bench._bench --engine E --scenario S -o out.json [pyperf options]``. The master
process only spawns workers; each worker imports the engine, builds the scenario data once
(outside timing), compiles/caches what the engine caches, and times ``loops`` renders per value.
"""

from __future__ import annotations

import sys


def _add_cmdline_args(cmd: list[str], args) -> None:
    cmd.extend(["--engine", args.engine, "--scenario", args.scenario])


def _time(loops: int, render, payload) -> float:
    import pyperf

    rng = range(loops)
    t0 = pyperf.perf_counter()
    for _ in rng:
        render(payload)
    return pyperf.perf_counter() - t0


def main() -> None:
    import pyperf

    runner = pyperf.Runner(
        add_cmdline_args=_add_cmdline_args, program_args=("-m", "html_bench._bench")
    )
    runner.argparser.add_argument("--engine", required=True)
    runner.argparser.add_argument("--scenario", required=True)
    args = runner.parse_args()
    name = f"{args.engine}/{args.scenario}"
    if args.worker:
        from html_bench.engines import resolve
        from html_bench.scenarios import data

        render = resolve(args.engine).renderers()[args.scenario]
        payload = data(args.scenario)
        runner.metadata["html_bench_engine"] = args.engine
        runner.metadata["html_bench_scenario"] = args.scenario
        runner.bench_time_func(name, _time, render, payload)
    else:
        runner.bench_time_func(name, _time, None, None)


if __name__ == "__main__":
    sys.exit(main())
