//! The single-threaded development server: `make_server`, `serve` and the
//! `Server` class (the shape of `wsgiref.simple_server`). This is the only
//! code in rswsgi that touches sockets.
//!
//! The data path is the file list. The stage numbers `[1]`..`[8]` that
//! start the module docs of this folder point into this diagram:
//!
//! ```text
//! [1] socket bytes in   event_loop (mio poll, a token per connection)
//!                       → transport (buffers; tls under HTTPS)
//!                       → connection (the state machine and its endings;
//!                         timeouts says which deadline passed)
//!                       → receive, one request:
//! [2]   its head        parse (httparse), target (request-target forms)
//! [3]   its body        body (framing) → spool (memory or a temp file)
//!                       → exchange, one request and its response:
//! [4] environ           environ, input (wsgi.input)
//! [5] the application   (rswsgi's middleware and router are apps too)
//! [6] its answer        start_response (and write()) → app_output
//! [7] response framing  respond → response_head (Plan, status line,
//!                       headers), response_body (Content-Length, chunked)
//! [8] socket bytes out  transport; sendfile for wsgi.file_wrapper files
//!                       → access_log (one line per exchange)
//! ```
//!
//! Beside the path: [`config`] (the limits), [`error`] (request errors →
//! statuses), [`turn_context`] (what the event loop and a connection share),
//! [`signals`] (Ctrl-C and SIGTERM while serving),
//! [`certificate`] (what HTTPS presents), [`inherit`] (the listening
//! socket), [`file_wrapper`] (`wsgi.file_wrapper`).

pub(crate) mod access_log;
pub(crate) mod app_output;
pub(crate) mod body;
pub(crate) mod certificate;
pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod environ;
pub(crate) mod error;
pub(crate) mod event_loop;
pub(crate) mod exchange;
pub(crate) mod file_wrapper;
#[cfg(test)]
mod fuzz;
pub(crate) mod inherit;
pub(crate) mod input;
pub(crate) mod keep_alive;
pub(crate) mod live_reload;
pub(crate) mod outlet;
pub(crate) mod parse;
pub(crate) mod receive;
pub(crate) mod respond;
pub(crate) mod response_body;
pub(crate) mod response_head;
pub(crate) mod sendfile;
pub(crate) mod signals;
pub(crate) mod spool;
pub(crate) mod start_response;
pub(crate) mod target;
pub(crate) mod timeouts;
pub(crate) mod tls;
pub(crate) mod transport;
pub(crate) mod turn_context;

/// Marks a state the code's own logic rules out: it panics in debug builds
/// (so the test suite sees it), as hyper's `conn.rs` does with
/// `unreachable!`; a release build logs nothing and takes the caller's safe
/// way out, so a bug cannot stop a server that serves other clients.
macro_rules! impossible {
    ($($arg:tt)*) => {
        if cfg!(debug_assertions) {
            unreachable!($($arg)*);
        }
    };
}
pub(crate) use impossible;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread::{self, ThreadId};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

pub(crate) use config::Limits;

use crate::errors::Error;
use crate::wsgi::repr_or_type;
use certificate::{Certificate, Source};
use environ::EnvironTemplate;
use event_loop::{EventLoop, Serving, Shared, Until};
use file_wrapper::FileWrapper;

/// A WSGI development server bound to one address (`make_server`'s
/// result), with the methods of `wsgiref.simple_server.WSGIServer`.
///
/// One thread — the one that calls `serve_forever()` or `handle_request()`
/// — runs the application and multiplexes every socket; idle connections
/// cost nothing. Use it as a context manager to close the socket.
#[pyclass(module = "rswsgi._rswsgi", name = "Server", frozen)]
pub(crate) struct Server {
    // Free threading: `core` is taken with `try_lock` (a second serve is an
    // error); `serving` is held only over Rust code, or while detached in
    // `shutdown`'s wait, so a thread blocked on it never holds up one that
    // needs the interpreter.
    core: Mutex<Option<EventLoop>>,
    shared: Shared,
    serving: Mutex<Option<ThreadId>>,
    served: Condvar,
    host: String,
    addr: SocketAddr,
    /// The certificate's SHA-256 fingerprint when serving HTTPS.
    fingerprint: Option<String>,
}

