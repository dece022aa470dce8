//! The body iterator half of the filter: pulling chunks from the app,
//! absorbing empty ones before the body starts, collecting a whole body,
//! and closing the app's iterable on every path.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::{PyTraverseError, PyVisit};

use super::{commit, recover, BodyMode, FilteredBody, Inner, Out};
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
fn pull<'py>(body: &Bound<'py, FilteredBody>, it: &mut AppIter) -> PyResult<Step<'py>> {
    let py = body.py();
    let Some(chunk) = it.next(py)? else {
        return Ok(Step::End);
    };
    let (mode, first) = {
        let mut st = body.get().lock()?;
        if chunk.as_bytes().is_empty() && !st.body_started {
            return Ok(Step::Again);
        }
        let mode = st.mode()?; // before body_started: no head is a failure before the body
        let first = !std::mem::replace(&mut st.body_started, true);
        if mode == BodyMode::Whole {
            st.buffer.extend_from_slice(chunk.as_bytes());
        }
        (mode, first && !st.start.is_sent())
    };
    if mode == BodyMode::Stream {
        commit(body, None)?;
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
            body.get().lock()?.buffer.extend_from_slice(c.as_bytes());
        }
        return finish(body).map(|b| b.map_or(Step::Stop, Step::Yield));
    }
    // The head went on with the app's first write(): b'' per inner chunk.
    Ok(Step::Yield(PyBytes::new(py, b"")))
}

/// The end of the app's body: passes the head on if nobody did yet and
/// gives the transformed body in [`BodyMode::Whole`].
fn finish<'py>(body: &Bound<'py, FilteredBody>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let py = body.py();
    let out = {
        let mut st = body.get().lock()?;
        st.out = Out::Done;
        match st.mode()? {
            BodyMode::Stream => None,
            BodyMode::Whole => {
                let buf = std::mem::take(&mut st.buffer);
                Some(st.hooks.transform(buf))
            }
        }
    };
    commit(body, out.as_ref().map(Vec::len))?;
    Ok(out.filter(|o| !o.is_empty()).map(|o| PyBytes::new(py, &o)))
}

/// An exception from the app's body: closes the iterable, then recovers
/// (before the first non-empty chunk) or re-raises.
fn fail<'py>(
    body: &Bound<'py, FilteredBody>,
    it: &mut AppIter,
    err: PyErr,
) -> PyResult<Bound<'py, PyBytes>> {
    let py = body.py();
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
        let mut st = body.get().lock()?;
        if st.body_started {
            st.out = Out::Done;
            st.hooks.streaming_error(py, &err);
        }
        st.body_started
    };
    if started {
        return Err(err);
    }
    recover(body, err)
}

impl FilteredBody {
    /// Runs the whole body loop now, for an app iterable whose iteration
    /// runs no app code (a `list` or `tuple`): the chunks the server would
    /// get, in order, with every rule of `__next__` applied (the head is
    /// passed on, errors recovered or raised, the iterable closed) — only
    /// earlier. Raises what `__next__` would raise.
    pub(super) fn drain<'py>(slf: &Bound<'py, Self>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let mut out = Vec::new();
        while let Some(chunk) = Self::__next__(slf)? {
            out.push(chunk);
        }
        slf.get().close(slf.py())?;
        Ok(out)
    }
}

#[pymethods]
impl FilteredBody {
    /// The body is its own iterator.
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The next body chunk (`bytes`); `StopIteration` at the end.
    fn __next__<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let py = slf.py();
        loop {
            let mut it = {
                let mut st = slf.get().lock()?;
                match std::mem::replace(&mut st.out, Out::Done) {
                    Out::Done => return Ok(None),
                    Out::Last(b) => return Ok(Some(b.into_bound(py))),
                    Out::Running => st.out = Out::Running,
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
            let step = match pull(slf, &mut it) {
                Ok(Step::End) => finish(slf).map(|b| b.map_or(Step::Stop, Step::Yield)),
                other => other,
            }
            .or_else(|e| fail(slf, &mut it, e).map(Step::Yield));
            // Put the iterable back, or close it if close() came meanwhile.
            let leftover = {
                let mut st = slf.get().lock()?;
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
                Step::Yield(b) => return Ok(Some(b)),
                Step::Again => {}
                Step::End | Step::Stop => return Ok(None),
            }
        }
    }

    /// Closes the wrapped app's iterable (its `close()`, exactly once;
    /// PEP 3333 "Specification Details"). Later calls do nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let it = {
            let mut st = self.lock()?;
            st.out = Out::Done;
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

    /// Visits the held Python objects for the cycle collector.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Busy means a call is running on this thread; reporting fewer
        // references only makes the collector keep objects alive.
        let Ok(st) = self.state.try_lock() else {
            return Ok(());
        };
        if let Some((s, h)) = &st.head_py {
            visit.call(s)?;
            visit.call(h)?;
        }
        visit.call(&st.exc_info)?;
        visit.call(&st.outer_start)?;
        visit.call(&st.outer_write)?;
        if let Inner::Ready(it) = &st.inner {
            it.traverse(&visit)?;
        }
        st.hooks.traverse(&visit)
    }

    /// Drops the held Python objects (breaks cycles through the app's
    /// generator frame, which may hold this response's start_response).
    fn __clear__(&self) {
        let Ok(mut st) = self.state.try_lock() else {
            return;
        };
        // Move everything out, then drop it after unlocking: dropping may run
        // Python code (close(), finalizers) that touches this object again.
        let taken = (
            st.head_py.take(),
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
