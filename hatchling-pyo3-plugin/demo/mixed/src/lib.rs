//! The native half of a mixed Python/Rust package: imported as `mixed_demo._native`.
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;

/// fib(n) -> int: the n-th Fibonacci number, OverflowError past fib(92).
#[pyfunction]
fn fib(n: u32) -> PyResult<i64> {
    // (a, b) = (fib(i), fib(i + 1)); None once a value no longer fits in 64 bits.
    let (mut a, mut b) = (Some(0i64), Some(1i64));
    for _ in 0..n {
        let next = a.zip(b).and_then(|(x, y)| x.checked_add(y));
        (a, b) = (b, next);
        if a.is_none() {
            break;
        }
    }
    a.ok_or_else(|| PyOverflowError::new_err(format!("fib({n}) overflows 64 bits")))
}

/// word_count(text) -> int: whitespace-separated words.
#[pyfunction]
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// banner() -> str: a string the editable-install test edits to see a rebuild.
#[pyfunction]
fn banner() -> &'static str {
    "mixed-demo native v1"
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fib, m)?)?;
    m.add_function(wrap_pyfunction!(word_count, m)?)?;
    m.add_function(wrap_pyfunction!(banner, m)?)?;
    Ok(())
}
