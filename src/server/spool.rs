//! [Stage 3](super): Where a request body goes while it arrives: memory up to
//! `Limits::max_in_memory_body_bytes`, then an anonymous temporary file
//! (`tempfile::tempfile`: unlinked at creation, so nothing is left behind
//! even if the process dies), so uploads of any allowed size cost bounded
//! memory.

use std::fs::File;
use std::io::{self, Seek, Write};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::input::Input;

/// A request body being received.
#[derive(Debug, Default)]
pub(crate) struct Spool {
    /// Decoded bytes not yet in the file (the whole body while it is small).
    pub(crate) mem: Vec<u8>,
    file: Option<File>,
    in_file: u64,
}

impl Spool {
    /// Body bytes received so far.
    #[must_use]
    pub(crate) fn len(&self) -> u64 {
        self.in_file + self.mem.len() as u64
    }

    /// Moves what is in memory to the file once the body is past
    /// `threshold` bytes (creating the file the first time).
    ///
    /// # Errors
    /// When the temporary file cannot be created or written (disk full).
    pub(crate) fn settle(&mut self, threshold: u64) -> io::Result<()> {
        if self.file.is_none() && self.mem.len() as u64 <= threshold {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile()?),
        };
        file.write_all(&self.mem)?;
        self.in_file += self.mem.len() as u64;
        self.mem.clear();
        Ok(())
    }

    /// The received body as `wsgi.input` (and its length in bytes). An
    /// empty body gets `empty`, an [`Input`] over `b""` shared by such
    /// requests: it has no state a read could change (every read returns
    /// `b""`), so sharing it saves an object per request.
    ///
    /// Free threading: not shared on a free-threaded build. A read borrows
    /// the `Input` mutably (PyO3's check), and an app may read an earlier
    /// request's `wsgi.input` on another thread while the next request reads
    /// its own: with the GIL those reads take turns, without it the second
    /// would get `RuntimeError: Already borrowed`.
    ///
    /// # Errors
    /// When the temporary file cannot be rewound, or the `Input` object
    /// cannot be allocated.
    pub(crate) fn into_input<'py>(
        self,
        py: Python<'py>,
        empty: &Py<Input>,
    ) -> PyResult<(Bound<'py, Input>, usize)> {
        let len = usize::try_from(self.len()).unwrap_or(usize::MAX);
        let input = match self.file {
            None if self.mem.is_empty() && !cfg!(Py_GIL_DISABLED) => {
                return Ok((empty.bind(py).clone(), 0));
            }
            None => Input::new(PyBytes::new(py, &self.mem)),
            Some(mut file) => {
                file.write_all(&self.mem)?;
                file.rewind()?;
                Input::from_file(file, len)
            }
        };
        Ok((Bound::new(py, input)?, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_stays_in_memory_large_spills() {
        let mut s = Spool::default();
        s.mem.extend_from_slice(b"abc");
        s.settle(3).unwrap();
        assert!(s.file.is_none());
        s.mem.extend_from_slice(b"d");
        s.settle(3).unwrap();
        assert!(s.file.is_some() && s.mem.is_empty());
        s.mem.extend_from_slice(b"e");
        s.settle(3).unwrap();
        assert_eq!(s.len(), 5);
        Python::attach(|py| {
            let empty = Py::new(py, Input::new(PyBytes::new(py, b""))).unwrap();
            let (input, len) = s.into_input(py, &empty).unwrap();
            assert_eq!(len, 5);
            assert!(!input.is(&empty));
            let all: Vec<u8> = input.call_method0("read").unwrap().extract().unwrap();
            assert_eq!(all, b"abcde");
            // Empty bodies share `empty`; reads from it always give b"".
            for _ in 0..2 {
                let (input, len) = Spool::default().into_input(py, &empty).unwrap();
                assert!(input.is(&empty) && len == 0);
                for m in ["read", "readline"] {
                    let got: Vec<u8> = input.call_method0(m).unwrap().extract().unwrap();
                    assert!(got.is_empty());
                }
                let lines: Vec<Vec<u8>> =
                    input.call_method0("readlines").unwrap().extract().unwrap();
                assert!(lines.is_empty());
            }
            // A small non-empty body gets its own stream.
            let mut s = Spool::default();
            s.mem.extend_from_slice(b"x");
            let (input, len) = s.into_input(py, &empty).unwrap();
            assert!(!input.is(&empty) && len == 1);
        });
    }
}
