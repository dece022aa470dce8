//! PEP 3333 values shared by the server and the middleware.
//!
//! Both sides of rswsgi speak WSGI: the dev server is the *server side* of
//! PEP 3333 and every middleware is a server to the app it wraps. The rules
//! they share live here, once:
//!
//! - [`Status`]: the status string given to `start_response` ("The
//!   start_response() Callable").
//! - [`Headers`]: the response header list, checked for `(str, str)` pairs of
//!   latin-1 text with token names (PEP 3333 "Unicode Issues", RFC 9110 §5).
//! - [`ResponseStart`]: the `start_response` state machine including the
//!   `exc_info` rules (PEP 3333 "Error Handling").
//! - [`MediaType`]: `Content-Type` parsing (RFC 9110 §8.3.1).
//! - [`AppIter`]: the application iterable, whose `close()` is called exactly
//!   once in every path (PEP 3333 "Specification Details").
//! - latin-1 helpers for the "native string" rule.

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyIterator, PyList, PyString, PyTuple};

use crate::errors::Error;

// ---------------------------------------------------------------------------
// latin-1 "native strings"
// ---------------------------------------------------------------------------

/// Encodes `s` as latin-1 (ISO-8859-1), PEP 3333's rule for native strings
/// that carry bytes. `None` when a character is above U+00FF.
#[must_use]
pub fn latin1_bytes(s: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
    if s.is_ascii() {
        return Some(std::borrow::Cow::Borrowed(s.as_bytes()));
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .map(std::borrow::Cow::Owned)
}

/// Decodes bytes as latin-1 into a Rust string (every byte is one char).
#[must_use]
pub fn latin1_string(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// PEP 3333 ("Unicode Issues") gives `PATH_INFO` as one code point per byte
/// (latin-1); routes, params and log lines want UTF-8 text. Returns the
/// request's bytes as UTF-8: borrowed when `raw` is ASCII (the common case,
/// no copy), transcoded otherwise. `None` when the bytes are not UTF-8 or
/// `raw` holds a code point above U+00FF (not a PEP 3333 string).
pub fn utf8_from_latin1(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if raw.is_ascii() {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    let bytes = latin1_bytes(raw)?.into_owned();
    String::from_utf8(bytes).ok().map(std::borrow::Cow::Owned)
}

/// Makes a Python `str` from bytes decoded as latin-1 (PEP 3333 "native
/// string"): used for `PATH_INFO`, header values and the like.
#[must_use]
pub fn latin1_pystring<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    PyString::new(py, &latin1_string(bytes))
}

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

/// A checked status line such as `"404 Not Found"`.
///
/// PEP 3333: "a string like `'200 OK'`": three digits, a space, a reason
/// phrase (RFC 9112 §4: the reason may be empty, but the space is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The status code, 100..=999.
    pub code: u16,
    /// The whole status string as given, e.g. `"200 OK"`.
    pub line: String,
}

impl Status {
    /// Checks a status string.
    ///
    /// # Errors
    /// [`Error::InvalidStatus`] unless it is three ASCII digits (first one
    /// 1-9), a space, then a reason of visible characters, spaces and tabs.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Ok(Self {
            code: status_code(s)?,
            line: s.to_owned(),
        })
    }

    /// Reads and checks a status passed from Python.
    ///
    /// # Errors
    /// `TypeError` when it is not a `str`; `ValueError` as in [`Status::parse`].
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self::parse(status_str(obj)?.to_str()?)?)
    }
}

/// Checks a status string and returns its code, without copying it.
///
/// # Errors
/// [`Error::InvalidStatus`] unless it is three ASCII digits (first one
/// 1-9), a space, then a reason of visible characters, spaces and tabs.
pub fn status_code(s: &str) -> Result<u16, Error> {
    let b = s.as_bytes();
    let ok = b.len() >= 4
        && b[0].is_ascii_digit()
        && b[0] != b'0'
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b' '
        && s[4..]
            .chars()
            .all(|c| c == '\t' || (c >= ' ' && c != '\x7f' && (c as u32) <= 0xFF));
    if !ok {
        return Err(Error::InvalidStatus(s.to_owned()));
    }
    Ok(u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0'))
}

/// The status argument of `start_response` as a `str` (not yet checked).
///
/// # Errors
/// `TypeError` when it is not a `str`.
pub fn status_str<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyString>> {
    obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "status must be a str such as '200 OK' (PEP 3333), not {}",
            type_name(obj)
        ))
    })
}

