//! rswsgi: a WSGI toolkit whose working parts are Rust.
//!
//! This file only declares the modules and registers the Python extension
//! module `rswsgi._rswsgi`; every concern lives in its own module.
//!
//! `unsafe` is denied crate-wide (Cargo.toml); the few modules that call
//! the C API allow it for themselves, and every `unsafe` block says why it
//! is sound in a `// SAFETY:` comment, which clippy checks.

#![deny(clippy::undocumented_unsafe_blocks)]

pub(crate) mod errors;
pub(crate) mod finalize;
pub(crate) mod middleware;
pub(crate) mod reload;
pub(crate) mod routing;
pub(crate) mod server;
pub(crate) mod vectorcall;
pub(crate) mod wsgi;

/// What the fuzz targets (`fuzz/`, built by `cargo fuzz`) call: the sans-IO
/// parsers and their types, the crate's only public Rust API. Everything
/// else is `pub(crate)`, so the compiler reports what nothing uses.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::middleware::accept::prefers_html;
    pub use crate::middleware::query_params::parse_qsl;
    pub use crate::middleware::reverser::{reverse_body, reverse_graphemes, reverse_utf8, Charset};
    pub use crate::routing::fuzzing::{build, Methods, Table};
    pub use crate::server::body::{framing, BodyDecoder, Framing};
    pub use crate::server::config::Limits;
    pub use crate::server::error::RequestError;
    pub use crate::server::parse::{parse_head, RequestHead};
    pub use crate::server::target::{
        absolute_authority, check_target, is_valid_host, split_target,
    };
}

use pyo3::prelude::*;

/// The native half of rswsgi; import it through the `rswsgi` package.
///
/// `gil_used = false`: importing rswsgi on a free-threaded CPython (3.14t)
/// leaves the GIL off. Every piece of state kept across calls is safe
/// without it, and the reasoning sits beside each:
///
/// - the middleware classes are `frozen`: their options are set once in the
///   constructor; log_environ's dump cache is taken with `try_lock` and a
///   request that finds it busy dumps with a fresh one
///   (`middleware/log_environ/dump.rs`); pyrepr's table of default reprs is
///   a `Mutex` held only over Rust code (`middleware/pyrepr.rs`);
/// - a filtered response's state (`middleware/filter/intercept.rs`) is
///   a `Mutex` taken with `try_lock` (a second call while one runs is an
///   error, never a wait);
/// - the `Router`'s tables sit behind a reader-writer lock, so routes may be
///   added while other threads route (`routing/mod.rs`);
/// - vectorcall is installed on each class once, before its first instance
///   is handed out, and the recursion guard counts per thread
///   (`vectorcall.rs`);
/// - the server runs the app on one thread; its reuse of a `start_response`
///   object reads refcounts and is off without the GIL
///   (`server/start_response.rs`); its per-request objects (`Input`,
///   `FileWrapper`, `ServerStartResponse`) are PyO3 classes whose every access is
///   borrow-checked (atomically on a free-threaded build), so a second
///   thread using one at the same moment gets `RuntimeError`, never a race;
///   `Server` and `_FileWatcher` keep their state in `Mutex`es; the
///   live-reload events other threads send wait in a `Mutex` with an atomic
///   flag (`server/event_loop.rs`), and the outlet `write()` sends through
///   lives in the borrow-checked `ServerStartResponse` of one request
///   (`server/outlet.rs`);
/// - `static_files` keeps its folder handle, per-file headers and sibling
///   lists in `Mutex`es (`middleware/static_files/`); `_LiveReload` is
///   `frozen` with one atomic flag;
/// - `static`s are `PyOnceLock`s of immutable Python objects (made once,
///   then only read) or the `Mutex` above.
///
/// `tests/test_free_threading.py` runs the middleware and the router from
/// 8 threads at once without the GIL.
#[pymodule(gil_used = false)]
mod _rswsgi {
    use pyo3::prelude::*;
    use pyo3::types::IntoPyDict;
    use pyo3::PyTypeInfo;

    use crate::vectorcall;

    #[pymodule_export]
    use crate::middleware::{
        stack, HandleError, LiveReload, LogEnviron, Reverser, StaticFiles, WrapQueryParams,
    };
    #[pymodule_export]
    use crate::reload::FileWatcher;
    #[pymodule_export]
    use crate::routing::Router;
    #[pymodule_export]
    use crate::server::certificate::{_adhoc_certificate, _check_certificate};
    #[pymodule_export]
    use crate::server::config::limits_table;
    #[pymodule_export]
    use crate::server::{make_server, serve, Server};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        // Vectorcall for the WSGI callables, each measured on a live instance
        // (the server's start_response: on the first one it makes).
        let py = m.py();
        let app = m.getattr("stack")?; // any callable will do
        vectorcall::install_called::<Router>(py, ())?;
        vectorcall::install_called::<LogEnviron>(py, (&app,))?;
        vectorcall::install_called::<HandleError>(py, (&app,))?;
        vectorcall::install_called::<WrapQueryParams>(py, (&app,))?;
        vectorcall::install_called::<Reverser>(py, (&app,))?;
        let no_mounts = pyo3::types::PyDict::new(py);
        vectorcall::install_called::<StaticFiles>(py, (&app, no_mounts))?;
        let generation = [("generation", "0")].into_py_dict(py)?;
        let sample = LiveReload::type_object(py).call((&app,), Some(&generation))?;
        vectorcall::install(&sample.cast_into::<LiveReload>()?)?;
        // Closes a filtered response's app iterable when the cycle collector
        // frees the response (the slot is set before any instance exists).
        crate::finalize::install::<crate::middleware::filter::FilterStartResponse>(py);
        Ok(())
    }
}
