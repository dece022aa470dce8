//! Prefix mounts, with the semantics of werkzeug's `DispatcherMiddleware`
//! (`werkzeug/middleware/dispatcher.py`): `PATH_INFO == prefix` or
//! `PATH_INFO.startswith(prefix + "/")` goes to the mounted app with
//! `SCRIPT_NAME += prefix` and `PATH_INFO` = the rest; the longest prefix wins.
//!
//! Prefixes are compared with `PATH_INFO` in its PEP 3333 form: each byte of
//! the request path is one code point U+0000..U+00FF ("latin-1"). A prefix the
//! caller writes as text (`"/café"`) is stored in that form too (its UTF-8
//! bytes, one code point each), so a non-ASCII prefix matches, and the rest of
//! the path is passed on untouched even if it is not UTF-8.

use crate::errors::Error;
use crate::routing::table::quote;

/// One mounted app.
#[derive(Debug)]
pub(crate) struct Mount<T> {
    /// The prefix as the caller wrote it.
    pub(crate) prefix: String,
    /// `prefix` in PEP 3333 latin-1 form (see the module docs).
    pub(crate) wire: String,
    /// The mounted app.
    pub(crate) app: T,
}

/// The mounts of one `Router`, longest prefix first.
#[derive(Debug)]
pub(crate) struct Mounts<T> {
    mounts: Vec<Mount<T>>,
}

impl<T> Default for Mounts<T> {
    fn default() -> Self {
        Self { mounts: Vec::new() }
    }
}

/// `text`'s UTF-8 bytes, one code point each: how `text` appears inside a
/// PEP 3333 `PATH_INFO` ("Unicode Issues": native strings hold bytes as latin-1).
pub(crate) fn to_wire(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// The rest of `path` after `prefix` when `path == prefix` (rest `""`) or
/// `path` starts with `prefix + "/"` (rest starts with `/`); else `None`.
#[inline]
pub(crate) fn split<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

impl<T> Mounts<T> {
    /// Adds a mount. `prefix` must start with `/` and not end with `/` (so
    /// `"/"` itself is refused: for an app at the root, add a catch-all route),
    /// and must not already be mounted.
    pub(crate) fn insert(&mut self, prefix: &str, app: T) -> Result<(), Error> {
        if !prefix.starts_with('/') || prefix.ends_with('/') {
            return Err(Error::BadArgument {
                name: "prefix",
                value: quote(prefix),
                why: "a mount prefix must start with '/' and must not end with '/'",
            });
        }
        if let Some(m) = self.mounts.iter().find(|m| m.prefix == prefix) {
            return Err(Error::RouteConflict {
                new: prefix.to_owned(),
                existing: m.prefix.clone(),
                why: "that prefix is already mounted".to_owned(),
            });
        }
        let wire = to_wire(prefix);
        // Longest first, so the first hit is the longest prefix; equal lengths
        // are different strings and cannot both match one path.
        let at = self
            .mounts
            .iter()
            .position(|m| m.wire.len() < wire.len())
            .unwrap_or(self.mounts.len());
        self.mounts.insert(
            at,
            Mount {
                prefix: prefix.to_owned(),
                wire,
                app,
            },
        );
        Ok(())
    }

    /// The mount with the longest prefix covering `path_info` (PEP 3333
    /// form), and the rest of the path for the mounted app's `PATH_INFO`.
    #[inline]
    pub(crate) fn find<'p>(&self, path_info: &'p str) -> Option<(&Mount<T>, &'p str)> {
        self.mounts
            .iter()
            .find_map(|m| split(path_info, &m.wire).map(|rest| (m, rest)))
    }

    /// Every mount, longest prefix first (the order `find` tries them).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Mount<T>> {
        self.mounts.iter()
    }

    /// Every mounted app, for the garbage collector.
    pub(crate) fn apps(&self) -> impl Iterator<Item = &T> {
        self.mounts.iter().map(|m| &m.app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_prefix() {
        // (PATH_INFO, prefix, rest) — werkzeug DispatcherMiddleware's results.
        let cases = [
            ("/api", "/api", Some("")),
            ("/api/", "/api", Some("/")),
            ("/api/v1/x", "/api", Some("/v1/x")),
            ("/api//x", "/api", Some("//x")),
            ("/apix", "/api", None),
            ("/ap", "/api", None),
            ("", "/api", None),
            ("/other/api", "/api", None),
        ];
        for (path, prefix, want) in cases {
            assert_eq!(split(path, prefix), want, "{path:?} under {prefix:?}");
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let mut m = Mounts::default();
        m.insert("/a", 1).unwrap();
        m.insert("/a/b/c", 3).unwrap();
        m.insert("/a/b", 2).unwrap();
        let cases = [
            ("/a", Some((1, ""))),
            ("/a/x", Some((1, "/x"))),
            ("/a/b", Some((2, ""))),
            ("/a/bc", Some((1, "/bc"))),
            ("/a/b/c/d", Some((3, "/d"))),
            ("/b", None),
        ];
        for (path, want) in cases {
            assert_eq!(m.find(path).map(|(m, rest)| (m.app, rest)), want, "{path}");
        }
    }

    #[test]
    fn prefix_validation() {
        let mut m = Mounts::default();
        for bad in ["", "/", "api", "/api/"] {
            let err = m.insert(bad, 0).unwrap_err();
            assert!(
                matches!(err, Error::BadArgument { name: "prefix", .. }),
                "{bad:?}"
            );
        }
        m.insert("/api", 0).unwrap();
        let err = m.insert("/api", 1).unwrap_err();
        assert!(matches!(err, Error::RouteConflict { .. }), "{err:?}");
    }

    #[test]
    fn non_ascii_prefix_is_matched_in_wire_form() {
        let mut m = Mounts::default();
        m.insert("/caf\u{e9}", 1).unwrap();
        // PEP 3333 PATH_INFO for the bytes "/caf\xc3\xa9/x".
        let wire = "/caf\u{c3}\u{a9}/x";
        let (mount, rest) = m.find(wire).unwrap();
        assert_eq!((mount.wire.as_str(), rest), ("/caf\u{c3}\u{a9}", "/x"));
        assert!(m.find("/caf\u{e9}/x").is_none());
    }
}
