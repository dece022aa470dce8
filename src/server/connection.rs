//! One client connection: an explicit state machine from bytes in to bytes
//! out (`Head` → `Body` → `Respond` → `Head` again or `Closing`).
//!
//! I/O is non-blocking and edge-triggered (mio): the connection remembers
//! whether the socket may still be readable or writable and tries the
//! operation until `WouldBlock`, so it never waits on one client while
//! another is ready. After each response, bytes already buffered are parsed
//! before the socket is read again (pipelining, gunicorn#3301).

use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::access_log::warn;
use super::body::{expects_continue, framing, BodyDecoder, Framing};
use super::config::{HIGH_WATER_BYTES, READ_CHUNK_BYTES};
use super::error::Error;
use super::event_loop::{Ctx, Next};
use super::parse::{parse_head, RequestHead};
use super::respond::{Abort, Pumped, Response};
use super::spool::Spool;
use super::tls::TlsSession;
use super::transport::{Received, Transport};

/// Body blocks or responses one connection may produce per turn.
const TURN_BUDGET: u32 = 64;

/// Largest single `read` while receiving a body, bytes.
const MAX_READ_BYTES: usize = 256 * 1024;

/// How long a closing connection keeps draining what the client sends.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// How many bytes a closing connection drains before it gives up.
const LINGER_MAX_BYTES: usize = 1024 * 1024;

/// Where the connection is.
#[derive(Debug)]
pub(super) enum State {
    /// Waiting for a request head; idle when nothing is buffered.
    Head,
    /// Receiving the body of `head`.
    Body {
        head: RequestHead,
        decoder: BodyDecoder,
        body: Spool,
        has_body: bool,
        /// `Limits::body_timeout_secs` after the head.
        deadline: Instant,
    },
    /// The application's response is being produced and sent.
    Respond {
        resp: Box<Response>,
        head: RequestHead,
        started: Instant,
    },
    /// Sending what is buffered, then closing.
    Closing,
    /// Output sent and our side shut down; reading and dropping what the
    /// client still sends until it closes, so an unread request body does
    /// not turn our close into a reset that destroys the response in
    /// flight (RFC 9112 §9.6, "lingering close").
    Lingering { until: Instant, dropped: usize },
}

/// One accepted client.
#[derive(Debug)]
pub struct Connection {
    /// The socket and its buffers.
    pub io: Transport,
    pub(super) peer: SocketAddr,
    pub(super) remote: Option<(Py<PyString>, Py<PyString>)>,
    pub(super) state: State,
    /// When the first byte of the request head being received arrived
    /// (for `Limits::header_timeout_secs`).
    pub(super) head_started: Option<Instant>,
    pub(super) unflushed_answers: u32,
    pub(super) answered: u32,
}

impl Connection {
    /// A new connection from `peer` (over `tls` on an HTTPS server),
    /// waiting for its first request.
    #[must_use]
    pub fn new(stream: TcpStream, peer: SocketAddr, tls: Option<TlsSession>) -> Self {
        Self {
            io: Transport::new(stream, tls),
            peer,
            remote: None,
            state: State::Head,
            head_started: None,
            unflushed_answers: 0,
            answered: 0,
        }
    }

