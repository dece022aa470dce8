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

/// One piece of a matchit pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    /// Literal text (`{{`/`}}` already unescaped to `{`/`}`).
    Literal(Cow<'a, str>),
    /// `{name}`: one segment.
    Param(&'a str),
    /// `{*name}`: the rest of the path.
    CatchAll(&'a str),
}

/// Splits a matchit pattern into parts. Patterns reach this only after
/// matchit accepted them; an unbalanced brace is kept as literal text.
pub fn parts(pattern: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            literal.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            if !literal.is_empty() {
                out.push(Part::Literal(Cow::Owned(std::mem::take(&mut literal))));
            }
            let inner = &tail[1..end];
            out.push(match inner.strip_prefix('*') {
                Some(name) => Part::CatchAll(name),
                None => Part::Param(inner),
            });
            rest = &tail[end + 1..];
        } else {
            literal.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        out.push(Part::Literal(Cow::Owned(literal)));
    }
    out
}

/// Builds the path for `pattern`, taking each parameter's value from
/// `value`. Returns the name of the first parameter `value` lacks.
pub fn build<'p, 'v>(
    pattern: &'p str,
    mut value: impl FnMut(&str) -> Option<&'v str>,
) -> Result<String, &'p str> {
    let mut out = String::with_capacity(pattern.len() + 16);
    for part in parts(pattern) {
        match part {
            Part::Literal(text) => out.extend(utf8_percent_encode(&text, PATH)),
            Part::Param(name) => out.extend(utf8_percent_encode(value(name).ok_or(name)?, SEGMENT)),
            Part::CatchAll(name) => out.extend(utf8_percent_encode(value(name).ok_or(name)?, PATH)),
        }
    }
    Ok(out)
}

/// The parameter names of `pattern`, in order.
pub fn param_names(pattern: &str) -> Vec<&str> {
    parts(pattern)
        .into_iter()
        .filter_map(|p| match p {
            Part::Param(n) | Part::CatchAll(n) => Some(n),
            Part::Literal(_) => None,
        })
        .collect()
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
pub fn url_for<T>(
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
        param: missing.to_owned(),
    })?;
    let names = param_names(pattern);
    let mut extra = given
        .iter()
        .filter(|(k, _)| !names.contains(&k.as_str()))
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
    fn parses_patterns() {
        use Part::{CatchAll, Literal, Param};
        let lit = |s: &str| Literal(Cow::Owned(s.to_owned()));
        assert_eq!(parts("/users/{id}"), vec![lit("/users/"), Param("id")]);
        assert_eq!(
            parts("/img-{id}.png/{*rest}"),
            vec![lit("/img-"), Param("id"), lit(".png/"), CatchAll("rest")]
        );
        assert_eq!(parts("/{{x}}/{y}"), vec![lit("/{x}/"), Param("y")]);
        assert_eq!(parts("/"), vec![lit("/")]);
        assert_eq!(param_names("/a/{b}/{c}x/{*d}"), vec!["b", "c", "d"]);
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
        assert_eq!(build("/a/{x}/{y}", with(&[("x", "1")])), Err("y"));
        assert_eq!(build("/a/{*rest}", with(&[])), Err("rest"));
    }
}
