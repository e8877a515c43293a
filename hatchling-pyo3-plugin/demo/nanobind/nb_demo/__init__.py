"""A Python package around a nanobind extension (``nb_demo._core``)."""

from nb_demo._core import add, dot, greet

__all__ = ["add", "dot", "greet", "norm"]


def norm(v: list[float]) -> float:
    """Euclidean norm, using the native dot product."""
    return dot(v, v) ** 0.5
