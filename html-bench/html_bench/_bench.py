"""pyperf benchmark script: times one engine on one or more scenarios in pyperf worker processes.

``python -m html_bench._bench --engine E --scenarios a,b -o out.json [--inner a=N,b=M]
[pyperf options]``. The master process only spawns workers (one series per scenario); each worker
imports the engine, takes the scenario data built once (outside timing), and times ``loops x
inner`` renders per value. ``--inner`` gives per-scenario inner loops (quick mode, with
``--loops 1``); without it pyperf calibrates ``loops`` per scenario.
"""

from __future__ import annotations

import sys


def _add_cmdline_args(cmd: list[str], args) -> None:
    cmd.extend(["--engine", args.engine, "--scenarios", args.scenarios])
    if args.inner:
        cmd.extend(["--inner", args.inner])


def _time(loops: int, render, payload, inner: int) -> float:
    import pyperf

    rng = range(loops * inner)
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
    runner.argparser.add_argument("--scenarios", required=True, help="comma-separated")
    runner.argparser.add_argument("--inner", default="", help="scenario=N,... inner loops")
    args = runner.parse_args()
    inner = {k: int(v) for k, v in (x.split("=") for x in args.inner.split(",") if x)}
    render_for = None
    if args.worker:
        from html_bench.engines import resolve

        render_for = resolve(args.engine).renderers()
        runner.metadata["html_bench_engine"] = args.engine
    for scenario in args.scenarios.split(","):
        n = inner.get(scenario, 1)
        if render_for is not None:
            from html_bench.scenarios import data

            fn_args = (render_for[scenario], data(scenario), n)
        else:
            fn_args = (None, None, n)
        runner.bench_time_func(f"{args.engine}/{scenario}", _time, *fn_args, inner_loops=n)


if __name__ == "__main__":
    sys.exit(main())
