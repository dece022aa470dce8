//! [`RequestError`]: what can be wrong with a request, and the status each
//! answer gets, in one place (like hyper `role.rs::on_error` and waitress
//! `utilities.Error.to_response`).
//!
//! These errors never reach Python: each becomes a `4xx`/`5xx` response with
//! `Connection: close`, and the server keeps serving other clients.

use std::fmt;

use super::response_head::ServerStatus;

/// Why a request was refused, named by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The request does not follow RFC 9112 (bad request line, bad header,
    /// conflicting framing); says what is wrong. → 400.
    MalformedRequest(&'static str),
    /// The request line is longer than `Limits::max_request_line_bytes`. → 414.
    UriTooLong,
    /// The head is longer than `Limits::max_header_bytes` or has more than
    /// `Limits::max_header_count` fields. → 431.
    HeaderTooLarge,
    /// The body is larger than `Limits::max_body_bytes`. → 413.
    BodyTooLarge,
    /// A feature the server does not implement, e.g. a transfer coding other
    /// than `chunked` (RFC 9112 §6.1). → 501.
    Unsupported(&'static str),
    /// A well-formed HTTP-version whose major version is not 1, such as
    /// `HTTP/2.0` (RFC 9112 §2.3; a malformed one is a `MalformedRequest`). → 505.
    VersionNotSupported,
    /// The client took longer than a `Limits` timeout (`header_timeout_secs`,
    /// `read_timeout_secs`, `body_timeout_secs`) to send its request. → 408.
    Timeout,
    /// The server could not store the request body (the temporary file
    /// failed: disk full). → 500.
    Storage,
}

impl RequestError {
    /// The status of the server's answer to this error.
    #[must_use]
    pub(crate) fn status(self) -> ServerStatus {
        match self {
            Self::MalformedRequest(_) => ServerStatus::BAD_REQUEST,
            Self::Timeout => ServerStatus::REQUEST_TIMEOUT,
            Self::Storage => ServerStatus::INTERNAL_SERVER_ERROR,
            Self::BodyTooLarge => ServerStatus::CONTENT_TOO_LARGE,
            Self::UriTooLong => ServerStatus::URI_TOO_LONG,
            Self::HeaderTooLarge => ServerStatus::HEADER_FIELDS_TOO_LARGE,
            Self::Unsupported(_) => ServerStatus::NOT_IMPLEMENTED,
            Self::VersionNotSupported => ServerStatus::VERSION_NOT_SUPPORTED,
        }
    }

    #[cfg(test)]
    /// The numeric status code.
    #[must_use]
    pub(crate) fn code(self) -> u16 {
        self.status().code
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedRequest(why) => write!(f, "malformed request: {why}"),
            Self::UriTooLong => f.write_str("request line too long"),
            Self::HeaderTooLarge => f.write_str("request header section too large"),
            Self::BodyTooLarge => f.write_str("request body too large"),
            Self::Unsupported(what) => write!(f, "not implemented: {what}"),
            Self::VersionNotSupported => f.write_str("HTTP version not supported"),
            Self::Timeout => f.write_str("timed out waiting for the rest of the request"),
            Self::Storage => f.write_str("cannot store the request body"),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<httparse::Error> for RequestError {
    fn from(e: httparse::Error) -> Self {
        match e {
            httparse::Error::TooManyHeaders => Self::HeaderTooLarge,
            httparse::Error::Version => Self::VersionNotSupported,
            httparse::Error::HeaderName => Self::MalformedRequest("invalid header name"),
            httparse::Error::HeaderValue => Self::MalformedRequest("invalid header value"),
            httparse::Error::NewLine => Self::MalformedRequest("invalid line ending"),
            httparse::Error::Token => Self::MalformedRequest("invalid request line"),
            httparse::Error::Status => Self::MalformedRequest("invalid status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status() {
        for (e, code) in [
            (RequestError::MalformedRequest("x"), 400),
            (RequestError::Timeout, 408),
            (RequestError::Storage, 500),
            (RequestError::BodyTooLarge, 413),
            (RequestError::UriTooLong, 414),
            (RequestError::HeaderTooLarge, 431),
            (RequestError::Unsupported("x"), 501),
            (RequestError::VersionNotSupported, 505),
        ] {
            assert_eq!(e.code(), code, "{e}");
        }
        assert_eq!(
            RequestError::from(httparse::Error::TooManyHeaders).code(),
            431
        );
        assert_eq!(RequestError::from(httparse::Error::Version).code(), 505);
        assert_eq!(RequestError::from(httparse::Error::Token).code(), 400);
    }
}
