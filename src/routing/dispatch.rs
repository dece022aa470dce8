//! The per-request path: `PATH_INFO` -> route (or mount) -> the app, else a
//! 404 or a 405.
//!
//! Cost per routed request (bench/README.md has the numbers): two dict
//! lookups with interned keys, one borrow of `PATH_INFO` as `&str` (no copy
//! when it is ASCII), one matchit lookup, the method found among a handful by
//! identity (or by text), then a dict of params (keys made per route at `add`
//! time, values cut from the path: `params.rs`) inside a 2-tuple, and the app
//! call. A 404 or 405 shares every object it can: status, header tuples
//! (`Allow` per route) and body; only the header list is new.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::errors::Error;
use crate::routing::params::ValuePlan;
use crate::routing::pattern;
use crate::routing::{Router, Tables};

/// One route's Python objects, made at `add` time so a request does not
/// build them: its param keys (Python `str`s, in pattern order) with where
/// their values sit in a matched path, its method names, and its 405
/// `Allow` header.
pub(crate) struct RouteObjects {
    keys: Vec<(String, Py<PyString>)>,
    plan: ValuePlan,
    /// The route's explicit method names as interned `str`s, in the order of
    /// `MethodTable::explicit_names`. rswsgi's server, like most code, puts
    /// an interned `str` in `REQUEST_METHOD` for the common methods (Python
    /// interns literals such as `"GET"` too), so the method is found by
    /// identity, without reading the `str` or comparing text; any other
    /// `str` is looked up by text.
    methods: Box<[Py<PyString>]>,
    /// `("Allow", "GET, HEAD")`, made by the route's first 405: a tuple is
    /// immutable, so every 405 of the route shares it. Emptied when a method
    /// is added to the route.
    allow: PyOnceLock<Py<PyTuple>>,
}

impl std::fmt::Debug for RouteObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // PyOnceLock has no Debug: whether the tuple is made is not state.
        f.debug_struct("RouteObjects")
            .field("keys", &self.keys)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

fn interned_names<'m>(
    py: Python<'_>,
    methods: impl Iterator<Item = &'m str>,
) -> Box<[Py<PyString>]> {
    methods
        .map(|name| PyString::intern(py, name).unbind())
        .collect()
}

/// The `("Allow", value)` header tuple of a 405 (RFC 9110 §15.5.6).
fn allow_tuple<'py>(py: Python<'py>, allow: &str) -> PyResult<Bound<'py, PyTuple>> {
    (intern!(py, "Allow"), PyString::new(py, allow)).into_pyobject(py)
}

impl RouteObjects {
    /// The objects of the route `pattern` (matchit syntax), whose explicit
    /// methods are `methods` (`MethodTable::explicit_names`).
    pub(crate) fn new<'m>(
        py: Python<'_>,
        pattern: &str,
        methods: impl Iterator<Item = &'m str>,
    ) -> Self {
        let keys = pattern::param_names(pattern)
            .into_iter()
            .map(|n| (n.to_string(), PyString::new(py, &n).unbind()))
            .collect();
        Self {
            keys,
            plan: ValuePlan::new(pattern),
            methods: interned_names(py, methods),
            allow: PyOnceLock::new(),
        }
    }

    /// A method was added to the route, whose explicit methods are now
    /// `methods`.
    pub(crate) fn methods_changed<'m>(
        &mut self,
        py: Python<'_>,
        methods: impl Iterator<Item = &'m str>,
    ) {
        self.methods = interned_names(py, methods);
        self.allow = PyOnceLock::new();
    }

    /// The index in `MethodTable::explicit_names` of the name that is the
    /// very object `method`, if one is.
    #[inline]
    fn method_index(&self, method: &Bound<'_, PyAny>) -> Option<usize> {
        self.methods.iter().position(|name| name.is(method))
    }

    /// The route's `("Allow", allow)` header, `allow` being the route's
    /// `MethodTable::allow_header`.
    fn allow<'py>(&self, py: Python<'py>, allow: &str) -> PyResult<Bound<'py, PyTuple>> {
        let tuple = self
            .allow
            .get_or_try_init(py, || allow_tuple(py, allow).map(Bound::unbind))?;
        Ok(tuple.bind(py).clone())
    }

    /// The key of the `i`-th param. matchit yields a route's params in
    /// pattern order under the route's own names, the order `add` cached
    /// them in, so the index alone finds the key; a new string only if the
    /// cache were ever shorter.
    #[inline]
    fn key<'py>(&self, py: Python<'py>, i: usize, name: &str) -> Bound<'py, PyString> {
        match self.keys.get(i) {
            Some((text, key)) => {
                debug_assert_eq!(text, name);
                key.bind(py).clone()
            }
            None => PyString::new(py, name),
        }
    }

    /// A new `{param: value}` dict for `path`, which matchit matched to this
    /// route with `params`: the values are cut from the path by the route's
    /// plan where it has one, else taken from matchit.
    fn dict<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        params: &matchit::Params<'_, '_>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        let cut = self.plan.cut(path, &self.keys, |(_, key), value| {
            dict.set_item(key.bind(py), value)
        })?;
        if cut {
            debug_assert!(
                params
                    .iter()
                    .map(|(_, v)| v)
                    .eq(dict.values().iter().map(|v| v.to_string())),
                "{path}: cut {dict:?}, matchit {params:?}"
            );
        } else {
            for (i, (name, value)) in params.iter().enumerate() {
                dict.set_item(self.key(py, i, name), value)?;
            }
        }
        Ok(dict)
    }
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
    NotAllowed(Bound<'py, PyTuple>),
    NotFound,
}

