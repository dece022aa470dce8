//! The unsafe half of vectorcall (see the parent module): the per-instance
//! slot, [`install`], which writes the class's two type fields, and the
//! entry point CPython calls, which hands a call to [`Vectorcall::call`] or
//! to the class's own `tp_call`.

#![allow(unsafe_code)]

use core::ffi::CStr;
use core::fmt;
use core::marker::PhantomData;

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::impl_::trampoline::{fastcall_cfunction_with_keywords as fastcall, MethodDef};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::Borrowed;

use super::Vectorcall;

/// The per-instance `vectorcallfunc` that `tp_vectorcall_offset` points at.
///
/// `repr(transparent)`: the slot's address is the function pointer's. Its
/// only constructor, `Default`, stores the entry point for `T`.
#[repr(transparent)]
pub(crate) struct Slot<T> {
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
/// it before any other thread can reach the class), or by [`super::new`] for its
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
pub(crate) fn install<T: Vectorcall>(sample: &Bound<'_, T>) -> PyResult<()> {
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
