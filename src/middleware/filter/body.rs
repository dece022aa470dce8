//! The body half of the filter: pulling chunks from the app, absorbing
//! empty ones before the body starts, collecting a whole body, and closing
//! the app's iterable on every path. [`drain`] runs it at once for a `list`
//! or `tuple`; [`FilteredBody`] runs it chunk by chunk for a lazy body.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use super::{commit, recover, BodyMode, FilterStartResponse, Inner};
use crate::errors::Error;
use crate::wsgi::AppIter;

/// One step of the body loop.
enum Step<'py> {
    Yield(Bound<'py, PyBytes>),
    /// An empty chunk before the body started: absorbed.
    Again,
    /// The app's iterable is exhausted.
    End,
    /// Nothing more to yield.
    Stop,
}

/// Pulls one chunk from the app and decides what the server gets for it.
fn pull<'py>(sr: &Bound<'py, FilterStartResponse>, it: &mut AppIter) -> PyResult<Step<'py>> {
    let py = sr.py();
    let Some(chunk) = it.next(py)? else {
        return Ok(Step::End);
    };
    let (mode, first) = {
        let mut st = sr.get().lock()?;
        if chunk.as_bytes().is_empty() && !st.body_started {
            return Ok(Step::Again);
        }
        let mode = st.mode(py)?; // before body_started: no head is a failure before the body
        let first = !std::mem::replace(&mut st.body_started, true);
        if mode == BodyMode::Whole {
            st.buffer.extend_from_slice(chunk.as_bytes());
        }
        (mode, first && !st.start.is_sent())
    };
    if mode == BodyMode::Stream {
        commit(sr, None)?;
        return Ok(Step::Yield(chunk));
    }
    if first {
        // The head goes on with the transformed body's exact Content-Length,
        // known only once the whole body is: the rest is read now, whatever
        // the iterable (PEP 3333 lets the head wait for the first non-empty
        // chunk, and this is it). Not a b'' per inner chunk ("Middleware
        // Handling of Block Boundaries"): a chunk before the head fails
        // wsgiref.validate, and gunicorn and werkzeug then write a head with
        // no status.
        while let Some(c) = it.next(py)? {
            sr.get().lock()?.buffer.extend_from_slice(c.as_bytes());
        }
        return finish(sr).map(|b| b.map_or(Step::Stop, Step::Yield));
    }
    // The head went on with the app's first write(): b'' per inner chunk.
    Ok(Step::Yield(PyBytes::new(py, b"")))
}

/// The end of the app's body: passes the head on if nobody did yet and
/// gives the transformed body in [`BodyMode::Whole`].
fn finish<'py>(sr: &Bound<'py, FilterStartResponse>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let py = sr.py();
    let out = {
        let mut st = sr.get().lock()?;
        st.done = true;
        match st.mode(py)? {
            BodyMode::Stream => None,
            BodyMode::Whole => {
                let mut buf = std::mem::take(&mut st.buffer);
                st.hooks.transform(&mut buf);
                Some(buf)
            }
        }
    };
    commit(sr, out.as_ref().map(Vec::len))?;
    Ok(out.filter(|o| !o.is_empty()).map(|o| PyBytes::new(py, &o)))
}

/// An exception from the app's body: closes the iterable, then recovers
/// (before the first non-empty chunk) or re-raises.
fn fail<'py>(
    sr: &Bound<'py, FilterStartResponse>,
    it: &mut AppIter,
    err: PyErr,
) -> PyResult<Bound<'py, PyBytes>> {
    let py = sr.py();
    // As `try: ... finally: it.close()`: an error from close() wins and
    // carries the first one as its context.
    let err = match it.close(py) {
        Ok(()) => err,
        Err(close_err) => {
            close_err.set_context(py, Some(err));
            close_err
        }
    };
    let started = {
        let mut st = sr.get().lock()?;
        if st.body_started {
            st.done = true;
            st.hooks.streaming_error(py, &err);
        }
        st.body_started
    };
    if started {
        return Err(err);
    }
    recover(sr, err)
}

