"""Shared layer of the Experiments repository: the `lab` CLI, results, reports.

See ``lab/experiment.py`` for how an experiment plugs in.
"""
