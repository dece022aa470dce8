//! `static_files`: files under URL prefixes answered from Rust, everything
//! else passed to the app.
//!
//! The request path goes through [`path`] (which mount, which relative
//! path, refusals), [`fs`] (opening under the folder only), [`coding`] and
//! [`siblings`] (precompressed siblings), [`entry`] (headers, cached per
//! file version) and [`conditional`] (304, 412, 206, 416); `respond` puts
//! them together, `short` writes the short text answers (301, 405, 412,
//! 416) and [`body`] is the response body handed to `wsgi.file_wrapper`.

pub(crate) mod body;
pub(crate) mod coding;
pub(crate) mod conditional;
pub(crate) mod entry;
pub(crate) mod fs;
pub(crate) mod path;
mod respond;
mod short;
pub(crate) mod siblings;

use std::collections::HashMap;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::glue::{middleware_class, Call, Middleware};
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::repr_or_type;
use entry::{Cache, Policy};

/// One URL prefix and its folder.
#[derive(Debug)]
struct Mount {
    /// Normalised ([`path::normalise_prefix`]): `/static`; `` for `/`.
    prefix: String,
    /// The folder, made absolute when the middleware was made.
    dir: PathBuf,
    /// The folder, kept open between requests.
    folder: fs::Folder,
    /// Headers of the files served from it.
    cache: Cache,
    /// The precompressed siblings of its files.
    siblings: siblings::Siblings,
}

/// WSGI middleware: `static_files(app, mounts, *, max_age=60,
/// immutable_max_age=31536000, index_file='index.html', allow_hidden=False,
/// mimetypes=None)`.
///
/// `mounts` maps URL prefixes to folders (`{"/static": "static"}`; a
/// folder is a `str` or `os.PathLike`, made absolute now; the longest
/// matching prefix decides). A GET or HEAD whose `PATH_INFO` names a
/// regular file under a prefix is answered from the file; every other
/// request, a missing file included, goes to `app` unchanged.
///
/// HTTP (RFC 9110): `Content-Type` from the extension (`mimetypes`, a
/// `{".ext": "type"}` mapping, first; then the `mime_guess` table;
/// `; charset=utf-8` on text), `Content-Length`, a strong `ETag` and
/// `Last-Modified` (§8.8), `Accept-Ranges: bytes`, `Vary: Accept-Encoding`;
/// `If-Match`/`If-Unmodified-Since` → 412, `If-None-Match`/
/// `If-Modified-Since` → 304, in §13.2.2's order; one byte range → 206
/// with `Content-Range`, an unsatisfiable one → 416 with
/// `Content-Range: bytes */size`, honouring `If-Range`; several ranges →
/// the whole file with 200 (§14.2 lets a server ignore `Range`). A sibling
/// `file.br`, `file.zst` or `file.gz`, no older than `file`, is sent with
/// `Content-Encoding` when `Accept-Encoding` allows it (q-values honoured;
/// br, zstd, gzip on ties). Another method on an existing file → 405 with
/// `Allow: GET, HEAD`. A folder with an `index_file` is served at its
/// path with a trailing slash; without the slash → 301 to it.
/// `Cache-Control`: `public, max-age=<max_age>` (seconds; `None`: no
/// header), and `public, max-age=<immutable_max_age>, immutable` for a name
/// with a 12-hex-digit content hash before its extension
/// (`app.0123456789ab.js`; `None`: no such rule).
///
/// Safety: `..`, `.` and empty segments, backslashes, NUL and (on Windows)
/// `:` are refused, and the file is opened so that no symlink leads out of
/// the folder (`openat2` with `RESOLVE_BENEATH` on Linux). Hidden names
/// (`.env`, `.git/`) are refused unless `allow_hidden=True`. A refused
/// path is treated as a missing file: it goes to `app` (which typically
/// answers 404), never 403, so nothing says whether the file exists.
///
/// The body is `environ['wsgi.file_wrapper'](file, 65536)` when the server
/// offers one (rswsgi's and gunicorn's send it with `sendfile`), else an
/// iterable of 64 KiB blocks. Headers are cached per file and checked
/// against its length and mtime on every request. Every answer sets
/// `environ['rswsgi.static']` to the served file's path (the dev server's
/// access log marks such lines `static`).
///
/// Raises `TypeError` when `app` is not callable or an argument has the
/// wrong type, and `ValueError` naming the argument for a prefix not
/// starting with `/`, a folder that does not exist, a negative age or an
/// `index_file` that is not a plain file name.
#[pyclass(module = "rswsgi._rswsgi", name = "static_files", frozen)]
pub(crate) struct StaticFiles {
    app: Py<PyAny>,
    vectorcall: vectorcall::Slot<Self>,
    /// Longest prefix first.
    mounts: Vec<Mount>,
    policy: Policy,
    index_file: Option<String>,
    allow_hidden: bool,
}

