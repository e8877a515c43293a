"""A Python package whose hot path lives in the Rust submodule ``mixed_demo._native``."""

from mixed_demo._native import banner, fib, word_count

__all__ = ["banner", "fib", "fib_table", "word_count"]


def fib_table(n: int) -> list[int]:
    """The first ``n`` Fibonacci numbers (pure Python around the native ``fib``)."""
    return [fib(i) for i in range(n)]
