//! The application iterable (PEP 3333 "Specification Details"): its
//! chunks, and its `close()` called exactly once.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyIterator, PyList, PyTuple};

use super::type_name;
use crate::errors::Error;

/// The iterable an application returned, with its `close()` called exactly
/// once: by [`AppIter::close`], or on drop if nobody did (PEP 3333: "If the
/// iterable returned by the application has a close() method, the server or
/// gateway must call that method upon completion of the current request,
/// whether the request was completed normally, or terminated early due to an
/// application error during iteration or an early disconnect").
#[derive(Debug)]
pub(crate) struct AppIter {
    iterable: Py<PyAny>,
    cursor: Cursor,
    closed: bool,
}

/// Where iteration stands.
#[derive(Debug)]
enum Cursor {
    /// Nothing read yet.
    Start,
    /// An exact `list` or `tuple`, read by index: iterating it runs no
    /// Python code, so no iterator object is made (as `list_iterator`, the
    /// length is read again at each step).
    Index(usize),
    /// Any other iterable, through its iterator.
    Iter(Py<PyIterator>),
}

impl AppIter {
    /// Wraps what the application returned. Nothing is iterated yet.
    #[must_use]
    pub(crate) fn new(iterable: Bound<'_, PyAny>) -> Self {
        Self {
            iterable: iterable.unbind(),
            cursor: Cursor::Start,
            closed: false,
        }
    }

    /// The iterable as returned by the application.
    #[must_use]
    pub(crate) fn iterable<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.iterable.bind(py)
    }

    /// The next body chunk, or `None` at the end (or after close).
    ///
    /// # Errors
    /// What the application's iterator raised; `TypeError` for a chunk that
    /// is not `bytes` (PEP 3333 "Unicode Issues").
    pub(crate) fn next<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if self.closed {
            return Ok(None);
        }
        let iterable = self.iterable.bind(py);
        if let Cursor::Start = self.cursor {
            self.cursor = if iterable.is_exact_instance_of::<PyList>()
                || iterable.is_exact_instance_of::<PyTuple>()
            {
                Cursor::Index(0)
            } else {
                Cursor::Iter(iterable.try_iter()?.unbind())
            };
        }
        let chunk = match &mut self.cursor {
            Cursor::Index(i) => {
                // Bounds first: an IndexError made and dropped per body
                // costs more than the rest of the step.
                let item = if let Ok(list) = iterable.cast::<PyList>() {
                    (*i < list.len()).then(|| list.get_item(*i).ok()).flatten()
                } else {
                    let tuple = iterable.cast::<PyTuple>().ok();
                    tuple
                        .filter(|t| *i < t.len())
                        .and_then(|t| t.get_item(*i).ok())
                };
                *i += 1;
                item
            }
            Cursor::Iter(it) => match it.bind(py).clone().next() {
                Some(chunk) => Some(chunk?),
                None => None,
            },
            Cursor::Start => None,
        };
        match chunk.map(Bound::cast_into::<PyBytes>) {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(e)) => Err(Error::BodyNotBytes(type_name(e.into_inner().as_any())).into()),
        }
    }

    /// Calls the iterable's `close()` if it has one, the first time only.
    ///
    /// # Errors
    /// What `close()` raised.
    pub(crate) fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        if std::mem::replace(&mut self.closed, true) {
            return Ok(());
        }
        self.cursor = Cursor::Start;
        let it = self.iterable.bind(py);
        if it.is_instance_of::<PyList>() || it.is_instance_of::<PyTuple>() {
            return Ok(());
        }
        match it.getattr_opt(intern!(py, "close"))? {
            Some(close) => close.call0().map(drop),
            None => Ok(()),
        }
    }

    /// Visits the held Python objects for the cycle collector.
    ///
    /// # Errors
    /// What the visitor returns.
    pub(crate) fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.iterable)?;
        if let Cursor::Iter(it) = &self.cursor {
            visit.call(it)?;
        }
        Ok(())
    }
}

impl Drop for AppIter {
    fn drop(&mut self) {
        if !self.closed {
            Python::attach(|py| {
                if let Err(e) = self.close(py) {
                    e.write_unraisable(py, Some(self.iterable.bind(py)));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::exceptions::PyTypeError;
    use pyo3::types::PyDict;

    #[test]
    fn app_iter_closes_exactly_once() {
        Python::attach(|py| {
            let ns = PyDict::new(py);
            py.run(
                c"class It:\n    closes = 0\n    def __init__(self): self.items = iter([b'a', b'b'])\n    def __iter__(self): return self\n    def __next__(self): return next(self.items)\n    def close(self): It.closes += 1\n",
                Some(&ns),
                None,
            )
            .unwrap();
            let cls = ns.get_item("It").unwrap().unwrap();
            let mut it = AppIter::new(cls.call0().unwrap());
            assert_eq!(it.next(py).unwrap().unwrap().as_bytes(), b"a");
            it.close(py).unwrap();
            it.close(py).unwrap();
            assert!(it.next(py).unwrap().is_none());
            drop(it);
            assert_eq!(cls.getattr("closes").unwrap().extract::<i32>().unwrap(), 1);
            // Dropped without close(): closed by Drop.
            let it = AppIter::new(cls.call0().unwrap());
            drop(it);
            assert_eq!(cls.getattr("closes").unwrap().extract::<i32>().unwrap(), 2);
            // A str chunk is a TypeError.
            let mut it = AppIter::new(PyList::new(py, ["text"]).unwrap().into_any());
            assert!(it.next(py).unwrap_err().is_instance_of::<PyTypeError>(py));
        });
    }
}
