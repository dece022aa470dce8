//! From a request path to a file path under a mount, sans-IO: which mount
//! a `PATH_INFO` falls under, and the relative path it names there, made
//! only of segments that cannot leave the folder.
//!
//! `PATH_INFO` is already percent-decoded by the server (PEP 3333
//! "environ Variables", as CGI), so `%2e%2e` and `%2f` in the URL arrive
//! here as `..` and `/`, and are judged as such. It is never decoded a
//! second time: a literal `%2e%2e` in `PATH_INFO` (the URL said `%252e`)
//! is a file name like any other. The filesystem layer (`fs.rs`) then
//! opens the path so that even a symlink cannot lead out of the folder.

/// Why a path is refused. Every refusal is answered as if no file were
/// there: the request goes on to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A `..` segment (a step out of the folder).
    DotDot,
    /// A `.` segment, or an empty one (`a//b`, or `//etc/passwd` after the
    /// prefix, an absolute path): a canonical URL has neither.
    NotCanonical,
    /// A backslash: a path separator on Windows, refused everywhere so a
    /// folder behaves the same on every platform.
    Backslash,
    /// A NUL byte: no file name holds one, and C APIs would cut the path there.
    Nul,
    /// A segment starting with `.` (`.env`, `.git/`), when hidden files are
    /// not served.
    Hidden,
    /// A `:` on Windows, where `C:` or `file::$DATA` name another drive or
    /// stream.
    Colon,
}

/// The file a request path names under its mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lookup<'a> {
    /// The path relative to the folder, segments joined by `/`, no leading
    /// or trailing `/`; empty for the folder itself.
    pub(crate) rel: &'a [u8],
    /// The request path ends with `/` (a folder is asked for) or is the
    /// folder itself with a slash (`/static/`).
    pub(crate) slash: bool,
}

/// The relative path named by `rest`, the part of `PATH_INFO` (as bytes)
/// after a mount's prefix: empty, or starting with `/`.
///
/// # Errors
/// [`Refused`] for a path that could leave the folder or that is not to be
/// served (see each variant).
pub(crate) fn lookup(rest: &[u8], allow_hidden: bool) -> Result<Lookup<'_>, Refused> {
    let Some(body) = rest.strip_prefix(b"/") else {
        // The prefix itself, without its slash (the caller checked that
        // nothing else can follow a prefix).
        return Ok(Lookup {
            rel: b"",
            slash: false,
        });
    };
    let (rel, slash) = match body.strip_suffix(b"/") {
        Some(rel) => (rel, true),
        None => (body, body.is_empty()),
    };
    if rel.is_empty() && !body.is_empty() {
        // `//`: an empty segment after the prefix.
        return Err(Refused::NotCanonical);
    }
    if !rel.is_empty() {
        for segment in rel.split(|&b| b == b'/') {
            check_segment(segment, allow_hidden)?;
        }
    }
    Ok(Lookup { rel, slash })
}

fn check_segment(segment: &[u8], allow_hidden: bool) -> Result<(), Refused> {
    match segment {
        b".." => return Err(Refused::DotDot),
        b"" | b"." => return Err(Refused::NotCanonical),
        [b'.', ..] if !allow_hidden => return Err(Refused::Hidden),
        _ => {}
    }
    if segment.contains(&b'\\') {
        return Err(Refused::Backslash);
    }
    if segment.contains(&0) {
        return Err(Refused::Nul);
    }
    if cfg!(windows) && segment.contains(&b':') {
        return Err(Refused::Colon);
    }
    Ok(())
}

/// The part of `path` after `prefix` when `path` is under it: `path` equal
/// to `prefix`, or `prefix` followed by `/`. `prefix` has no trailing `/`
/// (the root mount `/` is the empty prefix, under which every path falls).
#[must_use]
pub(crate) fn under<'a>(path: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// A mount prefix as configured, normalised: starts with `/`, no trailing
/// `/` (so `/` becomes the empty prefix), no empty, `.` or `..` segment.
///
/// # Errors
/// What is wrong with it, for the caller's `ValueError`.
pub(crate) fn normalise_prefix(prefix: &str) -> Result<&str, &'static str> {
    let Some(inner) = prefix.strip_prefix('/') else {
        return Err("a URL prefix must start with '/'");
    };
    if inner.is_empty() {
        return Ok("");
    }
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if inner
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err("a URL prefix must not contain an empty, '.' or '..' segment");
    }
    // `/` and `inner`, without the trailing `/`.
    Ok(&prefix[..=inner.len()])
}