impl Server {
    /// Runs the loop until `until`, refusing to run twice at once.
    fn run(&self, py: Python<'_>, until: Until, call: &'static str) -> PyResult<()> {
        let mut guard = self.core.try_lock().map_err(|_| Error::ServerBusy(call))?;
        let core = guard.as_mut().ok_or(Error::ServerClosed(call))?;
        let handlers = signals::Handlers::install(py, core.limits().shutdown_grace())?;
        *self.serving.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread::current().id());
        let result = handlers.restore(py, core.run(py, &self.shared, until));
        if until == Until::Shutdown {
            self.shared.stop.store(false, Ordering::SeqCst);
        }
        *self.serving.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.served.notify_all();
        result
    }
}

#[pymethods]
impl Server {
    /// `serve_forever(poll_interval=0.5) -> None`: serves until
    /// `shutdown()` is called from another thread (then returns) or Ctrl-C
    /// (then raises `KeyboardInterrupt`). On the main thread the first
    /// Ctrl-C, or SIGTERM when its handler is `signal.default_int_handler`
    /// (as under `python -m rswsgi.dev`), raises nothing inside the app: the
    /// server stops accepting, closes idle connections and gives the app call,
    /// the requests received and the responses in flight `shutdown_grace_ms`
    /// (0.5 s) from the signal to finish, then raises `KeyboardInterrupt`.
    /// A second signal,
    /// or the end of the grace with the app still running, raises it at
    /// once, inside the app if that is where the thread is. `poll_interval`
    /// (seconds) is accepted for `socketserver` compatibility; the server
    /// always checks every 0.1 s. Raises `RuntimeError` if already serving
    /// or closed.
    #[pyo3(signature = (poll_interval = 0.5))]
    fn serve_forever(&self, py: Python<'_>, poll_interval: f64) -> PyResult<()> {
        let _ = poll_interval;
        self.run(py, Until::Shutdown, "serve_forever")
    }

