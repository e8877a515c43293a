"""tagflow-performance-analysis: the `lab` plug-in (see lab/experiment.py)."""

TITLE = "where tagflow's time goes, an optimization ladder, the C++ engine's costs"
ISSUE = 5
IMPLEMENTED = False  # until issue #5 lands
