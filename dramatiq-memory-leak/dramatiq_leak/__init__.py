"""Exception memory retention in dramatiq's AsyncIO middleware: reproduce, prove, fix.

Modules that run inside a dramatiq worker (they import only the standard library
and dramatiq): :mod:`dramatiq_leak.fix` (the fix middleware, the one to copy into
an application), :mod:`dramatiq_leak.probe` (GC and live-exception recording),
:mod:`dramatiq_leak.worker_app` (broker and actors), :mod:`dramatiq_leak.client`
(enqueue, account), :mod:`dramatiq_leak.proof` (the reference-cycle proof).

Modules that run in the harness (psutil, matplotlib): :mod:`~dramatiq_leak.redis_server`,
:mod:`~dramatiq_leak.envs`, :mod:`~dramatiq_leak.harness`, :mod:`~dramatiq_leak.analysis`,
:mod:`~dramatiq_leak.plots`, :mod:`~dramatiq_leak.cli`.
"""

__all__: list[str] = []
