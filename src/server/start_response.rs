//! [Stage 6](super): The server's `start_response` callable and its `write()` (PEP 3333
//! "The start_response() Callable", "The write() Callable").
//!
//! The exc_info rules are those of [`crate::wsgi::ResponseStart`] (the
//! middleware's); the server keeps its own copy of that small state machine
//! so that the head is recorded as an [`AppHead`]: checked with the shared
//! rules and serialised once, at call time, with no `String` per header.
//! The responder takes the recorded head when the first non-empty body
//! bytes of the iterable arrive or it ends; `write()` sends its bytes (and
//! the head before them) at once, through the [`Outlet`] the exchange lends
//! while application code runs.

use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::PyTraverseError;

use super::outlet::Outlet;
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::{
    check_header, check_restart, header_item, header_list, is_hop_by_hop, is_token, latin1_bytes,
    next_content_length, status_code, status_str, type_name,
};

/// A response head given to `start_response`, checked and serialised in one
/// pass at call time, straight from the application's `str` objects (no
/// `String` per header; the app may change its list afterwards without
/// effect, as with a copy).
///
/// The checks are those of [`crate::wsgi::status_code`] and
/// [`crate::wsgi::Headers`] (PEP 3333 "The start_response() Callable",
/// RFC 9110 §5.5); hop-by-hop headers (RFC 9110 §7.6.1) are left out of the
/// bytes and listed in [`AppHead::dropped`].
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // independent facts about the headers
pub(crate) struct AppHead {
    /// The status code, 100..=999.
    pub(crate) code: u16,
    /// `200 OK\r\n` then `Name: value\r\n` for each kept header, latin-1.
    bytes: Vec<u8>,
    /// The app's `Content-Length` (RFC 9110 §8.6), or why it is unusable.
    content_length: Result<Option<u64>, Error>,
    /// The app set `Date` (any case).
    pub(crate) has_date: bool,
    /// The app set `Server` (any case).
    pub(crate) has_server: bool,
    /// The app's first `Connection` header lists `close`.
    pub(crate) app_close: bool,
    seen_connection: bool,
    /// Hop-by-hop header names the app set, as given (for the log).
    pub(crate) dropped: Vec<String>,
}

impl AppHead {
    #[cfg(test)]
    /// A head with status `status` (e.g. `"200 OK"`) and no headers yet.
    ///
    /// # Errors
    /// [`Error::InvalidStatus`] as in [`crate::wsgi::Status::parse`].
    pub(crate) fn new(status: &str) -> Result<Self, Error> {
        Ok(Self::with_code(status_code(status)?, status))
    }

    /// A head with status line `status` and code `code`, taken as they are
    /// (the server's own answers).
    #[must_use]
    pub(crate) fn with_code(code: u16, status: &str) -> Self {
        Self::in_buffer(code, status, Vec::with_capacity(128))
    }

    /// [`AppHead::with_code`], its bytes written into `bytes` (emptied
    /// first: a buffer given back by [`AppHead::into_buffer`]).
    fn in_buffer(code: u16, status: &str, mut bytes: Vec<u8>) -> Self {
        bytes.clear();
        push_latin1(&mut bytes, status);
        bytes.extend_from_slice(b"\r\n");
        Self {
            code,
            bytes,
            content_length: Ok(None),
            has_date: false,
            has_server: false,
            app_close: false,
            seen_connection: false,
            dropped: Vec::new(),
        }
    }

    /// A head from a status string and header pairs.
    ///
    /// # Errors
    /// As [`AppHead::new`] and [`AppHead::push`].
    #[cfg(test)]
    pub(crate) fn from_parts<'a>(
        status: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Error> {
        let mut head = Self::new(status)?;
        for (name, value) in headers {
            head.push(name, value)?;
        }
        Ok(head)
    }

