"""The fix itself (dramatiq_leak.fix.break_cycle), in an environment with dramatiq 2.2.0.

A stand-in function plays ``EventLoopThread.run_coroutine``: its finished frame sits in the
traceback of the exception the actor raised, and the exception the worker sees may be a
different one that reaches it only through ``__cause__``, ``__context__`` or a group.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from dramatiq_leak import envs

HERE = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from dramatiq_leak import fix

    def run_coroutine():  # stands in for dramatiq's EventLoopThread.run_coroutine
        raise ValueError("raised by the actor")

    assert fix._RUN_COROUTINE is not None, "dramatiq 2.2.0 has run_coroutine"
    fix._RUN_COROUTINE = run_coroutine.__code__

    def raised():
        try:
            run_coroutine()
        except ValueError as inner:
            return inner

    def wrapped(how):
        # Each link built on its own, so following one kind of link cannot stand in for another.
        inner = raised()
        if how == "direct":
            return inner
        outer = RuntimeError(how)
        if how == "cause":
            outer.__cause__ = inner
        elif how == "context":
            outer.__context__ = inner
        elif how == "group":
            outer = ExceptionGroup("group", [RuntimeError("sibling"), inner])
        elif how == "cause-of-context":
            middle = KeyError("middle")
            middle.__cause__ = inner
            outer.__context__ = middle
        return outer

    out = {}
    for how in ("direct", "cause", "context", "group", "cause-of-context"):
        exc = wrapped(how)
        out[how] = [fix.break_cycle(exc), fix.break_cycle(exc)]
    out["unrelated"] = fix.break_cycle(RuntimeError("never raised"))
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def cleared() -> dict:
    python = envs.ensure_env("2.2.0", log=lambda _msg: None)
    env = dict(os.environ, PYTHONPATH=str(HERE))
    proc = subprocess.run(
        [str(python), "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("how", ["direct", "cause", "context", "group", "cause-of-context"])
def test_dleak_fix_clears_the_frame_wherever_the_exception_hangs(cleared: dict, how: str) -> None:
    # Once on the first call; a second call finds the frame already cleared and still says 1
    # (clearing a cleared frame is harmless), never more: each frame is visited once.
    first, second = cleared[how]
    assert first == 1, cleared
    assert second == 1, cleared


def test_dleak_fix_does_nothing_to_an_unrelated_exception(cleared: dict) -> None:
    assert cleared["unrelated"] == 0
