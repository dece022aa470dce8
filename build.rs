//! Exposes PyO3's interpreter cfgs (`Py_3_10`, `Py_GIL_DISABLED`, ...) to
//! this crate, so that code using a version-specific part of the C API is
//! compiled only for the interpreters that have it.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
