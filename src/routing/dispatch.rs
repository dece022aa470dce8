//! The per-request path: `PATH_INFO` -> route (or mount) -> the app, else a
//! 404 or a 405.
//!
//! Cost per routed request: two dict lookups with interned keys, one borrow of
//! `PATH_INFO` as `&str` (no copy when it is ASCII), one matchit lookup, one
//! scan of a handful of methods, then a dict of params (keys cached per route
//! as Python strings) inside a 2-tuple, and the app call.

use std::borrow::Cow;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::errors::Error;
use crate::routing::Router;

/// The Python `str` keys of one route's params, cached at `add` time so a
/// request does not build them.
#[derive(Debug)]
pub struct ParamKeys(pub Vec<(String, Py<PyString>)>);

impl ParamKeys {
    /// The cached key for the `i`-th param named `name` (matchit yields params
    /// in pattern order), or a new string if the cache disagrees.
    #[inline]
    fn key<'py>(&self, py: Python<'py>, i: usize, name: &str) -> Bound<'py, PyString> {
        match self.0.get(i) {
            Some((text, key)) if text == name => key.bind(py).clone(),
            _ => PyString::new(py, name),
        }
    }
}

/// PEP 3333 ("Unicode Issues") gives `PATH_INFO` as one code point per byte
/// (latin-1); routes and params are UTF-8 text. Returns the request path as
/// UTF-8: borrowed when it is ASCII (the common case, no copy), transcoded
/// otherwise. `None` when the bytes are not UTF-8 or `raw` holds a code point
/// above U+00FF (not a PEP 3333 string): such a path matches no route.
pub fn decode_path(raw: &str) -> Option<Cow<'_, str>> {
    if raw.is_ascii() {
        return Some(Cow::Borrowed(raw));
    }
    let bytes = raw
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

/// What the router decided, computed while the router is borrowed and acted
/// on after the borrow ends (so an app may call back into the router).
enum Outcome<'py> {
    Route {
        app: Bound<'py, PyAny>,
        args: Bound<'py, PyTuple>,
    },
    Mount {
        app: Bound<'py, PyAny>,
        script_name: Bound<'py, PyString>,
        path_info: Bound<'py, PyString>,
    },
    NotAllowed(String),
    NotFound,
}

/// `Router.__call__`: see its docstring for the rules.
pub fn call<'py>(
    router: &Bound<'py, Router>,
    environ: &Bound<'py, PyDict>,
    start_response: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = router.py();
    let outcome = decide(&*router.try_borrow()?, environ)?;
    match outcome {
        Outcome::Route { app, args } => {
            environ.set_item(intern!(py, "wsgiorg.routing_args"), args)?;
            app.call1((environ, start_response))
        }
        Outcome::Mount {
            app,
            script_name,
            path_info,
        } => {
            environ.set_item(intern!(py, "SCRIPT_NAME"), script_name)?;
            environ.set_item(intern!(py, "PATH_INFO"), path_info)?;
            app.call1((environ, start_response))
        }
        Outcome::NotAllowed(allow) => respond(
            start_response,
            intern!(py, "405 Method Not Allowed"),
            b"405 Method Not Allowed\n",
            Some(&allow),
        ),
        Outcome::NotFound => respond(
            start_response,
            intern!(py, "404 Not Found"),
            b"404 Not Found\n",
            None,
        ),
    }
}

fn decide<'py>(router: &Router, environ: &Bound<'py, PyDict>) -> PyResult<Outcome<'py>> {
    let py = environ.py();
    let Some(path_obj) = environ.get_item(intern!(py, "PATH_INFO"))? else {
        // PEP 3333: PATH_INFO "may be empty"; an absent one is the empty path.
        return decide_path(router, environ, "");
    };
    let path_str = path_obj.cast::<PyString>()?;
    // A str with lone surrogates has no UTF-8 form; it is not PEP 3333
    // latin-1 text either, so it matches nothing.
    match path_str.to_str() {
        Ok(raw) => decide_path(router, environ, raw),
        Err(_) => Ok(Outcome::NotFound),
    }
}

fn decide_path<'py>(
    router: &Router,
    environ: &Bound<'py, PyDict>,
    raw: &str,
) -> PyResult<Outcome<'py>> {
    let py = environ.py();
    let mut allow = None;
    if let Some(path) = decode_path(raw) {
        if let Some((id, route, params)) = router.table.at(&path) {
            let method_obj = environ
                .get_item(intern!(py, "REQUEST_METHOD"))?
                .ok_or(Error::MissingEnvironKey("REQUEST_METHOD"))?;
            let method = method_obj.cast::<PyString>()?.to_str()?;
            if let Some(app) = route.methods.get(method) {
                let kwargs = PyDict::new(py);
                if let Some(keys) = router.keys.get(id) {
                    for (i, (name, value)) in params.iter().enumerate() {
                        kwargs.set_item(keys.key(py, i, name), value)?;
                    }
                }
                let args = PyTuple::new(py, [PyTuple::empty(py).into_any(), kwargs.into_any()])?;
                return Ok(Outcome::Route {
                    app: app.bind(py).clone(),
                    args,
                });
            }
            allow = Some(route.methods.allow_header());
        }
    }
    // A route that matches path and method wins; else the longest mount;
    // else 405 if some route had the path; else 404.
    if let Some((mount, rest)) = router.mounts.find(raw) {
        let script_name = match environ.get_item(intern!(py, "SCRIPT_NAME"))? {
            Some(s) => {
                let mut s = s.cast::<PyString>()?.to_str()?.to_owned();
                s.push_str(&mount.wire);
                PyString::new(py, &s)
            }
            None => PyString::new(py, &mount.wire),
        };
        return Ok(Outcome::Mount {
            app: mount.app.bind(py).clone(),
            script_name,
            path_info: PyString::new(py, rest),
        });
    }
    Ok(allow.map_or(Outcome::NotFound, Outcome::NotAllowed))
}

/// A short text/plain error response (404/405), `Allow` on a 405 (RFC 9110
/// §15.5.6). HEAD gets the body too: PEP 3333 servers strip it.
fn respond<'py>(
    start_response: &Bound<'py, PyAny>,
    status: &Bound<'py, PyString>,
    body: &[u8],
    allow: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = start_response.py();
    let headers = PyList::empty(py);
    headers.append((
        intern!(py, "Content-Type"),
        intern!(py, "text/plain; charset=utf-8"),
    ))?;
    headers.append((intern!(py, "Content-Length"), body.len().to_string()))?;
    if let Some(allow) = allow {
        headers.append((intern!(py, "Allow"), allow))?;
    }
    start_response.call1((status, headers))?;
    Ok(PyList::new(py, [PyBytes::new(py, body)])?.into_any())
}
