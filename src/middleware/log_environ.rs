//! `log_environ`: a readable dump of each request's environ.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{intern, PyTraverseError, PyVisit};

use super::{check_app, describe_app, pyrepr};
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::{repr_or_type, type_name, utf8_from_latin1};

/// The keys whose values are hidden by default: credentials and sessions.
pub const DEFAULT_REDACT: [&str; 3] = [
    "HTTP_AUTHORIZATION",
    "HTTP_COOKIE",
    "HTTP_PROXY_AUTHORIZATION",
];

/// What a redacted value prints as (the `repr` of the string `<redacted>`).
pub(super) const REDACTED: &str = "'<redacted>'";

/// WSGI middleware: `log_environ(app, *, stream=None,
/// redact=('HTTP_AUTHORIZATION', 'HTTP_COOKIE', 'HTTP_PROXY_AUTHORIZATION'))`.
///
/// Per request, writes one text block in one `write(str)` call to `stream`
/// if given, else to `environ['wsgi.errors']` (PEP 3333 "environ
/// Variables"; `sys.stderr` if it is missing): a header line
/// `METHOD SCRIPT_NAME+PATH_INFO[?QUERY_STRING]` (path and query decoded as
/// UTF-8 where their PEP 3333 latin-1 bytes are UTF-8, so `/hello/wörld`
/// reads as sent), then one
/// `  key: repr(value)` line per environ key, sorted by key. Values of the
/// `redact` keys print as `'<redacted>'`; a value whose `repr()` raises
/// prints as `<TYPE object: repr() raised EXC>`, so an odd value never makes
/// the request fail. Then returns `app(environ, start_response)` unchanged.
///
/// `redact` is an iterable of `str` keys (`None` means the default above;
/// `()` redacts nothing). Raises `ValueError` naming the argument when `app`
/// is not callable, `stream` has no callable `write`, or `redact` is not an
/// iterable of str; raises `TypeError` per request when `environ` is not a
/// `dict` (PEP 3333: "a builtin Python dictionary"), and what
/// `stream.write` raises. Usable as a decorator: `@log_environ`.
#[pyclass(module = "rswsgi._rswsgi", name = "log_environ", frozen)]
pub struct LogEnviron {
    app: Py<PyAny>,
    stream: Option<Py<PyAny>>,
    redact: Vec<String>,
    /// The sorted order of the last environ's keys (servers build every
    /// environ alike, so most requests reuse it instead of sorting).
    order: Mutex<KeyOrder>,
    vectorcall: vectorcall::Slot<Self>,
}

vectorcall::wsgi_app!(LogEnviron);

#[pymethods]
impl LogEnviron {
    #[new]
    #[pyo3(
        signature = (app, *, stream = None, redact = None),
        text_signature = "(app, *, stream=None, redact=('HTTP_AUTHORIZATION', 'HTTP_COOKIE', 'HTTP_PROXY_AUTHORIZATION'))"
    )]
    fn new(
        app: Bound<'_, PyAny>,
        stream: Option<Bound<'_, PyAny>>,
        redact: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let py = app.py();
        let stream = match stream {
            Some(s) if !s.is_none() => {
                let writable = s
                    .getattr_opt(intern!(py, "write"))?
                    .is_some_and(|w| w.is_callable());
                if !writable {
                    return Err(Error::BadArgument {
                        name: "stream",
                        value: repr_or_type(&s),
                        why: "has no callable write(); pass a text stream such as sys.stderr",
                    }
                    .into());
                }
                Some(s.unbind())
            }
            _ => None,
        };
        let redact = match redact {
            None => DEFAULT_REDACT.iter().map(|&k| k.to_owned()).collect(),
            Some(r) => redact_keys(&r)?,
        };
        Ok(Self {
            app: check_app(app)?,
            stream,
            redact,
            order: Mutex::default(),
            vectorcall: vectorcall::Slot::default(),
        })
    }

    /// The WSGI call (PEP 3333 "The Application/Framework Side").
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        environ: &Bound<'py, PyAny>,
        start_response: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dict = environ.cast::<PyDict>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "environ must be a dict (PEP 3333), not {}",
                type_name(environ)
            ))
        })?;
        let text = format_environ(dict, &self.redact, Some(&self.order))?;
        let stream = match &self.stream {
            Some(s) => s.bind(py).clone(),
            None => match dict.get_item(intern!(py, "wsgi.errors"))? {
                Some(e) => e,
                None => py
                    .import(intern!(py, "sys"))?
                    .getattr(intern!(py, "stderr"))?,
            },
        };
        stream.call_method1(intern!(py, "write"), (text,))?;
        // Nothing to do on the way out: the app's iterable goes back as it
        // is, so its close() reaches the server untouched and costs nothing.
        self.app.bind(py).call1((environ, start_response))
    }

    /// The wrapped WSGI application.
    #[getter]
    fn app(&self, py: Python<'_>) -> Py<PyAny> {
        self.app.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("log_environ({})", describe_app(self.app.bind(py)))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.app)?;
        visit.call(&self.stream)
    }

    /// Nothing to clear: `app` and `stream` are immutable, and a cycle
    /// through them always passes through a mutable object (a function's
    /// globals or closure, a dict) whose own `tp_clear` breaks it (PyO3
    /// guide, "Garbage Collector Integration").
    #[allow(clippy::unused_self)] // the slot's signature; see above
    fn __clear__(&self) {}
}

