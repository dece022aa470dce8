//! Bench-only (`maturin develop --release` here; see `bench/README.md`).
//!
//! `Floor`: what any PyO3 router pays per request under rswsgi's `Router`
//! contract, with the route lookup replaced by a Python dict lookup on the
//! exact `PATH_INFO` string (its hash is cached in the str object, so the
//! lookup costs next to nothing). No pattern matching at all.
//!
//! Per request it does exactly the Python object work the contract asks for
//! and nothing else: the `tp_call` entry (PyO3 `__call__`), `PATH_INFO` and
//! `REQUEST_METHOD` read from the environ as `str`, a fresh `dict` of the
//! params whose values are new `str` objects made from Rust text (a router
//! cuts them out of the path), the `((), params)` tuple stored under
//! `wsgiorg.routing_args`, and the app call. `bench/bench_router.py` times it
//! as the row "(PyO3 floor: no matching)", so the gap between it and rswsgi is
//! what matching and method dispatch cost.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

/// One concrete path: its param names and values, and an app per method.
struct Entry {
    params: Vec<(Py<PyString>, String)>,
    methods: Vec<(String, Py<PyAny>)>,
}

/// `Floor(table)`: `table` maps each concrete path (`str`) to
/// `(params, methods)`: `params` a list of `(name, value)` str pairs in
/// pattern order, `methods` a dict of method name to WSGI app. Calling it as
/// a WSGI app answers only those exact paths and methods; anything else
/// raises `KeyError` (the bench asks only hits).
#[pyclass(frozen)]
struct Floor {
    index: Py<PyDict>,
    entries: Vec<Entry>,
}

#[pymethods]
impl Floor {
    #[new]
    fn new(table: &Bound<'_, PyDict>) -> PyResult<Self> {
        let py = table.py();
        let index = PyDict::new(py);
        let mut entries = Vec::new();
        for (path, spec) in table.iter() {
            let (params, methods): (Vec<(String, String)>, Bound<'_, PyDict>) = spec.extract()?;
            index.set_item(path, entries.len())?;
            entries.push(Entry {
                params: params
                    .into_iter()
                    .map(|(k, v)| (PyString::new(py, &k).unbind(), v))
                    .collect(),
                methods: methods
                    .iter()
                    .map(|(m, app)| Ok((m.extract::<String>()?, app.unbind())))
                    .collect::<PyResult<_>>()?,
            });
        }
        Ok(Self {
            index: index.unbind(),
            entries,
        })
    }

    fn __call__<'py>(
        &self,
        environ: &Bound<'py, PyDict>,
        start_response: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = environ.py();
        let key_error = || pyo3::exceptions::PyKeyError::new_err("not a bench hit");
        let path = environ
            .get_item(intern!(py, "PATH_INFO"))?
            .ok_or_else(key_error)?;
        let path = path.cast::<PyString>()?;
        let _ = path.to_str()?; // a router reads the path as text
        let method = environ
            .get_item(intern!(py, "REQUEST_METHOD"))?
            .ok_or_else(key_error)?;
        let method = method.cast::<PyString>()?.to_str()?;
        let i: usize = self
            .index
            .bind(py)
            .get_item(path)?
            .ok_or_else(key_error)?
            .extract()?;
        let entry = &self.entries[i];
        let app = entry
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, app)| app)
            .ok_or_else(key_error)?;
        let params = PyDict::new(py);
        for (name, value) in &entry.params {
            params.set_item(name.bind(py), PyString::new(py, value))?;
        }
        let args = (PyTuple::empty(py), params).into_pyobject(py)?;
        environ.set_item(intern!(py, "wsgiorg.routing_args"), args)?;
        app.bind(py).call1((environ, start_response))
    }
}

/// `LogFloor(app, stream)`: the plain PyO3 way to dump an environ, doing less
/// than `log_environ` must. Per request it writes one `key: value` line per
/// environ item to `stream` in one `write(str)` call, then returns
/// `app(environ, start_response)`: no header line, no sorting, `str` values
/// copied raw (no quoting or escaping), other values through `repr()`, no
/// redaction. `bench/bench_middleware.py` times it next to `log_environ` as
/// "(plain PyO3: unsorted, unescaped, repr())".
#[pyclass(frozen)]
struct LogFloor {
    app: Py<PyAny>,
    stream: Py<PyAny>,
}

#[pymethods]
impl LogFloor {
    #[new]
    fn new(app: Py<PyAny>, stream: Py<PyAny>) -> Self {
        Self { app, stream }
    }

    fn __call__<'py>(
        &self,
        environ: &Bound<'py, PyDict>,
        start_response: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = environ.py();
        let mut out = String::with_capacity(2048);
        for (key, value) in environ.iter() {
            out.push_str("  ");
            out.push_str(key.cast::<PyString>()?.to_str()?);
            out.push_str(": ");
            match value.cast::<PyString>() {
                Ok(s) => out.push_str(s.to_str()?),
                Err(_) => out.push_str(value.repr()?.to_str()?),
            }
            out.push('\n');
        }
        self.stream
            .bind(py)
            .call_method1(intern!(py, "write"), (PyString::new(py, &out),))?;
        self.app.bind(py).call1((environ, start_response))
    }
}

#[pymodule]
fn rswsgi_bench_floor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Floor>()?;
    m.add_class::<LogFloor>()
}
