//! rswsgi: a WSGI toolkit whose working parts are Rust.
//!
//! This file only declares the modules and registers the Python extension
//! module `rswsgi._rswsgi`; every concern lives in its own module.

pub mod errors;
pub mod finalize;
pub mod middleware;
pub mod reload;
pub mod routing;
pub mod server;
pub mod vectorcall;
pub mod wsgi;

use pyo3::prelude::*;

/// The native half of rswsgi; import it through the `rswsgi` package.
///
/// `gil_used = true`: rswsgi does not claim to be safe without the GIL. Its
/// `Server`, `Router` and middleware keep mutable state in `#[pyclass]`es that
/// rely on the GIL to serialise access, and nothing tests them on a
/// free-threaded (3.13t/3.14t) build, so importing rswsgi there re-enables the
/// GIL (CPython warns once) instead of risking a data race.
#[pymodule(gil_used = true)]
mod _rswsgi {
    use pyo3::prelude::*;

    use crate::vectorcall;

    #[pymodule_export]
    use crate::middleware::{stack, HandleError, LogEnviron, Reverser, WrapQueryParams};
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
        // Closes a filtered response's app iterable when the cycle collector
        // frees the response (the slot is set before any instance exists).
        crate::finalize::install::<crate::middleware::filter::StartResponse>(py);
        Ok(())
    }
}
