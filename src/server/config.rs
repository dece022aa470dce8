//! The server's limits, all in one struct (the units are in the names).
//!
//! Each limit protects the single app thread or the process's memory from one
//! client; the status a client gets when it crosses one is in the doc of the
//! field. Models: waitress `adjustments.py`, httparse `ParserConfig`, granian
//! `HTTP1Settings` (whose `header_read_timeout` has no unit in its name).

use std::time::Duration;

/// Limits on what one client may send, and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line (`GET /path HTTP/1.1`) in bytes, CRLF excluded;
    /// longer gets `414 URI Too Long` (RFC 9112 §3). Default 8 KiB, the
    /// minimum RFC 9112 §3 recommends supporting and what nginx and
    /// gunicorn allow.
    pub max_request_line_bytes: usize,
    /// Longest request head (request line plus header section) in bytes;
    /// longer gets `431 Request Header Fields Too Large` (RFC 6585 §5).
    /// Default 64 KiB: big cookies fit, a header flood does not.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more gets `431`. Default 100
    /// (gunicorn's `limit_request_fields`).
    pub max_header_count: usize,
    /// Largest request body in bytes; a larger declared `Content-Length`
    /// gets `413 Content Too Large` at once (RFC 9110 §15.5.14), a chunked
    /// body gets it when it crosses the limit. Default 1 GiB: bodies past
    /// `max_in_memory_body_bytes` go to a temporary file, so the limit
    /// guards the disk, not memory.
    pub max_body_bytes: u64,
    /// Request bodies up to this many bytes are held in memory; larger ones
    /// spill to an anonymous temporary file that `wsgi.input` then reads.
    /// Default 1 MiB (werkzeug's form parser's in-memory threshold is
    /// 500 KiB; Django's `FILE_UPLOAD_MAX_MEMORY_SIZE` is 2.5 MB).
    pub max_in_memory_body_bytes: u64,
    /// Seconds an idle connection (between requests, or a preconnect that
    /// sent nothing) is kept open before the server closes it. Default 60.
    pub idle_timeout_secs: u64,
    /// Seconds from the first byte of a request head to its blank line;
    /// later gets `408 Request Timeout` (a client trickling one header byte
    /// a second cannot hold a connection forever). Default 30.
    pub header_timeout_secs: u64,
    /// Seconds a client may pause (send nothing) in the middle of a request
    /// before it gets `408`. Default 30.
    pub read_timeout_secs: u64,
    /// Seconds from the end of the head to the end of the body; later gets
    /// `408`. Default 300 (1 GiB at 3.5 MB/s).
    pub body_timeout_secs: u64,
    /// Seconds a client may leave a response unread (the socket not
    /// writable) before the server aborts it. Default 60.
    pub write_timeout_secs: u64,
    /// Milliseconds an interrupted server (Ctrl-C, SIGTERM) keeps finishing
    /// the responses it is writing before it closes them; a second Ctrl-C
    /// ends the wait at once. Default 500, so Ctrl-C exits within a second
    /// (gunicorn's `graceful_timeout` is the same idea, 30 s by default).
    pub shutdown_grace_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_line_bytes: 8 * 1024,
            max_header_bytes: 64 * 1024,
            max_header_count: 100,
            max_body_bytes: 1024 * 1024 * 1024,
            max_in_memory_body_bytes: 1024 * 1024,
            idle_timeout_secs: 60,
            header_timeout_secs: 30,
            read_timeout_secs: 30,
            body_timeout_secs: 300,
            write_timeout_secs: 60,
            shutdown_grace_ms: 500,
        }
    }
}

impl Limits {
    /// [`Limits::idle_timeout_secs`] as a `Duration`.
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`Limits::header_timeout_secs`] as a `Duration`.
    #[must_use]
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    /// [`Limits::read_timeout_secs`] as a `Duration`.
    #[must_use]
    pub fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout_secs)
    }

    /// [`Limits::body_timeout_secs`] as a `Duration`.
    #[must_use]
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    /// [`Limits::write_timeout_secs`] as a `Duration`.
    #[must_use]
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs)
    }

    /// [`Limits::shutdown_grace_ms`] as a `Duration`.
    #[must_use]
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// How long one `poll` waits at most before Python's signal handlers run
/// (`check_signals`), so Ctrl-C stops the server well within a second.
pub const TICK: Duration = Duration::from_millis(100);

/// Output bytes buffered for one connection above which the server stops
/// iterating the app's body until the client has read some (backpressure).
pub const HIGH_WATER_BYTES: usize = 256 * 1024;

/// Bytes asked of the kernel per `read` while waiting for a request head.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;