/// The next chunk the server gets (`None` at the end), with every rule of
/// the filter applied.
fn next_chunk<'py>(sr: &Bound<'py, FilterStartResponse>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let py = sr.py();
    loop {
        let mut it = {
            let mut st = sr.get().lock()?;
            if st.done {
                return Ok(None);
            }
            match std::mem::replace(
                &mut st.inner,
                Inner::Busy {
                    close_requested: false,
                },
            ) {
                Inner::Ready(it) => it,
                Inner::Busy { .. } => return Err(Error::ReentrantCall.into()),
                other => {
                    st.inner = other;
                    return Ok(None);
                }
            }
        };
        let step = match pull(sr, &mut it) {
            Ok(Step::End) => finish(sr).map(|b| b.map_or(Step::Stop, Step::Yield)),
            other => other,
        }
        .or_else(|e| fail(sr, &mut it, e).map(Step::Yield));
        // Put the iterable back, or close it if close() came meanwhile.
        let leftover = {
            let mut st = sr.get().lock()?;
            if let Inner::Busy {
                close_requested: true,
            } = st.inner
            {
                st.inner = Inner::Closed;
                Some(it)
            } else {
                st.inner = Inner::Ready(it);
                None
            }
        };
        if let Some(mut it) = leftover {
            it.close(py)?;
        }
        match step? {
            Step::Yield(b) => {
                // A recovered response is the last chunk.
                return Ok(Some(b));
            }
            Step::Again => {}
            Step::End | Step::Stop => return Ok(None),
        }
    }
}

/// Closes the app's iterable (its `close()`, exactly once; PEP 3333
/// "Specification Details"). Later calls do nothing.
pub(super) fn close(sr: &FilterStartResponse, py: Python<'_>) -> PyResult<()> {
    let it = {
        let mut st = sr.lock()?;
        st.done = true;
        match std::mem::replace(&mut st.inner, Inner::Closed) {
            Inner::Ready(it) => Some(it),
            Inner::Busy { .. } => {
                st.inner = Inner::Busy {
                    close_requested: true,
                };
                None
            }
            Inner::NotYet | Inner::Closed => None,
        }
    };
    match it {
        Some(mut it) => it.close(py),
        None => Ok(()),
    }
}

/// Runs the whole body loop now, for an app iterable `seq` whose iteration
/// runs no app code (a `list` or `tuple`): the chunks the server would get,
/// in order, with every rule of [`FilteredBody`]'s `__next__` applied (the
/// head is passed on, errors recovered or raised, the iterable closed) —
/// only earlier. Returns `seq` itself when those chunks are its items (the
/// same objects: nothing absorbed or rewritten), else a new `list`. Raises
/// what `__next__` would raise.
pub(super) fn drain<'py>(
    sr: &Bound<'py, FilterStartResponse>,
    seq: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = sr.py();
    // The chunks, kept only from the first one that differs from `seq`.
    let mut changed: Option<Vec<Bound<'py, PyAny>>> = None;
    let mut n = 0;
    while let Some(chunk) = next_chunk(sr)? {
        match &mut changed {
            Some(out) => out.push(chunk.into_any()),
            None if item(seq, n).is_some_and(|i| i.is(&chunk)) => {}
            None => {
                let mut out: Vec<_> = (0..n).filter_map(|i| item(seq, i)).collect();
                out.push(chunk.into_any());
                changed = Some(out);
            }
        }
        n += 1;
    }
    close(sr.get(), py)?;
    match changed {
        None if n == seq.len()? => Ok(seq.clone()),
        None => Ok(PyList::new(py, (0..n).filter_map(|i| item(seq, i)))?.into_any()),
        Some(out) => Ok(PyList::new(py, out)?.into_any()),
    }
}

/// Item `i` of a `list` or `tuple`, `None` past its end.
fn item<'py>(seq: &Bound<'py, PyAny>, i: usize) -> Option<Bound<'py, PyAny>> {
    if let Ok(list) = seq.cast::<PyList>() {
        (i < list.len()).then(|| list.get_item(i).ok()).flatten()
    } else {
        let tuple = seq.cast::<PyTuple>().ok()?;
        (i < tuple.len()).then(|| tuple.get_item(i).ok()).flatten()
    }
}

/// The body iterator a filtering middleware returns for a lazy app body
/// (PEP 3333 "the application object must return an iterable yielding zero
/// or more bytestrings"): yields `bytes`, and `close()` closes the wrapped
/// app's iterable exactly once. Its state is its response's
/// `start_response`'s.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
pub(crate) struct FilteredBody {
    sr: Py<FilterStartResponse>,
}

impl FilteredBody {
    /// The body of the response whose state `sr` holds.
    pub(super) fn new(sr: Py<FilterStartResponse>) -> Self {
        Self { sr }
    }
}

#[pymethods]
impl FilteredBody {
    /// The body is its own iterator.
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The next body chunk (`bytes`); `StopIteration` at the end.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        next_chunk(self.sr.bind(py))
    }

    /// Closes the wrapped app's iterable (its `close()`, exactly once;
    /// PEP 3333 "Specification Details"). Later calls do nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        close(self.sr.get(), py)
    }

    /// Visits the response this body belongs to.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.sr)
    }

    // No `__clear__`: `sr` is an immutable reference, and every cycle
    // through it also passes through the mutable FilterStartResponse, whose
    // `__clear__` breaks it (PyO3 guide, "Garbage Collector Integration").
}
