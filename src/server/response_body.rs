//! [Stage 7](super): Response body framing (sans-IO): the body bytes under the [`Framing`]
//! decided with the head: cut at the `Content-Length` (RFC 9110 §8.6),
//! chunk-framed under `Transfer-Encoding: chunked` and ended by the last
//! chunk (RFC 9112 §7.1), or nothing at all for HEAD, 1xx, 204 and 304.

use std::io::Write as _;

use super::response_head::{Delimit, Framing};

/// Writes one response's body bytes into the output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyWriter {
    /// How the body is delimited; `None` when no (more) body bytes go out:
    /// a bodiless response (HEAD, 1xx, 204, 304) or a body cut at its
    /// `Content-Length`.
    delimit: Option<Delimit>,
    /// Body bytes produced so far (chunk framing not counted).
    sent: u64,
}

/// What [`BodyWriter::emit`] did with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Emitted {
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
pub(crate) struct Short {
    /// Body bytes produced.
    pub(crate) sent: u64,
    /// The response's `Content-Length`.
    pub(crate) limit: u64,
}

impl BodyWriter {
    /// A writer for a body framed as `framing`.
    #[must_use]
    pub(crate) fn new(framing: Framing) -> Self {
        Self {
            delimit: framing.body(),
            sent: 0,
        }
    }

    /// `false` when no (more) body bytes may be written: HEAD, 1xx/204/304,
    /// or after a cut.
    #[must_use]
    pub(crate) fn sends_body(&self) -> bool {
        self.delimit.is_some()
    }

    /// Body bytes produced so far.
    #[must_use]
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Appends `data` to `out`, framed.
    pub(crate) fn emit(&mut self, out: &mut Vec<u8>, data: &[u8]) -> Emitted {
        let Some(delimit) = self.delimit else {
            return Emitted::All;
        };
        if data.is_empty() {
            return Emitted::All;
        }
        let mut data = data;
        let mut emitted = Emitted::All;
        match delimit {
            Delimit::Length { len, .. } => {
                let left = len - self.sent.min(len);
                if (data.len() as u64) > left {
                    data = &data[..usize::try_from(left).unwrap_or(0)];
                    self.delimit = None;
                    emitted = Emitted::Cut { limit: len };
                }
                out.extend_from_slice(data);
            }
            Delimit::Chunked => {
                let _ = write!(out, "{:x}\r\n", data.len());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            Delimit::Close => out.extend_from_slice(data),
        }
        self.sent += data.len() as u64;
        emitted
    }

    /// Counts `n` body bytes sent around the output buffer (`sendfile`).
    pub(crate) fn count(&mut self, n: u64) {
        self.sent += n;
    }

    /// Ends the body: the last chunk when chunked; [`Short`] when fewer
    /// bytes than the `Content-Length` were produced.
    pub(crate) fn finish(&self, out: &mut Vec<u8>) -> Option<Short> {
        match self.delimit? {
            Delimit::Chunked => {
                out.extend_from_slice(b"0\r\n\r\n");
                None
            }
            Delimit::Length { len, .. } if self.sent < len => Some(Short {
                sent: self.sent,
                limit: len,
            }),
            Delimit::Length { .. } | Delimit::Close => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::response_head::{Answering, BodyLength, Version};

    fn framing(status: u16, head_only: bool, length: BodyLength) -> Framing {
        let version = Version::Http11;
        Framing::decide(status, Answering { version, head_only }, length)
    }

    #[test]
    fn content_length_body_is_cut_at_its_length() {
        let mut w = BodyWriter::new(framing(200, false, BodyLength::Declared(5)));
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
        let mut w = BodyWriter::new(framing(200, false, BodyLength::Declared(5)));
        let mut out = Vec::new();
        w.emit(&mut out, b"ab");
        w.count(1);
        assert_eq!(w.finish(&mut out), Some(Short { sent: 3, limit: 5 }));
    }

    #[test]
    fn chunked_body_is_framed_and_terminated() {
        let mut w = BodyWriter::new(framing(200, false, BodyLength::Unknown));
        let mut out = Vec::new();
        w.emit(&mut out, b"");
        w.emit(&mut out, b"hello, world");
        assert_eq!(w.finish(&mut out), None);
        assert_eq!(out, b"c\r\nhello, world\r\n0\r\n\r\n");
        assert_eq!(w.sent(), 12);
    }

    #[test]
    fn head_and_no_content_write_nothing() {
        for framing in [
            framing(200, true, BodyLength::Unknown),
            framing(204, false, BodyLength::Unknown),
            framing(304, false, BodyLength::Declared(10)),
        ] {
            let mut w = BodyWriter::new(framing);
            let mut out = Vec::new();
            assert_eq!(w.emit(&mut out, b"body"), Emitted::All);
            assert_eq!(w.finish(&mut out), None);
            assert!(out.is_empty(), "{framing:?}");
        }
    }
}
