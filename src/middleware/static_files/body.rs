//! The response body: a read-only file-like over one byte range of an open
//! file. It is handed to `wsgi.file_wrapper` (PEP 3333 "Optional
//! Platform-Specific File Handling") so that servers which `sendfile`
//! (rswsgi's, gunicorn's) find a real descriptor, a `tell()` at the range's
//! first byte and the `Content-Length` to stop at; servers that read
//! instead (waitress, wsgiref's `FileWrapper`) get `read()`s that stop at
//! the range's end; with no `wsgi.file_wrapper` it is iterated in blocks.
//! No more than one block is ever in memory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Bytes per block when the body is iterated (and the block size passed
/// to `wsgi.file_wrapper`).
pub(crate) const BLOCK_BYTES: usize = 64 * 1024;

/// `_FileRange`: bytes `start..end` of a file, as a binary file-like
/// object (`read`, `seek`, `tell`, `fileno`, `close`) and as an iterable of
/// blocks of 64 KiB. Positions are the file's own offsets (so `tell()`
/// starts at `start` and the descriptor's offset is kept equal to it);
/// `read()` stops at `end`, and `seek(0, 2)` goes to `end`.
#[pyclass(module = "rswsgi._rswsgi", name = "_FileRange")]
#[derive(Debug)]
pub(crate) struct FileRange {
    /// `None` once closed.
    file: Option<File>,
    pos: u64,
    end: u64,
}

impl FileRange {
    /// Bytes `start..end` of `file`, whose offset is moved to `start`.
    ///
    /// # Errors
    /// The OS error of the seek.
    pub(crate) fn new(mut file: File, start: u64, end: u64) -> io::Result<Self> {
        if start != 0 {
            file.seek(SeekFrom::Start(start))?;
        }
        Ok(Self {
            file: Some(file),
            pos: start,
            end,
        })
    }

    /// Up to `size` bytes, or all that is left of the range.
    fn read_up_to<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<u64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let left = self.end.saturating_sub(self.pos);
        let want = size.map_or(left, |s| s.min(left));
        let want = usize::try_from(want).map_err(|_| PyValueError::new_err("read too large"))?;
        let file = self.file()?;
        let buf = py
            .detach(|| {
                let mut buf = Vec::with_capacity(want);
                file.take(want as u64).read_to_end(&mut buf).map(|_| buf)
            })
            .map_err(PyOSError::new_err)?;
        self.pos += buf.len() as u64;
        Ok(PyBytes::new(py, &buf))
    }

    fn file(&mut self) -> PyResult<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("I/O operation on closed file"))
    }
}

#[pymethods]
impl FileRange {
    /// Up to `size` bytes (all that is left of the range when `size` is
    /// negative or omitted); `b""` at the range's end. The GIL is released
    /// while the file is read.
    #[pyo3(signature = (size = -1))]
    fn read<'py>(&mut self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        self.read_up_to(py, u64::try_from(size).ok())
    }

    /// Moves to `offset` from the file's start (`whence=0`), the current
    /// position (1) or the range's end (2); returns the new position.
    #[pyo3(signature = (offset, whence = 0))]
    fn seek(&mut self, offset: i64, whence: i32) -> PyResult<u64> {
        let base = match whence {
            0 => 0,
            1 => self.pos,
            2 => self.end,
            _ => return Err(PyValueError::new_err(format!("invalid whence ({whence})"))),
        };
        let pos = base
            .checked_add_signed(offset)
            .ok_or_else(|| PyValueError::new_err(format!("negative seek position {offset}")))?;
        self.file()?
            .seek(SeekFrom::Start(pos))
            .map_err(PyOSError::new_err)?;
        self.pos = pos;
        Ok(pos)
    }

    /// The current position (an offset in the file).
    fn tell(&mut self) -> PyResult<u64> {
        self.file()?;
        Ok(self.pos)
    }

    /// The file descriptor (for `sendfile`).
    fn fileno(&mut self) -> PyResult<i64> {
        let file = self.file()?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            Ok(i64::from(file.as_raw_fd()))
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            Err(PyOSError::new_err("no file descriptor on this platform"))
        }
    }

    /// True: the range can be read.
    #[allow(clippy::unused_self)] // io.RawIOBase's signature
    fn readable(&self) -> bool {
        true
    }

    /// True: positions can be set with `seek`.
    #[allow(clippy::unused_self)] // io.RawIOBase's signature
    fn seekable(&self) -> bool {
        true
    }

    /// Closes the file (again: nothing).
    fn close(&mut self) {
        self.file = None;
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.file.is_none()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next block of up to 64 KiB; `StopIteration` at the range's end.
    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let block = self.read_up_to(py, Some(BLOCK_BYTES as u64))?;
        Ok((!block.as_bytes().is_empty()).then_some(block))
    }
}
