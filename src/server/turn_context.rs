//! What one turn of a connection is given ([`TurnContext`]) and gives back
//! ([`AfterTurn`]): the types the event loop and a connection share. They live
//! on this floor, below both, so that `event_loop.rs` uses `connection.rs`
//! and neither imports the other back.

use std::collections::HashSet;
use std::time::Duration;

use pyo3::prelude::*;

use super::access_log::warn;

use super::config::Limits;
use super::environ::EnvironTemplate;
use super::response_head::DateCache;

/// What the server shares with every connection while it runs.
#[derive(Debug)]
pub(crate) struct TurnContext<'a, 'py> {
    /// The WSGI application.
    pub(crate) app: &'a Bound<'py, PyAny>,
    /// The environ's constant part.
    pub(crate) environ: &'a EnvironTemplate,
    /// Limits on requests.
    pub(crate) limits: &'a Limits,
    /// No access log when true.
    pub(crate) quiet: bool,
    /// Color the access log (stderr is a terminal).
    pub(crate) color: bool,
    /// The server is stopping: no keep-alive, idle kept-alive connections
    /// close, a request that has arrived is still answered.
    pub(crate) stopping: bool,
    /// The `Date` header, formatted once per second.
    pub(crate) date: &'a mut DateCache,
    /// The paths already warned about holding the server.
    pub(crate) held: &'a mut HeldLog,
    /// The generation of a live-reloading server: it answers the
    /// live-reload paths itself (`live_reload.rs`).
    pub(crate) live_reload: Option<&'a str>,
}

/// The warning that one request held the one app thread (other clients
/// waited meanwhile), logged at most once per path.
#[derive(Debug, Default)]
pub(crate) struct HeldLog {
    warned: HashSet<Vec<u8>>,
}

/// Paths remembered at most; past it, every path is warned about once
/// more at most per this many (an app with unbounded paths cannot grow it).
const HELD_PATHS_MAX: usize = 1024;

impl HeldLog {
    /// One line naming the request `method target` (its query left out)
    /// that held the server for `held`, unless its path was named before.
    pub(crate) fn warn(&mut self, py: Python<'_>, method: &str, target: &[u8], held: Duration) {
        let path = target.split(|&b| b == b'?').next().unwrap_or(target);
        if self.warned.contains(path) {
            return;
        }
        if self.warned.len() >= HELD_PATHS_MAX {
            self.warned.clear();
        }
        self.warned.insert(path.to_vec());
        warn(
            py,
            &format!(
                "{method} {} held the server for {:.1} s (one app thread: other clients \
                 waited); see rswsgi's docs/one-thread.md",
                String::from_utf8_lossy(path).escape_debug(),
                held.as_secs_f64()
            ),
        );
    }
}

/// What the event loop does with a connection after its turn
/// (`Connection::advance` or `Connection::sweep`).
#[derive(Debug)]
pub(crate) enum AfterTurn {
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
