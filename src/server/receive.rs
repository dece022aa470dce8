//! [Stages 2, 3](super): Receiving one request on a connection: its head
//! ([`super::parse::parse_head`]), then its body ([`BodyDecoder`] into a
//! [`Spool`]), until the request is complete or refused (waitress splits
//! its `receiver.py` off the same way).
//!
//! It never touches the socket: [`Receiver::feed`] consumes the bytes the
//! transport has buffered ([`Buffered`]) and says how many more it wants;
//! the connection reads them. The whole body is received before the app
//! runs, so a slow uploader never holds the single app thread. The same
//! `feed` runs on a plain buffer in the tests (`fuzz.rs` feeds it inputs
//! whole, split and byte by byte).

use std::time::Instant;

use pyo3::prelude::*;

use super::access_log::warn;
use super::body::{expects_continue, framing, BodyDecoder, Framing};
use super::config::{Limits, READ_CHUNK_BYTES};
use super::error::RequestError;
use super::parse::{parse_head_reusing, RequestHead};
use super::spool::Spool;
use super::transport::Transport;

/// Largest single `read` while receiving a body, bytes.
const MAX_READ_BYTES: usize = 256 * 1024;

/// What [`Receiver::feed`] needs of a connection: the bytes received and
/// not yet used, when they arrived, and a way to answer `100 Continue`.
pub(crate) trait Buffered {
    /// Received bytes not yet consumed.
    fn input(&self) -> &[u8];
    /// Marks the first `n` received bytes as used.
    fn consume(&mut self, n: usize);
    /// When bytes last arrived (the request's timeouts count from it).
    fn last_read(&self) -> Instant;
    /// Queues bytes to send before anything else (`100 Continue`).
    fn queue(&mut self, bytes: &[u8]);
}

impl Buffered for Transport {
    fn input(&self) -> &[u8] {
        Transport::input(self)
    }

    fn consume(&mut self, n: usize) {
        Transport::consume(self, n);
    }

    fn last_read(&self) -> Instant {
        self.last_activity
    }

    fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
}

/// Where the request being received is.
#[derive(Debug)]
pub(crate) enum Receiver {
    /// Waiting for a request head.
    Head {
        /// When its first byte arrived (for `Limits::header_timeout_secs`);
        /// `None` while nothing of it has.
        started: Option<Instant>,
    },
    /// Receiving a body (boxed: the connection's state stays small, so
    /// moving it from one state to the next is cheap).
    Body(Box<Incoming>),
}

/// A request whose body is being received.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// The parsed head.
    head: RequestHead,
    /// Where the body ends (RFC 9112 §6).
    decoder: BodyDecoder,
    /// The body received so far.
    body: Spool,
    /// The request declared a body (`CONTENT_LENGTH` is then set).
    has_body: bool,
    /// `Limits::body_timeout_secs` after the head.
    deadline: Instant,
}

impl Default for Receiver {
    fn default() -> Self {
        Self::Head { started: None }
    }
}

/// A request received whole, ready for the application.
#[derive(Debug)]
pub(crate) struct Request {
    /// Its head.
    pub(crate) head: RequestHead,
    /// Its decoded body.
    pub(crate) body: Spool,
    /// It declared a body, even an empty one (`Content-Length: 0`).
    pub(crate) has_body: bool,
}

/// What [`Receiver::feed`] got to.
#[derive(Debug)]
pub(crate) enum Progress {
    /// The buffered bytes are used up: read up to this many more, then
    /// feed again.
    Wants(Receiver, usize),
    /// The request is complete.
    Complete(Request),
    /// The request is refused with this error; its head when it was parsed
    /// (the answer to a `HEAD` has no body).
    Refused(RequestError, Option<RequestHead>),
}

impl Receiver {
    #[cfg(test)]
    /// `true` before any byte of a request has arrived.
    #[must_use]
    pub(crate) fn is_waiting(&self) -> bool {
        matches!(self, Self::Head { started: None })
    }

    /// When the request being received is late: its head
    /// `header_timeout_secs` after its first byte, its body at its deadline;
    /// `None` while nothing has arrived.
    #[must_use]
    pub(crate) fn deadline(&self, limits: &Limits) -> Option<Instant> {
        match self {
            Self::Head { started } => started.map(|t| t + limits.header_timeout()),
            Self::Body(incoming) => Some(incoming.deadline),
        }
    }

