//! [Stage 4](super): The PEP 3333 environ, built in one function ([`EnvironTemplate::build`])
//! with interned keys.
//!
//! The keys that are the same for every request live in a template dict made
//! once per server; each request copies it (one `dict.copy()`) and sets the
//! per-request keys. Repeated header fields are folded here too.

use std::net::SocketAddr;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use super::input::Input;
use super::parse::RequestHead;
use super::response_head::SERVER_HEADER;
use super::target::{absolute_authority, split_target};
use crate::wsgi::latin1_pystring;

/// The environ keys shared by every request on one server, and what the
/// per-request keys need.
#[derive(Debug)]
pub(crate) struct EnvironTemplate {
    base: Py<PyDict>,
    sys: Py<PyModule>,
    /// `sys.__dict__`, where `sys.stderr` is looked up per request.
    sys_dict: Py<PyDict>,
    /// The `wsgi.input` of every request without a body.
    empty_input: Py<Input>,
}

impl EnvironTemplate {
    /// The constant part of the environ (PEP 3333 "environ Variables"):
    /// `SCRIPT_NAME` `''`, `SERVER_NAME`/`SERVER_PORT` from the listening
    /// address, `wsgi.version` `(1, 0)`, `wsgi.url_scheme` `'http'`,
    /// `wsgi.multithread`/`multiprocess`/`run_once` False (one thread runs
    /// the app), `wsgi.input_terminated` True (the body is read before the
    /// app runs), and `wsgi.file_wrapper`.
    ///
    /// `SERVER_SOFTWARE` is `rswsgi/VERSION`, the `Server` header's value.
    ///
    /// The keys every request sets are there too, so that `dict.copy()`
    /// gives a table of the final size and setting them replaces a value
    /// instead of inserting (no resize). Their values are the most common
    /// ones, which a request then does not set again: `REQUEST_METHOD`
    /// `'GET'`, `QUERY_STRING` `''`, `SERVER_PROTOCOL` `'HTTP/1.1'` and the
    /// shared empty `wsgi.input`; `PATH_INFO`, `wsgi.errors` and (until
    /// [`EnvironTemplate::for_client`]) `REMOTE_ADDR`/`REMOTE_PORT` are
    /// `None`, always replaced.
    pub(crate) fn new(
        py: Python<'_>,
        server_name: &str,
        server_port: u16,
        file_wrapper: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let d = PyDict::new(py);
        d.set_item(intern!(py, "SCRIPT_NAME"), intern!(py, ""))?;
        d.set_item(intern!(py, "SERVER_NAME"), server_name)?;
        d.set_item(intern!(py, "SERVER_PORT"), server_port.to_string())?;
        // RFC 3875 §4.1.17, as wsgiref, gunicorn and waitress set it.
        d.set_item(intern!(py, "SERVER_SOFTWARE"), SERVER_HEADER)?;
        d.set_item(intern!(py, "wsgi.version"), PyTuple::new(py, [1, 0])?)?;
        d.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "http"))?;
        d.set_item(intern!(py, "wsgi.multithread"), false)?;
        d.set_item(intern!(py, "wsgi.multiprocess"), false)?;
        d.set_item(intern!(py, "wsgi.run_once"), false)?;
        d.set_item(intern!(py, "wsgi.input_terminated"), true)?;
        d.set_item(intern!(py, "wsgi.file_wrapper"), file_wrapper)?;
        let empty_input = Py::new(py, Input::new(PyBytes::new(py, b"")))?;
        // Common values, and placeholders, replaced by `for_client` and
        // `build` (in the order they set them).
        d.set_item(intern!(py, "REQUEST_METHOD"), intern!(py, "GET"))?;
        d.set_item(intern!(py, "PATH_INFO"), py.None())?;
        d.set_item(intern!(py, "QUERY_STRING"), intern!(py, ""))?;
        d.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.1"))?;
        d.set_item(intern!(py, "REMOTE_ADDR"), py.None())?;
        d.set_item(intern!(py, "REMOTE_PORT"), py.None())?;
        d.set_item(intern!(py, "wsgi.input"), &empty_input)?;
        d.set_item(intern!(py, "wsgi.errors"), py.None())?;
        let sys = py.import("sys")?;
        Ok(Self {
            base: d.unbind(),
            empty_input,
            sys_dict: sys.dict().unbind(),
            sys: sys.unbind(),
        })
    }

    /// Marks every request as arriving over TLS: `wsgi.url_scheme` is
    /// `'https'` (PEP 3333) and `HTTPS` is `'on'` (the CGI-style variable
    /// Apache's mod_ssl sets, which apps written for it test).
    pub(crate) fn set_https(&self, py: Python<'_>) -> PyResult<()> {
        let d = self.base.bind(py);
        d.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "https"))?;
        d.set_item(intern!(py, "HTTPS"), intern!(py, "on"))
    }

    /// The template for the requests of one client connection: the
    /// server's, with `REMOTE_ADDR` and `REMOTE_PORT` of `peer` and
    /// `wsgi.errors` (made once per connection, so a request does not set
    /// them again while `sys.stderr` stays the same object).
    ///
    /// # Errors
    /// When the dict cannot be copied.
    pub(crate) fn for_client(&self, py: Python<'_>, peer: SocketAddr) -> PyResult<ClientEnviron> {
        let env = self.base.bind(py).copy()?;
        env.set_item(intern!(py, "REMOTE_ADDR"), peer.ip().to_string())?;
        env.set_item(intern!(py, "REMOTE_PORT"), peer.port().to_string())?;
        let errors = self.stderr(py)?;
        env.set_item(intern!(py, "wsgi.errors"), &errors)?;
        Ok(ClientEnviron {
            dict: env.unbind(),
            host: None,
            errors: errors.unbind(),
        })
    }

    /// The environ for one request, a copy of `client`'s template (from
    /// [`EnvironTemplate::for_client`]) with the request's values.
    ///
    /// `body_len` is the decoded body's length in bytes, set as
    /// `CONTENT_LENGTH` when the request had a body framing header; `input`
    /// becomes `wsgi.input`. `wsgi.errors` is `sys.stderr` at the time of
    /// the request.
    pub(crate) fn build<'py>(
        &self,
        py: Python<'py>,
        client: &mut ClientEnviron,
        head: &RequestHead,
        body_len: Option<usize>,
        input: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let env = client.dict.bind(py).copy()?;
        // The template's values stand where they are right (see `new`).
        let method = head.method();
        if method != "GET" {
            env.set_item(intern!(py, "REQUEST_METHOD"), method_str(py, method))?;
        }
        let (path, query) = split_target(head.target());
        env.set_item(intern!(py, "PATH_INFO"), latin1_pystring(py, &path))?;
        if !query.is_empty() {
            env.set_item(intern!(py, "QUERY_STRING"), latin1_pystring(py, query))?;
        }
        if head.minor_version == 0 {
            env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.0"))?;
        }
        if !input.is(&self.empty_input) {
            env.set_item(intern!(py, "wsgi.input"), input)?;
        }
        let errors = self.stderr(py)?;
        if !errors.is(&client.errors) {
            // sys.stderr was reassigned: this request and the next see it.
            client
                .dict
                .bind(py)
                .set_item(intern!(py, "wsgi.errors"), &errors)?;
            env.set_item(intern!(py, "wsgi.errors"), &errors)?;
            client.errors = errors.unbind();
        }
        let mut saw_host = false;
        for (i, (name, value)) in head.headers().enumerate() {
            // Dropped so `X_Forwarded_For` cannot pose as `X-Forwarded-For`
            // (both would be HTTP_X_FORWARDED_FOR). A request that reaches
            // here with Transfer-Encoding had a chunked body, now decoded:
            // as in waitress, CONTENT_LENGTH gives its length, and no
            // HTTP_TRANSFER_ENCODING is left for an app or a proxying
            // middleware to frame it a second time (RFC 9112 §6.3, §11.2).
            if name.contains(&b'_')
                || name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"transfer-encoding")
            {
                continue;
            }
            if !saw_host && name.eq_ignore_ascii_case(b"host") {
                saw_host = true;
                if client.host.as_deref() == Some(value) {
                    continue; // the copy has it already
                }
                if client.host.is_none() {
                    // The Host of a connection's requests is the same in
                    // practice: kept in its template from now on.
                    let value = latin1_pystring(py, value);
                    client
                        .dict
                        .bind(py)
                        .set_item(intern!(py, "HTTP_HOST"), &value)?;
                    client.host = Some(value_bytes(head, i));
                    env.set_item(intern!(py, "HTTP_HOST"), value)?;
                    continue;
                }
            }
            let key = header_key(py, name);
            let repeated = head
                .headers()
                .take(i)
                .any(|(n, _)| n.eq_ignore_ascii_case(name));
            let value = latin1_pystring(py, value);
            // Looked up only for a repeated field (most are not).
            let prev = if repeated { env.get_item(&key)? } else { None };
            match prev {
                Some(prev) => {
                    let sep = if name.eq_ignore_ascii_case(b"cookie") {
                        "; "
                    } else {
                        ", "
                    };
                    let joined = format!("{}{sep}{}", prev.cast::<PyString>()?.to_str()?, value);
                    env.set_item(key, joined)?;
                }
                _ => env.set_item(key, value)?,
            }
        }
        if !saw_host && client.host.is_some() {
            env.del_item(intern!(py, "HTTP_HOST"))?;
        }
        if let Some(authority) = absolute_authority(head.target()) {
            // RFC 9112 §3.2.2: with an absolute-form target the server MUST
            // ignore Host and use the target's authority.
            env.set_item(intern!(py, "HTTP_HOST"), latin1_pystring(py, authority))?;
        }
        if let Some(n) = body_len {
            env.set_item(intern!(py, "CONTENT_LENGTH"), n.to_string())?;
        }
        Ok(env)
    }

    /// The `wsgi.input` shared by requests without a body (see
    /// [`super::spool::Spool::into_input`]).
    #[must_use]
    pub(crate) fn empty_input(&self) -> &Py<Input> {
        &self.empty_input
    }

    /// `sys.stderr` now: read from `sys.__dict__` (a plain dict lookup, not
    /// a module attribute lookup), so an app or test that reassigns
    /// `sys.stderr` is seen from the next request on.
    ///
    /// # Errors
    /// `AttributeError` when `sys.stderr` was deleted.
    fn stderr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.sys_dict.bind(py).get_item(intern!(py, "stderr"))? {
            Some(stderr) => Ok(stderr),
            None => self.sys.bind(py).getattr(intern!(py, "stderr")),
        }
    }
}

