//! The HTML page that `handle_error(debug=True)` answers a browser with.
//!
//! One self-contained document (the CSS inline, no script, nothing fetched)
//! showing:
//!
//! - the exception's type and message, and its chain the way Python's
//!   `traceback` module prints it: oldest first, through `__cause__`, else
//!   through `__context__` unless `__suppress_context__` is set, each
//!   exception once;
//! - each frame's file, line number and function, with a few source lines
//!   from `linecache` around the line it was running, that line marked (and,
//!   on Python 3.11+, the failing expression, from `co_positions()`);
//! - the request line, and the environ with `log_environ`'s default
//!   redaction and its `repr` code;
//! - the plain-text traceback, folded, for copying.
//!
//! Every string that comes from the app or the request (messages, notes,
//! reprs, file and function names, source lines, the path, header values)
//! goes through [`escape`]; the markup around them is this file's own.

use std::fmt::Write as _;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::log_environ::{push_repr, repr_or_placeholder, DEFAULT_REDACT, REDACTED};
use crate::routing::url_for::PATH;
use crate::wsgi::latin1_bytes;

mod traceback;

use traceback::{chain, describe, frames, notes, Frame};

/// The page's style sheet, inlined into every page.
const STYLE: &str = include_str!("debug_page/page.css");

/// The page for `err`, raised while answering `environ`; `text` is the
/// plain-text traceback (what the log got).
///
/// # Errors
/// What the interpreter raised while the page was built (only failures such
/// as `MemoryError`: odd values are shown, not raised); the caller then
/// answers with `text`.
pub(crate) fn render(err: &PyErr, environ: &Bound<'_, PyAny>, text: &str) -> PyResult<String> {
    let py = environ.py();
    let raised = err.value(py).as_any();
    let (ty, message) = describe(raised);
    let mut out = String::with_capacity(32 * 1024);
    out.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
    );
    escape(&mut out, &ty);
    if let Some(first) = message.lines().next().filter(|l| !l.is_empty()) {
        out.push_str(": ");
        escape(&mut out, &first.chars().take(120).collect::<String>());
    }
    out.push_str(" · rswsgi</title>\n<style>\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<div class=\"wrap\">\n");
    out.push_str("<p class=\"status\">500 Internal Server Error</p>\n<h1>");
    escape(&mut out, &ty);
    out.push_str("</h1>\n");
    if !message.is_empty() {
        out.push_str("<pre class=\"message\">");
        escape(&mut out, &message);
        out.push_str("</pre>\n");
    }
    request_line(&mut out, environ);
    out.push_str("</div>\n</header>\n<main class=\"wrap\">\n");
    out.push_str("<h2>Traceback <small>most recent call last</small></h2>\n");
    let chain = chain(raised)?;
    let last = chain.len().saturating_sub(1);
    for (i, (exc, link)) in chain.iter().enumerate() {
        // The raised exception's `__traceback__` may not hold the frames
        // it unwound through after it was set (Python < 3.12 keeps the
        // traceback apart while an exception propagates): use the PyErr's.
        let tb = if i == last {
            err.traceback(py)
                .map_or_else(|| py.None().into_bound(py), Bound::into_any)
        } else {
            exc.getattr(intern!(py, "__traceback__"))?
        };
        exception(&mut out, exc, tb, i == last)?;
        if let Some(link) = link {
            out.push_str("<p class=\"link\">");
            out.push_str(link);
            out.push_str("</p>\n");
        }
    }
    out.push_str(
        "<h2>Environ <small>Authorization, Cookie and Proxy-Authorization redacted</small></h2>\n",
    );
    environ_table(&mut out, environ)?;
    out.push_str("<details class=\"plain\"><summary>Plain-text traceback</summary>\n<pre>");
    escape(&mut out, text);
    out.push_str(
        "</pre>\n</details>\n</main>\n<footer class=\"wrap\">Shown by \
         <code>handle_error(debug=True)</code>. This page shows source code and request \
         data: never turn it on where others can reach the server.</footer>\n\
         </body>\n</html>\n",
    );
    Ok(out)
}

/// Appends `text` with `&`, `<`, `>`, `"` and `'` escaped, safe inside an
/// element and inside a quoted attribute value (HTML Living Standard
/// §13.1.2.6 and §13.1.4).
pub(crate) fn escape(out: &mut String, text: &str) {
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[run..i]);
        out.push_str(entity);
        run = i + 1;
    }
    out.push_str(&text[run..]);
}

