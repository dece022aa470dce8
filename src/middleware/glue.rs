//! The PyO3 glue every middleware class shares, written once: the
//! constructor's callable check, `__call__`, the `app` getter, `__repr__`,
//! and `__traverse__`/`__clear__` for the cycle collector (PyO3 guide,
//! "Garbage Collector Integration"). A middleware supplies only what is its
//! own: its options ([`middleware_class!`]'s `build`) and its request
//! ([`Middleware::call`]).

use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::errors::{check_callable, Callee, Error};
use crate::wsgi::repr_or_type;

/// One WSGI call on a middleware: its wrapped app and the call's arguments
/// (PEP 3333 "The Application/Framework Side").
pub(crate) struct Call<'a, 'py> {
    /// The wrapped application.
    pub(crate) app: &'a Bound<'py, PyAny>,
    /// The request's environ (PEP 3333 says a `dict`; not checked here).
    pub(crate) environ: &'a Bound<'py, PyAny>,
    /// The server's (or the next middleware's) `start_response`.
    pub(crate) start_response: &'a Bound<'py, PyAny>,
}

impl<'py> Call<'_, 'py> {
    /// `app(environ, start_response)`: the request passed on unchanged.
    ///
    /// # Errors
    /// What the app raises.
    pub(crate) fn pass_on(&self) -> PyResult<Bound<'py, PyAny>> {
        self.app.call1((self.environ, self.start_response))
    }
}

/// What a middleware class does with a request; [`middleware_class!`]
/// writes the rest of the class around it.
pub(crate) trait Middleware {
    /// Handles one request and returns the response iterable.
    ///
    /// # Errors
    /// What the middleware or the app raises.
    fn call<'py>(&self, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>>;

    /// The keyword options as `__repr__` shows them after the app, each
    /// with its leading `", "` (e.g. `", debug=False"`); none by default.
    fn repr_options(&self, _py: Python<'_>) -> String {
        String::new()
    }
}

/// Checks that `app` is callable ([`check_callable`]) and passes it on.
///
/// # Errors
/// `TypeError` ([`Error::NotCallable`]) when `app` is not callable.
pub(crate) fn check_app(app: Bound<'_, PyAny>) -> Result<Bound<'_, PyAny>, Error> {
    check_callable("app", &app, Callee::WsgiApp)?;
    Ok(app)
}

/// Reads an optional keyword flag that must be `True` or `False` (`None`
/// when omitted means `False`).
///
/// # Errors
/// `ValueError` ([`Error::BadArgument`]) naming `name` and the value.
pub(crate) fn bool_arg(name: &'static str, value: Option<Bound<'_, PyAny>>) -> Result<bool, Error> {
    match value {
        None => Ok(false),
        Some(v) => v
            .cast::<PyBool>()
            .map(PyBoolMethods::is_true)
            .map_err(|_| Error::BadArgument {
                name,
                value: repr_or_type(&v),
                why: "must be True or False",
            }),
    }
}

/// A constructor's `N` keyword options, in signature order, each `None`
/// when omitted.
pub(crate) type Options<'py, const N: usize> = [Option<Bound<'py, PyAny>>; N];

/// `repr(app)` for a middleware's own repr.
pub(crate) fn describe_app(app: &Bound<'_, PyAny>) -> String {
    repr_or_type(app)
}

/// Writes the `#[pymethods]` of a middleware class `$ty` (a `#[pyclass]`
/// with a field `app: Py<PyAny>`, implementing [`Middleware`]), shown to
/// Python as `$name`:
///
/// - `#[new]`: `$name(app)`, or `$name(app, *, opt=None, ...)` with
///   `text_signature`; `app` is checked with [`check_app`] (`TypeError`),
///   then `Self::build(app)` or `Self::build(app, [opt, ...])` reads the
///   options ([`Options`]) and makes the object;
/// - `__call__(environ, start_response)` runs [`Middleware::call`], also
///   through vectorcall ([`crate::vectorcall::wsgi_app!`]; the class needs
///   a field `vectorcall: Slot<Self>`);
/// - the `app` getter (the wrapped app, for tools that walk a stack);
/// - `__repr__`: `$name(repr(app)` + [`Middleware::repr_options`] + `)`;
/// - `__traverse__` visits `app` and the `traverse(...)` fields;
///   `__clear__` clears nothing: those fields are immutable, and a cycle
///   through them always passes through a mutable object (a function's
///   globals or closure, a dict) whose own `tp_clear` breaks it (PyO3
///   guide, "Garbage Collector Integration": immutable references need not
///   be cleared).
macro_rules! middleware_class {
    ($ty:ident, $name:literal, new(app) $(, traverse($($field:ident),*))?) => {
        $crate::middleware::glue::middleware_class!(@methods $ty, $name, [
            #[new]
            fn new(app: Bound<'_, PyAny>) -> PyResult<Self> {
                Self::build($crate::middleware::glue::check_app(app)?)
            }
        ] $($($field)*)?);
    };
    (
        $ty:ident, $name:literal, new(app, *, $($opt:ident),+), text_signature = $sig:literal
        $(, traverse($($field:ident),*))?
    ) => {
        $crate::middleware::glue::middleware_class!(@methods $ty, $name, [
            #[new]
            #[pyo3(signature = (app, *, $($opt = None),+), text_signature = $sig)]
            fn new(app: Bound<'_, PyAny>, $($opt: Option<Bound<'_, PyAny>>),+) -> PyResult<Self> {
                Self::build($crate::middleware::glue::check_app(app)?, [$($opt),+])
            }
        ] $($($field)*)?);
    };
    (@methods $ty:ident, $name:literal, [$($new:tt)*] $($field:ident)*) => {
        $crate::vectorcall::wsgi_app!($ty);

        #[pymethods]
        impl $ty {
            $($new)*

            /// The WSGI call (PEP 3333 "The Application/Framework Side").
            fn __call__<'py>(
                &self,
                py: Python<'py>,
                environ: &Bound<'py, PyAny>,
                start_response: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let app = self.app.bind(py);
                let call = $crate::middleware::glue::Call { app, environ, start_response };
                $crate::middleware::glue::Middleware::call(self, &call)
            }

            /// The wrapped WSGI application.
            #[getter]
            fn app(&self, py: Python<'_>) -> Py<PyAny> {
                self.app.clone_ref(py)
            }

            fn __repr__(&self, py: Python<'_>) -> String {
                format!(
                    "{}({}{})",
                    $name,
                    $crate::middleware::glue::describe_app(self.app.bind(py)),
                    $crate::middleware::glue::Middleware::repr_options(self, py)
                )
            }

            fn __traverse__(
                &self,
                visit: pyo3::PyVisit<'_>,
            ) -> Result<(), pyo3::PyTraverseError> {
                visit.call(&self.app)?;
                $(visit.call(&self.$field)?;)*
                Ok(())
            }

            /// Nothing to clear: see `middleware_class!`.
            #[allow(clippy::unused_self)] // the slot's signature
            fn __clear__(&self) {}
        }
    };
}

pub(crate) use middleware_class;