/// The environ template of one client connection (see
/// [`EnvironTemplate::for_client`]).
#[derive(Debug)]
pub(crate) struct ClientEnviron {
    dict: Py<PyDict>,
    /// The `Host` value the template holds as `HTTP_HOST`, once a request
    /// had one: a request with the same one does not set it again.
    host: Option<Vec<u8>>,
    /// The `sys.stderr` the template holds as `wsgi.errors`.
    errors: Py<PyAny>,
}

/// The raw value of the `i`-th header of `head`.
fn value_bytes(head: &RequestHead, i: usize) -> Vec<u8> {
    head.headers()
        .nth(i)
        .map_or_else(Vec::new, |(_, v)| v.to_vec())
}

/// The method as a Python `str`, interned for the common ones.
fn method_str<'py>(py: Python<'py>, method: &str) -> Bound<'py, PyString> {
    match method {
        "POST" => intern!(py, "POST").clone(),
        "HEAD" => intern!(py, "HEAD").clone(),
        "PUT" => intern!(py, "PUT").clone(),
        "DELETE" => intern!(py, "DELETE").clone(),
        other => PyString::new(py, other),
    }
}

/// The environ key of a request header: `CONTENT_TYPE` (CGI has no `HTTP_`
/// prefix for it), else `HTTP_` + the name upper-cased with `-` → `_`.
/// Common names use interned keys.
fn header_key<'py>(py: Python<'py>, name: &[u8]) -> Bound<'py, PyString> {
    macro_rules! known {
        ($($h:literal => $k:literal,)*) => {
            $(if name.eq_ignore_ascii_case($h.as_bytes()) {
                return intern!(py, $k).clone();
            })*
        };
    }
    known! {
        "host" => "HTTP_HOST",
        "user-agent" => "HTTP_USER_AGENT",
        "accept" => "HTTP_ACCEPT",
        "accept-encoding" => "HTTP_ACCEPT_ENCODING",
        "accept-language" => "HTTP_ACCEPT_LANGUAGE",
        "connection" => "HTTP_CONNECTION",
        "cookie" => "HTTP_COOKIE",
        "content-type" => "CONTENT_TYPE",
        "referer" => "HTTP_REFERER",
        "cache-control" => "HTTP_CACHE_CONTROL",
        "origin" => "HTTP_ORIGIN",
        "authorization" => "HTTP_AUTHORIZATION",
        "if-none-match" => "HTTP_IF_NONE_MATCH",
        "if-modified-since" => "HTTP_IF_MODIFIED_SINCE",
        "x-forwarded-for" => "HTTP_X_FORWARDED_FOR",
    }
    let mut key = String::with_capacity(5 + name.len());
    key.push_str("HTTP_");
    // A field name is an ASCII token (RFC 9110 §5.1).
    key.extend(name.iter().map(|&b| {
        if b == b'-' {
            '_'
        } else {
            char::from(b.to_ascii_uppercase())
        }
    }));
    PyString::new(py, &key)
}