// ---------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------

/// The response headers handed to `start_response`: checked `(name, value)`
/// pairs, in order, names as given (case is kept; lookups ignore it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

/// Header names that describe one connection, not the message (RFC 9110
/// §7.6.1); PEP 3333 forbids applications to send them.
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `true` for a hop-by-hop header name (RFC 9110 §7.6.1), any case.
#[must_use]
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// `true` for an RFC 9110 §5.6.2 token character.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// [`is_tchar`] for every byte, as a table (one load per byte).
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = is_tchar(b as u8);
        b += 1;
    }
    t
};

/// `true` when `name` is a non-empty RFC 9110 token (a valid field name).
#[must_use]
pub fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| TCHAR[usize::from(b)])
}

/// Checks one header pair: a token name and a latin-1 value with no control
/// characters but HTAB (RFC 9110 §5.5 field-value).
///
/// # Errors
/// [`Error::InvalidHeader`] naming the header and what is wrong with it.
pub fn check_header(name: &str, value: &str) -> Result<(), Error> {
    if !is_token(name) {
        return Err(Error::InvalidHeader(format!(
            "name {name:?} is not an RFC 9110 token"
        )));
    }
    // Visible ASCII, space and tab (nearly every value): nothing to report.
    if value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
    {
        return Ok(());
    }
    if let Some(c) = value
        .chars()
        .find(|&c| (c < ' ' && c != '\t') || c == '\x7f' || (c as u32) > 0xFF)
    {
        return Err(Error::InvalidHeader(format!(
            "{name}: value {value:?} contains {c:?} (latin-1 text without control characters, PEP 3333)"
        )));
    }
    Ok(())
}

impl Headers {
    /// Reads and checks a header list passed to `start_response`.
    ///
    /// PEP 3333: `response_headers` is a `list` of `(header_name,
    /// header_value)` tuples of `str`.
    ///
    /// # Errors
    /// `TypeError` when it is not a list of 2-tuples of `str`; `ValueError`
    /// ([`Error::InvalidHeader`]) for a bad name or value.
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let list = header_list(obj)?;
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            let (name, value) = header_item(&item)?;
            let (name, value) = (name.to_str()?, value.to_str()?);
            check_header(name, value)?;
            out.push((name.to_owned(), value.to_owned()));
        }
        Ok(Self(out))
    }

    /// The headers as a new Python list of `(str, str)` tuples.
    pub fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.0.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    /// The first value of `name`, compared case-insensitively.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `true` when a header called `name` (any case) is present.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every header called `name` (any case).
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replaces every header called `name` by one `name: value` at the end.
    pub fn set(&mut self, name: &str, value: String) {
        self.remove(name);
        self.0.push((name.to_owned(), value));
    }

    /// The declared `Content-Length` in bytes, when there is exactly one
    /// value and it is a decimal number (RFC 9110 §8.6).
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a non-numeric or repeated-and-different value.
    pub fn content_length(&self) -> Result<Option<u64>, Error> {
        let mut found: Option<u64> = None;
        for (n, v) in &self.0 {
            if n.eq_ignore_ascii_case("content-length") {
                found = Some(next_content_length(found, v)?);
            }
        }
        Ok(found)
    }

    /// Appends `Name: value\r\n` for each header to `out`, latin-1 encoded
    /// (RFC 9112 §5; values were checked to fit latin-1).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for (n, v) in &self.0 {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            match latin1_bytes(v) {
                Some(b) => out.extend_from_slice(&b),
                None => out.extend_from_slice(v.as_bytes()),
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The `response_headers` argument of `start_response` as a list (its
/// items not yet checked).
///
/// # Errors
/// `TypeError` when it is not a `list`.
pub fn header_list<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyList>> {
    obj.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "response_headers must be a list of (str, str) tuples (PEP 3333), not {}",
            type_name(obj)
        ))
    })
}

