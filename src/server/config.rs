//! The server's limits, all in one struct (the units are in the names).
//!
//! Each limit protects the single app thread or the process's memory from one
//! client; the status a client gets when it crosses one is in the doc of the
//! field. Models: waitress `adjustments.py`, httparse `ParserConfig`, granian
//! `HTTP1Settings` (whose `header_read_timeout` has no unit in its name).

use std::time::Duration;

use pyo3::prelude::*;

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
    /// Longest line of a chunked request body's framing, a chunk-size line
    /// (size and extensions) or a trailer line, in bytes, CRLF excluded (as
    /// for `max_request_line_bytes`); longer gets `400`. Default 4 KiB. Not
    /// in [`LIMITS`] (no flag or keyword): extensions and trailer fields are
    /// read and dropped, so no app has a reason to want longer ones.
    pub max_chunk_line_bytes: usize,
    /// How long an idle connection (between requests, or a preconnect that
    /// sent nothing) is kept open before the server closes it (keyword
    /// `idle_timeout_secs`, seconds, decimals allowed). Default 60 s.
    pub idle_timeout: Duration,
    /// From the first byte of a request head to its blank line; later gets
    /// `408 Request Timeout` (a client trickling one header byte a second
    /// cannot hold a connection forever). Keyword `header_timeout_secs`.
    /// Default 30 s.
    pub header_timeout: Duration,
    /// How long a client may pause (send nothing) in the middle of a request
    /// before it gets `408`. Keyword `read_timeout_secs`. Default 30 s.
    pub read_timeout: Duration,
    /// From the end of the head to the end of the body; later gets `408`.
    /// Keyword `body_timeout_secs`. Default 300 s (1 GiB at 3.5 MB/s).
    pub body_timeout: Duration,
    /// How long a client may leave a response unread (the socket not
    /// writable) before the server aborts it, and `write()` waits for it at
    /// most. Keyword `write_timeout_secs`. Default 60 s.
    pub write_timeout: Duration,
    /// Milliseconds an interrupted server (Ctrl-C, SIGTERM) gives the work in
    /// flight, counted from the signal: the app call (which the signal does
    /// not interrupt) and the responses being written. Past them what still
    /// runs is stopped as by a second Ctrl-C, which ends the wait at once.
    /// Default 500, so Ctrl-C exits within a second
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
            max_chunk_line_bytes: 4 * 1024,
            idle_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(60),
            shutdown_grace_ms: 500,
        }
    }
}

impl Limits {
    /// The defaults with `values` set where given, in the order of
    /// [`LIMITS`] (`make_server`'s keywords).
    ///
    /// # Errors
    /// The keyword of a limit that must be positive and was given `0`.
    pub fn with_overrides(values: [Option<f64>; LIMITS.len()]) -> Result<Self, &'static str> {
        let mut limits = Self::default();
        for (spec, value) in LIMITS.iter().zip(values) {
            if let Some(v) = value {
                if spec.positive && v == 0.0 {
                    return Err(spec.keyword);
                }
                (spec.set)(&mut limits, v);
            }
        }
        Ok(limits)
    }

    /// [`Limits::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// [`Limits::header_timeout`].
    #[must_use]
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    /// [`Limits::read_timeout`].
    #[must_use]
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// [`Limits::body_timeout`].
    #[must_use]
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// [`Limits::write_timeout`].
    #[must_use]
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// [`Limits::shutdown_grace_ms`] as a `Duration`.
    #[must_use]
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// One limit as `make_server` and `python -m rswsgi.dev` name it. [`LIMITS`]
/// lists them all; the CLI builds its flags from it and a test checks the
/// README's table against it, so the defaults are written once, in
/// [`Limits::default`].
#[derive(Debug, Clone, Copy)]
pub struct LimitSpec {
    /// The command-line flag, e.g. `--max-body-bytes`.
    pub flag: &'static str,
    /// The `make_server` keyword, which is also the [`Limits`] field.
    pub keyword: &'static str,
    /// The value's unit: `bytes`, `fields`, `seconds` or `milliseconds`.
    pub unit: &'static str,
    /// What it limits, and what a client that crosses it gets.
    pub help: &'static str,
    /// `0` is refused (a `ValueError` naming the keyword).
    pub positive: bool,
    /// Reads the field from a [`Limits`], in `unit`.
    pub get: fn(&Limits) -> f64,
    /// Sets the field from a value in `unit`: whole for the counts (the
    /// keyword takes an `int`), any finite non-negative number of seconds
    /// for the timeouts; a `usize` one saturates on a 32-bit platform.
    pub set: fn(&mut Limits, f64),
}

impl LimitSpec {
    /// `true` for a limit in seconds (its flag and keyword take decimals).
    #[must_use]
    pub fn in_seconds(&self) -> bool {
        self.unit == "seconds"
    }
}

/// `value` (whole, non-negative) as a `u64` limit.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(value: f64) -> u64 {
    value as u64
}

/// `value` as a `usize` limit, saturating on a 32-bit platform.
fn count(value: f64) -> usize {
    usize::try_from(whole(value)).unwrap_or(usize::MAX)
}

/// `value` seconds (finite, non-negative) as a `Duration`; past what a
/// `Duration` holds, the longest one.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
}

