//! PEP 3333 values shared by the server and the middleware.
//!
//! Both sides of rswsgi speak WSGI: the dev server is the *server side* of
//! PEP 3333 and every middleware is a server to the app it wraps. The rules
//! they share live here, once:
//!
//! - [`status_code`] (`status.rs`): the status string given to `start_response`
//!   ("The start_response() Callable").
//! - [`Headers`] (`headers.rs`): the response header list, checked for
//!   `(str, str)` pairs of latin-1 text with token names (PEP 3333 "Unicode
//!   Issues", RFC 9110 §5).
//! - [`ResponseStart`] (`response_start.rs`): the `start_response` state
//!   machine including the `exc_info` rules (PEP 3333 "Error Handling").
//! - [`MediaType`] (`media_type.rs`): `Content-Type` parsing (RFC 9110 §8.3.1).
//! - [`AppIter`] (`app_iter.rs`): the application iterable, whose `close()` is
//!   called exactly once in every path (PEP 3333 "Specification Details").
//! - `latin1.rs`: the "native string" rule (PEP 3333 "Unicode Issues").
//!
//! Everything is re-exported here, so users write `crate::wsgi::Status`.

mod app_iter;
mod headers;
mod latin1;
mod media_type;
mod response_start;
mod status;

use pyo3::prelude::*;

pub(crate) use app_iter::AppIter;
pub(crate) use headers::{
    check_header, header_item, header_list, is_hop_by_hop, is_tchar, is_token, next_content_length,
    Headers,
};
pub(crate) use latin1::{latin1_bytes, latin1_pystring, utf8_from_latin1};
pub(crate) use media_type::MediaType;
pub(crate) use response_start::{check_restart, exc_info_tuple, Head, ResponseStart};
#[cfg(test)]
pub(crate) use status::status_digits;
pub(crate) use status::{status_code, status_str};

/// The Python type name of `obj`, for error messages.
#[must_use]
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// `repr(obj)`, or `<TYPE object>` when `repr` fails, for error messages.
#[must_use]
pub(crate) fn repr_or_type(obj: &Bound<'_, PyAny>) -> String {
    obj.repr().map_or_else(
        |_| format!("<{} object>", type_name(obj)),
        |r| r.to_string(),
    )
}
