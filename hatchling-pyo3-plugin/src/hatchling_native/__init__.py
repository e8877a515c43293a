"""hatchling-native: Hatchling build hooks for PyO3 crates and CMake extensions.

Both hooks share one core (:mod:`hatchling_native.core`): the wheel tag and ``pure_python``,
extension file names from the target interpreter's ``EXT_SUFFIX``, editable placement, sdist
contents and error reporting.
"""

from __future__ import annotations

__version__ = "0.1.0"

from hatchling_native.core import NativeBuildError

__all__ = ["NativeBuildError", "__version__"]
