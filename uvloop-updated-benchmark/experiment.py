"""uvloop-updated-benchmark: the `lab` plug-in (see lab/experiment.py)."""

TITLE = "asyncio vs uvloop vs rloop on Python 3.11 and 3.13, C++ load generator"
ISSUE = 6
IMPLEMENTED = False  # until issue #6 lands