    /// Reads and checks `start_response`'s `status` and `response_headers`,
    /// serialising them into `buffer` (emptied first).
    ///
    /// # Errors
    /// `TypeError` for a non-`str` status or a header list that is not a
    /// `list` of `(str, str)` tuples; `ValueError` for a bad status, name or
    /// value (in that order, as [`crate::wsgi::ResponseStart::start`]).
    pub(crate) fn from_py(
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        buffer: Vec<u8>,
    ) -> PyResult<Self> {
        let status = status_str(status)?;
        let status = status.to_str()?;
        let mut head = Self::in_buffer(status_code(status)?, status, buffer);
        for item in header_list(headers)?.iter() {
            let (name, value) = header_item(&item)?;
            head.push(name.to_str()?, value.to_str()?)?;
        }
        Ok(head)
    }

    /// Checks and appends one header.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] as in [`check_header`].
    pub(crate) fn push(&mut self, name: &str, value: &str) -> Result<(), Error> {
        // A token name with a printable-ASCII value (nearly every header)
        // passes `check_header` and is its own latin-1; anything else goes
        // through `check_header` for the exact rule and message.
        let plain = is_token(name) && value.bytes().all(|b| PLAIN_VALUE[usize::from(b)]);
        if !plain {
            check_header(name, value)?;
        }
        if name.eq_ignore_ascii_case("content-length") {
            if let Ok(found) = self.content_length {
                self.content_length = next_content_length(found, value).map(Some);
            }
        } else if name.eq_ignore_ascii_case("date") {
            self.has_date = true;
        } else if name.eq_ignore_ascii_case("server") {
            self.has_server = true;
        } else if is_hop_by_hop(name) {
            if !self.seen_connection && name.eq_ignore_ascii_case("connection") {
                self.seen_connection = true;
                self.app_close = value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"));
            }
            self.dropped.push(name.to_owned());
            return Ok(());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(b": ");
        if plain {
            self.bytes.extend_from_slice(value.as_bytes());
        } else {
            push_latin1(&mut self.bytes, value);
        }
        self.bytes.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The status line and the kept headers, latin-1, each ending in CRLF
    /// (without the leading `HTTP/1.1 `).
    #[must_use]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The buffer of [`AppHead::bytes`], to serialise the next head into.
    #[must_use]
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }

    /// The app's `Content-Length` in bytes, if it gave one.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a non-numeric or repeated-and-different value.
    pub(crate) fn content_length(&self) -> Result<Option<u64>, Error> {
        self.content_length.clone()
    }
}

/// The bytes of a printable-ASCII field value, HTAB included (RFC 9110
/// §5.5 `field-vchar` without `obs-text`), as a table: every byte of every
/// response header value is looked up here.
const PLAIN_VALUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = b' ';
    while b <= b'~' {
        t[b as usize] = true;
        b += 1;
    }
    t[b'\t' as usize] = true;
    t
};

/// Appends `s` latin-1 encoded (checked to fit by the caller).
fn push_latin1(out: &mut Vec<u8>, s: &str) {
    match latin1_bytes(s) {
        Some(b) => out.extend_from_slice(&b),
        None => out.extend_from_slice(s.as_bytes()),
    }
}

/// The `start_response` callable the server passes to the application.
///
/// `start_response(status, response_headers, exc_info=None) -> write`:
/// `status` is a `str` like `'200 OK'`, `response_headers` a `list` of
/// `(str, str)`. A second call needs `exc_info` and replaces the head if it
/// was not sent yet, else re-raises `exc_info` (PEP 3333 "Error Handling").
/// Raises `TypeError`/`ValueError` for a bad status or header list and
/// `RuntimeError` for a second call without `exc_info`. Returns `write`.
#[pyclass(module = "rswsgi._rswsgi", name = "ServerStartResponse")]
#[derive(Debug, Default)]
pub(crate) struct ServerStartResponse {
    /// The head recorded by the last valid call, until the server takes it.
    head: Option<AppHead>,
    /// A valid call was made.
    called: bool,
    /// The head is being sent: a later `exc_info` call re-raises.
    sent: bool,
    /// `write()` bytes given while no [`Outlet`] was lent (from outside
    /// the application's code: another thread, a `close()`), for the
    /// responder to send in order.
    written: Vec<u8>,
    /// What `write()` sends through: made at the first response and kept
    /// with this object; filled with the connection's output while
    /// application code runs.
    outlet: Option<Outlet>,
    /// This object's bound `write`, made by the first call and kept, so
    /// that a reused object ([`ServerStartResponse::reuse`]) hands out the same
    /// one instead of making a new one per response.
    write: Option<Py<PyAny>>,
    /// The buffer of the last head sent, for the next one (see
    /// [`ServerStartResponse::recycle`]).
    buffer: Vec<u8>,
    vectorcall: vectorcall::Slot<Self>,
}

