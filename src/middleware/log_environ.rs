//! `log_environ`: a readable dump of each request's environ.

mod dump;

use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::glue::{middleware_class, Call, Middleware, Options};
use super::pyrepr;
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::{repr_or_type, type_name};
pub(crate) use dump::{format_environ, DumpCache};

/// The keys whose values are hidden by default: credentials and sessions.
pub(crate) const DEFAULT_REDACT: [&str; 3] = [
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
/// `()` redacts nothing). Raises `TypeError` when `app` is not callable;
/// `ValueError` naming the argument when `stream` has no callable `write`
/// or `redact` is not an iterable of str; `TypeError` per request when
/// `environ` is not a `dict` (PEP 3333: "a builtin Python dictionary"), and
/// what `stream.write` raises. Usable as a decorator: `@log_environ`.
#[pyclass(module = "rswsgi._rswsgi", name = "log_environ", frozen)]
pub(crate) struct LogEnviron {
    app: Py<PyAny>,
    vectorcall: vectorcall::Slot<Self>,
    stream: Option<Py<PyAny>>,
    redact: Vec<String>,
    /// What the last dump can lend the next (servers build every environ
    /// alike): the sorted key order, and the lines of unchanged values.
    cache: Mutex<DumpCache>,
}

middleware_class!(
    LogEnviron,
    "log_environ",
    new(app, *, stream, redact),
    text_signature = "(app, *, stream=None, redact=('HTTP_AUTHORIZATION', 'HTTP_COOKIE', 'HTTP_PROXY_AUTHORIZATION'))",
    traverse(stream)
);

impl LogEnviron {
    fn build(app: Bound<'_, PyAny>, [stream, redact]: Options<'_, 2>) -> PyResult<Self> {
        let stream = match stream {
            Some(s) if !s.is_none() => {
                let writable = s
                    .getattr_opt(intern!(s.py(), "write"))?
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
            app: app.unbind(),
            vectorcall: vectorcall::Slot::default(),
            stream,
            redact,
            cache: Mutex::default(),
        })
    }
}

impl Middleware for LogEnviron {
    fn call<'py>(&self, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
        let environ = call.environ;
        let py = environ.py();
        let dict = environ.cast::<PyDict>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "environ must be a dict (PEP 3333), not {}",
                type_name(environ)
            ))
        })?;
        let text = format_environ(dict, &self.redact, Some(&self.cache))?;
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
        call.pass_on()
    }
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
