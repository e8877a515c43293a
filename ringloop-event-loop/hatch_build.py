"""Build hook shim: ringloop's extension is built by this repository's own
``hatchling-native`` CMake hook (hatchling-pyo3-plugin/).

The plugin is not published on PyPI, so instead of listing it in
``[build-system] requires`` this file puts its source on ``sys.path``: the sibling
folder in a checkout, or ``_build/`` inside an sdist (where pyproject.toml
force-includes it). Once hatchling-native is published this file goes away and
pyproject.toml uses ``[tool.hatch.build.hooks.cmake]`` directly.
"""

import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
for _src in (_here.parent / "hatchling-pyo3-plugin" / "src", _here / "_build"):
    if (_src / "hatchling_native").is_dir():
        sys.path.insert(0, str(_src))
        break
else:
    raise SystemExit(
        "ringloop: the hatchling-native build hook was not found next to this project "
        "(../hatchling-pyo3-plugin/src) nor in this sdist (_build/)"
    )


def get_build_hook():
    from hatchling_native.cmake import CMakeBuildHook

    return CMakeBuildHook
