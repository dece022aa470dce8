//! Vectorcall (PEP 590) for the WSGI callables.
//!
//! A `#[pyclass]` with `__call__` is called through `tp_call`: CPython packs
//! the arguments into a new tuple, and PyO3 unpacks them by name. PyO3 has no
//! vectorcall for `#[pyclass]` (PyO3#4252). This module adds it to chosen
//! classes, which keep being ordinary `#[pyclass]`es:
//!
//! - the class holds a [`Slot`] field: a `vectorcallfunc` pointer, set when
//!   the Rust value is built, so every instance carries it;
//! - at module init, [`install`] takes a live instance, measures the slot's
//!   offset from the start of the object (nothing is assumed about how PyO3
//!   lays out its objects), and sets `tp_vectorcall_offset` and
//!   `Py_TPFLAGS_HAVE_VECTORCALL` on the class (C API "Vectorcall Protocol":
//!   "a class supports vectorcall if `Py_TPFLAGS_HAVE_VECTORCALL` is set and
//!   `tp_vectorcall_offset` is the offset inside the object structure where
//!   a `vectorcallfunc` appears");
//! - a call with the positional arguments the class's [`Vectorcall::call`]
//!   accepts runs it directly; any other call (keywords, another count, an
//!   argument `call` declines) is packed and handed to the class's own
//!   `tp_call`, so PyO3 parses it and raises exactly what it raised before.
//!
//! Why not a hand-written type with a `__vectorcalloffset__` member
//! (C API `PyMemberDef`)? It would mean re-writing, with raw pointers, what
//! PyO3 already gives these classes: allocation, dealloc, GC traversal,
//! getters, `repr`, `isinstance`. Patching the heap type PyO3 made keeps all
//! of it and leaves one `unsafe` concern: the two fields written here.
//!
//! The class is also made immutable (`Py_TPFLAGS_IMMUTABLETYPE`). Before
//! CPython 3.12, assigning `__call__` on a mutable heap type updates only
//! `tp_call`, and vectorcall would go on calling the old code; the C API
//! docs for `tp_vectorcall_offset` advise against vectorcall on mutable
//! heap types for that reason (since 3.12 CPython clears the flag itself).
//! Immutable, the assignment raises `TypeError` on every version.
//!
//! Entry and exit go through PyO3's own trampoline, the one every
//! `#[pyfunction]` uses: it marks the thread attached for PyO3 (so a `Py<T>`
//! dropped during the call is released at once, not deferred), turns a
//! panic into `PanicException` and an `Err` into a raised exception. It is
//! `#[doc(hidden)]` API; a PyO3 release that changes it fails this build,
//! it cannot change behaviour silently.

// The unsafe half (the slot, `install`, the entry point CPython calls) is
// `ffi.rs`, the one module of this crate that allows `unsafe` code.
mod ffi;

use pyo3::call::PyCallArgs;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{Borrowed, PyClass, PyClassInitializer};

pub(crate) use ffi::{install, Slot};

/// A class whose calls go through vectorcall once [`install`]ed.
pub(crate) trait Vectorcall: PyClass {
    /// The instance's [`Slot`] field.
    fn slot(&self) -> &Slot<Self>;

    /// Set once [`new`] has [`install`]ed vectorcall on the class (one
    /// per class: [`implement!`] writes it).
    fn installed() -> &'static PyOnceLock<()>;

    /// The call with positional arguments only: `Some(result)`, or `None`
    /// to hand the call to the class's `tp_call` (PyO3's argument parsing
    /// and its errors), e.g. for a count it does not take.
    fn call<'py>(
        slf: &Bound<'py, Self>,
        args: &[Borrowed<'_, 'py, PyAny>],
    ) -> Option<PyResult<Bound<'py, PyAny>>>;
}

