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

use super::access_log::{log_exchange, warn};
use super::config::READ_CHUNK_BYTES;
use super::config::{Limits, HIGH_WATER_BYTES};
use super::error::RequestError;
use super::exchange::{Carry, Exchange, ExchangeStep};
use super::impossible;
use super::keep_alive::{Close, KeepAlive};
use super::live_reload::{self, events_head, Endpoint, KEEP_ALIVE, SCRIPT};
use super::parse::RequestHead;
use super::receive::{Progress, Receiver, Request};
use super::response_head::{write_body, write_text, Answering, ServerStatus, Version};
use super::timeouts::{overdue, Overdue, Waiting};
use super::tls::{Refusal, TlsSession};
use super::transport::{Received, Transport};
use super::turn_context::{AfterTurn, TurnContext};

/// Responses to pipelined requests one connection may produce per turn,
/// so a long pipeline cannot starve the other connections. (A streaming
/// response yields after every block: see [`Connection::respond`].)
const TURN_BUDGET: u32 = 64;

/// How often an idle live-reload stream gets a comment line.
const EVENTS_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long after its accept a new connection may take to send its first
/// bytes once the server is stopping. A client sends its request as soon
/// as it has connected, so a connection accepted just before the signal
/// usually has it on the way; one silent for longer (a browser's
/// speculative connection) is closed at once. Kept short because under
/// `--reload` the stopping server runs the old code.
const FIRST_BYTES_WAIT: Duration = Duration::from_millis(250);

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
    Responding(Box<Exchange>),
    /// A live-reload event stream (`live_reload.rs`): events are written
    /// as the server is told them; what the client sends is dropped, and
    /// its close ends the stream.
    Events,
    /// Sending what is buffered, then closing.
    Closing,
    /// Output sent and our side shut down; reading and dropping what the
    /// client still sends until it closes, so an unread request body does
    /// not turn our close into a reset that destroys the response in
    /// flight (RFC 9112 §9.6, "lingering close").
    Lingering { until: Instant, dropped: usize },
}

/// What one step of [`Connection::advance`] decided: the state that
/// follows, and whether the turn goes on.
enum Step {
    /// Go on in this state.
    Go(State),
    /// End the turn in this state; the event loop does `AfterTurn`.
    Stop(State, AfterTurn),
    /// The socket failed (the client went away) in this state.
    Gone(State, std::io::Error),
}

/// One accepted client.
#[derive(Debug)]
pub(crate) struct Connection {
    io: Transport,
    peer: SocketAddr,
    /// What the next exchange reuses of the last one.
    carry: Carry,
    state: State,
    unflushed_answers: u32,
    answered: u32,
    /// No request has been received whole on it yet.
    first_request: bool,
    /// When it was accepted.
    opened: Instant,
}

impl Connection {
    /// A new connection from `peer` (over `tls` on an HTTPS server),
    /// waiting for its first request.
    #[must_use]
    pub(crate) fn new(
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        tls: Option<TlsSession>,
    ) -> Self {
        Self::over(Transport::new(stream, tls), peer)
    }

    /// A connection over `io` (a socket, or an in-memory client in tests)
    /// from `peer`, waiting for its first request.
    #[must_use]
    pub(crate) fn over(io: Transport, peer: SocketAddr) -> Self {
        Self {
            io,
            peer,
            carry: Carry::default(),
            state: State::Receiving(Receiver::default()),
            unflushed_answers: 0,
            answered: 0,
            first_request: true,
            opened: Instant::now(),
        }
    }