/// The request path's bytes: `PATH_INFO` is a latin-1 string (PEP 3333
/// "Unicode Issues": each character one byte). `None` when a character is
/// past U+00FF (a server that broke that rule: no file is looked up).
#[must_use]
pub(crate) fn latin1_bytes(path: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
    if path.is_ascii() {
        return Some(std::borrow::Cow::Borrowed(path.as_bytes()));
    }
    path.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::unnecessary_wraps)] // a row's expected value
    fn ok(rel: &'static [u8], slash: bool) -> Result<Lookup<'static>, Refused> {
        Ok(Lookup { rel, slash })
    }

    #[test]
    fn lookups() {
        let table: &[(&[u8], Result<Lookup<'_>, Refused>)] = &[
            (b"", ok(b"", false)),
            (b"/", ok(b"", true)),
            (b"/app.css", ok(b"app.css", false)),
            (b"/css/app.css", ok(b"css/app.css", false)),
            (b"/docs/", ok(b"docs", true)),
            (b"/%2e%2e/x", ok(b"%2e%2e/x", false)), // decoded once, by the server
            (b"/a%2fb", ok(b"a%2fb", false)),
            (b"/caf\xc3\xa9.txt", ok(b"caf\xc3\xa9.txt", false)),
            (b"/../secret", Err(Refused::DotDot)),
            (b"/a/../../secret", Err(Refused::DotDot)),
            (b"/a/..", Err(Refused::DotDot)),
            (b"/a/../", Err(Refused::DotDot)),
            (b"/./a", Err(Refused::NotCanonical)),
            (b"/a//b", Err(Refused::NotCanonical)),
            (b"//etc/passwd", Err(Refused::NotCanonical)),
            (b"//", Err(Refused::NotCanonical)),
            (b"/a\\..\\..\\secret", Err(Refused::Backslash)),
            (b"/..\\secret", Err(Refused::Hidden)),
            (b"/a\0.css", Err(Refused::Nul)),
            (b"/.env", Err(Refused::Hidden)),
            (b"/.git/config", Err(Refused::Hidden)),
            (b"/a/.hidden/b", Err(Refused::Hidden)),
            (b"/.well-known/", Err(Refused::Hidden)),
        ];
        for (rest, want) in table {
            assert_eq!(
                lookup(rest, false),
                *want,
                "{:?}",
                String::from_utf8_lossy(rest)
            );
        }
        // Hidden files when asked for; `.` and `..` never.
        assert_eq!(lookup(b"/.env", true), ok(b".env", false));
        assert_eq!(lookup(b"/..", true), Err(Refused::DotDot));
        assert_eq!(lookup(b"/..\\secret", true), Err(Refused::Backslash));
        assert_eq!(lookup(b"/.", true), Err(Refused::NotCanonical));
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            under(b"/static/app.css", b"/static"),
            Some(&b"/app.css"[..])
        );
        assert_eq!(under(b"/static", b"/static"), Some(&b""[..]));
        assert_eq!(under(b"/static/", b"/static"), Some(&b"/"[..]));
        assert_eq!(under(b"/staticx/app.css", b"/static"), None);
        assert_eq!(under(b"/other", b"/static"), None);
        assert_eq!(under(b"/app.css", b""), Some(&b"/app.css"[..]));
        assert_eq!(under(b"", b""), Some(&b""[..]));
        for (given, want) in [
            ("/static", Ok("/static")),
            ("/static/", Ok("/static")),
            ("/", Ok("")),
            ("/a/b", Ok("/a/b")),
            ("static", Err("a URL prefix must start with '/'")),
            ("", Err("a URL prefix must start with '/'")),
        ] {
            assert_eq!(normalise_prefix(given), want, "{given:?}");
        }
        for bad in ["//", "/a//b", "/a/./b", "/../x", "/a/.."] {
            assert!(normalise_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn latin1() {
        assert_eq!(latin1_bytes("/a").as_deref(), Some(&b"/a"[..]));
        assert_eq!(latin1_bytes("/\u{e9}").as_deref(), Some(&b"/\xe9"[..]));
        assert_eq!(latin1_bytes("/\u{20ac}"), None);
    }
}
