//! The callables the wrapped app sees: `start_response` and `write()`.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::{PyTraverseError, PyVisit};

use super::{commit, BodyMode, FilteredBody};
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::{check_restart, type_name};

/// The `start_response` a filtering middleware hands to the app it wraps
/// (PEP 3333 "The start_response() Callable"):
/// `start_response(status: str, response_headers: list[tuple[str, str]],
/// exc_info=None) -> write`.
///
/// Records the head without passing it on. A second call needs `exc_info`:
/// before the head was passed on it replaces the head (and its `exc_info` is
/// passed on with it), after that it re-raises `exc_info`'s exception.
/// Raises `TypeError`/`ValueError` for a bad status or header list and
/// `RuntimeError` for a second call without `exc_info`.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
pub struct StartResponse {
    pub(super) body: Py<FilteredBody>,
    pub(super) vectorcall: vectorcall::Slot<Self>,
}

vectorcall::implement!(StartResponse, |slf, args| {
    let (status, headers, exc_info) = vectorcall::start_response_args(args)?;
    let write = slf.get().__call__(slf.py(), status, headers, exc_info);
    Some(write.map(Bound::into_any))
});

#[pymethods]
impl StartResponse {
    /// `start_response(status, response_headers, exc_info=None) -> write`;
    /// see the class documentation.
    #[pyo3(signature = (status, response_headers, exc_info=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        status: &Bound<'py, PyAny>,
        response_headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Write>> {
        let mut st = self.body.get().lock()?;
        // Once the app has produced body bytes its head is out as far as it
        // can tell, even while a whole-body filter still holds it: a late
        // exc_info re-raises, as a server would (PEP 3333 "Error Handling").
        let sent = st.start.is_sent() || st.body_started;
        check_restart(exc_info, st.start.head().is_some(), sent)?;
        st.start.start(status, response_headers, exc_info)?;
        st.head_py = Some((status.clone().unbind(), response_headers.clone().unbind()));
        st.exc_info = exc_info
            .filter(|e| !e.is_none())
            .map(|e| e.clone().unbind());
        vectorcall::new(
            py,
            Write {
                body: self.body.clone_ref(py),
                vectorcall: vectorcall::Slot::default(),
            },
        )
    }

    /// Visits the response this callable belongs to.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.body)
    }

    // No `__clear__`: `body` is an immutable reference, and every cycle
    // through it also passes through the mutable FilteredBody, whose
    // `__clear__` breaks it (PyO3 guide, "Garbage Collector Integration").
}

/// The `write(data: bytes) -> None` callable that a filtering middleware's
/// `start_response` returns (PEP 3333 "The write() Callable").
///
/// The first call passes the head on. Streamed responses go straight to the
/// server's `write()`; a body the middleware rewrites whole is collected and
/// sent at the end of the iterable. Raises `TypeError` when `data` is not
/// `bytes` and `RuntimeError` before `start_response` was called.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
pub struct Write {
    body: Py<FilteredBody>,
    vectorcall: vectorcall::Slot<Self>,
}

vectorcall::implement!(Write, |slf, args| {
    let [data] = args else { return None };
    let py = slf.py();
    Some(
        slf.get()
            .__call__(py, data)
            .map(|()| py.None().into_bound(py)),
    )
});

#[pymethods]
impl Write {
    /// `write(data: bytes) -> None`; see the class documentation.
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = data
            .cast::<PyBytes>()
            .map_err(|_| Error::BodyNotBytes(type_name(data)))?;
        let body = self.body.bind(py);
        commit(body, None)?;
        let outer_write = {
            let mut st = body.get().lock()?;
            if st.mode()? == BodyMode::Whole {
                st.buffer.extend_from_slice(data.as_bytes());
                return Ok(());
            }
            st.outer_write.as_ref().map(|w| w.clone_ref(py))
        };
        match outer_write {
            Some(w) => w.call1(py, (data,)).map(drop),
            None => Ok(()),
        }
    }

    /// Visits the response this callable belongs to.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.body)
    }

    // No `__clear__`, as for StartResponse.
}
