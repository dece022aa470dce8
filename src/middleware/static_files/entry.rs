//! What is said about one file in its response headers, made once per
//! version of the file and cached: `Content-Type` (RFC 9110 §8.3), the
//! validators `ETag` and `Last-Modified` (§8.8), `Cache-Control` (RFC 9111
//! §5.2.2), `Vary` and `Content-Encoding` (§12.5.5, §8.4).
//!
//! A cached entry is used only while the file's length and modification
//! time (at the filesystem's resolution, nanoseconds on Linux) are those it
//! was made from, read with `fstat` on the descriptor being served: an
//! edited file gets new headers on the very next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use super::coding::Coding;
use super::conditional::seconds;
use super::fs::Meta;

/// Entries kept per mount; past this the cache starts again empty (a
/// bound on memory for folders with very many files).
const MAX_ENTRIES: usize = 4096;

#[cfg(test)]
/// `Cache-Control` for files whose name carries a content hash.
pub(crate) const IMMUTABLE_MAX_AGE: u64 = 31_536_000;

/// What the options decide about headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    /// `max-age` in seconds for ordinary files; `None`: no `Cache-Control`.
    pub(crate) max_age: Option<u64>,
    /// `max-age` in seconds, with `immutable`, for hashed names; `None`:
    /// hashed names are ordinary files.
    pub(crate) immutable_max_age: Option<u64>,
    /// Media types by lower-cased extension (without its dot), before the
    /// built-in table.
    pub(crate) media_types: HashMap<String, String>,
}

impl Policy {
    /// The `Content-Type` for a file named `name` (the name asked for, not
    /// a compressed sibling's): the options' table, else `mime_guess`'s
    /// (from the Apache and nginx tables), else `application/octet-stream`;
    /// `; charset=utf-8` added to `text/*` and JavaScript.
    #[must_use]
    pub(crate) fn content_type(&self, name: &[u8]) -> String {
        let ext = name
            .iter()
            .rposition(|&b| b == b'.')
            .map(|i| String::from_utf8_lossy(&name[i + 1..]).to_ascii_lowercase());
        let media = ext.as_deref().and_then(|ext| {
            self.media_types
                .get(ext)
                .map(String::as_str)
                .or_else(|| mime_guess::from_ext(ext).first_raw())
        });
        let media = media.unwrap_or("application/octet-stream");
        let textual = media.starts_with("text/")
            || media == "application/javascript"
            || media == "application/ecmascript";
        if textual && !media.contains("charset=") {
            format!("{media}; charset=utf-8")
        } else {
            media.to_owned()
        }
    }

    /// The `Cache-Control` value for a file named `name`, if any.
    #[must_use]
    pub(crate) fn cache_control(&self, name: &[u8]) -> Option<String> {
        match self.immutable_max_age {
            Some(age) if is_hashed(name) => Some(format!("public, max-age={age}, immutable")),
            _ => self.max_age.map(|age| format!("public, max-age={age}")),
        }
    }
}

