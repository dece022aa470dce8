//! [Stage 7](super): The response head (sans-IO): how the body is framed ([`Framing`]) and
//! the status line and header bytes ([`write_head`]), with `Date` and
//! `Server` added (RFC 9110 §6.6.1, §10.2.4) and hop-by-hop headers from the
//! app left out (PEP 3333 "Other HTTP Features").

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::keep_alive::KeepAlive;
use super::start_response::AppHead;

/// The `Server` header value.
pub(crate) const SERVER_HEADER: &str = concat!("rswsgi/", env!("CARGO_PKG_VERSION"));

/// The HTTP version of the request a response answers (RFC 9112 §2.3): it
/// decides what an unknown-length body can be framed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `HTTP/1.0`: no chunked coding; keep-alive only when asked for.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// The version of a request whose `HTTP/1.x` minor number is `minor`.
    #[must_use]
    pub(crate) fn from_minor(minor: u8) -> Self {
        if minor >= 1 {
            Self::Http11
        } else {
            Self::Http10
        }
    }
}

/// What a request asks of the response beyond its status and headers: its
/// version, and whether it is a `HEAD` (the head of a `GET`'s response and
/// no body, RFC 9110 §9.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answering {
    /// The request's HTTP version.
    pub(crate) version: Version,
    /// The request's method is `HEAD`.
    pub(crate) head_only: bool,
}

/// What the server knows of a body's length when it sends the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLength {
    /// The app's `Content-Length` (its header is already in the head).
    Declared(u64),
    /// The whole body is known to the server (a list, `len() == 1`, a
    /// file, its own answers): it adds the `Content-Length` header.
    Known(u64),
    /// Not known before the body ends (a generator, `write()`).
    Unknown,
}

/// How a body that is sent is delimited on the wire (RFC 9112 §6.3), as
/// hyper's `encode.rs` `Kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delimit {
    /// `Content-Length: len`; `added` when the server writes that header.
    Length {
        /// Body bytes, exactly.
        len: u64,
        /// The app gave no `Content-Length`: the server adds it.
        added: bool,
    },
    /// `Transfer-Encoding: chunked` (RFC 9112 §7.1): HTTP/1.1, length unknown.
    Chunked,
    /// Until the connection closes (RFC 9112 §6.3 rule 8): HTTP/1.0, length
    /// unknown. The connection cannot be kept.
    Close,
}

/// How a response's body goes on the wire, decided once, with the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// 1xx, 204 and 304 have no body and no framing header (RFC 9110
    /// §6.4.1; the app's own `Content-Length` on a 304 is kept as given).
    NoBody,
    /// A `HEAD`: the framing header a `GET` would get, and no body.
    Head(Delimit),
    /// The body, delimited so.
    Body(Delimit),
}

impl Framing {
    /// Decides the framing (RFC 9112 §6.3): the app's `Content-Length`,
    /// else the length the server knows, else chunked on HTTP/1.1, else
    /// close-delimited.
    #[must_use]
    pub(crate) fn decide(status: u16, answering: Answering, length: BodyLength) -> Self {
        if status < 200 || status == 204 || status == 304 {
            return Self::NoBody;
        }
        let delimit = match (length, answering.version) {
            (BodyLength::Declared(len), _) => Delimit::Length { len, added: false },
            (BodyLength::Known(len), _) => Delimit::Length { len, added: true },
            (BodyLength::Unknown, Version::Http11) => Delimit::Chunked,
            (BodyLength::Unknown, Version::Http10) => Delimit::Close,
        };
        if answering.head_only {
            Self::Head(delimit)
        } else {
            Self::Body(delimit)
        }
    }

    /// The delimiting of the body actually sent; `None` when none is.
    #[must_use]
    pub(crate) fn body(self) -> Option<Delimit> {
        match self {
            Self::Body(d) => Some(d),
            Self::NoBody | Self::Head(_) => None,
        }
    }

    /// `true` when only closing the connection can end the body.
    #[must_use]
    pub(crate) fn needs_close(self) -> bool {
        self == Self::Body(Delimit::Close)
    }

    /// The framing header the server writes, if any.
    fn write_header(self, out: &mut Vec<u8>) {
        let delimit = match self {
            Self::Head(d) | Self::Body(d) => d,
            Self::NoBody => return,
        };
        match delimit {
            Delimit::Length { len, added: true } => {
                let _ = write!(out, "Content-Length: {len}\r\n");
            }
            Delimit::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Delimit::Length { added: false, .. } | Delimit::Close => {}
        }
    }
}

/// A status the server answers with itself (its own 4xx/5xx), carried as
/// the code and the status line so that neither is parsed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerStatus {
    /// The status code.
    pub(crate) code: u16,
    /// The status line, e.g. `"400 Bad Request"`.
    pub(crate) line: &'static str,
}

