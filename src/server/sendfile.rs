//! [Stage 8](super): `wsgi.file_wrapper` over a real file goes out with `sendfile(2)`
//! (PEP 3333 "Optional Platform-Specific File Handling"): the kernel copies
//! from the page cache to the socket, and Python's `read()` is never called.
//!
//! The file is reached through a duplicate of its descriptor taken when the
//! response starts, so the transfer does not depend on the Python object's
//! state; its `close()` is still called once, at the end, through the
//! application iterable. Other file-likes (`BytesIO`, sockets, pipes) and
//! other platforms use the ordinary iteration.

use std::fs::File;
use std::io;

use pyo3::intern;
use pyo3::prelude::*;

/// Largest single `sendfile` call, bytes (keeps one connection's turn short).
const MAX_SEND_BYTES: usize = 1024 * 1024;

/// The rest of a regular file to send.
#[derive(Debug)]
pub(crate) struct FileBody {
    file: File,
    offset: u64,
    left: u64,
}

impl FileBody {
    /// The unread part of `filelike` (from `tell()` to the end of the file)
    /// when it is a regular file with a working `fileno()`; `None` for
    /// anything else (the response is then iterated as usual).
    #[must_use]
    pub(crate) fn from_filelike(py: Python<'_>, filelike: &Bound<'_, PyAny>) -> Option<Self> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let fd = filelike
            .call_method0(intern!(py, "fileno"))
            .and_then(|f| f.extract::<i32>())
            .ok()?;
        let offset = filelike
            .call_method0(intern!(py, "tell"))
            .and_then(|t| t.extract::<u64>())
            .ok()?;
        let file = File::from(super::inherit::dup(i64::from(fd)).ok()?);
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(Self {
            file,
            offset,
            left: meta.len().saturating_sub(offset),
        })
    }

    /// Bytes still to send.
    #[must_use]
    pub(crate) fn left(&self) -> u64 {
        self.left
    }

    /// Sends no more than `limit` bytes in all (the response's
    /// `Content-Length`).
    pub(crate) fn truncate(&mut self, limit: u64) {
        self.left = self.left.min(limit);
    }

    /// One `sendfile` call to `sock`: `Ok(Some(n))` bytes sent, `Ok(None)`
    /// when the socket would block.
    ///
    /// # Errors
    /// The socket's error (the client went away), or `UnexpectedEof` when
    /// the file ended early (it shrank after the response started).
    #[cfg(target_os = "linux")]
    pub(crate) fn send_to(&mut self, sock: &impl std::os::fd::AsFd) -> io::Result<Option<usize>> {
        let want = usize::try_from(self.left).map_or(MAX_SEND_BYTES, |l| l.min(MAX_SEND_BYTES));
        loop {
            match rustix::fs::sendfile(sock, &self.file, Some(&mut self.offset), want) {
                Ok(0) if want > 0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.left -= n as u64;
                    return Ok(Some(n));
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Appends the next at most `max` bytes of the file to `out` (a
    /// positioned read: the file's own offset is untouched), for a socket
    /// where `sendfile` cannot be used (TLS: the kernel does not encrypt).
    /// Returns the bytes appended.
    ///
    /// # Errors
    /// The file's read error, or `UnexpectedEof` when the file ended early.
    #[cfg(unix)]
    pub(crate) fn read_into(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = usize::try_from(self.left).map_or(max, |l| l.min(max));
        let start = out.len();
        out.resize(start + want, 0);
        let got = loop {
            match self.file.read_at(&mut out[start..], self.offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let got = match got {
            Ok(0) if want > 0 => Err(io::ErrorKind::UnexpectedEof.into()),
            other => other,
        };
        out.truncate(start + got.as_ref().map_or(0, |&n| n));
        let n = got?;
        self.offset += n as u64;
        self.left -= n as u64;
        Ok(n)
    }

    /// Never called: [`FileBody::from_filelike`] gives `None` here.
    #[cfg(not(unix))]
    pub(crate) fn read_into(&mut self, _out: &mut Vec<u8>, _max: usize) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Never called: [`FileBody::from_filelike`] gives `None` here.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn send_to<T>(&mut self, _sock: &T) -> io::Result<Option<usize>> {
        Err(io::ErrorKind::Unsupported.into())
    }
}
