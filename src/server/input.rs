//! `wsgi.input`: the request body as a binary stream (PEP 3333 "Input and
//! Error Streams").
//!
//! The event loop has read the whole body before the app runs, so no call
//! here ever touches a socket; reads stop at the end of the body (the stream
//! is "bounded by the body"). A small body is a `bytes` object; a body past
//! `Limits::max_in_memory_body_bytes` is an anonymous temporary file, read
//! a piece at a time, so a 1 GB upload never sits in memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// Where the body is.
#[derive(Debug)]
enum Source {
    /// Held in memory.
    Bytes(Py<PyBytes>),
    /// Spilled to a temporary file (positioned at the start of the body).
    File(BufReader<File>),
}

/// `wsgi.input`: the request body, already received in full.
///
/// A read-only binary stream with `read`, `readline`, `readlines` and
/// iteration (PEP 3333 "Input and Error Streams"). Reading past the end
/// returns `b''`; nothing waits on the network. Raises `OSError` only if the
/// temporary file holding a large body cannot be read.
/// Requests without a body share one empty `Input`: every read of it
/// returns `b''`, so it has no state to share (not on a free-threaded
/// build: see `Spool::into_input`).
///
/// Free threading: not frozen; PyO3 borrow-checks every access (atomically
/// on a free-threaded build), so two threads reading one `Input` at once
/// get `RuntimeError`, never a data race.
#[pyclass(module = "rswsgi._rswsgi", name = "Input")]
#[derive(Debug)]
pub(crate) struct Input {
    source: Source,
    len: usize,
    pos: usize,
}

impl Input {
    /// A stream over `body`.
    #[must_use]
    pub(crate) fn new(body: Bound<'_, PyBytes>) -> Self {
        Self {
            len: body.as_bytes().len(),
            source: Source::Bytes(body.unbind()),
            pos: 0,
        }
    }

    /// A stream over the first `len` bytes of `file`, which must be
    /// positioned at its start.
    #[must_use]
    pub(crate) fn from_file(file: File, len: usize) -> Self {
        Self {
            source: Source::File(BufReader::with_capacity(64 * 1024, file)),
            len,
            pos: 0,
        }
    }

    /// The next `n` bytes (at most the rest) as a new bytes object; the
    /// whole in-memory body unread is returned without a copy.
    fn take<'py>(
        &mut self,
        py: Python<'py>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let rest = self.len - self.pos;
        let n = limit.map_or(rest, |l| l.min(rest));
        let out = match &mut self.source {
            Source::Bytes(body) => {
                let body = body.bind(py);
                if self.pos == 0 && n == self.len {
                    body.clone()
                } else {
                    PyBytes::new(py, &body.as_bytes()[self.pos..self.pos + n])
                }
            }
            Source::File(file) => {
                PyBytes::new_with(py, n, |buf| file.read_exact(buf).map_err(PyErr::from))?
            }
        };
        self.pos += n;
        Ok(out)
    }

    /// One line (up to and including `\n`), at most `limit` bytes.
    fn line<'py>(
        &mut self,
        py: Python<'py>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let rest = self.len - self.pos;
        let max = limit.map_or(rest, |l| l.min(rest));
        match &mut self.source {
            Source::Bytes(body) => {
                let data = &body.bind(py).as_bytes()[self.pos..self.pos + max];
                let n = data
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |i| i + 1);
                self.take(py, Some(n))
            }
            Source::File(file) => {
                let mut line = Vec::new();
                file.by_ref()
                    .take(max as u64)
                    .read_until(b'\n', &mut line)?;
                self.pos += line.len();
                Ok(PyBytes::new(py, &line))
            }
        }
    }
}

/// A negative or `None` size means "no limit" (the `io` convention).
fn size_limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

#[pymethods]
impl Input {
    /// `read(size=-1, /) -> bytes`: up to `size` bytes, or the rest of the
    /// body when `size` is negative or `None`; `b''` at the end.
    #[pyo3(signature = (size = -1, /))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        self.take(py, size_limit(size))
    }

    /// `readline(size=-1, /) -> bytes`: one line including its `\n`, at most
    /// `size` bytes when `size` is not negative; `b''` at the end.
    #[pyo3(signature = (size = -1, /))]
    fn readline<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<isize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.line(py, size_limit(size))
    }

    /// `readlines(hint=-1, /) -> list[bytes]`: the remaining lines; stops
    /// once `hint` bytes have been read when `hint` is positive (`io`).
    #[pyo3(signature = (hint = -1, /))]
    fn readlines<'py>(
        &mut self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hint = size_limit(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.line(py, None)?;
            let n = line.as_bytes().len();
            if n == 0 {
                break;
            }
            lines.append(line)?;
            total += n;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(lines)
    }

    /// `iter(input)` yields lines, as `readline()` does.
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next line; `StopIteration` at the end of the body.
    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.line(py, None)?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }

    /// `True`: the body can be read (for `io`-style callers).
    #[staticmethod]
    fn readable() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_by_the_body() {
        Python::attach(|py| {
            let body = PyBytes::new(py, b"one\ntwo\nthree");
            let input = Bound::new(py, Input::new(body.clone())).unwrap();
            let call = |m: &str, a: isize| -> Vec<u8> {
                input.call_method1(m, (a,)).unwrap().extract().unwrap()
            };
            assert_eq!(call("read", 2), b"on");
            assert_eq!(call("readline", -1), b"e\n");
            assert_eq!(call("readline", 2), b"tw");
            assert_eq!(call("read", -1), b"o\nthree");
            assert_eq!(call("read", -1), b"");
            assert_eq!(call("readline", -1), b"");
            // Whole-body read hands back the same object (no copy).
            let fresh = Bound::new(py, Input::new(body.clone())).unwrap();
            assert!(fresh.call_method0("read").unwrap().is(&body));
            let fresh = Bound::new(py, Input::new(body.clone())).unwrap();
            let lines: Vec<Vec<u8>> = fresh
                .call_method1("readlines", (5,))
                .unwrap()
                .extract()
                .unwrap();
            assert_eq!(lines, vec![b"one\n".to_vec(), b"two\n".to_vec()]);
            let fresh = Bound::new(py, Input::new(body)).unwrap();
            let lines: Vec<Vec<u8>> = fresh
                .try_iter()
                .unwrap()
                .map(|l| l.unwrap().extract().unwrap())
                .collect();
            assert_eq!(lines.len(), 3);
        });
    }

    #[test]
    fn a_spilled_body_reads_the_same() {
        use std::io::{Seek, Write};
        Python::attach(|py| {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(b"one\ntwo\nthree").unwrap();
            f.rewind().unwrap();
            let input = Bound::new(py, Input::from_file(f, 13)).unwrap();
            let call = |m: &str, a: isize| -> Vec<u8> {
                input.call_method1(m, (a,)).unwrap().extract().unwrap()
            };
            assert_eq!(call("read", 2), b"on");
            assert_eq!(call("readline", -1), b"e\n");
            assert_eq!(call("readline", 2), b"tw");
            let lines: Vec<Vec<u8>> = input.call_method0("readlines").unwrap().extract().unwrap();
            assert_eq!(lines, vec![b"o\n".to_vec(), b"three".to_vec()]);
            assert_eq!(call("read", -1), b"");
            // Data past the body's length in the file is never returned.
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(b"abcNEXT").unwrap();
            f.rewind().unwrap();
            let input = Bound::new(py, Input::from_file(f, 3)).unwrap();
            let rest: Vec<u8> = input.call_method0("read").unwrap().extract().unwrap();
            assert_eq!(rest, b"abc");
        });
    }
}
