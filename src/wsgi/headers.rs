//! The response header list given to `start_response` (PEP 3333 "The
//! start_response() Callable", "Unicode Issues"): `(str, str)` pairs of
//! latin-1 text with token names (RFC 9110 §5).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

#[cfg(test)]
use super::latin1_bytes;
use super::{repr_or_type, type_name};
use crate::errors::Error;

/// The response headers handed to `start_response`: checked `(name, value)`
/// pairs, in order, names as given (case is kept; lookups ignore it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Headers(pub(crate) Vec<(String, String)>);

/// Header names that describe one connection, not the message (RFC 9110
/// §7.6.1); PEP 3333 forbids applications to send them.
pub(crate) const HOP_BY_HOP: [&str; 8] = [
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
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// `true` for an RFC 9110 §5.6.2 token character.
#[must_use]
pub(crate) const fn is_tchar(b: u8) -> bool {
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
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| TCHAR[usize::from(b)])
}

/// Checks one header pair: a token name and a latin-1 value with no control
/// characters but HTAB (RFC 9110 §5.5 field-value).
///
/// # Errors
/// [`Error::InvalidHeader`] naming the header and what is wrong with it.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), Error> {
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
    #[cfg(test)]
    /// Reads and checks a header list passed to `start_response`.
    ///
    /// PEP 3333: `response_headers` is a `list` of `(header_name,
    /// header_value)` tuples of `str`.
    ///
    /// # Errors
    /// `TypeError` when it is not a list of 2-tuples of `str`; `ValueError`
    /// ([`Error::InvalidHeader`]) for a bad name or value.
    pub(crate) fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
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
    pub(crate) fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.0.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    #[cfg(test)]
    /// The first value of `name`, compared case-insensitively.
    #[must_use]
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[cfg(test)]
    /// Removes every header called `name` (any case).
    pub(crate) fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    #[cfg(test)]
    /// Replaces every header called `name` by one `name: value` at the end.
    pub(crate) fn set(&mut self, name: &str, value: String) {
        self.remove(name);
        self.0.push((name.to_owned(), value));
    }

    #[cfg(test)]
    /// The declared `Content-Length` in bytes, when there is exactly one
    /// value and it is a decimal number (RFC 9110 §8.6).
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a non-numeric or repeated-and-different value.
    pub(crate) fn content_length(&self) -> Result<Option<u64>, Error> {
        let mut found: Option<u64> = None;
        for (n, v) in &self.0 {
            if n.eq_ignore_ascii_case("content-length") {
                found = Some(next_content_length(found, v)?);
            }
        }
        Ok(found)
    }

    #[cfg(test)]
    /// Appends `Name: value\r\n` for each header to `out`, latin-1 encoded
    /// (RFC 9112 §5; values were checked to fit latin-1).
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
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
pub(crate) fn header_list<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyList>> {
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
pub(crate) fn header_item<'py>(
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
/// same value. Only SP and HTAB around it are whitespace (OWS, RFC 9110
/// §5.6.3): `str::trim` would also drop U+0085 or U+00A0, and the header,
/// sent as the app wrote it, would then frame a body that strict clients
/// refuse to read.
///
/// # Errors
/// [`Error::InvalidHeader`] for a non-numeric value or a different repeat.
pub(crate) fn next_content_length(found: Option<u64>, v: &str) -> Result<u64, Error> {
    let t = v.trim_matches([' ', '\t']);
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn content_length_whitespace_is_sp_and_htab_only() {
        // OWS (RFC 9110 §5.6.3) around the number is fine...
        for ok in ["5", " 5", "5\t", "\t 5 \t"] {
            assert_eq!(next_content_length(None, ok), Ok(5), "{ok:?}");
        }
        // ...other Unicode whitespace is not OWS: the value is not a number.
        for bad in [
            "5\u{85}",
            "5\u{a0}",
            "\u{a0}5",
            "\u{85}5",
            "5\u{2003}",
            "5\u{b}",
            "5\u{c}",
            "5\r",
            "5\n",
            "5 5",
        ] {
            let err = next_content_length(None, bad).unwrap_err();
            assert_eq!(
                err,
                Error::InvalidHeader(format!("Content-Length: {bad:?} is not a number of bytes")),
                "{bad:?}"
            );
        }
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
}