    /// The head of the request, once parsed (to answer a refusal).
    #[must_use]
    pub(crate) fn into_head(self) -> Option<RequestHead> {
        match self {
            Self::Head { .. } => None,
            Self::Body(incoming) => Some(incoming.head),
        }
    }

    /// Consumes what `io` has buffered: parses the head, decides the body
    /// framing (refusing bad framing at once, before any body is sent; a
    /// `100 Continue` is queued when the client waits for one), decodes
    /// the body into memory or a temporary file. A head is parsed into the
    /// buffers of `spare` (the connection's last head) when there is one.
    pub(crate) fn feed(
        self,
        py: Python<'_>,
        io: &mut impl Buffered,
        limits: &Limits,
        spare: &mut Option<RequestHead>,
    ) -> Progress {
        let mut incoming = match self {
            Self::Body(incoming) => incoming,
            Self::Head { started } => {
                if io.input().is_empty() {
                    return Progress::Wants(Self::Head { started }, READ_CHUNK_BYTES);
                }
                // The read that brought these bytes noted its time: no
                // clock read per request.
                let started = started.or(Some(io.last_read()));
                let head = match parse_head_reusing(io.input(), limits, spare) {
                    Ok(Some(head)) => head,
                    Ok(None) => return Progress::Wants(Self::Head { started }, READ_CHUNK_BYTES),
                    Err(e) => return Progress::Refused(e, None),
                };
                io.consume(head.head_len);
                match begin_body(io, limits, head) {
                    Begun::Complete(request) => return Progress::Complete(request),
                    Begun::Body(incoming) => incoming,
                    Begun::Refused(e, head) => return Progress::Refused(e, Some(head)),
                }
            }
        };
        let this = &mut *incoming;
        if !io.input().is_empty() {
            match this.decoder.decode(io.input(), &mut this.body.mem, limits) {
                Ok(used) => io.consume(used),
                Err(e) => return Progress::Refused(e, Some(incoming.head)),
            }
            if let Err(e) = this.body.settle(limits.max_in_memory_body_bytes) {
                warn(py, &format!("cannot store a request body: {e}"));
                return Progress::Refused(RequestError::Storage, Some(incoming.head));
            }
        }
        if this.decoder.is_done() {
            let Incoming {
                head,
                body,
                has_body,
                ..
            } = *incoming;
            return Progress::Complete(Request {
                head,
                body,
                has_body,
            });
        }
        let want = this.decoder.remaining().map_or(READ_CHUNK_BYTES, |r| {
            usize::try_from(r)
                .unwrap_or(MAX_READ_BYTES)
                .clamp(READ_CHUNK_BYTES, MAX_READ_BYTES)
        });
        Progress::Wants(Self::Body(incoming), want)
    }
}

/// What [`begin_body`] decided.
enum Begun {
    /// No body: the request is complete.
    Complete(Request),
    /// A body follows.
    Body(Box<Incoming>),
    /// The framing is refused.
    Refused(RequestError, RequestHead),
}

/// A head has been parsed: the body's framing decides where it ends.
fn begin_body(io: &mut impl Buffered, limits: &Limits, head: RequestHead) -> Begun {
    let f = match framing(&head, limits) {
        Ok(f) => f,
        Err(e) => return Begun::Refused(e, head),
    };
    let has_body = f != Framing::Length(0) || head.values("content-length").next().is_some();
    let decoder = BodyDecoder::new(f);
    if decoder.is_done() {
        // Most requests (GET): nothing to receive.
        let body = Spool::default();
        return Begun::Complete(Request {
            head,
            body,
            has_body,
        });
    }
    // RFC 9110 §10.1.1: the client waits for 100 before sending.
    if io.input().is_empty() && expects_continue(&head) {
        io.queue(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    Begun::Body(Box::new(Incoming {
        head,
        decoder,
        body: Spool::default(),
        has_body,
        // From the read that completed the head.
        deadline: io.last_read() + limits.body_timeout(),
    }))
}
