//! `wrap_query_params`: the query string parsed exactly as
//! `urllib.parse.parse_qs` parses it.
//!
//! CPython's `parse_qsl` (3.9-3.13, `Lib/urllib/parse.py`) with the
//! defaults that `parse_qs` passes, for a `str`:
//!
//! 1. split on `&` only; empty fields are skipped;
//! 2. split each field at its first `=`; a field without `=` counts as a
//!    blank value with `keep_blank_values`, else it is dropped, and so is a
//!    field whose raw value is empty;
//! 3. `+` becomes a space, then `unquote(errors='replace')`: each maximal
//!    ASCII run is percent-decoded to bytes (`%` plus two hex digits of
//!    either case; any other `%` stays) and decoded as UTF-8 with U+FFFD
//!    per maximal invalid subpart; non-ASCII characters stay as they are.
//!
//! `url::form_urlencoded::parse` over the string's UTF-8 bytes gives the same
//! pairs: it splits on `&` and the first `=`, skips empty fields, replaces
//! `+`, percent-decodes, then decodes with `String::from_utf8_lossy`, which
//! also substitutes maximal subparts (Unicode §3.9). Decoding the whole
//! field instead of each ASCII run changes nothing, because a non-ASCII
//! character's UTF-8 bytes start with a lead byte, which ends any invalid
//! subpart before it and is never absorbed by one. Blank values are dropped
//! after decoding, which is equivalent because a non-empty raw value never
//! decodes to an empty string.
//!
//! Inputs Rust cannot read as UTF-8 (a `str` with lone surrogates, or a
//! `QUERY_STRING` that is not a `str` at all) go to `parse_qs` itself, so
//! the result equals it for every input.

use std::borrow::Cow;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use url::form_urlencoded;

use super::glue::{bool_arg, middleware_class, Call, Middleware, Options};
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::repr_or_type;

/// The `(name, value)` pairs of `urllib.parse.parse_qsl(qs,
/// keep_blank_values)`, in order, borrowed from `qs` where nothing was
/// decoded.
pub fn parse_qsl(
    qs: &str,
    keep_blank_values: bool,
) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(qs.as_bytes()).filter(move |(_, v)| keep_blank_values || !v.is_empty())
}

/// `urllib.parse.parse_qs(qs, keep_blank_values)` as a new
/// `dict[str, list[str]]` (names in order of first appearance).
///
/// # Errors
/// Only what CPython raises (e.g. `MemoryError`); for a `qs` that is not a
/// `str` of valid Unicode, what `parse_qs` raises.
pub(crate) fn parse_qs<'py>(
    qs: &Bound<'py, PyAny>,
    keep_blank_values: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let py = qs.py();
    let Some(text) = qs.cast::<PyString>().ok().and_then(|s| s.to_str().ok()) else {
        static PARSE_QS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "keep_blank_values"), keep_blank_values)?;
        return PARSE_QS
            .import(py, "urllib.parse", "parse_qs")?
            .call((qs,), Some(&kwargs));
    };
    let dict = PyDict::new(py);
    for (name, value) in parse_qsl(text, keep_blank_values) {
        let name = PyString::new(py, &name);
        let value = PyString::new(py, &value);
        match dict.get_item(&name)? {
            Some(values) => values.cast_into::<PyList>()?.append(value)?,
            None => dict.set_item(name, PyList::new(py, [value])?)?,
        }
    }
    Ok(dict.into_any())
}

/// WSGI middleware:
/// `wrap_query_params(app, *, keep_blank_values=False, key='rswsgi.query_params')`.
///
/// Sets `environ[key]` to a new `dict[str, list[str]]` equal to
/// `urllib.parse.parse_qs(environ.get('QUERY_STRING', ''),
/// keep_blank_values=keep_blank_values)` for every input, then returns
/// `app(environ, start_response)` unchanged. The default key is dotted, as
/// PEP 3333 "Specification Details" asks of extension keys
/// (`wsgiref.validate` rejects a non-`str` value under a dotless key);
/// `key='QUERY_PARAMS'` gives the name the seed article used.
///
/// Raises `TypeError` when `app` is not callable, and `ValueError` naming
/// the argument when `keep_blank_values` is not a bool or `key` is not a str.
/// Usable as a decorator: `@wrap_query_params`.
#[pyclass(module = "rswsgi._rswsgi", name = "wrap_query_params", frozen)]
pub(crate) struct WrapQueryParams {
    app: Py<PyAny>,
    vectorcall: vectorcall::Slot<Self>,
    keep_blank_values: bool,
    key: Py<PyString>,
}

middleware_class!(
    WrapQueryParams,
    "wrap_query_params",
    new(app, *, keep_blank_values, key),
    text_signature = "(app, *, keep_blank_values=False, key='rswsgi.query_params')"
);