/// Every limit, in the order the CLI's `--help` and the README list them.
#[allow(clippy::cast_precision_loss)] // sizes and counts far below 2**53
pub const LIMITS: [LimitSpec; 11] = [
    LimitSpec {
        flag: "--max-request-line-bytes",
        keyword: "max_request_line_bytes",
        unit: "bytes",
        help: "longest request line, bytes (else 414)",
        positive: true,
        get: |l| l.max_request_line_bytes as f64,
        set: |l, v| l.max_request_line_bytes = count(v),
    },
    LimitSpec {
        flag: "--max-header-bytes",
        keyword: "max_header_bytes",
        unit: "bytes",
        help: "longest request head, bytes (else 431)",
        positive: true,
        get: |l| l.max_header_bytes as f64,
        set: |l, v| l.max_header_bytes = count(v),
    },
    LimitSpec {
        flag: "--max-header-count",
        keyword: "max_header_count",
        unit: "fields",
        help: "most header fields (else 431)",
        positive: true,
        get: |l| l.max_header_count as f64,
        set: |l, v| l.max_header_count = count(v),
    },
    LimitSpec {
        flag: "--max-body-bytes",
        keyword: "max_body_bytes",
        unit: "bytes",
        help: "largest request body, bytes (else 413)",
        positive: false,
        get: |l| l.max_body_bytes as f64,
        set: |l, v| l.max_body_bytes = whole(v),
    },
    LimitSpec {
        flag: "--max-in-memory-body-bytes",
        keyword: "max_in_memory_body_bytes",
        unit: "bytes",
        help: "bodies larger than this many bytes spill to a temporary file",
        positive: false,
        get: |l| l.max_in_memory_body_bytes as f64,
        set: |l, v| l.max_in_memory_body_bytes = whole(v),
    },
    LimitSpec {
        flag: "--idle-timeout",
        keyword: "idle_timeout_secs",
        unit: "seconds",
        help: "seconds an idle keep-alive connection stays open",
        positive: false,
        get: |l| l.idle_timeout.as_secs_f64(),
        set: |l, v| l.idle_timeout = seconds(v),
    },
    LimitSpec {
        flag: "--header-timeout",
        keyword: "header_timeout_secs",
        unit: "seconds",
        help: "seconds from a request's first byte to the end of its head (else 408)",
        positive: false,
        get: |l| l.header_timeout.as_secs_f64(),
        set: |l, v| l.header_timeout = seconds(v),
    },
    LimitSpec {
        flag: "--read-timeout",
        keyword: "read_timeout_secs",
        unit: "seconds",
        help: "seconds a client may pause mid-request (else 408)",
        positive: false,
        get: |l| l.read_timeout.as_secs_f64(),
        set: |l, v| l.read_timeout = seconds(v),
    },
    LimitSpec {
        flag: "--body-timeout",
        keyword: "body_timeout_secs",
        unit: "seconds",
        help: "seconds from the end of the head to the end of the body (else 408)",
        positive: false,
        get: |l| l.body_timeout.as_secs_f64(),
        set: |l, v| l.body_timeout = seconds(v),
    },
    LimitSpec {
        flag: "--write-timeout",
        keyword: "write_timeout_secs",
        unit: "seconds",
        help: "seconds a client may leave a response unread",
        positive: false,
        get: |l| l.write_timeout.as_secs_f64(),
        set: |l, v| l.write_timeout = seconds(v),
    },
    LimitSpec {
        flag: "--shutdown-grace-ms",
        keyword: "shutdown_grace_ms",
        unit: "milliseconds",
        help: "milliseconds the app call and responses in flight may take to finish after Ctrl-C \
               or SIGTERM (a second one ends it)",
        positive: false,
        get: |l| l.shutdown_grace_ms as f64,
        set: |l, v| l.shutdown_grace_ms = whole(v),
    },
];

/// `_limits() -> list[tuple[str, str, int, str, str]]`: every server limit
/// as `(flag, keyword, default, unit, help)`, the default from `Limits`
/// (private: `python -m rswsgi.dev` builds its flags from it, and the
/// README's table is tested against it).
#[pyfunction]
#[pyo3(name = "_limits")]
#[must_use]
pub fn limits_table() -> Vec<(&'static str, &'static str, u64, &'static str, &'static str)> {
    let defaults = Limits::default();
    // Every default is a whole number in its unit.
    LIMITS
        .iter()
        .map(|s| (s.flag, s.keyword, whole((s.get)(&defaults)), s.unit, s.help))
        .collect()
}

/// How long one `poll` waits at most before Python's signal handlers run
/// (`check_signals`), so Ctrl-C stops the server well within a second.
pub const TICK: Duration = Duration::from_millis(100);

/// Output bytes buffered for one connection above which the server stops
/// iterating the app's body until the client has read some (backpressure).
pub const HIGH_WATER_BYTES: usize = 256 * 1024;

/// How long one connection's turn may run before the event loop serves
/// the others (fairness in time: between two blocks of a stream, once a
/// block took this long to produce, every other ready connection gets its
/// turn first).
pub const TURN_SLICE: Duration = Duration::from_millis(2);

/// A single run of application code (the app call, one `next()`) longer
/// than this is logged once per path: every other client waited for it.
pub const HELD_WARNING: Duration = Duration::from_secs(1);

/// Bytes asked of the kernel per `read` while waiting for a request head.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp, clippy::cast_precision_loss)] // small, exact values
    fn each_spec_reads_and_sets_its_own_field() {
        let defaults = Limits::default();
        for (i, spec) in LIMITS.iter().enumerate() {
            let mut limits = Limits::default();
            let value = 1_000.0 + i as f64;
            (spec.set)(&mut limits, value);
            assert_eq!((spec.get)(&limits), value, "{}", spec.keyword);
            // No other limit moved.
            for other in LIMITS.iter().filter(|o| o.keyword != spec.keyword) {
                assert_eq!(
                    (other.get)(&limits),
                    (other.get)(&defaults),
                    "{}",
                    other.keyword
                );
            }
        }
        let rows = limits_table();
        assert_eq!(
            rows[0],
            (
                "--max-request-line-bytes",
                "max_request_line_bytes",
                8192,
                "bytes",
                LIMITS[0].help
            )
        );
        assert_eq!(rows[10].2, 500);
    }
}
