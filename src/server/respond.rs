//! [7] Response framing: drives the application iterable into output bytes
//! (status line, headers, `Date`, `Server`, then a `Content-Length`,
//! chunked or close-delimited body).
//!
//! The status is read only when the first non-empty body bytes arrive or
//! the iterable ends, so a generator may call `start_response` on its first
//! iteration (granian#845). `close()` is called exactly once through
//! [`AppIter`], in every path.

use std::io::Write as _;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use super::access_log::warn;
use super::response_head::{write_head, write_simple, DateCache, Plan};
use super::sendfile::FileBody;
use super::start_response::StartResponse;
use crate::wsgi::AppIter;

/// What the connection does after [`Response::pump`].
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// Output is above the high-water mark: flush, then pump again.
    More,
    /// The response is complete and the iterable closed.
    Done,
    /// The head is out; the body is a file for [`Response::file_body`] to
    /// send (after the buffered output is flushed).
    File,
}

/// The connection must be dropped without sending what is buffered (an
/// error after the head was produced). `Some` carries an exception that is
/// not an `Exception` (KeyboardInterrupt, SystemExit) for the server to
/// re-raise.
#[derive(Debug)]
pub struct Abort(pub Option<PyErr>);

/// Where a response is.
#[derive(Debug)]
pub(super) enum Phase {
    /// The app raised when called; a 500 goes out on the first pump.
    Failed(Option<PyErr>),
    /// Waiting for the first non-empty body bytes or the end.
    Start,
    /// The head is out; body bytes follow under `plan`.
    Body(Plan),
    /// Complete.
    Done,
}

/// One response in progress: the app iterable, its `start_response`, and
/// the framing state.
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // four independent facts, not a state
pub struct Response {
    pub(super) iter: Option<AppIter>,
    pub(super) start: Py<StartResponse>,
    pub(super) phase: Phase,
    is_head: bool,
    http11: bool,
    /// Bytes that came from `write()` before the head was produced.
    write_bytes: u64,
    /// The iterable is a list or tuple: producing more of it never blocks,
    /// so output is batched; otherwise each block is flushed before the
    /// next is asked for (PEP 3333 "Buffering and Streaming").
    in_memory: bool,
    /// A regular file behind `wsgi.file_wrapper`, sent with `sendfile`.
    pub(super) file: Option<FileBody>,
    /// `false` once this response requires closing the connection after it.
    pub keep_alive: bool,
    /// The status code sent, `0` until the head is produced.
    pub status: u16,
    /// Body bytes produced (for the access log).
    pub body_bytes: u64,
}

impl Response {
    /// Calls `app(environ, start_response)`. An exception becomes a 500 on
    /// the first [`Response::pump`]. `keep_alive` is whether the request and
    /// the server allow reusing the connection.
    ///
    /// # Errors
    /// Only when the `start_response` object cannot be allocated.
    pub fn call_app(
        py: Python<'_>,
        app: &Bound<'_, PyAny>,
        environ: Bound<'_, PyDict>,
        is_head: bool,
        http11: bool,
        keep_alive: bool,
    ) -> PyResult<Self> {
        let sr = Bound::new(py, StartResponse::default())?;
        let (iter, phase) = match app.call1((environ, &sr)) {
            Ok(it) => (Some(AppIter::new(it)), Phase::Start),
            Err(e) => (None, Phase::Failed(Some(e))),
        };
        Ok(Self {
            iter,
            start: sr.unbind(),
            phase,
            is_head,
            http11,
            write_bytes: 0,
            in_memory: false,
            file: None,
            keep_alive,
            status: 0,
            body_bytes: 0,
        })
    }

