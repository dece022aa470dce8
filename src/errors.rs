//! rswsgi's error type and its one conversion to Python exceptions.
//!
//! Every fallible operation that can reach Python returns [`Error`]; the
//! `impl From<Error> for PyErr` below is the only place that chooses a Python
//! exception class, so the mapping is readable in one screen.
//! (The HTTP server's request errors are a separate enum, `server::RequestError`,
//! because they become status codes, not exceptions.)

use pyo3::exceptions::{PyKeyError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::fmt;

use crate::wsgi::{repr_or_type, type_name};

/// What went wrong, named by meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A status passed to `start_response` is not `"NNN Reason"` (PEP 3333
    /// "The start_response() Callable": three digits, a space, a reason phrase).
    InvalidStatus(String),
    /// A response header is not a `(str, str)` pair of latin-1 text without
    /// control characters (PEP 3333 "The start_response() Callable", RFC 9110 §5.5).
    InvalidHeader(String),
    /// `start_response` was called a second time without `exc_info`
    /// (PEP 3333: only an error handler may call it again).
    StartResponseTwice,
    /// The application returned or wrote a body before calling `start_response`.
    StartResponseNotCalled,
    /// A body chunk is not a bytestring (PEP 3333 "Unicode Issues").
    BodyNotBytes(String),
    /// A function argument has a value the function cannot use; names the
    /// argument and the value.
    BadArgument {
        /// The parameter's name as the Python caller spells it.
        name: &'static str,
        /// `repr()`-like text of the value that was given.
        value: String,
        /// Why it was refused.
        why: &'static str,
    },
    // --- routing (src/routing/) ---
    /// `Router.add`/`mount`: the new path cannot live next to an existing
    /// one (a matchit conflict, an overlapping method on the same path, or
    /// the same mount prefix twice). Names both paths.
    RouteConflict {
        /// The path being added, as the caller wrote it.
        new: String,
        /// The path already registered that it collides with.
        existing: String,
        /// What collides (e.g. the overlapping methods).
        why: String,
    },
    /// `Router.add`: a `{param}` or `{*catch_all}` whose name holds `{` or
    /// `}`. matchit reads `{{`/`}}` as literal braces before it looks for
    /// params, so `/{x}}}` is one param named `x}`, not `{x}` and a `}`;
    /// refused, since no one means that.
    BraceInParamName {
        /// `repr()`-like text of the path.
        path: String,
        /// `repr()`-like text of the name as matchit reads it.
        name: String,
    },
    /// `Router.add`: two params with one name. matchit takes it, but
    /// `routing_args` holds one value per name, so the first would be lost.
    DuplicateParam {
        /// `repr()`-like text of the path.
        path: String,
        /// `repr()`-like text of the name.
        name: String,
    },
    /// `Router.add`: more `{param}`s than matchit can hold in one path
    /// (it panics past its limit).
    TooManyParams {
        /// `repr()`-like text of the path.
        path: String,
        /// How many `{param}`s it has (a `{*catch_all}` is not counted).
        count: usize,
        /// The most matchit allows.
        limit: usize,
    },
    /// `Router.url_for`: no route was added with this `name=`.
    UnknownRoute(String),
    /// `Router.url_for`: the route's path has a `{param}` the call did not give.
    MissingParam {
        /// The route name passed to `url_for`.
        route: String,
        /// The parameter that has no value.
        param: String,
    },
    /// `Router.url_for`: a parameter value is neither `str` nor `int`.
    ParamType {
        /// The parameter's name.
        param: String,
        /// The Python type name of the value given.
        type_name: String,
    },
    /// The environ lacks a key PEP 3333 requires ("environ Variables").
    MissingEnvironKey(&'static str),
    /// A WSGI callable of one response (its `start_response`, `write()` or
    /// body iterator) was called from inside another call on the same
    /// response, e.g. an app's generator iterating its own wrapped body.
    ReentrantCall,
    /// A function argument that must be callable is not (see
    /// [`check_callable`]); names the argument, the value and its type.
    NotCallable {
        /// The parameter's name as the Python caller spells it.
        name: &'static str,
        /// `repr()`-like text of the value that was given.
        value: String,
        /// The Python type name of the value.
        type_name: String,
        /// What the argument is called as.
        expected: Callee,
    },
    /// An operating-system call failed (resolving a host, binding or
    /// listening on a socket); `what` says what was attempted.
    Os {
        /// What was attempted, e.g. `cannot listen on 127.0.0.1:8888`.
        what: String,
        /// The OS error number, when there is one.
        errno: Option<i32>,
        /// The OS's description, plus a hint when one helps.
        why: String,
    },
    /// A TLS argument of `make_server` (`cert=`, `key=`) cannot be used:
    /// the file holds no PEM certificate or private key, the key does not
    /// match the certificate, or one is given without the other. Names the
    /// argument and its value (an unreadable file is [`Error::Os`]).
    BadTlsArgument {
        /// The parameter's name, `cert` or `key`.
        name: &'static str,
        /// `repr()`-like text of the value that was given.
        value: String,
        /// Why it was refused.
        why: String,
    },
    /// The server is busy in another call (e.g. `server_close()` while
    /// `serve_forever()` runs on another thread); says which call.
    ServerBusy(&'static str),
    /// `serve_forever()` or `handle_request()` on a server whose
    /// `server_close()` has run: it has no socket left to serve; says which
    /// call.
    ServerClosed(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidStatus(s) => write!(
                f,
                "invalid status {s:?}: expected three digits, a space and a reason phrase, e.g. '200 OK' (PEP 3333)"
            ),
            Self::InvalidHeader(why) => write!(f, "invalid response header: {why}"),
            Self::StartResponseTwice => f.write_str(
                "start_response() called again without exc_info (PEP 3333 allows that only from an error handler)",
            ),
            Self::StartResponseNotCalled => {
                f.write_str("the application sent body bytes before calling start_response()")
            }
            Self::BodyNotBytes(t) => write!(
                f,
                "the application yielded a {t} where bytes were expected (PEP 3333: the body is bytestrings)"
            ),
            Self::BadArgument { name, value, why } => write!(f, "{name}={value}: {why}"),
            Self::RouteConflict { new, existing, why } => {
                write!(f, "'{new}' conflicts with the existing '{existing}': {why}")
            }
            Self::BraceInParamName { path, name } => write!(
                f,
                "path={path}: a parameter name cannot contain '{{' or '}}', and matchit reads one named {name} here ('{{{{' and '}}}}' are literal braces wherever they stand, even right after a parameter)"
            ),
            Self::DuplicateParam { path, name } => write!(
                f,
                "path={path}: the parameter name {name} is used twice; routing_args holds one value per name"
            ),
            Self::TooManyParams { path, count, limit } => write!(
                f,
                "path={path}: {count} {{param}}s, but matchit allows at most {limit} in one path (a {{*catch_all}} is not counted)"
            ),
            Self::UnknownRoute(name) => write!(f, "no route is named '{name}'"),
            Self::MissingParam { route, param } => {
                write!(f, "route '{route}' needs a value for the parameter '{param}'")
            }
            Self::ParamType { param, type_name } => {
                write!(f, "parameter '{param}' must be str or int, not {type_name}")
            }
            Self::MissingEnvironKey(key) => {
                write!(f, "the environ has no '{key}' key (PEP 3333 requires it)")
            }
            Self::ReentrantCall => f.write_str(
                "re-entrant call: this response's start_response/write/body was used from inside another of its own calls",
            ),
            Self::NotCallable {
                name,
                value,
                type_name,
                expected,
            } => write!(
                f,
                "{name}={value}: {type_name} is not callable; expected {}",
                expected.describe()
            ),
            Self::Os { what, why, .. } => write!(f, "{what}: {why}"),
            Self::BadTlsArgument { name, value, why } => write!(f, "{name}={value}: {why}"),
            Self::ServerBusy(call) => write!(
                f,
                "{call}() cannot run while the server is serving on another thread; call shutdown() first"
            ),
            Self::ServerClosed(call) => write!(
                f,
                "{call}() cannot run: the server is closed (server_close() was called); make a new one with make_server()"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// [`Error::Os`] for a failed I/O call: `what` was attempted, `e` is
    /// why. The OS's text comes without Rust's `" (os error N)"` suffix,
    /// since Python's `OSError` shows the number itself (`[Errno N]`).
    #[must_use]
    pub(crate) fn io(what: String, e: &std::io::Error) -> Self {
        let errno = e.raw_os_error();
        let mut why = e.to_string();
        if let Some(n) = errno {
            if let Some(text) = why.strip_suffix(&format!(" (os error {n})")) {
                why = text.to_owned();
            }
        }
        Self::Os { what, errno, why }
    }
}

/// What kind of callable an argument must be, for [`check_callable`]'s message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callee {
    /// A WSGI application, `app(environ, start_response)` (PEP 3333).
    WsgiApp,
    /// A middleware as `stack` calls it: `mw(app)` returns a WSGI application.
    Middleware,
}

impl Callee {
    fn describe(self) -> &'static str {
        match self {
            Self::WsgiApp => {
                "a WSGI application, called as app(environ, start_response) (PEP 3333)"
            }
            Self::Middleware => "a middleware, called as mw(app) to return a WSGI application",
        }
    }
}

/// The one check for an argument that must be callable (every middleware's
/// `app`, `stack`'s arguments, `Router.add`/`mount`, `make_server`).
///
/// # Errors
/// [`Error::NotCallable`] (`TypeError`, Python's convention for an argument
/// of the wrong kind) naming `name`, the value and its type.
pub(crate) fn check_callable(
    name: &'static str,
    value: &Bound<'_, PyAny>,
    expected: Callee,
) -> Result<(), Error> {
    if value.is_callable() {
        return Ok(());
    }
    Err(Error::NotCallable {
        name,
        value: repr_or_type(value),
        type_name: type_name(value),
        expected,
    })
}

impl From<Error> for PyErr {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::InvalidStatus(_) | Error::InvalidHeader(_) | Error::BadArgument { .. } => {
                PyValueError::new_err(msg)
            }
            Error::BodyNotBytes(_) | Error::ParamType { .. } | Error::NotCallable { .. } => {
                PyTypeError::new_err(msg)
            }
            Error::RouteConflict { .. }
            | Error::BraceInParamName { .. }
            | Error::DuplicateParam { .. }
            | Error::TooManyParams { .. }
            | Error::MissingParam { .. }
            | Error::BadTlsArgument { .. } => PyValueError::new_err(msg),
            Error::UnknownRoute(_) | Error::MissingEnvironKey(_) => PyKeyError::new_err(msg),
            Error::StartResponseTwice
            | Error::StartResponseNotCalled
            | Error::ReentrantCall
            | Error::ServerBusy(_)
            | Error::ServerClosed(_) => PyRuntimeError::new_err(msg),
            // OSError(errno, strerror) picks the errno's subclass, as the
            // socket module's own errors do.
            Error::Os { errno: Some(n), .. } => PyOSError::new_err((n, msg)),
            Error::Os { errno: None, .. } => PyOSError::new_err(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_text_leaves_the_number_to_oserror() {
        let e = std::io::Error::from_raw_os_error(2);
        let err = Error::io("cert='x' cannot be read".into(), &e);
        assert_eq!(
            err.to_string(),
            "cert='x' cannot be read: No such file or directory"
        );
        assert!(matches!(err, Error::Os { errno: Some(2), .. }));
        // An error with no OS number keeps its whole text.
        let e = std::io::Error::other("made up (os error 2)");
        assert_eq!(
            Error::io("w".into(), &e).to_string(),
            "w: made up (os error 2)"
        );
    }
}
