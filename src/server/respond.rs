//! [Stage 7](super): Producing one response: the head (from
//! [`super::response_head`]) once the app's first body bytes are known, the
//! body through a [`BodyWriter`], or a `wsgi.file_wrapper` file handed to
//! the connection to `sendfile`; the server's own `500` when the app failed
//! before its head.
//!
//! The status is read only when the first non-empty body bytes arrive or
//! the iterable ends, so a generator may call `start_response` on its first
//! iteration (granian#845). The iterable is closed exactly once, in every
//! path (through [`super::app_output`]).

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::access_log::warn;
use super::app_output::AppOutput;
use super::impossible;
use super::response_body::{BodyWriter, Emitted, Short};
use super::response_head::{write_head, write_simple, DateCache, Plan};
use super::sendfile::FileBody;
use super::start_response::StartResponse;

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
enum Phase {
    /// The app raised when called; a 500 goes out on the first pump.
    Failed(PyErr),
    /// Waiting for the first non-empty body bytes or the end.
    Start,
    /// The head is out; body bytes from the iterable follow.
    Body(BodyWriter),
    /// The head is out; the body is this file, sent with `sendfile`.
    File(FileBody, BodyWriter),
    /// Complete.
    Done,
}

/// How [`Response::start_body`] left the body, once the head is produced.
#[derive(Debug)]
enum Started {
    /// The iterable has ended: the body is complete once finished.
    Ended(BodyWriter),
    /// More body comes from the iterable.
    Streaming(BodyWriter),
    /// The body is a regular file, to `sendfile`.
    File(FileBody, BodyWriter),
}

/// One response in progress: what the app gave, and the framing state.
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // four independent facts, not a state
pub struct Response {
    app: AppOutput,
    phase: Phase,
    is_head: bool,
    http11: bool,
    /// The iterable is a list or tuple: producing more of it never blocks,
    /// so output is batched; otherwise each block is flushed before the
    /// next is asked for (PEP 3333 "Buffering and Streaming").
    in_memory: bool,
    /// `false` once this response requires closing the connection after it.
    pub keep_alive: bool,
    /// The status code sent, `0` until the head is produced.
    pub status: u16,
    /// Body bytes produced (for the access log), once complete.
    pub body_bytes: u64,
}