    /// `handle_request() -> None`: serves (every connection, as
    /// `serve_forever` does) until one response has been sent completely,
    /// then returns. Raises as `serve_forever` does.
    fn handle_request(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, Until::OneAnswer, "handle_request")
    }

    /// `shutdown() -> None`: makes `serve_forever()` return, and waits for
    /// it when it runs on another thread (as `socketserver` does). Called
    /// before `serve_forever()` starts, it makes the next one return at once.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared
            .waker
            .wake()
            .map_err(|e| os_error("cannot wake the server", &e))?;
        let me = thread::current().id();
        py.detach(|| {
            let mut serving = self.serving.lock().unwrap_or_else(PoisonError::into_inner);
            while serving.is_some_and(|t| t != me) {
                serving = self
                    .served
                    .wait(serving)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        });
        Ok(())
    }

    /// `server_close() -> None`: closes the listening socket and every
    /// connection (their response iterables are closed). Idempotent. Raises
    /// `RuntimeError` while the server is serving on another thread.
    fn server_close(&self, py: Python<'_>) -> PyResult<()> {
        let mut guard = self
            .core
            .try_lock()
            .map_err(|_| Error::ServerBusy("server_close"))?;
        if let Some(mut core) = guard.take() {
            core.close_all(py);
        }
        Ok(())
    }

    /// `(host, port)`: the address the server listens on, as
    /// `socket.getsockname()` gives it (`port` is the real one when `0` was
    /// asked for).
    #[getter]
    fn server_address<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        (self.addr.ip().to_string(), self.addr.port()).into_pyobject(py)
    }

    /// The TCP port the server listens on (`int`).
    #[getter]
    fn server_port(&self) -> u16 {
        self.addr.port()
    }

    /// The SHA-256 fingerprint of the certificate an HTTPS server presents
    /// (`str`, colon-separated upper-case hex pairs, as browsers show it),
    /// or `None` for plain HTTP.
    #[getter]
    fn certificate_fingerprint(&self) -> Option<String> {
        self.fingerprint.clone()
    }

    /// `live_reload_event(event, data) -> None`: sends the server-sent event
    /// `event` (`'reload'`: pages reload; `'css'`: stylesheets whose file
    /// name is `data` are fetched again) to every open live-reload stream.
    /// Safe to call from any thread; does nothing on a server made without
    /// `live_reload`. Raises `ValueError` when `event` is not a word of
    /// ASCII letters, digits, `-` and `_`.
    fn live_reload_event(&self, event: &str, data: &str) -> PyResult<()> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if event.is_empty() || !event.bytes().all(word) {
            return Err(Error::BadArgument {
                name: "event",
                value: format!("{event:?}"),
                why: "expected a word of ASCII letters, digits, '-' and '_'",
            }
            .into());
        }
        self.shared.send_event(&live_reload::event(event, data));
        Ok(())
    }

    /// `with make_server(...) as server:` closes the server on exit.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Calls `server_close()`.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.server_close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<rswsgi.Server listening on {}://{}:{}>",
            if self.fingerprint.is_some() {
                "https"
            } else {
                "http"
            },
            self.host,
            self.addr.port()
        )
    }
}

/// An `OSError` naming what was attempted.
fn os_error(what: &str, e: &std::io::Error) -> PyErr {
    Error::io(what.to_owned(), e).into()
}

// The text signature (`inspect.signature`) and the first line of the doc
// list the limit keywords of `config::LIMITS`, which `**limits` takes.
#[doc = concat!(
    "make_server(host, port, app, *, quiet=False, ",
    config::limit_text!(signature),
    "fd=None, cert=None, key=None, live_reload=None)\n--\n"
)]
#[doc = concat!(
    "`make_server(host, port, app, *, quiet=False, ",
    config::limit_text!(defaults),
    "fd=None, cert=None, key=None, live_reload=None) -> Server`"
)]
///
/// Binds a single-threaded WSGI server (PEP 3333) to `host`:`port`, like
/// `wsgiref.simple_server.make_server`; `port=0` picks a free port (see
/// `server_port`). `quiet=True` silences the access log. Limits (`None`
/// means the default shown):
///
#[doc = config::limit_text!(docs)]
/// `fd`: serve this already bound TCP socket (a file descriptor, e.g. one
/// inherited from a parent process, as `--reload` does) instead of binding
/// `host`:`port`; the server uses a duplicate (`socket.fromfd`'s habit), so
/// the caller keeps and closes `fd`; `port` is then ignored and `host` only
/// names the server (`SERVER_NAME`).
///
/// `live_reload`: a string naming this server process (its *generation*),
/// to answer `/__rswsgi__/live-reload.js` and the event stream
/// `/__rswsgi__/live-reload` itself, without calling the app (see
/// `live_reload_event`); `None` (the default) leaves those paths to the
/// app. `python -m rswsgi.dev --reload` sets it.
///
/// `cert`, `key`: serve HTTPS (TLS 1.2 and 1.3, ALPN `http/1.1`) with the
/// certificate chain in the PEM file `cert` (leaf first; intermediates may
/// follow) and its private key in the PEM file `key` (PKCS#8, PKCS#1 or
/// SEC1); paths as `str` or `os.PathLike`. `cert="adhoc"` (no `key`) makes
/// a self-signed certificate for `localhost`, `127.0.0.1` and `::1` at
/// start; `certificate_fingerprint` tells its SHA-256. The environ then
/// has `wsgi.url_scheme` `'https'` and `HTTPS` `'on'`.
///
/// Raises `ValueError` for a port outside 0-65535, a zero size limit or
/// seconds that are not a finite number 0 or more, `TypeError` when `app`
/// is not callable or for an unknown keyword, and `OSError` when `host`
/// cannot be resolved, the address cannot be bound (e.g. already in use) or
/// `fd` is not a bound TCP socket. For `cert`/`key`: `OSError` (e.g.
/// `FileNotFoundError`) naming the argument when a file cannot be read, and
/// `ValueError` naming it when a file holds no PEM certificate or key, the
/// key does not match the certificate, or one comes without the other.
#[pyfunction]
#[pyo3(signature = (host, port, app, *, quiet = false, **keywords), text_signature = None)]
pub(crate) fn make_server(
    py: Python<'_>,
    host: &str,
    port: &Bound<'_, PyAny>,
    app: Bound<'_, PyAny>,
    quiet: bool,
    keywords: Option<&Bound<'_, PyDict>>,
) -> PyResult<Server> {
    let options = Options::from_keywords(quiet, keywords)?;
    bind(py, host, port, app, &options)
}

