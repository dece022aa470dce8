//! The one response filter that every response-rewriting middleware uses.
//!
//! A middleware is a server to the app it wraps and an app to the server
//! that calls it (PEP 3333 "Middleware: Components that Play Both Sides").
//! [`call_filtered`] plays both sides once, for everyone:
//!
//! - it hands the app a `start_response` ([`FilterStartResponse`]) that records the
//!   head in a [`ResponseStart`] (exc_info rules included, checked in place:
//!   nothing is copied) and passes it on to the server only when the body
//!   starts: at the first non-empty chunk, at the app's first `write()` call,
//!   or at the end of an empty body (PEP 3333 "The start_response()
//!   Callable": headers are not sent before that);
//! - empty chunks before the first non-empty one are absorbed, so an error in
//!   that window can still become a response the server sees first
//!   (handle_error);
//! - `start_response` returns itself as `write()`, and the body goes back as
//!   the app's own `list` or `tuple` when that needs no change, or else as a
//!   body iterator ([`FilteredBody`]) whose `close()` closes the app's
//!   iterable exactly once ([`AppIter`]): on `close()` from the server, on an
//!   exception while iterating (closed before the exception propagates), or
//!   on garbage collection;
//! - the `exc_info` the app gives with the head it finally chose is passed on
//!   with that head; a call with `exc_info` after the head was passed on
//!   re-raises (PEP 3333 "Error Handling").
//!
//! So a response with a `list` or `tuple` body makes one Python object here
//! (the `start_response`), and a lazy body one more (its iterator). All of a
//! response's state lives in its `FilterStartResponse`.
//!
//! Middleware only supply [`ResponseHooks`]: choose a [`BodyMode`] from the
//! head, rewrite a whole body, or turn an exception into an [`ErrorResponse`].
//! Nothing here holds the state lock while the app's code runs, so an app may
//! call `start_response` from inside its generator (PEP 3333 allows the first
//! iteration to do so).

mod body;
mod intercept;

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

pub(crate) use body::FilteredBody;
pub(crate) use intercept::FilterStartResponse;

use super::glue::Call;
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::{exc_info_tuple, AppIter, Head, Headers, ResponseStart};

/// How a middleware treats the body of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyMode {
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
pub(crate) struct ErrorResponse {
    /// A status line such as `500 Internal Server Error`.
    pub(crate) status: String,
    /// The response headers, passed on as given.
    pub(crate) headers: Headers,
    /// The whole body.
    pub(crate) body: Vec<u8>,
}

/// What a middleware adds to the shared filter. Every method has a default
/// that leaves the response alone.
pub(crate) trait ResponseHooks: Send + 'static {
    /// Chooses the body mode once, from the head the app finally chose,
    /// just before that head is passed on.
    fn mode(&mut self, _py: Python<'_>, _head: &Head) -> BodyMode {
        BodyMode::Stream
    }

    /// [`BodyMode::Whole`]: rewrites the whole `body` in place, into the
    /// body to send instead.
    fn transform(&mut self, _body: &mut Vec<u8>) {}

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

/// One response's state, held by its [`FilterStartResponse`].
struct State {
    hooks: Box<dyn ResponseHooks>,
    start: ResponseStart,
    /// The app's `exc_info` for the recorded head, passed on with it.
    exc_info: Option<Py<PyAny>>,
    outer_start: Option<Py<PyAny>>,
    outer_write: Option<Py<PyAny>>,
    mode: Option<BodyMode>,
    buffer: Vec<u8>,
    /// The app produced a non-empty body chunk (from its iterable).
    body_started: bool,
    inner: Inner,
    /// Nothing more to yield.
    done: bool,
}

impl State {
    /// The body mode, chosen once from the recorded head.
    fn mode(&mut self, py: Python<'_>) -> Result<BodyMode, Error> {
        if let Some(m) = self.mode {
            return Ok(m);
        }
        let head = self.start.head().ok_or(Error::StartResponseNotCalled)?;
        let m = self.hooks.mode(py, head);
        self.mode = Some(m);
        Ok(m)
    }

