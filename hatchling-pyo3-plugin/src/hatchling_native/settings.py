"""PEP 517 ``config_settings`` as hook options: ``pip wheel -C profile=dev``, ``uv build -C ...``.

Hatchling's own backend drops ``config_settings``; :mod:`hatchling_native.build` wraps it and
makes them active for the duration of one build call (:func:`active`). Each hook then reads
:func:`overrides` on top of its ``pyproject.toml`` options:

- ``-C NAME=VALUE`` sets option NAME of every active hook that has it; ``-C pyo3.NAME=VALUE`` or
  ``-C cmake.NAME=VALUE`` only that hook's.
- Values are strings (a key repeated gives a list): a bool option takes true/false/yes/no/on/
  off/1/0, an int option an integer, a list option a comma- or space-separated string (or the
  key repeated, each value kept whole), a table option one entry per key:
  ``-C defines.MYPKG_SIMD=ON``, ``-C env.RUSTFLAGS=-Ctarget-cpu=native``.
- A key no active hook knows, or a value of the wrong kind, fails the build naming it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

_ACTIVE: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "hatchling_native_settings", default=None
)

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@contextlib.contextmanager
def active(config_settings: Mapping[str, Any] | None) -> Iterator[None]:
    """Make ``config_settings`` visible to the hooks of the build running inside."""
    token = _ACTIVE.set(dict(config_settings or {}))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def current() -> Mapping[str, Any]:
    return _ACTIVE.get() or {}


class SettingsError(ValueError):
    """A config_settings key or value the hooks cannot use (the message names it)."""


def _split(key: str, hooks: Mapping[str, Mapping[str, Any]]) -> tuple[str | None, str, str | None]:
    """``"pyo3.features"`` -> (``"pyo3"``, ``"features"``, None); ``"defines.X"`` -> (None,
    ``"defines"``, ``"X"``); the hook prefix only when it names a hatchling-native hook."""
    hook, rest = None, key
    head, dot, tail = key.partition(".")
    if dot and head in hooks:
        hook, rest = head, tail
    name, dot, entry = rest.partition(".")
    return hook, name, entry if dot else None


def overrides(
    hook: str, specs: Mapping[str, Any], active_hooks: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The options ``config_settings`` set for ``hook`` (``specs``: its name -> Option).

    ``active_hooks`` maps every hatchling-native hook of this build to its option specs, so a
    key meant for the other hook is not an error, and a key no hook knows is one.
    """
    out: dict[str, Any] = {}
    for key, raw in current().items():
        target, name, entry = _split(key, active_hooks)
        owners = [target] if target else [h for h, s in active_hooks.items() if name in s]
        if target is not None and name not in active_hooks[target]:
            owners = []
        if not owners:
            valid = sorted({n for s in active_hooks.values() for n in s})
            raise SettingsError(
                f"config setting `{key}` is not an option of the "
                f"{' or '.join(f'`{h}`' for h in active_hooks)} hook; valid: {', '.join(valid)}"
            )
        if hook not in owners:
            continue
        out[name] = _convert(key, name, entry, raw, specs[name], out.get(name))
    return out


def _convert(key: str, name: str, entry: str | None, raw: Any, spec: Any, prev: Any) -> Any:
    values = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(v, str) for v in values):
        raise SettingsError(f"config setting `{key}` must be a string, got {raw!r}")
    kind = spec.types[0]
    if kind is dict:
        if entry is None or not entry:
            raise SettingsError(f"config setting `{key}` sets a table: use `{name}.NAME=VALUE`")
        if len(values) != 1:
            raise SettingsError(f"config setting `{key}` is given {len(values)} times")
        return {**(prev or {}), entry: values[0]}
    if entry is not None:
        raise SettingsError(f"config setting `{key}`: option `{name}` is not a table")
    if kind is list:
        if isinstance(raw, list):
            return list(values)
        return [v for v in re.split(r"[,\s]+", values[0]) if v]
    if len(values) != 1:
        raise SettingsError(f"config setting `{key}` is given {len(values)} times")
    value = values[0]
    if bool in spec.types and value.lower() in _TRUE | _FALSE:  # abi3 = true, strip = false
        return value.lower() in _TRUE
    if str in spec.types:
        return value
    if kind is int:
        try:
            return int(value)
        except ValueError:
            raise SettingsError(
                f"config setting `{key}` must be an integer, got {value!r}"
            ) from None
    wanted = "true or false" if kind is bool else kind.__name__
    raise SettingsError(f"config setting `{key}` must be {wanted}, got {value!r}")
