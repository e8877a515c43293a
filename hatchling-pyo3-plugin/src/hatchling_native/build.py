"""PEP 517 backend: hatchling's own, with ``config_settings`` passed to the native hooks.

Use it as ``build-backend = "hatchling_native.build"`` (with ``hatchling-native`` in
``[build-system] requires``) to build with, for example::

    pip wheel . -C profile=dev -C features=simd,serde
    uv build -C target=aarch64-unknown-linux-gnu -C strip=true
    pip install . -C cmake.build-type=RelWithDebInfo -C defines.MYPKG_SIMD=OFF

Every hook option can be set this way (:mod:`hatchling_native.settings` says how values are
read). Hatchling's ``hatchling.build`` ignores ``config_settings``; everything else here is
hatchling's, unchanged.
"""

from __future__ import annotations

from typing import Any

import hatchling.build as _hatchling
from hatchling.build import (
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)

from hatchling_native.settings import active

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

# Hatchling leaves these out under pip (its build tracker), so that pip reads dependencies a
# hook adds from the built wheel: do the same.
if hasattr(_hatchling, "prepare_metadata_for_build_wheel"):
    prepare_metadata_for_build_wheel = _hatchling.prepare_metadata_for_build_wheel
    prepare_metadata_for_build_editable = _hatchling.prepare_metadata_for_build_editable
    __all__ += ["prepare_metadata_for_build_editable", "prepare_metadata_for_build_wheel"]


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    with active(config_settings):
        return _hatchling.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    with active(config_settings):
        return _hatchling.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    with active(config_settings):
        return _hatchling.build_sdist(sdist_directory, config_settings)
