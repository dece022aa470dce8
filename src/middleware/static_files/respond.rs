//! One request to `static_files`: find the file (GIL released), then
//! answer it or pass the request on.

use std::fs::File;
use std::path::Path;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::body::{FileRange, BLOCK_BYTES};
use super::coding::{accepted, Coding};
use super::conditional::{evaluate, Conditions, Outcome, Validators};
use super::entry::Entry;
use super::fs::{Kind, Meta, Root, Stamp};
use super::path::{latin1_bytes, lookup, under, Lookup};
use super::short::{method_not_allowed, plain, redirect_to_slash};
use super::siblings::slot;
use super::{Mount, StaticFiles};
use crate::middleware::glue::Call;

/// What the filesystem holds for a request.
enum Found {
    /// Nothing to serve: the request goes to the app.
    Missing,
    /// A folder with an index file, asked for without its trailing slash.
    FolderWithoutSlash,
    /// A regular file to serve.
    File(Served),
}

/// The file chosen for a request.
struct Served {
    file: File,
    meta: Meta,
    /// Its path relative to the folder (a sibling's, with its suffix).
    rel: Vec<u8>,
    /// Length of the asked-for file's relative path within `rel`.
    base_len: usize,
    coding: Option<Coding>,
}

/// Opens what `lk` names in `mount`: the file, or a folder's index file;
/// then the first sibling of `codings` that is a regular file no older
/// than it.
fn find(mount: &Mount, lk: Lookup<'_>, index: Option<&str>, codings: &[Coding]) -> Found {
    let Ok((root, root_stamp)) = mount.folder.root(&mount.dir) else {
        return Found::Missing;
    };
    let Ok(opened) = root.open_file(lk.rel) else {
        return Found::Missing;
    };
    let mut rel = lk.rel.to_vec();
    let base = match (opened.meta.kind, index) {
        (Kind::File, _) if !lk.slash => opened,
        (Kind::Dir, Some(index)) => {
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(index.as_bytes());
            match root.open_file(&rel) {
                Ok(page) if page.meta.kind == Kind::File => {
                    if !lk.slash {
                        return Found::FolderWithoutSlash;
                    }
                    page
                }
                _ => return Found::Missing,
            }
        }
        _ => return Found::Missing,
    };
    let base_len = rel.len();
    if !codings.is_empty() {
        if let Some(served) = sibling(mount, &root, root_stamp, &rel, &base.meta, codings) {
            return Found::File(served);
        }
    }
    Found::File(Served {
        file: base.file,
        meta: base.meta,
        rel,
        base_len,
        coding: None,
    })
}

/// The best of `codings` whose sibling of `rel` exists and is no older
/// than the file (`base`); what exists is remembered ([`Siblings`]).
fn sibling(
    mount: &Mount,
    root: &Root,
    root_stamp: Option<Stamp>,
    rel: &[u8],
    base: &Meta,
    codings: &[Coding],
) -> Option<Served> {
    let folder = match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => root.stamp(&rel[..i]),
        None => root_stamp,
    };
    let known = folder.and_then(|f| mount.siblings.get(rel, f, base));
    let open = |coding: Coding| {
        let mut path = rel.to_vec();
        path.extend_from_slice(coding.suffix());
        let opened = root.open_file(&path).ok()?;
        (opened.meta.kind == Kind::File).then_some((opened, path))
    };
    let fresh = |(opened, path): (super::fs::Opened, Vec<u8>), coding: Coding| {
        (opened.meta.mtime >= base.mtime).then(|| Served {
            file: opened.file,
            meta: opened.meta,
            rel: path,
            base_len: rel.len(),
            coding: Some(coding),
        })
    };
    if let Some(present) = known {
        return codings
            .iter()
            .filter(|&&c| present[slot(c)])
            .find_map(|&c| open(c).and_then(|o| fresh(o, c)));
    }
    // Not known: look for all three, remember which exist, serve the best.
    let mut found: [Option<(super::fs::Opened, Vec<u8>)>; 3] = Default::default();
    for coding in Coding::ALL {
        found[slot(coding)] = open(coding);
    }
    if let Some(f) = folder {
        mount
            .siblings
            .put(rel, f, *base, found.each_ref().map(Option::is_some));
    }
    codings
        .iter()
        .find_map(|&c| found[slot(c)].take().and_then(|o| fresh(o, c)))
}

/// `environ[key]` when it is a `str`.
pub(crate) fn text<'py>(
    environ: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyString>> {
    environ
        .get_item(key)
        .ok()
        .flatten()
        .and_then(|v| v.cast_into::<PyString>().ok())
}

/// The text of an optional field read with [`text`].
fn field_str<'a>(v: Option<&'a Bound<'_, PyString>>) -> Option<&'a str> {
    v.and_then(|v| v.to_str().ok())
}

