//! `Router`: a WSGI app that dispatches on `PATH_INFO` with a matchit table.
//!
//! - `table.rs`: patterns -> routes -> per-method endpoints; conflicts.
//! - `dispatch.rs`: the per-request path (routing_args, 404, 405, HEAD).
//! - `pattern.rs`: patterns read as matchit reads them (escapes, params).
//! - `params.rs`: param values cut from a matched path.
//! - `mount.rs`: prefix mounts (`SCRIPT_NAME += prefix`).
//! - `url_for.rs`: pattern + params -> percent-encoded path.

// Private: the Python class is the interface; these are its parts.
mod dispatch;
mod mount;
mod params;
mod pattern;
mod table;
pub(crate) mod url_for;

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::RwLockExt;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::PyTraverseError;

use crate::errors::{check_callable, Callee, Error};
use crate::vectorcall;
use dispatch::RouteObjects;
use mount::Mounts;
use table::{quote, Methods, Table};

/// The parts of the router that the cargo-fuzz targets in `fuzz/` call,
/// re-exported by `crate::fuzzing` (not an API: the Python class is the
/// interface).
pub(crate) mod fuzzing {
    pub use super::table::{Methods, Table};
    pub use super::url_for::build;
}

/// A WSGI application (PEP 3333) that routes each request by its path.
///
/// `Router()` takes no arguments. Register apps with `add`/`route` and
/// `mount`; then call the router as `router(environ, start_response)`.
///
/// Per request (`PATH_INFO` is decoded from its PEP 3333 latin-1 form to
/// UTF-8 before matching):
///
/// 1. a route whose path and method (`REQUEST_METHOD`, compared
///    case-sensitively, RFC 9110 §9.1) match: `environ['wsgiorg.routing_args']`
///    is set to `((), {param: str})` (a fresh dict) and the route's app is
///    called; its return value is returned unchanged. HEAD is answered by
///    the GET app when HEAD itself is not registered.
/// 2. else the mount with the longest prefix covering the path (see `mount`).
/// 3. else, if a route has the path but not the method:
///    `405 Method Not Allowed` with `Allow` (sorted, `", "`-separated,
///    HEAD included when GET is).
/// 4. else `404 Not Found`.
///
/// 404/405 are `text/plain; charset=utf-8` with `Content-Length`.
/// A path whose bytes are not UTF-8 matches no route (404 unless a mount
/// covers it; mounts see the raw path). `KeyError` if the environ has no
/// `REQUEST_METHOD` when a route's path matched; `TypeError` if
/// `PATH_INFO` or `REQUEST_METHOD` is not a `str`.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
#[derive(Debug, Default)]
pub(crate) struct Router {
    /// Free threading: routes may be added while other threads route
    /// requests, so the tables sit behind a reader-writer lock. A request
    /// holds the read lock only while it decides (Rust code and dict reads,
    /// never the app: the lock is released before the app is called), so
    /// requests on many threads read at once and an `add` waits for at most
    /// one decision per thread. Both sides take it with PyO3's
    /// `*_py_attached`, which detach from the interpreter before blocking, so
    /// a thread waiting here never holds up a stop-the-world pause (the
    /// free-threaded collector's) that the holder is waiting on. With the
    /// GIL the lock is never contended (nothing in a decision or an `add`
    /// releases the GIL) and costs one uncontended atomic per request.
    tables: RwLock<Tables>,
    vectorcall: vectorcall::Slot<Self>,
}

/// What a `Router` holds, behind its lock.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    table: Table<Py<PyAny>>,
    /// Per route (same index as the table's routes): its Python objects.
    objects: Vec<RouteObjects>,
    mounts: Mounts<Py<PyAny>>,
    /// One entry per successful `add`, in order, for `Router.routes`.
    added: Vec<Added>,
}

// `router(environ, start_response)` with a `dict` environ; any other call
// gets `__call__`'s argument errors.
vectorcall::implement!(Router, |slf, args| {
    let [environ, start_response] = args else {
        return None;
    };
    let environ = environ.cast::<PyDict>().ok()?;
    Some(dispatch::call(slf, &environ, start_response))
});

/// What one `add` call registered, as `Router.routes` reports it.
#[derive(Debug)]
struct Added {
    path: String,
    methods: Methods,
    name: Option<String>,
    app: Py<PyAny>,
}

/// `methods=`: `None` (any), or an iterable of `str` (not a bare `str`).
fn parse_methods(methods: Option<&Bound<'_, PyAny>>) -> PyResult<Methods> {
    let Some(methods) = methods else {
        return Ok(Methods::Any);
    };
    if let Ok(s) = methods.cast::<PyString>() {
        return Err(Error::BadArgument {
            name: "methods",
            value: quote(s.to_str()?),
            why: "pass a list of method names such as ['GET'], not a single str",
        }
        .into());
    }
    let mut names = Vec::new();
    for item in methods.try_iter()? {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => names.push(s.to_str()?.to_owned()),
            Err(_) => {
                return Err(Error::BadArgument {
                    name: "methods",
                    value: item.repr()?.to_str()?.to_owned(),
                    why: "each method must be a str such as 'GET'",
                }
                .into())
            }
        }
    }
    Ok(Methods::parse(names)?)
}