    /// Records a readiness event (edge-triggered: the socket may now be
    /// read or written until `WouldBlock`).
    pub fn ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.io.ready(readable, writable, read_closed);
    }

    /// Responses completed and fully handed to the kernel since the last
    /// call (for `handle_request`).
    pub fn take_answered(&mut self) -> u32 {
        std::mem::take(&mut self.answered)
    }

    /// `true` when no request is in progress and nothing is buffered.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && self.io.input().is_empty() && self.io.pending() == 0
    }

    /// `true` while a response is being produced or sent.
    #[must_use]
    pub fn is_responding(&self) -> bool {
        matches!(self.state, State::Respond { .. }) || self.io.pending() > 0
    }

    /// Does everything that can be done without waiting: flush output,
    /// read, parse, run the application, produce its response.
    pub fn advance(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>) -> Next {
        // Body blocks or responses per turn, so a fast reader of an endless
        // stream, or a long pipeline, cannot starve the other connections.
        let mut budget = TURN_BUDGET;
        loop {
            if self.io.pending() > 0 {
                if let Err(e) = self.flush() {
                    return self.client_gone(py, &e);
                }
            }
            let pending = self.io.pending();
            match &mut self.state {
                State::Closing => {
                    if pending > 0 || !self.io.close_write() {
                        return Next::Wait;
                    }
                    self.state = State::Lingering {
                        until: Instant::now() + LINGER,
                        dropped: 0,
                    };
                }
                State::Lingering { dropped, .. } => {
                    return if self.io.drain_until_closed(dropped, LINGER_MAX_BYTES) {
                        Next::Close
                    } else {
                        Next::Wait
                    };
                }
                State::Respond { .. } => {
                    if let Some(next) = self.respond_turn(py, ctx, pending) {
                        return next;
                    }
                    budget -= 1;
                    if budget == 0 {
                        return Next::Yield;
                    }
                }
                State::Head => {
                    if pending >= HIGH_WATER_BYTES {
                        return Next::Wait;
                    }
                    if ctx.stopping && self.is_idle() {
                        return Next::Close;
                    }
                    if !self.io.input().is_empty() {
                        // The read that brought these bytes set
                        // `last_activity`: no clock read per request.
                        self.head_started.get_or_insert(self.io.last_activity);
                        match parse_head(self.io.input(), ctx.limits) {
                            Ok(Some(head)) => {
                                self.head_started = None;
                                self.io.consume(head.head_len);
                                self.begin_body(py, ctx, head);
                                continue;
                            }
                            Ok(None) => {}
                            Err(e) => {
                                self.refuse(py, ctx, e);
                                continue;
                            }
                        }
                    }
                    if let Some(next) = self.read_more(py, ctx, READ_CHUNK_BYTES) {
                        return next;
                    }
                }
                State::Body { decoder, body, .. } => {
                    if !self.io.input().is_empty() {
                        let max = ctx.limits.max_body_bytes;
                        match decoder.decode(self.io.input(), &mut body.mem, max) {
                            Ok(used) => {
                                self.io.consume(used);
                            }
                            Err(e) => {
                                self.refuse(py, ctx, e);
                                continue;
                            }
                        }
                        if let Err(e) = body.settle(ctx.limits.max_in_memory_body_bytes) {
                            warn(py, &format!("cannot store a request body: {e}"));
                            self.refuse(py, ctx, Error::Storage);
                            continue;
                        }
                    }
                    if decoder.is_done() {
                        self.dispatch(py, ctx);
                        continue;
                    }
                    let hint = decoder.remaining().map_or(READ_CHUNK_BYTES, |r| {
                        usize::try_from(r)
                            .unwrap_or(MAX_READ_BYTES)
                            .clamp(READ_CHUNK_BYTES, MAX_READ_BYTES)
                    });
                    if let Some(next) = self.read_more(py, ctx, hint) {
                        return next;
                    }
                }
            }
        }
    }

    /// Produces (and for a file, sends) the next part of the response in
    /// progress; `Some(next)` to stop this turn.
    fn respond_turn(
        &mut self,
        py: Python<'_>,
        ctx: &mut Ctx<'_, '_>,
        pending: usize,
    ) -> Option<Next> {
        let State::Respond { resp, .. } = &mut self.state else {
            return None;
        };
        if pending >= HIGH_WATER_BYTES {
            return Some(Next::Wait);
        }
        if ctx.stopping {
            // Ctrl-C: a head not yet sent says `Connection: close`.
            resp.keep_alive = false;
        }
        match resp.pump(py, &mut self.io.out, HIGH_WATER_BYTES, ctx.date) {
            Ok(Pumped::File) => {
                if pending > 0 {
                    return Some(Next::Wait);
                }
                let sent = match resp.file_body() {
                    Some(file) => self.io.send_file(file),
                    None => Ok(Some(0)),
                };
                match sent {
                    Ok(Some(n)) => {
                        if let Err(Abort(fatal)) = resp.file_sent(py, n) {
                            return Some(fatal.map_or(Next::Close, Next::Fatal));
                        }
                    }
                    Ok(None) => return Some(Next::Wait),
                    Err(e) => return Some(self.client_gone(py, &e)),
                }
            }
            Ok(Pumped::More) => {
                if !self.io.is_writable() {
                    return Some(Next::Wait);
                }
            }
            Ok(Pumped::Done) => self.finish_response(py, ctx),
            Err(Abort(fatal)) => {
                self.io.discard_output();
                return Some(fatal.map_or(Next::Close, Next::Fatal));
            }
        }
        None
    }

    /// Reads up to `want` more bytes. `None`: bytes arrived (or a refusal
    /// was queued), go on; `Some(next)`: stop here (nothing yet, or the
    /// client is gone).
    fn read_more(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, want: usize) -> Option<Next> {
        match self.io.read_some(want) {
            Received::Data => None,
            Received::WouldBlock => Some(Next::Wait),
            // A half-sent request from a client that hung up is dropped;
            // what is still buffered for it goes out first.
            Received::Eof if self.io.pending() > 0 => Some(Next::Wait),
            Received::Eof | Received::Failed => Some(Next::Close),
            Received::Refused => self.tls_refused(py, ctx),
        }
    }

    /// Writes what it can; counts responses as answered once written.
    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        if self.io.flush()? {
            self.answered += std::mem::take(&mut self.unflushed_answers);
        }
        Ok(())
    }

    /// A head has been parsed: decide the body framing (refusing bad
    /// framing at once, before any body is sent) and start receiving it.
    fn begin_body(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, head: RequestHead) {
        match framing(&head, ctx.limits) {
            Ok(f) => {
                let decoder = BodyDecoder::new(f);
                // RFC 9110 §10.1.1: the client waits for 100 before sending.
                if !decoder.is_done() && self.io.input().is_empty() && expects_continue(&head) {
                    self.io
                        .out
                        .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                let has_body =
                    f != Framing::Length(0) || head.values("content-length").next().is_some();
                self.state = State::Body {
                    head,
                    decoder,
                    body: Spool::default(),
                    has_body,
                    // From the read that completed the head.
                    deadline: self.io.last_activity + ctx.limits.body_timeout(),
                };
            }
            Err(e) => {
                self.state = State::Head;
                self.answer_and_close(py, ctx, e.status(), Some(&head));
            }
        }
    }

    /// The body is complete: build the environ and call the application.
    fn dispatch(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>) {
        let State::Body {
            head,
            body,
            has_body,
            ..
        } = std::mem::replace(&mut self.state, State::Head)
        else {
            return;
        };
        // Only the access log reads it; quiet, no clock read is needed.
        let started = if ctx.quiet {
            self.io.last_activity
        } else {
            Instant::now()
        };
        let (addr, port) = self.remote.get_or_insert_with(|| {
            (
                PyString::new(py, &self.peer.ip().to_string()).unbind(),
                PyString::new(py, &self.peer.port().to_string()).unbind(),
            )
        });
        let (addr, port) = (addr.bind(py).clone(), port.bind(py).clone());
        let resp = body
            .into_input(py, ctx.environ.empty_input())
            .and_then(|(input, len)| {
                ctx.environ.build(
                    py,
                    &head,
                    (&addr, &port),
                    has_body.then_some(len),
                    input.as_any(),
                )
            })
            .and_then(|environ| {
                let keep = head.keep_alive && !ctx.stopping;
                Response::call_app(
                    py,
                    ctx.app,
                    environ,
                    head.is_head(),
                    head.minor_version >= 1,
                    keep,
                )
            });
        match resp {
            Ok(resp) => {
                self.state = State::Respond {
                    resp: Box::new(resp),
                    head,
                    started,
                }
            }
            Err(e) => {
                e.print(py);
                self.answer_and_close(py, ctx, "500 Internal Server Error", Some(&head));
            }
        }
    }
}
