//! [Stage 7](super): Response body framing (sans-IO): the body bytes under the [`Plan`]
//! decided with the head: cut at the `Content-Length` (RFC 9110 §8.6),
//! chunk-framed under `Transfer-Encoding: chunked` and ended by the last
//! chunk (RFC 9112 §7.1), or nothing at all for HEAD, 1xx, 204 and 304.

use std::io::Write as _;

use super::response_head::Plan;

/// Writes one response's body bytes into the output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyWriter {
    plan: Plan,
    /// Body bytes produced so far (chunk framing not counted).
    sent: u64,
}

/// What [`BodyWriter::emit`] did with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emitted {
    /// Written (or, for a response without a body, nothing to write).
    All,
    /// The bytes went past the `Content-Length` of `limit` bytes: the rest
    /// was dropped, and nothing more is written.
    Cut {
        /// The response's `Content-Length`.
        limit: u64,
    },
}

/// A body that ended before its `Content-Length` (the connection must then
/// close: the client cannot tell where the next response starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    /// Body bytes produced.
    pub sent: u64,
    /// The response's `Content-Length`.
    pub limit: u64,
}

impl BodyWriter {
    /// A writer for a body framed by `plan`.
    #[must_use]
    pub fn new(plan: Plan) -> Self {
        Self { plan, sent: 0 }
    }

    /// `false` when no (more) body bytes may be written: HEAD, 1xx/204/304,
    /// or after a cut.
    #[must_use]
    pub fn sends_body(&self) -> bool {
        self.plan.send_body
    }

    /// Body bytes produced so far.
    #[must_use]
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The `Content-Length` the body must not pass, if there is one.
    #[must_use]
    pub fn limit(&self) -> Option<u64> {
        self.plan.limit
    }

    /// Appends `data` to `out`, framed.
    pub fn emit(&mut self, out: &mut Vec<u8>, data: &[u8]) -> Emitted {
        if data.is_empty() || !self.plan.send_body {
            return Emitted::All;
        }
        let mut data = data;
        let mut emitted = Emitted::All;
        if let Some(limit) = self.plan.limit {
            let left = limit - self.sent.min(limit);
            if (data.len() as u64) > left {
                data = &data[..usize::try_from(left).unwrap_or(0)];
                self.plan.send_body = false;
                emitted = Emitted::Cut { limit };
            }
        }
        if self.plan.chunked {
            let _ = write!(out, "{:x}\r\n", data.len());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(data);
        }
        self.sent += data.len() as u64;
        emitted
    }

    /// Counts `n` body bytes sent around the output buffer (`sendfile`).
    pub fn count(&mut self, n: u64) {
        self.sent += n;
    }

    /// Ends the body: the last chunk when chunked; [`Short`] when fewer
    /// bytes than the `Content-Length` were produced.
    pub fn finish(&self, out: &mut Vec<u8>) -> Option<Short> {
        if !self.plan.send_body {
            return None;
        }
        if self.plan.chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        self.plan
            .limit
            .filter(|&limit| self.sent < limit)
            .map(|limit| Short {
                sent: self.sent,
                limit,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_body_is_cut_at_its_length() {
        let mut w = BodyWriter::new(Plan::decide(200, false, true, Some(5), None));
        let mut out = Vec::new();
        assert_eq!(w.emit(&mut out, b"abc"), Emitted::All);
        assert_eq!(w.emit(&mut out, b"defg"), Emitted::Cut { limit: 5 });
        assert_eq!(w.emit(&mut out, b"h"), Emitted::All);
        assert_eq!((out.as_slice(), w.sent()), (&b"abcde"[..], 5));
        assert!(!w.sends_body());
        // A cut body is not short.
        assert_eq!(w.finish(&mut out), None);
    }

    #[test]
    fn short_body_is_reported() {
        let mut w = BodyWriter::new(Plan::decide(200, false, true, Some(5), None));
        let mut out = Vec::new();
        w.emit(&mut out, b"ab");
        w.count(1);
        assert_eq!(w.finish(&mut out), Some(Short { sent: 3, limit: 5 }));
    }

    #[test]
    fn chunked_body_is_framed_and_terminated() {
        let mut w = BodyWriter::new(Plan::decide(200, false, true, None, None));
        let mut out = Vec::new();
        w.emit(&mut out, b"");
        w.emit(&mut out, b"hello, world");
        assert_eq!(w.finish(&mut out), None);
        assert_eq!(out, b"c\r\nhello, world\r\n0\r\n\r\n");
        assert_eq!(w.sent(), 12);
    }

    #[test]
    fn head_and_no_content_write_nothing() {
        for plan in [
            Plan::decide(200, true, true, None, None),
            Plan::decide(204, false, true, None, None),
            Plan::decide(304, false, true, Some(10), None),
        ] {
            let mut w = BodyWriter::new(plan);
            let mut out = Vec::new();
            assert_eq!(w.emit(&mut out, b"body"), Emitted::All);
            assert_eq!(w.finish(&mut out), None);
            assert!(out.is_empty(), "{plan:?}");
        }
    }
}
