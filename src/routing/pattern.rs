//! Route patterns read the way matchit reads them, so that the param keys of
//! a route, the values `params.rs` cuts and the paths `url_for` builds agree
//! with the matcher for every pattern `Router.add` accepts.
//!
//! matchit does not export its parser, so its two passes are followed here
//! (matchit 0.9.2 `escape.rs` `UnescapedRoute::new`, `tree.rs`
//! `find_wildcard` and `normalize_params`):
//!
//! 1. `{{` and `}}` become literal braces, left to right, before anything
//!    else. In `/{x}}}` the `}}` right after `x` is taken first, so the param
//!    ends at the last `}` and is named `x}`; a param followed by a literal
//!    `}` cannot be written at all.
//! 2. An unescaped `{` opens a param, `{*` a catch-all; the name runs to the
//!    next unescaped `}` and may hold anything but `*` and `/` (its first
//!    character is not checked), escaped braces and `{` included. An
//!    unescaped `}` outside a param, `{}`, `{*}` and a missing `}` are errors.
//!
//! matchit numbers the `{param}`s of a route `a` to `z` and panics on the
//! 26th ("Too many route parameters"); [`check`] refuses such a pattern, and
//! a param name with a brace in it, before matchit sees them. The count is
//! matchit's own ([`matchit_count`]): its renaming shifts the escape marks
//! that follow a param, and one right after it is lost, so `/{xy}{{` opens
//! a second param where `/{x}{{` does not; that only ever turns a pattern
//! into an error, but it counts towards the limit first.

use std::borrow::Cow;

use crate::errors::Error;
use crate::routing::table::quote;

/// The most `{param}`s matchit takes in one pattern (it names them `a` to
/// `y`; a `{*catch_all}` is not counted).
pub(crate) const MAX_PARAMS: usize = 25;

/// One piece of a matchit pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    /// Literal text (`{{`/`}}` already unescaped to `{`/`}`).
    Literal(Cow<'a, str>),
    /// `{name}`: one segment (or the part of it between literals).
    Param(Cow<'a, str>),
    /// `{*name}`: the rest of the path.
    CatchAll(Cow<'a, str>),
}

/// One character after step 1 of the module doc: whether it came from a
/// `{{`/`}}` pair, and its byte offset in the pattern.
#[derive(Debug, Clone, Copy)]
struct Char {
    c: char,
    escaped: bool,
    at: usize,
}

/// Step 1: `{{` -> `{` and `}}` -> `}`, marked as escaped, left to right.
fn unescape(pattern: &str) -> Vec<Char> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut chars = pattern.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let escaped = matches!(c, '{' | '}') && chars.next_if(|&(_, n)| n == c).is_some();
        out.push(Char { c, escaped, at });
    }
    out
}

/// Step 2 for the param opened at `chars[open]`: the index of its closing
/// `}`, or `None` where matchit's `find_wildcard` reports `InvalidParam`.
fn param_end(chars: &[Char], open: usize) -> Option<usize> {
    // `{}` (matchit does not ask whether that `}` was escaped).
    if chars.get(open + 1)?.c == '}' {
        return None;
    }
    for (i, ch) in chars.iter().enumerate().skip(open + 2) {
        match ch.c {
            '}' if ch.escaped => {}
            '}' => return (chars[i - 1].c != '*').then_some(i),
            '*' | '/' => return None,
            _ => {}
        }
    }
    None
}

/// The text of `chars`: a slice of `pattern` when none was escaped.
fn text<'a>(pattern: &'a str, chars: &[Char]) -> Cow<'a, str> {
    let contiguous = chars.iter().all(|ch| !ch.escaped);
    match (chars.first(), chars.last()) {
        (Some(first), Some(last)) if contiguous => {
            Cow::Borrowed(&pattern[first.at..last.at + last.c.len_utf8()])
        }
        _ => Cow::Owned(chars.iter().map(|ch| ch.c).collect()),
    }
}

/// The parts of `pattern` as matchit reads it (all of them for a pattern
/// matchit accepts; up to the first param error otherwise).
pub(crate) fn parts(pattern: &str) -> Vec<Part<'_>> {
    let chars = unescape(pattern);
    let mut parts = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if ch.escaped || !matches!(ch.c, '{' | '}') {
            i += 1;
            continue;
        }
        // An unescaped `}` here closes nothing.
        let Some(end) = (ch.c == '{').then(|| param_end(&chars, i)).flatten() else {
            break;
        };
        if literal_start < i {
            parts.push(Part::Literal(text(pattern, &chars[literal_start..i])));
        }
        parts.push(match chars[i + 1].c {
            '*' => Part::CatchAll(text(pattern, &chars[i + 2..end])),
            _ => Part::Param(text(pattern, &chars[i + 1..end])),
        });
        i = end + 1;
        literal_start = i;
    }
    if literal_start < i {
        parts.push(Part::Literal(text(pattern, &chars[literal_start..i])));
    }
    parts
}

