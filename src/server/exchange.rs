//! [Stages 4..8](super): One exchange on a connection, from the complete request to the
//! complete response: the environ is built and the app called
//! ([`Exchange::start`]), then each turn pumps the [`Response`] into the
//! transport's output, or `sendfile`s a `wsgi.file_wrapper` file
//! ([`Exchange::turn`]). The connection keeps the state machine; this file
//! keeps what one response in flight needs.

use std::net::SocketAddr;
use std::time::Instant;

use pyo3::prelude::*;

use super::config::HIGH_WATER_BYTES;
use super::environ::ClientEnviron;
use super::impossible;
use super::keep_alive::{Close, KeepAlive};
use super::outlet::Sending;
use super::parse::RequestHead;
use super::receive::Request;
use super::respond::{Abort, Pumped, Response};
use super::response_head::{Answering, Version};
use super::start_response::ServerStartResponse;
use super::transport::Transport;
use super::turn_context::TurnContext;

/// A request and its response in flight.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// The response being produced.
    pub(crate) resp: Response,
    /// The request's head (for the access log).
    pub(crate) head: RequestHead,
    /// When the request was complete (the log's milliseconds).
    pub(crate) started: Instant,
    /// The app set `environ['rswsgi.static']` (`static_files` answered):
    /// the access log marks the line.
    pub(crate) static_hit: bool,
}

/// What one [`Exchange::turn`] got to.
#[derive(Debug)]
pub(crate) enum ExchangeStep {
    /// More output was produced; go on.
    More,
    /// Wait for the socket to take what is buffered.
    Wait,
    /// The response is complete (the iterable closed).
    Done,
    /// Drop the connection without sending what is buffered; `Some` carries
    /// an exception to re-raise (KeyboardInterrupt, SystemExit).
    Abort(Option<PyErr>),
    /// The socket failed while sending a file (the client went away).
    Gone(std::io::Error),
}

/// What a connection keeps from one exchange for the next, so that a
/// keep-alive request does not make again what its predecessor made: the
/// client's part of the environ, the `start_response` object (with its
/// bound `write`) and the head's buffers.
#[derive(Debug, Default)]
pub(crate) struct Carry {
    /// The environ template of this client, made on its first request.
    client: Option<ClientEnviron>,
    /// The last `start_response`, reused when nothing else holds it.
    start_response: Option<Py<ServerStartResponse>>,
    /// The last request's head, whose buffers the next one is parsed into.
    pub(crate) head: Option<RequestHead>,
}

impl Carry {
    /// The kept `start_response` lets go of the connection's socket.
    pub(crate) fn release_outlet(&self, py: Python<'_>) {
        if let Some(sr) = &self.start_response {
            *sr.borrow_mut(py).outlet() = None;
        }
    }
}

impl Exchange {
    /// Builds the environ of `request` from `peer`'s template (made on its
    /// first request) and calls the application, with the `start_response`
    /// of the last exchange when it can be reused. When the environ cannot
    /// be built (the body cannot be read back, an object cannot be
    /// allocated) the app is not called, and the response is the server's
    /// 500.
    ///
    /// # Errors
    /// The error and the head, when not even a `start_response` object can
    /// be allocated (the connection then only closes).
    pub(crate) fn start(
        py: Python<'_>,
        io: &mut Transport,
        ctx: &mut TurnContext<'_, '_>,
        request: Request,
        carry: &mut Carry,
        peer: SocketAddr,
        started: Instant,
    ) -> Result<Box<Self>, Box<(PyErr, RequestHead)>> {
        let Request {
            head,
            body,
            has_body,
        } = request;
        let client = match &mut carry.client {
            Some(client) => Ok(client),
            None => ctx
                .environ
                .for_client(py, peer)
                .map(|made| &mut *carry.client.insert(made)),
        };
        let environ = client
            .and_then(|client| Ok((client, body.into_input(py, ctx.environ.empty_input())?)))
            .and_then(|(client, (input, len))| {
                let len = has_body.then_some(len);
                ctx.environ.build(py, client, &head, len, input.as_any())
            });
        let answering = Answering {
            version: Version::from_minor(head.minor_version),
            head_only: head.is_head(),
        };
        let keep_alive = KeepAlive::for_request(head.keep_alive, ctx.stopping);
        let sending = Sending::new(answering, keep_alive);
        let spare = carry.start_response.take();
        // Only the access log reads the mark; quiet, nothing is looked up.
        let seen = environ.as_ref().ok().filter(|_| !ctx.quiet).cloned();
        match Response::new(py, sending, spare) {
            Ok(resp) => {
                // Boxed before the app runs: the response is not moved again.
                let mut me = Box::new(Self {
                    resp,
                    head,
                    started,
                    static_hit: false,
                });
                me.resp.call_app(py, io, ctx, environ);
                me.static_hit = seen.is_some_and(|environ| {
                    environ
                        .contains(pyo3::intern!(py, "rswsgi.static"))
                        .unwrap_or(false)
                });
                me.warn_if_held(py, ctx);
                Ok(me)
            }
            Err(e) => Err(Box::new((e, head))),
        }
    }

    /// The response is complete: what the next exchange can reuse goes into
    /// `carry`.
    pub(crate) fn finish(&mut self, py: Python<'_>, carry: &mut Carry) {
        carry.start_response = Some(self.resp.start_response(py));
        carry.head = Some(std::mem::take(&mut self.head));
    }

    /// Produces (and for a file, sends) the next part of the response: one
    /// block of a stream, or up to the output high-water mark.
    pub(crate) fn turn(
        &mut self,
        py: Python<'_>,
        ctx: &mut TurnContext<'_, '_>,
        io: &mut Transport,
    ) -> ExchangeStep {
        if io.pending() >= HIGH_WATER_BYTES {
            return ExchangeStep::Wait;
        }
        if ctx.stopping {
            // Ctrl-C: a head not yet sent says `Connection: close`.
            self.resp.sending.keep_alive.close(Close::Stopping);
        }
        let pumped = self.resp.pump(py, io, ctx);
        self.warn_if_held(py, ctx);
        match pumped {
            // The head goes out before the file.
            Ok(Pumped::File) if io.pending() > 0 => ExchangeStep::Wait,
            Ok(Pumped::File) => {
                let Some(file) = self.resp.file_body() else {
                    impossible!("Pumped::File without a file: {:?}", self.resp);
                    return ExchangeStep::Abort(None);
                };
                match io.send_file(file) {
                    Ok(Some(n)) => match self.resp.file_sent(py, n) {
                        Ok(()) => ExchangeStep::More,
                        Err(Abort(fatal)) => ExchangeStep::Abort(fatal),
                    },
                    Ok(None) => ExchangeStep::Wait,
                    Err(e) => ExchangeStep::Gone(e),
                }
            }
            Ok(Pumped::More) if !io.is_writable() => ExchangeStep::Wait,
            Ok(Pumped::More) => ExchangeStep::More,
            Ok(Pumped::Done) => ExchangeStep::Done,
            Ok(Pumped::Gone(e)) => {
                io.discard_output();
                ExchangeStep::Gone(e)
            }
            Err(Abort(fatal)) => {
                io.discard_output();
                ExchangeStep::Abort(fatal)
            }
        }
    }

    /// One line when a single run of application code (the app call, one
    /// `next()`) held the one app thread for longer than
    /// `config::HELD_WARNING`: at most once per path.
    fn warn_if_held(&mut self, py: Python<'_>, ctx: &mut TurnContext<'_, '_>) {
        if let Some(held) = self.resp.held.take() {
            ctx.held
                .warn(py, self.head.method(), self.head.target(), held);
        }
    }
}
