//! [6] The server's `start_response` callable and its `write()` (PEP 3333
//! "The start_response() Callable", "The write() Callable").
//!
//! The exc_info rules live in [`ResponseStart`]; this class only adds the
//! `write()` buffer. Nothing is sent from here: the responder reads the
//! recorded head when the first non-empty body bytes arrive (from `write()`
//! or the iterable) or the iterable ends.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::Error;
use crate::wsgi::{type_name, Headers, ResponseStart, Status};

/// The `start_response` callable the server passes to the application.
///
/// `start_response(status, response_headers, exc_info=None) -> write`:
/// `status` is a `str` like `'200 OK'`, `response_headers` a `list` of
/// `(str, str)`. A second call needs `exc_info` and replaces the head if it
/// was not sent yet, else re-raises `exc_info` (PEP 3333 "Error Handling").
/// Raises `TypeError`/`ValueError` for a bad status or header list and
/// `RuntimeError` for a second call without `exc_info`. Returns `write`.
#[pyclass(module = "rswsgi._rswsgi", name = "StartResponse")]
#[derive(Debug, Default)]
pub struct StartResponse {
    state: ResponseStart,
    written: Vec<u8>,
}

impl StartResponse {
    /// The status and headers recorded by the last valid call, if any.
    #[must_use]
    pub fn head(&self) -> Option<&(Status, Headers)> {
        self.state.head()
    }

    /// Records that the head is being sent: later `exc_info` calls re-raise.
    pub fn mark_sent(&mut self) {
        self.state.mark_sent();
    }

    /// `true` when `write()` has buffered bytes.
    #[must_use]
    pub fn has_written(&self) -> bool {
        !self.written.is_empty()
    }

    /// Moves the bytes given to `write()` so far to the end of `out`.
    pub fn drain_written_into(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.written);
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, response_headers, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        response_headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.borrow_mut()
            .state
            .start(status, response_headers, exc_info)?;
        slf.getattr(intern!(slf.py(), "write"))
    }

    /// `write(data: bytes) -> None`: the imperative body API (PEP 3333 "The
    /// write() Callable"). The bytes go out before any later body chunk; the
    /// first non-empty call fixes the status and headers. Raises
    /// `RuntimeError` before `start_response` and `TypeError` for a
    /// non-bytes argument.
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = data
            .cast::<PyBytes>()
            .map_err(|_| Error::BodyNotBytes(type_name(data)))?;
        if self.state.head().is_none() {
            return Err(Error::StartResponseNotCalled.into());
        }
        let bytes = data.as_bytes();
        if !bytes.is_empty() {
            self.state.mark_sent();
            self.written.extend_from_slice(bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::{PyList, PyString};

    #[test]
    fn write_buffers_after_start_response() {
        Python::attach(|py| {
            let sr = Bound::new(py, StartResponse::default()).unwrap();
            let data = PyBytes::new(py, b"early");
            // write() before start_response is an error.
            assert!(sr.call_method1("write", (&data,)).is_err());
            let write = sr
                .call1((PyString::new(py, "200 OK"), PyList::empty(py)))
                .unwrap();
            write.call1((PyBytes::new(py, b""),)).unwrap();
            assert!(!sr.borrow().has_written());
            write.call1((PyBytes::new(py, b"ab"),)).unwrap();
            write.call1((PyBytes::new(py, b"c"),)).unwrap();
            assert!(write.call1(("str",)).is_err());
            let mut out = Vec::new();
            sr.borrow_mut().drain_written_into(&mut out);
            assert_eq!(out, b"abc");
            assert_eq!(sr.borrow().head().unwrap().0.code, 200);
        });
    }
}
