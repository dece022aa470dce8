//! The one response filter that every response-rewriting middleware uses.
//!
//! A middleware is a server to the app it wraps and an app to the server
//! that calls it (PEP 3333 "Middleware: Components that Play Both Sides").
//! [`call_filtered`] plays both sides once, for everyone:
//!
//! - it hands the app a `start_response` ([`StartResponse`]) that records the
//!   head in a [`ResponseStart`] (exc_info rules included) and passes it on to
//!   the server only when the body starts: at the first non-empty chunk, at
//!   the app's first `write()` call, or at the end of an empty body (PEP 3333
//!   "The start_response() Callable": headers are not sent before that);
//! - empty chunks before the first non-empty one are absorbed, so an error in
//!   that window can still become a response the server sees first
//!   (handle_error);
//! - it returns `write()` ([`Write`]) and a body iterator ([`FilteredBody`])
//!   whose `close()` closes the app's iterable exactly once ([`AppIter`]): on
//!   `close()` from the server, on an exception while iterating (closed
//!   before the exception propagates), or on garbage collection;
//! - the `exc_info` the app gives with the head it finally chose is passed on
//!   with that head; a call with `exc_info` after the head was passed on
//!   re-raises (PEP 3333 "Error Handling").
//!
//! Middleware only supply [`ResponseHooks`]: choose a [`BodyMode`] from the
//! head, rewrite a whole body, or turn an exception into an [`ErrorResponse`].
//! Nothing here holds the state lock while the app's code runs, so an app may
//! call `start_response` from inside its generator (PEP 3333 allows the first
//! iteration to do so).

mod body;
mod start_response;

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

pub use start_response::{StartResponse, Write};

use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::{exc_info_tuple, AppIter, Headers, ResponseStart, Status};

/// How a middleware treats the body of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// Chunks go to the server as the same `bytes` objects, one by one.
    Stream,
    /// Chunks (iterable and `write()` alike) are collected and
    /// [`ResponseHooks::transform`] makes the body sent at the end. The head
    /// is passed on with that body's exact `Content-Length`: the rest of the
    /// iterable is read at its first non-empty chunk. Only when the app's
    /// `write()` passed the head on first is `b''` yielded per inner chunk
    /// (PEP 3333 "Middleware Handling of Block Boundaries").
    Whole,
}

/// A response that replaces a failed one (status, headers, body bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// A status line such as `500 Internal Server Error`.
    pub status: String,
    /// The response headers, passed on as given.
    pub headers: Headers,
    /// The whole body.
    pub body: Vec<u8>,
}

/// What a middleware adds to the shared filter. Every method has a default
/// that leaves the response alone.
pub trait ResponseHooks: Send + 'static {
    /// Chooses the body mode once, from the head the app finally chose,
    /// just before that head is passed on.
    fn mode(&mut self, _head: &(Status, Headers)) -> BodyMode {
        BodyMode::Stream
    }

    /// [`BodyMode::Whole`]: the body to send instead of `body`.
    fn transform(&mut self, body: Vec<u8>) -> Vec<u8> {
        body
    }

    /// [`BodyMode::Whole`]: `true` when [`Self::transform`] keeps the byte
    /// length, so a declared `Content-Length` stays exact even when the head
    /// must be passed on before the whole body is known. When `false`, such a
    /// `Content-Length` is removed.
    fn preserves_length(&self) -> bool {
        false
    }

    /// An exception from the app call, or from its body before the first
    /// non-empty chunk; the inner iterable is already closed. `Some` answers
    /// with that response instead of raising.
    fn recover(&mut self, _py: Python<'_>, _err: &PyErr) -> Option<ErrorResponse> {
        None
    }

    /// An exception after the first non-empty chunk; the inner iterable is
    /// already closed and the exception is re-raised after this returns.
    fn streaming_error(&mut self, _py: Python<'_>, _err: &PyErr) {}

    /// Visits the Python objects the hooks hold (`__traverse__`).
    fn traverse(&self, _visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        Ok(())
    }

    /// Drops the Python objects the hooks hold (`__clear__`).
    fn clear(&mut self) {}
}

/// Where the app's iterable is.
enum Inner {
    /// The app has not returned yet.
    NotYet,
    /// Returned, in place.
    Ready(AppIter),
    /// Taken out while its `__next__` runs app code (no lock held meanwhile).
    Busy { close_requested: bool },
    /// Closed, or never had one (the app call failed).
    Closed,
}

/// What `__next__` gives next.
enum Out {
    /// Pull from the app's iterable.
    Running,
    /// Yield these bytes once, then end.
    Last(Py<PyBytes>),
    /// Stop.
    Done,
}

