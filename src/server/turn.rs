//! What one turn of a connection is given ([`Ctx`]) and gives back
//! ([`Next`]): the types the event loop and a connection share. They live
//! on this floor, below both, so that `event_loop.rs` uses `connection.rs`
//! and neither imports the other back.

use pyo3::prelude::*;

use super::config::Limits;
use super::environ::EnvironTemplate;
use super::response_head::DateCache;

/// What the server shares with every connection while it runs.
#[derive(Debug)]
pub struct Ctx<'a, 'py> {
    /// The WSGI application.
    pub app: &'a Bound<'py, PyAny>,
    /// The environ's constant part.
    pub environ: &'a EnvironTemplate,
    /// Limits on requests.
    pub limits: &'a Limits,
    /// No access log when true.
    pub quiet: bool,
    /// Color the access log (stderr is a terminal).
    pub color: bool,
    /// The server is stopping: no keep-alive, idle connections close.
    pub stopping: bool,
    /// The `Date` header, formatted once per second.
    pub date: &'a mut DateCache,
}

/// What the event loop does with a connection after its turn
/// (`Connection::advance` or `Connection::sweep`).
#[derive(Debug)]
pub enum Next {
    /// Wait for the next readiness event.
    Wait,
    /// Ready to go on, but yielding so other connections get a turn (the
    /// event loop calls `advance` again without waiting for an event).
    Yield,
    /// Close and forget it.
    Close,
    /// Close it and stop the server with this exception (KeyboardInterrupt,
    /// SystemExit raised by the application).
    Fatal(PyErr),
}
