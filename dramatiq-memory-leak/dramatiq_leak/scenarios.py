"""The scenarios: which actor, how many messages, how many worker threads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    actor: str
    threads: int
    messages: int  # messages in flight (each retried until the cell ends)
    mb_per_exception: int  # at full scale; quick mode scales it down
    exceptions_per_failure: int = 1
    sleep_ms: int = 0  # sleep control only
    control: bool = False
    #: a burst instead of endless retries: each message fails once (max_retries 0, then the
    #: dead-letter queue); the worker is then watched idle for this many seconds (full scale)
    idle_s: float = 0.0
    #: worker processes (dramatiq --processes); each runs ``threads`` threads
    processes: int = 1

    @property
    def burst(self) -> bool:
        return self.idle_s > 0

    def args(self, mb: int) -> list[int]:
        return [mb, self.sleep_ms] if self.actor == "sleep_async" else [mb]

    def mb_per_failure(self, mb: int) -> int:
        return mb * self.exceptions_per_failure


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("async-raise", "async actor raises, 128 MB", "fail_async", 1, 1, 128),
    Scenario(
        "chained",
        "raise Outer(big) from Inner(big), 2 x 128 MB",
        "fail_async_chained",
        1,
        1,
        128,
        exceptions_per_failure=2,
    ),
    Scenario(
        "sync-raise", "sync actor raises, 128 MB (control)", "fail_sync", 1, 1, 128, control=True
    ),
    Scenario(
        "async-sleep",
        "async actor sleeps holding 128 MB (control)",
        "sleep_async",
        1,
        0,  # the harness keeps this queue fed instead (see harness.run_cell)
        128,
        sleep_ms=100,
        control=True,
    ),
    Scenario("concurrent", "5 threads x async raise, 64 MB each", "fail_async", 5, 5, 64),
    Scenario(
        "taskgroup",
        "asyncio.TaskGroup child raises (ExceptionGroup), 128 MB",
        "fail_async_taskgroup",
        1,
        1,
        128,
    ),
    Scenario(
        "reraise",
        "async actor catches, logs and re-raises (bare raise), 128 MB",
        "fail_async_reraise",
        1,
        1,
        128,
    ),
    Scenario(
        "sync-async",
        "sync actor calls async code (async_to_sync), 128 MB",
        "fail_sync_via_async",
        1,
        1,
        128,
    ),
    Scenario(
        "multi",
        "2 worker processes x 2 threads, async raise, 64 MB each",
        "fail_async",
        2,
        4,
        64,
        processes=2,
    ),
    Scenario(
        "idle",
        "a burst of 8 async failures, 128 MB each, then the worker sits idle",
        "fail_async",
        1,
        8,
        128,
        idle_s=60.0,
    ),
)
#: The fix's throughput cost (benchmark.Plan.cost_rounds): small failures, many in flight, so
#: the worker never waits for a retry's backoff and the middleware's work is a visible share.
FIX_COST = Scenario(
    "fix-cost", "1 MB async failures, 50 in flight (throughput)", "fail_async", 1, 50, 1
)
BY_KEY = {s.key: s for s in (*SCENARIOS, FIX_COST)}


def scenario(key: str) -> Scenario:
    try:
        return BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown scenario {key!r}; choose from {', '.join(BY_KEY)}") from None