    /// Records a readiness event (edge-triggered: the socket may now be
    /// read or written until `WouldBlock`).
    pub(crate) fn ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.io.ready(readable, writable, read_closed);
    }

    /// Removes the socket from the event loop's poll (before it is dropped).
    pub(crate) fn deregister(&mut self, registry: &Registry) {
        self.io.deregister(registry);
    }

    /// Responses completed and fully handed to the kernel since the last
    /// call (for `handle_request`).
    pub(crate) fn take_answered(&mut self) -> u32 {
        std::mem::take(&mut self.answered)
    }

    /// `true` when no request is in progress and nothing is buffered.
    #[must_use]
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.state, State::Receiving(Receiver::Head { .. }))
            && self.io.input().is_empty()
            && self.io.pending() == 0
    }

    /// `true` while a request is being received (or awaited) or a response
    /// produced or sent: the work a stopping server finishes within its
    /// grace. A live-reload stream or a closing connection has none.
    #[must_use]
    pub(crate) fn has_work_in_flight(&self) -> bool {
        matches!(self.state, State::Receiving(_) | State::Responding(_)) || self.io.pending() > 0
    }

    /// Does everything that can be done without waiting: flush output,
    /// read, parse, run the application, produce its response.
    pub(crate) fn advance(&mut self, py: Python<'_>, ctx: &mut TurnContext<'_, '_>) -> AfterTurn {
        // Responses per turn, so a long pipeline cannot starve the other
        // connections.
        let mut budget = TURN_BUDGET;
        loop {
            if self.io.pending() > 0 {
                if let Err(e) = self.flush() {
                    return self.client_gone(py, &e);
                }
            }
            let state = std::mem::replace(&mut self.state, State::Closing);
            let step = match state {
                State::Closing if self.io.pending() > 0 || !self.io.close_write() => {
                    Step::Stop(State::Closing, AfterTurn::Wait)
                }
                State::Closing => Step::Go(State::Lingering {
                    until: Instant::now() + LINGER,
                    dropped: 0,
                }),
                State::Lingering { until, mut dropped } => {
                    let done = self.io.drain_until_closed(&mut dropped, LINGER_MAX_BYTES);
                    let next = if done {
                        AfterTurn::Close
                    } else {
                        AfterTurn::Wait
                    };
                    Step::Stop(State::Lingering { until, dropped }, next)
                }
                State::Receiving(r) => self.receive(py, ctx, r),
                State::Responding(ex) => self.respond(py, ctx, ex),
                State::Events => self.read_and_drop(),
            };
            let answered = self.unflushed_answers;
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
            if self.unflushed_answers != answered {
                budget -= 1;
                if budget == 0 {
                    return AfterTurn::Yield;
                }
            }
        }
    }

    /// Receives the request in progress as far as the buffered and readable
    /// bytes go; a complete one goes to the application.
    fn receive(&mut self, py: Python<'_>, ctx: &mut TurnContext<'_, '_>, r: Receiver) -> Step {
        if let Receiver::Head { .. } = r {
            if self.io.pending() >= HIGH_WATER_BYTES {
                return Step::Stop(State::Receiving(r), AfterTurn::Wait);
            }
            if ctx.stopping && self.io.input().is_empty() && self.io.pending() == 0 {
                return self.next_request_while_stopping(py, ctx, r);
            }
        }
        match r.feed(py, &mut self.io, ctx.limits, &mut self.carry.head) {
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
            Progress::Complete(request) => {
                self.first_request = false;
                Step::Go(self.call_app(py, ctx, request))
            }
            Progress::Refused(e, head) => {
                Step::Go(self.answer_and_close(py, ctx, e.status(), head.as_ref(), None))
            }
        }
    }

    /// Produces (and for a file, sends) the next part of the response in
    /// progress. After each block of a stream (or each high-water batch)
    /// the output is flushed and the turn ends, so that every other ready
    /// connection is served before the app is asked for the next block:
    /// no client waits for another's stream longer than one block.
    fn respond(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        mut ex: Box<Exchange>,
    ) -> Step {
        match ex.turn(py, ctx, &mut self.io) {
            ExchangeStep::More => match self.flush() {
                Err(e) => Step::Gone(State::Responding(ex), e),
                Ok(()) if self.io.pending() > 0 => {
                    Step::Stop(State::Responding(ex), AfterTurn::Wait)
                }
                Ok(()) => Step::Stop(State::Responding(ex), AfterTurn::Yield),
            },
            ExchangeStep::Wait => Step::Stop(State::Responding(ex), AfterTurn::Wait),
            ExchangeStep::Done => {
                let next = self.finish_response(py, ctx, &ex);
                ex.finish(py, &mut self.carry);
                Step::Go(next)
            }
            ExchangeStep::Abort(fatal) => {
                let next = fatal.map_or(AfterTurn::Close, AfterTurn::Fatal);
                Step::Stop(State::Responding(ex), next)
            }
            ExchangeStep::Gone(e) => Step::Gone(State::Responding(ex), e),
        }
    }

    /// Reads up to `want` more bytes, in `state`: go on when bytes arrived,
    /// stop when nothing came or the client is gone.
    fn read_more(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        want: usize,
        state: State,
    ) -> Step {
        match self.io.read_some(want) {
            Received::Data => Step::Go(state),
            Received::WouldBlock => Step::Stop(state, AfterTurn::Wait),
            // A half-sent request from a client that hung up is dropped;
            // what is still buffered for it goes out first.
            Received::Eof if self.io.pending() > 0 => Step::Stop(state, AfterTurn::Wait),
            Received::Eof | Received::Failed => Step::Stop(state, AfterTurn::Close),
            Received::Refused => self.tls_refused(py, ctx, state),
        }
    }

    /// While the server stops, with nothing of a next request buffered:
    /// reads what has arrived first (closing over unread bytes would send
    /// a reset, RFC 9112 §9.6), and answers a request that has (with
    /// `Connection: close`). Otherwise a kept-alive connection closes at
    /// once, which its client may retry on (RFC 9112 §9.3.1), while a new
    /// one accepted less than [`FIRST_BYTES_WAIT`] ago waits for the
    /// request its client is sending (Go's `Server.Shutdown` treats a new
    /// connection as active for a while in the same way).
    fn next_request_while_stopping(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        r: Receiver,
    ) -> Step {
        match self.read_more(py, ctx, READ_CHUNK_BYTES, State::Receiving(r)) {
            Step::Stop(state, AfterTurn::Wait)
                if !self.first_request || self.opened.elapsed() >= FIRST_BYTES_WAIT =>
            {
                Step::Stop(state, AfterTurn::Close)
            }
            step => step,
        }
    }

    /// Writes what it can; counts responses as answered once written.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.io.flush()? {
            self.answered += std::mem::take(&mut self.unflushed_answers);
        }
        Ok(())
    }

    /// A live-reload stream's turn: reads and drops what the client sent;
    /// its end of file (or a failure) closes the connection.
    fn read_and_drop(&mut self) -> Step {
        self.io.discard_input();
        match self.io.read_some(READ_CHUNK_BYTES) {
            Received::Data => Step::Go(State::Events),
            Received::WouldBlock => Step::Stop(State::Events, AfterTurn::Wait),
            Received::Eof | Received::Failed | Received::Refused => {
                Step::Stop(State::Events, AfterTurn::Close)
            }
        }
    }

    /// Appends `events` to a live-reload stream and sends them; `false`
    /// when the client is gone. Other connections ignore them.
    pub(crate) fn send_events(&mut self, events: &[u8]) -> bool {
        if !matches!(self.state, State::Events) {
            return true;
        }
        self.io.out.extend_from_slice(events);
        self.flush().is_ok()
    }

    /// Answers a request for a live-reload path (`live_reload.rs`) without
    /// the app: the script, or the head of an event stream.
    fn live_reload(
        &mut self,
        ctx: &mut TurnContext<'_, '_>,
        endpoint: Endpoint,
        generation: &str,
        request: &Request,
    ) -> State {
        let date = ctx.date.now().as_bytes();
        match endpoint {
            Endpoint::Events => {
                self.io
                    .out
                    .extend_from_slice(&events_head(generation, date));
                State::Events
            }
            Endpoint::Script => {
                let head = &request.head;
                let answering = Answering {
                    version: Version::from_minor(head.minor_version),
                    head_only: head.is_head(),
                };
                let keep_alive = KeepAlive::for_request(head.keep_alive, ctx.stopping);
                let out = &mut self.io.out;
                let js = "text/javascript; charset=utf-8";
                write_body(
                    out,
                    ServerStatus::OK,
                    js,
                    SCRIPT,
                    answering,
                    keep_alive,
                    date,
                );
                self.unflushed_answers += 1;
                if keep_alive.is_kept() {
                    State::Receiving(Receiver::default())
                } else {
                    State::Closing
                }
            }
        }
    }

    /// The request is complete: build the environ and call the application.
    fn call_app(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        request: Request,
    ) -> State {
        if let Some(generation) = ctx.live_reload {
            let head = &request.head;
            if let Some(endpoint) = live_reload::endpoint(head.method(), head.target()) {
                return self.live_reload(ctx, endpoint, generation, &request);
            }
        }
        // Only the access log reads it; quiet, no clock read is needed.
        let started = if ctx.quiet {
            self.io.last_activity
        } else {
            Instant::now()
        };
        let (io, carry, peer) = (&mut self.io, &mut self.carry, self.peer);
        match Exchange::start(py, io, ctx, request, carry, peer, started) {
            Ok(ex) => State::Responding(ex),
            Err(failed) => {
                // Not even a start_response could be made (out of memory):
                // no answer can be produced either.
                let (e, _) = *failed;
                e.print(py);
                self.io.discard_output();
                State::Closing
            }
        }
    }

    /// The response is complete: log it, then wait for the next request or
    /// close.
    fn finish_response(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        ex: &Exchange,
    ) -> State {
        let (resp, client) = (&ex.resp, self.peer.ip());
        let head = Some(&ex.head);
        log_exchange(
            py,
            ctx,
            client,
            head,
            resp.sending.status,
            resp.body_bytes,
            ex.started,
            ex.static_hit.then_some("static"),
        );
        self.unflushed_answers += 1;
        if resp.sending.keep_alive.is_kept() {
            State::Receiving(Receiver::default())
        } else {
            State::Closing
        }
    }

    /// The TLS session is over ([`Received::Refused`]) in `state`: one
    /// warning line. A client that sent plain HTTP is answered `400` in
    /// plain HTTP, with a body that says to use `https://` (Go's
    /// `net/http` and nginx answer it so, which tells a developer who typed
    /// `http://` in the browser what went wrong), and closed like any
    /// refused request; any other failure closes at once.
    fn tls_refused(&mut self, py: Python<'_>, ctx: &mut TurnContext<'_, '_>, state: State) -> Step {
        let Some(refusal) = self.io.take_refusal() else {
            impossible!("Received::Refused without a refusal in {state:?}");
            return Step::Stop(state, AfterTurn::Close);
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
                let hint = "400 Bad Request\nThis port speaks HTTPS, and the request came \
                            in plain HTTP: use https:// in the URL.\n";
                let status = ServerStatus::BAD_REQUEST;
                Step::Go(self.answer_and_close(py, ctx, status, None, Some(hint)))
            }
            Refusal::Failed(e) => {
                warn(py, &format!("TLS with {} failed: {e}; closed", self.peer));
                Step::Stop(state, AfterTurn::Close)
            }
        }
    }

    /// Queues the server's own answer to a refused request (4xx/5xx with
    /// `Connection: close`: no more requests are read from this
    /// connection), its body `body` or else the status line, and logs it;
    /// the state that follows is `Closing`.
    fn answer_and_close(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        status: ServerStatus,
        head: Option<&RequestHead>,
        body: Option<&str>,
    ) -> State {
        self.io.discard_input();
        let answering = Answering {
            version: Version::Http11,
            head_only: head.is_some_and(RequestHead::is_head),
        };
        let keep_alive = KeepAlive::closing(Close::Refused);
        let date = ctx.date.now().as_bytes();
        let line = format!("{}\n", status.line);
        let body = body.unwrap_or(&line);
        let out = &mut self.io.out;
        let bytes = write_text(out, status, body, answering, keep_alive, date);
        log_exchange(
            py,
            ctx,
            self.peer.ip(),
            head,
            status.code,
            bytes,
            Instant::now(),
            None,
        );
        self.unflushed_answers += 1;
        State::Closing
    }

    /// The client went away (`EPIPE`, `ECONNRESET`) with output pending:
    /// one log line (even when quiet: it explains a truncated response),
    /// then the response is abandoned.
    fn client_gone(&mut self, py: Python<'_>, e: &std::io::Error) -> AfterTurn {
        let what = match &self.state {
            State::Responding(ex) => format!(
                "{} {}",
                ex.head.method(),
                String::from_utf8_lossy(ex.head.target()).escape_debug()
            ),
            _ => "a response".to_owned(),
        };
        warn(
            py,
            &format!("client {} went away during {what} ({e})", self.peer),
        );
        self.abandon(py);
        AfterTurn::Close
    }

    /// Gives up the response in progress without sending the rest of it:
    /// its iterable's `close()` is called (PEP 3333: also when the client
    /// went away) and buffered output is dropped. The connection only
    /// closes; the socket is closed when it is dropped, and the
    /// `start_response` objects, which may outlive it (an app can keep
    /// them), let go of it.
    pub(crate) fn abandon(&mut self, py: Python<'_>) {
        if let State::Responding(ex) = &mut self.state {
            ex.resp.close_iter(py);
            ex.resp.release_outlet(py);
        }
        self.carry.release_outlet(py);
        self.state = State::Closing;
        self.io.discard_output();
    }

    /// The periodic check of the `Limits` timeouts at `now`: an idle
    /// connection past `idle_timeout_secs` closes; a request whose head is
    /// not complete `header_timeout_secs` after its first byte, whose body
    /// is not complete `body_timeout_secs` after its head, or that paused
    /// for `read_timeout_secs`, gets `408` (queued: [`AfterTurn::Yield`] has the
    /// event loop send it at once); a client that stopped reading is
    /// dropped; a TLS handshake not finished `header_timeout_secs` after
    /// its first byte is closed (no HTTP answer can reach it).
    pub(crate) fn sweep(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        now: Instant,
    ) -> AfterTurn {
        if matches!(self.state, State::Events)
            && self.io.pending() == 0
            && now.saturating_duration_since(self.io.last_activity) >= EVENTS_KEEP_ALIVE
            && !self.send_events(KEEP_ALIVE)
        {
            return AfterTurn::Close;
        }
        let waiting = self.waiting(ctx.limits);
        let (last, handshake) = (self.io.last_activity, self.io.handshake_started());
        match overdue(now, ctx.limits, last, handshake, waiting) {
            None => AfterTurn::Wait,
            Some(Overdue::Handshake) => {
                let secs = ctx.limits.header_timeout.as_secs_f64();
                warn(
                    py,
                    &format!(
                        "TLS handshake with {} not finished within {secs} s (header timeout); closed",
                        self.peer
                    ),
                );
                AfterTurn::Close
            }
            Some(Overdue::Lingered | Overdue::Idle) => AfterTurn::Close,
            Some(Overdue::Unread) => {
                self.abandon(py);
                AfterTurn::Close
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
                self.state = self.answer_and_close(py, ctx, status, head.as_ref(), None);
                AfterTurn::Yield
            }
        }
    }

    /// What this connection waits for, as far as its timeouts go.
    fn waiting(&self, limits: &Limits) -> Waiting {
        match &self.state {
            State::Lingering { until, .. } => Waiting::Lingering { until: *until },
            _ if self.io.pending() > 0 => Waiting::Reader,
            _ if self.is_idle() => Waiting::Idle,
            State::Receiving(r) => Waiting::Request {
                deadline: r.deadline(limits),
            },
            State::Responding(_) => Waiting::Sendfile,
            State::Closing | State::Events => Waiting::Nothing,
        }
    }
}

#[cfg(test)]
mod tests;
