//! `handle_error`: turns an exception before the body starts into a 500.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};
use pyo3::{intern, PyTraverseError, PyVisit};

use super::filter::{call_filtered, ErrorResponse, ResponseHooks};
use super::glue::{bool_arg, middleware_class, Call, Middleware, Options};
use super::live_reload::LIVE_RELOAD_KEY;
use super::{accept, debug_page};
use crate::vectorcall;
use crate::wsgi::{repr_or_type, type_name, Headers};

/// The status and default body of the response that replaces a failure.
const STATUS_500: &str = "500 Internal Server Error";

/// The environ key a `handle_error(debug=True)` sets for the app it wraps:
/// every `handle_error` inside it then lets exceptions through to it (as
/// Flask's debug mode propagates exceptions to werkzeug's debugger), so the
/// outermost debug handler is the one that answers.
const DEBUG_KEY: &str = "rswsgi.debug";

/// The debug page's `Content-Security-Policy`: its own inline style and
/// nothing else, so no markup in it could run or fetch anything.
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// The debug page's policy under the dev server's live reload (the environ
/// has [`LIVE_RELOAD_KEY`]): same-origin scripts and connections too, so the
/// page reloads itself once a save fixes the error. Every string on the page
/// is still escaped, so no markup in it can add a script of its own.
const PAGE_CSP_LIVE: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'";

/// WSGI middleware: `handle_error(app, *, debug=False)`.
///
/// When `app(environ, start_response)` raises, or its body raises before
/// its first non-empty chunk, the traceback is written to
/// `environ['wsgi.errors']` and the response becomes
/// `500 Internal Server Error` (`Content-Type: text/plain; charset=utf-8`,
/// exact `Content-Length`), whose body is `500 Internal Server Error`
/// (never more by default: tracebacks leak source and data).
///
/// With `debug=True` the body explains the exception, chosen by the
/// request's `Accept` header (RFC 9110 §12.5.1, weights and specificity): a
/// client that gives `text/html` a higher weight than `text/plain` (a
/// browser) gets one self-contained HTML page (`text/html; charset=utf-8`;
/// no script, nothing fetched): the exception chain, each frame with its
/// source lines, the request line and the environ with `log_environ`'s
/// default redaction, every app- or client-controlled string HTML-escaped.
/// Every other client (`*/*`, no `Accept`) gets the formatted traceback as
/// `text/plain`. Both carry `Vary: Accept`. A debug handler also sets
/// `environ['rswsgi.debug'] = True`, and any `handle_error` inside one lets
/// exceptions through to it without logging them, so the outermost debug
/// handler answers and logs.
///
/// `exc_info` (PEP 3333 "Error Handling") goes with that 500 only if a
/// `start_response` call had already been passed on to the server (after the
/// app's `write()`); when the 500 is the first call the server sees it is
/// omitted, so servers and test clients that re-raise every `exc_info`
/// (werkzeug's and Flask's test `Client`) get the 500.
///
/// An exception later, while streaming, is logged, the app's iterable is
/// closed, and the exception propagates (the server then aborts the
/// connection). Only `Exception` subclasses are handled: `KeyboardInterrupt`
/// and `SystemExit` propagate untouched.
///
/// Raises `TypeError` when `app` is not callable and `ValueError` when
/// `debug` is not a bool.
/// Usable as a decorator: `@handle_error`.
#[pyclass(module = "rswsgi._rswsgi", name = "handle_error", frozen)]
pub(crate) struct HandleError {
    app: Py<PyAny>,
    vectorcall: vectorcall::Slot<Self>,
    debug: bool,
}

middleware_class!(
    HandleError,
    "handle_error",
    new(app, *, debug),
    text_signature = "(app, *, debug=False)"
);

impl HandleError {
    fn build(app: Bound<'_, PyAny>, [debug]: Options<'_, 1>) -> PyResult<Self> {
        let debug = bool_arg("debug", debug)?;
        Ok(Self {
            app: app.unbind(),
            vectorcall: vectorcall::Slot::default(),
            debug,
        })
    }
}

impl Middleware for HandleError {
    /// Returns the app's body through the response filter.
    fn call<'py>(&self, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
        let environ = call.environ;
        let py = environ.py();
        let key = intern!(py, "wsgi.errors");
        let errors = match environ.cast::<PyDict>() {
            Ok(dict) => dict.get_item(key).ok().flatten(),
            Err(_) => environ.get_item(key).ok(), // not a dict, as PEP 3333 asks
        };
        let errors = errors.map(Bound::unbind);
        // A debug handler decides now, before it marks the environ for the
        // handlers inside it; the others look only when an exception comes,
        // so a request that succeeds pays nothing for the mark.
        let defer = self.debug.then(|| {
            let outer = marked(environ);
            if !outer {
                // An environ that is not a dict (PEP 3333 says it is) only
                // means that inner handlers answer for themselves.
                let _ = environ.set_item(intern!(py, DEBUG_KEY), true);
            }
            outer
        });
        let hooks = Box::new(Hooks {
            errors,
            debug: self.debug,
            defer,
            environ: Some(environ.clone().unbind()),
        });
        call_filtered(call, hooks)
    }

    fn repr_options(&self, _py: Python<'_>) -> String {
        format!(", debug={}", if self.debug { "True" } else { "False" })
    }
}