/// [`StaticFiles`]'s WSGI call.
pub(crate) fn call<'py>(mw: &StaticFiles, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
    let py = call.environ.py();
    let Ok(environ) = call.environ.cast::<PyDict>() else {
        return call.pass_on();
    };
    let Some(path_info) = text(environ, intern!(py, "PATH_INFO")) else {
        return call.pass_on();
    };
    let Some(bytes) = path_info.to_str().ok().and_then(latin1_bytes) else {
        return call.pass_on();
    };
    let Some((mount, rest)) = mw
        .mounts
        .iter()
        .find_map(|m| under(&bytes, m.prefix.as_bytes()).map(|rest| (m, rest)))
    else {
        return call.pass_on();
    };
    let Ok(lk) = lookup(rest, mw.allow_hidden) else {
        return call.pass_on();
    };
    let method = text(environ, intern!(py, "REQUEST_METHOD"));
    let method = method
        .as_ref()
        .and_then(|m| m.to_str().ok())
        .unwrap_or("GET");
    let (get, head) = (method == "GET", method == "HEAD");
    let codings = match text(environ, intern!(py, "HTTP_ACCEPT_ENCODING")) {
        Some(field) if get || head => accepted(field.to_str()?),
        _ => Vec::new(),
    };
    let index = mw.index_file.as_deref();
    let found = py.detach(|| find(mount, lk, index, &codings));
    let served = match found {
        Found::Missing => return call.pass_on(),
        Found::FolderWithoutSlash if get || head => {
            mark(environ, &mount.dir, lk.rel)?;
            return redirect_to_slash(call, environ);
        }
        Found::FolderWithoutSlash => {
            mark(environ, &mount.dir, lk.rel)?;
            return method_not_allowed(call, head);
        }
        Found::File(served) => served,
    };
    if !(get || head) {
        mark(environ, &mount.dir, &served.rel)?;
        return method_not_allowed(call, head);
    }
    answer(mw, mount, call, environ, served, head)
}

/// Sets `environ['rswsgi.static']` for an answer without a cache entry.
fn mark(environ: &Bound<'_, PyDict>, dir: &Path, rel: &[u8]) -> PyResult<()> {
    let path = served_path(dir, rel);
    environ.set_item(intern!(environ.py(), "rswsgi.static"), path)
}

fn served_path(dir: &Path, rel: &[u8]) -> String {
    let rel = String::from_utf8_lossy(rel);
    if rel.is_empty() {
        dir.display().to_string()
    } else {
        dir.join(&*rel).display().to_string()
    }
}

fn answer<'py>(
    mw: &StaticFiles,
    mount: &Mount,
    call: &Call<'_, 'py>,
    environ: &Bound<'py, PyDict>,
    served: Served,
    head: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let py = environ.py();
    let Served {
        file,
        meta,
        rel,
        base_len,
        coding,
    } = served;
    let entry = mount.cache.get(&rel, &meta, || {
        let base = &rel[..base_len];
        let name = base.rsplit(|&b| b == b'/').next().unwrap_or(base);
        let path = served_path(&mount.dir, &rel);
        Entry::build(py, &mw.policy, name, meta, coding, &path)
    })?;
    environ.set_item(intern!(py, "rswsgi.static"), entry.path.bind(py))?;
    let field = |key: &Bound<'py, PyString>| text(environ, key);
    let (im, inm, ims, ius, range, if_range) = (
        field(intern!(py, "HTTP_IF_MATCH")),
        field(intern!(py, "HTTP_IF_NONE_MATCH")),
        field(intern!(py, "HTTP_IF_MODIFIED_SINCE")),
        field(intern!(py, "HTTP_IF_UNMODIFIED_SINCE")),
        field(intern!(py, "HTTP_RANGE")),
        field(intern!(py, "HTTP_IF_RANGE")),
    );
    let conditions = Conditions {
        if_match: field_str(im.as_ref()),
        if_none_match: field_str(inm.as_ref()),
        if_modified_since: field_str(ims.as_ref()),
        if_unmodified_since: field_str(ius.as_ref()),
        range: field_str(range.as_ref()),
        if_range: field_str(if_range.as_ref()),
        head,
    };
    let validators = Validators {
        etag: &entry.etag,
        modified: entry.modified,
        len: meta.len,
    };
    let headers = |extra: &[Bound<'py, PyTuple>]| -> PyResult<Bound<'py, PyList>> {
        let list = PyList::new(py, entry.head.iter().map(|t| t.bind(py)))?;
        for t in extra {
            list.append(t)?;
        }
        Ok(list)
    };
    match evaluate(&conditions, &validators) {
        Outcome::Full => {
            let list = headers(&[entry.full_length.bind(py).clone()])?;
            call.start_response.call1((intern!(py, "200 OK"), list))?;
            body(py, environ, file, 0, meta.len, head)
        }
        Outcome::Partial { start, end } => {
            let length = PyTuple::new(py, ["Content-Length", &(end - start + 1).to_string()])?;
            let range = format!("bytes {start}-{end}/{}", meta.len);
            let range = PyTuple::new(py, ["Content-Range", &range])?;
            let list = headers(&[length, range])?;
            call.start_response
                .call1((intern!(py, "206 Partial Content"), list))?;
            body(py, environ, file, start, end + 1, head)
        }
        Outcome::NotModified => {
            let list = PyList::new(py, entry.not_modified.iter().map(|t| t.bind(py)))?;
            call.start_response
                .call1((intern!(py, "304 Not Modified"), list))?;
            Ok(PyList::empty(py).into_any())
        }
        Outcome::PreconditionFailed => plain(call, "412 Precondition Failed", &[], head),
        Outcome::Unsatisfiable => {
            let range = format!("bytes */{}", meta.len);
            plain(
                call,
                "416 Range Not Satisfiable",
                &[("Content-Range", &range)],
                head,
            )
        }
    }
}

/// The body: bytes `start..end` of `file` through `wsgi.file_wrapper` when
/// the server offers one, else as an iterable of blocks; nothing for HEAD.
fn body<'py>(
    py: Python<'py>,
    environ: &Bound<'py, PyDict>,
    file: File,
    start: u64,
    end: u64,
    head: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if head {
        return Ok(PyList::empty(py).into_any());
    }
    let range = Bound::new(py, FileRange::new(file, start, end)?)?.into_any();
    match environ.get_item(intern!(py, "wsgi.file_wrapper"))? {
        Some(wrapper) if !wrapper.is_none() => wrapper.call1((range, BLOCK_BYTES)),
        _ => Ok(range),
    }
}
