//! [Stage 7](super): Producing one response: the head (from
//! [`super::response_head`]) once the app's first body bytes are known, the
//! body block by block, or a `wsgi.file_wrapper` file handed to the
//! connection to `sendfile`; the server's own `500` when the app (or the
//! server, building the environ) failed before its head.
//!
//! Each block the iterable gives goes to the output before the iterable is
//! asked for the next one, and the connection flushes it before pumping
//! again (PEP 3333 "Buffering and Streaming": no block is held back for
//! the next). The framing is decided without pulling a block beyond the
//! first non-empty one: the app's `Content-Length`, else the length of a
//! list or tuple, of an iterable whose `len()` is 1, or of a body that ended
//! with its first block, else chunked (HTTP/1.1) or close-delimited.
//!
//! The status is read only when the first non-empty body bytes arrive or
//! the iterable ends, so a generator may call `start_response` on its first
//! iteration (granian#845). The iterable is closed exactly once, in every
//! path (through [`super::app_output`]). Application code (the call, each
//! `next()`) runs with the output lent to `start_response`
//! ([`super::outlet`]), so `write()` sends at once.

use std::io;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::access_log::warn;
use super::app_output::{AppOutput, Lending};
use super::config::{HELD_WARNING, HIGH_WATER_BYTES};
use super::impossible;
use super::keep_alive::Close;
use super::outlet::Sending;
use super::response_head::{write_simple, BodyLength, Delimit, Framing, ServerStatus};
use super::sendfile::FileBody;
use super::start_response::ServerStartResponse;
use super::transport::Transport;
use super::turn_context::TurnContext;

/// What the connection does after [`Response::pump`].
#[derive(Debug)]
pub(crate) enum Pumped {
    /// Output is waiting (a block of a stream, or the high-water mark of
    /// an in-memory body): flush it, then pump again.
    More,
    /// The response is complete and the iterable closed.
    Done,
    /// The head is out; the body is a file for [`Response::file_body`] to
    /// send (after the buffered output is flushed).
    File,
    /// The client went away (or stopped reading) during a `write()`: the
    /// response is abandoned, its iterable closed.
    Gone(io::Error),
}

/// The connection must be dropped without sending what is buffered (an
/// error after the head was produced). `Some` carries an exception that is
/// not an `Exception` (KeyboardInterrupt, SystemExit) for the server to
/// re-raise.
#[derive(Debug)]
pub(crate) struct Abort(pub(crate) Option<PyErr>);

/// Where a response is.
#[derive(Debug)]
enum Phase {
    /// The app raised when called (or the environ could not be built); a
    /// 500 goes out on the first pump.
    Failed(PyErr),
    /// Waiting for the first non-empty body bytes or the end.
    Start,
    /// The head is out; body bytes from the iterable follow.
    Body,
    /// The head is out; the body is this file, sent with `sendfile`.
    File(FileBody),
    /// Complete.
    Done,
}

/// How [`Response::start_body`] left the body, once the head is produced.
#[derive(Debug)]
enum Started {
    /// The iterable has ended: the body is complete once finished.
    Ended,
    /// More body comes from the iterable.
    Streaming,
    /// The body is a regular file, to `sendfile`.
    File(FileBody),
}

/// One response in progress: what the app gave, and the sending side.
#[derive(Debug)]
pub(crate) struct Response {
    app: AppOutput,
    phase: Phase,
    /// What is sent, and whether the connection is kept.
    pub(crate) sending: Sending,
    /// The iterable is a list or tuple: producing more of it never blocks
    /// and runs no application code, so output is batched up to the
    /// high-water mark; any other iterable's blocks are flushed one by one.
    in_memory: bool,
    /// Body bytes produced (for the access log), once complete.
    pub(crate) body_bytes: u64,
    /// The longest single run of application code (the app call, a
    /// `next()`) that held the server for more than [`HELD_WARNING`], not
    /// yet warned about.
    pub(crate) held: Option<Duration>,
    /// A `write()` could not reach the client.
    write_failed: Option<io::Error>,
}

impl Response {
    /// A response not started yet, with `spare`, the previous response's
    /// `start_response`, when it can be reused.
    ///
    /// # Errors
    /// Only when the `start_response` object cannot be allocated.
    pub(crate) fn new(
        py: Python<'_>,
        sending: Sending,
        spare: Option<Py<ServerStartResponse>>,
    ) -> PyResult<Self> {
        Ok(Self {
            app: AppOutput::new(py, spare)?,
            phase: Phase::Start,
            sending,
            in_memory: false,
            body_bytes: 0,
            held: None,
            write_failed: None,
        })
    }

