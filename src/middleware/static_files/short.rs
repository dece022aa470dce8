//! The short `text/plain` answers of `static_files`: 301 to a folder's
//! slash, 405, 412 and 416, each with its status line as the body.

use percent_encoding::percent_encode;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::path::latin1_bytes;
use super::respond::text;
use crate::middleware::glue::Call;
use crate::routing::url_for;

/// A short `text/plain` answer: `status` as the body (empty for HEAD).
pub(crate) fn plain<'py>(
    call: &Call<'_, 'py>,
    status: &str,
    extra: &[(&str, &str)],
    head: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let py = call.environ.py();
    let text = format!("{status}\n");
    let list = PyList::new(
        py,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", &text.len().to_string()),
        ],
    )?;
    for pair in extra {
        list.append(pair)?;
    }
    call.start_response.call1((status, list))?;
    let chunks = if head {
        vec![]
    } else {
        vec![PyBytes::new(py, text.as_bytes())]
    };
    Ok(PyList::new(py, chunks)?.into_any())
}

/// 405 with `Allow: GET, HEAD` (RFC 9110 §15.5.6).
pub(crate) fn method_not_allowed<'py>(
    call: &Call<'_, 'py>,
    head: bool,
) -> PyResult<Bound<'py, PyAny>> {
    plain(
        call,
        "405 Method Not Allowed",
        &[("Allow", "GET, HEAD")],
        head,
    )
}

/// 301 to the same path with a trailing slash, query string kept (the
/// `Location` is an absolute path, RFC 9110 §10.2.2).
pub(crate) fn redirect_to_slash<'py>(
    call: &Call<'_, 'py>,
    environ: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = environ.py();
    let mut target = Vec::new();
    for key in [intern!(py, "SCRIPT_NAME"), intern!(py, "PATH_INFO")] {
        if let Some(part) = text(environ, key) {
            target.extend_from_slice(&latin1_bytes(part.to_str()?).unwrap_or_default());
        }
    }
    // `Location` keeps what a path keeps unescaped (RFC 3986 `pchar` and
    // `/`, the set url_for escapes paths with); `%` is escaped, since
    // `PATH_INFO` was decoded.
    let mut location = percent_encode(&target, url_for::PATH).to_string();
    location.push('/');
    if let Some(qs) = text(environ, intern!(py, "QUERY_STRING")) {
        let qs = qs.to_str()?;
        if !qs.is_empty() {
            location.push('?');
            location.push_str(qs);
        }
    }
    let head = text(environ, intern!(py, "REQUEST_METHOD"))
        .is_some_and(|m| m.to_str().is_ok_and(|m| m == "HEAD"));
    plain(
        call,
        "301 Moved Permanently",
        &[("Location", &location)],
        head,
    )
}
