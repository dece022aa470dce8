//! One client connection: an explicit state machine from bytes in to bytes
//! out (`Receiving` → `Responding` → `Receiving` again, or `Closing` →
//! `Lingering`), with every way an exchange ends (the response finished,
//! the request refused, a deadline passed, the client gone).
//!
//! [`Connection::advance`] is the only place that changes the state: each
//! state's step takes it by value and returns the one that follows. I/O is
//! non-blocking and edge-triggered (mio): the transport remembers whether
//! the socket may still be readable or writable and tries until
//! `WouldBlock`, so the server never waits on one client while another is
//! ready. After each response, bytes already buffered are parsed before the
//! socket is read again (pipelining, gunicorn#3301).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Registry;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::access_log::{format_line, warn, write_stderr, Entry};
use super::config::{Limits, HIGH_WATER_BYTES};
use super::error::RequestError;
use super::impossible;
use super::parse::RequestHead;
use super::receive::{Progress, Receiver, Request};
use super::respond::{Abort, Pumped, Response};
use super::response_head::write_simple;
use super::tls::{Refusal, TlsSession};
use super::transport::{Received, Transport};
use super::turn::{Ctx, Next};

/// Body blocks or responses one connection may produce per turn.
const TURN_BUDGET: u32 = 64;

/// How long a closing connection keeps draining what the client sends.
const LINGER: Duration = Duration::from_secs(2);

/// How many bytes a closing connection drains before it gives up.
const LINGER_MAX_BYTES: usize = 1024 * 1024;

/// Where the connection is.
#[derive(Debug)]
enum State {
    /// Receiving a request: idle, its head, or its body.
    Receiving(Receiver),
    /// The application's response is being produced and sent.
    Responding(Box<InFlight>),
    /// Sending what is buffered, then closing.
    Closing,
    /// Output sent and our side shut down; reading and dropping what the
    /// client still sends until it closes, so an unread request body does
    /// not turn our close into a reset that destroys the response in
    /// flight (RFC 9112 §9.6, "lingering close").
    Lingering { until: Instant, dropped: usize },
}

/// A response in progress and what the access log needs of its request.
#[derive(Debug)]
struct InFlight {
    resp: Response,
    head: RequestHead,
    /// When the request was complete (the log's milliseconds).
    started: Instant,
}

/// What one step of [`Connection::advance`] decided: the state that
/// follows, and whether the turn goes on.
enum Step {
    /// Go on in this state.
    Go(State),
    /// End the turn in this state; the event loop does `Next`.
    Stop(State, Next),
    /// The socket failed (the client went away) in this state.
    Gone(State, std::io::Error),
}

/// Which deadline a connection has passed (see [`Connection::sweep`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overdue {
    /// A TLS handshake unfinished `header_timeout_secs` after its first byte.
    Handshake,
    /// The lingering close has drained long enough.
    Lingered,
    /// The client left output unread for `write_timeout_secs`.
    Unread,
    /// Idle for `idle_timeout_secs`.
    Idle,
    /// A request late by one of its timeouts: `408`.
    Request,
}

/// One accepted client.
#[derive(Debug)]
pub struct Connection {
    io: Transport,
    peer: SocketAddr,
    /// `REMOTE_ADDR` and `REMOTE_PORT`, made on the first request.
    remote: Option<(Py<PyString>, Py<PyString>)>,
    state: State,
    unflushed_answers: u32,
    answered: u32,
}

impl Connection {
    /// A new connection from `peer` (over `tls` on an HTTPS server),
    /// waiting for its first request.
    #[must_use]
    pub fn new(stream: mio::net::TcpStream, peer: SocketAddr, tls: Option<TlsSession>) -> Self {
        Self {
            io: Transport::new(stream, tls),
            peer,
            remote: None,
            state: State::Receiving(Receiver::default()),
            unflushed_answers: 0,
            answered: 0,
        }
    }