impl Hooks {
    /// The debug page's policy for this request (see [`PAGE_CSP_LIVE`]).
    fn page_csp(&self, py: Python<'_>) -> &'static str {
        let live = self.environ.as_ref().is_some_and(|environ| {
            environ
                .bind(py)
                .cast::<PyDict>()
                .ok()
                .and_then(|d| d.get_item(intern!(py, LIVE_RELOAD_KEY)).ok().flatten())
                .is_some_and(|v| v.is_truthy().unwrap_or(false))
        });
        if live {
            PAGE_CSP_LIVE
        } else {
            PAGE_CSP
        }
    }
}

/// `true` when a `handle_error(debug=True)` outside has marked `environ`.
fn marked(environ: &Bound<'_, PyAny>) -> bool {
    let py = environ.py();
    environ
        .cast::<PyDict>()
        .ok()
        .and_then(|d| d.get_item(intern!(py, DEBUG_KEY)).ok().flatten())
        .is_some_and(|v| v.is_truthy().unwrap_or(false))
}

/// The per-request hooks: where to log, and whether to show tracebacks.
struct Hooks {
    errors: Option<Py<PyAny>>,
    debug: bool,
    /// An outer debug handler answers (let exceptions through, unlogged);
    /// `None` until known (see `__call__`).
    defer: Option<bool>,
    /// The request's environ: its mark, and the debug page.
    environ: Option<Py<PyAny>>,
}

impl Hooks {
    /// Whether an outer debug handler answers for this request.
    fn defers(&mut self, py: Python<'_>) -> bool {
        let environ = self.environ.as_ref();
        *self
            .defer
            .get_or_insert_with(|| environ.is_some_and(|e| marked(e.bind(py))))
    }

    /// Writes the traceback of `err` to `wsgi.errors` (or `sys.stderr`) in
    /// one `write()` call and returns it.
    fn log(&self, py: Python<'_>, err: &PyErr) -> String {
        let text = format_traceback(py, err);
        let stream = match &self.errors {
            Some(s) => Ok(s.bind(py).clone()),
            None => py
                .import(intern!(py, "sys"))
                .and_then(|sys| sys.getattr(intern!(py, "stderr"))),
        };
        let written = stream.and_then(|s| s.call_method1(intern!(py, "write"), (text.as_str(),)));
        if let Err(e) = written {
            // Logging must not replace the response; report it as Python
            // reports errors it cannot raise.
            e.write_unraisable(py, None);
        }
        text
    }

    /// The debug page for `err`, when the request prefers HTML; `text` is
    /// the traceback already logged. A page that cannot be built is logged
    /// too, and the client gets the text.
    fn page(&self, py: Python<'_>, err: &PyErr, text: &str) -> Option<String> {
        let environ = self.environ.as_ref()?.bind(py);
        let accept = environ.get_item(intern!(py, "HTTP_ACCEPT")).ok();
        let accept = accept.as_ref().and_then(|a| a.cast::<PyString>().ok());
        let accept = accept.map(|a| a.to_string_lossy());
        if !accept::prefers_html(accept.as_deref()) {
            return None;
        }
        debug_page::render(err, environ, text)
            .map_err(|e| self.log(py, &e))
            .ok()
    }
}

/// A 500 with `body`, its exact `Content-Length` and `extra` headers.
fn response_500(content_type: &str, body: Vec<u8>, extra: &[(&str, &str)]) -> ErrorResponse {
    let mut headers = vec![
        ("Content-Type".to_owned(), content_type.to_owned()),
        ("Content-Length".to_owned(), body.len().to_string()),
    ];
    headers.extend(extra.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())));
    ErrorResponse {
        status: STATUS_500.to_owned(),
        headers: Headers(headers),
        body,
    }
}

impl ResponseHooks for Hooks {
    fn recover(&mut self, py: Python<'_>, err: &PyErr) -> Option<ErrorResponse> {
        if self.defers(py) {
            return None;
        }
        let text = self.log(py, err);
        let plain = "text/plain; charset=utf-8";
        if !self.debug {
            return Some(response_500(plain, STATUS_500.as_bytes().to_vec(), &[]));
        }
        // The body depends on Accept (RFC 9110 §12.5.5).
        let vary = ("Vary", "Accept");
        Some(match self.page(py, err, &text) {
            Some(page) => response_500(
                "text/html; charset=utf-8",
                page.into_bytes(),
                &[
                    vary,
                    ("Cache-Control", "no-store"),
                    ("Content-Security-Policy", self.page_csp(py)),
                ],
            ),
            None => response_500(plain, text.into_bytes(), &[vary]),
        })
    }

    fn streaming_error(&mut self, py: Python<'_>, err: &PyErr) {
        if !self.defers(py) {
            self.log(py, err);
        }
    }

    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.errors)?;
        visit.call(&self.environ)
    }

    fn clear(&mut self) {
        self.errors = None;
        self.environ = None;
    }
}

/// `''.join(traceback.format_exception(type, value, tb))`, or
/// `Type: message` when formatting itself fails.
fn format_traceback(py: Python<'_>, err: &PyErr) -> String {
    static FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let formatted = FORMAT
        .import(py, "traceback", "format_exception")
        .and_then(|f| f.call1((err.get_type(py), err.value(py), err.traceback(py))))
        .and_then(|lines| PyString::new(py, "").call_method1(intern!(py, "join"), (lines,)))
        .and_then(|s| s.extract::<String>());
    formatted.unwrap_or_else(|_| {
        format!(
            "{}: {}\n",
            type_name(err.value(py).as_any()),
            repr_or_type(err.value(py).as_any())
        )
    })
}
