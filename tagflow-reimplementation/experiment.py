"""tagflow-reimplementation: the `lab` plug-in (see lab/experiment.py)."""

TITLE = "tagflow_cpp: tagflow's syntax on a C++ engine, faster than Jinja2 with autoescape"
ISSUE = 3
IMPLEMENTED = False  # until issue #3 lands
