//! How an exchange on a [`Connection`] ends: the response finished, the
//! request refused (4xx/5xx from the server itself), a deadline passed
//! (`Limits` timeouts), the client gone, or the server shutting it down.

use std::time::Instant;

use pyo3::prelude::*;

use super::access_log::{format_line, warn, write_stderr, Entry};
use super::connection::{Connection, State};
use super::error::Error;
use super::event_loop::{Ctx, Next};
use super::parse::RequestHead;
use super::response_head::write_simple;

impl Connection {
    /// Applies the timeouts of `limits` at `now`: an idle connection past
    /// `idle_timeout_secs` closes; a request whose head is not complete
    /// `header_timeout_secs` after its first byte, whose body is not complete
    /// `body_timeout_secs` after its head, or that paused for
    /// `read_timeout_secs`, gets `408`; a client that stopped reading is
    /// dropped.
    pub fn check_timeouts(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, now: Instant) -> Next {
        let quiet_for = now.saturating_duration_since(self.io.last_activity);
        if let State::Lingering { until, .. } = self.state {
            return if now >= until {
                Next::Close
            } else {
                Next::Wait
            };
        }
        if self.io.pending() > 0 {
            if quiet_for > ctx.limits.write_timeout() {
                self.shutdown(py);
                return Next::Close;
            }
        } else if self.is_idle() {
            if quiet_for > ctx.limits.idle_timeout() {
                return Next::Close;
            }
        } else {
            let late = match &self.state {
                State::Head => self.head_started.is_some_and(|t| {
                    now.saturating_duration_since(t) > ctx.limits.header_timeout()
                }),
                State::Body { deadline, .. } => now > *deadline,
                // A `sendfile` response whose client stopped reading.
                State::Respond { .. } if quiet_for > ctx.limits.write_timeout() => {
                    self.shutdown(py);
                    return Next::Close;
                }
                _ => return Next::Wait,
            };
            if late || quiet_for > ctx.limits.read_timeout() {
                self.refuse(py, ctx, Error::Timeout);
                return self.advance(py, ctx);
            }
        }
        Next::Wait
    }

    /// The response is complete: log it, then wait for the next request or
    /// close.
    pub(super) fn finish_response(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>) {
        let State::Respond {
            resp,
            head,
            started,
        } = std::mem::replace(&mut self.state, State::Head)
        else {
            return;
        };
        self.log(py, ctx, Some(&head), resp.status, resp.body_bytes, started);
        self.unflushed_answers += 1;
        if !resp.keep_alive || ctx.stopping {
            self.state = State::Closing;
        }
    }

    /// Answers a bad request with its 4xx/5xx and `Connection: close`.
    pub(super) fn refuse(&mut self, py: Python<'_>, ctx: &mut Ctx<'_, '_>, e: Error) {
        let head = match std::mem::replace(&mut self.state, State::Head) {
            State::Body { head, .. } => Some(head),
            _ => None,
        };
        self.answer_and_close(py, ctx, e.status(), head.as_ref());
    }

    /// Sends the server's own `status_line` response (no more requests are
    /// read from this connection) and closes.
    pub(super) fn answer_and_close(
        &mut self,
        py: Python<'_>,
        ctx: &mut Ctx<'_, '_>,
        status_line: &str,
        head: Option<&RequestHead>,
    ) {
        self.io.discard_input();
        let is_head = head.is_some_and(RequestHead::is_head);
        let date = ctx.date.now().as_bytes();
        let bytes = write_simple(&mut self.io.out, status_line, is_head, false, true, date);
        let code = crate::wsgi::status_digits(status_line).unwrap_or(500);
        self.log(py, ctx, head, code, bytes, Instant::now());
        self.unflushed_answers += 1;
        self.state = State::Closing;
    }

    pub(super) fn log(
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
    /// the response's iterable closed, the connection dropped.
    pub(super) fn client_gone(&mut self, py: Python<'_>, e: &std::io::Error) -> Next {
        let what = match &self.state {
            State::Respond { head, .. } => format!(
                "{} {}",
                head.method(),
                String::from_utf8_lossy(head.target()).escape_debug()
            ),
            _ => "a response".to_owned(),
        };
        warn(
            py,
            &format!("client {} went away during {what} ({e})", self.peer),
        );
        self.shutdown(py);
        Next::Close
    }

    /// Ends an in-progress response without sending the rest: the
    /// iterable's `close()` is called (PEP 3333: also when the client went
    /// away). The connection is closed when dropped.
    pub fn shutdown(&mut self, py: Python<'_>) {
        if let State::Respond { resp, .. } = &mut self.state {
            resp.close_iter(py);
        }
        self.state = State::Closing;
        self.io.discard_output();
    }
}
