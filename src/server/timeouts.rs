//! Which of the [`Limits`] deadlines a connection has passed (sans-IO).
//! Once a second the event loop sweeps every connection
//! (`Connection::sweep`): the connection says what it is waiting for as a
//! [`Waiting`], and acts on the [`Overdue`] it gets back.

use std::time::Instant;

use super::config::Limits;

/// What a connection is waiting for, as far as its timeouts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Draining the client's bytes after our close, until `until`.
    Lingering {
        /// The end of the lingering close.
        until: Instant,
    },
    /// For the client to read the output buffered for it.
    Reader,
    /// For a next request: nothing in progress, nothing buffered.
    Idle,
    /// For the rest of a request.
    Request {
        /// When it is late (its head or body deadline); `None` before
        /// its first byte.
        deadline: Option<Instant>,
    },
    /// For the socket to take more of a `sendfile` response.
    Sendfile,
    /// Nothing: the connection is closing.
    Nothing,
}

/// Which deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overdue {
    /// A TLS handshake unfinished `header_timeout_secs` after its first
    /// byte: close (no HTTP answer can reach the client).
    Handshake,
    /// The lingering close has drained long enough: close.
    Lingered,
    /// The client left a response unread for `write_timeout_secs`: drop it.
    Unread,
    /// Idle for `idle_timeout_secs`: close.
    Idle,
    /// A request late for its head (`header_timeout_secs`), its body
    /// (`body_timeout_secs`), or paused for `read_timeout_secs`: `408`.
    Request,
}

/// The deadline a connection `waiting` has passed at `now`, if any; bytes
/// last moved at `last_activity`, and a TLS handshake in progress started
/// at `handshake_started`.
#[must_use]
pub(crate) fn overdue(
    now: Instant,
    limits: &Limits,
    last_activity: Instant,
    handshake_started: Option<Instant>,
    waiting: Waiting,
) -> Option<Overdue> {
    let since = |t: Instant| now.saturating_duration_since(t);
    if handshake_started.is_some_and(|t| since(t) > limits.header_timeout()) {
        return Some(Overdue::Handshake);
    }
    let quiet_for = since(last_activity);
    match waiting {
        Waiting::Lingering { until } => (now >= until).then_some(Overdue::Lingered),
        Waiting::Reader | Waiting::Sendfile => {
            (quiet_for > limits.write_timeout()).then_some(Overdue::Unread)
        }
        Waiting::Idle => (quiet_for > limits.idle_timeout()).then_some(Overdue::Idle),
        Waiting::Request { deadline } => {
            let late = deadline.is_some_and(|d| now > d);
            (late || quiet_for > limits.read_timeout()).then_some(Overdue::Request)
        }
        Waiting::Nothing => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_deadline() {
        let limits = Limits::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let at = |secs| t0 + s(secs);
        let head_late = Some(t0 + limits.header_timeout());
        for (waiting, handshake, last, now, want) in [
            (Waiting::Idle, None, 0, 59, None),
            (Waiting::Idle, None, 0, 61, Some(Overdue::Idle)),
            // A handshake is bounded by the header timeout, whatever else.
            (Waiting::Idle, Some(t0), 25, 31, Some(Overdue::Handshake)),
            (Waiting::Request { deadline: None }, None, 0, 29, None),
            (
                Waiting::Request {
                    deadline: head_late,
                },
                None,
                20,
                31,
                Some(Overdue::Request),
            ),
            // A client that pauses mid-request, before its deadline.
            (
                Waiting::Request {
                    deadline: Some(at(300)),
                },
                None,
                0,
                31,
                Some(Overdue::Request),
            ),
            (
                Waiting::Request {
                    deadline: Some(at(300)),
                },
                None,
                20,
                31,
                None,
            ),
            (Waiting::Reader, None, 0, 59, None),
            (Waiting::Reader, None, 0, 61, Some(Overdue::Unread)),
            (Waiting::Sendfile, None, 0, 61, Some(Overdue::Unread)),
            (Waiting::Lingering { until: at(2) }, None, 0, 1, None),
            (
                Waiting::Lingering { until: at(2) },
                None,
                0,
                2,
                Some(Overdue::Lingered),
            ),
            (Waiting::Nothing, None, 0, 1000, None),
        ] {
            let got = overdue(at(now), &limits, at(last), handshake, waiting);
            assert_eq!(
                got, want,
                "{waiting:?} handshake {handshake:?} last {last} now {now}"
            );
        }
    }
}
