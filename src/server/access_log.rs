//! One access-log line per request on `sys.stderr`, in the shape of
//! werkzeug's dev server line plus the body size and the time taken:
//!
//! `127.0.0.1 - - [06/Nov/1994 08:49:37] "GET /path?q=1 HTTP/1.1" 200 13 0.42ms`
//!
//! The timestamp is UTC (the `Date` header's clock). Bytes are the body
//! bytes sent; milliseconds run from the complete request to the complete
//! response. The server's own warnings go to the same stream. When stderr
//! is a terminal (and `NO_COLOR` is not set, no-color.org) the line is
//! colored by status class, werkzeug's habit: 200 plain, other 2xx green,
//! 3xx cyan, 4xx yellow, 5xx red, 1xx bold. A response that `static_files`
//! answered (it set `environ['rswsgi.static']`) ends with ` static`.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use pyo3::intern;
use pyo3::prelude::*;

use super::parse::RequestHead;
use super::turn_context::TurnContext;

/// What one access-log line says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    /// The client's IP address.
    pub(crate) client: IpAddr,
    /// The request method, or `-` when the request could not be parsed.
    pub(crate) method: &'a str,
    /// The request-target as sent (escaped when logged).
    pub(crate) target: &'a [u8],
    /// `HTTP/1.0` or `HTTP/1.1`, or `-`.
    pub(crate) protocol: &'a str,
    /// The response status code.
    pub(crate) status: u16,
    /// Body bytes sent.
    pub(crate) bytes: u64,
    /// Time from the complete request to the complete response.
    pub(crate) elapsed: Duration,
    /// A word that ends the line (`static`), if any.
    pub(crate) mark: Option<&'static str>,
}

impl<'a> Entry<'a> {
    /// The entry for a request (`head` is `None` when it could not be
    /// parsed: method, target and protocol show as `-`).
    #[must_use]
    pub(crate) fn new(
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
            mark: None,
        }
    }
}

/// The ANSI SGR color of a status code's line (`None`: plain).
#[must_use]
pub(crate) fn status_color(status: u16) -> Option<&'static str> {
    match status {
        200 => None,
        100..=199 => Some("1"),
        201..=299 => Some("32"),
        300..=399 => Some("36"),
        400..=499 => Some("33"),
        _ => Some("31"),
    }
}

/// Formats one line (with its `\n`). `http_date` is an IMF-fixdate such as
/// `Sun, 06 Nov 1994 08:49:37 GMT`; it is shown as `06/Nov/1994 08:49:37`.
/// `color` wraps the line in the ANSI color of [`status_color`].
#[must_use]
pub(crate) fn format_line(entry: &Entry<'_>, http_date: &str, color: bool) -> String {
    let stamp = match (
        http_date.get(5..7),
        http_date.get(8..11),
        http_date.get(12..16),
        http_date.get(17..25),
    ) {
        (Some(day), Some(month), Some(year), Some(time)) => format!("{day}/{month}/{year} {time}"),
        _ => http_date.to_owned(),
    };
    let sgr = status_color(entry.status).filter(|_| color);
    let mut line = String::with_capacity(96 + entry.target.len());
    if let Some(sgr) = sgr {
        let _ = write!(line, "\x1b[{sgr}m");
    }
    let _ = write!(line, "{} - - [{stamp}] \"{} ", entry.client, entry.method);
    // Escaped so a request cannot forge log lines or terminal escapes.
    for &b in entry.target {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' {
            line.push(char::from(b));
        } else {
            let _ = write!(line, "\\x{b:02x}");
        }
    }
    let ms = entry.elapsed.as_secs_f64() * 1000.0;
    let _ = write!(
        line,
        " {}\" {} {} {ms:.2}ms",
        entry.protocol, entry.status, entry.bytes
    );
    if let Some(mark) = entry.mark {
        line.push(' ');
        line.push_str(mark);
    }
    if sgr.is_some() {
        line.push_str("\x1b[0m");
    }
    line.push('\n');
    line
}

/// Writes the line of one exchange to `sys.stderr`, unless the server is
/// quiet: the response to `head` (`None` when the request was refused
/// before its head was read) from `client`, with `status` and `bytes` of
/// body, `started` when the request was complete, ending with `mark`.
#[allow(clippy::too_many_arguments)] // one line's fields
pub(crate) fn log_exchange(
    py: Python<'_>,
    ctx: &mut TurnContext<'_, '_>,
    client: IpAddr,
    head: Option<&RequestHead>,
    status: u16,
    bytes: u64,
    started: Instant,
    mark: Option<&'static str>,
) {
    if !ctx.quiet {
        let entry = Entry {
            mark,
            ..Entry::new(client, head, status, bytes, started.elapsed())
        };
        write_stderr(py, &format_line(&entry, ctx.date.now(), ctx.color));
    }
}

/// `true` when log lines should be colored: `sys.stderr` is a terminal and
/// the `NO_COLOR` environment variable is unset or empty.
pub(crate) fn stderr_wants_color(py: Python<'_>) -> bool {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    py.import(intern!(py, "sys"))
        .and_then(|sys| sys.getattr(intern!(py, "stderr")))
        .and_then(|err| err.call_method0(intern!(py, "isatty")))
        .and_then(|tty| tty.is_truthy())
        .unwrap_or(false)
}

/// Writes `text` to `sys.stderr` as it is at the time of the call (so
/// redirection and pytest's capture see it); failures are ignored (a
/// closed or missing stderr must not stop the server).
pub(crate) fn write_stderr(py: Python<'_>, text: &str) {
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
pub(crate) fn warn(py: Python<'_>, message: &str) {
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
            mark: None,
        };
        assert_eq!(
            format_line(&e, "Sun, 06 Nov 1994 08:49:37 GMT", false),
            "127.0.0.1 - - [06/Nov/1994 08:49:37] \"GET /a?b=\\x22c\\x22\\x1b HTTP/1.1\" 200 13 0.42ms\n"
        );
        // 200 stays plain even in color; 404 is yellow, reset before the newline.
        assert!(!format_line(&e, "x", true).contains('\x1b') || e.target.contains(&0x1b));
        let e404 = Entry {
            status: 404,
            target: b"/",
            ..e
        };
        let line = format_line(&e404, "x", true);
        assert!(
            line.starts_with("\x1b[33m127.0.0.1") && line.ends_with("\x1b[0m\n"),
            "{line:?}"
        );
        assert!(!format_line(&e404, "x", false).contains('\x1b'));
        let hit = Entry {
            mark: Some("static"),
            ..e
        };
        assert!(format_line(&hit, "x", false).ends_with(" 0.42ms static\n"));
        for (code, sgr) in [
            (101, Some("1")),
            (204, Some("32")),
            (304, Some("36")),
            (503, Some("31")),
        ] {
            assert_eq!(status_color(code), sgr, "{code}");
        }
    }
}