impl WrapQueryParams {
    fn build(app: Bound<'_, PyAny>, [keep_blank, key]: Options<'_, 2>) -> PyResult<Self> {
        let py = app.py();
        let keep_blank_values = bool_arg("keep_blank_values", keep_blank)?;
        let key = match key {
            None => PyString::intern(py, "rswsgi.query_params"),
            Some(k) => k.cast_into::<PyString>().map_err(|e| Error::BadArgument {
                name: "key",
                value: repr_or_type(e.into_inner().as_any()),
                why: "must be a str (an environ key)",
            })?,
        };
        Ok(Self {
            app: app.unbind(),
            vectorcall: vectorcall::Slot::default(),
            keep_blank_values,
            key: key.unbind(),
        })
    }
}

impl Middleware for WrapQueryParams {
    fn call<'py>(&self, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
        let environ = call.environ;
        let py = environ.py();
        let params = match environ.get_item(intern!(py, "QUERY_STRING")) {
            Ok(qs) => parse_qs(&qs, self.keep_blank_values)?,
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyError>(py) => {
                PyDict::new(py).into_any()
            }
            Err(e) => return Err(e),
        };
        environ.set_item(self.key.bind(py), params)?;
        // Nothing to do on the way out: the app's iterable goes back as it
        // is, so its close() reaches the server untouched and costs nothing.
        call.pass_on()
    }

    fn repr_options(&self, py: Python<'_>) -> String {
        format!(
            ", keep_blank_values={}, key={}",
            if self.keep_blank_values {
                "True"
            } else {
                "False"
            },
            repr_or_type(self.key.bind(py).as_any())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs = Vec<(String, String)>;
    /// `(qs, parse_qsl(qs), parse_qsl(qs, keep_blank_values=True))`.
    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);

    fn pairs(qs: &str, keep: bool) -> Pairs {
        parse_qsl(qs, keep)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn p(items: &[(&str, &str)]) -> Pairs {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Outputs of CPython 3.11 `urllib.parse.parse_qsl(qs, keep_blank_values)`.
    #[test]
    fn matches_parse_qsl() {
        let table: &[Row<'_>] = &[
            // (qs, keep_blank_values=False, keep_blank_values=True)
            ("", &[], &[]),
            ("&", &[], &[]),
            ("=", &[], &[("", "")]),
            ("a", &[], &[("a", "")]),
            ("a=", &[], &[("a", "")]),
            ("=b", &[("", "b")], &[("", "b")]),
            (
                "a=1&a=2&b=3",
                &[("a", "1"), ("a", "2"), ("b", "3")],
                &[("a", "1"), ("a", "2"), ("b", "3")],
            ),
            ("a=b=c", &[("a", "b=c")], &[("a", "b=c")]),
            ("a=1;b=2", &[("a", "1;b=2")], &[("a", "1;b=2")]),
            ("a+b=c+d", &[("a b", "c d")], &[("a b", "c d")]),
            ("%2B=%2b", &[("+", "+")], &[("+", "+")]),
            ("a=%", &[("a", "%")], &[("a", "%")]),
            ("a=%4", &[("a", "%4")], &[("a", "%4")]),
            ("a=%zz%41", &[("a", "%zzA")], &[("a", "%zzA")]),
            ("a=%C3%A9", &[("a", "\u{e9}")], &[("a", "\u{e9}")]),
            ("a=%C3", &[("a", "\u{fffd}")], &[("a", "\u{fffd}")]),
            (
                "a=%ff%fe",
                &[("a", "\u{fffd}\u{fffd}")],
                &[("a", "\u{fffd}\u{fffd}")],
            ),
            // Maximal subparts: E2 82 is one invalid subpart, then 'x'.
            ("a=%E2%82x", &[("a", "\u{fffd}x")], &[("a", "\u{fffd}x")]),
            // A surrogate's encoding is three invalid bytes.
            (
                "a=%ED%A0%80",
                &[("a", "\u{fffd}\u{fffd}\u{fffd}")],
                &[("a", "\u{fffd}\u{fffd}\u{fffd}")],
            ),
            // Unescaped non-ASCII text stays; it also ends an invalid subpart.
            (
                "\u{e9}=%C3\u{e9}",
                &[("\u{e9}", "\u{fffd}\u{e9}")],
                &[("\u{e9}", "\u{fffd}\u{e9}")],
            ),
            ("a=1&&b", &[("a", "1")], &[("a", "1"), ("b", "")]),
        ];
        for (qs, dropped, kept) in table {
            assert_eq!(
                pairs(qs, false),
                p(dropped),
                "{qs:?} keep_blank_values=False"
            );
            assert_eq!(pairs(qs, true), p(kept), "{qs:?} keep_blank_values=True");
        }
    }

    #[test]
    fn dict_groups_in_first_seen_order() {
        Python::attach(|py| {
            let qs = PyString::new(py, "b=1&a=2&b=3&c");
            let d = parse_qs(qs.as_any(), false).unwrap();
            assert_eq!(
                d.repr().unwrap().to_str().unwrap(),
                "{'b': ['1', '3'], 'a': ['2']}"
            );
            // Not a str: parse_qs itself answers (bytes in, bytes out).
            let b = pyo3::types::PyBytes::new(py, b"x=1");
            let d = parse_qs(b.as_any(), true).unwrap();
            assert_eq!(d.repr().unwrap().to_str().unwrap(), "{b'x': [b'1']}");
        });
    }
}
