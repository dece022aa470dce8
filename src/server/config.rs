//! The server's limits, all in one struct (the units are in the names),
//! each declared once in the `limits!` table below.
//!
//! Each limit protects the single app thread or the process's memory from one
//! client; the status a client gets when it crosses one is in the doc of the
//! field. Models: waitress `adjustments.py`, httparse `ParserConfig`, granian
//! `HTTP1Settings` (whose `header_read_timeout` has no unit in its name).

use std::time::Duration;

use pyo3::intern;
use pyo3::prelude::*;

use crate::errors::Error;

/// The table of every server limit, each declared once:
/// `limit_table!([m] mode)` calls the macro `m` with `mode` and the table.
/// From it `define_limits!` makes the [`Limits`] struct and its `Default`,
/// and [`LIMITS`] (the rows `_limits()` gives `python -m rswsgi.dev` for its
/// flags, by which [`Limits::set_keyword`] reads `make_server`'s limit
/// keywords), and [`limit_text`] writes those keywords into `make_server`'s
/// signature and doc.
///
/// A row of `keywords` is `field: type = default "unit"`, then the
/// `make_server` keyword, the CLI flag, whether `0` is refused, and the help
/// line; the default is a whole number in the unit. A row of `internal` is a
/// limit with no keyword or flag.
macro_rules! limit_table {
    ([$($then:tt)*] $($mode:tt)*) => {
        $($then)*! { $($mode)*
        keywords {
            /// Longest request line (`GET /path HTTP/1.1`) in bytes, CRLF excluded;
            /// longer gets `414 URI Too Long` (RFC 9112 §3). Default 8 KiB, the
            /// minimum RFC 9112 §3 recommends supporting and what nginx and
            /// gunicorn allow.
            max_request_line_bytes: usize = 8_192 "bytes",
                keyword max_request_line_bytes, flag "--max-request-line-bytes", positive true,
                help "longest request line, bytes (else 414)";
            /// Longest request head (request line plus header section) in bytes;
            /// longer gets `431 Request Header Fields Too Large` (RFC 6585 §5).
            /// Default 64 KiB: big cookies fit, a header flood does not.
            max_header_bytes: usize = 65_536 "bytes",
                keyword max_header_bytes, flag "--max-header-bytes", positive true,
                help "longest request head, bytes (else 431)";
            /// Most header fields in one request; more gets `431`. Default 100
            /// (gunicorn's `limit_request_fields`).
            max_header_count: usize = 100 "fields",
                keyword max_header_count, flag "--max-header-count", positive true,
                help "most header fields (else 431)";
            /// Largest request body in bytes; a larger declared `Content-Length`
            /// gets `413 Content Too Large` at once (RFC 9110 §15.5.14), a chunked
            /// body gets it when it crosses the limit. Default 1 GiB: bodies past
            /// `max_in_memory_body_bytes` go to a temporary file, so the limit
            /// guards the disk, not memory.
            max_body_bytes: u64 = 1_073_741_824 "bytes",
                keyword max_body_bytes, flag "--max-body-bytes", positive false,
                help "largest request body, bytes (else 413)";
            /// Request bodies up to this many bytes are held in memory; larger ones
            /// spill to an anonymous temporary file that `wsgi.input` then reads.
            /// Default 1 MiB (werkzeug's form parser's in-memory threshold is
            /// 500 KiB; Django's `FILE_UPLOAD_MAX_MEMORY_SIZE` is 2.5 MB).
            max_in_memory_body_bytes: u64 = 1_048_576 "bytes",
                keyword max_in_memory_body_bytes, flag "--max-in-memory-body-bytes", positive false,
                help "bodies larger than this many bytes spill to a temporary file";
            /// How long an idle connection (between requests, or a preconnect that
            /// sent nothing) is kept open before the server closes it. Default 60 s.
            idle_timeout: Duration = 60 "seconds",
                keyword idle_timeout_secs, flag "--idle-timeout", positive false,
                help "seconds an idle keep-alive connection stays open";
            /// From the first byte of a request head to its blank line; later gets
            /// `408 Request Timeout` (a client trickling one header byte a second
            /// cannot hold a connection forever). Default 30 s.
            header_timeout: Duration = 30 "seconds",
                keyword header_timeout_secs, flag "--header-timeout", positive false,
                help "seconds from a request's first byte to the end of its head (else 408)";
            /// How long a client may pause (send nothing) in the middle of a request
            /// before it gets `408`. Default 30 s.
            read_timeout: Duration = 30 "seconds",
                keyword read_timeout_secs, flag "--read-timeout", positive false,
                help "seconds a client may pause mid-request (else 408)";
            /// From the end of the head to the end of the body; later gets `408`.
            /// Default 300 s (1 GiB at 3.5 MB/s).
            body_timeout: Duration = 300 "seconds",
                keyword body_timeout_secs, flag "--body-timeout", positive false,
                help "seconds from the end of the head to the end of the body (else 408)";
            /// How long a client may leave a response unread (the socket not
            /// writable) before the server aborts it, and `write()` waits for it at
            /// most. Default 60 s.
            write_timeout: Duration = 60 "seconds",
                keyword write_timeout_secs, flag "--write-timeout", positive false,
                help "seconds a client may leave a response unread";
            /// Milliseconds an interrupted server (Ctrl-C, SIGTERM) gives the work in
            /// flight, counted from the signal: the app call (which the signal does
            /// not interrupt) and the responses being written. Past them what still
            /// runs is stopped as by a second Ctrl-C, which ends the wait at once.
            /// Default 500, so Ctrl-C exits within a second
            /// (gunicorn's `graceful_timeout` is the same idea, 30 s by default).
            shutdown_grace_ms: u64 = 500 "milliseconds",
                keyword shutdown_grace_ms, flag "--shutdown-grace-ms", positive false,
                help "milliseconds the app call and responses in flight may take to finish \
                      after Ctrl-C or SIGTERM (a second one ends it)";
        }
        internal {
            /// Longest line of a chunked request body's framing, a chunk-size line
            /// (size and extensions) or a trailer line, in bytes, CRLF excluded (as
            /// for `max_request_line_bytes`); longer gets `400`. Default 4 KiB. No
            /// flag or keyword: extensions and trailer fields are read and
            /// dropped, so no app has a reason to want longer ones.
            max_chunk_line_bytes: usize = 4 * 1024;
        }
        }
    };
}