/// One exception: its frames, then `Type: message` and its notes.
fn exception<'py>(
    out: &mut String,
    exc: &Bound<'py, PyAny>,
    tb: Bound<'py, PyAny>,
    raised: bool,
) -> PyResult<()> {
    let frames = frames(tb)?;
    for (i, f) in frames.iter().enumerate() {
        let open = !f.library || (raised && i + 1 == frames.len());
        out.push_str(match (f.library, open) {
            (true, true) => "<details class=\"frame lib\" open>",
            (true, false) => "<details class=\"frame lib\">",
            _ => "<details class=\"frame\" open>",
        });
        out.push_str("<summary><span class=\"path\"><span class=\"dir\">");
        let base = f.file.rfind(['/', '\\']).map_or(0, |i| i + 1);
        escape(out, &f.file[..base]);
        out.push_str("</span><span class=\"base\">");
        escape(out, &f.file[base..]);
        out.push_str("</span></span> <span class=\"at\">line <b>");
        out.push_str(&f.line.map_or_else(|| "?".to_owned(), |n| n.to_string()));
        out.push_str("</b>, in <code>");
        escape(out, &f.function);
        out.push_str("</code></span></summary>\n");
        source(out, f);
        out.push_str("</details>\n");
        if f.repeated > 0 {
            let s = if f.repeated == 1 { "" } else { "s" };
            let _ = writeln!(
                out,
                "<p class=\"repeat\">[Previous frame repeated {} more time{s}]</p>",
                f.repeated
            );
        }
    }
    let (ty, message) = describe(exc);
    out.push_str("<p class=\"exc-line\"><b>");
    escape(out, &ty);
    out.push_str("</b>");
    if !message.is_empty() {
        out.push_str(": ");
        escape(out, &message);
    }
    out.push_str("</p>\n");
    for note in notes(exc) {
        out.push_str("<p class=\"note\">");
        escape(out, &note);
        out.push_str("</p>\n");
    }
    Ok(())
}

/// A frame's source lines, the marked one highlighted.
fn source(out: &mut String, f: &Frame) {
    if f.source.is_empty() {
        out.push_str("<p class=\"none\">source not available</p>\n");
        return;
    }
    out.push_str("<div class=\"src\">\n");
    for (n, text) in &f.source {
        let hit = Some(*n) == f.line;
        out.push_str(if hit {
            "<div class=\"row hit\" title=\"the line that was running\"><span class=\"ln\">"
        } else {
            "<div class=\"row\"><span class=\"ln\">"
        });
        out.push_str(&n.to_string());
        out.push_str("</span><code>");
        match f.span.filter(|_| hit) {
            Some((a, b)) => {
                escape(out, &text[..a]);
                out.push_str("<span class=\"ex\">");
                escape(out, &text[a..b]);
                out.push_str("</span>");
                escape(out, &text[b..]);
            }
            None => escape(out, text),
        }
        out.push_str("</code></div>\n");
    }
    out.push_str("</div>\n");
}

/// `METHOD /script/path?query PROTOCOL`, the path percent-encoded back
/// from its PEP 3333 latin-1 form (as `wsgiref.util.request_uri` does).
fn request_line(out: &mut String, environ: &Bound<'_, PyAny>) {
    let py = environ.py();
    let get = |key: &Bound<'_, PyString>| {
        environ
            .get_item(key)
            .ok()
            .and_then(|v| {
                v.cast::<PyString>()
                    .ok()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_default()
    };
    let path = get(intern!(py, "SCRIPT_NAME")) + &get(intern!(py, "PATH_INFO"));
    let mut target = match latin1_bytes(&path) {
        Some(bytes) => percent_encoding::percent_encode(&bytes, PATH).to_string(),
        None => path, // not a PEP 3333 string: shown as it is
    };
    let query = get(intern!(py, "QUERY_STRING"));
    if !query.is_empty() {
        target.push('?');
        target.push_str(&query);
    }
    out.push_str("<p class=\"request\"><b>");
    escape(out, &get(intern!(py, "REQUEST_METHOD")));
    out.push_str("</b> ");
    escape(out, &target);
    out.push(' ');
    escape(out, &get(intern!(py, "SERVER_PROTOCOL")));
    out.push_str("</p>\n");
}

/// The environ as a two-column table sorted by key, values as
/// `log_environ` prints them (its default redaction, its `repr`).
fn environ_table(out: &mut String, environ: &Bound<'_, PyAny>) -> PyResult<()> {
    let Ok(dict) = environ.cast::<PyDict>() else {
        out.push_str("<p class=\"none\">environ is not a dict</p>\n");
        return Ok(());
    };
    let mut rows: Vec<(String, Bound<'_, PyAny>)> = dict
        .iter()
        .map(|(k, v)| {
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_string_lossy().into_owned(),
                Err(_) => repr_or_placeholder(&k),
            };
            (key, v)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    out.push_str("<div class=\"table\"><table>\n");
    for (key, value) in rows {
        out.push_str("<tr><th>");
        escape(out, &key);
        if DEFAULT_REDACT.contains(&key.as_str()) {
            out.push_str("</th><td class=\"redacted\">");
            escape(out, REDACTED);
        } else {
            out.push_str("</th><td>");
            let mut repr = String::new();
            push_repr(&mut repr, &value)?;
            escape(out, &repr);
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table></div>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_characters() {
        let cases = [
            ("", ""),
            ("plain café 👍", "plain café 👍"),
            ("<script>", "&lt;script&gt;"),
            ("\"'&", "&quot;&#39;&amp;"),
            ("a<b>c&d\"e'f", "a&lt;b&gt;c&amp;d&quot;e&#39;f"),
            ("&lt;", "&amp;lt;"),
        ];
        for (text, want) in cases {
            let mut out = String::from("x");
            escape(&mut out, text);
            assert_eq!(out, format!("x{want}"), "{text:?}");
        }
    }
}