/// One response's state, shared by its start_response, write and body.
struct State {
    hooks: Box<dyn ResponseHooks>,
    start: ResponseStart,
    /// The status and header list objects of the recorded head, passed on
    /// unchanged unless the filter edits the headers.
    head_py: Option<(Py<PyAny>, Py<PyAny>)>,
    /// The app's `exc_info` for the recorded head, passed on with it.
    exc_info: Option<Py<PyAny>>,
    outer_start: Option<Py<PyAny>>,
    outer_write: Option<Py<PyAny>>,
    mode: Option<BodyMode>,
    buffer: Vec<u8>,
    /// The app produced a non-empty body chunk (from its iterable).
    body_started: bool,
    inner: Inner,
    out: Out,
}

impl State {
    /// The body mode, chosen once from the recorded head.
    fn mode(&mut self) -> Result<BodyMode, Error> {
        if let Some(m) = self.mode {
            return Ok(m);
        }
        let head = self.start.head().ok_or(Error::StartResponseNotCalled)?;
        let m = self.hooks.mode(head);
        self.mode = Some(m);
        Ok(m)
    }
}

/// The body iterator a filtering middleware returns (PEP 3333 "the
/// application object must return an iterable yielding zero or more
/// bytestrings"): yields `bytes`, and `close()` closes the wrapped app's
/// iterable exactly once.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
pub struct FilteredBody {
    state: Mutex<State>,
}

impl FilteredBody {
    /// The state, or [`Error::ReentrantCall`] when a call on this response
    /// is already running (never blocks, so it cannot deadlock).
    fn lock(&self) -> Result<MutexGuard<'_, State>, Error> {
        self.state.try_lock().map_err(|_| Error::ReentrantCall)
    }
}

/// Calls `app(environ, start_response')` with the filter in between and
/// returns the filtered body (a [`FilteredBody`]).
///
/// # Errors
/// What the app raised, unless `hooks` recovered from it.
pub fn call_filtered<'py>(
    app: &Bound<'py, PyAny>,
    environ: &Bound<'py, PyAny>,
    start_response: &Bound<'py, PyAny>,
    hooks: Box<dyn ResponseHooks>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = app.py();
    let body = Bound::new(
        py,
        FilteredBody {
            state: Mutex::new(State {
                hooks,
                start: ResponseStart::default(),
                head_py: None,
                exc_info: None,
                outer_start: Some(start_response.clone().unbind()),
                outer_write: None,
                mode: None,
                buffer: Vec::new(),
                body_started: false,
                inner: Inner::NotYet,
                out: Out::Running,
            }),
        },
    )?;
    let sr = vectorcall::new(
        py,
        StartResponse {
            body: body.clone().unbind(),
            vectorcall: vectorcall::Slot::default(),
        },
    )?;
    match app.call1((environ, sr)) {
        Ok(iterable) => {
            // A list or tuple body runs no app code while it is read, so the
            // filter can do all its work now and hand the server a plain
            // list: no per-chunk calls back into Rust, and an outer filter
            // sees a list too.
            let sequence = iterable.is_exact_instance_of::<PyList>()
                || iterable.is_exact_instance_of::<PyTuple>();
            body.get().lock()?.inner = Inner::Ready(AppIter::new(iterable));
            if sequence {
                return Ok(PyList::new(py, FilteredBody::drain(&body)?)?.into_any());
            }
        }
        Err(err) => {
            let last = recover(&body, err)?;
            body.get().lock()?.out = Out::Last(last.unbind());
        }
    }
    Ok(body.into_any())
}

/// Passes the recorded head on to the server, once. `known_len` is the
/// exact body length when the whole (transformed) body is already known.
fn commit(body: &Bound<'_, FilteredBody>, known_len: Option<usize>) -> PyResult<()> {
    let py = body.py();
    let (outer, status, headers, exc_info) = {
        let mut guard = body.get().lock()?;
        let st = &mut *guard;
        if st.start.is_sent() {
            return Ok(());
        }
        let mode = st.mode()?;
        let (status, mut headers) = st.head_py.take().ok_or(Error::StartResponseNotCalled)?;
        if let (BodyMode::Whole, Some(head)) = (mode, st.start.head_mut()) {
            let h = &mut head.1;
            let edited = match known_len {
                // The app already declared exactly this length (reversal
                // keeps it): its own header list goes on unchanged.
                Some(n) if declares_exactly(h, n) => false,
                Some(n) => {
                    h.set("Content-Length", n.to_string());
                    true
                }
                None if !st.hooks.preserves_length() && h.contains("content-length") => {
                    h.remove("content-length");
                    true
                }
                None => false,
            };
            if edited {
                headers = h.to_py(py)?.into_any().unbind();
            }
        }
        st.start.mark_sent();
        let outer = st.outer_start.as_ref().map(|o| o.clone_ref(py));
        (outer, status, headers, st.exc_info.take())
    };
    let Some(outer) = outer else {
        return Ok(()); // cleared by the garbage collector: nobody to tell
    };
    let write = match exc_info {
        Some(e) => outer.call1(py, (status, headers, e)),
        None => outer.call1(py, (status, headers)),
    }?;
    body.get().lock()?.outer_write = Some(write);
    Ok(())
}