middleware_class!(@methods StaticFiles, "static_files", [
    #[new]
    #[pyo3(
        signature = (
            app, mounts, *, max_age = Some(60), immutable_max_age = Some(31_536_000),
            index_file = Some(String::from("index.html")), allow_hidden = false, mimetypes = None
        ),
        text_signature = "(app, mounts, *, max_age=60, immutable_max_age=31536000, \
                          index_file='index.html', allow_hidden=False, mimetypes=None)"
    )]
    fn new(
        app: Bound<'_, PyAny>,
        mounts: &Bound<'_, PyAny>,
        max_age: Option<i64>,
        immutable_max_age: Option<i64>,
        index_file: Option<String>,
        allow_hidden: bool,
        mimetypes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let app = crate::middleware::glue::check_app(app)?;
        let policy = Policy {
            max_age: age("max_age", max_age)?,
            immutable_max_age: age("immutable_max_age", immutable_max_age)?,
            media_types: mimetypes.map(media_types).transpose()?.unwrap_or_default(),
        };
        if let Some(name) = &index_file {
            check_index_file(name)?;
        }
        Ok(Self {
            app: app.unbind(),
            vectorcall: vectorcall::Slot::default(),
            mounts: read_mounts(mounts)?,
            policy,
            index_file,
            allow_hidden,
        })
    }
]);

fn bad(name: &'static str, value: String, why: &'static str) -> PyErr {
    Error::BadArgument { name, value, why }.into()
}

fn age(name: &'static str, value: Option<i64>) -> PyResult<Option<u64>> {
    value
        .map(|v| u64::try_from(v).map_err(|_| bad(name, v.to_string(), "must be >= 0 (seconds)")))
        .transpose()
}

fn check_index_file(name: &str) -> PyResult<()> {
    let plain =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(())
    } else {
        Err(bad(
            "index_file",
            format!("{name:?}"),
            "must be a plain file name (no '/', '\\' or NUL; not '.' or '..')",
        ))
    }
}

/// `{".ext": "type/subtype"}` as a table by lower-cased extension.
fn media_types(mapping: &Bound<'_, PyAny>) -> PyResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    for item in mapping.call_method0("items")?.try_iter()? {
        let (ext, media): (String, String) = item?.extract()?;
        let ext = ext.strip_prefix('.').unwrap_or(&ext).to_ascii_lowercase();
        out.insert(ext, media);
    }
    Ok(out)
}

/// The mounts, checked and normalised, longest prefix first.
fn read_mounts(mounts: &Bound<'_, PyAny>) -> PyResult<Vec<Mount>> {
    let mut out: Vec<Mount> = Vec::new();
    for item in mounts.call_method0("items")?.try_iter()? {
        let (prefix, folder): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let shown = || format!("{{{}: {}}}", repr_or_type(&prefix), repr_or_type(&folder));
        let given = prefix.cast::<PyString>()?.to_str()?.to_owned();
        let prefix = path::normalise_prefix(&given).map_err(|why| bad("mounts", shown(), why))?;
        let dir: PathBuf = folder.extract()?;
        let dir = std::path::absolute(&dir).map_err(|_| bad("mounts", shown(), "not a folder"))?;
        if !dir.is_dir() {
            return Err(bad("mounts", shown(), "the folder does not exist"));
        }
        if out.iter().any(|m| m.prefix == prefix) {
            return Err(bad(
                "mounts",
                shown(),
                "two mounts have the same URL prefix",
            ));
        }
        out.push(Mount {
            prefix: prefix.to_owned(),
            dir,
            folder: fs::Folder::default(),
            cache: Cache::default(),
            siblings: siblings::Siblings::default(),
        });
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
    Ok(out)
}

impl Middleware for StaticFiles {
    fn call<'py>(&self, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
        respond::call(self, call)
    }

    fn repr_options(&self, py: Python<'_>) -> String {
        let repr = |s: &str| repr_or_type(PyString::new(py, s).as_any());
        let mounts: Vec<String> = self
            .mounts
            .iter()
            .map(|m| {
                let prefix = if m.prefix.is_empty() { "/" } else { &m.prefix };
                format!("{}: {}", repr(prefix), repr(&m.dir.display().to_string()))
            })
            .collect();
        let opt = |v: Option<u64>| v.map_or_else(|| "None".to_owned(), |v| v.to_string());
        let index = self
            .index_file
            .as_deref()
            .map_or_else(|| "None".to_owned(), repr);
        format!(
            ", {{{}}}, max_age={}, immutable_max_age={}, index_file={index}, allow_hidden={}",
            mounts.join(", "),
            opt(self.policy.max_age),
            opt(self.policy.immutable_max_age),
            if self.allow_hidden { "True" } else { "False" },
        )
    }
}