vectorcall::implement!(ServerStartResponse, |slf, args| {
    let (status, headers, exc_info) = vectorcall::start_response_args(args)?;
    Some(Self::__call__(slf, status, headers, exc_info))
});

impl ServerStartResponse {
    /// `sr` made ready for the next response on the same connection, when
    /// nothing but the server holds it or its `write` (the app may keep
    /// either, e.g. in a closure; then it keeps its state and a new object
    /// is made instead). Saves allocating and freeing this object and its
    /// bound `write` per response.
    ///
    /// Free threading: not on a free-threaded build, which makes a new
    /// object per response instead. Without the GIL a refcount is a hint
    /// (CPython offers `PyUnstable_Object_IsUniquelyReferenced` for that
    /// reason, and only for a count of one, not this object's two), and
    /// between the check and the reset another thread may take a new
    /// reference (`gc.get_referrers`) and see the next response's state.
    /// The cost is one allocation per response on the server's one app
    /// thread. The head buffer ([`ServerStartResponse::recycle`]) lives in the
    /// object, so it is reused exactly when the object is.
    #[must_use]
    pub(crate) fn reuse(py: Python<'_>, sr: Py<Self>) -> Option<Bound<'_, Self>> {
        if cfg!(Py_GIL_DISABLED) {
            return None;
        }
        // The server's reference, and the cycle through the cached `write`.
        // (PyO3 deprecates reading refcounts in favour of unsafe FFI, which
        // rswsgi denies; these reads are exact under the GIL.)
        #[allow(deprecated)]
        let alone = {
            let write = sr.borrow(py).write.as_ref().map(|w| w.get_refcnt(py));
            sr.get_refcnt(py) == 1 + isize::from(write.is_some()) && write.is_none_or(|n| n == 1)
        };
        if !alone {
            // The app keeps it: it must not keep the connection's socket.
            sr.borrow_mut(py).outlet = None;
            return None;
        }
        let sr = sr.into_bound(py);
        sr.borrow_mut().reset();
        Some(sr)
    }

    /// Forgets the last response (its head, calls and `write()` bytes);
    /// what is kept for reuse (the bound `write`, the head buffer) stays.
    fn reset(&mut self) {
        self.head = None;
        self.called = false;
        self.sent = false;
        self.written.clear();
    }

    /// The outlet `write()` sends through, if one was made.
    pub(crate) fn outlet(&mut self) -> &mut Option<Outlet> {
        &mut self.outlet
    }

    /// The status and headers recorded by the last valid call, if any and
    /// not yet taken.
    #[must_use]
    pub(crate) fn head(&self) -> Option<&AppHead> {
        self.head.as_ref()
    }

    /// Takes the recorded head out to send it (later `exc_info` calls
    /// re-raise); `None` when `start_response` was not called.
    pub(crate) fn take_head(&mut self) -> Option<AppHead> {
        let head = self.head.take();
        self.sent |= head.is_some();
        head
    }

    /// Keeps the buffer of `head`, sent, for the next head of a reused
    /// object (saves an allocation per response).
    pub(crate) fn recycle(&mut self, head: AppHead) {
        self.buffer = head.into_buffer();
    }

    /// Records that the head is being sent: later `exc_info` calls re-raise.
    pub(crate) fn mark_sent(&mut self) {
        self.sent = true;
    }

    /// `true` when `write()` has buffered bytes.
    #[must_use]
    pub(crate) fn has_written(&self) -> bool {
        !self.written.is_empty()
    }

    /// How many bytes `write()` has buffered.
    #[must_use]
    pub(crate) fn written_len(&self) -> u64 {
        self.written.len() as u64
    }

    /// Moves the bytes given to `write()` so far to the end of `out`.
    pub(crate) fn drain_written_into(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.written);
    }