    /// Visits the held Python objects for the cycle collector.
    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(head) = self.start.head() {
            head.traverse(visit)?;
        }
        visit.call(&self.exc_info)?;
        visit.call(&self.outer_start)?;
        visit.call(&self.outer_write)?;
        if let Inner::Ready(it) = &self.inner {
            it.traverse(visit)?;
        }
        self.hooks.traverse(visit)
    }
}

impl FilterStartResponse {
    /// The state, or [`Error::ReentrantCall`] when a call on this response
    /// is already running (never blocks, so it cannot deadlock).
    fn lock(&self) -> Result<MutexGuard<'_, State>, Error> {
        self.state.try_lock().map_err(|_| Error::ReentrantCall)
    }
}

/// Calls `app(environ, start_response')` with the filter in between and
/// returns the filtered body: the app's own `list` or `tuple` when the
/// filter leaves it as it is, a new `list` when the filter changed it or
/// answered an exception, else a [`FilteredBody`].
///
/// # Errors
/// What the app raised, unless `hooks` recovered from it.
pub(crate) fn call_filtered<'py>(
    call: &Call<'_, 'py>,
    hooks: Box<dyn ResponseHooks>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = call.app.py();
    let sr = vectorcall::new(
        py,
        FilterStartResponse {
            state: Mutex::new(State {
                hooks,
                start: ResponseStart::default(),
                exc_info: None,
                outer_start: Some(call.start_response.clone().unbind()),
                outer_write: None,
                mode: None,
                buffer: Vec::new(),
                body_started: false,
                inner: Inner::NotYet,
                done: false,
            }),
            vectorcall: vectorcall::Slot::default(),
        },
    )?;
    match call.app.call1((call.environ, &sr)) {
        Ok(iterable) => {
            // A list or tuple body runs no app code while it is read, so the
            // filter does all its work now and hands the server a sequence:
            // no per-chunk calls back into Rust, and an outer filter sees a
            // sequence too.
            let sequence = iterable.is_exact_instance_of::<PyList>()
                || iterable.is_exact_instance_of::<PyTuple>();
            if !sequence {
                sr.get().lock()?.inner = Inner::Ready(AppIter::new(iterable));
                return Ok(Bound::new(py, FilteredBody::new(sr.unbind()))?.into_any());
            }
            sr.get().lock()?.inner = Inner::Ready(AppIter::new(iterable.clone()));
            body::drain(&sr, &iterable)
        }
        Err(err) => {
            let last = recover(&sr, err)?;
            Ok(PyList::new(py, [last])?.into_any())
        }
    }
}

