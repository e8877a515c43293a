//! One wheel for every CPython from 3.9 on: built against the stable ABI (abi3).
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;

/// add(a, b) -> int, OverflowError when the sum does not fit in 64 bits.
#[pyfunction]
fn add(a: i64, b: i64) -> PyResult<i64> {
    a.checked_add(b)
        .ok_or_else(|| PyOverflowError::new_err(format!("{a} + {b} overflows a 64-bit integer")))
}

#[pymodule]
fn abi3_demo(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    Ok(())
}
