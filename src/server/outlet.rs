//! [Stages 7, 8](super): The sending side of one response: how it answers
//! the request ([`Answering`]), whether the connection is kept
//! ([`KeepAlive`]), and, once the head is out, how its body is framed
//! ([`BodyWriter`]) — [`Sending`]. The responder (`respond.rs`) drives it
//! from the iterable; while application code runs, it is lent with the
//! transport's output side as an [`Outlet`] to the exchange's
//! `start_response`, so that `write()` frames and sends its bytes before it
//! returns (PEP 3333 "The write() Callable": "must not return until the
//! data is transmitted or buffered for immediate transmission"). Both use
//! [`Sending::start`], so the head is decided the same way wherever the
//! first body bytes come from.

use std::io;
use std::time::Duration;

use pyo3::prelude::*;

use super::access_log::warn;
use super::keep_alive::{Close, KeepAlive};
use super::response_body::{BodyWriter, Emitted};
use super::response_head::{write_head, Answering, BodyLength, DateCache, Framing};
use super::start_response::AppHead;
use super::transport::Transport;

/// The sending side of one response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sending {
    /// What the request asks of the response.
    pub(crate) answering: Answering,
    /// Whether the connection is kept after this response.
    pub(crate) keep_alive: KeepAlive,
    /// The status code sent, `0` until the head is out.
    pub(crate) status: u16,
    /// The body's framing, once the head is out.
    pub(crate) body: Option<BodyWriter>,
}

impl Sending {
    /// Nothing sent yet, answering `answering`, the connection kept as
    /// `keep_alive` says.
    #[must_use]
    pub(crate) fn new(answering: Answering, keep_alive: KeepAlive) -> Self {
        Self {
            answering,
            keep_alive,
            status: 0,
            body: None,
        }
    }

    /// `true` once the head is out.
    #[must_use]
    pub(crate) fn head_sent(&self) -> bool {
        self.body.is_some()
    }

    /// Decides the framing of `head` with what is known of the body's
    /// `length` (RFC 9112 §6.3), records what it means for keep-alive, and
    /// writes the head into `out`. Hop-by-hop headers the app set (left out
    /// of `head`) are logged here.
    pub(crate) fn start(
        &mut self,
        py: Python<'_>,
        out: &mut Vec<u8>,
        head: &AppHead,
        length: BodyLength,
        date: &mut DateCache,
    ) -> Framing {
        let framing = Framing::decide(head.code, self.answering, length);
        if framing.needs_close() {
            self.keep_alive.close(Close::Framing);
        }
        if head.app_close {
            self.keep_alive.close(Close::AppAsked);
        }
        self.status = head.code;
        let date = date.now().as_bytes();
        write_head(
            out,
            head,
            framing,
            self.keep_alive,
            self.answering.version,
            date,
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
        self.body = Some(BodyWriter::new(framing));
        framing
    }

    /// Appends body bytes, framed; bytes past the `Content-Length` are
    /// dropped and logged. `false` when they were cut (no more body can be
    /// sent: the caller closes the iterable).
    pub(crate) fn emit(&mut self, py: Python<'_>, out: &mut Vec<u8>, data: &[u8]) -> bool {
        let Some(body) = &mut self.body else {
            return true;
        };
        if let Emitted::Cut { limit } = body.emit(out, data) {
            warn(py, &format!(
                "the application sent more than its Content-Length of {limit} bytes; the rest was dropped"
            ));
            return false;
        }
        true
    }
}

/// What `write()` needs to send at once: kept by the exchange's
/// `start_response` (made on the connection's first response and reused
/// with it), and filled with the connection's output side while
/// application code runs ([`Outlet::lend`]).
#[derive(Debug)]
pub(crate) struct Outlet {
    /// A twin of the connection's transport, holding its output side while
    /// lent ([`Transport::swap_output`]).
    pub(crate) io: Transport,
    /// Application code is running: `write()` sends through this outlet.
    pub(crate) lent: bool,
    /// The response's sending side.
    pub(crate) sending: Sending,
    /// The `Date` header's cache of the heads `write()` sends (its own: one
    /// format a second at most).
    pub(crate) date: DateCache,
    /// How long `write()` waits for a client that does not read
    /// (`Limits::write_timeout_secs`).
    pub(crate) timeout: Duration,
    /// The client went away, or did not read for `timeout`, during a
    /// `write()`: the response is abandoned.
    pub(crate) failed: Option<io::Error>,
}

impl Outlet {
    /// An outlet for the client of `io`, not lent; `write()` waits at most
    /// `timeout` for a client that does not read.
    #[must_use]
    pub(crate) fn new(io: &Transport, sending: Sending, timeout: Duration) -> Self {
        Self {
            io: io.twin(),
            lent: false,
            sending,
            date: DateCache::default(),
            timeout,
            failed: None,
        }
    }

    /// Lends `io`'s output side and the response's `sending` state to this
    /// outlet while application code runs.
    pub(crate) fn lend(&mut self, io: &mut Transport, sending: Sending) {
        io.swap_output(&mut self.io);
        self.sending = sending;
        self.lent = true;
    }

    /// Gives back what [`Outlet::lend`] lent; returns the `sending` state
    /// and why a `write()` failed, if one did.
    pub(crate) fn give_back(&mut self, io: &mut Transport) -> (Sending, Option<io::Error>) {
        io.swap_output(&mut self.io);
        self.lent = false;
        (self.sending, self.failed.take())
    }
    /// `write(data)`: frames `data` and sends it, waiting for the client to
    /// take it. When the head is not out yet, it goes first: `head` (what
    /// `start_response` recorded) is taken and returned, sent, so that its
    /// buffer can be reused.
    ///
    /// # Errors
    /// `RuntimeError` when no head was recorded, the app's unusable
    /// `Content-Length` (`ValueError`), or the client's failure as `OSError`
    /// (`BrokenPipeError`, `TimeoutError`...).
    pub(crate) fn write(
        &mut self,
        py: Python<'_>,
        head: &mut Option<AppHead>,
        data: &[u8],
    ) -> PyResult<Option<AppHead>> {
        if let Some(e) = &self.failed {
            return Err(io::Error::new(e.kind(), e.to_string()).into());
        }
        let mut sent = None;
        if !self.sending.head_sent() {
            let length = match head.as_ref().map(AppHead::content_length) {
                None => return Err(crate::errors::Error::StartResponseNotCalled.into()),
                Some(Ok(Some(n))) => BodyLength::Declared(n),
                Some(Ok(None)) => BodyLength::Unknown,
                Some(Err(e)) => return Err(e.into()),
            };
            sent = head.take();
            if let Some(head) = &sent {
                self.sending
                    .start(py, &mut self.io.out, head, length, &mut self.date);
            }
        }
        self.sending.emit(py, &mut self.io.out, data);
        if let Err(e) = self.io.flush_blocking(py, self.timeout) {
            self.sending.keep_alive.close(Close::Aborted);
            let raised = io::Error::new(e.kind(), e.to_string());
            self.failed = Some(e);
            return Err(raised.into());
        }
        Ok(sent)
    }
}