/// One item of a `response_headers` list as its `(name, value)` strings
/// (their text not yet checked: see [`check_header`]).
///
/// # Errors
/// `TypeError` unless it is a 2-tuple of `str`.
pub fn header_item<'py>(
    item: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyString>)> {
    let pair = item
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2)
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "each response header must be a (name, value) tuple, not {}",
                repr_or_type(item)
            ))
        })?;
    let name = pair.get_item(0)?;
    let value = pair.get_item(1)?;
    match (name.cast_into::<PyString>(), value.cast_into::<PyString>()) {
        (Ok(name), Ok(value)) => Ok((name, value)),
        _ => Err(PyTypeError::new_err(format!(
            "response header name and value must be str, got {}",
            repr_or_type(item)
        ))),
    }
}

/// Folds one more `Content-Length` value `v` into `found` (the value seen
/// so far, if any): RFC 9110 §8.6, a decimal number, repeated only with the
/// same value.
///
/// # Errors
/// [`Error::InvalidHeader`] for a non-numeric value or a different repeat.
pub fn next_content_length(found: Option<u64>, v: &str) -> Result<u64, Error> {
    let t = v.trim();
    let parsed = (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            Error::InvalidHeader(format!("Content-Length: {v:?} is not a number of bytes"))
        })?;
    if found.is_some_and(|f| f != parsed) {
        return Err(Error::InvalidHeader(
            "two different Content-Length values".to_owned(),
        ));
    }
    Ok(parsed)
}

// ---------------------------------------------------------------------------
// start_response and exc_info
// ---------------------------------------------------------------------------

/// The state behind one request's `start_response` (PEP 3333 "The
/// start_response() Callable" and "Error Handling").
///
/// - First call: status and headers are recorded, not sent.
/// - A second call needs `exc_info`; if the head was already sent, the
///   exception in `exc_info` is re-raised, else the recorded head is replaced.
/// - [`ResponseStart::mark_sent`] is called by whoever sends the head (the
///   server when it writes it, a middleware when it passes it on).
#[derive(Debug, Default)]
pub struct ResponseStart {
    head: Option<(Status, Headers)>,
    sent: bool,
}

impl ResponseStart {
    /// Handles one `start_response(status, response_headers, exc_info=None)`
    /// call.
    ///
    /// # Errors
    /// Re-raises `exc_info`'s exception when the head was already sent;
    /// `RuntimeError` for a second call without `exc_info`; `TypeError`/
    /// `ValueError` for a bad status or header list.
    pub fn start(
        &mut self,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        check_restart(exc_info, self.head.is_some(), self.sent)?;
        let status = Status::from_py(status)?;
        let headers = Headers::from_py(headers)?;
        self.head = Some((status, headers));
        Ok(())
    }

    /// The recorded status and headers, if `start_response` was called.
    #[must_use]
    pub fn head(&self) -> Option<&(Status, Headers)> {
        self.head.as_ref()
    }

    /// Mutable access to the recorded head, for a middleware that edits it.
    pub fn head_mut(&mut self) -> Option<&mut (Status, Headers)> {
        self.head.as_mut()
    }

    /// `true` once the head has been passed on / written.
    #[must_use]
    pub fn is_sent(&self) -> bool {
        self.sent
    }

    /// Records that the head has been passed on; a later `exc_info` call
    /// then re-raises.
    pub fn mark_sent(&mut self) {
        self.sent = true;
    }
}

/// The gate every `start_response` passes before it records a head (PEP 3333
/// "Error Handling"): with `exc_info` after the head was sent, re-raises
/// that exception; without `exc_info` after an earlier call, refuses; else
/// lets the call record (or replace) the head. `called`: a head was recorded
/// before; `sent`: it has gone to the client (or to the next server out).
///
/// # Errors
/// The exception in `exc_info`, or `RuntimeError` ([`Error::StartResponseTwice`]).
pub fn check_restart(
    exc_info: Option<&Bound<'_, PyAny>>,
    called: bool,
    sent: bool,
) -> PyResult<()> {
    match exc_info.filter(|e| !e.is_none()) {
        Some(e) if sent => Err(reraise(e)),
        None if called => Err(Error::StartResponseTwice.into()),
        _ => Ok(()),
    }
}