    /// Calls `app(environ, start_response)` (`environ` is the error when it
    /// could not be built: then the app is not called). An exception
    /// becomes a 500 on the first [`Response::pump`] (unless `write()`
    /// already sent the head).
    pub(crate) fn call_app(
        &mut self,
        py: Python<'_>,
        io: &mut Transport,
        ctx: &mut TurnContext<'_, '_>,
        environ: PyResult<Bound<'_, PyDict>>,
    ) {
        let raised = match environ {
            Ok(environ) => {
                let app = ctx.app;
                // Timed from the read that completed the request (no clock
                // read before the call on this hot path).
                let since = io.last_activity;
                self.app_code(py, io, ctx, since, |out| out.call(py, app, environ))
            }
            Err(e) => {
                // The server's own failure: what follows on the
                // connection is not read.
                self.sending.keep_alive.close(Close::Refused);
                Some(e)
            }
        };
        if let Some(e) = raised {
            self.phase = Phase::Failed(e);
        }
    }

    /// Runs application code `f` with the output lent to `start_response`
    /// (so `write()` sends at once), timing it from `since`.
    fn app_code<R>(
        &mut self,
        py: Python<'_>,
        io: &mut Transport,
        ctx: &mut TurnContext<'_, '_>,
        since: Instant,
        f: impl FnOnce(&mut AppOutput) -> R,
    ) -> R {
        let lending = Lending {
            io,
            sending: &mut self.sending,
            timeout: ctx.limits.write_timeout(),
        };
        let (r, failed) = self.app.lent(py, lending, f);
        let took = since.elapsed();
        if took > HELD_WARNING {
            self.held = Some(self.held.map_or(took, |h| h.max(took)));
        }
        if failed.is_some() {
            self.write_failed = failed;
        }
        r
    }

