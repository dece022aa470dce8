//! wsgi
#[cfg(test)]
mod tests {
    use pyo3::prelude::*;
    #[test]
    fn links() {
        Python::attach(|py| assert!(py.version_info() >= (3, 9)));
    }
}