impl ServerStatus {
    /// `200 OK`.
    pub(crate) const OK: Self = Self::new(200, "200 OK");
    /// `400 Bad Request`.
    pub(crate) const BAD_REQUEST: Self = Self::new(400, "400 Bad Request");
    /// `408 Request Timeout`.
    pub(crate) const REQUEST_TIMEOUT: Self = Self::new(408, "408 Request Timeout");
    /// `413 Content Too Large`.
    pub(crate) const CONTENT_TOO_LARGE: Self = Self::new(413, "413 Content Too Large");
    /// `414 URI Too Long`.
    pub(crate) const URI_TOO_LONG: Self = Self::new(414, "414 URI Too Long");
    /// `431 Request Header Fields Too Large`.
    pub(crate) const HEADER_FIELDS_TOO_LARGE: Self =
        Self::new(431, "431 Request Header Fields Too Large");
    /// `500 Internal Server Error`.
    pub(crate) const INTERNAL_SERVER_ERROR: Self = Self::new(500, "500 Internal Server Error");
    /// `501 Not Implemented`.
    pub(crate) const NOT_IMPLEMENTED: Self = Self::new(501, "501 Not Implemented");
    /// `505 HTTP Version Not Supported`.
    pub(crate) const VERSION_NOT_SUPPORTED: Self = Self::new(505, "505 HTTP Version Not Supported");

    const fn new(code: u16, line: &'static str) -> Self {
        Self { code, line }
    }
}

