//! The state behind one `start_response` and its `exc_info` rules (PEP 3333
//! "The start_response() Callable" and "Error Handling"), shared by the
//! server's `start_response` and the middleware's.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use super::{check_header, header_item, header_list, status_code, status_str};
use crate::errors::Error;

/// A response head as `start_response` received it, checked in place: the
/// app's own status and header list objects (nothing is copied, so they can
/// be passed on unchanged) and the facts a middleware reads from them.
#[derive(Debug)]
pub(crate) struct Head {
    /// The status code, 100..=999.
    pub(crate) code: u16,
    /// The status `str` as given, e.g. `'200 OK'`.
    pub(crate) status: Py<PyAny>,
    /// The `response_headers` list as given.
    pub(crate) headers: Py<PyAny>,
    /// The first `Content-Type` value (any case of the name), if any.
    pub(crate) content_type: Option<Py<PyString>>,
    /// The first `Content-Length` value (any case of the name), if any.
    pub(crate) content_length: Option<Py<PyString>>,
    /// How many `Content-Length` headers there are (saturating).
    pub(crate) content_lengths: u8,
}

impl Head {
    /// Checks `start_response`'s `status` and `response_headers` without
    /// copying them (PEP 3333 "The start_response() Callable").
    ///
    /// # Errors
    /// `TypeError` for a non-`str` status or a header list that is not a
    /// `list` of `(str, str)` tuples; `ValueError` ([`Error::InvalidStatus`],
    /// [`Error::InvalidHeader`]) for a bad status, name or value, in that
    /// order.
    pub(crate) fn from_py(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<Self> {
        let code = status_code(status_str(status)?.to_str()?)?;
        let mut content_type = None;
        let (mut content_length, mut content_lengths) = (None, 0u8);
        for item in header_list(headers)?.iter() {
            let (name, value) = header_item(&item)?;
            let name = name.to_str()?;
            check_header(name, value.to_str()?)?;
            if content_type.is_none() && name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.unbind());
            } else if name.eq_ignore_ascii_case("content-length") {
                content_lengths = content_lengths.saturating_add(1);
                content_length.get_or_insert(value.unbind());
            }
        }
        Ok(Self {
            code,
            status: status.clone().unbind(),
            headers: headers.clone().unbind(),
            content_type,
            content_length,
            content_lengths,
        })
    }

    /// Visits the held Python objects for the cycle collector.
    ///
    /// # Errors
    /// What the visitor returns.
    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.status)?;
        visit.call(&self.headers)?;
        visit.call(&self.content_type)?;
        visit.call(&self.content_length)
    }

    /// `true` when there is exactly one `Content-Length` and it is `n`
    /// written in decimal digits.
    #[must_use]
    pub(crate) fn declares_length(&self, py: Python<'_>, n: usize) -> bool {
        match (&self.content_length, self.content_lengths) {
            (Some(v), 1) => v.bind(py).to_str().is_ok_and(|v| {
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && v.parse() == Ok(n)
            }),
            _ => false,
        }
    }
}

/// The state behind one request's `start_response` (PEP 3333 "The
/// start_response() Callable" and "Error Handling").
///
/// - First call: status and headers are recorded, not sent.
/// - A second call needs `exc_info`; if the head was already sent, the
///   exception in `exc_info` is re-raised, else the recorded head is replaced.
/// - [`ResponseStart::mark_sent`] is called by whoever sends the head (the
///   server when it writes it, a middleware when it passes it on).
#[derive(Debug, Default)]
pub(crate) struct ResponseStart {
    head: Option<Head>,
    sent: bool,
}

impl ResponseStart {
    /// Handles one `start_response(status, response_headers, exc_info=None)`
    /// call.
    ///
    /// # Errors
    /// Re-raises `exc_info`'s exception when the head was already sent;
    /// `RuntimeError` for a second call without `exc_info`; `TypeError`/
    /// `ValueError` for a bad status or header list ([`Head::from_py`]).
    pub(crate) fn start(
        &mut self,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        check_restart(exc_info, self.head.is_some(), self.sent)?;
        self.head = Some(Head::from_py(status, headers)?);
        Ok(())
    }

    /// The recorded head, if `start_response` was called.
    #[must_use]
    pub(crate) fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// `true` once the head has been passed on / written.
    #[must_use]
    pub(crate) fn is_sent(&self) -> bool {
        self.sent
    }

    /// Records that the head has been passed on; a later `exc_info` call
    /// then re-raises.
    pub(crate) fn mark_sent(&mut self) {
        self.sent = true;
    }

    /// Takes the recorded head out (the garbage collector's `__clear__`).
    pub(crate) fn take_head(&mut self) -> Option<Head> {
        self.head.take()
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
pub(crate) fn check_restart(
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
pub(crate) fn reraise(exc_info: &Bound<'_, PyAny>) -> PyErr {
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
pub(crate) fn exc_info_tuple<'py>(py: Python<'py>, err: &PyErr) -> PyResult<Bound<'py, PyTuple>> {
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
    fn head_is_checked_in_place() {
        Python::attach(|py| {
            let status = PyString::new(py, "404 Not Found");
            let list = PyList::new(
                py,
                [
                    ("X", "1"),
                    ("content-TYPE", "text/plain"),
                    ("Content-Type", "x/y"),
                ],
            )
            .unwrap();
            let head = Head::from_py(status.as_any(), list.as_any()).unwrap();
            assert_eq!(head.code, 404);
            assert!(head.status.is(&status) && head.headers.is(&list));
            let ct = head.content_type.as_ref().unwrap();
            assert_eq!(ct.bind(py).to_str().unwrap(), "text/plain");
            assert!(!head.declares_length(py, 0));
            let one = PyList::new(py, [("content-length", "12")]).unwrap();
            let head = Head::from_py(status.as_any(), one.as_any()).unwrap();
            assert!(head.declares_length(py, 12) && !head.declares_length(py, 1));
            one.append(("Content-Length", "12")).unwrap();
            let head = Head::from_py(status.as_any(), one.as_any()).unwrap();
            assert_eq!(head.content_lengths, 2);
            assert!(!head.declares_length(py, 12));
            // The checks of Status and check_header, in that order.
            let bad = PyList::new(py, [("A", "x\ny")]).unwrap();
            let e = Head::from_py(PyString::new(py, "2 OK").as_any(), bad.as_any()).unwrap_err();
            assert!(e.to_string().contains("invalid status"), "{e}");
            let e = Head::from_py(status.as_any(), bad.as_any()).unwrap_err();
            assert!(e.to_string().contains("invalid response header"), "{e}");
            let e = Head::from_py(status.as_any(), PyTuple::empty(py).as_any()).unwrap_err();
            assert!(e.is_instance_of::<pyo3::exceptions::PyTypeError>(py));
        });
    }

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
            assert_eq!(rs.head().unwrap().code, 500);
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