/// [`install`], with the sample made by calling the class with `args`.
///
/// # Errors
/// What the constructor raises, and as for [`install`].
pub(crate) fn install_called<'py, T: Vectorcall>(
    py: Python<'py>,
    args: impl PyCallArgs<'py>,
) -> PyResult<()> {
    let sample = T::type_object(py).call1(args)?.cast_into::<T>()?;
    T::installed().get_or_try_init(py, || install(&sample))?;
    Ok(())
}

/// `Bound::new(py, value)` for a class the server or a middleware makes in
/// Rust: the first one made [`install`]s vectorcall on the class, so no
/// module-init sample is needed.
///
/// # Errors
/// What `Bound::new` raises, and as for [`install`].
pub(crate) fn new<T: Vectorcall>(
    py: Python<'_>,
    value: impl Into<PyClassInitializer<T>>,
) -> PyResult<Bound<'_, T>> {
    let obj = Bound::new(py, value)?;
    // Once per class, whichever thread comes first (the others wait,
    // detached, and find it done): see `install` on free threading.
    T::installed().get_or_try_init(py, || install(&obj))?;
    Ok(obj)
}

/// Implements [`Vectorcall`] for `$ty`, a `#[pyclass]` with a field
/// `vectorcall: Slot<Self>`: [`Vectorcall::call`]`(slf, args)` is `$body`.
macro_rules! implement {
    ($ty:ty, |$slf:ident, $args:ident| $body:expr) => {
        impl $crate::vectorcall::Vectorcall for $ty {
            fn slot(&self) -> &$crate::vectorcall::Slot<Self> {
                &self.vectorcall
            }

            fn installed() -> &'static pyo3::sync::PyOnceLock<()> {
                static INSTALLED: pyo3::sync::PyOnceLock<()> = pyo3::sync::PyOnceLock::new();
                &INSTALLED
            }

            fn call<'py>(
                $slf: &pyo3::Bound<'py, Self>,
                $args: &[pyo3::Borrowed<'_, 'py, pyo3::PyAny>],
            ) -> Option<pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>>> {
                $body
            }
        }
    };
}

/// Implements [`Vectorcall`] for a WSGI application class: `$ty` is a
/// `frozen` `#[pyclass]` with a field `vectorcall: Slot<Self>` and a method
/// `__call__(&self, py, environ: &Bound<PyAny>, start_response:
/// &Bound<PyAny>) -> PyResult<Bound<PyAny>>`, which vectorcall calls with
/// exactly two positional arguments.
macro_rules! wsgi_app {
    ($ty:ty) => {
        $crate::vectorcall::implement!($ty, |slf, args| {
            let [environ, start_response] = args else {
                return None;
            };
            Some(slf.get().__call__(slf.py(), environ, start_response))
        });
    };
}

pub(crate) use {implement, wsgi_app};

/// `(status, response_headers, exc_info)`, borrowed from a call's arguments.
pub(crate) type StartResponseArgs<'a, 'py> = (
    &'a Bound<'py, PyAny>,
    &'a Bound<'py, PyAny>,
    Option<&'a Bound<'py, PyAny>>,
);

/// The positional arguments of `start_response(status, response_headers,
/// exc_info=None)` (PEP 3333): `(status, response_headers, exc_info)`,
/// with an `exc_info` of `None` read as none, as PyO3 reads an `Option`
/// argument; `None` for another count.
#[must_use]
pub(crate) fn start_response_args<'a, 'py>(
    args: &'a [Borrowed<'a, 'py, PyAny>],
) -> Option<StartResponseArgs<'a, 'py>> {
    let (status, headers, exc_info) = match args {
        [status, headers] => (status, headers, None),
        [status, headers, exc_info] => (status, headers, Some(exc_info)),
        _ => return None,
    };
    Some((
        status,
        headers,
        exc_info.filter(|e| !e.is_none()).map(|e| &**e),
    ))
}

#[cfg(test)]
#[allow(clippy::unused_self)] // the test classes' calls need no state
mod tests {
    use super::*;
    use pyo3::types::PyString;
    use pyo3::types::{PyDict, PyTuple};