    /// Produces output into `out` until it holds `high_water` bytes or the
    /// response is complete.
    ///
    /// # Errors
    /// [`Abort`] when the connection must be dropped.
    pub fn pump(
        &mut self,
        py: Python<'_>,
        out: &mut Vec<u8>,
        high_water: usize,
        date: &mut DateCache,
    ) -> Result<Pumped, Abort> {
        loop {
            let plan = match &mut self.phase {
                Phase::Done => return Ok(Pumped::Done),
                Phase::Failed(err) => {
                    let err = err
                        .take()
                        .unwrap_or_else(|| PyException::new_err("application failed"));
                    return self.fail_before_head(py, err, out, date);
                }
                Phase::Start => {
                    match self.start_body(py, out, date) {
                        Ok(Some(plan)) => self.finish(py, out, plan)?,
                        Ok(None) if !self.in_memory => return Ok(Pumped::More),
                        Ok(None) => {}
                        Err(e) => return self.fail_before_head(py, e, out, date),
                    }
                    continue;
                }
                Phase::Body(_) if self.file.is_some() => return Ok(Pumped::File),
                Phase::Body(plan) => *plan,
            };
            if !plan.send_body {
                // HEAD, 1xx/204/304: the head is all; the rest is not asked for.
                self.finish(py, out, plan)?;
                continue;
            }
            if out.len() >= high_water {
                return Ok(Pumped::More);
            }
            let next = match self.iter.as_mut() {
                Some(iter) => iter.next(py),
                None => Ok(None),
            };
            match next {
                Ok(chunk) => {
                    let mut written = Vec::new();
                    self.start.borrow_mut(py).drain_written_into(&mut written);
                    self.emit(py, out, plan, &written);
                    match chunk {
                        Some(c) => {
                            self.emit(py, out, plan, c.as_bytes());
                            if !self.in_memory && !c.as_bytes().is_empty() {
                                return Ok(Pumped::More);
                            }
                        }
                        None => self.finish(py, out, plan)?,
                    }
                }
                Err(e) => return Err(self.abort_with(py, e)),
            }
        }
    }

    /// Pulls from the iterable until non-empty bytes (from `write()` or a
    /// chunk) are in `buf`, or the end; `Ok(true)` at the end.
    fn pull(&mut self, py: Python<'_>, buf: &mut Vec<u8>) -> PyResult<bool> {
        let before = buf.len();
        loop {
            let chunk = match self.iter.as_mut() {
                Some(iter) => iter.next(py)?,
                None => None,
            };
            let mut sr = self.start.borrow_mut(py);
            if sr.has_written() {
                let n = buf.len();
                sr.drain_written_into(buf);
                self.write_bytes += (buf.len() - n) as u64;
            }
            drop(sr);
            match chunk {
                None => return Ok(true),
                Some(c) => buf.extend_from_slice(c.as_bytes()),
            }
            if buf.len() > before {
                return Ok(false);
            }
        }
    }