    /// Records a readiness event (edge-triggered: the socket may now be
    /// read or written until `WouldBlock`).
    pub fn ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.io.ready(readable, writable, read_closed);
    }

    /// Removes the socket from the event loop's poll (before it is dropped).
    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.io.stream);
    }

    /// Responses completed and fully handed to the kernel since the last
    /// call (for `handle_request`).
    pub fn take_answered(&mut self) -> u32 {
        std::mem::take(&mut self.answered)
    }

    /// `true` when no request is in progress and nothing is buffered.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Receiving(Receiver::Head { .. }))
            && self.io.input().is_empty()
            && self.io.pending() == 0
    }

    /// `true` while a response is being produced or sent.
    #[must_use]
    pub fn is_responding(&self) -> bool {
        matches!(self.state, State::Responding(_)) || self.io.pending() > 0
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
            let state = std::mem::replace(&mut self.state, State::Closing);
            let responding = matches!(state, State::Responding(_));
            let step = match state {
                State::Closing if self.io.pending() > 0 || !self.io.close_write() => {
                    Step::Stop(State::Closing, Next::Wait)
                }
                State::Closing => Step::Go(State::Lingering {
                    until: Instant::now() + LINGER,
                    dropped: 0,
                }),
                State::Lingering { until, mut dropped } => {
                    let done = self.io.drain_until_closed(&mut dropped, LINGER_MAX_BYTES);
                    let next = if done { Next::Close } else { Next::Wait };
                    Step::Stop(State::Lingering { until, dropped }, next)
                }
                State::Receiving(r) => self.receive(py, ctx, r),
                State::Responding(fl) => self.respond(py, ctx, fl),
            };
            match step {
                Step::Go(state) => self.state = state,
                Step::Stop(state, next) => {
                    self.state = state;
                    return next;
                }
                Step::Gone(state, e) => {
                    self.state = state;
                    return self.client_gone(py, &e);
                }
            }
            if responding {
                budget -= 1;
                if budget == 0 {
                    return Next::Yield;
                }
            }
        }
    }

    /// Receives the request in progress as far as the buffered and readable
    /// bytes go; a complete one goes to the application.
    fn receive(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, r: Receiver) -> Step {
        if let Receiver::Head { .. } = r {
            if self.io.pending() >= HIGH_WATER_BYTES {
                return Step::Stop(State::Receiving(r), Next::Wait);
            }
            if ctx.stopping && self.io.input().is_empty() && self.io.pending() == 0 {
                return Step::Stop(State::Receiving(r), Next::Close);
            }
        }
        match r.feed(py, &mut self.io, ctx.limits) {
            Progress::Wants(r, want) => {
                // A `100 Continue` the head asked for goes out before the
                // client can send the body.
                if self.io.pending() > 0 {
                    if let Err(e) = self.flush() {
                        return Step::Gone(State::Receiving(r), e);
                    }
                }
                self.read_more(py, ctx, want, State::Receiving(r))
            }
            Progress::Complete(request) => Step::Go(self.dispatch(py, ctx, request)),
            Progress::Refused(e, head) => {
                Step::Go(self.answer_and_close(py, ctx, e.status(), head.as_ref()))
            }
        }
    }

    /// Produces (and for a file, sends) the next part of the response in
    /// progress.
    fn respond(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, mut fl: Box<InFlight>) -> Step {
        let pending = self.io.pending();
        if pending >= HIGH_WATER_BYTES {
            return Step::Stop(State::Responding(fl), Next::Wait);
        }
        if ctx.stopping {
            // Ctrl-C: a head not yet sent says `Connection: close`.
            fl.resp.keep_alive = false;
        }
        let pumped = fl
            .resp
            .pump(py, &mut self.io.out, HIGH_WATER_BYTES, ctx.date);
        let stop = |fl, fatal: Option<PyErr>| {
            Step::Stop(
                State::Responding(fl),
                fatal.map_or(Next::Close, Next::Fatal),
            )
        };
        match pumped {
            Ok(Pumped::File) if pending > 0 => Step::Stop(State::Responding(fl), Next::Wait),
            Ok(Pumped::File) => {
                let sent = if let Some(file) = fl.resp.file_body() {
                    self.io.send_file(file)
                } else {
                    impossible!("Pumped::File without a file: {:?}", fl.resp);
                    Ok(Some(0))
                };
                match sent {
                    Ok(Some(n)) => match fl.resp.file_sent(py, n) {
                        Ok(()) => Step::Go(State::Responding(fl)),
                        Err(Abort(fatal)) => stop(fl, fatal),
                    },
                    Ok(None) => Step::Stop(State::Responding(fl), Next::Wait),
                    Err(e) => Step::Gone(State::Responding(fl), e),
                }
            }
            Ok(Pumped::More) if !self.io.is_writable() => {
                Step::Stop(State::Responding(fl), Next::Wait)
            }
            Ok(Pumped::More) => Step::Go(State::Responding(fl)),
            Ok(Pumped::Done) => Step::Go(self.finish_response(py, ctx, &fl)),
            Err(Abort(fatal)) => {
                self.io.discard_output();
                stop(fl, fatal)
            }
        }
    }

    /// Reads up to `want` more bytes, in `state`: go on when bytes arrived,
    /// stop when nothing came or the client is gone.
    fn read_more(
        &mut self,
        py: Python<'_>,
        ctx: &mut Ctx<'_, '_>,
        want: usize,
        state: State,
    ) -> Step {
        match self.io.read_some(want) {
            Received::Data => Step::Go(state),
            Received::WouldBlock => Step::Stop(state, Next::Wait),
            // A half-sent request from a client that hung up is dropped;
            // what is still buffered for it goes out first.
            Received::Eof if self.io.pending() > 0 => Step::Stop(state, Next::Wait),
            Received::Eof | Received::Failed => Step::Stop(state, Next::Close),
            Received::Refused => self.tls_refused(py, ctx, state),
        }
    }

    /// Writes what it can; counts responses as answered once written.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.io.flush()? {
            self.answered += std::mem::take(&mut self.unflushed_answers);
        }
        Ok(())
    }

    /// The request is complete: build the environ and call the application.
    fn dispatch(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, request: Request) -> State {
        let Request {
            head,
            body,
            has_body,
        } = request;
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
                let http11 = head.minor_version >= 1;
                Response::call_app(py, ctx.app, environ, head.is_head(), http11, keep)
            });
        match resp {
            Ok(resp) => State::Responding(Box::new(InFlight {
                resp,
                head,
                started,
            })),
            Err(e) => {
                e.print(py);
                self.answer_and_close(py, ctx, "500 Internal Server Error", Some(&head))
            }
        }
    }

    /// The response is complete: log it, then wait for the next request or
    /// close.
    fn finish_response(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, fl: &InFlight) -> State {
        let (resp, started) = (&fl.resp, fl.started);
        self.log(
            py,
            ctx,
            Some(&fl.head),
            resp.status,
            resp.body_bytes,
            started,
        );
        self.unflushed_answers += 1;
        if !resp.keep_alive || ctx.stopping {
            State::Closing
        } else {
            State::Receiving(Receiver::default())
        }
    }

    /// The TLS session is over ([`Received::Refused`]) in `state`: one
    /// warning line. A client that sent plain HTTP is answered `400` in
    /// plain HTTP and closed like any refused request (Go's `net/http` and
    /// nginx answer it so, which tells a developer who typed `http://`
    /// what went wrong); any other failure closes at once.
    fn tls_refused(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, state: State) -> Step {
        let Some(refusal) = self.io.take_refusal() else {
            impossible!("Received::Refused without a refusal in {state:?}");
            return Step::Stop(state, Next::Close);
        };
        match refusal {
            Refusal::PlainHttp => {
                let peer = self.peer;
                warn(
                    py,
                    &format!(
                        "{peer} sent plain HTTP to this HTTPS server (use https://); answered 400"
                    ),
                );
                Step::Go(self.answer_and_close(py, ctx, "400 Bad Request", None))
            }
            Refusal::Failed(e) => {
                warn(py, &format!("TLS with {} failed: {e}; closed", self.peer));
                Step::Stop(state, Next::Close)
            }
        }
    }

    /// Queues the server's own `status_line` response (4xx/5xx with
    /// `Connection: close`: no more requests are read from this
    /// connection) and logs it; the state that follows is `Closing`.
    fn answer_and_close(
        &mut self,
        py: Python<'_>,
        ctx: &mut Ctx<'_, '_>,
        status_line: &str,
        head: Option<&RequestHead>,
    ) -> State {
        self.io.discard_input();
        let is_head = head.is_some_and(RequestHead::is_head);
        let date = ctx.date.now().as_bytes();
        let bytes = write_simple(&mut self.io.out, status_line, is_head, false, true, date);
        let code = status_line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or(500);
        self.log(py, ctx, head, code, bytes, Instant::now());
        self.unflushed_answers += 1;
        State::Closing
    }

    /// One access-log line, unless quiet.
    fn log(
        &self,
        py: Python<'_>,
        ctx: &mut Ctx<'_, '_>,
        head: Option<&RequestHead>,
        status: u16,
        bytes: u64,
        started: Instant,
    ) {
        if !ctx.quiet {
            let entry = Entry::new(self.peer.ip(), head, status, bytes, started.elapsed());
            write_stderr(py, &format_line(&entry, ctx.date.now(), ctx.color));
        }
    }

    /// The client went away (`EPIPE`, `ECONNRESET`) with output pending:
    /// one log line (even when quiet: it explains a truncated response),
    /// then the response is abandoned.
    fn client_gone(&mut self, py: Python<'_>, e: &std::io::Error) -> Next {
        let what = match &self.state {
            State::Responding(fl) => format!(
                "{} {}",
                fl.head.method(),
                String::from_utf8_lossy(fl.head.target()).escape_debug()
            ),
            _ => "a response".to_owned(),
        };
        warn(
            py,
            &format!("client {} went away during {what} ({e})", self.peer),
        );
        self.abandon(py);
        Next::Close
    }

    /// Gives up the response in progress without sending the rest of it:
    /// its iterable's `close()` is called (PEP 3333: also when the client
    /// went away) and buffered output is dropped. The connection only
    /// closes; the socket is closed when it is dropped.
    pub fn abandon(&mut self, py: Python<'_>) {
        if let State::Responding(fl) = &mut self.state {
            fl.resp.close_iter(py);
        }
        self.state = State::Closing;
        self.io.discard_output();
    }

    /// The periodic check of the `Limits` timeouts at `now`: an idle
    /// connection past `idle_timeout_secs` closes; a request whose head is
    /// not complete `header_timeout_secs` after its first byte, whose body
    /// is not complete `body_timeout_secs` after its head, or that paused
    /// for `read_timeout_secs`, gets `408` (queued: [`Next::Yield`] has the
    /// event loop send it at once); a client that stopped reading is
    /// dropped; a TLS handshake not finished `header_timeout_secs` after
    /// its first byte is closed (no HTTP answer can reach it).
    pub fn sweep(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, now: Instant) -> Next {
        match self.overdue(now, ctx.limits) {
            None => Next::Wait,
            Some(Overdue::Handshake) => {
                let secs = ctx.limits.header_timeout_secs;
                warn(
                    py,
                    &format!(
                        "TLS handshake with {} not finished within {secs} s (header timeout); closed",
                        self.peer
                    ),
                );
                Next::Close
            }
            Some(Overdue::Lingered | Overdue::Idle) => Next::Close,
            Some(Overdue::Unread) => {
                self.abandon(py);
                Next::Close
            }
            Some(Overdue::Request) => {
                let head = match std::mem::replace(&mut self.state, State::Closing) {
                    State::Receiving(r) => r.into_head(),
                    other => {
                        impossible!("a late request in {other:?}");
                        None
                    }
                };
                let status = RequestError::Timeout.status();
                self.state = self.answer_and_close(py, ctx, status, head.as_ref());
                Next::Yield
            }
        }
    }

    /// The deadline this connection has passed at `now`, if any.
    fn overdue(&self, now: Instant, limits: &Limits) -> Option<Overdue> {
        let since = |t: Instant| now.saturating_duration_since(t);
        if self
            .io
            .handshake_started()
            .is_some_and(|t| since(t) > limits.header_timeout())
        {
            return Some(Overdue::Handshake);
        }
        let quiet_for = since(self.io.last_activity);
        match &self.state {
            State::Lingering { until, .. } => (now >= *until).then_some(Overdue::Lingered),
            _ if self.io.pending() > 0 => {
                (quiet_for > limits.write_timeout()).then_some(Overdue::Unread)
            }
            _ if self.is_idle() => (quiet_for > limits.idle_timeout()).then_some(Overdue::Idle),
            State::Receiving(r) => {
                let late = r.deadline(limits).is_some_and(|d| now > d);
                (late || quiet_for > limits.read_timeout()).then_some(Overdue::Request)
            }
            // A `sendfile` response whose client stopped reading.
            State::Responding(_) => (quiet_for > limits.write_timeout()).then_some(Overdue::Unread),
            State::Closing => None,
        }
    }
}
