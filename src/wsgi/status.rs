//! The status string given to `start_response` (PEP 3333 "The
//! start_response() Callable"; RFC 9112 §4 status-line).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::type_name;
use crate::errors::Error;

#[cfg(test)]
/// A checked status line such as `"404 Not Found"`.
///
/// PEP 3333: "a string like `'200 OK'`": three digits, a space, a reason
/// phrase (RFC 9112 §4: the reason may be empty, but the space is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    /// The status code, 100..=999.
    pub(crate) code: u16,
    /// The whole status string as given, e.g. `"200 OK"`.
    pub(crate) line: String,
}

#[cfg(test)]
impl Status {
    /// Checks a status string.
    ///
    /// # Errors
    /// [`Error::InvalidStatus`] unless it is three ASCII digits (first one
    /// 1-9), a space, then a reason of visible characters, spaces and tabs.
    pub(crate) fn parse(s: &str) -> Result<Self, Error> {
        Ok(Self {
            code: status_code(s)?,
            line: s.to_owned(),
        })
    }
}

/// The code of a status string: its first three bytes as a number, when
/// they are ASCII digits and the first is 1-9 (PEP 3333 "The
/// start_response() Callable", RFC 9110 §15: a status code is three digits,
/// 100-999). The rest of the string is not looked at: [`status_code`] checks
/// the whole line. The one place status digits are read.
#[must_use]
pub(crate) fn status_digits(s: &str) -> Option<u16> {
    match *s.as_bytes() {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// Checks a status string and returns its code, without copying it.
///
/// # Errors
/// [`Error::InvalidStatus`] unless it is three ASCII digits (first one
/// 1-9), a space, then a reason of visible characters, spaces and tabs.
pub(crate) fn status_code(s: &str) -> Result<u16, Error> {
    let reason_ok = |r: &str| {
        r.chars()
            .all(|c| c == '\t' || (c >= ' ' && c != '\x7f' && (c as u32) <= 0xFF))
    };
    match (status_digits(s), s.get(3..4), s.get(4..)) {
        (Some(code), Some(" "), Some(reason)) if reason_ok(reason) => Ok(code),
        _ => Err(Error::InvalidStatus(s.to_owned())),
    }
}

/// The status argument of `start_response` as a `str` (not yet checked).
///
/// # Errors
/// `TypeError` when it is not a `str`.
pub(crate) fn status_str<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, PyString>> {
    obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "status must be a str such as '200 OK' (PEP 3333), not {}",
            type_name(obj)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_digits_read_the_code_only() {
        for (s, code) in [
            ("200 OK", Some(200)),
            ("999", Some(999)),
            ("404x", Some(404)),
        ] {
            assert_eq!(status_digits(s), code, "{s:?}");
        }
        for bad in ["", "20", "099 Low", "2x0 OK", "\u{663}00 OK", " 200 OK"] {
            assert_eq!(status_digits(bad), None, "{bad:?}");
        }
    }

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
}