    /// The total length of a list or tuple of bytes (the whole body is in
    /// memory, so `Content-Length` is known); `None` for anything else.
    fn list_total(&self, py: Python<'_>) -> Option<u64> {
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

    /// Runs the iterable to its first non-empty bytes (or its end), decides
    /// the framing and produces the head and those bytes. `Some(plan)` when
    /// the iterable has ended and the body must be finished.
    fn start_body(
        &mut self,
        py: Python<'_>,
        out: &mut Vec<u8>,
        date: &mut DateCache,
    ) -> PyResult<Option<Plan>> {
        self.in_memory = self.iter.as_ref().is_some_and(|it| {
            let it = it.iterable(py);
            it.is_instance_of::<PyList>() || it.is_instance_of::<PyTuple>()
        });
        let file = self.sendable_file(py);
        // Bytes from write() during the app call come first.
        let mut first = Vec::new();
        let mut ended = file.is_some() || self.pull(py, &mut first)?;
        let head = self
            .start
            .borrow_mut(py)
            .take_head()
            .ok_or(crate::errors::Error::StartResponseNotCalled)?;
        let declared = head.content_length()?;
        let mut known = file.as_ref().map(FileBody::left);
        if known.is_none()
            && declared.is_none()
            && Plan::decide(head.code, false, true, None, None).send_body
        {
            if !ended {
                if let Some(list) = self.list_total(py) {
                    known = Some(self.write_bytes + list);
                } else {
                    // One more chunk tells whether the body is that one chunk.
                    ended = self.pull(py, &mut first)?;
                }
            }
            if ended {
                known = Some(first.len() as u64);
            }
        }
        let plan = Plan::decide(head.code, self.is_head, self.http11, declared, known);
        self.keep_alive &= !plan.close && !head.app_close;
        self.status = head.code;
        write_head(
            out,
            &head,
            &plan,
            self.keep_alive,
            self.http11,
            date.now().as_bytes(),
        );
        if !head.dropped.is_empty() {
            warn(
                py,
                &format!(
                    "dropped hop-by-hop header(s) {:?} set by the application (PEP 3333)",
                    head.dropped
                ),
            );
        }
        self.phase = Phase::Body(plan);
        if let Some(mut file) = file.filter(|f| plan.send_body && f.left() > 0) {
            file.truncate(plan.limit.unwrap_or(u64::MAX));
            self.file = Some(file);
            return Ok(None);
        }
        self.emit(py, out, plan, &first);
        Ok(ended.then_some(plan))
    }

    /// Appends body bytes under `plan`: nothing for HEAD/204/304, cut at
    /// the Content-Length (the rest is dropped and logged), chunk-framed
    /// when chunked.
    fn emit(&mut self, py: Python<'_>, out: &mut Vec<u8>, plan: Plan, data: &[u8]) {
        if data.is_empty() || !plan.send_body || matches!(self.phase, Phase::Done) {
            return;
        }
        let mut data = data;
        if let Some(limit) = plan.limit {
            let left = limit - self.body_bytes.min(limit);
            if (data.len() as u64) > left {
                warn(py, &format!(
                    "the application sent more than its Content-Length of {limit} bytes; the rest was dropped"
                ));
                data = &data[..usize::try_from(left).unwrap_or(0)];
                // Stop iterating: nothing more can be sent.
                self.close_iter(py);
                self.phase = Phase::Body(Plan {
                    send_body: false,
                    ..plan
                });
            }
        }
        if plan.chunked {
            let _ = write!(out, "{:x}\r\n", data.len());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(data);
        }
        self.body_bytes += data.len() as u64;
    }

    /// Ends the body (chunked terminator; a short Content-Length body means
    /// the connection closes) and closes the iterable.
    pub(super) fn finish(
        &mut self,
        py: Python<'_>,
        out: &mut Vec<u8>,
        plan: Plan,
    ) -> Result<(), Abort> {
        self.phase = Phase::Done;
        if plan.send_body && plan.chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        if let Some(limit) = plan
            .limit
            .filter(|&l| plan.send_body && self.body_bytes < l)
        {
            warn(py, &format!(
                "the application sent {} of its Content-Length of {limit} bytes; closing the connection",
                self.body_bytes
            ));
            self.keep_alive = false;
        }
        match self.iter.as_mut().map(|it| it.close(py)) {
            Some(Err(e)) if !e.is_instance_of::<PyException>(py) => Err(Abort(Some(e))),
            Some(Err(e)) => {
                e.print(py);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Handles an exception raised before any head was produced: traceback
    /// to stderr, iterable closed, `500 Internal Server Error` produced.
    fn fail_before_head(
        &mut self,
        py: Python<'_>,
        err: PyErr,
        out: &mut Vec<u8>,
        date: &mut DateCache,
    ) -> Result<Pumped, Abort> {
        self.phase = Phase::Done;
        self.close_iter(py);
        if !err.is_instance_of::<PyException>(py) {
            return Err(Abort(Some(err)));
        }
        err.print(py);
        self.start.borrow_mut(py).mark_sent();
        self.status = 500;
        self.body_bytes = write_simple(
            out,
            "500 Internal Server Error",
            self.is_head,
            self.keep_alive,
            self.http11,
            date.now().as_bytes(),
        );
        Ok(Pumped::Done)
    }

    /// Handles an exception after the head: logged, iterable closed, the
    /// connection aborted.
    fn abort_with(&mut self, py: Python<'_>, err: PyErr) -> Abort {
        self.phase = Phase::Done;
        self.keep_alive = false;
        self.close_iter(py);
        if err.is_instance_of::<PyException>(py) {
            err.print(py);
            warn(
                py,
                "the application failed after the response head was sent; connection aborted",
            );
            Abort(None)
        } else {
            Abort(Some(err))
        }
    }

    /// Calls the iterable's `close()` (once; later calls do nothing),
    /// logging what it raises.
    pub fn close_iter(&mut self, py: Python<'_>) {
        if let Some(Err(e)) = self.iter.as_mut().map(|it| it.close(py)) {
            e.print(py);
        }
    }
}