/// Turns an `exc_info` triple `(type, value, traceback)` back into the
/// exception it describes, with its traceback, for re-raising
/// (PEP 3333: "`raise exc_info[1].with_traceback(exc_info[2])`").
pub fn reraise(exc_info: &Bound<'_, PyAny>) -> PyErr {
    let value = match exc_info.get_item(1) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if let Ok(tb) = exc_info.get_item(2) {
        if !tb.is_none() {
            if let Err(e) = value.call_method1(intern!(value.py(), "with_traceback"), (tb,)) {
                return e;
            }
        }
    }
    PyErr::from_value(value)
}

/// The current exception as an `exc_info` tuple `(type, value, traceback)`,
/// as `sys.exc_info()` would give inside an `except` block.
pub fn exc_info_tuple<'py>(py: Python<'py>, err: &PyErr) -> PyResult<Bound<'py, PyTuple>> {
    let value = err.value(py);
    let tb = err.traceback(py);
    PyTuple::new(
        py,
        [
            err.get_type(py).into_any(),
            value.clone().into_any(),
            tb.map_or_else(|| py.None().into_bound(py), Bound::into_any),
        ],
    )
}

// ---------------------------------------------------------------------------
// Media types
// ---------------------------------------------------------------------------

/// A parsed `Content-Type` value (RFC 9110 §8.3.1): `type/subtype` in lower
/// case, and its `charset` parameter if any (unquoted, lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower-cased, e.g. `text/plain`.
    pub essence: String,
    /// The `charset` parameter's value, lower-cased, without quotes.
    pub charset: Option<String>,
}

impl MediaType {
    /// Parses a `Content-Type` value; `None` when there is no `type/subtype`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        let (t, s) = essence.split_once('/')?;
        if !is_token(t) || !is_token(s) {
            return None;
        }
        let charset = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
        });
        Some(Self { essence, charset })
    }

    /// `true` when the essence is exactly `essence` (given in lower case).
    #[must_use]
    pub fn is(&self, essence: &str) -> bool {
        self.essence == essence
    }
}

// ---------------------------------------------------------------------------
// The application iterable
// ---------------------------------------------------------------------------

/// The iterable an application returned, with its `close()` called exactly
/// once: by [`AppIter::close`], or on drop if nobody did (PEP 3333: "If the
/// iterable returned by the application has a close() method, the server or
/// gateway must call that method upon completion of the current request,
/// whether the request was completed normally, or terminated early due to an
/// application error during iteration or an early disconnect").
#[derive(Debug)]
pub struct AppIter {
    iterable: Py<PyAny>,
    iter: Option<Py<PyIterator>>,
    closed: bool,
}

impl AppIter {
    /// Wraps what the application returned. Nothing is iterated yet.
    #[must_use]
    pub fn new(iterable: Bound<'_, PyAny>) -> Self {
        Self {
            iterable: iterable.unbind(),
            iter: None,
            closed: false,
        }
    }

    /// The iterable as returned by the application.
    #[must_use]
    pub fn iterable<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.iterable.bind(py)
    }

    /// The next body chunk, or `None` at the end (or after close).
    ///
    /// # Errors
    /// What the application's iterator raised; `TypeError` for a chunk that
    /// is not `bytes` (PEP 3333 "Unicode Issues").
    pub fn next<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if self.closed {
            return Ok(None);
        }
        let iter = if let Some(it) = &self.iter {
            it.bind(py).clone()
        } else {
            let it = self.iterable.bind(py).try_iter()?;
            self.iter = Some(it.clone().unbind());
            it
        };
        match iter.into_iter().next() {
            None => Ok(None),
            Some(Err(e)) => Err(e),
            Some(Ok(chunk)) => match chunk.cast_into::<PyBytes>() {
                Ok(b) => Ok(Some(b)),
                Err(e) => Err(Error::BodyNotBytes(type_name(e.into_inner().as_any())).into()),
            },
        }
    }

    /// Calls the iterable's `close()` if it has one, the first time only.
    ///
    /// # Errors
    /// What `close()` raised.
    pub fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        if std::mem::replace(&mut self.closed, true) {
            return Ok(());
        }
        self.iter = None;
        let it = self.iterable.bind(py);
        if it.is_instance_of::<PyList>() || it.is_instance_of::<PyTuple>() {
            return Ok(());
        }
        match it.getattr_opt(intern!(py, "close"))? {
            Some(close) => close.call0().map(drop),
            None => Ok(()),
        }
    }

    /// `true` once `close()` has been called (or skipped for an iterable
    /// without one).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Visits the held Python objects for the cycle collector.
    ///
    /// # Errors
    /// What the visitor returns.
    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.iterable)?;
        if let Some(it) = &self.iter {
            visit.call(it)?;
        }
        Ok(())
    }
}

