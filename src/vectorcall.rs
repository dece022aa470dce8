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

#![allow(unsafe_code)]

use core::ffi::CStr;
use core::fmt;
use core::marker::PhantomData;

use pyo3::call::PyCallArgs;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::impl_::trampoline::{fastcall_cfunction_with_keywords as fastcall, MethodDef};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{Borrowed, PyClass, PyClassInitializer};

/// A class whose calls go through vectorcall once [`install`]ed.
pub trait Vectorcall: PyClass {
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

/// The per-instance `vectorcallfunc` that `tp_vectorcall_offset` points at.
///
/// `repr(transparent)`: the slot's address is the function pointer's. Its
/// only constructor, `Default`, stores the entry point for `T`.
#[repr(transparent)]
pub struct Slot<T> {
    func: ffi::vectorcallfunc,
    of: PhantomData<fn() -> T>,
}

impl<T: Vectorcall> Default for Slot<T> {
    fn default() -> Self {
        Self {
            func: vectorcall::<T>,
            of: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("vectorcall::Slot")
    }
}

/// Calls with more positional arguments than this go to `tp_call`: no
/// WSGI callable takes more than three (`start_response` with `exc_info`).
const MAX_ARGS: usize = 3;

/// What a `RecursionError` from this entry says: the text CPython uses
/// when it calls any object's `tp_call` (`_PyObject_MakeTpCall`).
const RECURSION_WHERE: &CStr = c" while calling a Python object";

/// Makes `T`'s calls go through vectorcall; `sample` is any instance.
///
/// Free threading: the type's two fields are written once per class, before
/// any instance but `sample` exists: at module init (the import lock orders
/// it before any other thread can reach the class), or by [`new`] for its
/// class's first instance, under that class's [`Vectorcall::installed`] once
/// lock, which every later `new` passes too (so each other thread sees the
/// fields set before it can make, and call, an instance). `tp_flags` is an
/// atomic on free-threaded builds (CPython reads it without a lock) and is
/// written with an atomic `fetch_or`; `tp_vectorcall_offset` is read only
/// to call an instance, and no instance has been handed out yet.
///
/// # Errors
/// `RuntimeError` if the slot does not lie inside the object as measured on
/// `sample` (a layout this module does not understand), or `T` can be
/// subclassed (a subclass's `__call__` would be bypassed before 3.12);
/// nothing is changed then.
pub fn install<T: Vectorcall>(sample: &Bound<'_, T>) -> PyResult<()> {
    let py = sample.py();
    let tp = T::type_object_raw(py);
    let object = sample.as_ptr() as usize;
    let slot = core::ptr::from_ref(sample.borrow().slot()) as usize;
    // SAFETY: `tp` is T's type object, alive for the interpreter's life
    // (PyO3 keeps a reference in its lazy type object); reading two fields.
    let (basic_size, flags) = unsafe { ((*tp).tp_basicsize, ffi::PyType_GetFlags(tp)) };
    let offset = slot.checked_sub(object).filter(|&o| {
        o >= size_of::<ffi::PyObject>()
            && usize::try_from(basic_size)
                .is_ok_and(|size| o + size_of::<ffi::vectorcallfunc>() <= size)
    });
    let Some(offset) = offset.and_then(|o| ffi::Py_ssize_t::try_from(o).ok()) else {
        return Err(PyRuntimeError::new_err(format!(
            "vectorcall: the slot of {} is not inside its object",
            T::NAME
        )));
    };
    if flags & ffi::Py_TPFLAGS_BASETYPE != 0 {
        return Err(PyRuntimeError::new_err(format!(
            "vectorcall: {} can be subclassed",
            T::NAME
        )));
    }
    // SAFETY: `tp` is a ready heap type that PyO3 created, written once
    // before any other thread can call an instance (see above). Every
    // instance of it holds a `Slot<T>`
    // at `offset` (the struct's layout is the same for every instance, and
    // `Slot::default` is the only way to build one), so CPython always finds
    // a valid `vectorcallfunc` there; `tp_call` stays PyO3's, as the C API
    // requires of a type with this flag. `PyType_Modified` drops caches
    // keyed on the old flags.
    unsafe {
        (*tp).tp_vectorcall_offset = offset;
        let bits = ffi::Py_TPFLAGS_HAVE_VECTORCALL | ffi::Py_TPFLAGS_IMMUTABLETYPE;
        #[cfg(Py_GIL_DISABLED)]
        (*tp)
            .tp_flags
            .fetch_or(bits, core::sync::atomic::Ordering::Release);
        #[cfg(not(Py_GIL_DISABLED))]
        {
            (*tp).tp_flags |= bits;
        }
        ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// [`install`], with the sample made by calling the class with `args`.
///
/// # Errors
/// What the constructor raises, and as for [`install`].
pub fn install_called<'py, T: Vectorcall>(
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
pub fn new<T: Vectorcall>(
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
pub type StartResponseArgs<'a, 'py> = (
    &'a Bound<'py, PyAny>,
    &'a Bound<'py, PyAny>,
    Option<&'a Bound<'py, PyAny>>,
);

/// The positional arguments of `start_response(status, response_headers,
/// exc_info=None)` (PEP 3333): `(status, response_headers, exc_info)`,
/// with an `exc_info` of `None` read as none, as PyO3 reads an `Option`
/// argument; `None` for another count.
#[must_use]
pub fn start_response_args<'a, 'py>(
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

/// The `vectorcallfunc` stored in every `Slot<T>` (C API `vectorcallfunc`:
/// `callable`, `args[0..nargs + len(kwnames)]` borrowed, the keyword
/// names in `kwnames` or NULL).
///
/// # Safety
/// Called by CPython only, attached, with `callable` an instance of `T`.
unsafe extern "C" fn vectorcall<T: Vectorcall>(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the caller's guarantees are the trampoline's (attached; the
    // pointers valid for the call); `Entry<T>` is `entry::<T>`. NARGS drops
    // the PY_VECTORCALL_ARGUMENTS_OFFSET flag, which only says that
    // `args[-1]` may be overwritten; nothing here does.
    unsafe { fastcall::<Entry<T>>(callable, args, ffi::PyVectorcall_NARGS(nargsf), kwnames) }
}

/// Names [`entry`] for PyO3's trampoline, which takes it as a type.
struct Entry<T>(PhantomData<T>);

impl<T: Vectorcall> MethodDef<fastcall::Func> for Entry<T> {
    const METH: fastcall::Func = entry::<T>;
}

/// The call, inside PyO3's trampoline.
///
/// # Safety
/// As for [`vectorcall`], with `nargs` the positional count.
unsafe fn entry<T: Vectorcall>(
    py: Python<'_>,
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: CPython passes the callable, borrowed for the call.
    let slf = unsafe { Borrowed::from_ptr(py, callable) };
    // SAFETY: `kwnames` is NULL or a tuple of str, borrowed for the call.
    let kwnames = unsafe { Borrowed::from_ptr_or_opt(py, kwnames) }
        // SAFETY: a vectorcall's `kwnames` is always a tuple.
        .map(|k| unsafe { k.cast_unchecked::<PyTuple>() });
    let nkw = kwnames.map_or(0, |k| k.len());
    let total = usize::try_from(nargs).unwrap_or(0) + nkw;
    let ptrs: &[*mut ffi::PyObject] = if total == 0 {
        &[] // `args` may be NULL then
    } else {
        // SAFETY: CPython passes `nargs + len(kwnames)` argument pointers.
        unsafe { core::slice::from_raw_parts(args, total) }
    };
    // SAFETY: each pointer is an argument, borrowed for the call.
    let arg = |p: &*mut ffi::PyObject| unsafe { Borrowed::from_ptr(py, *p) };
    let _depth = RecursionGuard::enter(py)?;
    if nkw == 0 && ptrs.len() <= MAX_ARGS {
        let mut buf = [slf; MAX_ARGS];
        for (b, p) in buf.iter_mut().zip(ptrs) {
            *b = arg(p);
        }
        // SAFETY: this function is reached only through a `Slot<T>`, which
        // only a `T` holds, so `callable` is a `T` (the class cannot be
        // subclassed; `install` checks).
        let this = unsafe { slf.cast_unchecked::<T>() };
        if let Some(result) = T::call(&this, &buf[..ptrs.len()]) {
            return result.map(Bound::into_ptr);
        }
    }
    let (positional, keywords) = ptrs.split_at(ptrs.len() - nkw);
    let tuple = PyTuple::new(py, positional.iter().map(arg))?;
    let kwargs = match kwnames {
        Some(names) => {
            let dict = PyDict::new(py);
            for (name, value) in names.iter().zip(keywords) {
                dict.set_item(name, arg(value))?;
            }
            Some(dict)
        }
        None => None,
    };
    call_tp_call(slf, &tuple, kwargs.as_ref())
}

/// `type(slf).tp_call(slf, args, kwargs)`: what a call without vectorcall
/// runs. Not `PyObject_Call`, which would come back here.
fn call_tp_call(
    slf: Borrowed<'_, '_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<*mut ffi::PyObject> {
    let py = slf.py();
    // SAFETY: `slf` is a live object; its type outlives it.
    let tp_call = unsafe { (*ffi::Py_TYPE(slf.as_ptr())).tp_call };
    let Some(tp_call) = tp_call else {
        return Err(PyTypeError::new_err("object is not callable"));
    };
    let kwargs = kwargs.map_or(core::ptr::null_mut(), Bound::as_ptr);
    // SAFETY: a `ternaryfunc` called as CPython calls it: live arguments,
    // attached; it returns a new reference, or NULL with an exception set.
    unsafe {
        let out = tp_call(slf.as_ptr(), args.as_ptr(), kwargs);
        Bound::from_owned_ptr_or_err(py, out).map(Bound::into_ptr)
    }
}

/// `Py_EnterRecursiveCall`/`Py_LeaveRecursiveCall` around one call, as
/// CPython puts them around every `tp_call` and C function call, so a
/// callable that reaches itself again (a router mounted in itself) raises
/// `RecursionError` instead of overflowing the C stack.
///
/// Free threading: the depth it counts is the calling thread's own (a
/// field of its `PyThreadState`), so threads never share it; the guard is
/// dropped in the function that made it, so on the same thread.
struct RecursionGuard;

impl RecursionGuard {
    fn enter(py: Python<'_>) -> PyResult<Self> {
        // SAFETY: attached (the token says so); a static C string.
        if unsafe { ffi::Py_EnterRecursiveCall(RECURSION_WHERE.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(Self)
    }
}

impl Drop for RecursionGuard {
    fn drop(&mut self) {
        // SAFETY: pairs the successful enter; still attached (the guard
        // lives inside the trampoline's scope).
        unsafe { ffi::Py_LeaveRecursiveCall() };
    }
}

#[cfg(test)]
#[allow(clippy::unused_self)] // the test classes' calls need no state
mod tests {
    use super::*;
    use pyo3::types::PyString;

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
