//! `tp_finalize` (PEP 442) for the classes that must run Python code when
//! the garbage collector frees them.
//!
//! A response that is never closed (a test client that drops it) still has
//! its app iterable closed (PEP 3333: `close()` "upon completion of the
//! current request"). When the response is freed because its refcount hits
//! zero, dropping the Rust value does that: the iterable is alive, the
//! response holds it. When the response dies in a reference cycle, the
//! iterable is usually part of the same garbage, and the collector calls
//! `tp_clear` on every object of the cycle in an order it does not promise:
//! a Python object's `__dict__` may already be emptied when the Rust value
//! is dropped, so its `close()` fails (werkzeug's `ClosingIterator`: "object
//! has no attribute '_callbacks'"; the free-threaded collector's order hits
//! it, the default build's happened not to). PEP 442 gives the one safe
//! moment: the collector calls every `tp_finalize` of the garbage first,
//! with all of it intact, before it clears anything. PyO3 has no
//! `__del__`, so [`install`] sets the slot on the class PyO3 made.

#![allow(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::{Borrowed, PyClass};

/// A class with work to do before the collector clears it.
pub(crate) trait Finalize: PyClass {
    /// Runs once, with the object and everything it holds still intact.
    /// Errors are reported with `sys.unraisablehook`, as a `__del__`'s are.
    fn finalize(slf: &Bound<'_, Self>);
}

/// Sets `T`'s `tp_finalize`. Called at module init, before any instance of
/// `T` exists (so no other thread reads the slot while it is written: the
/// import lock orders it before any use of the module).
pub(crate) fn install<T: Finalize>(py: Python<'_>) {
    let tp = T::type_object_raw(py);
    // SAFETY: `tp` is T's heap type, alive for the interpreter's life (PyO3
    // keeps a reference), written before any instance exists (above).
    // `tp_finalize` needs no flag since CPython 3.8; `PyType_Modified`
    // drops caches keyed on the type's slots.
    unsafe {
        (*tp).tp_finalize = Some(finalize::<T>);
        ffi::PyType_Modified(tp);
    }
}

/// The `destructor` stored in `tp_finalize`.
///
/// # Safety
/// Called by CPython only, attached, with `obj` a live instance of `T`
/// (C API `tp_finalize`: it must not change the current exception).
unsafe extern "C" fn finalize<T: Finalize>(obj: *mut ffi::PyObject) {
    // SAFETY: CPython calls finalizers on an attached thread.
    let py = unsafe { Python::assume_attached() };
    let pending = PyErr::take(py);
    // SAFETY: `obj` is live for the call, and is a `T` (the slot is T's).
    let slf = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<T>() };
    // A panic must not unwind into C; the finalizer's work is then lost,
    // the object is still freed.
    let _ = catch_unwind(AssertUnwindSafe(|| T::finalize(&slf)));
    if let Some(err) = pending {
        err.restore(py);
    }
}
