//! [Stage 6](super): What the application gives back: its iterable (closed exactly once,
//! through [`AppIter`]) and what it told its `start_response` and
//! `write()` (PEP 3333 "The start_response() Callable"). The responder
//! (`respond.rs`) asks this for the head and the next body bytes and
//! decides the framing; nothing here writes output, except `write()`
//! through the [`Outlet`] lent while application code runs
//! ([`AppOutput::lent`]).

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use super::file_wrapper::FileWrapper;
use super::impossible;
use super::outlet::{Outlet, Sending};
use super::sendfile::FileBody;
use super::start_response::{AppHead, ServerStartResponse};
use super::transport::Transport;
use crate::vectorcall;
use crate::wsgi::AppIter;

/// What [`AppOutput::lent`] lends while application code runs.
#[derive(Debug)]
pub(crate) struct Lending<'a> {
    /// The connection's transport (its output side is lent).
    pub(crate) io: &'a mut Transport,
    /// The response's sending state.
    pub(crate) sending: &'a mut Sending,
    /// How long `write()` waits for a client that does not read.
    pub(crate) timeout: Duration,
}

/// The application's side of one response.
#[derive(Debug)]
pub(crate) struct AppOutput {
    /// `None` when the app raised instead of returning an iterable.
    iter: Option<AppIter>,
    start: Py<ServerStartResponse>,
}

impl AppOutput {
    /// A response with `spare` (the previous response's `start_response`)
    /// when it can be reused, else a new one; nothing is called yet.
    ///
    /// # Errors
    /// Only when the `start_response` object cannot be allocated.
    pub(crate) fn new(py: Python<'_>, spare: Option<Py<ServerStartResponse>>) -> PyResult<Self> {
        let sr = match spare.and_then(|sr| ServerStartResponse::reuse(py, sr)) {
            Some(sr) => sr,
            None => vectorcall::new(py, ServerStartResponse::default())?,
        };
        Ok(Self {
            iter: None,
            start: sr.unbind(),
        })
    }

    /// Calls `app(environ, start_response)`; the exception the app raised,
    /// if it did. Call it inside [`AppOutput::lent`].
    pub(crate) fn call(
        &mut self,
        py: Python<'_>,
        app: &Bound<'_, PyAny>,
        environ: Bound<'_, PyDict>,
    ) -> Option<PyErr> {
        match app.call1((environ, self.start.bind(py))) {
            Ok(it) => {
                self.iter = Some(AppIter::new(it));
                None
            }
            Err(e) => Some(e),
        }
    }

    /// Runs `f` (application code: the app call, the iterable's `next()`)
    /// with the connection's output (`io`) and the response's `sending`
    /// state lent to `start_response`'s outlet (made the first time), so
    /// that `write()` sends at once, waiting at most `timeout` for the
    /// client; both are given back after it. Returns
    /// what `f` returned and why a `write()` failed, if one did.
    pub(crate) fn lent<R>(
        &mut self,
        py: Python<'_>,
        lending: Lending<'_>,
        f: impl FnOnce(&mut Self) -> R,
    ) -> (R, Option<std::io::Error>) {
        let Lending {
            io,
            sending,
            timeout,
        } = lending;
        {
            let mut sr = self.start.borrow_mut(py);
            let outlet = sr
                .outlet()
                .get_or_insert_with(|| Outlet::new(io, *sending, timeout));
            outlet.lend(io, *sending);
        }
        let r = f(self);
        let mut sr = self.start.borrow_mut(py);
        let failed = if let Some(outlet) = sr.outlet().as_mut() {
            let (back, failed) = outlet.give_back(io);
            *sending = back;
            failed
        } else {
            impossible!("the outlet lent to start_response was lost");
            Some(std::io::Error::other("response output lost"))
        };
        (r, failed)
    }

    /// `true` when the iterable says (PEP 3333: a server may rely on
    /// `len()`) that it has one item: the first non-empty block is then
    /// the whole body. Iterables without `__len__` (generators) say no.
    #[must_use]
    pub(crate) fn has_one_item(&self, py: Python<'_>) -> bool {
        self.iter
            .as_ref()
            .is_some_and(|it| it.iterable(py).len().is_ok_and(|n| n == 1))
    }

    /// The `start_response` object, for the connection to offer to its next
    /// response.
    #[must_use]
    pub(crate) fn start_response(&self, py: Python<'_>) -> Py<ServerStartResponse> {
        self.start.clone_ref(py)
    }

