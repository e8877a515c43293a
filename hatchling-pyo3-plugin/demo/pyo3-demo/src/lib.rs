//! The original plugin's demo functions, with integer overflow raising OverflowError
//! (checked arithmetic) instead of silently wrapping.
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;

/// add(a, b) -> int: a + b, raising OverflowError when the sum does not fit in 64 bits.
#[pyfunction]
fn add(a: i64, b: i64) -> PyResult<i64> {
    a.checked_add(b)
        .ok_or_else(|| PyOverflowError::new_err(format!("{a} + {b} overflows a 64-bit integer")))
}

/// multiply(a, b) -> int: a * b, raising OverflowError when the product does not fit.
#[pyfunction]
fn multiply(a: i64, b: i64) -> PyResult<i64> {
    a.checked_mul(b)
        .ok_or_else(|| PyOverflowError::new_err(format!("{a} * {b} overflows a 64-bit integer")))
}

/// greet(name) -> str
#[pyfunction]
fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

/// build_profile() -> str: the cargo profile directory this library was built in.
#[pyfunction]
fn build_profile() -> &'static str {
    env!("DEMO_BUILD_PROFILE")
}

#[pymodule]
fn pyo3_demo(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(multiply, m)?)?;
    m.add_function(wrap_pyfunction!(greet, m)?)?;
    m.add_function(wrap_pyfunction!(build_profile, m)?)?;
    Ok(())
}