/// Reads `redact`: an iterable of `str`, but not a `str` itself (whose
/// characters would be the keys).
fn redact_keys(r: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let bad = || Error::BadArgument {
        name: "redact",
        value: repr_or_type(r),
        why: "must be an iterable of str environ keys, e.g. ('HTTP_COOKIE',)",
    };
    if r.is_instance_of::<PyString>() || r.is_instance_of::<pyo3::types::PyBytes>() {
        return Err(bad().into());
    }
    let iter = r.try_iter().map_err(|_| bad())?;
    iter.map(|k| {
        k?.cast::<PyString>()
            .map_err(|_| PyErr::from(bad()))
            .and_then(|s| Ok(s.to_str()?.to_owned()))
    })
    .collect()
}

/// The dump of `environ`: header line, then sorted `  key: repr` lines.
///
/// # Errors
/// Only interpreter failures (e.g. `MemoryError`); odd keys and values are
/// printed, not raised.
pub fn format_environ<'py>(
    environ: &Bound<'py, PyDict>,
    redact: &[String],
    cache: Option<&Mutex<KeyOrder>>,
) -> PyResult<Bound<'py, PyString>> {
    let py = environ.py();
    let items: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> = environ.iter().collect();
    let entries: Vec<Entry<'_, 'py>> = items
        .iter()
        .map(|(k, v)| {
            let key = match k.cast::<PyString>().map(|s| s.to_str()) {
                Ok(Ok(s)) => Cow::Borrowed(s),
                _ => Cow::Owned(repr_or_placeholder(k)),
            };
            Entry {
                prefix: sort_prefix(&key),
                key,
                value: v,
            }
        })
        .collect();
    let order = sorted_order(&entries, redact, cache);

    let text = |key: &Bound<'py, PyString>| match environ.get_item(key) {
        Ok(Some(v)) => v
            .cast::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok().map(str::to_owned)),
        _ => None,
    };
    let method = text(intern!(py, "REQUEST_METHOD"));
    let size: usize = entries.iter().map(|e| e.key.len() + 40).sum();
    let mut out = String::with_capacity(128 + size);
    // Each part on its own: a mount splits the path at a `/`, never inside
    // a UTF-8 sequence.
    let _ = write!(
        out,
        "{} {}{}",
        method.as_deref().unwrap_or("-"),
        readable(&text(intern!(py, "SCRIPT_NAME")).unwrap_or_default()),
        readable(&text(intern!(py, "PATH_INFO")).unwrap_or_default()),
    );
    if let Some(qs) = text(intern!(py, "QUERY_STRING")).filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(&readable(&qs));
    }
    out.push('\n');
    for &(i, redacted) in &order {
        let Some(Entry { key, value, .. }) = entries.get(i) else {
            continue;
        };
        out.push_str("  ");
        out.push_str(key);
        out.push_str(": ");
        if redacted {
            out.push_str(REDACTED);
        } else {
            push_repr(&mut out, value)?;
        }
        out.push('\n');
    }
    Ok(PyString::new(py, &out))
}

/// A PEP 3333 latin-1 string (`/w\u{c3}\u{b6}rld`, the request's bytes one
/// per code point) as the text a person reads: decoded as UTF-8
/// (`/wörld`) where its bytes are UTF-8, else kept as it is.
fn readable(s: &str) -> Cow<'_, str> {
    utf8_from_latin1(s).unwrap_or(Cow::Borrowed(s))
}

