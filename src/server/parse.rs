//! [Stage 2](super): Request head parsing: bytes in, [`RequestHead`] out (sans-IO).
//!
//! httparse is a push parser: `Partial` means "feed more bytes", so
//! [`parse_head`] returns `Ok(None)` until the head is complete. Limits from
//! [`Limits`] turn an endless head into `414`/`431` early, without waiting
//! for the client to finish it.

use std::mem::MaybeUninit;
use std::ops::Range;

use super::config::Limits;
use super::error::RequestError;
use super::target::{check_target, is_valid_host};

/// Header slots on the stack; a larger `max_header_count` uses the heap.
const STACK_HEADERS: usize = 128;

/// The methods of RFC 9110 §9.3 and `PATCH` (RFC 5789): one of these is
/// kept as a `&'static str`, so reading it needs no UTF-8 check.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// A parsed request head, owning a copy of its bytes (`raw`) so the read
/// buffer can be reused at once; fields are ranges into `raw`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHead {
    raw: Vec<u8>,
    method: Range<usize>,
    /// The method, when it is one of [`KNOWN_METHODS`].
    known_method: Option<&'static str>,
    target: Range<usize>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    /// `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub(crate) minor_version: u8,
    /// Length of the head in the input, blank line included: the body (or
    /// the next pipelined request) starts at this offset.
    pub head_len: usize,
    /// Whether the client asked to keep the connection open: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `Connection:
    /// keep-alive` (RFC 9112 §9.3).
    pub(crate) keep_alive: bool,
}

impl RequestHead {
    /// The method, e.g. `GET` (an RFC 9110 token, so ASCII).
    #[must_use]
    pub fn method(&self) -> &str {
        match self.known_method {
            Some(m) => m,
            None => std::str::from_utf8(&self.raw[self.method.clone()]).unwrap_or(""),
        }
    }

    /// The request-target exactly as sent, e.g. `/a%20b?x=1`.
    #[must_use]
    pub fn target(&self) -> &[u8] {
        &self.raw[self.target.clone()]
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    #[must_use]
    pub fn protocol(&self) -> &'static str {
        if self.minor_version == 0 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        }
    }

    /// The header fields in order: name as sent (an ASCII token, RFC 9110
    /// §5.1, as httparse checked), raw value.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.raw[n.clone()], &self.raw[v.clone()]))
    }

    /// The values of every field called `name` (any case), in order.
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// `true` when the method is `HEAD` (the response then has no body).
    #[must_use]
    pub fn is_head(&self) -> bool {
        self.method() == "HEAD"
    }
}