/// `true` when `headers` has exactly one `Content-Length` and it is `n`
/// written in decimal digits.
fn declares_exactly(headers: &Headers, n: usize) -> bool {
    let mut values = headers
        .0
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-length"));
    match (values.next(), values.next()) {
        (Some((_, v)), None) => {
            !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && v.parse() == Ok(n)
        }
        _ => false,
    }
}

/// Handles an exception before the first non-empty chunk: the hooks'
/// response (passed on with `exc_info` only if a head was already passed
/// on), or the exception itself.
fn recover<'py>(body: &Bound<'py, FilteredBody>, err: PyErr) -> PyResult<Bound<'py, PyBytes>> {
    let py = body.py();
    let (resp, sent, outer) = {
        let mut st = body.get().lock()?;
        let resp = if err.is_instance_of::<PyException>(py) {
            st.hooks.recover(py, &err)
        } else {
            None // KeyboardInterrupt, SystemExit, GeneratorExit: not ours
        };
        let outer = st.outer_start.as_ref().map(|o| o.clone_ref(py));
        st.out = Out::Done;
        (resp, st.start.is_sent(), outer)
    };
    let (Some(resp), Some(outer)) = (resp, outer) else {
        return Err(err);
    };
    let headers = resp.headers.to_py(py)?;
    if sent {
        outer.call1(py, (resp.status, headers, exc_info_tuple(py, &err)?))?;
    } else {
        outer.call1(py, (resp.status, headers))?;
    }
    body.get().lock()?.start.mark_sent();
    Ok(PyBytes::new(py, &resp.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyDict;

    /// Test hooks: a fixed mode, upper-casing transform, optional recovery.
    struct Upper {
        mode: BodyMode,
        recover: bool,
    }

    impl ResponseHooks for Upper {
        fn mode(&mut self, _head: &(Status, Headers)) -> BodyMode {
            self.mode
        }
        fn transform(&mut self, body: Vec<u8>) -> Vec<u8> {
            body.to_ascii_uppercase()
        }
        fn recover(&mut self, _py: Python<'_>, _err: &PyErr) -> Option<ErrorResponse> {
            self.recover.then(|| ErrorResponse {
                status: "500 Oops".to_owned(),
                headers: Headers(vec![("Content-Type".into(), "text/plain".into())]),
                body: b"oops".to_vec(),
            })
        }
    }

    const APPS: &std::ffi::CStr = c"
calls = []
def server_start_response(status, headers, exc_info=None):
    calls.append((status, list(headers), None if exc_info is None else exc_info[0].__name__))
    return lambda data: calls.append(('write', data))
CT = [('Content-Type', 'text/plain'), ('Content-Length', '4')]
def gen(environ, start_response):
    start_response('200 OK', CT)
    yield b''
    yield b'ab'
    yield b'cd'
def listed(environ, start_response):
    start_response('200 OK', CT)
    return [b'ab', b'cd']
def fails_early(environ, start_response):
    start_response('200 OK', CT)
    yield b''
    raise ValueError('early')
def writes(environ, start_response):
    start_response('200 OK', CT)(b'ab')
    return iter([b'cd'])
def writes_then_fails(environ, start_response):
    start_response('200 OK', CT)(b'')
    raise ValueError('late')
def no_head(environ, start_response):
    return [b'x']
class Counted:
    closes = 0
    def __init__(self): self.items = iter([b'1', b'2', b'3'])
    def __iter__(self): return self
    def __next__(self): return next(self.items)
    def close(self): Counted.closes += 1
def counted(environ, start_response):
    start_response('200 OK', CT)
    return Counted()
";

    /// Runs the named fixture app through the filter and returns the chunks
    /// it yields (up to `limit`), the body object and the server's calls.
    fn drive<'py>(
        ns: &Bound<'py, PyDict>,
        app: &str,
        hooks: Upper,
        limit: usize,
    ) -> PyResult<(Vec<Vec<u8>>, Bound<'py, PyAny>, String)> {
        let py = ns.py();
        let get = |k: &str| ns.get_item(k).unwrap().unwrap();
        get("calls").call_method0("clear")?;
        let body = call_filtered(
            &get(app),
            PyDict::new(py).as_any(),
            &get("server_start_response"),
            Box::new(hooks),
        )?;
        let mut out = Vec::new();
        for chunk in body.try_iter()?.take(limit) {
            out.push(chunk?.cast_into::<PyBytes>()?.as_bytes().to_vec());
        }
        let calls = get("calls").repr()?.to_string();
        Ok((out, body, calls))
    }

    fn with_apps(f: impl FnOnce(&Bound<'_, PyDict>)) {
        Python::attach(|py| {
            let ns = PyDict::new(py);
            py.run(APPS, Some(&ns), None).unwrap();
            f(&ns);
        });
    }

    const STREAM: Upper = Upper {
        mode: BodyMode::Stream,
        recover: false,
    };
    const WHOLE: Upper = Upper {
        mode: BodyMode::Whole,
        recover: false,
    };

    #[test]
    fn stream_absorbs_leading_empties_and_passes_the_head_at_the_first_chunk() {
        with_apps(|ns| {
            let (out, _, calls) = drive(ns, "gen", STREAM, 9).unwrap();
            assert_eq!(out, [b"ab".to_vec(), b"cd".to_vec()]);
            assert_eq!(
                calls,
                "[('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '4')], None)]"
            );
            // Before iteration, nothing was passed on.
            let (_, _, calls) = drive(ns, "gen", STREAM, 0).unwrap();
            assert_eq!(calls, "[]");
        });
    }

    #[test]
    fn whole_mode_sends_the_transformed_body_with_its_length() {
        with_apps(|ns| {
            // A generator or a list: read whole at the first non-empty
            // chunk, then one head with the exact length and one chunk.
            for app in ["gen", "listed"] {
                let (out, _, calls) = drive(ns, app, WHOLE, 9).unwrap();
                assert_eq!(out, [b"ABCD".to_vec()]);
                assert_eq!(
                    calls,
                    "[('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '4')], None)]"
                );
            }
            // write() passes the head on at once: a declared length is
            // removed (these hooks do not preserve length), b'' per inner chunk.
            let (out, _, calls) = drive(ns, "writes", WHOLE, 9).unwrap();
            assert_eq!(out, [b"".to_vec(), b"ABCD".to_vec()]);
            assert_eq!(
                calls,
                "[('200 OK', [('Content-Type', 'text/plain')], None)]"
            );
        });
    }

    #[test]
    fn recovery_omits_exc_info_unless_a_head_was_passed_on() {
        with_apps(|ns| {
            let hooks = || Upper {
                mode: BodyMode::Stream,
                recover: true,
            };
            let (out, _, calls) = drive(ns, "fails_early", hooks(), 9).unwrap();
            assert_eq!(out, [b"oops".to_vec()]);
            assert_eq!(
                calls,
                "[('500 Oops', [('Content-Type', 'text/plain')], None)]"
            );
            let (out, _, calls) = drive(ns, "writes_then_fails", hooks(), 9).unwrap();
            assert_eq!(out, [b"oops".to_vec()]);
            assert!(
                calls.ends_with("('500 Oops', [('Content-Type', 'text/plain')], 'ValueError')]"),
                "{calls}"
            );
            // Without recovery the exception propagates.
            let err = drive(ns, "fails_early", STREAM, 9).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains("early"));
            let err = drive(ns, "no_head", STREAM, 9).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains("start_response"));
        });
    }

    #[test]
    fn close_reaches_the_app_exactly_once() {
        with_apps(|ns| {
            let closes = || {
                let c = ns.get_item("Counted").unwrap().unwrap();
                c.getattr("closes").unwrap().extract::<i32>().unwrap()
            };
            // Early close after one chunk, twice, then drop.
            let (out, body, _) = drive(ns, "counted", STREAM, 1).unwrap();
            assert_eq!(out, [b"1".to_vec()]);
            body.call_method0("close").unwrap();
            body.call_method0("close").unwrap();
            assert!(body.try_iter().unwrap().next().is_none());
            drop(body);
            assert_eq!(closes(), 1);
            // Never closed by the server: closed when dropped.
            let (_, body, _) = drive(ns, "counted", WHOLE, 2).unwrap();
            drop(body);
            assert_eq!(closes(), 2);
        });
    }
}
