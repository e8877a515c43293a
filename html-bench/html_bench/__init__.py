"""html_bench: a fair, output-verified benchmark of Python HTML generation.

Modules: ``scenarios`` (the shared pages), ``reference`` (the oracle output), ``tagflow_api``
(every scenario written once against tagflow's module API), ``engines`` (the competitors),
``equivalence`` (normalize and compare HTML), ``verify`` (equivalence before timing),
``measure`` (pyperf timing in worker processes), ``envs`` (benchmark environments for other
interpreters).
"""

__all__ = ["engines", "equivalence", "measure", "reference", "scenarios", "tagflow_api", "verify"]
