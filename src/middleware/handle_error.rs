//! `handle_error`: turns an exception before the body starts into a 500.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use pyo3::{intern, PyTraverseError, PyVisit};

use super::filter::{call_filtered, ErrorResponse, ResponseHooks};
use super::{bool_arg, check_app, describe_app};
use crate::wsgi::{repr_or_type, type_name, Headers};

/// The status and default body of the response that replaces a failure.
const STATUS_500: &str = "500 Internal Server Error";

/// WSGI middleware: `handle_error(app, *, debug=False)`.
///
/// When `app(environ, start_response)` raises, or its body raises before
/// its first non-empty chunk, the traceback is written to
/// `environ['wsgi.errors']` and the response becomes
/// `500 Internal Server Error` (`Content-Type: text/plain; charset=utf-8`,
/// exact `Content-Length`), whose body is `500 Internal Server Error`, or
/// the formatted traceback when `debug=True` (never by default: tracebacks
/// leak source and data).
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
/// Raises `ValueError` when `app` is not callable or `debug` is not a bool.
/// Usable as a decorator: `@handle_error`.
#[pyclass(module = "rswsgi._rswsgi", name = "handle_error", frozen)]
pub struct HandleError {
    app: Py<PyAny>,
    debug: bool,
}

#[pymethods]
impl HandleError {
    #[new]
    #[pyo3(signature = (app, *, debug = None), text_signature = "(app, *, debug=False)")]
    fn new(app: Bound<'_, PyAny>, debug: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let debug = bool_arg("debug", debug)?;
        Ok(Self {
            app: check_app(app)?,
            debug,
        })
    }

    /// The WSGI call (PEP 3333 "The Application/Framework Side"): returns
    /// the app's body through the response filter.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        environ: &Bound<'py, PyAny>,
        start_response: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let errors = environ
            .get_item(intern!(py, "wsgi.errors"))
            .ok()
            .map(Bound::unbind);
        let hooks = Box::new(Hooks {
            errors,
            debug: self.debug,
        });
        call_filtered(self.app.bind(py), environ, start_response, hooks)
    }

    /// The wrapped WSGI application.
    #[getter]
    fn app(&self, py: Python<'_>) -> Py<PyAny> {
        self.app.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "handle_error({}, debug={})",
            describe_app(self.app.bind(py)),
            if self.debug { "True" } else { "False" }
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.app)
    }

    /// Nothing to clear: `app` is immutable, and a cycle through it always
    /// passes through a mutable object (a function's globals or closure, a
    /// dict) whose own `tp_clear` breaks it (PyO3 guide, "Garbage Collector
    /// Integration": immutable references need not be cleared).
    #[allow(clippy::unused_self)] // the slot's signature; see above
    fn __clear__(&self) {}
}

/// The per-request hooks: where to log, and whether to show tracebacks.
struct Hooks {
    errors: Option<Py<PyAny>>,
    debug: bool,
}

impl Hooks {
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
}

impl ResponseHooks for Hooks {
    fn recover(&mut self, py: Python<'_>, err: &PyErr) -> Option<ErrorResponse> {
        let text = self.log(py, err);
        let body = if self.debug {
            text.into_bytes()
        } else {
            STATUS_500.as_bytes().to_vec()
        };
        Some(ErrorResponse {
            status: STATUS_500.to_owned(),
            headers: Headers(vec![
                (
                    "Content-Type".to_owned(),
                    "text/plain; charset=utf-8".to_owned(),
                ),
                ("Content-Length".to_owned(), body.len().to_string()),
            ]),
            body,
        })
    }

    fn streaming_error(&mut self, py: Python<'_>, err: &PyErr) {
        self.log(py, err);
    }

    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.errors)
    }

    fn clear(&mut self) {
        self.errors = None;
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
