//! `wsgi.input`: the request body as a binary stream (PEP 3333 "Input and
//! Error Streams").
//!
//! The event loop has read the whole body before the app runs, so no call
//! here ever blocks or touches a socket; reads stop at the end of the body
//! (the stream is "bounded by the body").

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// `wsgi.input`: the request body, already received in full.
///
/// A read-only binary stream with `read`, `readline`, `readlines` and
/// iteration (PEP 3333 "Input and Error Streams"). Reading past the end
/// returns `b''`; nothing blocks.
#[pyclass(module = "rswsgi._rswsgi", name = "Input")]
#[derive(Debug)]
pub struct Input {
    body: Py<PyBytes>,
    pos: usize,
}

impl Input {
    /// A stream over `body`.
    #[must_use]
    pub fn new(body: Bound<'_, PyBytes>) -> Self {
        Self {
            body: body.unbind(),
            pos: 0,
        }
    }

    /// The next `n` bytes (at most the rest) as a new bytes object; the
    /// whole body unread is returned without a copy.
    fn take<'py>(&mut self, py: Python<'py>, limit: Option<usize>) -> Bound<'py, PyBytes> {
        let body = self.body.bind(py);
        let data = body.as_bytes();
        let rest = data.len() - self.pos;
        let n = limit.map_or(rest, |l| l.min(rest));
        if self.pos == 0 && n == data.len() {
            self.pos = n;
            return body.clone();
        }
        let out = PyBytes::new(py, &data[self.pos..self.pos + n]);
        self.pos += n;
        out
    }

    /// Bytes up to and including the next `\n`, at most `limit`.
    fn line_len(&self, py: Python<'_>, limit: Option<usize>) -> usize {
        let rest = &self.body.bind(py).as_bytes()[self.pos..];
        let rest = &rest[..limit.map_or(rest.len(), |l| l.min(rest.len()))];
        rest.iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1)
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
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> Bound<'py, PyBytes> {
        self.take(py, size_limit(size))
    }

    /// `readline(size=-1, /) -> bytes`: one line including its `\n`, at most
    /// `size` bytes when `size` is not negative; `b''` at the end.
    #[pyo3(signature = (size = -1, /))]
    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> Bound<'py, PyBytes> {
        let n = self.line_len(py, size_limit(size));
        self.take(py, Some(n))
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
            let n = self.line_len(py, None);
            if n == 0 {
                break;
            }
            lines.append(self.take(py, Some(n)))?;
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
    fn __next__<'py>(&mut self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let n = self.line_len(py, None);
        (n > 0).then(|| self.take(py, Some(n)))
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
}
