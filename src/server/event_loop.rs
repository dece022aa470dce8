//! [Stages 1, 8](super): The event loop: one mio `Poll` on the thread that serves, the
//! listener at `Token(0)`, a `Waker` at `Token(1)` for `shutdown()` from
//! another thread, one token per connection (mio `examples/tcp_server.rs`).
//!
//! The wait releases the GIL and lasts at most [`TICK`]; after it Python's
//! signal handlers run (`check_signals`), so Ctrl-C stops the loop within a
//! tick (a first Ctrl-C or SIGTERM raises nothing inside the app, whose call
//! finishes: [`signals`](super::signals)). On interrupt the server stops
//! accepting, closes idle kept-alive connections at once and gives the
//! requests that have arrived and the responses in flight
//! [`Limits::shutdown_grace_ms`] to finish (granian#568); a second signal,
//! which [`signals`](super::signals) also sends when the grace since the
//! first is over, ends that at once.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use pyo3::prelude::*;
use rustls::ServerConfig;

use super::access_log::stderr_wants_color;
use super::config::{Limits, TICK};
use super::connection::Connection;
use super::environ::EnvironTemplate;
use super::response_head::DateCache;
use super::signals;
use super::tls::TlsSession;
use super::turn_context::{AfterTurn, HeldLog, TurnContext};

/// The listening socket's token.
const LISTENER: Token = Token(0);
/// The waker's token (`shutdown()`).
pub(crate) const WAKER: Token = Token(1);
/// Connection `i` has token `i + FIRST_CONN`.
const FIRST_CONN: usize = 2;
/// How often idle and stalled connections are checked.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One readiness event of the last poll, as the loop uses it.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // what one event says about the socket
struct Readiness {
    token: Token,
    /// The socket may be read (data, the client's FIN, or an error).
    readable: bool,
    /// The socket may be written (or the write side failed).
    writable: bool,
    /// The client closed its side, or the socket failed: no later edge
    /// will come for reading.
    read_closed: bool,
}

/// What other threads share with the serving thread.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Wakes the poll so it sees `stop`.
    pub(crate) waker: Waker,
    /// Set by `shutdown()`; consumed by the loop it stops.
    pub(crate) stop: AtomicBool,
    /// Live-reload events to send to every stream, framed
    /// (`Server.live_reload_event`); `has_events` says there are some, so
    /// the loop takes the lock only then.
    events: Mutex<Vec<u8>>,
    has_events: AtomicBool,
}

impl Shared {
    /// Queues a live-reload event for every stream and wakes the loop.
    pub(crate) fn send_event(&self, framed: &[u8]) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(framed);
        self.has_events.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }

    /// The events queued since the last call.
    fn take_events(&self) -> Option<Vec<u8>> {
        if !self.has_events.swap(false, Ordering::Acquire) {
            return None;
        }
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        Some(std::mem::take(&mut *events))
    }
}

/// How the loop serves: what `make_server` was told besides the address
/// and the app.
#[derive(Debug)]
pub(crate) struct Serving {
    /// Limits on requests.
    pub(crate) limits: Limits,
    /// No access log.
    pub(crate) quiet: bool,
    /// Every connection speaks TLS under this configuration (HTTPS).
    pub(crate) tls: Option<Arc<ServerConfig>>,
    /// The generation of a live-reloading server (see `live_reload.rs`).
    pub(crate) live_reload: Option<String>,
}

/// What [`EventLoop::drive`] does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drive {
    /// Everything it can do without waiting.
    Advance,
    /// Check its timeouts.
    Sweep,
    /// Advance while the server stops: finish the response in flight and
    /// answer a request that has arrived, each with `Connection: close`;
    /// wait for nothing more.
    Finish,
}

/// When [`EventLoop::run`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// `shutdown()` was called (`serve_forever`).
    Shutdown,
    /// One response has been sent (`handle_request`).
    OneAnswer,
}

/// The listener, its connections and what serving them needs.
#[derive(Debug)]
pub(crate) struct EventLoop {
    poll: Poll,
    events: Events,
    ready: Vec<Readiness>,
    listener: TcpListener,
    conns: Vec<Option<Connection>>,
    free: Vec<usize>,
    /// Connections that yielded with work left (driven without an event).
    runnable: Vec<usize>,
    app: Py<PyAny>,
    environ: EnvironTemplate,
    limits: Limits,
    quiet: bool,
    color: bool,
    date: DateCache,
    /// Requests already warned about holding the server.
    held: HeldLog,
    /// Every connection speaks TLS under this configuration (HTTPS).
    tls: Option<Arc<ServerConfig>>,
    /// The generation of a live-reloading server.
    live_reload: Option<String>,
}