/// What `make_server` takes besides the address and the app.
#[derive(Debug, Default)]
struct Options<'py> {
    quiet: bool,
    limits: Limits,
    fd: Option<i64>,
    cert: Option<Bound<'py, PyAny>>,
    key: Option<Bound<'py, PyAny>>,
    live_reload: Option<String>,
}

impl<'py> Options<'py> {
    /// `make_server`'s keyword arguments after `quiet`: `fd`, `cert`, `key`,
    /// `live_reload` and the limits (`None` for any of them is the default).
    ///
    /// # Errors
    /// `TypeError` for an unknown keyword or a value of the wrong type, as
    /// PyO3 words them for declared arguments; the limits' errors
    /// ([`Limits::set_keyword`]).
    fn from_keywords(quiet: bool, keywords: Option<&Bound<'py, PyDict>>) -> PyResult<Self> {
        let mut options = Self {
            quiet,
            ..Self::default()
        };
        for (name, value) in keywords.into_iter().flatten() {
            let name = name.extract::<String>()?;
            let named = |e| config::argument_error(value.py(), &name, e);
            let given = (!value.is_none()).then_some(&value);
            match name.as_str() {
                "fd" => {
                    options.fd = given
                        .map(PyAnyMethods::extract)
                        .transpose()
                        .map_err(named)?;
                }
                "cert" => options.cert = given.cloned(),
                "key" => options.key = given.cloned(),
                "live_reload" => {
                    options.live_reload = given
                        .map(PyAnyMethods::extract)
                        .transpose()
                        .map_err(named)?;
                }
                _ => {
                    if !options.limits.set_keyword(&name, &value)? {
                        return Err(PyTypeError::new_err(format!(
                            "make_server() got an unexpected keyword argument '{name}'"
                        )));
                    }
                }
            }
        }
        Ok(options)
    }
}