impl Router {
    /// The tables, for reading (see `tables` on free threading). A panic
    /// while they were written cannot leave them half-changed (`insert`
    /// checks before it changes anything), so a poisoned lock is read on.
    pub(crate) fn read(&self, py: Python<'_>) -> RwLockReadGuard<'_, Tables> {
        self.tables
            .read_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The tables, for changing (see `tables` on free threading).
    pub(crate) fn write(&self, py: Python<'_>) -> RwLockWriteGuard<'_, Tables> {
        self.tables
            .write_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Tables {
    fn insert(
        &mut self,
        path: &str,
        app: &Bound<'_, PyAny>,
        methods: Methods,
        name: Option<&str>,
    ) -> PyResult<()> {
        check_callable("app", app, Callee::WsgiApp)?;
        let py = app.py();
        let inserted = self
            .table
            .insert(path, methods.clone(), name, app.clone().unbind())?;
        let table = &self.table;
        let names = || {
            let route = table.routes().get(inserted.route);
            route.into_iter().flat_map(|r| r.methods.explicit_names())
        };
        if inserted.new_route {
            self.objects.push(RouteObjects::new(py, path, names()));
        } else if let Some(objects) = self.objects.get_mut(inserted.route) {
            objects.methods_changed(py, names());
        }
        self.added.push(Added {
            path: path.to_owned(),
            methods,
            name: name.map(str::to_owned),
            app: app.clone().unbind(),
        });
        Ok(())
    }
}

#[pymethods]
impl Router {
    /// Creates an empty router (every request gets 404 until routes are added).
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Registers `app` (a WSGI callable) for requests whose decoded
    /// `PATH_INFO` matches `path`, a matchit pattern: `/users/{id}`
    /// matches one segment, `/files/{*path}` the rest of the path (non-empty),
    /// `{{`/`}}` are literal braces; static segments win over params.
    ///
    /// `methods`: `None` for any method, or an iterable of method names
    /// (case-insensitive; stored upper-case). The same `path` may be added
    /// again with methods that do not overlap. `name`: a unique name for
    /// `url_for`.
    ///
    /// Raises `ValueError` when `path` does not start with `/` or is not
    /// valid matchit syntax, has more than 25 `{param}`s (matchit's limit;
    /// a catch-all is not counted), a param name used twice, or a param name
    /// with `{` or `}` in it (matchit reads `/{x}}}` as one param named `x}`:
    /// `{{`/`}}` are escapes everywhere), when a method is empty or not an HTTP token, when
    /// `methods` is a bare `str` or empty, when `name` is already used,
    /// and when the path conflicts with an existing one (an overlapping
    /// method on the same path, or a pattern matchit cannot tell apart from
    /// one already added); conflict messages name both paths. Raises
    /// `TypeError` when `app` is not callable. On error the router is
    /// unchanged.
    #[pyo3(signature = (path, app, *, methods = None, name = None))]
    fn add(
        &self,
        path: &str,
        app: &Bound<'_, PyAny>,
        methods: Option<&Bound<'_, PyAny>>,
        name: Option<&str>,
    ) -> PyResult<()> {
        let methods = parse_methods(methods)?;
        self.write(app.py()).insert(path, app, methods, name)
    }

    /// Decorator form of `add`: returns a callable that registers the
    /// decorated WSGI app, `@router.route('/users/{id}')`, and returns it
    /// unchanged. `methods` are
    /// checked here; the path is added (and conflicts raised, `ValueError`)
    /// when the decorator is applied.
    #[pyo3(signature = (path, *, methods = None, name = None))]
    fn route(
        slf: &Bound<'_, Self>,
        path: String,
        methods: Option<&Bound<'_, PyAny>>,
        name: Option<String>,
    ) -> PyResult<RouteDecorator> {
        Ok(RouteDecorator {
            router: slf.clone().unbind(),
            path,
            methods: parse_methods(methods)?,
            name,
        })
    }

    /// Sends requests whose `PATH_INFO` equals `prefix` or starts with
    /// `prefix + '/'` to `app` with `SCRIPT_NAME += prefix` and
    /// `PATH_INFO` = the rest (`''` or starting with `/`), changing the
    /// environ in place exactly as werkzeug's `DispatcherMiddleware` does.
    /// The longest prefix wins; a route matching path and method wins over
    /// any mount. `routing_args` is not set for mounts.
    ///
    /// Raises `ValueError` when `prefix` does not start with `/`, ends
    /// with `/` (so `'/'` is refused: use a `/{*path}` route), or is
    /// already mounted; `TypeError` when `app` is not callable.
    fn mount(&self, prefix: &str, app: &Bound<'_, PyAny>) -> PyResult<()> {
        check_callable("app", app, Callee::WsgiApp)?;
        let py = app.py();
        let app = app.clone().unbind();
        Ok(self.write(py).mounts.insert(prefix, app)?)
    }

    /// The path of the route added with `name=name`, each `{param}`
    /// filled from `params` (`str` or `int`) and percent-encoded as
    /// UTF-8 (RFC 3986 §3.3): `/` inside a `{param}` becomes `%2F`; a
    /// `{*catch_all}` keeps its `/`. Params the path does not use are
    /// appended as a query string (`?a=1&b=x+y`, in the order given), as
    /// Flask does. `name` is positional-only, so a route may have a
    /// `{name}` param. Note that a server decodes `%2F` back to `/` in
    /// `PATH_INFO` (PEP 3333), so a `{param}` value containing `/` does
    /// not route back to the same route; a catch-all does.
    ///
    /// Raises `KeyError` for an unknown route name, `ValueError` naming
    /// the route and the param when one is missing, `TypeError` for a value
    /// that is neither `str` nor `int`.
    #[pyo3(signature = (name, /, **params))]
    fn url_for(
        &self,
        py: Python<'_>,
        name: &str,
        params: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<String> {
        url_for::url_for(&self.read(py).table, name, params)
    }

    /// Every `add`/`route` call that succeeded, in the order made: a new
    /// `list` of `(path, methods, name, app)` tuples. `path` is the
    /// matchit pattern as given; `methods` is `None` (any method) or a
    /// `tuple[str, ...]` of upper-case names, sorted (HEAD is not added for
    /// GET, though GET routes answer it); `name` is `None` when none was
    /// given; `app` is the WSGI callable. For listing, as `flask routes`
    /// does (`python -m rswsgi.dev MODULE:APP --routes`); changing the list
    /// does not change the router. Raises nothing.
    #[getter]
    fn routes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let tables = self.read(py);
        let rows = tables.added.iter().map(|a| {
            let methods = match &a.methods {
                Methods::Any => py.None().into_bound(py),
                Methods::Only(names) => PyTuple::new(py, names)?.into_any(),
            };
            PyTuple::new(
                py,
                [
                    PyString::new(py, &a.path).into_any(),
                    methods,
                    a.name.as_deref().into_pyobject(py)?,
                    a.app.bind(py).clone(),
                ],
            )
        });
        PyList::new(py, rows.collect::<PyResult<Vec<_>>>()?)
    }

    /// Every `mount`: a new `list` of `(prefix, app)` tuples, longest
    /// prefix first (the order in which a request's path is tested against
    /// them; equal lengths in the order mounted). Raises nothing.
    #[getter]
    fn mounts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let tables = self.read(py);
        let rows = tables
            .mounts
            .iter()
            .map(|m| (m.prefix.as_str(), m.app.bind(py)));
        PyList::new(py, rows)
    }

    /// Routes one request (PEP 3333 application call); see the class doc.
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        environ: &Bound<'py, PyDict>,
        start_response: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        dispatch::call(slf, environ, start_response)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Never blocks (the collector may run while a thread is paused
        // inside `add`): then nothing is reported, which only keeps the
        // objects alive until the next collection.
        let Ok(tables) = self.tables.try_read() else {
            return Ok(());
        };
        tables.traverse(&visit)
    }

    fn __clear__(&self) {
        // Moved out, then dropped after the lock is released: dropping may
        // run Python code (finalizers) that reaches this router again.
        let taken = match self.tables.try_write() {
            Ok(mut tables) => std::mem::take(&mut *tables),
            Err(_) => return,
        };
        drop(taken);
    }
}

impl Tables {
    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        for route in self.table.routes() {
            for app in route.methods.endpoints() {
                visit.call(app)?;
            }
        }
        for app in self.mounts.apps() {
            visit.call(app)?;
        }
        for added in &self.added {
            visit.call(&added.app)?;
        }
        Ok(())
    }
}

/// The decorator returned by `Router.route`: `decorator(app)` adds
/// `app` to the router and returns `app` unchanged.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
#[derive(Debug)]
pub(crate) struct RouteDecorator {
    router: Py<Router>,
    path: String,
    methods: Methods,
    name: Option<String>,
}

#[pymethods]
impl RouteDecorator {
    /// Adds `app` under the stored path; raises as `Router.add` does.
    fn __call__<'py>(&self, app: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let router = self.router.get();
        router.write(app.py()).insert(
            &self.path,
            &app,
            self.methods.clone(),
            self.name.as_deref(),
        )?;
        Ok(app)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.router)
    }
}
