"""PEP 517 config_settings read as hook options (hatchling_native.settings), without a build."""

from __future__ import annotations

from typing import Any

import pytest
from hatchling_native.cmake import CMakeBuildHook
from hatchling_native.core import COMMON_OPTIONS
from hatchling_native.pyo3 import Pyo3BuildHook
from hatchling_native.settings import SettingsError, active, current, overrides

PYO3 = {**COMMON_OPTIONS, **Pyo3BuildHook.OPTIONS}
CMAKE = {**COMMON_OPTIONS, **CMakeBuildHook.OPTIONS}


def read(settings: dict[str, Any], hook: str = "pyo3", both: bool = False) -> dict[str, Any]:
    hooks = {"pyo3": PYO3, "cmake": CMAKE} if both else {hook: PYO3 if hook == "pyo3" else CMAKE}
    with active(settings):
        return overrides(hook, hooks[hook], hooks)


def test_values_are_read_by_the_option_kind() -> None:
    assert read({"profile": "dev", "features": "simd, serde", "locked": "TRUE"}) == {
        "profile": "dev",
        "features": ["simd", "serde"],
        "locked": True,
    }
    # pip's repeated -C gives a list: each value kept whole, spaces included
    assert read({"cargo-args": ["--config", "net.offline = true"]}) == {
        "cargo-args": ["--config", "net.offline = true"]
    }
    assert read({"abi3": "3.10"}) == {"abi3": "3.10"}  # str or bool
    assert read({"abi3": "off"}) == {"abi3": False}
    assert read({"jobs": "3", "strip": "no"}, "cmake") == {"jobs": 3, "strip": False}
    assert read({"defines.A": "ON", "defines.B": "x=y", "env.CC": "clang"}, "cmake") == {
        "defines": {"A": "ON", "B": "x=y"},
        "env": {"CC": "clang"},
    }


def test_a_hook_prefix_picks_one_hook() -> None:
    settings = {"cmake.strip": "false", "pyo3.strip": "true", "manylinux": "1"}
    assert read(settings, "pyo3", both=True) == {"strip": True, "manylinux": True}
    assert read(settings, "cmake", both=True) == {"strip": False, "manylinux": True}
    # an option only the other hook has is that hook's, not an error
    assert read({"build-type": "Debug"}, "pyo3", both=True) == {}
    assert read({"build-type": "Debug"}, "cmake", both=True) == {"build-type": "Debug"}


def test_settings_are_active_only_inside_the_call() -> None:
    with active({"profile": "dev"}):
        assert current() == {"profile": "dev"}
    assert current() == {}
    assert read({}) == {}


@pytest.mark.parametrize(
    ("settings", "hook", "message"),
    [
        ({"profil": "dev"}, "pyo3", "config setting `profil` is not an option of the `pyo3` hook"),
        ({"build-type": "Debug"}, "pyo3", "`build-type` is not an option of the `pyo3` hook"),
        ({"cmake.profile": "dev"}, "cmake", "`cmake.profile` is not an option of the `cmake`"),
        ({"locked": "maybe"}, "pyo3", "`locked` must be true or false, got 'maybe'"),
        ({"jobs": "many"}, "cmake", "`jobs` must be an integer, got 'many'"),
        ({"defines": "A=1"}, "cmake", "`defines` sets a table: use `defines.NAME=VALUE`"),
        ({"profile.x": "dev"}, "pyo3", "option `profile` is not a table"),
        ({"profile": ["a", "b"]}, "pyo3", "`profile` is given 2 times"),
        ({"profile": 3}, "pyo3", "`profile` must be a string, got 3"),
    ],
)
def test_bad_settings_name_the_key(settings: dict[str, Any], hook: str, message: str) -> None:
    with pytest.raises(SettingsError, match="valid|must|table|times") as info:
        read(settings, hook)
    assert message in str(info.value)
