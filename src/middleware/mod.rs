//! WSGI middleware: each takes a WSGI app and is a WSGI app (PEP 3333
//! "Middleware: Components that Play Both Sides"), so each also works as a
//! decorator.
//!
//! - [`log_environ`](log_environ::LogEnviron) and
//!   [`wrap_query_params`](query_params::WrapQueryParams) only look at the
//!   request: they call the app and return its iterable unchanged.
//! - [`handle_error`](handle_error::HandleError) and
//!   [`reverser`](reverser::Reverser) rewrite responses through the one
//!   shared [`filter`].
//! - [`static_files`](static_files::StaticFiles) answers requests for
//!   files under its URL prefixes itself and passes the rest on.
//! - [`stack`] composes them.

// Public only for the cargo-fuzz targets in `fuzz/` (not an API).
#[doc(hidden)]
pub(crate) mod accept;
mod debug_page;
pub(crate) mod filter;
pub(crate) mod glue;
pub(crate) mod handle_error;
pub(crate) mod live_reload;
pub(crate) mod log_environ;
mod pyrepr;
pub(crate) mod query_params;
pub(crate) mod reverser;
pub(crate) mod static_files;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

pub(crate) use handle_error::HandleError;
pub(crate) use live_reload::LiveReload;
pub(crate) use log_environ::LogEnviron;
pub(crate) use query_params::WrapQueryParams;
pub(crate) use reverser::Reverser;
pub(crate) use static_files::StaticFiles;

use crate::errors::{check_callable, Callee};
use glue::check_app;

/// `stack(app, *middleware)`: applies middleware from the inside out.
///
/// `stack(app, a, b, c)` is `c(b(a(app)))`: `a` is nearest the app and `c`
/// sees the request first and the response last. `app` and every
/// middleware must be callable; each middleware is called with one
/// argument, the app built so far, and must return a WSGI app.
///
/// Raises `TypeError` naming the argument, its value and its type when
/// `app` or a middleware is not callable, and whatever a middleware raises.
#[pyfunction]
#[pyo3(signature = (app, /, *middleware))]
pub(crate) fn stack<'py>(
    app: Bound<'py, PyAny>,
    middleware: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut app = check_app(app)?;
    for mw in middleware.iter() {
        check_callable("middleware", &mw, Callee::Middleware)?;
        app = mw.call1((app,))?;
    }
    Ok(app)
}