/// Whether a file name carries a content hash: a dot-separated part of
/// exactly 12 lowercase hex digits with a part before and after it
/// (`app.0123456789ab.js`, `app.0123456789ab.css.map`), as Django's
/// `ManifestStaticFilesStorage` and whitenoise name files.
#[must_use]
pub(crate) fn is_hashed(name: &[u8]) -> bool {
    let parts: Vec<&[u8]> = name.split(|&b| b == b'.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1].iter().any(|p| {
            p.len() == 12
                && p.iter()
                    .all(|&b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The headers of one version of one served file (the file itself or a
/// compressed sibling).
#[derive(Debug)]
pub(crate) struct Entry {
    /// The length and time it was made from.
    pub(crate) meta: Meta,
    /// The strong entity tag, quoted.
    pub(crate) etag: String,
    /// `Last-Modified` in seconds since the epoch.
    pub(crate) modified: u64,
    /// The 200 and 206 headers, but `Content-Length` and `Content-Range`.
    pub(crate) head: Vec<Py<PyTuple>>,
    /// The 304 headers (§15.4.5: those a 200 would have sent of
    /// `Cache-Control`, `ETag`, `Vary`).
    pub(crate) not_modified: Vec<Py<PyTuple>>,
    /// `("Content-Length", len)` of the whole file.
    pub(crate) full_length: Py<PyTuple>,
    /// The served file's path, for `environ['rswsgi.static']`.
    pub(crate) path: Py<PyString>,
}

/// The strong entity tag of a file version: modification time in
/// nanoseconds and length, in hex, and the coding of a sibling, so that
/// each encoding has its own tag (§8.8.3.3). It does not include the inode,
/// so every server sharing a copy of the folder gives the same tag.
#[must_use]
pub(crate) fn etag(meta: &Meta, coding: Option<Coding>) -> String {
    let ns = meta
        .mtime
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    match coding {
        Some(c) => format!("\"{ns:x}-{:x}-{}\"", meta.len, c.token()),
        None => format!("\"{ns:x}-{:x}\"", meta.len),
    }
}

fn pair(py: Python<'_>, name: &str, value: &str) -> PyResult<Py<PyTuple>> {
    Ok(PyTuple::new(py, [name, value])?.unbind())
}

impl Entry {
    /// Builds the headers of a file `meta` served for the name `name`,
    /// encoded with `coding`, found at `path`.
    ///
    /// # Errors
    /// Only what CPython raises (out of memory).
    pub(crate) fn build(
        py: Python<'_>,
        policy: &Policy,
        name: &[u8],
        meta: Meta,
        coding: Option<Coding>,
        path: &str,
    ) -> PyResult<Self> {
        let etag = etag(&meta, coding);
        let modified = seconds(meta.mtime);
        let last_modified = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(modified));
        let e = pair(py, "ETag", &etag)?;
        let cc = policy
            .cache_control(name)
            .map(|v| pair(py, "Cache-Control", &v))
            .transpose()?;
        let vary = pair(py, "Vary", "Accept-Encoding")?;
        let mut head = vec![
            pair(py, "Content-Type", &policy.content_type(name))?,
            e.clone_ref(py),
            pair(py, "Last-Modified", &last_modified)?,
        ];
        head.extend(cc.as_ref().map(|t| t.clone_ref(py)));
        head.push(vary.clone_ref(py));
        if let Some(c) = coding {
            head.push(pair(py, "Content-Encoding", c.token())?);
        }
        head.push(pair(py, "Accept-Ranges", "bytes")?);
        let mut not_modified = vec![e];
        not_modified.extend(cc);
        not_modified.push(vary);
        Ok(Self {
            meta,
            etag,
            modified,
            head,
            not_modified,
            full_length: pair(py, "Content-Length", &meta.len.to_string())?,
            path: PyString::new(py, path).unbind(),
        })
    }
}

/// The entries of one mount, by the served file's relative path.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<Box<[u8]>, Arc<Entry>>>,
}

impl Cache {
    /// The entry for `rel` when it was made from `meta`, else one made by
    /// `build` (and kept). The lock is never held while Python runs:
    /// `build` runs outside it.
    ///
    /// # Errors
    /// What `build` raises.
    pub(crate) fn get(
        &self,
        rel: &[u8],
        meta: &Meta,
        build: impl FnOnce() -> PyResult<Entry>,
    ) -> PyResult<Arc<Entry>> {
        let lock = || self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = lock().get(rel) {
            if entry.meta == *meta {
                return Ok(Arc::clone(entry));
            }
        }
        let entry = Arc::new(build()?);
        let mut entries = lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(rel.into(), Arc::clone(&entry));
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        for (name, want) in [
            (&b"app.0123456789ab.js"[..], true),
            (b"app.0123456789ab.css.map", true),
            (b"a.b.abcdefabcdef.png", true),
            (b"0123456789ab.js", false),
            (b"app.0123456789ab", false),
            (b"app.0123456789AB.js", false),
            (b"app.0123456789a.js", false),
            (b"app.0123456789abc.js", false),
            (b"app.js", false),
        ] {
            assert_eq!(is_hashed(name), want, "{}", String::from_utf8_lossy(name));
        }
    }

    #[test]
    fn media_types_and_cache_control() {
        let mut policy = Policy {
            max_age: Some(60),
            immutable_max_age: Some(IMMUTABLE_MAX_AGE),
            ..Policy::default()
        };
        for (name, want) in [
            (&b"app.css"[..], "text/css; charset=utf-8"),
            (b"app.JS", "text/javascript; charset=utf-8"),
            (b"mod.mjs", "application/javascript; charset=utf-8"),
            (b"a.png", "image/png"),
            (b"a.svg", "image/svg+xml"),
            (b"a.json", "application/json"),
            (b"a.wasm", "application/wasm"),
            (b"LICENSE", "application/octet-stream"),
            (b"a.unknown-ext", "application/octet-stream"),
        ] {
            assert_eq!(
                policy.content_type(name),
                want,
                "{}",
                String::from_utf8_lossy(name)
            );
        }
        policy.media_types.insert("foo".into(), "text/x-foo".into());
        assert_eq!(policy.content_type(b"a.FOO"), "text/x-foo; charset=utf-8");
        assert_eq!(
            policy.cache_control(b"a.css").as_deref(),
            Some("public, max-age=60")
        );
        assert_eq!(
            policy.cache_control(b"a.0123456789ab.css").as_deref(),
            Some("public, max-age=31536000, immutable")
        );
        policy.immutable_max_age = None;
        assert_eq!(
            policy.cache_control(b"a.0123456789ab.css").as_deref(),
            Some("public, max-age=60")
        );
        policy.max_age = None;
        assert_eq!(policy.cache_control(b"a.css"), None);
    }

    #[test]
    fn etags_differ_by_coding_and_version() {
        let meta = Meta {
            kind: super::super::fs::Kind::File,
            len: 10,
            mtime: UNIX_EPOCH + std::time::Duration::new(1, 5),
        };
        assert_eq!(etag(&meta, None), "\"3b9aca05-a\"");
        assert_eq!(etag(&meta, Some(Coding::Br)), "\"3b9aca05-a-br\"");
        let later = Meta {
            mtime: meta.mtime + std::time::Duration::from_nanos(1),
            ..meta
        };
        assert_ne!(etag(&meta, None), etag(&later, None));
    }
}
