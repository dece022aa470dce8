//! PEP 3333 values shared by the server and the middleware.
//!
//! Both sides of rswsgi speak WSGI: the dev server is the *server side* of
//! PEP 3333 and every middleware is a server to the app it wraps. The rules
//! they share live here, once:
//!
//! - [`Status`] (`status.rs`): the status string given to `start_response`
//!   ("The start_response() Callable").
//! - [`Headers`] (`headers.rs`): the response header list, checked for
//!   `(str, str)` pairs of latin-1 text with token names (PEP 3333 "Unicode
//!   Issues", RFC 9110 §5).
//! - [`ResponseStart`] (`start_response.rs`): the `start_response` state
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
mod start_response;
mod status;

use pyo3::prelude::*;

pub use app_iter::AppIter;
pub use headers::{
    check_header, header_item, header_list, is_hop_by_hop, is_tchar, is_token, next_content_length,
    Headers, HOP_BY_HOP,
};
pub use latin1::{latin1_bytes, latin1_pystring, latin1_string, utf8_from_latin1};
pub use media_type::MediaType;
pub use start_response::{check_restart, exc_info_tuple, reraise, Head, ResponseStart};
pub use status::{status_code, status_digits, status_str, Status};

/// The Python type name of `obj`, for error messages.
#[must_use]
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// `repr(obj)`, or `<TYPE object>` when `repr` fails, for error messages.
#[must_use]
pub fn repr_or_type(obj: &Bound<'_, PyAny>) -> String {
    obj.repr().map_or_else(
        |_| format!("<{} object>", type_name(obj)),
        |r| r.to_string(),
    )
}