    /// One `start_response` call: [`crate::wsgi::check_restart`], then the
    /// new head is recorded (PEP 3333 "Error Handling").
    fn start(
        &mut self,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        check_restart(exc_info, self.called, self.sent)?;
        let buffer = std::mem::take(&mut self.buffer);
        self.head = Some(AppHead::from_py(status, headers, buffer)?);
        self.called = true;
        Ok(())
    }
}

#[pymethods]
impl ServerStartResponse {
    #[pyo3(signature = (status, response_headers, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        response_headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.borrow_mut().start(status, response_headers, exc_info)?;
        let py = slf.py();
        if let Some(write) = &slf.borrow().write {
            return Ok(write.bind(py).clone());
        }
        let write = slf.getattr(intern!(py, "write"))?;
        slf.borrow_mut().write = Some(write.clone().unbind());
        Ok(write)
    }

    /// The cached `write` refers back to this object: a cycle for the
    /// garbage collector to see (PyO3 guide, "Garbage Collector
    /// Integration").
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(write) = &self.write {
            visit.call(write)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.write = None;
    }

    /// `write(data: bytes) -> None`: the imperative body API (PEP 3333 "The
    /// write() Callable"). The first non-empty call sends the status and
    /// headers (framed by the app's `Content-Length`, else chunked on
    /// HTTP/1.1, else until the connection closes); each call returns once
    /// its bytes are in the socket's buffer, waiting for a client that does
    /// not read for at most `write_timeout_secs`. Raises `RuntimeError`
    /// before `start_response`, `TypeError` for a non-bytes argument,
    /// `ValueError` for an unusable `Content-Length`, and `OSError`
    /// (`BrokenPipeError`, `TimeoutError`...) when the client went away or
    /// did not read.
    fn write(&mut self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = data
            .cast::<PyBytes>()
            .map_err(|_| Error::BodyNotBytes(type_name(data)))?;
        if !self.called {
            return Err(Error::StartResponseNotCalled.into());
        }
        let bytes = data.as_bytes();
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(outlet) = self.outlet.as_mut().filter(|o| o.lent) else {
            self.sent = true;
            self.written.extend_from_slice(bytes);
            return Ok(());
        };
        let sent = outlet.write(py, &mut self.head, bytes)?;
        self.sent = true;
        if let Some(head) = sent {
            self.buffer = head.into_buffer();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::{PyList, PyString};

    #[test]
    fn write_buffers_after_start_response() {
        Python::attach(|py| {
            let sr = Bound::new(py, ServerStartResponse::default()).unwrap();
            let data = PyBytes::new(py, b"early");
            // write() before start_response is an error.
            assert!(sr.call_method1("write", (&data,)).is_err());
            let write = sr
                .call1((PyString::new(py, "200 OK"), PyList::empty(py)))
                .unwrap();
            write.call1((PyBytes::new(py, b""),)).unwrap();
            assert!(!sr.borrow().has_written());
            write.call1((PyBytes::new(py, b"ab"),)).unwrap();
            write.call1((PyBytes::new(py, b"c"),)).unwrap();
            assert!(write.call1(("str",)).is_err());
            let mut out = Vec::new();
            sr.borrow_mut().drain_written_into(&mut out);
            assert_eq!(out, b"abc");
            assert_eq!(sr.borrow().head().unwrap().code, 200);
        });
    }

    #[test]
    #[cfg(Py_GIL_DISABLED)]
    fn never_reused_without_the_gil() {
        Python::attach(|py| {
            let sr = Bound::new(py, ServerStartResponse::default()).unwrap();
            assert!(ServerStartResponse::reuse(py, sr.unbind()).is_none());
        });
    }

    #[test]
    #[cfg(not(Py_GIL_DISABLED))]
    fn reused_only_when_the_server_alone_holds_it() {
        Python::attach(|py| {
            fn call<'py>(sr: &Bound<'py, ServerStartResponse>) -> Bound<'py, PyAny> {
                let py = sr.py();
                sr.call1((PyString::new(py, "200 OK"), PyList::empty(py)))
                    .unwrap()
            }
            let sr = Bound::new(py, ServerStartResponse::default()).unwrap();
            let write = call(&sr);
            write.call1((PyBytes::new(py, b"x"),)).unwrap();
            drop(write);
            let ptr = sr.as_ptr();
            // Nothing else holds it: the same object, reset, same `write`.
            let sr = ServerStartResponse::reuse(py, sr.unbind()).unwrap();
            assert_eq!(sr.as_ptr(), ptr);
            assert!(sr.borrow().head().is_none() && !sr.borrow().has_written());
            let write = call(&sr);
            assert!(write.is(sr.borrow().write.as_ref().unwrap()));
            // The app holds `write`: not reused.
            assert!(ServerStartResponse::reuse(py, sr.clone().unbind()).is_none());
            drop(write);
            // The app holds `start_response` itself: not reused.
            let kept = sr.clone();
            assert!(ServerStartResponse::reuse(py, sr.unbind()).is_none());
            // A second call without exc_info still fails on the kept one.
            assert!(kept
                .call1((PyString::new(py, "200 OK"), PyList::empty(py)))
                .is_err());
        });
    }

    #[test]
    fn app_head_matches_headers_rules() {
        use crate::wsgi::Headers;
        let pairs = [
            ("Content-Type", "text/plain"),
            ("content-length", " 12 "),
            ("CONTENT-LENGTH", "12"),
            ("connection", "Keep-Alive, Close"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "5"),
            ("DATE", "mine"),
            ("X-Latin", "caf\u{e9}"),
        ];
        let head = AppHead::from_parts("201 Created", pairs).unwrap();
        let headers = Headers(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        );
        assert_eq!(head.code, 201);
        assert_eq!(head.content_length(), headers.content_length());
        assert_eq!(head.content_length(), Ok(Some(12)));
        assert!(head.app_close && head.has_date && !head.has_server);
        assert_eq!(head.dropped, ["connection", "Connection", "Keep-Alive"]);
        assert_eq!(
            head.bytes(),
            b"201 Created\r\nContent-Type: text/plain\r\ncontent-length:  12 \r\n\
              CONTENT-LENGTH: 12\r\nDATE: mine\r\nX-Latin: caf\xe9\r\n"
        );
        // Only the first Connection header counts (as `Headers::get`).
        let head = AppHead::from_parts("200 OK", [("Connection", "x"), ("Connection", "close")]);
        assert!(!head.unwrap().app_close);
        // Content-Length errors are those of `Headers`, first one kept.
        for bad in [
            &[("Content-Length", "1"), ("Content-Length", "2")][..],
            &[("Content-Length", "x"), ("Content-Length", "2")],
            &[("Content-Length", "")],
            &[("Content-Length", "-1")],
        ] {
            let head = AppHead::from_parts("200 OK", bad.iter().copied()).unwrap();
            let headers = Headers(
                bad.iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
            );
            assert!(head.content_length().is_err(), "{bad:?}");
            assert_eq!(head.content_length(), headers.content_length(), "{bad:?}");
        }
        // Bad status and headers fail as in `Status::parse`/`check_header`.
        assert!(matches!(
            AppHead::new("200OK"),
            Err(Error::InvalidStatus(_))
        ));
        assert!(matches!(
            AppHead::from_parts("200 OK", [("Bad Name", "x")]),
            Err(Error::InvalidHeader(_))
        ));
        assert!(AppHead::from_parts("200 OK", [("X", "\u{20ac}")]).is_err());
    }

    #[test]
    fn start_response_rules_and_snapshot() {
        use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
        use pyo3::types::PyTuple;
        Python::attach(|py| {
            let sr = Bound::new(py, ServerStartResponse::default()).unwrap();
            let err_of = |status: Bound<'_, PyAny>, headers: Bound<'_, PyAny>| {
                sr.call1((status, headers)).unwrap_err()
            };
            let ok = PyString::new(py, "200 OK").into_any();
            let list = PyList::empty(py).into_any();
            assert!(
                err_of(1i32.into_pyobject(py).unwrap().into_any(), list.clone())
                    .is_instance_of::<PyTypeError>(py)
            );
            assert!(err_of(PyString::new(py, "OK").into_any(), list.clone())
                .is_instance_of::<PyValueError>(py));
            let tuple = PyTuple::empty(py).into_any();
            assert!(err_of(ok.clone(), tuple).is_instance_of::<PyTypeError>(py));
            let not_pair = PyList::new(py, [("a", "b", "c")]).unwrap().into_any();
            assert!(err_of(ok.clone(), not_pair).is_instance_of::<PyTypeError>(py));
            let not_str = PyList::new(py, [(1, 2)]).unwrap().into_any();
            assert!(err_of(ok.clone(), not_str).is_instance_of::<PyTypeError>(py));
            // Nothing recorded by failed calls; then a valid one.
            assert!(sr.borrow().head().is_none());
            let headers = PyList::new(py, [("X-A", "1")]).unwrap();
            sr.call1((&ok, &headers)).unwrap();
            // The list changed afterwards: the recorded head is unchanged.
            headers.append(("X-B", "2")).unwrap();
            assert_eq!(sr.borrow().head().unwrap().bytes(), b"200 OK\r\nX-A: 1\r\n");
            // A second call without exc_info is an error, also once taken.
            assert!(sr
                .call1((&ok, &headers))
                .unwrap_err()
                .is_instance_of::<PyRuntimeError>(py));
            let err = PyValueError::new_err("boom");
            let exc = crate::wsgi::exc_info_tuple(py, &err).unwrap();
            let status500 = PyString::new(py, "500 Oops");
            sr.call1((&status500, PyList::empty(py), &exc)).unwrap();
            assert_eq!(sr.borrow().head().unwrap().code, 500);
            let head = sr.borrow_mut().take_head().unwrap();
            assert_eq!(head.code, 500);
            assert!(sr.borrow_mut().take_head().is_none());
            assert!(sr
                .call1((&ok, &headers))
                .unwrap_err()
                .is_instance_of::<PyRuntimeError>(py));
            // write() still works after the head was taken.
            let write = sr.getattr("write").unwrap();
            write.call1((PyBytes::new(py, b"x"),)).unwrap();
            // After sending, exc_info re-raises.
            let e = sr.call1((&status500, PyList::empty(py), &exc)).unwrap_err();
            assert!(e.is_instance_of::<PyValueError>(py));
        });
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, failure_persistence: None, ..Default::default() })]

        /// The fast path of `push` accepts and writes exactly what
        /// `check_header` + latin-1 would (names and values drawn from
        /// ASCII, controls, latin-1 and beyond).
        #[test]
        fn push_agrees_with_check_header(
            name in "[\\x00-\\x7f\\u{e9}]{0,6}",
            value in "[\\x00-\\x7f\\u{a0}-\\u{ff}\\u{100}\\u{20ac}]{0,8}",
        ) {
            let head = AppHead::from_parts("200 OK", [(name.as_str(), value.as_str())]);
            let expected = crate::wsgi::check_header(&name, &value);
            proptest::prop_assert_eq!(head.as_ref().err(), expected.as_ref().err());
            if let (Ok(head), false) = (head, is_hop_by_hop(&name)) {
                let mut want = b"200 OK\r\n".to_vec();
                want.extend_from_slice(name.as_bytes());
                want.extend_from_slice(b": ");
                want.extend_from_slice(&latin1_bytes(&value).unwrap());
                want.extend_from_slice(b"\r\n");
                proptest::prop_assert_eq!(head.bytes(), &want[..]);
            }
        }
    }
}
