//! Whether a connection is kept for another request after this exchange
//! (RFC 9112 §9.3, persistence), decided in one value: the request's wish
//! starts it, and everything that forces a close afterwards (the server
//! stopping, a close-delimited body, the app's `Connection: close`, a short
//! body, an aborted response, a refused request) records its reason here.
//! As hyper's `KA` state in `proto/h1/conn.rs`: one place to ask, and the
//! reason is kept for the tests and the log.

/// Why the connection closes after this exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// The client asked: `Connection: close`, or HTTP/1.0 without
    /// `Connection: keep-alive` (RFC 9112 §9.3).
    Requested,
    /// The server is stopping (Ctrl-C, `shutdown()`).
    Stopping,
    /// The body is close-delimited (HTTP/1.0, length unknown, RFC 9112 §6.3).
    Framing,
    /// The app's response listed `close` in its `Connection` header.
    AppAsked,
    /// The body ended before its `Content-Length` (the client cannot tell
    /// where a next response would start).
    ShortBody,
    /// The response was abandoned after its head (the app raised).
    Aborted,
    /// The server refused the request (its own 4xx/5xx): what follows it on
    /// the connection cannot be trusted.
    Refused,
}

/// The persistence of one connection across one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct KeepAlive {
    /// The first reason to close, if any.
    close: Option<Close>,
}

impl KeepAlive {
    /// The persistence a request asks for (`wants_keep_alive`: its version
    /// and `Connection` header, as parsed), with the server `stopping` or not.
    #[must_use]
    pub(crate) fn for_request(wants_keep_alive: bool, stopping: bool) -> Self {
        let mut ka = Self::default();
        if !wants_keep_alive {
            ka.close(Close::Requested);
        }
        if stopping {
            ka.close(Close::Stopping);
        }
        ka
    }

    /// A connection that closes after this exchange because of `why`.
    #[must_use]
    pub(crate) fn closing(why: Close) -> Self {
        Self { close: Some(why) }
    }

    /// Records a reason to close (the first one recorded is kept).
    pub(crate) fn close(&mut self, why: Close) {
        self.close.get_or_insert(why);
    }

    /// `true` while nothing forces the connection closed.
    #[must_use]
    pub(crate) fn is_kept(self) -> bool {
        self.close.is_none()
    }

    #[cfg(test)]
    /// The first reason to close, if any.
    #[must_use]
    pub(crate) fn reason(self) -> Option<Close> {
        self.close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_is_kept() {
        assert!(KeepAlive::for_request(true, false).is_kept());
        let mut ka = KeepAlive::for_request(false, true);
        assert_eq!(ka.reason(), Some(Close::Requested));
        ka.close(Close::Aborted);
        assert_eq!(ka.reason(), Some(Close::Requested));
        let mut ka = KeepAlive::for_request(true, true);
        assert_eq!(ka.reason(), Some(Close::Stopping));
        ka = KeepAlive::default();
        ka.close(Close::ShortBody);
        assert!(!ka.is_kept());
        assert_eq!(
            KeepAlive::closing(Close::Refused).reason(),
            Some(Close::Refused)
        );
    }
}
