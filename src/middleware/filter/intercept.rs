//! The callable the wrapped app sees: `start_response`, which is also the
//! `write()` it returns, and which holds the whole response's state.

use std::sync::Mutex;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::{PyTraverseError, PyVisit};

use super::{commit, BodyMode, Inner, State};
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
///
/// The `write(data: bytes) -> None` callable it returns (PEP 3333 "The
/// write() Callable") is this same object, called with one argument: so a
/// response costs one Python object, not two. The first `write()` passes the
/// head on. Streamed responses go straight to the server's `write()`; a body
/// the middleware rewrites whole is collected and sent at the end of the
/// iterable. `write()` raises `TypeError` when `data` is not `bytes` and
/// `RuntimeError` before `start_response` was called.
///
/// Free threading: the state is a `Mutex` that every call takes with
/// `try_lock` (a call while another runs on this response, from any thread,
/// is an error, `ReentrantCall`, never a wait), and the lock is never held
/// while app code runs.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
pub(crate) struct FilterStartResponse {
    pub(super) state: Mutex<State>,
    pub(super) vectorcall: vectorcall::Slot<Self>,
}

// A response the server never closed, freed by the cycle collector: its app
// iterable is closed here, while the collector still guarantees that the
// whole cycle is intact (see `crate::finalize`), not later when the state is
// dropped and the iterable may already have been cleared.
impl crate::finalize::Finalize for FilterStartResponse {
    fn finalize(slf: &Bound<'_, Self>) {
        if let Err(err) = super::body::close(slf.get(), slf.py()) {
            err.write_unraisable(slf.py(), Some(slf.as_any()));
        }
    }
}

// `write(data)` with one argument, `start_response(status, headers[,
// exc_info])` with two or three; anything else gets `__call__`'s errors.
vectorcall::implement!(FilterStartResponse, |slf, args| {
    let py = slf.py();
    if let [data] = args {
        return Some(write(slf, data).map(|()| py.None().into_bound(py)));
    }
    let (status, headers, exc_info) = vectorcall::start_response_args(args)?;
    Some(start(slf.get(), status, headers, exc_info).map(|()| slf.clone().into_any()))
});

#[pymethods]
impl FilterStartResponse {
    /// `start_response(status, response_headers, exc_info=None) -> write`,
    /// or, with one argument, `write(data) -> None`; see the class
    /// documentation.
    #[pyo3(signature = (status, response_headers = None, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        response_headers: Option<&Bound<'py, PyAny>>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, Self>>> {
        if response_headers.is_none() && exc_info.is_none() {
            write(slf, status)?;
            return Ok(None);
        }
        let py = slf.py();
        let none = py.None().into_bound(py);
        start(
            slf.get(),
            status,
            response_headers.unwrap_or(&none),
            exc_info,
        )?;
        Ok(Some(slf.clone()))
    }

    /// Visits everything the response holds, for the cycle collector.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Busy means a call is running on this thread; reporting fewer
        // references only makes the collector keep objects alive.
        let Ok(st) = self.state.try_lock() else {
            return Ok(());
        };
        st.traverse(&visit)
    }

    /// Drops the held Python objects (breaks cycles through the app's
    /// generator frame, which may hold this start_response).
    fn __clear__(&self) {
        let Ok(mut st) = self.state.try_lock() else {
            return;
        };
        // Move everything out, then drop it after unlocking: dropping may run
        // Python code (close(), finalizers) that touches this object again.
        let taken = (
            st.start.take_head(),
            st.exc_info.take(),
            st.outer_start.take(),
            st.outer_write.take(),
            std::mem::replace(&mut st.inner, Inner::Closed),
        );
        st.hooks.clear();
        drop(st);
        drop(taken);
    }
}

/// One `start_response(status, response_headers, exc_info)` call.
fn start(
    sr: &FilterStartResponse,
    status: &Bound<'_, PyAny>,
    response_headers: &Bound<'_, PyAny>,
    exc_info: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let mut st = sr.lock()?;
    // Once the app has produced body bytes its head is out as far as it
    // can tell, even while a whole-body filter still holds it: a late
    // exc_info re-raises, as a server would (PEP 3333 "Error Handling").
    let sent = st.start.is_sent() || st.body_started;
    check_restart(exc_info, st.start.head().is_some(), sent)?;
    st.start.start(status, response_headers, exc_info)?;
    st.exc_info = exc_info
        .filter(|e| !e.is_none())
        .map(|e| e.clone().unbind());
    Ok(())
}

/// One `write(data)` call.
fn write(sr: &Bound<'_, FilterStartResponse>, data: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = sr.py();
    let data = data.cast::<PyBytes>().map_err(|_| -> PyErr {
        if data.is_instance_of::<PyString>() {
            // Also what `start_response(status)` without headers looks like.
            PyTypeError::new_err(
                "write() takes bytes, not str; start_response() takes (status, response_headers[, exc_info]) (PEP 3333)",
            )
        } else {
            Error::BodyNotBytes(type_name(data)).into()
        }
    })?;
    commit(sr, None)?;
    let outer_write = {
        let mut st = sr.get().lock()?;
        if st.mode(py)? == BodyMode::Whole {
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