impl EventLoop {
    /// A loop over `listener` (HTTPS when `tls` is given); returns it and
    /// the state `shutdown()` uses.
    ///
    /// # Errors
    /// When the poll or waker cannot be created or the listener registered.
    pub(crate) fn new(
        mut listener: TcpListener,
        app: Py<PyAny>,
        environ: EnvironTemplate,
        serving: Serving,
    ) -> io::Result<(Self, Shared)> {
        let Serving {
            limits,
            quiet,
            tls,
            live_reload,
        } = serving;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let me = Self {
            poll,
            events: Events::with_capacity(256),
            ready: Vec::with_capacity(256),
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            runnable: Vec::new(),
            app,
            environ,
            limits,
            quiet,
            color: false,
            date: DateCache::default(),
            held: HeldLog::default(),
            tls,
            live_reload,
        };
        let shared = Shared {
            waker,
            stop: AtomicBool::new(false),
            events: Mutex::new(Vec::new()),
            has_events: AtomicBool::new(false),
        };
        Ok((me, shared))
    }

    /// Serves until `until` (or an exception: `KeyboardInterrupt` on
    /// Ctrl-C, `SystemExit`/`KeyboardInterrupt` raised by the app, or an
    /// `OSError` from the poll itself).
    pub(crate) fn run(&mut self, py: Python<'_>, shared: &Shared, until: Until) -> PyResult<()> {
        let mut answered = 0u32;
        let mut last_sweep = Instant::now();
        self.color = !self.quiet && stderr_wants_color(py);
        // Connections queued while nobody was serving raise no new edge.
        self.accept_all();
        loop {
            if until == Until::Shutdown && shared.stop.swap(false, Ordering::SeqCst) {
                return Ok(());
            }
            let timeout = if self.runnable.is_empty() {
                TICK
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.wait(py, timeout) {
                return Err(e.into());
            }
            if let Err(e) = signals::check(py) {
                return Err(self.stop(py, e));
            }
            if let Some(events) = shared.take_events() {
                self.send_events(py, &events);
            }
            for i in 0..self.ready.len() {
                let r = self.ready[i];
                match r.token {
                    LISTENER => {
                        // A new client's request has usually arrived with
                        // its connection: serve it now, before a stream in
                        // progress is asked for its next block.
                        for idx in self.accept_all() {
                            if let Err(e) = self.drive(py, idx, Drive::Advance, &mut answered) {
                                return Err(self.stop(py, e));
                            }
                        }
                    }
                    WAKER => {}
                    Token(t) => {
                        let idx = t - FIRST_CONN;
                        if let Some(Some(conn)) = self.conns.get_mut(idx) {
                            conn.ready(r.readable, r.writable, r.read_closed);
                        }
                        match self.drive(py, idx, Drive::Advance, &mut answered) {
                            Ok(()) => {}
                            Err(e) => return Err(self.stop(py, e)),
                        }
                    }
                }
            }
            for idx in std::mem::take(&mut self.runnable) {
                if let Err(e) = self.drive(py, idx, Drive::Advance, &mut answered) {
                    return Err(self.stop(py, e));
                }
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                for idx in 0..self.conns.len() {
                    if let Err(e) = self.drive(py, idx, Drive::Sweep, &mut answered) {
                        return Err(self.stop(py, e));
                    }
                }
            }
            if until == Until::OneAnswer && answered > 0 {
                return Ok(());
            }
        }
    }

    /// Polls with the GIL released; fills `self.ready`.
    fn wait(&mut self, py: Python<'_>, timeout: Duration) -> io::Result<()> {
        let (poll, events) = (&mut self.poll, &mut self.events);
        match py.detach(|| poll.poll(events, Some(timeout))) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
            _ => {}
        }
        self.ready.clear();
        self.ready.extend(self.events.iter().map(|e| Readiness {
            token: e.token(),
            readable: e.is_readable() || e.is_read_closed() || e.is_error(),
            writable: e.is_writable() || e.is_write_closed() || e.is_error(),
            read_closed: e.is_read_closed() || e.is_error(),
        }));
        Ok(())
    }