/// `make_server` once its keywords are read.
fn bind(
    py: Python<'_>,
    host: &str,
    port: &Bound<'_, PyAny>,
    app: Bound<'_, PyAny>,
    options: &Options<'_>,
) -> PyResult<Server> {
    let port = port
        .extract::<i64>()
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| Error::BadArgument {
            name: "port",
            value: repr_or_type(port),
            why: "expected an int from 0 to 65535 (0 picks a free port)",
        })?;
    crate::errors::check_callable("app", &app, crate::errors::Callee::WsgiApp)?;
    let certificate = match Source::from_args(options.cert.as_ref(), options.key.as_ref())? {
        Some(source) => Some(py.detach(|| Certificate::load(&source))?),
        None => None,
    };
    let listener = inherit::listen(py, host, port, options.fd)?;
    let addr = listener
        .local_addr()
        .map_err(|e| os_error("cannot read the bound address", &e))?;
    let file_wrapper = py.get_type::<FileWrapper>();
    let environ = EnvironTemplate::new(py, host, addr.port(), file_wrapper.as_any())?;
    if certificate.is_some() {
        environ.set_https(py)?;
    }
    let (tls, fingerprint) = certificate.map(|c| (c.config, c.fingerprint)).unzip();
    let limits = options.limits.clone();
    let serving = Serving {
        limits,
        quiet: options.quiet,
        tls,
        live_reload: options.live_reload.clone(),
    };
    let (core, shared) = EventLoop::new(listener, app.unbind(), environ, serving)
        .map_err(|e| os_error("cannot start the event loop", &e))?;
    Ok(Server {
        core: Mutex::new(Some(core)),
        shared,
        serving: Mutex::new(None),
        served: Condvar::new(),
        host: host.to_owned(),
        addr,
        fingerprint,
    })
}

/// `serve(app, host="127.0.0.1", port=8888, *, quiet=False, cert=None,
/// key=None) -> None`
///
/// `make_server(host, port, app, quiet=quiet, cert=cert, key=key)
/// .serve_forever()`: serves `app` until Ctrl-C (`KeyboardInterrupt` is
/// raised, the socket closed); HTTPS with `cert`/`key` (see `make_server`).
/// Raises as `make_server` does. A process that started with SIGINT ignored
/// (a background job of a script) keeps ignoring Ctrl-C, as POSIX asks,
/// because CPython installs its handler only over the default disposition;
/// call `signal.signal(signal.SIGINT, signal.default_int_handler)` first to
/// stop it with `kill -INT` (`python -m rswsgi.dev` does).
#[pyfunction]
#[pyo3(signature = (app, host = "127.0.0.1", port = None, *, quiet = false, cert = None,
    key = None))]
pub(crate) fn serve(
    py: Python<'_>,
    app: Bound<'_, PyAny>,
    host: &str,
    port: Option<&Bound<'_, PyAny>>,
    quiet: bool,
    cert: Option<&Bound<'_, PyAny>>,
    key: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let default_port = 8888u16.into_pyobject(py)?.into_any();
    let port = port.unwrap_or(&default_port);
    let options = Options {
        quiet,
        cert: cert.cloned(),
        key: key.cloned(),
        ..Options::default()
    };
    let server = bind(py, host, port, app, &options)?;
    let result = server.serve_forever(py, 0.5);
    server.server_close(py)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::LIMITS;

    /// `make_server`'s limit keywords reach their own `Limits` field.
    #[test]
    #[allow(clippy::float_cmp, clippy::cast_precision_loss)] // small, exact values
    fn limit_keywords_reach_their_fields() {
        Python::attach(|py| {
            let port = 0i64.into_pyobject(py).unwrap().into_any();
            let app = py.eval(c"lambda e, s: []", None, None).unwrap();
            let defaults = Limits::default();
            for (i, spec) in LIMITS.iter().enumerate() {
                // A timeout keyword takes decimal seconds.
                let n = 7_000 + i as u64;
                let given = n as f64 + if spec.in_seconds() { 0.5 } else { 0.0 };
                let keywords = PyDict::new(py);
                if spec.in_seconds() {
                    keywords.set_item(spec.keyword, given).unwrap();
                } else {
                    keywords.set_item(spec.keyword, n).unwrap();
                }
                let server =
                    make_server(py, "127.0.0.1", &port, app.clone(), true, Some(&keywords))
                        .unwrap();
                let core = server.core.lock().unwrap();
                let limits = core.as_ref().unwrap().limits();
                for other in &LIMITS {
                    let want = if other.keyword == spec.keyword {
                        given
                    } else {
                        (other.get)(&defaults)
                    };
                    assert_eq!((other.get)(limits), want, "{} given", spec.keyword);
                }
            }
        });
    }
}