/// Splits a field value into its comma-separated list members (RFC 9110
/// §5.6.1), trimmed, empty members skipped.
pub(crate) fn list_members(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|m| !m.is_empty())
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)`: incomplete, read more. `Ok(Some(head))`: complete; the body
/// starts at `head.head_len`.
///
/// # Errors
/// [`RequestError::UriTooLong`] (414) for a request line over
/// `max_request_line_bytes`, [`RequestError::HeaderTooLarge`] (431) for a head over
/// `max_header_bytes` or `max_header_count` fields,
/// [`RequestError::VersionNotSupported`] (505) for a well-formed HTTP-version of a
/// major version other than 1 (RFC 9112 §2.3; `HTTP/1.x` with `x > 1` is
/// parsed as HTTP/1.1), and [`RequestError::MalformedRequest`] (400) for bytes that
/// are not an RFC 9112 request head, a malformed HTTP-version, a
/// request-target in no form its method allows (§3.2), an HTTP/1.1
/// request without exactly one valid `Host` (§3.2), or a bare LF anywhere
/// in the head (§2.2, §11.2). The answer is the same however the bytes were
/// split into reads: calling this on each longer prefix, the first answer
/// that is not `Ok(None)` is the answer for every longer one.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, RequestError> {
    parse_head_reusing(buf, limits, &mut None)
}

/// [`parse_head`], writing a complete head into the buffers of `spare` (a
/// head done with, taken) instead of new ones: a connection's heads reuse
/// one allocation.
///
/// # Errors
/// As [`parse_head`].
pub(crate) fn parse_head_reusing(
    buf: &[u8],
    limits: &Limits,
    spare: &mut Option<RequestHead>,
) -> Result<Option<RequestHead>, RequestError> {
    parse_head_with(buf, limits, true, spare)
}

/// [`parse_head`]; `other_versions`: judge a version httparse refuses by
/// [`other_version`] (else it is a 400).
///
/// The answer depends only on the bytes, never on how they were split into
/// reads: a limit is crossed at one byte (the first past
/// `max_request_line_bytes` on the request line, the first past
/// `max_header_bytes`), a bare LF is one byte, and whichever comes first
/// decides, with the bytes before it parsed as a head that may already be
/// complete or wrong. So a head refused in one read is refused with the same
/// status when it arrives byte by byte, and the reverse.
fn parse_head_with(
    buf: &[u8],
    limits: &Limits,
    other_versions: bool,
    spare: &mut Option<RequestHead>,
) -> Result<Option<RequestHead>, RequestError> {
    let (scan, past_limit) = within_limits(buf, limits);
    let parsed = parse_prefix(scan, limits, other_versions, spare);
    // A bare LF in the head, before whatever was decided: the head before
    // it decides, else it is refused (RFC 9112 §2.2 lets a recipient take
    // it as a line end, but a front end that does not would see another
    // request in the same bytes: the smuggling shape of §11.2).
    let seen = match &parsed {
        Ok(Some(head)) => head.head_len,
        _ => scan.len(),
    };
    let (parsed, undecided) = match bare_lf(&scan[..seen]) {
        Some(at) => (
            parse_prefix(&scan[..at], limits, other_versions, spare),
            Some(RequestError::MalformedRequest(
                "bare LF in the request head",
            )),
        ),
        None => (parsed, past_limit),
    };
    match parsed {
        Ok(None) => undecided.map_or(Ok(None), Err),
        decided => decided,
    }
}

/// The part of `buf` a head may occupy, and the error for a head that is
/// still incomplete at its end: the bytes before the first byte past the
/// request-line limit (414) or past `max_header_bytes` (431), whichever
/// comes first; all of `buf` and no error when it crosses neither.
fn within_limits<'b>(buf: &'b [u8], limits: &Limits) -> (&'b [u8], Option<RequestError>) {
    let line = past_request_line(buf, limits.max_request_line_bytes);
    let head = (buf.len() > limits.max_header_bytes).then_some(limits.max_header_bytes);
    match (line, head) {
        (Some(at), Some(h)) if h < at => (&buf[..h], Some(RequestError::HeaderTooLarge)),
        (Some(at), _) => (&buf[..at], Some(RequestError::UriTooLong)),
        (None, Some(h)) => (&buf[..h], Some(RequestError::HeaderTooLarge)),
        (None, None) => (buf, None),
    }
}

/// Parses the head in `buf` with httparse, then checks what httparse does
/// not (Host, the request-target's form, the version's shape).
fn parse_prefix(
    buf: &[u8],
    limits: &Limits,
    other_versions: bool,
    spare: &mut Option<RequestHead>,
) -> Result<Option<RequestHead>, RequestError> {
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut on_heap: Vec<MaybeUninit<httparse::Header<'_>>> = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] =
        if limits.max_header_count <= STACK_HEADERS {
            &mut stack[..limits.max_header_count]
        } else {
            on_heap.resize_with(limits.max_header_count, MaybeUninit::uninit);
            &mut on_heap
        };
    let mut parsed = httparse::Request::new(&mut []);
    let status = match parsed.parse_with_uninit_headers(buf, slots) {
        Err(httparse::Error::Version) if other_versions => return other_version(buf, limits),
        Err(httparse::Error::Version) => {
            return Err(RequestError::MalformedRequest("malformed HTTP version"))
        }
        other => other?,
    };
    let httparse::Status::Complete(head_len) = status else {
        return Ok(None);
    };
    let (Some(method), Some(target), Some(minor_version)) =
        (parsed.method, parsed.path, parsed.version)
    else {
        return Err(RequestError::MalformedRequest("incomplete request line"));
    };
    // Every slice httparse returns points into `buf[..head_len]`; store
    // offsets so the head owns one copy of its bytes.
    let base = buf.as_ptr() as usize;
    let range = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    let (mut raw, mut headers) = spare.take().map(|h| (h.raw, h.headers)).unwrap_or_default();
    raw.clear();
    raw.extend_from_slice(&buf[..head_len]);
    headers.clear();
    let ranges = parsed.headers.iter();
    headers.extend(ranges.map(|h| (range(h.name.as_bytes()), range(h.value))));
    let mut head = RequestHead {
        raw,
        method: range(method.as_bytes()),
        known_method: KNOWN_METHODS.into_iter().find(|&m| m == method),
        target: range(target.as_bytes()),
        headers,
        minor_version,
        head_len,
        keep_alive: false,
    };
    let (mut hosts, mut close, mut keep) = (0, false, false);
    for (name, value) in head.headers() {
        if name.eq_ignore_ascii_case(b"host") {
            if !is_valid_host(value) {
                return Err(RequestError::MalformedRequest("invalid Host header"));
            }
            hosts += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in list_members(value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    check_target(head.method(), head.target())?;
    // A `close` anywhere wins over a `keep-alive` (RFC 9112 §9.6).
    head.keep_alive = !close && (minor_version >= 1 || keep);
    if minor_version >= 1 && hosts != 1 {
        return Err(RequestError::MalformedRequest(
            "an HTTP/1.1 request needs exactly one Host header",
        ));
    }
    Ok(Some(head))
}

/// Judges a version token that httparse refused (it knows only `HTTP/1.0`
/// and `HTTP/1.1`) by RFC 9112 §2.3: `HTTP-version = "HTTP/" DIGIT "."
/// DIGIT`, case-sensitive.
///
/// A well-formed `HTTP/1.x` with `x > 1` is a major version the server
/// implements with a higher minor one, so the head is parsed again as
/// HTTP/1.1 ("process the message as if it were in the highest minor
/// version ... to which the recipient is conformant"). Another major, such as
/// `HTTP/2.0` or HTTP/2's `PRI * HTTP/2.0` preface, is a 505; anything else
/// (`http/1.1`, `HTTP/1.x`, `HTTP/11`, `HTTP/2.00`) is a 400. A token whose
/// line has not ended yet is `Ok(None)` while it can still become either.
fn other_version(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, RequestError> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    let end = rest.iter().position(|&b| b == b'\n');
    let line = &rest[..end.unwrap_or(rest.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // httparse reads `method SP request-target SP HTTP-version`, one space
    // each: the version is what follows the second space.
    let mut spaces = line.iter().enumerate().filter(|&(_, &b)| b == b' ');
    let at = spaces.nth(1).map_or(line.len(), |(sp, _)| sp + 1);
    let token = &line[at..];
    let shape = b"HTTP/0.0";
    let fits = |(i, &b): (usize, &u8)| {
        if shape[i] == b'0' {
            b.is_ascii_digit()
        } else {
            b == shape[i]
        }
    };
    let well_formed = token.len() <= shape.len() && token.iter().enumerate().all(fits);
    match (well_formed, end, token.len() == shape.len()) {
        (true, Some(_), true) if token[5] == b'1' => {
            let mut copy = buf.to_vec();
            copy[start + at + 7] = b'1';
            parse_head_with(&copy, limits, false, &mut None)
        }
        (true, Some(_), true) => Err(RequestError::VersionNotSupported),
        (true, None, _) => Ok(None),
        _ => Err(RequestError::MalformedRequest("malformed HTTP version")),
    }
}

/// Where a request line longer than `max` bytes (CRLF excluded; leading
/// blank lines, which RFC 9112 §2.2 lets a server skip, do not count) is
/// known to be too long: the offset of its first byte past `max`. A CR
/// there may be the line's own CR: the byte after it decides. `None` while
/// the line fits.
fn past_request_line(buf: &[u8], max: usize) -> Option<usize> {
    if buf.len() <= max {
        // Nothing to scan: no line in it can be longer (the usual case).
        return None;
    }
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    if line.iter().take(max + 1).any(|&b| b == b'\n') {
        return None;
    }
    match (line.get(max)?, line.get(max + 1)) {
        (b'\r', Some(b'\n') | None) => None,
        (b'\r', Some(_)) => Some(start + max + 1),
        _ => Some(start + max),
    }
}

/// The offset of the first LF in `head` that does not follow a CR.
///
/// The bare LFs are counted first, in a loop without an early exit that
/// the compiler vectorises: every request head is checked, nearly none has
/// one, and a byte-by-byte search would cost several instructions a byte
/// on that hot path.
fn bare_lf(head: &[u8]) -> Option<usize> {
    let (Some(&first), Some(rest)) = (head.first(), head.get(1..)) else {
        return None;
    };
    let before = &head[..head.len() - 1];
    let bare = rest
        .iter()
        .zip(before)
        .filter(|&(&b, &prev)| b == b'\n' && prev != b'\r')
        .count();
    if bare == 0 && first != b'\n' {
        return None;
    }
    let after_cr = std::iter::once(&0).chain(head);
    after_cr
        .zip(head)
        .position(|(&before, &b)| b == b'\n' && before != b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_head_is_the_head_parsed_afresh() {
        let limits = Limits::default();
        let first = b"POST /a/long/path HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
        let second = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nrest";
        let mut spare = parse_head(first, &limits).unwrap();
        let reused = parse_head_reusing(second, &limits, &mut spare).unwrap();
        assert!(spare.is_none(), "the spare was taken");
        assert_eq!(reused, parse_head(second, &limits).unwrap());
        // Incomplete: the spare stays for the next try.
        let mut spare = reused;
        assert_eq!(
            parse_head_reusing(b"GET / HT", &limits, &mut spare),
            Ok(None)
        );
        assert!(spare.is_some());
    }

    fn limits() -> Limits {
        Limits {
            max_request_line_bytes: 40,
            max_header_bytes: 200,
            max_header_count: 4,
            ..Limits::default()
        }
    }

    /// Parses `buf` as a connection does, reads ending at `ends`: each read
    /// parses all the bytes so far, and the first answer that is not "read
    /// more" stands.
    fn parse_in_reads(
        buf: &[u8],
        ends: &[usize],
        limits: &Limits,
    ) -> Result<Option<RequestHead>, RequestError> {
        for &end in ends.iter().chain([&buf.len()]) {
            match parse_head(&buf[..end.min(buf.len())], limits) {
                Ok(None) => {}
                decided => return decided,
            }
        }
        Ok(None)
    }

    /// Parses `buf` whole, in two reads split at each point, and byte by
    /// byte; every way must give the same answer, which is returned.
    fn parse_with(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, RequestError> {
        let whole = parse_head(buf, limits);
        for cut in 0..buf.len() {
            let split = parse_in_reads(buf, &[cut], limits);
            assert_eq!(split, whole, "{buf:?} split at {cut}");
        }
        let every: Vec<usize> = (0..buf.len()).collect();
        assert_eq!(
            parse_in_reads(buf, &every, limits),
            whole,
            "{buf:?} byte by byte"
        );
        whole
    }

    fn parse(b: &[u8]) -> Result<Option<RequestHead>, RequestError> {
        parse_with(b, &limits())
    }

    #[test]
    fn complete_request() {
        let buf = b"GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\nBODY";
        let head = parse(buf).unwrap().unwrap();
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), b"/a%20b?x=1");
        assert_eq!(head.protocol(), "HTTP/1.1");
        assert_eq!(head.head_len, buf.len() - 4);
        assert!(head.keep_alive);
        let hs: Vec<_> = head.headers().collect();
        assert_eq!(
            hs,
            vec![(&b"Host"[..], &b"h"[..]), (&b"X-A"[..], &b"1"[..])]
        );
        assert!(!head.is_head());
    }

    #[test]
    fn partial_until_blank_line() {
        let full = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(parse(full).unwrap().is_some());
    }

    #[test]
    fn leading_blank_lines_are_skipped() {
        // RFC 9112 §2.2: a server SHOULD ignore a CRLF before the request line.
        let head = parse(b"\r\nGET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.method(), "GET");
    }

    #[test]
    fn keep_alive_rules() {
        for (req, keep) in [
            (&b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"[..], true),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ] {
            assert_eq!(parse(req).unwrap().unwrap().keep_alive, keep, "{req:?}");
        }
    }

    #[test]
    fn errors_and_their_status() {
        for (req, code) in [
            (&b"garbage\r\n\r\n"[..], 400),
            (b"{}POST / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
            (b"GET / HTTP/1.0\r\nHost: a@b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
            (b"GET / HTTP/2.0\r\n\r\n", 505),
            (b"GET / HTTP/0.9\r\n\r\n", 505),
            (b"GET / http/1.1\r\nHost: h\r\n\r\n", 400),
            (b"GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400),
            (b"GET / HTTP/11\r\nHost: h\r\n\r\n", 400),
            (b"GET / HTTP/2.00\r\n\r\n", 400),
            (b"GET / HTTP/1.1x\r\n\r\n", 400),
            // A higher minor version is HTTP/1.1, Host rule included.
            (b"GET / HTTP/1.2\r\n\r\n", 400),
            (b"GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"GET h:1 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"CONNECT h: HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"CONNECT u@h:1 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"GET http:/p HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            (b"GET 1x://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET /caf\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n".as_bytes(), 400),
            (
                b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n",
                414,
            ),
            // The long line is refused before its end arrives.
            (&[b'A'; 60][..], 414),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
                431,
            ),
            (
                &[&b"GET / HTTP/1.1\r\nHost: h\r\nA: "[..], &[b'x'; 300]].concat(),
                431,
            ),
        ] {
            let err = parse(req).unwrap_err();
            assert_eq!(
                err.code(),
                code,
                "{:?} -> {err}",
                String::from_utf8_lossy(req)
            );
        }
    }

    #[test]
    fn target_forms_per_method() {
        for (method, target) in [
            ("GET", "/"),
            ("GET", "//a/b?c"),
            ("GET", "http://h/p?q"),
            ("POST", "https://u@h:8080"),
            ("OPTIONS", "*"),
            ("OPTIONS", "/p"),
            ("CONNECT", "example.com:443"),
            ("CONNECT", "[::1]:1"),
        ] {
            let req = format!("{method} {target} HTTP/1.1\r\nHost: h\r\n\r\n");
            assert!(parse(req.as_bytes()).unwrap().is_some(), "{req}");
        }
    }

    #[test]
    fn versions() {
        // HTTP/1.x for x > 1 is served as HTTP/1.1.
        let head = parse(b"GET / HTTP/1.9\r\nHost: h\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((head.protocol(), head.keep_alive), ("HTTP/1.1", true));
        // Undecided until the line ends: "HTTP/2.0" is a 505, "HTTP/2.00" a 400.
        for partial in [&b"GET / HTTP/2"[..], b"GET / HTTP/2.0", b"GET / H"] {
            assert_eq!(parse(partial), Ok(None), "{partial:?}");
        }
        assert_eq!(
            parse(b"GET / HTTP/2.0\r").map_err(RequestError::code),
            Ok(None)
        );
        assert_eq!(parse(b"GET / HTTPS").map_err(RequestError::code), Err(400));
        // Only the token after the second space is the version.
        let twice = parse(b"GET /a HTTP/1.5 HTTP/1.5\r\nHost: h\r\n\r\n");
        assert_eq!(twice.map_err(RequestError::code), Err(400));
    }

    #[test]
    fn request_line_limit_is_exact() {
        let ok = b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n"; // line of 40 bytes
        assert_eq!(ok.iter().position(|&b| b == b'\r'), Some(40));
        assert!(parse(ok).unwrap().is_some());
        let long = b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n";
        assert_eq!(parse(long), Err(RequestError::UriTooLong));
    }

    #[test]
    fn a_bare_lf_anywhere_in_the_head_is_refused() {
        for req in [
            &b"GET / HTTP/1.1\nHost: h\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: h\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\n\n",
            b"GET / HTTP/1.1\nHost: h\n\n",
            b"GET / HTTP/1.0\n\n",
            b"\nGET / HTTP/1.0\r\n\r\n",
            b"\r\n\nGET / HTTP/1.0\r\n\r\n",
            b"GET / HTTP/2.0\n\n",
            b"GET /\n",
            // The smuggling shape: a front end that does not end lines at a
            // bare LF forwards this as one request with a 23-byte body.
            b"GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\n\
              GET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ] {
            let got = parse(req);
            let want = Err(RequestError::MalformedRequest(
                "bare LF in the request head",
            ));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(req));
        }
        // An error earlier in the head than the bare LF is the answer.
        assert_eq!(
            parse(b"GET / HTTP/2.0\r\nX: a\n\r\n"),
            Err(RequestError::VersionNotSupported)
        );
        assert_eq!(
            parse(&[&[b'a'; 41][..], b"\n"].concat()),
            Err(RequestError::UriTooLong)
        );
        // A bare LF after a complete head belongs to the body.
        let post = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n\n\n";
        let head = parse(post).unwrap().unwrap();
        assert_eq!(head.head_len, post.len() - 2);
    }

    #[test]
    fn limits_do_not_depend_on_how_the_head_is_split() {
        // `parse` checks whole, split at every point and byte by byte.
        let line = |len: usize| {
            let path = "a".repeat(len - "GET / HTTP/1.1".len());
            format!("GET /{path} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes()
        };
        // A request line of exactly the limit (40), with its CR and LF in
        // different reads: the CR is not counted.
        assert!(parse(&line(40)).unwrap().is_some());
        assert_eq!(parse(&line(41)), Err(RequestError::UriTooLong));
        // Garbage: a wrong byte within the limit is a 400, one past it a 414.
        let garbage = |at: usize| [&[b'A'; 60][..at], b"\x00", &[b'A'; 60][at..]].concat();
        assert_eq!(parse(&garbage(39)).map_err(RequestError::code), Err(400));
        assert_eq!(parse(&garbage(40)), Err(RequestError::UriTooLong));
        // A CR just past the limit may end the line, so the line is judged
        // with it: here a CR inside a method, a 400.
        let cr = parse(&[&[b'A'; 40][..], b"\r\r"].concat());
        assert_eq!(cr.map_err(RequestError::code), Err(400));
        // A NUL within max_header_bytes (200) is a 400, past it a 431.
        let nul_at = |at: usize| {
            let mut req = [&b"GET / HTTP/1.1\r\nHost: h\r\nA: "[..], &[b'x'; 300]].concat();
            req[at] = 0;
            req
        };
        assert_eq!(parse(&nul_at(199)).map_err(RequestError::code), Err(400));
        assert_eq!(parse(&nul_at(200)), Err(RequestError::HeaderTooLarge));
        assert_eq!(parse(&nul_at(250)), Err(RequestError::HeaderTooLarge));
        // A head of exactly max_header_bytes passes, one byte more does not.
        let head = |len: usize| {
            let pad = "x".repeat(len - "GET / HTTP/1.1\r\nHost: h\r\nA: \r\n\r\n".len());
            format!("GET / HTTP/1.1\r\nHost: h\r\nA: {pad}\r\n\r\n").into_bytes()
        };
        assert!(parse(&head(200)).unwrap().is_some());
        assert_eq!(parse(&head(201)), Err(RequestError::HeaderTooLarge));
    }

    #[test]
    fn request_line_limit_at_its_default() {
        // `GET /` + 8,178 x `a` + ` HTTP/1.1`: 8,192 bytes, the default limit.
        let limits = Limits::default();
        let line = |len: usize| {
            let path = "a".repeat(len - "GET / HTTP/1.1".len());
            format!("GET /{path} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes()
        };
        let max = limits.max_request_line_bytes;
        assert_eq!(max, 8192);
        for cut in [0, 100, max, max + 1, max + 2] {
            let ok = parse_in_reads(&line(max), &[cut], &limits);
            assert!(ok.unwrap().is_some(), "split at {cut}");
            let long = parse_in_reads(&line(max + 1), &[cut], &limits);
            assert_eq!(long, Err(RequestError::UriTooLong), "split at {cut}");
        }
    }

    #[test]
    fn many_headers_use_the_heap() {
        let limits = Limits {
            max_header_count: 300,
            ..Limits::default()
        };
        let mut req = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 0..200 {
            req.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        let head = parse_head(&req, &limits).unwrap().unwrap();
        assert_eq!(head.headers().count(), 201);
    }

    #[test]
    fn list_members_trims() {
        let v: Vec<_> = list_members(b" a ,, b,c ").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"c"]);
    }
}
