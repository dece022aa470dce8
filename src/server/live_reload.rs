//! Live reload for `python -m rswsgi.dev --reload`: the two paths the
//! server answers itself, on the event loop, without calling the app.
//!
//! - [`SCRIPT_PATH`] is a small script that the dev server's `_LiveReload`
//!   middleware links into every HTML page. It opens an `EventSource` on
//!   [`EVENTS_PATH`] and remembers the *generation* of the server that
//!   made the page (a string unique to the server process).
//! - [`EVENTS_PATH`] is a `text/event-stream` (WHATWG HTML, "Server-sent
//!   events") that says `hello` with the current generation when it opens,
//!   then carries the events the server is told to send
//!   (`Server.live_reload_event`): `reload` (the page reloads) and `css`
//!   (stylesheets whose file name matches are fetched again, no reload).
//!
//! When `--reload` restarts the app, the old server's streams close; each
//! page's `EventSource` reconnects after [`RETRY_MS`], the connection
//! waits in the listening socket's queue until the new server accepts it,
//! and the new `hello` names another generation: the page reloads, once
//! the new server answers. An open stream is a socket with nothing to
//! read: it costs the app thread nothing and stalls no client.

use std::io::Write as _;

use super::response_head::SERVER_HEADER;

/// The path of the event stream.
pub(crate) const EVENTS_PATH: &[u8] = b"/__rswsgi__/live-reload";

/// The path of the script pages link.
pub(crate) const SCRIPT_PATH: &[u8] = b"/__rswsgi__/live-reload.js";

/// Milliseconds an `EventSource` waits before it reconnects.
pub(crate) const RETRY_MS: u32 = 200;

/// A comment line sent on an idle stream, so that proxies and the browser
/// keep it open (and a client that went away is noticed).
pub(crate) const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// What a request for one of the live-reload paths gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// The event stream.
    Events,
    /// The script.
    Script,
}

/// The live-reload endpoint a `GET` (or `HEAD`) of `target` asks for (its
/// query string, the cache-busting generation, is ignored).
#[must_use]
pub(crate) fn endpoint(method: &str, target: &[u8]) -> Option<Endpoint> {
    if method != "GET" && method != "HEAD" {
        return None;
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or(target);
    if path == EVENTS_PATH {
        Some(Endpoint::Events)
    } else if path == SCRIPT_PATH {
        Some(Endpoint::Script)
    } else {
        None
    }
}

/// The head and first events of a stream for a page of `generation`: the
/// reconnect delay and `hello`. The body is close-delimited (it ends when
/// the server does), so the connection is not reused.
#[must_use]
pub(crate) fn events_head(generation: &str, date: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n",
    );
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(date);
    let _ = write!(
        out,
        "\r\nServer: {SERVER_HEADER}\r\nConnection: close\r\n\r\n"
    );
    let _ = writeln!(out, "retry: {RETRY_MS}");
    out.extend_from_slice(&event("hello", generation));
    out
}

/// One event: `event: kind`, then `data` (one `data:` line per line).
#[must_use]
pub(crate) fn event(kind: &str, data: &str) -> Vec<u8> {
    let mut out = format!("event: {kind}\n").into_bytes();
    for line in data.split('\n') {
        let _ = writeln!(out, "data: {line}");
    }
    out.push(b'\n');
    out
}

/// The script pages link (JavaScript, UTF-8).
pub(crate) const SCRIPT: &str = r#"(() => {
  "use strict";
  const me = document.currentScript;
  const generation = me ? new URL(me.src).searchParams.get("g") : null;
  const source = new EventSource("/__rswsgi__/live-reload");
  source.addEventListener("hello", (e) => {
    if (generation !== null && e.data !== generation) location.reload();
  });
  source.addEventListener("reload", () => location.reload());
  source.addEventListener("css", (e) => {
    const name = e.data.split("/").pop();
    for (const link of document.querySelectorAll('link[rel~="stylesheet"]')) {
      const url = new URL(link.href, location.href);
      if (url.pathname.split("/").pop() !== name) continue;
      url.searchParams.set("rswsgi-reload", Date.now().toString());
      const next = link.cloneNode();
      next.href = url.href;
      next.addEventListener("load", () => link.remove());
      next.addEventListener("error", () => next.remove());
      link.after(next);
    }
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_by_method_and_path() {
        assert_eq!(endpoint("GET", EVENTS_PATH), Some(Endpoint::Events));
        assert_eq!(
            endpoint("GET", b"/__rswsgi__/live-reload.js?g=1-2"),
            Some(Endpoint::Script)
        );
        assert_eq!(endpoint("HEAD", SCRIPT_PATH), Some(Endpoint::Script));
        assert_eq!(endpoint("POST", EVENTS_PATH), None);
        assert_eq!(endpoint("GET", b"/__rswsgi__/live-reload/x"), None);
        assert_eq!(endpoint("GET", b"/"), None);
    }

    #[test]
    fn events_are_framed_as_server_sent_events() {
        assert_eq!(event("css", "a.css"), b"event: css\ndata: a.css\n\n");
        assert_eq!(event("x", "1\n2"), b"event: x\ndata: 1\ndata: 2\n\n");
        let head = String::from_utf8(events_head("g1", b"D")).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"));
        assert!(head.ends_with("\r\n\r\nretry: 200\nevent: hello\ndata: g1\n\n"));
    }
}