impl Drop for AppIter {
    fn drop(&mut self) {
        if !self.closed {
            Python::attach(|py| {
                if let Err(e) = self.close(py) {
                    e.write_unraisable(py, Some(self.iterable.bind(py)));
                }
            });
        }
    }
}

// ---------------------------------------------------------------------------
// small helpers
// ---------------------------------------------------------------------------

/// The Python type name of `obj`, for error messages.
#[must_use]
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// `repr(obj)`, or `<TYPE object>` when `repr` fails, for error messages.
#[must_use]
pub fn repr_or_type(obj: &Bound<'_, PyAny>) -> String {
    obj.repr().map_or_else(
        |_| format!("<{} object>", type_name(obj)),
        |r| r.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyDict;

    #[test]
    fn status_parse() {
        for (s, code) in [
            ("200 OK", 200),
            ("404 Not Found", 404),
            ("599 ", 599),
            ("204 No\tContent", 204),
        ] {
            assert_eq!(Status::parse(s).map(|s| s.code), Ok(code), "{s}");
        }
        for bad in [
            "200",
            "200OK",
            "20 OK",
            "2000 OK",
            "abc OK",
            "099 Low",
            "200 OK\r\nX: y",
            "",
            "２00 OK",
        ] {
            assert!(
                matches!(Status::parse(bad), Err(Error::InvalidStatus(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_checks() {
        assert!(check_header("Content-Type", "text/plain; charset=utf-8").is_ok());
        assert!(check_header("X-Latin", "caf\u{e9}").is_ok());
        assert!(check_header("X-Tab", "a\tb").is_ok());
        for (n, v) in [
            ("", "x"),
            ("Bad Name", "x"),
            ("X:y", "x"),
            ("X", "a\r\nInjected: 1"),
            ("X", "a\0"),
            ("X", "\u{20ac}"),
        ] {
            assert!(check_header(n, v).is_err(), "{n:?}: {v:?}");
        }
        assert!(is_hop_by_hop("Transfer-Encoding") && is_hop_by_hop("connection"));
        assert!(!is_hop_by_hop("Content-Length"));
    }

    #[test]
    fn headers_ops_and_content_length() {
        let mut h = Headers(vec![
            ("Content-Type".into(), "text/plain".into()),
            ("content-length".into(), "12".into()),
        ]);
        assert_eq!(h.get("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(h.content_length(), Ok(Some(12)));
        h.set("Content-Length", "3".into());
        assert_eq!(h.0.len(), 2);
        assert_eq!(h.content_length(), Ok(Some(3)));
        h.0.push(("Content-Length".into(), "4".into()));
        assert!(h.content_length().is_err());
        h.remove("content-length");
        assert_eq!(h.content_length(), Ok(None));
        h.0.push(("Content-Length".into(), "-1".into()));
        assert!(h.content_length().is_err());
        let mut out = Vec::new();
        Headers(vec![("X".into(), "caf\u{e9}".into())]).write_to(&mut out);
        assert_eq!(out, b"X: caf\xe9\r\n");
    }

    #[test]
    fn headers_from_py() {
        Python::attach(|py| {
            let ok = PyList::new(py, [("A", "1"), ("B", "2")]).unwrap();
            assert_eq!(Headers::from_py(ok.as_any()).unwrap().0.len(), 2);
            let tuple = PyTuple::new(py, [("A", "1")]).unwrap();
            assert!(Headers::from_py(tuple.as_any())
                .unwrap_err()
                .is_instance_of::<PyTypeError>(py));
            let not_str = PyList::new(py, [(1, 2)]).unwrap();
            assert!(Headers::from_py(not_str.as_any()).is_err());
            let bad = PyList::new(py, [("A", "x\ny")]).unwrap();
            assert!(Headers::from_py(bad.as_any()).is_err());
        });
    }

    #[test]
    fn start_response_exc_info_rules() {
        Python::attach(|py| {
            let status = PyString::new(py, "200 OK");
            let err_status = PyString::new(py, "500 Internal Server Error");
            let headers = PyList::empty(py);
            let mut rs = ResponseStart::default();
            rs.start(status.as_any(), headers.as_any(), None).unwrap();
            // A second call without exc_info is an error.
            assert!(rs.start(status.as_any(), headers.as_any(), None).is_err());
            // With exc_info before sending: replaces the head.
            let err = pyo3::exceptions::PyValueError::new_err("boom");
            let exc = exc_info_tuple(py, &err).unwrap();
            rs.start(err_status.as_any(), headers.as_any(), Some(exc.as_any()))
                .unwrap();
            assert_eq!(rs.head().unwrap().0.code, 500);
            // After sending: re-raises the given exception.
            rs.mark_sent();
            let e = rs
                .start(err_status.as_any(), headers.as_any(), Some(exc.as_any()))
                .unwrap_err();
            assert!(e.is_instance_of::<pyo3::exceptions::PyValueError>(py));
            assert_eq!(e.value(py).to_string(), "boom");
        });
    }

    #[test]
    fn media_type_parse() {
        let m = MediaType::parse("Text/Plain; Charset=\"UTF-8\"").unwrap();
        assert!(m.is("text/plain"));
        assert_eq!(m.charset.as_deref(), Some("utf-8"));
        assert_eq!(MediaType::parse("text/plain").unwrap().charset, None);
        assert!(!MediaType::parse("text/plainx").unwrap().is("text/plain"));
        assert!(MediaType::parse("garbage").is_none());
        assert!(MediaType::parse("").is_none());
    }

    #[test]
    fn decodes_pep3333_paths() {
        // (PATH_INFO as the server gives it, what routes see)
        let cases = [
            ("/plain", Some("/plain")),
            ("/caf\u{c3}\u{a9}", Some("/caf\u{e9}")),
            ("/\u{f0}\u{9f}\u{91}\u{8d}", Some("/\u{1f44d}")),
            ("/caf\u{e9}", None), // byte 0xE9 alone: not UTF-8
            ("/\u{c3}", None),    // truncated sequence
            ("/\u{1f44d}", None), // above U+00FF: not a PEP 3333 str
        ];
        for (raw, want) in cases {
            assert_eq!(utf8_from_latin1(raw).as_deref(), want, "{raw:?}");
        }
        assert!(matches!(
            utf8_from_latin1("/x"),
            Some(std::borrow::Cow::Borrowed(_))
        ));
    }

    #[test]
    fn latin1_roundtrip() {
        assert_eq!(latin1_bytes("abc").unwrap().as_ref(), b"abc");
        assert_eq!(latin1_bytes("caf\u{e9}").unwrap().as_ref(), b"caf\xe9");
        assert!(latin1_bytes("\u{20ac}").is_none());
        assert_eq!(latin1_string(b"caf\xc3\xa9"), "caf\u{c3}\u{a9}");
    }

    #[test]
    fn app_iter_closes_exactly_once() {
        Python::attach(|py| {
            let ns = PyDict::new(py);
            py.run(
                c"class It:\n    closes = 0\n    def __init__(self): self.items = iter([b'a', b'b'])\n    def __iter__(self): return self\n    def __next__(self): return next(self.items)\n    def close(self): It.closes += 1\n",
                Some(&ns),
                None,
            )
            .unwrap();
            let cls = ns.get_item("It").unwrap().unwrap();
            let mut it = AppIter::new(cls.call0().unwrap());
            assert_eq!(it.next(py).unwrap().unwrap().as_bytes(), b"a");
            it.close(py).unwrap();
            it.close(py).unwrap();
            assert!(it.next(py).unwrap().is_none());
            drop(it);
            assert_eq!(cls.getattr("closes").unwrap().extract::<i32>().unwrap(), 1);
            // Dropped without close(): closed by Drop.
            let it = AppIter::new(cls.call0().unwrap());
            drop(it);
            assert_eq!(cls.getattr("closes").unwrap().extract::<i32>().unwrap(), 2);
            // A str chunk is a TypeError.
            let mut it = AppIter::new(PyList::new(py, ["text"]).unwrap().into_any());
            assert!(it.next(py).unwrap_err().is_instance_of::<PyTypeError>(py));
        });
    }
}