/// Appends the response head to `out`: the status line and the app's
/// headers as recorded (hop-by-hop ones already left out, PEP 3333), then
/// `Date`/`Server` unless the app set them, the framing header, then
/// `Connection: close` when the connection will not be kept and
/// `Connection: keep-alive` for a kept HTTP/1.0 connection (RFC 9112 §9.3).
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    head: &AppHead,
    framing: Framing,
    keep_alive: KeepAlive,
    version: Version,
    date: &[u8],
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(head.bytes());
    if !head.has_date {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    if !head.has_server {
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(SERVER_HEADER.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    framing.write_header(out);
    if !keep_alive.is_kept() {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if version == Version::Http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the server's own complete plain-text answer, whose body is the
/// status line (its 4xx/5xx); returns the body length in bytes.
pub(crate) fn write_simple(
    out: &mut Vec<u8>,
    status: ServerStatus,
    answering: Answering,
    keep_alive: KeepAlive,
    date: &[u8],
) -> u64 {
    write_text(
        out,
        status,
        &format!("{}\n", status.line),
        answering,
        keep_alive,
        date,
    )
}

/// Appends the server's own complete answer with `body` as its
/// `text/plain` body; returns the body length in bytes.
pub(crate) fn write_text(
    out: &mut Vec<u8>,
    status: ServerStatus,
    body: &str,
    answering: Answering,
    keep_alive: KeepAlive,
    date: &[u8],
) -> u64 {
    let content_type = "text/plain; charset=utf-8";
    write_body(out, status, content_type, body, answering, keep_alive, date)
}

/// Appends the server's own complete answer with `body` as its body of
/// type `content_type` (a constant, valid header value); returns the body
/// length in bytes.
pub(crate) fn write_body(
    out: &mut Vec<u8>,
    status: ServerStatus,
    content_type: &'static str,
    body: &str,
    answering: Answering,
    keep_alive: KeepAlive,
    date: &[u8],
) -> u64 {
    let mut head = AppHead::with_code(status.code, status.line);
    // A constant, valid header: this cannot fail.
    let _ = head.push("Content-Type", content_type);
    let length = BodyLength::Known(body.len() as u64);
    let framing = Framing::decide(status.code, answering, length);
    write_head(out, &head, framing, keep_alive, answering.version, date);
    if framing.body().is_some() {
        out.extend_from_slice(body.as_bytes());
        body.len() as u64
    } else {
        0
    }
}

/// The `Date` header value (RFC 9110 §6.6.1), formatted once per second.
#[derive(Debug, Default)]
pub(crate) struct DateCache {
    secs: u64,
    value: String,
}

impl DateCache {
    /// The current IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub(crate) fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.secs || self.value.is_empty() {
            self.secs = secs;
            self.value = httpdate::fmt_http_date(now);
        }
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const GET11: Answering = Answering {
        version: Version::Http11,
        head_only: false,
    };
    const GET10: Answering = Answering {
        version: Version::Http10,
        head_only: false,
    };
    const HEAD10: Answering = Answering {
        version: Version::Http10,
        head_only: true,
    };
    const HEAD11: Answering = Answering {
        version: Version::Http11,
        head_only: true,
    };

    fn head(
        status: &str,
        headers: &[(&str, &str)],
        framing: Framing,
        keep: KeepAlive,
        version: Version,
    ) -> String {
        let head = AppHead::from_parts(status, headers.iter().copied()).unwrap();
        let mut out = Vec::new();
        write_head(&mut out, &head, framing, keep, version, DATE);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn framing_table() {
        use BodyLength::{Declared, Known, Unknown};
        let d = Framing::decide;
        // The app's Content-Length wins and is not repeated.
        assert_eq!(
            d(200, GET11, Declared(5)),
            Framing::Body(Delimit::Length {
                len: 5,
                added: false
            })
        );
        // A known body gets a Content-Length.
        assert_eq!(
            d(200, GET11, Known(3)),
            Framing::Body(Delimit::Length {
                len: 3,
                added: true
            })
        );
        // Unknown: chunked on 1.1, close-delimited on 1.0.
        assert_eq!(d(200, GET11, Unknown), Framing::Body(Delimit::Chunked));
        assert_eq!(d(200, GET10, Unknown), Framing::Body(Delimit::Close));
        assert!(d(200, GET10, Unknown).needs_close());
        // HEAD: same headers, no body, no need to close.
        assert_eq!(d(200, HEAD10, Unknown), Framing::Head(Delimit::Close));
        assert!(!d(200, HEAD10, Unknown).needs_close());
        assert_eq!(d(200, HEAD11, Known(3)).body(), None);
        // No body, no framing headers.
        for code in [101, 204, 304] {
            assert_eq!(d(code, GET11, Known(3)), Framing::NoBody, "{code}");
        }
    }

    #[test]
    fn head_with_content_length() {
        let h = head(
            "200 OK",
            &[("Content-Type", "text/plain")],
            Framing::decide(200, GET11, BodyLength::Known(2)),
            KeepAlive::default(),
            Version::Http11,
        );
        assert_eq!(h, format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: {}\r\nServer: {SERVER_HEADER}\r\nContent-Length: 2\r\n\r\n",
            std::str::from_utf8(DATE).unwrap()
        ));
    }

    #[test]
    fn head_chunked_close_and_keep_alive() {
        let kept = KeepAlive::default();
        let chunked = head(
            "200 OK",
            &[],
            Framing::decide(200, GET11, BodyLength::Unknown),
            kept,
            Version::Http11,
        );
        assert!(chunked.contains("Transfer-Encoding: chunked\r\n"));
        assert!(!chunked.contains("Content-Length") && !chunked.contains("Connection"));
        let mut closing = KeepAlive::default();
        closing.close(super::super::keep_alive::Close::Framing);
        let close = head(
            "200 OK",
            &[],
            Framing::decide(200, GET10, BodyLength::Unknown),
            closing,
            Version::Http10,
        );
        assert!(close.ends_with("Connection: close\r\n\r\n"));
        assert!(!close.contains("chunked"));
        let kept10 = head(
            "200 OK",
            &[],
            Framing::decide(200, GET10, BodyLength::Known(1)),
            kept,
            Version::Http10,
        );
        assert!(kept10.contains("Connection: keep-alive\r\n"));
    }

    #[test]
    fn hop_by_hop_dropped_and_app_date_kept() {
        let head = AppHead::from_parts(
            "200 OK",
            [
                ("Connection", "close"),
                ("Transfer-Encoding", "chunked"),
                ("Date", "mine"),
                ("Server", "me"),
                ("X-Ok", "caf\u{e9}"),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        write_head(
            &mut out,
            &head,
            Framing::decide(200, GET11, BodyLength::Declared(0)),
            KeepAlive::default(),
            Version::Http11,
            DATE,
        );
        assert_eq!(
            head.dropped,
            vec!["Connection".to_owned(), "Transfer-Encoding".to_owned()]
        );
        assert!(head.app_close);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nDate: mine\r\nServer: me\r\nX-Ok: caf\xe9\r\n\r\n"
        );
    }

    #[test]
    fn simple_response_for_errors() {
        let mut closing = KeepAlive::default();
        closing.close(super::super::keep_alive::Close::Refused);
        let mut out = Vec::new();
        let n = write_simple(&mut out, ServerStatus::BAD_REQUEST, GET11, closing, DATE);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(n, 16);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(text.contains("Content-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n"));
        let mut out = Vec::new();
        assert_eq!(
            write_simple(&mut out, ServerStatus::BAD_REQUEST, HEAD11, closing, DATE),
            0
        );
        assert!(out.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn server_statuses_carry_their_own_code() {
        for s in [
            ServerStatus::BAD_REQUEST,
            ServerStatus::REQUEST_TIMEOUT,
            ServerStatus::CONTENT_TOO_LARGE,
            ServerStatus::URI_TOO_LONG,
            ServerStatus::HEADER_FIELDS_TOO_LARGE,
            ServerStatus::INTERNAL_SERVER_ERROR,
            ServerStatus::NOT_IMPLEMENTED,
            ServerStatus::VERSION_NOT_SUPPORTED,
        ] {
            assert_eq!(crate::wsgi::status_digits(s.line), Some(s.code), "{s:?}");
        }
    }

    #[test]
    fn date_cache_formats_imf_fixdate() {
        let mut d = DateCache::default();
        let v = d.now().to_owned();
        assert_eq!(v.len(), 29);
        assert!(v.ends_with(" GMT"));
    }
}
