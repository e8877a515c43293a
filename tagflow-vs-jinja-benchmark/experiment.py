"""tagflow-vs-jinja-benchmark: the `lab` plug-in (see lab/experiment.py)."""

TITLE = "fair, output-verified benchmark of Python HTML generators"
ISSUE = 4
IMPLEMENTED = False  # until issue #4 lands