impl Response {
    /// Calls `app(environ, start_response)`. An exception becomes a 500 on
    /// the first [`Response::pump`]. `keep_alive` is whether the request and
    /// the server allow reusing the connection; `spare` is the previous
    /// response's `start_response`, reused when it can be.
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
        spare: Option<Py<StartResponse>>,
    ) -> PyResult<Self> {
        let (app, raised) = AppOutput::call(py, app, environ, spare)?;
        Ok(Self {
            app,
            phase: raised.map_or(Phase::Start, Phase::Failed),
            is_head,
            http11,
            in_memory: false,
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
            let mut body = match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return Ok(Pumped::Done),
                Phase::Failed(err) => return self.fail_before_head(py, err, out, date),
                Phase::File(file, body) => {
                    self.phase = Phase::File(file, body);
                    return Ok(Pumped::File);
                }
                Phase::Start => {
                    match self.start_body(py, out, date) {
                        Ok(Started::Ended(body)) => self.finish(py, out, &body)?,
                        Ok(Started::Streaming(body)) => {
                            self.phase = Phase::Body(body);
                            if !self.in_memory {
                                return Ok(Pumped::More);
                            }
                        }
                        // The head goes out (flushed) before the file.
                        Ok(Started::File(file, body)) => {
                            self.phase = Phase::File(file, body);
                            return Ok(Pumped::More);
                        }
                        Err(e) => return self.fail_before_head(py, e, out, date),
                    }
                    continue;
                }
                Phase::Body(body) => body,
            };
            if !body.sends_body() {
                // HEAD, 1xx/204/304: the head is all; the rest is not asked for.
                self.finish(py, out, &body)?;
                continue;
            }
            if out.len() >= high_water {
                self.phase = Phase::Body(body);
                return Ok(Pumped::More);
            }
            let mut written = Vec::new();
            let chunk = match self.app.next(py, &mut written) {
                Ok(chunk) => chunk,
                Err(e) => return Err(self.abort_with(py, e)),
            };
            self.emit(py, out, &mut body, &written);
            let Some(c) = chunk else {
                self.finish(py, out, &body)?;
                continue;
            };
            self.emit(py, out, &mut body, c.as_bytes());
            self.phase = Phase::Body(body);
            if !self.in_memory && !c.as_bytes().is_empty() {
                return Ok(Pumped::More);
            }
        }
    }

    /// Runs the iterable to its first non-empty bytes (or its end), decides
    /// the framing and produces the head and those bytes.
    fn start_body(
        &mut self,
        py: Python<'_>,
        out: &mut Vec<u8>,
        date: &mut DateCache,
    ) -> PyResult<Started> {
        self.in_memory = self.app.is_in_memory(py);
        let file = self.app.sendable_file(py);
        // A list or tuple of bytes: its length is known without iterating
        // it, and iterating it cannot fail, so its head goes out first and
        // its items straight to the output (bytes from write() during the
        // app call still come first: the pump drains them before each item).
        let list = match &file {
            None if self.in_memory => self.app.list_total(py),
            _ => None,
        };
        let mut known = match (&file, list) {
            (Some(file), _) => Some(file.left()),
            (None, Some(list)) => Some(self.app.written_len(py) + list),
            (None, None) => None,
        };
        // Otherwise the status is read at the first non-empty bytes (from
        // write() or the iterable) or the end (granian#845).
        let mut first = Vec::new();
        let mut ended = file.is_some() || (list.is_none() && self.app.pull(py, &mut first)?);
        let head = self
            .app
            .take_head(py)
            .ok_or(crate::errors::Error::StartResponseNotCalled)?;
        let declared = head.content_length()?;
        if known.is_none()
            && declared.is_none()
            && Plan::decide(head.code, false, true, None, None).send_body
        {
            if !ended {
                // One more chunk tells whether the body is that one chunk.
                ended = self.app.pull(py, &mut first)?;
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
        self.app.recycle(py, head);
        let mut body = BodyWriter::new(plan);
        if let Some(mut file) = file.filter(|f| plan.send_body && f.left() > 0) {
            file.truncate(plan.limit.unwrap_or(u64::MAX));
            return Ok(Started::File(file, body));
        }
        self.emit(py, out, &mut body, &first);
        Ok(if ended {
            Started::Ended(body)
        } else {
            Started::Streaming(body)
        })
    }

    /// Appends body bytes through `body`; bytes past the `Content-Length`
    /// are dropped and logged, and the iterable is closed (nothing more can
    /// be sent).
    fn emit(&mut self, py: Python<'_>, out: &mut Vec<u8>, body: &mut BodyWriter, data: &[u8]) {
        if let Emitted::Cut { limit } = body.emit(out, data) {
            warn(py, &format!(
                "the application sent more than its Content-Length of {limit} bytes; the rest was dropped"
            ));
            self.close_iter(py);
        }
    }

    /// Ends the body (a short `Content-Length` body means the connection
    /// closes) and closes the iterable.
    fn finish(
        &mut self,
        py: Python<'_>,
        out: &mut Vec<u8>,
        body: &BodyWriter,
    ) -> Result<(), Abort> {
        self.phase = Phase::Done;
        self.body_bytes = body.sent();
        if let Some(Short { sent, limit }) = body.finish(out) {
            warn(py, &format!(
                "the application sent {sent} of its Content-Length of {limit} bytes; closing the connection"
            ));
            self.keep_alive = false;
        }
        match self.app.close(py) {
            Err(e) if !e.is_instance_of::<PyException>(py) => Err(Abort(Some(e))),
            Err(e) => {
                e.print(py);
                Ok(())
            }
            Ok(()) => Ok(()),
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
        self.app.mark_sent(py);
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

    /// This response's `start_response`, to offer to the next one.
    #[must_use]
    pub fn start_response(&self, py: Python<'_>) -> Py<StartResponse> {
        self.app.start_response(py)
    }

    /// Calls the iterable's `close()` (once; later calls do nothing),
    /// logging what it raises.
    pub fn close_iter(&mut self, py: Python<'_>) {
        if let Err(e) = self.app.close(py) {
            e.print(py);
        }
    }

    /// The file still to send after [`Pumped::File`].
    pub fn file_body(&mut self) -> Option<&mut FileBody> {
        match &mut self.phase {
            Phase::File(file, _) => Some(file),
            _ => None,
        }
    }

    /// Records `n` bytes sent from the file; at its end, the response is
    /// finished (the iterable, and so the file, closed).
    ///
    /// # Errors
    /// [`Abort`] when `close()` raised `KeyboardInterrupt`/`SystemExit`.
    pub fn file_sent(&mut self, py: Python<'_>, n: usize) -> Result<(), Abort> {
        let Phase::File(file, body) = &mut self.phase else {
            impossible!("file_sent without a file: {:?}", self.phase);
            return Ok(());
        };
        body.count(n as u64);
        if file.left() == 0 {
            let body = *body;
            self.finish(py, &mut Vec::new(), &body)?;
        }
        Ok(())
    }
}
