//! URL building: a route's matchit pattern plus parameter values -> a path.
//!
//! Values are percent-encoded as RFC 3986 §3.3 `pchar`s: everything but
//! unreserved characters, sub-delims, `:` and `@` is escaped (UTF-8 bytes,
//! upper-case hex), so a request for the built path gives the app back the
//! same values. A `{param}` also escapes `/` (as `%2F`); a `{*catch_all}`
//! keeps its `/`s. Literal parts of the pattern are encoded like a catch-all.

use std::borrow::Cow;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};

use crate::errors::Error;
use crate::routing::pattern::{param_names, parts, Part};
use crate::routing::table::Table;

/// Bytes escaped in a path: all but `pchar` and `/` (RFC 3986 §3.3).
pub(crate) const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Bytes escaped in one path segment: [`PATH`] plus `/`.
const SEGMENT: &AsciiSet = &PATH.add(b'/');

/// Builds the path for `pattern`, taking each parameter's value from
/// `value`. Returns the name of the first parameter `value` lacks.
pub fn build<'p, 'v>(
    pattern: &'p str,
    mut value: impl FnMut(&str) -> Option<&'v str>,
) -> Result<String, Cow<'p, str>> {
    let mut out = String::with_capacity(pattern.len() + 16);
    for part in parts(pattern) {
        let (name, set) = match part {
            Part::Literal(text) => {
                out.extend(utf8_percent_encode(&text, PATH));
                continue;
            }
            Part::Param(name) => (name, SEGMENT),
            Part::CatchAll(name) => (name, PATH),
        };
        match value(&name) {
            Some(v) => out.extend(utf8_percent_encode(v, set)),
            None => return Err(name),
        }
    }
    Ok(out)
}

/// `str(value)` for a `str` or `int`; anything else is a `TypeError`
/// (`None` would otherwise become the text "None" in a URL).
fn param_text(key: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(value.str()?.to_str()?.to_owned());
    }
    Err(Error::ParamType {
        param: key.to_owned(),
        type_name: value.get_type().name()?.to_string(),
    }
    .into())
}

/// `Router.url_for`: the path of the route called `name`, with `params`
/// filling its `{param}`s; params the pattern does not name are appended as a
/// query string (`application/x-www-form-urlencoded`, in the order given), as
/// Flask's `url_for` does.
pub(crate) fn url_for<T>(
    table: &Table<T>,
    name: &str,
    params: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    let pattern = table
        .pattern_named(name)
        .ok_or_else(|| Error::UnknownRoute(name.to_owned()))?;
    let mut given: Vec<(String, String)> = Vec::new();
    if let Some(params) = params {
        for (k, v) in params.iter() {
            let key = k.cast::<PyString>()?.to_str()?.to_owned();
            let text = param_text(&key, &v)?;
            given.push((key, text));
        }
    }
    let mut path = build(pattern, |want| {
        given
            .iter()
            .find(|(k, _)| k == want)
            .map(|(_, v)| v.as_str())
    })
    .map_err(|missing| Error::MissingParam {
        route: name.to_owned(),
        param: missing.into_owned(),
    })?;
    let names = param_names(pattern);
    let mut extra = given
        .iter()
        .filter(|(k, _)| !names.iter().any(|n| n == k))
        .peekable();
    if extra.peek().is_some() {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(extra);
        path.push('?');
        path.push_str(&query.finish());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'v>(pairs: &'v [(&'v str, &'v str)]) -> impl FnMut(&str) -> Option<&'v str> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    #[test]
    fn encodes() {
        // (pattern, params, path)
        type Params = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Params, &str)] = &[
            ("/users/{id}", &[("id", "42")], "/users/42"),
            ("/users/{id}", &[("id", "a/b")], "/users/a%2Fb"),
            (
                "/files/{*path}",
                &[("path", "a/b c.txt")],
                "/files/a/b%20c.txt",
            ),
            ("/q/{x}", &[("x", "?#%&=+")], "/q/%3F%23%25&=+"),
            ("/u/{x}", &[("x", "caf\u{e9}")], "/u/caf%C3%A9"),
            ("/u/{x}", &[("x", "~-._!$'()*,;:@")], "/u/~-._!$'()*,;:@"),
            ("/{{lit}}/{x}", &[("x", "{}")], "/%7Blit%7D/%7B%7D"),
            ("/caf\u{e9} 100%", &[], "/caf%C3%A9%20100%25"),
            ("/a/{x}/{*y}", &[("y", "/z/"), ("x", "1")], "/a/1//z/"),
        ];
        for (pattern, params, want) in cases {
            assert_eq!(
                build(pattern, with(params)).as_deref(),
                Ok(*want),
                "{pattern}"
            );
        }
    }

    #[test]
    fn reports_the_missing_param() {
        assert_eq!(build("/a/{x}/{y}", with(&[("x", "1")])), Err("y".into()));
        assert_eq!(build("/a/{*rest}", with(&[])), Err("rest".into()));
    }
}
