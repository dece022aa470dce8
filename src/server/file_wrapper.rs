//! `wsgi.file_wrapper` (PEP 3333 "Optional Platform-Specific File
//! Handling"): an iterable over a file-like object, read in blocks. When the
//! object is a regular file the server sends it with `sendfile` instead
//! (`sendfile.rs`).

use pyo3::intern;
use pyo3::prelude::*;

/// `FileWrapper(filelike, blksize=8192)`: iterates `filelike.read(blksize)`
/// until it returns an empty bytes object; `close()` closes `filelike` if it
/// has a `close` method (PEP 3333 "Optional Platform-Specific File
/// Handling"). `blksize` is in bytes.
///
/// Free threading: not frozen; PyO3 borrow-checks every access (atomically
/// on a free-threaded build), so two threads iterating one wrapper at once
/// get `RuntimeError`, never a data race.
#[pyclass(module = "rswsgi._rswsgi", name = "FileWrapper")]
#[derive(Debug)]
pub(crate) struct FileWrapper {
    filelike: Py<PyAny>,
    blksize: usize,
}

impl FileWrapper {
    /// The wrapped file-like object.
    #[must_use]
    pub(crate) fn filelike<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.filelike.bind(py).clone()
    }
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = 8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> Self {
        Self { filelike, blksize }
    }

    /// The wrapper is its own iterator.
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next block; `StopIteration` once `read()` returns nothing.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = self
            .filelike
            .bind(py)
            .call_method1(intern!(py, "read"), (self.blksize,))?;
        Ok((block.len()? > 0).then_some(block))
    }

    /// Closes the wrapped file, if it can be closed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(close) = self.filelike.bind(py).getattr_opt(intern!(py, "close"))? {
            close.call0()?;
        }
        Ok(())
    }
}
