"""dramatiq-memory-leak: the `lab` plug-in (see lab/experiment.py)."""

TITLE = "dramatiq AsyncIO exception retention: reproduced on Redis, cycle proven, fixes measured"
ISSUE = 8
IMPLEMENTED = False  # until issue #8 lands
