//! [Stage 3](super): Request body framing (sans-IO): which bytes after the head are the
//! body (RFC 9112 §6), and decoding them into one buffer.
//!
//! The event loop reads the whole body before the app runs, so a slow
//! uploader never holds the single app thread. Framing is strict because a
//! lenient server desyncs behind a proxy (request smuggling, RFC 9112 §6.3,
//! §11.2).

mod chunk_line;

use super::config::Limits;
use super::error::RequestError;
use super::parse::{list_members, RequestHead};

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: N` bytes (no header: zero bytes, RFC 9112 §6.3 item 7).
    Length(u64),
    /// `Transfer-Encoding: chunked` (RFC 9112 §7.1).
    Chunked,
}

/// Decides the body framing of a request from its head.
///
/// # Errors
/// [`RequestError::MalformedRequest`] (400) for `Transfer-Encoding` on HTTP/1.0,
/// with `Content-Length`, empty, or with `chunked` anywhere but last (RFC
/// 9112 §6.3: the length cannot be determined, "MUST respond with 400 and
/// then close the connection"), and for two different or non-numeric
/// `Content-Length` values; [`RequestError::Unsupported`] (501, RFC 9112 §6.1) for
/// a transfer coding other than `chunked` in front of a final `chunked`, or
/// alone; [`RequestError::BodyTooLarge`] (413) for a declared length over
/// `max_body_bytes`.
pub fn framing(head: &RequestHead, limits: &Limits) -> Result<Framing, RequestError> {
    let mut length: Option<u64> = None;
    let mut codings = 0usize;
    // Whether the last coding so far is `chunked`, and whether one before it was.
    let (mut chunked_last, mut chunked_before) = (false, false);
    let mut unknown = false;
    for (name, value) in head.headers() {
        if name.eq_ignore_ascii_case(b"content-length") {
            // `Content-Length: 5, 5` and repeated equal fields are one value
            // (RFC 9110 §8.6); anything else is an error.
            if list_members(value).next().is_none() {
                return Err(RequestError::MalformedRequest("empty Content-Length"));
            }
            for member in list_members(value) {
                let n = parse_decimal(member).ok_or(RequestError::MalformedRequest(
                    "Content-Length is not a number",
                ))?;
                if length.is_some_and(|l| l != n) {
                    return Err(RequestError::MalformedRequest(
                        "two different Content-Length values",
                    ));
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Several fields are one list, in order (RFC 9110 §5.3).
            for coding in list_members(value) {
                chunked_before |= chunked_last;
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                unknown |= !chunked_last;
                codings += 1;
            }
        }
    }
    if head.values("transfer-encoding").next().is_some() {
        if head.minor_version == 0 {
            return Err(RequestError::MalformedRequest(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if length.is_some() {
            return Err(RequestError::MalformedRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if codings == 0 {
            return Err(RequestError::MalformedRequest("empty Transfer-Encoding"));
        }
        if chunked_before {
            return Err(RequestError::MalformedRequest(
                "chunked is not the last transfer coding",
            ));
        }
        if unknown {
            return Err(RequestError::Unsupported(
                "transfer codings other than chunked",
            ));
        }
        return Ok(Framing::Chunked);
    }
    match length {
        Some(n) if n > limits.max_body_bytes => Err(RequestError::BodyTooLarge),
        Some(n) => Ok(Framing::Length(n)),
        None => Ok(Framing::Length(0)),
    }
}

/// `true` when the client waits for `100 Continue` before sending the body
/// (RFC 9110 §10.1.1; only HTTP/1.1 clients may ask).
#[must_use]
pub(crate) fn expects_continue(head: &RequestHead) -> bool {
    head.minor_version >= 1
        && head
            .values("expect")
            .any(|v| v.trim_ascii().eq_ignore_ascii_case(b"100-continue"))
}

/// A decimal number of at most 19 digits (fits u64); `None` otherwise.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Where a chunked decoder is (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes to go.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer lines until a blank line.
    Trailers,
}

/// Decodes one request body into a buffer, whatever its framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecoder {
    /// This many `Content-Length` bytes still to come.
    Length(u64),
    /// A chunked body in progress.
    Chunked(ChunkState),
    /// The body is complete.
    Done,
}

/// The progress of a chunked body (where it is, and body bytes decoded so
/// far, for the size limit); opaque outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkState(Chunk, u64);

impl BodyDecoder {
    /// A decoder for `framing`.
    #[must_use]
    pub fn new(framing: Framing) -> Self {
        match framing {
            Framing::Length(0) => Self::Done,
            Framing::Length(n) => Self::Length(n),
            Framing::Chunked => Self::Chunked(ChunkState(Chunk::Size, 0)),
        }
    }

    /// `true` once the whole body has been decoded.
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done)
    }

    /// Bytes of a `Content-Length` body still to come (a hint for how much
    /// to read); `None` for chunked.
    #[must_use]
    pub(crate) fn remaining(&self) -> Option<u64> {
        match self {
            Self::Length(n) => Some(*n),
            Self::Done => Some(0),
            Self::Chunked(_) => None,
        }
    }

    /// Decodes as much of `input` as it can, appending body bytes to `out`
    /// (which the caller may empty between calls, e.g. to spill it to a
    /// file). Returns how many bytes of `input` were used; the rest belongs
    /// to the next request (pipelining) or is incomplete (read more, call
    /// again).
    ///
    /// # Errors
    /// [`RequestError::MalformedRequest`] for a chunk-size line, chunk
    /// extension or trailer line that breaks RFC 9112 §7.1 or is longer
    /// than `max_chunk_line_bytes`, or chunk data without its CRLF, and
    /// [`RequestError::BodyTooLarge`] when the whole body would exceed
    /// `max_body_bytes` (a `Content-Length` over it is refused by
    /// [`framing`] before any body is read).
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limits: &Limits,
    ) -> Result<usize, RequestError> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self {
                Self::Done => return Ok(used),
                Self::Length(n) => {
                    let take = rest.len().min(usize::try_from(*n).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..take]);
                    *n -= take as u64;
                    used += take;
                    if *n == 0 {
                        *self = Self::Done;
                    }
                    return Ok(used);
                }
                Self::Chunked(ChunkState(state, decoded)) => {
                    let before = out.len();
                    let (n, next) = chunk_step(*state, rest, out, *decoded, limits)?;
                    *decoded += (out.len() - before) as u64;
                    used += n;
                    match next {
                        None => {
                            *self = Self::Done;
                            return Ok(used);
                        }
                        Some(s) if n == 0 && s == *state => return Ok(used),
                        Some(s) => *state = s,
                    }
                }
            }
        }
    }
}

/// One step of chunked decoding: bytes used and the next state (`None` at
/// the end of the body). Using 0 bytes without a state change means "need
/// more input". Lines are checked by [`chunk_line`] as far as they have
/// arrived.
fn chunk_step(
    state: Chunk,
    rest: &[u8],
    out: &mut Vec<u8>,
    decoded: u64,
    limits: &Limits,
) -> Result<(usize, Option<Chunk>), RequestError> {
    let max_line = limits.max_chunk_line_bytes;
    match state {
        Chunk::Size => {
            let room = limits.max_body_bytes.saturating_sub(decoded);
            Ok(match chunk_line::size_line(rest, max_line, room)? {
                None => (0, Some(state)),
                Some((n, 0)) => (n, Some(Chunk::Trailers)),
                Some((n, size)) => (n, Some(Chunk::Data(size))),
            })
        }
        Chunk::Data(left) => {
            let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            out.extend_from_slice(&rest[..take]);
            let left = left - take as u64;
            Ok((
                take,
                Some(if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                }),
            ))
        }
        Chunk::DataEnd => match rest {
            [b'\r', b'\n', ..] => Ok((2, Some(Chunk::Size))),
            [] | [b'\r'] => Ok((0, Some(state))),
            _ => Err(RequestError::MalformedRequest(
                "chunk data not followed by CRLF",
            )),
        },
        // Trailer fields are checked, then dropped: the environ has no
        // place for them (PEP 3333 predates them).
        Chunk::Trailers => Ok(match chunk_line::trailer_line(rest, max_line)? {
            None => (0, Some(state)),
            Some(2) => (2, None),
            Some(n) => (n, Some(Chunk::Trailers)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_head;
    use super::*;

    fn head(headers: &str) -> RequestHead {
        let raw = format!("POST / HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
        parse_head(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
    }

    fn limits() -> Limits {
        Limits {
            max_body_bytes: 100,
            ..Limits::default()
        }
    }

    #[test]
    fn framing_table() {
        for (headers, want) in [
            ("", Ok(Framing::Length(0))),
            ("Content-Length: 5\r\n", Ok(Framing::Length(5))),
            (
                "Content-Length: 5\r\nContent-Length: 5\r\n",
                Ok(Framing::Length(5)),
            ),
            ("Content-Length: 5, 5\r\n", Ok(Framing::Length(5))),
            ("Transfer-Encoding: chunked\r\n", Ok(Framing::Chunked)),
            ("Transfer-Encoding: CHUNKED\r\n", Ok(Framing::Chunked)),
            ("Content-Length: 5\r\nContent-Length: 6\r\n", Err(400)),
            ("Content-Length: 5, 6\r\n", Err(400)),
            ("Content-Length: -1\r\n", Err(400)),
            ("Content-Length: +5\r\n", Err(400)),
            ("Content-Length: 0x10\r\n", Err(400)),
            ("Content-Length: \r\n", Err(400)),
            ("Content-Length: 99999999999999999999999\r\n", Err(400)),
            ("Content-Length: 101\r\n", Err(413)),
            (
                "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                Err(400),
            ),
            ("Transfer-Encoding: chunked, chunked\r\n", Err(400)),
            ("Transfer-Encoding: gzip, chunked\r\n", Err(501)),
            ("Transfer-Encoding: gzip\r\n", Err(501)),
            ("Transfer-Encoding: chunked, gzip\r\n", Err(400)),
            ("Transfer-Encoding: chunked, gzip, chunked\r\n", Err(400)),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
                Err(400),
            ),
            (
                "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                Err(501),
            ),
            ("Transfer-Encoding: identity\r\n", Err(501)),
            ("Transfer-Encoding: \r\n", Err(400)),
        ] {
            let got = framing(&head(headers), &limits()).map_err(RequestError::code);
            assert_eq!(got, want, "{headers:?}");
        }
    }

    #[test]
    fn transfer_encoding_on_http10_is_400() {
        let raw = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        let h = parse_head(raw, &Limits::default()).unwrap().unwrap();
        assert_eq!(framing(&h, &limits()).map_err(RequestError::code), Err(400));
    }

    #[test]
    fn expect_continue() {
        assert!(expects_continue(&head("Expect: 100-Continue\r\n")));
        assert!(!expects_continue(&head("")));
    }

    /// What decoding gave: the body, the bytes used, whether it is done.
    type Decoded = Result<(Vec<u8>, usize, bool), RequestError>;

    /// Decodes `input` fed in pieces ending at `ends`, keeping unused bytes
    /// as the event loop does; stops at the end of the body.
    fn decode_in_pieces(
        framing: Framing,
        input: &[u8],
        ends: &[usize],
        limits: &Limits,
    ) -> Decoded {
        let mut d = BodyDecoder::new(framing);
        let (mut out, mut pending, mut fed) = (Vec::new(), Vec::new(), 0);
        for &end in ends.iter().chain([&input.len()]) {
            pending.extend_from_slice(&input[fed..end.max(fed)]);
            fed = end.max(fed);
            let used = d.decode(&pending, &mut out, limits)?;
            pending.drain(..used);
            if d.is_done() {
                break;
            }
        }
        Ok((out, fed - pending.len(), d.is_done()))
    }

    /// Decodes `input` whole, split at each single point, and byte by
    /// byte; every way must give the same answer, which is returned.
    fn decode_with(framing: Framing, input: &[u8], limits: &Limits) -> Decoded {
        let whole = decode_in_pieces(framing, input, &[], limits);
        for cut in 0..input.len() {
            let split = decode_in_pieces(framing, input, &[cut], limits);
            assert_eq!(split, whole, "{input:?} split at {cut}");
        }
        let every: Vec<usize> = (0..input.len()).collect();
        let bytes = decode_in_pieces(framing, input, &every, limits);
        assert_eq!(bytes, whole, "{input:?} byte by byte");
        whole
    }

    fn decode_all(framing: Framing, input: &[u8]) -> Decoded {
        decode_with(framing, input, &limits())
    }

    #[test]
    fn length_body_leaves_the_next_request() {
        let (out, used, done) = decode_all(Framing::Length(3), b"abcGET").unwrap();
        assert_eq!((out.as_slice(), used, done), (&b"abc"[..], 3, true));
        let (out, used, done) = decode_all(Framing::Length(5), b"ab").unwrap();
        assert_eq!((out.as_slice(), used, done), (&b"ab"[..], 2, false));
    }

    #[test]
    fn chunked_whole_split_and_byte_by_byte() {
        let body = b"4\r\nWiki\r\n5 ;\text=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (out, used, done) = decode_all(Framing::Chunked, body).unwrap();
        assert_eq!(
            (out.as_slice(), used, done),
            (&b"Wikipedia"[..], body.len() - 4, true)
        );
    }

    #[test]
    fn chunked_errors() {
        for (body, code) in [
            (&b"zz\r\n"[..], 400),
            (b"\r\n", 400),
            (b"4\r\nWikiXX", 400),
            (b"65\r\n", 413),
            (b"65;a=b\r\n", 413),
            // Refused at its size, before the bad extension.
            (b"65;\x00\r\n", 413),
            (b"ffffffffffffffffff\r\n", 400),
            (b"10000000000000000\r\n", 400),
            (b"4 \r\nWiki\r\n", 400),
            (b"4\t\r\nWiki\r\n", 400),
            (b"4;a\nb\r\nWiki\r\n", 400),
            (b"4;a\x00\r\nWiki\r\n", 400),
            (b"4\nWiki\r\n", 400),
            (b"4\rWiki\r\n", 400),
            (b"4\r\nWiki\n0\r\n\r\n", 400),
        ] {
            let got = decode_all(Framing::Chunked, body)
                .map(|_| ())
                .map_err(RequestError::code);
            assert_eq!(got, Err(code), "{body:?}");
        }
    }

    #[test]
    fn chunk_extensions_follow_rfc_9112() {
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ),
        // a name a token, a value a token or a quoted-string.
        for ext in [
            &b";a"[..],
            b";a=b",
            b";a=\"b c\"",
            b" ; a = b",
            b"\t;\ta\t=\t\"x\"",
            b";a;b=c;d=\"e;f\"",
            b";a=b ;c",
            b";a=\"b\" ;c",
            b";a=\"\"",
            b";a=\"q\\\"uote\\\\\"",
            b";a=\"caf\xe9\"",
            b";!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz",
        ] {
            let body = [&b"2"[..], ext, b"\r\naa\r\n0", ext, b"\r\n\r\n"].concat();
            let got = decode_all(Framing::Chunked, &body).map(|(out, _, done)| (out, done));
            assert_eq!(
                got,
                Ok((b"aa".to_vec(), true)),
                "{:?}",
                String::from_utf8_lossy(ext)
            );
        }
        for ext in [
            &b";"[..],
            b";=x",
            b";a=",
            b";a b",
            b";a=\"b",
            b";a=b c",
            b";a=b ",
            b";a ",
            b"; ",
            b";;a",
            b";a==b",
            b";a=b\"c\"",
            b";a=\"b\"c",
            b";\"a\"",
            b";a=\"b\x00\"",
            b";a=\"b\\\x01\"",
            b";a=\"b\x7f\"",
            b";a=\"b\nc\"",
            b";a(b)",
            b";a=b\x0bc",
            b";a=caf\xe9",
            b" a",
            b"x",
        ] {
            let body = [&b"2"[..], ext, b"\r\naa\r\n0\r\n\r\n"].concat();
            let got = decode_all(Framing::Chunked, &body).map_err(RequestError::code);
            assert_eq!(got, Err(400), "{:?}", String::from_utf8_lossy(ext));
        }
        // Refused at once, without waiting for the 32 bytes of data.
        let got = decode_all(Framing::Chunked, b"20;invalid=\r\n");
        assert_eq!(got.map_err(RequestError::code), Err(400));
        let got = decode_all(Framing::Chunked, b"20;invalid=");
        assert_eq!(
            got,
            Ok((Vec::new(), 0, false)),
            "undecided until the line ends"
        );
    }

    #[test]
    fn trailer_lines_are_field_lines() {
        for trailers in [
            &b""[..],
            b"X: a\r\n",
            b"X:\r\n",
            b"X-Y:a b\t c \r\nZ: 1\r\n",
            b"X: caf\xe9\r\n",
            b"X: a:b\r\n",
        ] {
            let body = [&b"2\r\naa\r\n0\r\n"[..], trailers, b"\r\nNEXT"].concat();
            let got = decode_all(Framing::Chunked, &body);
            let want = (b"aa".to_vec(), body.len() - 4, true);
            assert_eq!(got, Ok(want), "{:?}", String::from_utf8_lossy(trailers));
        }
        for trailers in [
            // A bare LF must not end a trailer line (or the section): the
            // request after it would be swallowed, or framed otherwise by a
            // proxy.
            &b"X: a\n\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"[..],
            b"X: a\n\r\n",
            b"\n",
            b"X: a\x00\r\n",
            b"X: a\x01\r\n",
            b"X: a\x7f\r\n",
            b"X: a\rb\r\n",
            b"X\r\n",
            b"X a\r\n",
            b"X Y: a\r\n",
            b"X : a\r\n",
            b": a\r\n",
            b"X(a): 1\r\n",
            b" X: a\r\n",
            b"X: a\r\n folded\r\n",
            b"\x00\r\n",
        ] {
            let body = [&b"2\r\naa\r\n0\r\n"[..], trailers, b"\r\n"].concat();
            let got = decode_all(Framing::Chunked, &body).map_err(RequestError::code);
            assert_eq!(got, Err(400), "{:?}", String::from_utf8_lossy(trailers));
        }
    }

    #[test]
    fn chunk_line_limit_counts_the_line_without_its_crlf() {
        let limits = Limits {
            max_chunk_line_bytes: 16,
            max_body_bytes: 100,
            ..Limits::default()
        };
        let decode = |input: &[u8]| decode_with(Framing::Chunked, input, &limits);
        // Size lines and trailer lines of 16 bytes pass, whole, split
        // anywhere (between CR and LF too) and byte by byte; 17 do not.
        let size_line = |len: usize| format!("2;{}", "a".repeat(len - 2));
        let trailer = |len: usize| format!("X:{}", "a".repeat(len - 2));
        for (line, tail) in [(size_line(16), ""), (trailer(16), "trailer")] {
            let body = if tail.is_empty() {
                format!("{line}\r\naa\r\n0\r\n\r\n")
            } else {
                format!("2\r\naa\r\n0\r\n{line}\r\n\r\n")
            };
            let got = decode(body.as_bytes()).map(|(out, _, done)| (out, done));
            assert_eq!(got, Ok((b"aa".to_vec(), true)), "{body:?}");
        }
        for body in [
            format!("{}\r\naa\r\n0\r\n\r\n", size_line(17)),
            format!("2\r\naa\r\n0\r\n{}\r\n\r\n", trailer(17)),
            format!("{}\r\n", "0".repeat(17)),
            // Refused at the 17th byte, before the line ends.
            size_line(17),
            size_line(200),
            trailer(200),
        ] {
            let got = decode(body.as_bytes()).map_err(RequestError::code);
            assert_eq!(got, Err(400), "{body:?}");
        }
    }

    #[test]
    fn chunk_line_limit_at_its_default() {
        let limits = Limits::default();
        let max = limits.max_chunk_line_bytes;
        assert_eq!(max, 4096);
        let line = |len: usize| format!("2;{}", "a".repeat(len - 2));
        let body = |len: usize| format!("{}\r\naa\r\n0\r\n\r\n", line(len));
        let pieces = |input: &str, cut: usize| {
            decode_in_pieces(Framing::Chunked, input.as_bytes(), &[cut], &limits)
                .map_err(RequestError::code)
        };
        // 4,096 bytes: accepted whole and split between CR and LF.
        assert!(pieces(&body(max), 0).is_ok());
        assert!(pieces(&body(max), max + 1).is_ok());
        // 4,097 and a complete 20 KiB line: refused whole and split.
        for len in [max + 1, 4200, 20 * 1024] {
            for cut in [0, 100, len, len + 1] {
                assert_eq!(pieces(&body(len), cut), Err(400), "{len} split at {cut}");
            }
        }
    }
}
