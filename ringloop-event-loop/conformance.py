"""Run CPython's own asyncio tests, as installed with the interpreter, against an event loop.

    python ringloop-event-loop/conformance.py --loop ringloop            # every module, a table
    python ringloop-event-loop/conformance.py --loop uvloop --json out.json
    python ringloop-event-loop/conformance.py --loop ringloop --module test_events -v

Nothing is copied: each module is imported from the interpreter's `test.test_asyncio` package
(Debian ships it separately as libpythonX.Y-testsuite; pyenv and `lab pythons` builds have it).
How the loop under test gets in:

* classes that build their loop themselves (`create_event_loop` / `new_loop`): the one CPython
  runs with the default selector on Linux (epoll) is kept and made to build the loop under
  test; its variants for the other selectors (select, poll, kqueue, proactor) are left out;
* every other test gets the loop through the event loop policy (`asyncio.new_event_loop()`,
  `asyncio.run`, IsolatedAsyncioTestCase). Tests built on asyncio's own TestLoop
  (`self.new_test_loop()`) are counted too but exercise Future/Task, not the loop.

Each module runs in a child process with a time limit; its counts come back as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import re
import subprocess
import sys
import time
import unittest
from typing import Any

MODULES = (
    "test_events",
    "test_sock_lowlevel",
    "test_streams",
    "test_buffered_proto",
    "test_server",
    "test_protocols",
    "test_futures",
    "test_tasks",
)
LOOP_METHODS = ("create_event_loop", "new_loop")
TIMEOUT_S = 900


def loop_factory(name: str) -> Any:
    if name == "ringloop":
        import ringloop

        return ringloop.new_event_loop, ringloop.EventLoopPolicy
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop, uvloop.EventLoopPolicy
    if name == "asyncio":
        return asyncio.new_event_loop, asyncio.DefaultEventLoopPolicy
    raise SystemExit(f"unknown loop {name!r}: ringloop, uvloop or asyncio")


def _own_loop_method(cls: type) -> str | None:
    for m in LOOP_METHODS:
        if m in vars(cls):
            return m
    return None


def suite_for(module: Any, factory: Any) -> unittest.TestSuite:
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name, cls in sorted(vars(module).items()):
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            continue
        if cls.__module__ != module.__name__:
            continue
        method = _own_loop_method(cls)
        if method is not None:
            source = inspect.getsource(vars(cls)[method])
            if "EpollSelector" not in source and "SelectorEventLoop()" not in source:
                continue  # a variant for another selector: the same tests again
            cls = type(name, (cls,), {method: lambda self: factory()})
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


_INTERNALS = re.compile(r"AttributeError: '\w+' object has no attribute '_\w+'")


def _is_internals(traceback_text: str) -> bool:
    last = traceback_text.strip().splitlines()[-1] if traceback_text.strip() else ""
    return bool(_INTERNALS.search(last))


def run_module(loop: str, module_name: str, verbosity: int) -> dict[str, Any]:
    """In this process: run one module and return its counts, with how many loops of the kind
    under test its tests created (proof that they ran on it, not on asyncio's default)."""
    make, policy_class = loop_factory(loop)
    created = 0

    def factory() -> Any:
        nonlocal created
        created += 1
        return make()

    class policy(policy_class):  # type: ignore[misc, valid-type]
        def new_event_loop(self) -> Any:
            return factory()

    module = importlib.import_module(f"test.test_asyncio.{module_name}")
    suite = suite_for(module, factory)
    asyncio.set_event_loop_policy(policy())
    start = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity)
    result = runner.run(suite)
    teardown = getattr(module, "tearDownModule", None)
    if teardown:
        teardown()
    return {
        "module": module_name,
        "run": result.testsRun,
        "failures": len(result.failures),
        "errors": len(result.errors),
        "skipped": len(result.skipped),
        "expected_failures": len(result.expectedFailures),
        "unexpected_successes": len(result.unexpectedSuccesses),
        # A test can fail and then error in tearDown too: count tests, not reports.
        "passed": result.testsRun
        - len({t.id() for t, _ in result.failures + result.errors})
        - len(result.skipped)
        - len(result.expectedFailures)
        - len(result.unexpectedSuccesses),
        "failed_tests": sorted(t.id() for t, _ in result.failures + result.errors),
        # Failures whose cause is a private attribute of asyncio's loop the test reaches for
        # (test_utils.TestCase.tearDown reads loop._default_executor): a loop written without
        # asyncio's internals fails them whatever it does.
        "internals": sorted(
            t.id() for t, tb in result.failures + result.errors if _is_internals(tb)
        ),
        "loops_created": created,
        "seconds": round(time.monotonic() - start, 1),
    }


def run_all(
    loop: str, modules: list[str], verbosity: int, timeout: float = TIMEOUT_S
) -> list[dict[str, Any]]:
    """Each module in a child process (a hang or crash costs that module only)."""
    rows = []
    for m in modules:
        cmd = [sys.executable, __file__, "--loop", loop, "--module", m, "--child"]
        cmd += ["-v"] * (verbosity - 1)
        print(f"conformance: {loop} {m} ...", file=sys.stderr, flush=True)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            rows.append({"module": m, "error": f"timed out after {timeout:.0f} s"})
            continue
        if verbosity > 1:
            sys.stderr.write(proc.stderr)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            rows.append({"module": m, "error": f"exit {proc.returncode}\n{tail}"})
            continue
        rows.append(json.loads(lines[-1]))
    return rows


def table(loop: str, rows: list[dict[str, Any]]) -> str:
    """One line per module; `internals` counts the failures and errors that come from a test
    reading a private attribute of asyncio's loop (see run_module)."""
    head = (
        f"{'module':22} {'run':>5} {'pass':>5} {'fail':>5} {'error':>5} {'skip':>5}"
        f" {'loops':>6} {'internals':>9}"
    )
    out = [f"CPython {sys.version.split()[0]} test.test_asyncio against {loop}", head]
    for r in rows:
        if "error" in r:
            out.append(f"{r['module']:22} did not finish: {r['error'].splitlines()[0]}")
            continue
        out.append(
            f"{r['module']:22} {r['run']:5} {r['passed']:5} {r['failures']:5} {r['errors']:5}"
            f" {r['skipped']:5} {r['loops_created']:6} {len(r['internals']):9}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--loop", default="ringloop", help="ringloop (default), uvloop or asyncio")
    p.add_argument("--module", action="append", choices=MODULES, help="default: all of them")
    p.add_argument("--json", metavar="PATH", help="write the counts and failing tests here")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, metavar="SECONDS",
                   help=f"time limit per module (default {TIMEOUT_S})")  # fmt: skip
    p.add_argument("-v", action="count", default=1, dest="verbosity")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    modules = args.module or list(MODULES)
    if args.child:
        print(json.dumps(run_module(args.loop, modules[0], args.verbosity)))
        return 0
    try:
        importlib.import_module("test.test_asyncio")
    except ImportError:
        raise SystemExit(
            f"{sys.executable} has no test.test_asyncio (Debian: apt install"
            f" libpython{sys.version_info[0]}.{sys.version_info[1]}-testsuite)"
        ) from None
    rows = run_all(args.loop, modules, args.verbosity, args.timeout)
    print(table(args.loop, rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version, "loop": args.loop, "modules": rows}, f, indent=1)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
