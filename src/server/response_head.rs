//! [Stage 7](super): The response head (sans-IO): how the body is framed ([`Plan`]) and
//! the status line and header bytes ([`write_head`]), with `Date` and
//! `Server` added (RFC 9110 §6.6.1, §10.2.4) and hop-by-hop headers from the
//! app left out (PEP 3333 "Other HTTP Features").

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::start_response::AppHead;

/// The `Server` header value.
pub const SERVER_HEADER: &str = concat!("rswsgi/", env!("CARGO_PKG_VERSION"));

/// How a response body goes on the wire, decided when the head is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    /// A `Content-Length` the server adds (the app gave none, the server
    /// knows the whole body).
    pub add_content_length: Option<u64>,
    /// Bytes the body may have: the app's or the server's `Content-Length`.
    pub limit: Option<u64>,
    /// `Transfer-Encoding: chunked` (HTTP/1.1, length unknown).
    pub chunked: bool,
    /// Close-delimited (HTTP/1.0, length unknown): the connection must close.
    pub close: bool,
    /// `false` for HEAD and for 1xx/204/304, which have no body (RFC 9110 §6.4.1).
    pub send_body: bool,
}

impl Plan {
    /// Decides the framing (RFC 9112 §6.3): the app's `Content-Length`
    /// (`declared`), else the whole body's length when the server knows it
    /// (`known`), else chunked on HTTP/1.1, else close-delimited.
    #[must_use]
    pub fn decide(
        status: u16,
        is_head: bool,
        http11: bool,
        declared: Option<u64>,
        known: Option<u64>,
    ) -> Self {
        if status < 200 || status == 204 || status == 304 {
            return Self::default();
        }
        let send_body = !is_head;
        match (declared, known) {
            (Some(n), _) => Self {
                limit: Some(n),
                send_body,
                ..Self::default()
            },
            (None, Some(n)) => Self {
                add_content_length: Some(n),
                limit: Some(n),
                send_body,
                ..Self::default()
            },
            (None, None) if http11 => Self {
                chunked: true,
                send_body,
                ..Self::default()
            },
            (None, None) => Self {
                close: send_body,
                send_body,
                ..Self::default()
            },
        }
    }
}

/// Appends the response head to `out`: the status line and the app's
/// headers as recorded (hop-by-hop ones already left out, PEP 3333), then
/// `Date`/`Server` unless the app set them, the framing header of `plan`,
/// `Connection: close` when `keep_alive` is false and `Connection:
/// keep-alive` for a kept HTTP/1.0 connection.
pub fn write_head(
    out: &mut Vec<u8>,
    head: &AppHead,
    plan: &Plan,
    keep_alive: bool,
    http11: bool,
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
    if let Some(n) = plan.add_content_length {
        let _ = write!(out, "Content-Length: {n}\r\n");
    }
    if plan.chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if !http11 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a complete plain-text response whose body is the status line
/// (used for the server's own 4xx/5xx answers); returns the body length.
pub fn write_simple(
    out: &mut Vec<u8>,
    status_line: &str,
    is_head: bool,
    keep_alive: bool,
    http11: bool,
    date: &[u8],
) -> u64 {
    let body = format!("{status_line}\n");
    let code = crate::wsgi::status_digits(status_line).unwrap_or(500);
    let mut head = AppHead::with_code(code, status_line);
    // A constant, valid header: this cannot fail.
    let _ = head.push("Content-Type", "text/plain; charset=utf-8");
    let plan = Plan::decide(head.code, is_head, http11, None, Some(body.len() as u64));
    write_head(out, &head, &plan, keep_alive, http11, date);
    if plan.send_body {
        out.extend_from_slice(body.as_bytes());
        body.len() as u64
    } else {
        0
    }
}

/// The `Date` header value (RFC 9110 §6.6.1), formatted once per second.
#[derive(Debug, Default)]
pub struct DateCache {
    secs: u64,
    value: String,
}

impl DateCache {
    /// The current IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn now(&mut self) -> &str {
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

    fn head(
        status: &str,
        headers: &[(&str, &str)],
        plan: Plan,
        keep: bool,
        http11: bool,
    ) -> String {
        let head = AppHead::from_parts(status, headers.iter().copied()).unwrap();
        let mut out = Vec::new();
        write_head(&mut out, &head, &plan, keep, http11, DATE);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plan_table() {
        let p = Plan::decide;
        // The app's Content-Length wins and is not repeated.
        assert_eq!(
            p(200, false, true, Some(5), Some(3)),
            Plan {
                limit: Some(5),
                send_body: true,
                ..Plan::default()
            }
        );
        // A known body gets a Content-Length.
        assert_eq!(
            p(200, false, true, None, Some(3)),
            Plan {
                add_content_length: Some(3),
                limit: Some(3),
                send_body: true,
                ..Plan::default()
            }
        );
        // Unknown: chunked on 1.1, close-delimited on 1.0.
        assert_eq!(
            p(200, false, true, None, None),
            Plan {
                chunked: true,
                send_body: true,
                ..Plan::default()
            }
        );
        assert_eq!(
            p(200, false, false, None, None),
            Plan {
                close: true,
                send_body: true,
                ..Plan::default()
            }
        );
        // HEAD: same headers, no body, no need to close.
        assert_eq!(p(200, true, false, None, None), Plan::default());
        assert_eq!(
            p(200, true, true, None, Some(3)),
            Plan {
                add_content_length: Some(3),
                limit: Some(3),
                ..Plan::default()
            }
        );
        // No body, no framing headers.
        for code in [101, 204, 304] {
            assert_eq!(
                p(code, false, true, None, Some(3)),
                Plan::default(),
                "{code}"
            );
        }
    }

    #[test]
    fn head_with_content_length() {
        let h = head(
            "200 OK",
            &[("Content-Type", "text/plain")],
            Plan::decide(200, false, true, None, Some(2)),
            true,
            true,
        );
        assert_eq!(h, format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: {}\r\nServer: {SERVER_HEADER}\r\nContent-Length: 2\r\n\r\n",
            std::str::from_utf8(DATE).unwrap()
        ));
    }

    #[test]
    fn head_chunked_close_and_keep_alive() {
        let chunked = head(
            "200 OK",
            &[],
            Plan::decide(200, false, true, None, None),
            true,
            true,
        );
        assert!(chunked.contains("Transfer-Encoding: chunked\r\n"));
        assert!(!chunked.contains("Content-Length") && !chunked.contains("Connection"));
        let close = head(
            "200 OK",
            &[],
            Plan::decide(200, false, false, None, None),
            false,
            false,
        );
        assert!(close.ends_with("Connection: close\r\n\r\n"));
        assert!(!close.contains("chunked"));
        let kept10 = head(
            "200 OK",
            &[],
            Plan::decide(200, false, false, None, Some(1)),
            true,
            false,
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
            &Plan::decide(200, false, true, Some(0), None),
            true,
            true,
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
        let mut out = Vec::new();
        let n = write_simple(&mut out, "400 Bad Request", false, false, true, DATE);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(n, 16);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(text.contains("Content-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n"));
        let mut out = Vec::new();
        assert_eq!(
            write_simple(&mut out, "400 Bad Request", true, false, true, DATE),
            0
        );
        assert!(out.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn date_cache_formats_imf_fixdate() {
        let mut d = DateCache::default();
        let v = d.now().to_owned();
        assert_eq!(v.len(), 29);
        assert!(v.ends_with(" GMT"));
    }
}