    /// Produces output into `io` until a block of a stream is ready to
    /// flush, the output holds [`HIGH_WATER_BYTES`], or the response is
    /// complete.
    ///
    /// # Errors
    /// [`Abort`] when the connection must be dropped.
    pub(crate) fn pump(
        &mut self,
        py: Python<'_>,
        io: &mut Transport,
        ctx: &mut TurnContext<'_, '_>,
    ) -> Result<Pumped, Abort> {
        loop {
            if let Some(e) = self.write_failed.take() {
                self.phase = Phase::Done;
                self.close_iter(py);
                return Ok(Pumped::Gone(e));
            }
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return Ok(Pumped::Done),
                Phase::Failed(err) => return self.fail_before_head(py, err, io, ctx),
                Phase::File(file) => {
                    self.phase = Phase::File(file);
                    return Ok(Pumped::File);
                }
                Phase::Start => {
                    match self.start_body(py, io, ctx) {
                        Ok(Started::Ended) => self.finish(py, &mut io.out)?,
                        Ok(Started::Streaming) => {
                            self.phase = Phase::Body;
                            if !self.in_memory {
                                return Ok(Pumped::More);
                            }
                        }
                        // The head goes out (flushed) before the file.
                        Ok(Started::File(file)) => {
                            self.phase = Phase::File(file);
                            return Ok(Pumped::More);
                        }
                        Err(e) => return self.fail_before_head(py, e, io, ctx),
                    }
                    continue;
                }
                Phase::Body => {}
            }
            if !self.sending.body.is_some_and(|b| b.sends_body()) {
                // HEAD, 1xx/204/304, a cut body: the rest is not asked for.
                self.finish(py, &mut io.out)?;
                continue;
            }
            if io.out.len() >= HIGH_WATER_BYTES {
                self.phase = Phase::Body;
                return Ok(Pumped::More);
            }
            let mut written = Vec::new();
            let chunk = if self.in_memory {
                self.app.next(py, &mut written)
            } else {
                self.app_code(py, io, ctx, Instant::now(), |app| {
                    app.next(py, &mut written)
                })
            };
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(_) if self.write_failed.is_some() => continue,
                Err(e) => return Err(self.abort_with(py, e)),
            };
            self.emit(py, &mut io.out, &written);
            let Some(c) = chunk else {
                self.finish(py, &mut io.out)?;
                continue;
            };
            self.emit(py, &mut io.out, c.as_bytes());
            self.phase = Phase::Body;
            if !self.in_memory && !c.as_bytes().is_empty() {
                return Ok(Pumped::More);
            }
        }
    }

    /// Runs the iterable to its first non-empty bytes (or its end), decides
    /// the framing and produces the head and those bytes. When `write()`
    /// already sent the head during the app call, the iterable's bytes
    /// follow it.
    fn start_body(
        &mut self,
        py: Python<'_>,
        io: &mut Transport,
        ctx: &mut TurnContext<'_, '_>,
    ) -> PyResult<Started> {
        self.in_memory = self.app.is_in_memory(py);
        if self.sending.head_sent() {
            return Ok(Started::Streaming);
        }
        let file = self.app.sendable_file(py);
        // A list or tuple of bytes: its length is known without iterating
        // it, and iterating it cannot fail, so its head goes out first and
        // its items straight to the output.
        let list = match &file {
            None if self.in_memory => self.app.list_total(py),
            _ => None,
        };
        // Otherwise the status is read at the first non-empty bytes or the
        // end (granian#845).
        let mut first = Vec::new();
        let ended = file.is_some()
            || (list.is_none()
                && self.app_code(py, io, ctx, Instant::now(), |app| app.pull(py, &mut first))?);
        if self.sending.head_sent() {
            // write() sent the head while the iterable was pulled.
            self.emit(py, &mut io.out, &first);
            return Ok(if ended {
                Started::Ended
            } else {
                Started::Streaming
            });
        }
        let head = self
            .app
            .take_head(py)
            .ok_or(crate::errors::Error::StartResponseNotCalled)?;
        let length = match (head.content_length()?, &file, list) {
            (Some(n), ..) => BodyLength::Declared(n),
            (None, Some(file), _) => BodyLength::Known(file.left()),
            (None, None, Some(total)) => BodyLength::Known(self.app.written_len(py) + total),
            (None, None, None) if ended || self.app.has_one_item(py) => {
                BodyLength::Known(first.len() as u64)
            }
            (None, None, None) => BodyLength::Unknown,
        };
        let framing = self.sending.start(py, &mut io.out, &head, length, ctx.date);
        self.app.recycle(py, head);
        if let Some(mut file) = file.filter(|f| framing.body().is_some() && f.left() > 0) {
            if let Framing::Body(Delimit::Length { len, .. }) = framing {
                file.truncate(len);
            }
            return Ok(Started::File(file));
        }
        self.emit(py, &mut io.out, &first);
        Ok(if ended {
            Started::Ended
        } else {
            Started::Streaming
        })
    }

    /// Appends body bytes, framed; past the `Content-Length` the iterable
    /// is closed (nothing more can be sent).
    fn emit(&mut self, py: Python<'_>, out: &mut Vec<u8>, data: &[u8]) {
        if !self.sending.emit(py, out, data) {
            self.close_iter(py);
        }
    }

    /// Ends the body (a short `Content-Length` body means the connection
    /// closes) and closes the iterable.
    fn finish(&mut self, py: Python<'_>, out: &mut Vec<u8>) -> Result<(), Abort> {
        self.phase = Phase::Done;
        if let Some(body) = self.sending.body {
            self.body_bytes = body.sent();
            if let Some(short) = body.finish(out) {
                warn(py, &format!(
                    "the application sent {} of its Content-Length of {} bytes; closing the connection",
                    short.sent, short.limit
                ));
                self.sending.keep_alive.close(Close::ShortBody);
            }
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
    /// to stderr, iterable closed, the server's `500 Internal Server Error`
    /// produced (the one place it is written). After a head that `write()`
    /// sent, the connection is aborted instead.
    fn fail_before_head(
        &mut self,
        py: Python<'_>,
        err: PyErr,
        io: &mut Transport,
        ctx: &mut TurnContext<'_, '_>,
    ) -> Result<Pumped, Abort> {
        if self.sending.head_sent() {
            return Err(self.abort_with(py, err));
        }
        self.phase = Phase::Done;
        self.close_iter(py);
        if !err.is_instance_of::<PyException>(py) {
            return Err(Abort(Some(err)));
        }
        err.print(py);
        self.app.mark_sent(py);
        let status = ServerStatus::INTERNAL_SERVER_ERROR;
        self.sending.status = status.code;
        let (answering, keep_alive) = (self.sending.answering, self.sending.keep_alive);
        let date = ctx.date.now().as_bytes();
        self.body_bytes = write_simple(&mut io.out, status, answering, keep_alive, date);
        Ok(Pumped::Done)
    }

    /// Handles an exception after the head: logged, iterable closed, the
    /// connection aborted.
    fn abort_with(&mut self, py: Python<'_>, err: PyErr) -> Abort {
        self.phase = Phase::Done;
        self.sending.keep_alive.close(Close::Aborted);
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

    /// This response's `start_response` lets go of the connection's socket
    /// (its outlet keeps a handle to it).
    pub(crate) fn release_outlet(&self, py: Python<'_>) {
        *self.app.start_response(py).borrow_mut(py).outlet() = None;
    }

    /// This response's `start_response`, to offer to the next one.
    #[must_use]
    pub(crate) fn start_response(&self, py: Python<'_>) -> Py<ServerStartResponse> {
        self.app.start_response(py)
    }

    /// Calls the iterable's `close()` (once; later calls do nothing),
    /// logging what it raises.
    pub(crate) fn close_iter(&mut self, py: Python<'_>) {
        if let Err(e) = self.app.close(py) {
            e.print(py);
        }
    }

    /// The file still to send after [`Pumped::File`].
    pub(crate) fn file_body(&mut self) -> Option<&mut FileBody> {
        match &mut self.phase {
            Phase::File(file) => Some(file),
            _ => None,
        }
    }

    /// Records `n` bytes sent from the file; at its end, the response is
    /// finished (the iterable, and so the file, closed).
    ///
    /// # Errors
    /// [`Abort`] when `close()` raised `KeyboardInterrupt`/`SystemExit`.
    pub(crate) fn file_sent(&mut self, py: Python<'_>, n: usize) -> Result<(), Abort> {
        let Phase::File(file) = &mut self.phase else {
            impossible!("file_sent without a file: {:?}", self.phase);
            return Ok(());
        };
        if let Some(body) = &mut self.sending.body {
            body.count(n as u64);
        }
        if file.left() == 0 {
            self.finish(py, &mut Vec::new())?;
        }
        Ok(())
    }
}