    /// Says which path ran: `call` takes two arguments, `__call__` any.
    #[pyclass(frozen)]
    #[derive(Default)]
    struct Probe {
        vectorcall: Slot<Self>,
    }

    implement!(Probe, |slf, args| {
        let [_, _] = args else { return None };
        Some(Ok(PyString::new(slf.py(), "vectorcall").into_any()))
    });

    #[pymethods]
    impl Probe {
        #[pyo3(signature = (*_args, **_kwargs))]
        fn __call__(
            &self,
            _args: &Bound<'_, PyTuple>,
            _kwargs: Option<&Bound<'_, PyDict>>,
        ) -> &'static str {
            "tp_call"
        }
    }

    /// Calls itself forever.
    #[pyclass(frozen)]
    #[derive(Default)]
    struct Loop {
        vectorcall: Slot<Self>,
    }

    implement!(Loop, |slf, _args| Some(slf.call0()));

    #[pymethods]
    impl Loop {
        fn __call__(&self) {}
    }

    /// Can be subclassed, so `install` refuses it.
    #[pyclass(frozen, subclass)]
    #[derive(Default)]
    struct Base {
        vectorcall: Slot<Self>,
    }

    implement!(Base, |_slf, _args| None);

    #[pymethods]
    impl Base {
        fn __call__(&self) {}
    }

    #[test]
    fn positional_calls_it_takes_run_call_and_the_rest_tp_call() {
        Python::attach(|py| {
            let probe = Bound::new(py, Probe::default()).unwrap();
            install(&probe).unwrap();
            let flags = py.get_type::<Probe>().getattr("__flags__").unwrap();
            assert_ne!(flags.extract::<u64>().unwrap() & (1 << 11), 0);
            let ran = |args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>| {
                probe
                    .call(args, kwargs)
                    .unwrap()
                    .extract::<String>()
                    .unwrap()
            };
            let kwargs = PyDict::new(py);
            kwargs.set_item("b", 2).unwrap();
            assert_eq!(ran(&PyTuple::new(py, [1, 2]).unwrap(), None), "vectorcall");
            assert_eq!(ran(&PyTuple::new(py, [1]).unwrap(), None), "tp_call");
            assert_eq!(
                ran(&PyTuple::new(py, [1, 2, 3, 4]).unwrap(), None),
                "tp_call"
            );
            assert_eq!(
                ran(&PyTuple::new(py, [1]).unwrap(), Some(&kwargs)),
                "tp_call"
            );
            assert_eq!(ran(&PyTuple::empty(py), Some(&kwargs)), "tp_call");
        });
    }

    #[test]
    fn a_callable_that_reaches_itself_raises_recursion_error() {
        // CPython's limit counts calls, not bytes: up to 10,000 nested
        // calls (3.13's C limit), more than a test thread's 2 MiB holds.
        let big_stack = std::thread::Builder::new().stack_size(1 << 30);
        let test = big_stack.spawn(|| {
            Python::attach(|py| {
                // PyO3 makes PanicException's type when it first fetches an
                // error; made at the recursion limit, the type's creation
                // fails and fetches again, and waits on itself (with or
                // without vectorcall). Make it first.
                py.get_type::<pyo3::panic::PanicException>();
                let obj = Bound::new(py, Loop::default()).unwrap();
                install(&obj).unwrap();
                let err = obj.call0().unwrap_err();
                assert!(err.is_instance_of::<pyo3::exceptions::PyRecursionError>(py));
                assert!(err.to_string().contains("while calling a Python object"));
            });
        });
        test.unwrap().join().unwrap();
    }

    #[test]
    fn a_class_that_can_be_subclassed_is_refused() {
        Python::attach(|py| {
            let obj = Bound::new(py, Base::default()).unwrap();
            let err = install(&obj).unwrap_err();
            assert!(err.to_string().contains("can be subclassed"), "{err}");
            let flags = py.get_type::<Base>().getattr("__flags__").unwrap();
            assert_eq!(flags.extract::<u64>().unwrap() & (1 << 11), 0);
        });
    }
}