/// `Router.__call__`: see its docstring for the rules.
pub(crate) fn call<'py>(
    router: &Bound<'py, Router>,
    environ: &Bound<'py, PyDict>,
    start_response: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = router.py();
    // The guard is a temporary: the read lock ends with this statement,
    // before any app is called.
    let outcome = decide(&router.get().read(py), environ)?;
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
        Outcome::NotAllowed(allow) => respond(start_response, &NOT_ALLOWED, Some(allow)),
        Outcome::NotFound => respond(start_response, &NOT_FOUND, None),
    }
}

fn decide<'py>(router: &Tables, environ: &Bound<'py, PyDict>) -> PyResult<Outcome<'py>> {
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
    router: &Tables,
    environ: &Bound<'py, PyDict>,
    raw: &str,
) -> PyResult<Outcome<'py>> {
    let py = environ.py();
    let mut allow = None;
    // The ASCII case inline: it is every path in practice, and the call
    // alone cost ~40 instructions per request.
    let path = if raw.is_ascii() {
        Some(std::borrow::Cow::Borrowed(raw))
    } else {
        crate::wsgi::utf8_from_latin1(raw)
    };
    if let Some(path) = path {
        if let Some((id, route, params)) = router.table.at(&path) {
            // (no `ok_or`: it would build, then drop, an `Error` per hit)
            let Some(method_obj) = environ.get_item(intern!(py, "REQUEST_METHOD"))? else {
                return Err(Error::MissingEnvironKey("REQUEST_METHOD").into());
            };
            let objects = router.objects.get(id);
            let by_identity = objects
                .and_then(|o| o.method_index(&method_obj))
                .and_then(|i| route.methods.explicit(i));
            let app = match by_identity {
                Some(app) => Some(app),
                None => route.methods.get(method_obj.cast::<PyString>()?.to_str()?),
            };
            if let Some(app) = app {
                let kwargs = match objects {
                    Some(route_params) => route_params.dict(py, &path, &params)?,
                    None => PyDict::new(py),
                };
                // A 2-tuple straight from its items (no iterator protocol).
                let args = (PyTuple::empty(py), kwargs).into_pyobject(py)?;
                return Ok(Outcome::Route {
                    app: app.bind(py).clone(),
                    args,
                });
            }
            let header = route.methods.allow_header();
            allow = Some(match objects {
                Some(objects) => objects.allow(py, header)?,
                None => allow_tuple(py, header)?,
            });
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

/// One of the router's own error responses: status line and body, and
/// their Python objects once made.
struct ErrorPage {
    status: &'static str,
    body: &'static [u8],
    parts: PyOnceLock<ErrorParts>,
}

static NOT_FOUND: ErrorPage = ErrorPage {
    status: "404 Not Found",
    body: b"404 Not Found\n",
    parts: PyOnceLock::new(),
};

static NOT_ALLOWED: ErrorPage = ErrorPage {
    status: "405 Method Not Allowed",
    body: b"405 Method Not Allowed\n",
    parts: PyOnceLock::new(),
};

/// The immutable parts of an error response, made once per interpreter:
/// status, the two header tuples and the body, a 1-tuple of `bytes` (the
/// response iterable: `bytes` and `tuple` cannot change, so every response
/// may share them; the header list is new each time because a server or
/// middleware may edit it).
struct ErrorParts {
    status: Py<PyString>,
    content_type: Py<PyTuple>,
    content_length: Py<PyTuple>,
    body: Py<PyTuple>,
}

impl ErrorParts {
    fn new(py: Python<'_>, page: &ErrorPage) -> PyResult<Self> {
        Ok(Self {
            status: PyString::new(py, page.status).unbind(),
            content_type: ("Content-Type", "text/plain; charset=utf-8")
                .into_pyobject(py)?
                .unbind(),
            content_length: ("Content-Length", page.body.len().to_string())
                .into_pyobject(py)?
                .unbind(),
            body: PyTuple::new(py, [PyBytes::new(py, page.body)])?.unbind(),
        })
    }
}

/// A short text/plain error response (404/405), `Allow` on a 405 (RFC 9110
/// §15.5.6). HEAD gets the body too: PEP 3333 servers strip it.
fn respond<'py>(
    start_response: &Bound<'py, PyAny>,
    page: &ErrorPage,
    allow: Option<Bound<'py, PyTuple>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = start_response.py();
    let parts = page
        .parts
        .get_or_try_init(py, || ErrorParts::new(py, page))?;
    let content_type = parts.content_type.bind(py);
    let content_length = parts.content_length.bind(py);
    // The list made whole at once (an append would grow it).
    let headers = match &allow {
        Some(allow) => PyList::new(py, [content_type, content_length, allow])?,
        None => PyList::new(py, [content_type, content_length])?,
    };
    start_response.call1((parts.status.bind(py), headers))?;
    Ok(parts.body.bind(py).clone().into_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::table::Methods;

    /// What one request produced: status and headers given to start_response
    /// (empty when the app ran), the returned value, and the environ after.
    type Seen<'py> = (
        String,
        Vec<(String, String)>,
        Bound<'py, PyAny>,
        Bound<'py, PyDict>,
    );

    /// Runs one request through `router`.
    fn request<'py>(router: &Bound<'py, Router>, method: &str, path: &str) -> Seen<'py> {
        let py = router.py();
        let environ = PyDict::new(py);
        environ.set_item("REQUEST_METHOD", method).unwrap();
        environ.set_item("PATH_INFO", path).unwrap();
        let seen = PyList::empty(py);
        let start_response = seen.getattr("append").unwrap();
        // start_response(status, headers) -> seen.append((status, headers))
        let wrap = py
            .eval(
                c"lambda append: lambda status, headers: append((status, headers))",
                None,
                None,
            )
            .unwrap()
            .call1((start_response,))
            .unwrap();
        let result = call(router, &environ, &wrap).unwrap();
        let (status, headers) = if seen.is_empty() {
            (String::new(), Vec::new())
        } else {
            seen.get_item(0).unwrap().extract().unwrap()
        };
        (status, headers, result, environ)
    }

    fn router_with<'py>(py: Python<'py>, routes: &[(&str, Methods, &str)]) -> Bound<'py, Router> {
        let new = Bound::new(py, Router::default()).unwrap();
        for (path, methods, tag) in routes {
            // An "app" that returns its tag, so the test sees which one ran.
            let app = py
                .eval(
                    c"lambda tag: lambda environ, start_response: tag",
                    None,
                    None,
                )
                .unwrap()
                .call1((*tag,))
                .unwrap();
            new.get()
                .write(py)
                .insert(path, &app, methods.clone(), None)
                .unwrap();
        }
        new
    }

    #[test]
    fn routes_methods_and_errors() {
        Python::attach(|py| {
            let get = Methods::parse(["GET"]).unwrap();
            let router = router_with(
                py,
                &[
                    ("/users/{id}", get.clone(), "user"),
                    ("/users/{id}", Methods::parse(["POST"]).unwrap(), "new"),
                    ("/any", Methods::Any, "any"),
                ],
            );
            // (method, path, app tag or status, Allow)
            let cases = [
                ("GET", "/users/42", "user", None),
                ("HEAD", "/users/42", "user", None),
                ("POST", "/users/42", "new", None),
                ("BREW", "/any", "any", None),
                (
                    "PUT",
                    "/users/42",
                    "405 Method Not Allowed",
                    Some("GET, HEAD, POST"),
                ),
                ("GET", "/nope", "404 Not Found", None),
                ("GET", "/users/", "404 Not Found", None),
                ("GET", "/users/\u{e9}", "404 Not Found", None),
            ];
            for (method, path, want, allow) in cases {
                let (status, headers, result, environ) = request(&router, method, path);
                if status.is_empty() {
                    assert_eq!(result.extract::<String>().unwrap(), want, "{method} {path}");
                    let args = environ.get_item("wsgiorg.routing_args").unwrap().unwrap();
                    let want_args = if path == "/any" {
                        "((), {})"
                    } else {
                        "((), {'id': '42'})"
                    };
                    assert_eq!(args.repr().unwrap().to_str().unwrap(), want_args);
                } else {
                    assert_eq!(status, want, "{method} {path}");
                    let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v);
                    assert_eq!(get("Allow").map(String::as_str), allow);
                    let body: Vec<Vec<u8>> = result.extract().unwrap();
                    assert_eq!(get("Content-Length"), Some(&body[0].len().to_string()));
                    assert!(!environ.contains("wsgiorg.routing_args").unwrap());
                }
            }
        });
    }

    #[test]
    fn a_matching_route_beats_a_mount_and_a_mount_beats_405() {
        Python::attach(|py| {
            let router = router_with(
                py,
                &[("/api/{*rest}", Methods::parse(["GET"]).unwrap(), "route")],
            );
            let mounted = py
                .eval(c"lambda environ, start_response: 'mount'", None, None)
                .unwrap();
            router.get().mount("/api", &mounted).unwrap();
            let (_, _, result, environ) = request(&router, "GET", "/api/x");
            assert_eq!(result.extract::<String>().unwrap(), "route");
            assert_eq!(
                environ.get_item("PATH_INFO").unwrap().unwrap().to_string(),
                "/api/x"
            );
            let (_, _, result, environ) = request(&router, "POST", "/api/x");
            assert_eq!(result.extract::<String>().unwrap(), "mount");
            let got = |k: &str| environ.get_item(k).unwrap().unwrap().to_string();
            assert_eq!(
                (got("SCRIPT_NAME"), got("PATH_INFO")),
                ("/api".into(), "/x".into())
            );
        });
    }
}
