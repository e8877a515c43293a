"""hatchling-pyo3-plugin: the `lab` plug-in (see lab/experiment.py)."""

TITLE = "hatchling-native: correct platform wheels for PyO3 crates and CMake C++ extensions"
ISSUE = 7
IMPLEMENTED = False  # until issue #7 lands