/// The sorted order of one sequence of environ keys: `order[k]` is the
/// index (in dict order) of the `k`-th key in sorted order, and whether
/// that key is redacted.
#[derive(Debug, Default)]
pub struct KeyOrder {
    keys: Vec<String>,
    order: Vec<(usize, bool)>,
}

/// The indices of `entries` in key order (ties, possible only among keys
/// printed alike, keep dict order), each with whether its key is in
/// `redact`. Reused from `cache` when the keys are the cached ones, in the
/// same dict order; else sorted and cached.
fn sorted_order(
    entries: &[Entry<'_, '_>],
    redact: &[String],
    cache: Option<&Mutex<KeyOrder>>,
) -> Vec<(usize, bool)> {
    let mut cached = cache.and_then(|c| c.try_lock().ok());
    if let Some(c) = cached.as_deref() {
        if c.keys.len() == entries.len() && c.keys.iter().zip(entries).all(|(k, e)| *k == e.key) {
            return c.order.clone();
        }
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    // Most comparisons end at the first 16 bytes (one integer compare);
    // equal prefixes fall back to comparing the whole key.
    order.sort_unstable_by(|&a, &b| {
        let (x, y) = (&entries[a], &entries[b]);
        (x.prefix, &x.key, a).cmp(&(y.prefix, &y.key, b))
    });
    let order: Vec<(usize, bool)> = order
        .into_iter()
        .map(|i| (i, redact.iter().any(|r| *r == entries[i].key)))
        .collect();
    if let Some(c) = cached.as_deref_mut() {
        c.keys = entries.iter().map(|e| e.key.clone().into_owned()).collect();
        c.order.clone_from(&order);
    }
    order
}

/// One environ item of the dump: its key as printed, the key's first 16
/// bytes as a big-endian number (sorts as the bytes do), and the value.
struct Entry<'a, 'py> {
    prefix: u128,
    key: Cow<'a, str>,
    value: &'a Bound<'py, PyAny>,
}

/// The first 16 bytes of `key`, zero-padded, as a big-endian number: for
/// keys that differ within them, the numbers order as the strings do.
fn sort_prefix(key: &str) -> u128 {
    let mut buf = [0u8; 16];
    let n = key.len().min(16);
    buf[..n].copy_from_slice(&key.as_bytes()[..n]);
    u128::from_be_bytes(buf)
}

/// Appends `repr(value)`: computed in Rust where that is exact (see
/// [`pyrepr::push_repr`]), else by Python.
pub(super) fn push_repr(out: &mut String, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if !pyrepr::push_repr(out, value)? {
        out.push_str(&repr_or_placeholder(value));
    }
    Ok(())
}

/// `repr(obj)`, or `<TYPE object: repr() raised EXC>` when that raises.
pub(super) fn repr_or_placeholder(obj: &Bound<'_, PyAny>) -> String {
    match obj.repr().and_then(|r| r.to_str().map(str::to_owned)) {
        Ok(r) => r,
        Err(e) => format!(
            "<{} object: repr() raised {}>",
            type_name(obj),
            type_name(e.value(obj.py()).as_any())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_is_sorted_redacted_and_survives_bad_repr() {
        Python::attach(|py| {
            let env = PyDict::new(py);
            let locals = PyDict::new(py);
            locals.set_item("env", &env).unwrap();
            py.run(
                c"class Bad:\n    def __repr__(self): raise ValueError('no')\nenv.update({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/p', 'QUERY_STRING': 'a=1', 'HTTP_COOKIE': 's=secret', 'b.x': Bad(), 'A': \"it's\", 'flag': True, 'n': None, 'u': 'caf\\u00e9\\n'})",
                None,
                Some(&locals),
            )
            .unwrap();
            let text = format_environ(&env, &["HTTP_COOKIE".to_owned()], None).unwrap();
            let text = text.to_str().unwrap();
            assert_eq!(
                text,
                "GET /p?a=1\n  \
                 A: \"it's\"\n  \
                 HTTP_COOKIE: '<redacted>'\n  \
                 PATH_INFO: '/p'\n  \
                 QUERY_STRING: 'a=1'\n  \
                 REQUEST_METHOD: 'GET'\n  \
                 b.x: <Bad object: repr() raised ValueError>\n  \
                 flag: True\n  \
                 n: None\n  \
                 u: 'caf\u{e9}\\n'\n"
            );
            assert!(!text.contains("secret"));
        });
    }
}
