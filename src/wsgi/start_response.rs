//! The state behind one `start_response` and its `exc_info` rules (PEP 3333
//! "The start_response() Callable" and "Error Handling"), shared by the
//! server's `start_response` and the middleware's.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::{Headers, Status};
use crate::errors::Error;

/// The state behind one request's `start_response` (PEP 3333 "The
/// start_response() Callable" and "Error Handling").
///
/// - First call: status and headers are recorded, not sent.
/// - A second call needs `exc_info`; if the head was already sent, the
///   exception in `exc_info` is re-raised, else the recorded head is replaced.
/// - [`ResponseStart::mark_sent`] is called by whoever sends the head (the
///   server when it writes it, a middleware when it passes it on).
#[derive(Debug, Default)]
pub struct ResponseStart {
    head: Option<(Status, Headers)>,
    sent: bool,
}

impl ResponseStart {
    /// Handles one `start_response(status, response_headers, exc_info=None)`
    /// call.
    ///
    /// # Errors
    /// Re-raises `exc_info`'s exception when the head was already sent;
    /// `RuntimeError` for a second call without `exc_info`; `TypeError`/
    /// `ValueError` for a bad status or header list.
    pub fn start(
        &mut self,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        check_restart(exc_info, self.head.is_some(), self.sent)?;
        let status = Status::from_py(status)?;
        let headers = Headers::from_py(headers)?;
        self.head = Some((status, headers));
        Ok(())
    }

    /// The recorded status and headers, if `start_response` was called.
    #[must_use]
    pub fn head(&self) -> Option<&(Status, Headers)> {
        self.head.as_ref()
    }

    /// Mutable access to the recorded head, for a middleware that edits it.
    pub fn head_mut(&mut self) -> Option<&mut (Status, Headers)> {
        self.head.as_mut()
    }

    /// `true` once the head has been passed on / written.
    #[must_use]
    pub fn is_sent(&self) -> bool {
        self.sent
    }

    /// Records that the head has been passed on; a later `exc_info` call
    /// then re-raises.
    pub fn mark_sent(&mut self) {
        self.sent = true;
    }
}

/// The gate every `start_response` passes before it records a head (PEP 3333
/// "Error Handling"): with `exc_info` after the head was sent, re-raises
/// that exception; without `exc_info` after an earlier call, refuses; else
/// lets the call record (or replace) the head. `called`: a head was recorded
/// before; `sent`: it has gone to the client (or to the next server out).
///
/// # Errors
/// The exception in `exc_info`, or `RuntimeError` ([`Error::StartResponseTwice`]).
pub fn check_restart(
    exc_info: Option<&Bound<'_, PyAny>>,
    called: bool,
    sent: bool,
) -> PyResult<()> {
    match exc_info.filter(|e| !e.is_none()) {
        Some(e) if sent => Err(reraise(e)),
        None if called => Err(Error::StartResponseTwice.into()),
        _ => Ok(()),
    }
}

/// Turns an `exc_info` triple `(type, value, traceback)` back into the
/// exception it describes, with its traceback, for re-raising
/// (PEP 3333: "`raise exc_info[1].with_traceback(exc_info[2])`").
pub fn reraise(exc_info: &Bound<'_, PyAny>) -> PyErr {
    let value = match exc_info.get_item(1) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if let Ok(tb) = exc_info.get_item(2) {
        if !tb.is_none() {
            if let Err(e) = value.call_method1(intern!(value.py(), "with_traceback"), (tb,)) {
                return e;
            }
        }
    }
    PyErr::from_value(value)
}

/// The current exception as an `exc_info` tuple `(type, value, traceback)`,
/// as `sys.exc_info()` would give inside an `except` block.
pub fn exc_info_tuple<'py>(py: Python<'py>, err: &PyErr) -> PyResult<Bound<'py, PyTuple>> {
    let value = err.value(py);
    let tb = err.traceback(py);
    PyTuple::new(
        py,
        [
            err.get_type(py).into_any(),
            value.clone().into_any(),
            tb.map_or_else(|| py.None().into_bound(py), Bound::into_any),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::{PyList, PyString};

    #[test]
    fn start_response_exc_info_rules() {
        Python::attach(|py| {
            let status = PyString::new(py, "200 OK");
            let err_status = PyString::new(py, "500 Internal Server Error");
            let headers = PyList::empty(py);
            let mut rs = ResponseStart::default();
            rs.start(status.as_any(), headers.as_any(), None).unwrap();
            // A second call without exc_info is an error.
            assert!(rs.start(status.as_any(), headers.as_any(), None).is_err());
            // With exc_info before sending: replaces the head.
            let err = pyo3::exceptions::PyValueError::new_err("boom");
            let exc = exc_info_tuple(py, &err).unwrap();
            rs.start(err_status.as_any(), headers.as_any(), Some(exc.as_any()))
                .unwrap();
            assert_eq!(rs.head().unwrap().0.code, 500);
            // After sending: re-raises the given exception.
            rs.mark_sent();
            let e = rs
                .start(err_status.as_any(), headers.as_any(), Some(exc.as_any()))
                .unwrap_err();
            assert!(e.is_instance_of::<pyo3::exceptions::PyValueError>(py));
            assert_eq!(e.value(py).to_string(), "boom");
        });
    }
}