/// The param names of `pattern` as matchit reads them, in order.
pub(crate) fn param_names(pattern: &str) -> Vec<Cow<'_, str>> {
    parts(pattern)
        .into_iter()
        .filter_map(|p| match p {
            Part::Param(n) | Part::CatchAll(n) => Some(n),
            Part::Literal(_) => None,
        })
        .collect()
}

/// How many `{param}`s matchit's `normalize_params` renames in `pattern`
/// before it stops, and whether it stops on an error (`InvalidParam`): its
/// steps, followed byte for byte, with its escape bookkeeping (matchit
/// 0.9.2 `escape.rs` `UnescapedRoute::splice` moves only the marks *past*
/// the renamed param, so a mark right after it stays where it was).
fn matchit_count(pattern: &str) -> (usize, bool) {
    let mut route = pattern.as_bytes().to_vec();
    let mut escaped: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(&c) = route.get(i) {
        if matches!(c, b'{' | b'}') && route.get(i + 1) == Some(&c) {
            route.remove(i);
            escaped.push(i);
        }
        i += 1;
    }
    let mut start = 0;
    let mut count = 0;
    loop {
        let wildcard = match find_wildcard(&route, &escaped, start) {
            Ok(Some(w)) => w,
            Ok(None) => return (count, false),
            Err(()) => return (count, true),
        };
        if route.get(wildcard.start + 1) == Some(&b'*') {
            start = wildcard.end;
            continue;
        }
        escaped.retain(|x| !wildcard.contains(x));
        for x in &mut escaped {
            if *x > wildcard.end {
                // The renamed param is `{a}`: 3 bytes in place of its own.
                *x = *x + 3 - wildcard.len();
            }
        }
        route.splice(wildcard.clone(), *b"{a}");
        count += 1;
        start = wildcard.start + 3;
    }
}

/// matchit's `find_wildcard` over `route[start..]`: the next param's range
/// in `route`, `None` when there is none, `Err` for `InvalidParam`.
fn find_wildcard(
    route: &[u8],
    escaped: &[usize],
    start: usize,
) -> Result<Option<std::ops::Range<usize>>, ()> {
    let is_escaped = |i: usize| escaped.contains(&i);
    for open in start..route.len() {
        let c = route[open];
        if c == b'}' && !is_escaped(open) {
            return Err(());
        }
        if c != b'{' || is_escaped(open) {
            continue;
        }
        if route.get(open + 1) == Some(&b'}') {
            return Err(());
        }
        for i in open + 2..route.len() {
            match route[i] {
                b'}' if is_escaped(i) => {}
                b'}' if route[i - 1] == b'*' => return Err(()),
                b'}' => return Ok(Some(open..i + 1)),
                b'*' | b'/' => return Err(()),
                _ => {}
            }
        }
        return Err(());
    }
    Ok(None)
}