/// `limit_table!` rows: the rows `keywords` and `internal` as the table
/// gives them.
macro_rules! define_limits {
    (
        keywords {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty = $default:literal $unit:literal,
                keyword $keyword:ident, flag $flag:literal, positive $positive:literal,
                help $help:literal;
            )*
        }
        internal {
            $(
                $(#[doc = $idoc:literal])*
                $ifield:ident: $ity:ty = $idefault:expr;
            )*
        }
    ) => {
        /// Limits on what one client may send, and how long it may take
        /// (`pub` for the fuzz targets, through `crate::fuzzing`).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Limits {
            $( $(#[doc = $doc])* pub $field: $ty, )*
            $( $(#[doc = $idoc])* pub $ifield: $ity, )*
        }

        impl Default for Limits {
            fn default() -> Self {
                Self {
                    $( $field: LimitValue::from_whole($default), )*
                    $( $ifield: $idefault, )*
                }
            }
        }

        /// Every limit that has a keyword and a flag, in the order the CLI's
        /// `--help` and the README list them.
        pub(crate) const LIMITS: [LimitSpec; [$(stringify!($field)),*].len()] = [
            $(
                LimitSpec {
                    flag: $flag,
                    keyword: stringify!($keyword),
                    default: $default,
                    unit: $unit,
                    help: $help,
                    positive: $positive,
                    #[cfg(test)]
                    get: |l| LimitValue::to_unit(&l.$field),
                    set: |l, v| l.$field = LimitValue::from_unit(v),
                },
            )*
        ];
    };
}

limit_table!([define_limits]);

/// What `make_server`'s signature and doc say of the limit keywords, as a
/// string literal (for `#[doc]`): `limit_text!(signature)` is
/// `keyword=None, ` for each, `limit_text!(defaults)` is `keyword=default, `
/// for each, and `limit_text!(docs)` is one line per keyword with its help.
macro_rules! limit_text {
    ($mode:ident) => {
        $crate::server::config::limit_table!([$crate::server::config::limit_text] $mode)
    };
    ($mode:ident keywords { $($(#[doc = $doc:literal])* $field:ident: $ty:ty = $default:literal $unit:literal,
        keyword $keyword:ident, flag $flag:literal, positive $positive:literal,
        help $help:literal;)* } internal { $($internal:tt)* }) => {
        $crate::server::config::limit_text!(@$mode $(($keyword $default $help))*)
    };
    (@signature $(($keyword:ident $default:literal $help:literal))*) => {
        concat!($(stringify!($keyword), "=None, ",)*)
    };
    (@defaults $(($keyword:ident $default:literal $help:literal))*) => {
        concat!($(stringify!($keyword), "=", $default, ", ",)*)
    };
    (@docs $(($keyword:ident $default:literal $help:literal))*) => {
        concat!($("- `", stringify!($keyword), "`: ", $help, ".\n",)*)
    };
}
pub(crate) use limit_table;
pub(crate) use limit_text;

impl Limits {
    /// Sets the limit whose `make_server` keyword is `name` (a keyword of
    /// [`LIMITS`]) from its Python value; `None` leaves the default.
    /// `Ok(false)` when `name` is no limit's keyword.
    ///
    /// # Errors
    /// As `make_server`'s own keywords would: `TypeError` for a value of the
    /// wrong type (noted `while processing 'x'`), `OverflowError` for a negative
    /// count, and `ValueError` naming the keyword and the value for seconds
    /// that are not finite and 0 or more, and for `0` where the limit must be
    /// positive.
    pub(crate) fn set_keyword(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Some(spec) = LIMITS.iter().find(|s| s.keyword == name) else {
            return Ok(false);
        };
        if value.is_none() {
            return Ok(true);
        }
        let v = spec.extract(value)?;
        if spec.positive && v == 0.0 {
            return Err(Error::BadArgument {
                name: spec.keyword,
                value: "0".into(),
                why: "must be positive",
            }
            .into());
        }
        (spec.set)(self, v);
        Ok(true)
    }

    /// [`Limits::idle_timeout`].
    #[must_use]
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// [`Limits::header_timeout`].
    #[must_use]
    pub(crate) fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    /// [`Limits::read_timeout`].
    #[must_use]
    pub(crate) fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// [`Limits::body_timeout`].
    #[must_use]
    pub(crate) fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// [`Limits::write_timeout`].
    #[must_use]
    pub(crate) fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// [`Limits::shutdown_grace_ms`] as a `Duration`.
    #[must_use]
    pub(crate) fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// One limit as `make_server` and `python -m rswsgi.dev` name it, a row of
/// [`LIMITS`]: the CLI builds its flags from these rows and a test checks
/// the README's table against them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LimitSpec {
    /// The command-line flag, e.g. `--max-body-bytes`.
    pub(crate) flag: &'static str,
    /// The `make_server` keyword.
    pub(crate) keyword: &'static str,
    /// The default, in `unit`.
    pub(crate) default: u64,
    /// The value's unit: `bytes`, `fields`, `seconds` or `milliseconds`.
    pub(crate) unit: &'static str,
    /// What it limits, and what a client that crosses it gets.
    pub(crate) help: &'static str,
    /// `0` is refused (a `ValueError` naming the keyword).
    pub(crate) positive: bool,
    /// Reads the field from a [`Limits`], in `unit` (tests).
    #[cfg(test)]
    pub(crate) get: fn(&Limits) -> f64,
    /// Sets the field from a value in `unit`: whole for the counts (the
    /// keyword takes an `int`), any finite non-negative number of seconds
    /// for the timeouts; a `usize` one saturates on a 32-bit platform.
    pub(crate) set: fn(&mut Limits, f64),
}

impl LimitSpec {
    /// `true` for a limit in seconds (its flag and keyword take decimals).
    #[must_use]
    pub(crate) fn in_seconds(&self) -> bool {
        self.unit == "seconds"
    }

    /// The keyword's Python value in `unit`: an `int` for a count, a finite
    /// number 0 or more for seconds (errors as for [`Limits::set_keyword`]).
    fn extract(&self, value: &Bound<'_, PyAny>) -> PyResult<f64> {
        let named = |e| argument_error(value.py(), self.keyword, e);
        if self.in_seconds() {
            let v = value.extract::<f64>().map_err(named)?;
            if !v.is_finite() || v < 0.0 {
                return Err(Error::BadArgument {
                    name: self.keyword,
                    value: format!("{v:?}"),
                    why: "expected a finite number of seconds, 0 or more",
                }
                .into());
            }
            Ok(v)
        } else {
            #[allow(clippy::cast_precision_loss)] // limits far below 2**53
            Ok(value.extract::<u64>().map_err(named)? as f64)
        }
    }
}

/// `e`, raised extracting the keyword argument `name`, as PyO3 reports it
/// for a declared argument: the same exception, with the note `while
/// processing 'name'` (`BaseException.add_note`, Python 3.11+).
pub(crate) fn argument_error(py: Python<'_>, name: &str, e: PyErr) -> PyErr {
    let note = format!("while processing '{name}'");
    let _ = e.value(py).call_method1(intern!(py, "add_note"), (note,));
    e
}

/// A limit's field type, read and set in the limit's unit (an `f64`, which
/// holds every whole count a limit takes and decimal seconds).
trait LimitValue {
    /// The default, a whole number in the unit.
    fn from_whole(value: u64) -> Self;
    /// `value` (finite, non-negative; whole for a count) in the unit.
    fn from_unit(value: f64) -> Self;
    /// The value in the unit (tests).
    #[cfg(test)]
    fn to_unit(&self) -> f64;
}

impl LimitValue for u64 {
    fn from_whole(value: u64) -> Self {
        value
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn from_unit(value: f64) -> Self {
        value as u64
    }
    #[cfg(test)]
    #[allow(clippy::cast_precision_loss)] // sizes and counts far below 2**53
    fn to_unit(&self) -> f64 {
        *self as f64
    }
}

/// Saturating on a 32-bit platform.
impl LimitValue for usize {
    fn from_whole(value: u64) -> Self {
        usize::try_from(value).unwrap_or(usize::MAX)
    }
    fn from_unit(value: f64) -> Self {
        Self::from_whole(u64::from_unit(value))
    }
    #[cfg(test)]
    #[allow(clippy::cast_precision_loss)] // sizes and counts far below 2**53
    fn to_unit(&self) -> f64 {
        *self as f64
    }
}

/// Seconds; past what a `Duration` holds, the longest one.
impl LimitValue for Duration {
    fn from_whole(value: u64) -> Self {
        Duration::from_secs(value)
    }
    fn from_unit(value: f64) -> Self {
        Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
    }
    #[cfg(test)]
    fn to_unit(&self) -> f64 {
        self.as_secs_f64()
    }
}

/// `_limits() -> list[tuple[str, str, int, str, str]]`: every server limit
/// as `(flag, keyword, default, unit, help)` (private: `python -m
/// rswsgi.dev` builds its flags from it, and the README's table is tested
/// against it).
#[pyfunction]
#[pyo3(name = "_limits")]
#[must_use]
pub(crate) fn limits_table() -> Vec<(&'static str, &'static str, u64, &'static str, &'static str)> {
    LIMITS
        .iter()
        .map(|s| (s.flag, s.keyword, s.default, s.unit, s.help))
        .collect()
}

/// How long one `poll` waits at most before Python's signal handlers run
/// (`check_signals`), so Ctrl-C stops the server well within a second.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// Output bytes buffered for one connection above which the server stops
/// iterating the app's body until the client has read some (backpressure).
pub(crate) const HIGH_WATER_BYTES: usize = 256 * 1024;

/// A single run of application code (the app call, one `next()`) longer
/// than this is logged once per path: every other client waited for it.
pub(crate) const HELD_WARNING: Duration = Duration::from_secs(1);

/// Bytes asked of the kernel per `read` while waiting for a request head.
pub(crate) const READ_CHUNK_BYTES: usize = 16 * 1024;

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
        // The defaults in the rows are the ones `Limits::default` holds.
        for spec in &LIMITS {
            assert_eq!(
                (spec.get)(&defaults),
                spec.default as f64,
                "{}",
                spec.keyword
            );
        }
    }
}
