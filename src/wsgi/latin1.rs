//! PEP 3333 "native strings" ("Unicode Issues"): `str` values that carry
//! bytes one per code point (latin-1), and the UTF-8 text a person or a
//! route reads from them.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::PyString;

/// Encodes `s` as latin-1 (ISO-8859-1), PEP 3333's rule for native strings
/// that carry bytes. `None` when a character is above U+00FF.
#[must_use]
pub(crate) fn latin1_bytes(s: &str) -> Option<Cow<'_, [u8]>> {
    if s.is_ascii() {
        return Some(Cow::Borrowed(s.as_bytes()));
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Cow::Owned)
}

/// Decodes bytes as latin-1 into a Rust string (every byte is one char).
#[must_use]
pub(crate) fn latin1_string(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// PEP 3333 ("Unicode Issues") gives `PATH_INFO` as one code point per byte
/// (latin-1); routes, params and log lines want UTF-8 text. Returns the
/// request's bytes as UTF-8: borrowed when `raw` is ASCII (the common case,
/// no copy), transcoded otherwise. `None` when the bytes are not UTF-8 or
/// `raw` holds a code point above U+00FF (not a PEP 3333 string).
pub(crate) fn utf8_from_latin1(raw: &str) -> Option<Cow<'_, str>> {
    if raw.is_ascii() {
        return Some(Cow::Borrowed(raw));
    }
    let bytes = latin1_bytes(raw)?.into_owned();
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

/// Makes a Python `str` from bytes decoded as latin-1 (PEP 3333 "native
/// string"): used for `PATH_INFO`, header values and the like.
#[must_use]
pub(crate) fn latin1_pystring<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    PyString::new(py, &latin1_string(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(utf8_from_latin1("/x"), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn latin1_roundtrip() {
        assert_eq!(latin1_bytes("abc").unwrap().as_ref(), b"abc");
        assert_eq!(latin1_bytes("caf\u{e9}").unwrap().as_ref(), b"caf\xe9");
        assert!(latin1_bytes("\u{20ac}").is_none());
        assert_eq!(latin1_string(b"caf\xc3\xa9"), "caf\u{c3}\u{a9}");
    }
}