    /// Accepts until `WouldBlock` (retrying on `Interrupted`); returns the
    /// new connections' indices.
    fn accept_all(&mut self) -> Vec<usize> {
        let mut accepted = Vec::new();
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    // rustls refusing the configuration drops the client.
                    let Ok(tls) = self.tls.as_ref().map(TlsSession::new).transpose() else {
                        continue;
                    };
                    let idx = self.free.pop().unwrap_or_else(|| {
                        self.conns.push(None);
                        self.conns.len() - 1
                    });
                    let token = Token(idx + FIRST_CONN);
                    let interest = Interest::READABLE.add(Interest::WRITABLE);
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, token, interest)
                        .is_ok()
                    {
                        self.conns[idx] = Some(Connection::new(stream, peer, tls));
                        accepted.push(idx);
                    } else {
                        self.free.push(idx);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock ends the batch; other errors (EMFILE, a
                // connection reset while queued) must not stop the server.
                Err(_) => return accepted,
            }
        }
    }

    /// Drives connection `idx` as `how` says, closing it when it is done.
    fn drive(
        &mut self,
        py: Python<'_>,
        idx: usize,
        how: Drive,
        answered: &mut u32,
    ) -> PyResult<()> {
        let Some(Some(conn)) = self.conns.get_mut(idx) else {
            return Ok(());
        };
        let app = self.app.bind(py);
        let mut ctx = TurnContext {
            app,
            environ: &self.environ,
            limits: &self.limits,
            quiet: self.quiet,
            color: self.color,
            stopping: how == Drive::Finish,
            date: &mut self.date,
            held: &mut self.held,
            live_reload: self.live_reload.as_deref(),
        };
        let next = match how {
            Drive::Sweep => conn.sweep(py, &mut ctx, Instant::now()),
            Drive::Advance | Drive::Finish => conn.advance(py, &mut ctx),
        };
        *answered += conn.take_answered();
        match next {
            AfterTurn::Wait => Ok(()),
            AfterTurn::Yield => {
                if !self.runnable.contains(&idx) {
                    self.runnable.push(idx);
                }
                Ok(())
            }
            AfterTurn::Close => {
                self.close(py, idx);
                Ok(())
            }
            AfterTurn::Fatal(e) => {
                self.close(py, idx);
                Err(e)
            }
        }
    }

    /// Sends `events` (framed) to every live-reload stream.
    fn send_events(&mut self, py: Python<'_>, events: &[u8]) {
        for idx in 0..self.conns.len() {
            let gone = match &mut self.conns[idx] {
                Some(conn) => !conn.send_events(events),
                None => false,
            };
            if gone {
                self.close(py, idx);
            }
        }
    }

    /// Deregisters and drops connection `idx`, closing its response.
    fn close(&mut self, py: Python<'_>, idx: usize) {
        if let Some(mut conn) = self.conns.get_mut(idx).and_then(Option::take) {
            conn.abandon(py);
            conn.deregister(self.poll.registry());
            self.free.push(idx);
        }
    }

    /// The limits it serves with.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Closes every connection (their responses' iterables are closed).
    pub(crate) fn close_all(&mut self, py: Python<'_>) {
        for idx in 0..self.conns.len() {
            self.close(py, idx);
        }
    }

    /// Stops after an exception (Ctrl-C): idle kept-alive connections close
    /// at once; requests that have arrived (or, on a connection just
    /// accepted, are arriving) and responses in flight get
    /// [`Limits::shutdown_grace_ms`] to finish (a
    /// second signal ends that), then everything closes and `err` is
    /// returned for re-raising.
    fn stop(&mut self, py: Python<'_>, err: PyErr) -> PyErr {
        let deadline = Instant::now() + self.limits.shutdown_grace();
        let signalled = signals::received();
        let mut answered = 0;
        // The wait the signal ended may have brought a request's bytes: the
        // edge is not seen again, so it is recorded before anything is read.
        self.record_readiness();
        loop {
            for idx in 0..self.conns.len() {
                let busy = matches!(&self.conns[idx], Some(c) if c.has_work_in_flight());
                if !busy {
                    self.close(py, idx);
                } else if let Err(e) = self.drive(py, idx, Drive::Finish, &mut answered) {
                    if !signals::hurry(signalled) {
                        e.print(py);
                    }
                }
            }
            let now = Instant::now();
            let done = self.conns.iter().all(Option::is_none);
            if done || now >= deadline || signals::hurry(signalled) {
                break;
            }
            // Connections that yielded with work left are driven again
            // without waiting (each busy one is driven every round).
            let wait = if self.runnable.is_empty() {
                (deadline - now).min(TICK)
            } else {
                Duration::ZERO
            };
            self.runnable.clear();
            // A second Ctrl-C, or a failing poll, ends the grace period.
            if self.wait(py, wait).is_err() || py.check_signals().is_err() {
                break;
            }
            self.record_readiness();
        }
        self.close_all(py);
        err
    }

    /// Gives each connection its readiness from the last wait (recording
    /// an edge twice is harmless: the next read finds `WouldBlock`).
    fn record_readiness(&mut self) {
        for i in 0..self.ready.len() {
            let r = self.ready[i];
            if let Some(Some(conn)) = (r.token.0)
                .checked_sub(FIRST_CONN)
                .and_then(|i| self.conns.get_mut(i))
            {
                conn.ready(r.readable, r.writable, r.read_closed);
            }
        }
    }
}
