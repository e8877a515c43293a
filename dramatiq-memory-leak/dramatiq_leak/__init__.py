"""Exception memory retention in dramatiq's AsyncIO middleware: reproduce, prove, fix.

The fix middleware is a separate distribution, ``dramatiq-async-exc-fix``
(``dramatiq-memory-leak/fix``, import ``dramatiq_async_exc_fix``): the one to install in an
application; the workers get it on ``PYTHONPATH``.

Modules that run inside a dramatiq worker (they import only the standard library
and dramatiq): :mod:`dramatiq_leak.probe` (GC and live-exception recording),
:mod:`dramatiq_leak.worker_app` (broker and actors), :mod:`dramatiq_leak.client`
(enqueue, account), :mod:`dramatiq_leak.proof` (the reference-cycle proof).

Modules that run in the harness (psutil, matplotlib): :mod:`~dramatiq_leak.redis_server`,
:mod:`~dramatiq_leak.envs`, :mod:`~dramatiq_leak.harness`, :mod:`~dramatiq_leak.analysis`,
:mod:`~dramatiq_leak.plots`, :mod:`~dramatiq_leak.cli`.
"""

__all__: list[str] = []