/// Passes the recorded head on to the server, once. `known_len` is the
/// exact body length when the whole (transformed) body is already known.
fn commit(sr: &Bound<'_, FilterStartResponse>, known_len: Option<usize>) -> PyResult<()> {
    let py = sr.py();
    let (outer, status, headers, exc_info) = {
        let mut st = sr.get().lock()?;
        if st.start.is_sent() {
            return Ok(());
        }
        let mode = st.mode(py)?;
        let head = st.start.head().ok_or(Error::StartResponseNotCalled)?;
        let status = head.status.clone_ref(py);
        let mut headers = head.headers.clone_ref(py);
        if mode == BodyMode::Whole {
            let list = headers.bind(py);
            let edited = match known_len {
                // The app already declared exactly this length (reversal
                // keeps it): its own header list goes on unchanged.
                Some(n) if head.declares_length(py, n) => None,
                Some(n) => Some(without_content_length(list, Some(n))?),
                None if !st.hooks.preserves_length() && head.content_lengths > 0 => {
                    Some(without_content_length(list, None)?)
                }
                None => None,
            };
            if let Some(e) = edited {
                headers = e.into_any().unbind();
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
    sr.get().lock()?.outer_write = Some(write);
    Ok(())
}

/// A new header list: `headers` without its `Content-Length` headers, then
/// `Content-Length: n` at the end when `n` is given. Read in place: items
/// that are not `(str, str)` tuples (an app changed its list after
/// `start_response` checked it) are kept as they are.
fn without_content_length<'py>(
    headers: &Bound<'py, PyAny>,
    n: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let py = headers.py();
    let out = PyList::empty(py);
    if let Ok(list) = headers.cast::<PyList>() {
        for item in list.iter() {
            let is_cl = item
                .cast::<PyTuple>()
                .ok()
                .filter(|t| t.len() == 2)
                .and_then(|t| t.get_item(0).ok())
                .and_then(|name| name.cast_into::<PyString>().ok())
                .is_some_and(|name| {
                    name.to_str()
                        .is_ok_and(|n| n.eq_ignore_ascii_case("content-length"))
                });
            if !is_cl {
                out.append(item)?;
            }
        }
    }
    if let Some(n) = n {
        out.append(("Content-Length", n.to_string()))?;
    }
    Ok(out)
}

/// Handles an exception before the first non-empty chunk: the hooks'
/// response (passed on with `exc_info` only if a head was already passed
/// on), or the exception itself.
fn recover<'py>(sr: &Bound<'py, FilterStartResponse>, err: PyErr) -> PyResult<Bound<'py, PyBytes>> {
    let py = sr.py();
    let (resp, sent, outer) = {
        let mut st = sr.get().lock()?;
        let resp = if err.is_instance_of::<PyException>(py) {
            st.hooks.recover(py, &err)
        } else {
            None // KeyboardInterrupt, SystemExit, GeneratorExit: not ours
        };
        let outer = st.outer_start.as_ref().map(|o| o.clone_ref(py));
        st.done = true;
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
    sr.get().lock()?.start.mark_sent();
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
        fn mode(&mut self, _py: Python<'_>, _head: &Head) -> BodyMode {
            self.mode
        }
        fn transform(&mut self, body: &mut Vec<u8>) {
            body.make_ascii_uppercase();
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
BODY = [b'ab', b'cd']
def same_list(environ, start_response):
    start_response('200 OK', CT)
    return BODY
LEADING = (b'', b'ab')
def leading_empty(environ, start_response):
    start_response('200 OK', CT)
    return LEADING
seen = []
def keeps_write(environ, start_response):
    seen.append((start_response, start_response('200 OK', CT)))
    return [b'x']
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
        let environ = PyDict::new(py);
        let call = Call {
            app: &get(app),
            environ: environ.as_any(),
            start_response: &get("server_start_response"),
        };
        let body = call_filtered(&call, Box::new(hooks))?;
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
    fn a_sequence_body_goes_on_as_the_apps_own_object_unless_changed() {
        with_apps(|ns| {
            let py = ns.py();
            let get = |k: &str| ns.get_item(k).unwrap().unwrap();
            let environ = PyDict::new(py);
            let run = |app: &str, hooks: Upper| {
                let call = Call {
                    app: &get(app),
                    environ: environ.as_any(),
                    start_response: &get("server_start_response"),
                };
                call_filtered(&call, Box::new(hooks)).unwrap()
            };
            // Streamed, nothing absorbed: the very same list.
            assert!(run("same_list", STREAM).is(get("BODY")));
            // Rewritten whole, or a leading b'' absorbed: a new list.
            let whole = run("same_list", WHOLE);
            assert_eq!(whole.repr().unwrap().to_string(), "[b'ABCD']");
            let leading = run("leading_empty", STREAM);
            assert!(!leading.is(get("LEADING")));
            assert_eq!(leading.repr().unwrap().to_string(), "[b'ab']");
        });
    }

    #[test]
    fn write_is_the_start_response_itself() {
        with_apps(|ns| {
            drive(ns, "keeps_write", STREAM, 9).unwrap();
            let seen = ns.get_item("seen").unwrap().unwrap();
            let (sr, write) = (
                seen.get_item(0).unwrap().get_item(0).unwrap(),
                seen.get_item(0).unwrap().get_item(1).unwrap(),
            );
            assert!(sr.is(&write));
            // One str argument: neither a write() nor a whole start_response().
            let err = write.call1(("200 OK",)).unwrap_err();
            assert!(
                err.to_string().contains("write() takes bytes, not str"),
                "{err}"
            );
            let err = write.call1((42,)).unwrap_err();
            assert!(
                err.is_instance_of::<pyo3::exceptions::PyTypeError>(ns.py()),
                "{err}"
            );
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
