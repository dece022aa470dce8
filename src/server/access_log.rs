//! One access-log line per request on `sys.stderr`, in the shape of
//! werkzeug's dev server line plus the body size and the time taken:
//!
//! `127.0.0.1 - - [06/Nov/1994 08:49:37] "GET /path?q=1 HTTP/1.1" 200 13 0.42ms`
//!
//! The timestamp is UTC (the `Date` header's clock). Bytes are the body
//! bytes sent; milliseconds run from the complete request to the complete
//! response. The server's own warnings go to the same stream.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use pyo3::intern;
use pyo3::prelude::*;

use super::parse::RequestHead;

/// What one access-log line says.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The client's IP address.
    pub client: IpAddr,
    /// The request method, or `-` when the request could not be parsed.
    pub method: &'a str,
    /// The request-target as sent (escaped when logged).
    pub target: &'a [u8],
    /// `HTTP/1.0` or `HTTP/1.1`, or `-`.
    pub protocol: &'a str,
    /// The response status code.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// Time from the complete request to the complete response.
    pub elapsed: Duration,
}

impl<'a> Entry<'a> {
    /// The entry for a request (`head` is `None` when it could not be
    /// parsed: method, target and protocol show as `-`).
    #[must_use]
    pub fn new(
        client: IpAddr,
        head: Option<&'a RequestHead>,
        status: u16,
        bytes: u64,
        elapsed: Duration,
    ) -> Self {
        Self {
            client,
            method: head.map_or("-", RequestHead::method),
            target: head.map_or(b"-", RequestHead::target),
            protocol: head.map_or("-", RequestHead::protocol),
            status,
            bytes,
            elapsed,
        }
    }
}

/// Formats one line (with its `\n`). `http_date` is an IMF-fixdate such as
/// `Sun, 06 Nov 1994 08:49:37 GMT`; it is shown as `06/Nov/1994 08:49:37`.
#[must_use]
pub fn format_line(entry: &Entry<'_>, http_date: &str) -> String {
    let stamp = match (
        http_date.get(5..7),
        http_date.get(8..11),
        http_date.get(12..16),
        http_date.get(17..25),
    ) {
        (Some(day), Some(month), Some(year), Some(time)) => format!("{day}/{month}/{year} {time}"),
        _ => http_date.to_owned(),
    };
    let mut line = format!("{} - - [{stamp}] \"{} ", entry.client, entry.method);
    // Escaped so a request cannot forge log lines or terminal escapes.
    for &b in entry.target {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' {
            line.push(char::from(b));
        } else {
            let _ = write!(line, "\\x{b:02x}");
        }
    }
    let ms = entry.elapsed.as_secs_f64() * 1000.0;
    let _ = writeln!(
        line,
        " {}\" {} {} {ms:.2}ms",
        entry.protocol, entry.status, entry.bytes
    );
    line
}

/// Writes `text` to `sys.stderr` as it is at the time of the call (so
/// redirection and pytest's capture see it); failures are ignored (a
/// closed or missing stderr must not stop the server).
pub fn write_stderr(py: Python<'_>, text: &str) {
    if let Ok(stderr) = py
        .import(intern!(py, "sys"))
        .and_then(|sys| sys.getattr(intern!(py, "stderr")))
    {
        if !stderr.is_none() {
            let _ = stderr.call_method1(intern!(py, "write"), (text,));
        }
    }
}

/// Writes `rswsgi: {message}` as one line to `sys.stderr`.
pub fn warn(py: Python<'_>, message: &str) {
    write_stderr(py, &format!("rswsgi: {message}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let e = Entry {
            client: "127.0.0.1".parse().unwrap(),
            method: "GET",
            target: b"/a?b=\"c\"\x1b",
            protocol: "HTTP/1.1",
            status: 200,
            bytes: 13,
            elapsed: Duration::from_micros(420),
        };
        assert_eq!(
            format_line(&e, "Sun, 06 Nov 1994 08:49:37 GMT"),
            "127.0.0.1 - - [06/Nov/1994 08:49:37] \"GET /a?b=\\x22c\\x22\\x1b HTTP/1.1\" 200 13 0.42ms\n"
        );
    }
}