/// Refuses, before matchit sees it, a `pattern` that matchit would panic on
/// or read differently from how it looks; any other syntax error is left
/// for matchit to report.
///
/// # Errors
/// [`Error::TooManyParams`] past [`MAX_PARAMS`] `{param}`s (as matchit
/// counts them); [`Error::BraceInParamName`] for a param or catch-all whose
/// name holds `{` or `}`; [`Error::DuplicateParam`] for a name used twice
/// (matchit takes it; the params dict cannot).
pub(crate) fn check(pattern: &str) -> Result<(), Error> {
    let (count, _) = matchit_count(pattern);
    if count > MAX_PARAMS {
        return Err(Error::TooManyParams {
            path: quote(pattern),
            count,
            limit: MAX_PARAMS,
        });
    }
    let parts = parts(pattern);
    let braced = parts.iter().find_map(|p| match p {
        Part::Param(n) | Part::CatchAll(n) if n.contains(['{', '}']) => Some(n),
        _ => None,
    });
    if let Some(name) = braced {
        return Err(Error::BraceInParamName {
            path: quote(pattern),
            name: quote(name),
        });
    }
    let names = param_names(pattern);
    let twice = (1..names.len()).find(|&i| names[..i].contains(&names[i]));
    if let Some(i) = twice {
        let name = &names[i];
        return Err(Error::DuplicateParam {
            path: quote(pattern),
            name: quote(name),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part<'_> {
        Part::Literal(Cow::Borrowed(s))
    }
    fn param(s: &str) -> Part<'_> {
        Part::Param(Cow::Borrowed(s))
    }
    fn catch_all(s: &str) -> Part<'_> {
        Part::CatchAll(Cow::Borrowed(s))
    }

    #[test]
    fn reads_patterns() {
        assert_eq!(parts("/users/{id}"), vec![lit("/users/"), param("id")]);
        assert_eq!(
            parts("/img-{id}.png/{*rest}"),
            vec![lit("/img-"), param("id"), lit(".png/"), catch_all("rest")]
        );
        assert_eq!(parts("/{{x}}/{y}"), vec![lit("/{x}/"), param("y")]);
        assert_eq!(parts("/"), vec![lit("/")]);
        assert_eq!(param_names("/a/{b}/{c}x/{*d}"), vec!["b", "c", "d"]);
    }

    #[test]
    fn escapes_are_read_before_params_as_matchit_does() {
        // (pattern, parts): each checked against matchit below too
        let cases: &[(&str, &[Part<'_>])] = &[
            ("/{x}}}", &[lit("/"), param("x}")]),
            ("/{a}}b}", &[lit("/"), param("a}b")]),
            ("/{x{{y}", &[lit("/"), param("x{y")]),
            ("/{a{b}", &[lit("/"), param("a{b")]),
            ("/{{{x}", &[lit("/{"), param("x")]),
            ("/{{{x}}}", &[lit("/{"), param("x}")]),
            ("/{{{{x}}", &[lit("/{{x}")]),
            ("/{x}/}}", &[lit("/"), param("x"), lit("/}")]),
            ("/{*r}}}", &[lit("/"), catch_all("r}")]),
            ("/{/}", &[lit("/"), param("/")]),
        ];
        for (pattern, want) in cases {
            assert_eq!(&parts(pattern), want, "{pattern}");
            assert_eq!(matchit_names(pattern).as_deref(), Some(&names(want)[..]));
        }
    }

    #[test]
    fn reading_stops_where_matchit_refuses() {
        for pattern in [
            "/}", "/{}", "/{*}", "/{x", "/{x/y}", "/{x*}", "/a}b", "/{}}}",
        ] {
            assert_eq!(matchit_count(pattern), (0, true), "{pattern}");
            assert_eq!(
                matchit::Router::new().insert(pattern, ()),
                Err(matchit::InsertError::InvalidParam),
                "{pattern}"
            );
        }
        // matchit loses the escape of a `{{` right after a param renamed to a
        // different length: `/{xy}{{` is refused, `/{x}{{` is not.
        assert_eq!(parts("/{xy}{{"), vec![lit("/"), param("xy"), lit("{")]);
        assert_eq!(matchit_count("/{xy}{{"), (1, true));
        assert_eq!(matchit_count("/{x}{{"), (1, false));
        assert!(matchit::Router::new().insert("/{xy}{{", ()).is_err());
        assert!(matchit::Router::new().insert("/{x}{{", ()).is_ok());
        // ... and counts the param it then opens: `/{xy}{{z}` has two for matchit.
        assert_eq!(matchit_count("/{xy}{{z}"), (2, false));
    }

    #[test]
    fn check_refuses_braces_in_names_duplicates_and_too_many_params() {
        for ok in ["/{x}/}}", "/{{x}}", "/{{{x}", "/a/{b}.{{c}}"] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, name) in [
            ("/{x}}}", "'x}'"),
            ("/{x{{y}", "'x{y'"),
            ("/{a{b}", "'a{b'"),
            ("/{*r}}}", "'r}'"),
        ] {
            let err = check(bad).unwrap_err();
            assert_eq!(
                err,
                Error::BraceInParamName {
                    path: quote(bad),
                    name: name.to_owned()
                }
            );
        }
        for (twice, name) in [
            ("/{x}/{x}", "'x'"),
            ("/{a}/{b}-{a}/{*b}", "'a'"),
            ("/{r}/{*r}", "'r'"),
        ] {
            assert_eq!(
                check(twice),
                Err(Error::DuplicateParam {
                    path: quote(twice),
                    name: name.to_owned()
                })
            );
        }
        let many = |n: usize| {
            use std::fmt::Write;
            let mut out = String::new();
            for i in 0..n {
                let _ = write!(out, "/{{p{i}}}");
            }
            out
        };
        assert_eq!(check(&many(MAX_PARAMS)), Ok(()));
        assert_eq!(check(&(many(MAX_PARAMS) + "/{*rest}")), Ok(()));
        assert_eq!(
            check(&many(MAX_PARAMS + 1)),
            Err(Error::TooManyParams {
                path: quote(&many(MAX_PARAMS + 1)),
                count: 26,
                limit: 25
            })
        );
        // Counted up to matchit's first error, as matchit counts (and panics).
        assert!(check(&(many(MAX_PARAMS + 1) + "/{")).is_err());
        assert_eq!(check(&(many(MAX_PARAMS) + "/}/{q}")), Ok(()));
        assert!(check(&(many(MAX_PARAMS - 1) + "/{xy}{{z}")).is_err());
        // matchit itself takes 25 and panics on 26.
        let mut router = matchit::Router::new();
        router.insert(many(MAX_PARAMS), ()).unwrap();
        quiet_limit_panics();
        let panicked =
            std::panic::catch_unwind(|| matchit::Router::new().insert(many(MAX_PARAMS + 1), ()));
        assert!(panicked.is_err());
    }

    fn names(parts: &[Part<'_>]) -> Vec<String> {
        parts
            .iter()
            .filter_map(|p| match p {
                Part::Param(n) | Part::CatchAll(n) => Some(n.to_string()),
                Part::Literal(_) => None,
            })
            .collect()
    }

    /// matchit's own param names for `pattern`, from a path built with
    /// [`parts`] (one digit per value: no pattern here has digits), or
    /// `None` when matchit refuses the pattern or the path does not match.
    fn matchit_names(pattern: &str) -> Option<Vec<String>> {
        let mut router = matchit::Router::new();
        router.insert(pattern, ()).ok()?;
        let mut path = String::new();
        for (i, part) in parts(pattern).iter().enumerate() {
            match part {
                Part::Literal(t) => path.push_str(t),
                Part::Param(_) | Part::CatchAll(_) => path.push_str(&(i % 10).to_string()),
            }
        }
        let m = router.at(&path).ok()?;
        Some(m.params.iter().map(|(k, _)| k.to_owned()).collect())
    }

    /// matchit's panic past [`MAX_PARAMS`], expected by the tests below,
    /// is kept off the test output; every other panic is reported.
    fn quiet_limit_panics() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let text = info.payload().downcast_ref::<&str>().copied();
                if text != Some("Too many route parameters.") {
                    report(info);
                }
            }));
        });
    }

    /// The pieces of a generated pattern: short brace soup, or many
    /// segments with params (past [`MAX_PARAMS`] about one time in 30).
    fn pieces() -> impl proptest::strategy::Strategy<Value = Vec<&'static str>> {
        use proptest::collection::vec;
        use proptest::sample::select;
        proptest::prop_oneof![
            vec(
                select(vec![
                    "{", "{", "}", "}", "*", "/", "/", "a", "b", "\u{e9}", ".", "{p}", "{q}",
                    "{xy}", "{*r}", "{{", "}}",
                ]),
                0..16
            ),
            vec(
                select(vec![
                    "/", "/a", "/{p}", "/{p}", "/{xy}.", "{q}", "{{", "}}", "/{*r}"
                ]),
                0..60
            ),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 3000, failure_persistence: None, ..Default::default()
        })]

        /// For every pattern matchit accepts, the path built from [`parts`]
        /// matches it, with the names and values [`parts`] says; matchit
        /// panics exactly past [`MAX_PARAMS`] as [`matchit_count`] counts,
        /// and fails on a param error exactly when [`matchit_count`] says so.
        #[test]
        fn parts_and_count_agree_with_matchit(
            pieces in pieces(),
        ) {
            quiet_limit_panics();
            let pattern: String = std::iter::once("/").chain(pieces).collect();
            let (count, failed) = matchit_count(&pattern);
            let mut router = matchit::Router::new();
            let inserted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                router.insert(pattern.as_str(), ())
            }));
            let Ok(inserted) = inserted else {
                proptest::prop_assert!(count > MAX_PARAMS, "{} panicked at {}", pattern, count);
                return Ok(());
            };
            proptest::prop_assert!(count <= MAX_PARAMS, "{}: {} and no panic", pattern, count);
            match inserted {
                Err(matchit::InsertError::InvalidParam) => {
                    proptest::prop_assert!(failed, "{}", pattern);
                }
                Err(_) => proptest::prop_assert!(!failed, "{}", pattern),
                Ok(()) => {
                    proptest::prop_assert!(!failed, "{}", pattern);
                    let mut path = String::new();
                    let mut want = Vec::new();
                    for (i, part) in parts(&pattern).iter().enumerate() {
                        match part {
                            Part::Literal(t) => path.push_str(t),
                            Part::Param(n) | Part::CatchAll(n) => {
                                let value = format!("{i}");
                                path.push_str(&value);
                                want.push((n.to_string(), value));
                            }
                        }
                    }
                    let m = router.at(&path);
                    proptest::prop_assert!(m.is_ok(), "{} does not match {}", path, pattern);
                    let got: Vec<(String, String)> = m
                        .map(|m| m.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
                        .unwrap_or_default();
                    proptest::prop_assert_eq!(got, want, "{} {}", pattern, path);
                }
            }
        }
    }
}