    /// `true` when the iterable is a list or tuple: producing more of it
    /// never blocks.
    #[must_use]
    pub(crate) fn is_in_memory(&self, py: Python<'_>) -> bool {
        self.iter.as_ref().is_some_and(|it| {
            let it = it.iterable(py);
            it.is_instance_of::<PyList>() || it.is_instance_of::<PyTuple>()
        })
    }

    /// Bytes `write()` has given that are not yet drained.
    #[must_use]
    pub(crate) fn written_len(&self, py: Python<'_>) -> u64 {
        self.start.borrow(py).written_len()
    }

    /// Takes the head recorded by `start_response` to send it (later
    /// `exc_info` calls re-raise); `None` when it was not called.
    #[must_use]
    pub(crate) fn take_head(&self, py: Python<'_>) -> Option<AppHead> {
        self.start.borrow_mut(py).take_head()
    }

    /// Gives `head`'s buffer back to `start_response`, once it is written.
    pub(crate) fn recycle(&self, py: Python<'_>, head: AppHead) {
        self.start.borrow_mut(py).recycle(head);
    }

    /// Records that a head is being sent (the server's own 500): later
    /// `exc_info` calls re-raise.
    pub(crate) fn mark_sent(&self, py: Python<'_>) {
        self.start.borrow_mut(py).mark_sent();
    }

    /// Pulls from the iterable until non-empty bytes (from `write()` or a
    /// chunk) are in `buf`, or the end; `Ok(true)` at the end.
    ///
    /// # Errors
    /// What the iterable raised, or a chunk that is not bytes.
    pub(crate) fn pull(&mut self, py: Python<'_>, buf: &mut Vec<u8>) -> PyResult<bool> {
        let before = buf.len();
        loop {
            let chunk = match self.iter.as_mut() {
                Some(iter) => iter.next(py)?,
                None => None,
            };
            self.start.borrow_mut(py).drain_written_into(buf);
            match chunk {
                None => return Ok(true),
                Some(c) => buf.extend_from_slice(c.as_bytes()),
            }
            if buf.len() > before {
                return Ok(false);
            }
        }
    }

    /// The next chunk of the iterable (`None` at its end), after moving the
    /// bytes `write()` gave meanwhile to `written`.
    ///
    /// # Errors
    /// What the iterable raised, or a chunk that is not bytes.
    pub(crate) fn next<'py>(
        &mut self,
        py: Python<'py>,
        written: &mut Vec<u8>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let chunk = match self.iter.as_mut() {
            Some(iter) => iter.next(py)?,
            None => None,
        };
        self.start.borrow_mut(py).drain_written_into(written);
        Ok(chunk)
    }

    /// The total length of a list or tuple of bytes (the whole body is in
    /// memory, so `Content-Length` is known); `None` for anything else.
    #[must_use]
    pub(crate) fn list_total(&self, py: Python<'_>) -> Option<u64> {
        fn sum<'py>(mut items: impl Iterator<Item = Bound<'py, PyAny>>) -> Option<u64> {
            items.try_fold(0u64, |n, item| {
                item.cast::<PyBytes>()
                    .ok()
                    .map(|b| n + b.as_bytes().len() as u64)
            })
        }
        let it = self.iter.as_ref()?.iterable(py);
        if let Ok(list) = it.cast::<PyList>() {
            sum(list.iter())
        } else if let Ok(tuple) = it.cast::<PyTuple>() {
            sum(tuple.iter())
        } else {
            None
        }
    }

    /// The file to `sendfile` when the app returned `wsgi.file_wrapper`
    /// over a regular file, called `start_response` and wrote nothing.
    #[must_use]
    pub(crate) fn sendable_file(&self, py: Python<'_>) -> Option<FileBody> {
        let wrapper = self
            .iter
            .as_ref()?
            .iterable(py)
            .cast::<FileWrapper>()
            .ok()?;
        let sr = self.start.borrow(py);
        if sr.head().is_none() || sr.has_written() {
            return None;
        }
        drop(sr);
        let filelike = wrapper.borrow().filelike(py);
        FileBody::from_filelike(py, &filelike)
    }

    /// Calls the iterable's `close()` (once; later calls do nothing).
    ///
    /// # Errors
    /// What `close()` raised.
    pub(crate) fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.iter.as_mut().map_or(Ok(()), |it| it.close(py))
    }
}