#[cfg(test)]
mod tests {
    use super::super::config::Limits;
    use super::super::parse::parse_head;
    use super::*;

    fn environ_of(raw: &[u8], f: impl FnOnce(&Bound<'_, PyDict>)) {
        Python::attach(|py| {
            let head = parse_head(raw, &Limits::default()).unwrap().unwrap();
            let tpl =
                EnvironTemplate::new(py, "localhost", 8000, &py.None().into_bound(py)).unwrap();
            let mut client = tpl
                .for_client(py, "127.0.0.1:5555".parse().unwrap())
                .unwrap();
            let env = tpl
                .build(py, &mut client, &head, Some(0), &py.None().into_bound(py))
                .unwrap();
            f(&env);
        });
    }

    fn get(env: &Bound<'_, PyDict>, key: &str) -> Option<String> {
        env.get_item(key)
            .unwrap()
            .map(|v| v.extract::<String>().unwrap())
    }

    #[test]
    fn environ_values() {
        let raw = b"GET /caf%C3%A9/x?q=%C3%A9 HTTP/1.1\r\nHost: h:1\r\n\
            Content-Type: text/plain\r\nX-Dup: a\r\nCookie: a=1\r\nx-dup: b\r\n\
            Cookie: b=2\r\nX_Spoof: evil\r\nX-Latin: caf\xe9\r\n\r\n";
        environ_of(raw, |env| {
            // UTF-8 bytes of "é" decoded as latin-1: two characters.
            assert_eq!(get(env, "PATH_INFO").as_deref(), Some("/caf\u{c3}\u{a9}/x"));
            assert_eq!(get(env, "QUERY_STRING").as_deref(), Some("q=%C3%A9"));
            assert_eq!(get(env, "REQUEST_METHOD").as_deref(), Some("GET"));
            assert_eq!(get(env, "SERVER_PROTOCOL").as_deref(), Some("HTTP/1.1"));
            assert_eq!(get(env, "SERVER_NAME").as_deref(), Some("localhost"));
            assert_eq!(get(env, "SERVER_PORT").as_deref(), Some("8000"));
            assert_eq!(get(env, "SERVER_SOFTWARE").as_deref(), Some(SERVER_HEADER));
            assert_eq!(get(env, "SCRIPT_NAME").as_deref(), Some(""));
            assert_eq!(get(env, "REMOTE_ADDR").as_deref(), Some("127.0.0.1"));
            assert_eq!(get(env, "REMOTE_PORT").as_deref(), Some("5555"));
            assert_eq!(get(env, "HTTP_HOST").as_deref(), Some("h:1"));
            assert_eq!(get(env, "CONTENT_TYPE").as_deref(), Some("text/plain"));
            assert_eq!(get(env, "CONTENT_LENGTH").as_deref(), Some("0"));
            assert_eq!(get(env, "HTTP_X_DUP").as_deref(), Some("a, b"));
            assert_eq!(get(env, "HTTP_COOKIE").as_deref(), Some("a=1; b=2"));
            assert_eq!(get(env, "HTTP_X_LATIN").as_deref(), Some("caf\u{e9}"));
            assert_eq!(get(env, "HTTP_X_SPOOF"), None);
            assert_eq!(get(env, "HTTP_CONTENT_TYPE"), None);
            assert_eq!(get(env, "wsgi.url_scheme").as_deref(), Some("http"));
            let version: (i32, i32) = env
                .get_item("wsgi.version")
                .unwrap()
                .unwrap()
                .extract()
                .unwrap();
            assert_eq!(version, (1, 0));
            for key in ["wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"] {
                assert!(
                    !env.get_item(key)
                        .unwrap()
                        .unwrap()
                        .extract::<bool>()
                        .unwrap(),
                    "{key}"
                );
            }
            assert!(env.contains("wsgi.errors").unwrap());
            assert!(env.contains("wsgi.input").unwrap());
        });
    }

    #[test]
    fn decoded_chunked_body_leaves_no_transfer_encoding() {
        let raw = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        environ_of(raw, |env| {
            assert_eq!(get(env, "HTTP_TRANSFER_ENCODING"), None);
            assert_eq!(get(env, "CONTENT_LENGTH").as_deref(), Some("0"));
        });
    }

    #[test]
    fn http10_and_other_methods() {
        environ_of(b"PATCH /p HTTP/1.0\r\n\r\n", |env| {
            assert_eq!(get(env, "REQUEST_METHOD").as_deref(), Some("PATCH"));
            assert_eq!(get(env, "SERVER_PROTOCOL").as_deref(), Some("HTTP/1.0"));
            assert_eq!(get(env, "QUERY_STRING").as_deref(), Some(""));
        });
    }

    /// A connection's template keeps its first Host: later requests with
    /// the same Host, another, none (HTTP/1.0) or two, each get their own.
    #[test]
    fn a_connections_host_is_kept_in_its_template() {
        Python::attach(|py| {
            let tpl =
                EnvironTemplate::new(py, "localhost", 8000, &py.None().into_bound(py)).unwrap();
            let mut client = tpl.for_client(py, "127.0.0.1:9".parse().unwrap()).unwrap();
            let none = py.None().into_bound(py);
            let mut host_of = |raw: &[u8]| {
                let head = parse_head(raw, &Limits::default()).unwrap().unwrap();
                let env = tpl.build(py, &mut client, &head, None, &none).unwrap();
                get(&env, "HTTP_HOST")
            };
            let one = |h: &str| Some(h.to_owned());
            assert_eq!(host_of(b"GET / HTTP/1.1\r\nHost: a:1\r\n\r\n"), one("a:1"));
            assert_eq!(host_of(b"GET / HTTP/1.1\r\nHost: a:1\r\n\r\n"), one("a:1"));
            assert_eq!(host_of(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"), one("b"));
            assert_eq!(host_of(b"GET / HTTP/1.0\r\n\r\n"), None);
            let two = b"GET / HTTP/1.0\r\nHost: a:1\r\nHost: c\r\n\r\n";
            assert_eq!(host_of(two), one("a:1, c"));
            let absolute = b"GET http://d/ HTTP/1.1\r\nHost: a:1\r\n\r\n";
            assert_eq!(host_of(absolute), one("d"));
            assert_eq!(host_of(b"GET / HTTP/1.1\r\nhost: a:1\r\n\r\n"), one("a:1"));
        });
    }

    /// The template's common values stand only where they are right.
    #[test]
    fn template_defaults_are_replaced_when_they_differ() {
        for (raw, method, protocol, query) in [
            (
                &b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
                "GET",
                "HTTP/1.1",
                "",
            ),
            (b"POST /?a=1 HTTP/1.0\r\n\r\n", "POST", "HTTP/1.0", "a=1"),
            (b"PROPFIND / HTTP/1.0\r\n\r\n", "PROPFIND", "HTTP/1.0", ""),
        ] {
            environ_of(raw, |env| {
                assert_eq!(get(env, "REQUEST_METHOD").as_deref(), Some(method));
                assert_eq!(get(env, "SERVER_PROTOCOL").as_deref(), Some(protocol));
                assert_eq!(get(env, "QUERY_STRING").as_deref(), Some(query));
                assert_eq!(get(env, "REMOTE_ADDR").as_deref(), Some("127.0.0.1"));
                assert_eq!(get(env, "REMOTE_PORT").as_deref(), Some("5555"));
            });
        }
        Python::attach(|py| {
            let tpl =
                EnvironTemplate::new(py, "localhost", 8000, &py.None().into_bound(py)).unwrap();
            let mut client = tpl.for_client(py, "[::1]:80".parse().unwrap()).unwrap();
            let head = parse_head(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &Limits::default())
                .unwrap()
                .unwrap();
            let empty = tpl.empty_input().bind(py);
            let env = tpl
                .build(py, &mut client, &head, None, empty.as_any())
                .unwrap();
            assert!(env.get_item("wsgi.input").unwrap().unwrap().is(empty));
            assert_eq!(get(&env, "REMOTE_ADDR").as_deref(), Some("::1"));
        });
    }

    #[test]
    fn no_placeholder_left_and_errors_follow_sys_stderr() {
        environ_of(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", |env| {
            let py = env.py();
            // (The helper passes None as wsgi.input and wsgi.file_wrapper.)
            for (k, v) in env.iter() {
                let given_none = ["wsgi.input", "wsgi.file_wrapper"];
                assert!(
                    !v.is_none() || given_none.contains(&k.extract::<&str>().unwrap()),
                    "{k} is None"
                );
            }
            assert_eq!(get(env, "QUERY_STRING").as_deref(), Some(""));
            let sys = py.import("sys").unwrap();
            let errors = env.get_item("wsgi.errors").unwrap().unwrap();
            assert!(errors.is(sys.getattr("stderr").unwrap()));
        });
        // A reassigned sys.stderr is used by the next request.
        Python::attach(|py| {
            let sys = py.import("sys").unwrap();
            let old = sys.getattr("stderr").unwrap();
            let tpl =
                EnvironTemplate::new(py, "localhost", 8000, &py.None().into_bound(py)).unwrap();
            let head = parse_head(b"GET / HTTP/1.0\r\n\r\n", &Limits::default())
                .unwrap()
                .unwrap();
            let mut client = tpl.for_client(py, "127.0.0.1:1".parse().unwrap()).unwrap();
            let mut build = || tpl.build(py, &mut client, &head, None, &py.None().into_bound(py));
            let mine = py.import("io").unwrap().call_method0("StringIO").unwrap();
            sys.setattr("stderr", &mine).unwrap();
            let env = build();
            sys.setattr("stderr", &old).unwrap();
            let env = env.unwrap();
            assert!(env.get_item("wsgi.errors").unwrap().unwrap().is(&mine));
            assert!(env.get_item("CONTENT_LENGTH").unwrap().is_none());
            let env = build().unwrap();
            assert!(env.get_item("wsgi.errors").unwrap().unwrap().is(&old));
        });
    }
}
