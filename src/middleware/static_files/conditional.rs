//! Conditional and range requests against one file, sans-IO (RFC 9110
//! §13 "Conditional Requests" and §14 "Range Requests"): which status the
//! request gets, given its header fields and the file's validators.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A representation's validators (RFC 9110 §8.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validators<'a> {
    /// The strong entity tag, with its quotes (§8.8.3).
    pub(crate) etag: &'a str,
    /// `Last-Modified`, whole seconds since the Unix epoch (§8.8.2: the
    /// field has one-second resolution, so comparisons are made in seconds).
    pub(crate) modified: u64,
    /// The length in bytes.
    pub(crate) len: u64,
}

/// The request's conditional and range header fields (`None`: absent).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Conditions<'a> {
    /// `If-Match` (§13.1.1).
    pub(crate) if_match: Option<&'a str>,
    /// `If-None-Match` (§13.1.2).
    pub(crate) if_none_match: Option<&'a str>,
    /// `If-Modified-Since` (§13.1.3).
    pub(crate) if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since` (§13.1.4).
    pub(crate) if_unmodified_since: Option<&'a str>,
    /// `Range` (§14.2).
    pub(crate) range: Option<&'a str>,
    /// `If-Range` (§13.1.5).
    pub(crate) if_range: Option<&'a str>,
    /// The method is HEAD (ranges are defined for GET only, §14.2).
    pub(crate) head: bool,
}

/// What the request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `200 OK` with the whole file.
    Full,
    /// `206 Partial Content`: bytes `start..=end` (§15.3.7).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive, as `Content-Range` writes it).
        end: u64,
    },
    /// `304 Not Modified` (§15.4.5).
    NotModified,
    /// `412 Precondition Failed` (§15.5.13).
    PreconditionFailed,
    /// `416 Range Not Satisfiable`, `Content-Range: bytes */len` (§15.5.17).
    Unsatisfiable,
}

/// Evaluates the preconditions in the order of RFC 9110 §13.2.2, then the
/// range: `If-Match` (else `If-Unmodified-Since`) false → 412;
/// `If-None-Match` matching (else `If-Modified-Since` not older) → 304;
/// then a `Range` of GET, honoured when `If-Range` is absent or true.
/// The method is GET or HEAD (the caller answers 405 to others).
#[must_use]
pub(crate) fn evaluate(c: &Conditions<'_>, v: &Validators<'_>) -> Outcome {
    if let Some(field) = c.if_match {
        if !tag_list_matches(field, v.etag, Compare::Strong) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(date) = c.if_unmodified_since.and_then(parse_date) {
        if v.modified > date {
            return Outcome::PreconditionFailed;
        }
    }
    if let Some(field) = c.if_none_match {
        if tag_list_matches(field, v.etag, Compare::Weak) {
            return Outcome::NotModified;
        }
    } else if let Some(date) = c.if_modified_since.and_then(parse_date) {
        if v.modified <= date {
            return Outcome::NotModified;
        }
    }
    match c.range {
        Some(range) if !c.head && c.if_range.is_none_or(|f| if_range_holds(f, v)) => {
            match byte_range(range, v.len) {
                RangeAnswer::Ignore => Outcome::Full,
                RangeAnswer::Unsatisfiable => Outcome::Unsatisfiable,
                RangeAnswer::Bytes(start, end) => Outcome::Partial { start, end },
            }
        }
        _ => Outcome::Full,
    }
}

/// An HTTP-date in any of the three forms a recipient must accept (RFC
/// 9110 §5.6.7), as seconds since the epoch; `None` when it is not one.
fn parse_date(field: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(field.trim()).ok()?;
    Some(seconds(t))
}

/// Whole seconds since the epoch (0 for a time before it).
#[must_use]
pub(crate) fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .as_ref()
        .map_or(0, Duration::as_secs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// §8.8.3.2: both tags strong and equal.
    Strong,
    /// §8.8.3.2: equal opaque tags, weak or not.
    Weak,
}

/// Whether `field` (`*` or a list of entity tags, §13.1.1/§13.1.2) matches
/// `etag` (ours, strong). A malformed list matches nothing.
fn tag_list_matches(field: &str, etag: &str, compare: Compare) -> bool {
    let mut rest = field.trim();
    if rest == "*" {
        return true;
    }
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some(end) = quoted
            .strip_prefix('"')
            .and_then(|r| r.find('"'))
            .map(|i| i + 2)
        else {
            return false;
        };
        let tag = &quoted[..end];
        if tag == etag && !(weak && compare == Compare::Strong) {
            return true;
        }
        rest = &quoted[end..];
    }
}

/// `If-Range` (§13.1.5): an entity tag must match strongly; a date must
/// equal `Last-Modified` exactly.
fn if_range_holds(field: &str, v: &Validators<'_>) -> bool {
    let field = field.trim();
    if field.starts_with('"') || field.starts_with("W/") {
        return field == v.etag;
    }
    parse_date(field) == Some(v.modified)
}

/// What a `Range` field asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// Answer with the whole file (200): the field is not a valid single
    /// byte range, or asks for several ranges (§14.2: a server MAY ignore
    /// Range; several ranges would need `multipart/byteranges`), or the
    /// file is empty.
    Ignore,
    /// 416: the one range starts past the end, or is `-0`.
    Unsatisfiable,
    /// 206: bytes `start..=end`, `end` clamped to the last byte.
    Bytes(u64, u64),
}

/// Parses `Range: bytes=a-b | a- | -n` (§14.1.2; the unit is
/// case-insensitive, list elements may be empty and padded with OWS).
#[must_use]
pub(crate) fn byte_range(field: &str, len: u64) -> RangeAnswer {
    let field = field.trim();
    let Some(set) = field
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| &field[6..])
    else {
        return RangeAnswer::Ignore;
    };
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeAnswer::Ignore;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAnswer::Ignore;
    };
    if len == 0 {
        return RangeAnswer::Ignore;
    }
    match (digits(first), digits(last)) {
        // `-n`: the last n bytes (all of them when n >= len).
        (None, Some(n)) if first.is_empty() => match n {
            0 => RangeAnswer::Unsatisfiable,
            n => RangeAnswer::Bytes(len.saturating_sub(n), len - 1),
        },
        (Some(a), None) if last.is_empty() => {
            if a >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Bytes(a, len - 1)
            }
        }
        (Some(a), Some(b)) if a <= b => {
            if a >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Bytes(a, b.min(len - 1))
            }
        }
        _ => RangeAnswer::Ignore,
    }
}

/// A non-empty run of ASCII digits as a number (saturating: a position
/// past `u64::MAX` is past any file's end).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Validators<'static> = Validators {
        etag: "\"5f-a\"",
        // Sun, 06 Nov 1994 08:49:37 GMT
        modified: 784_111_777,
        len: 10,
    };
    const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn eval(c: Conditions<'_>) -> Outcome {
        evaluate(&c, &V)
    }

    #[test]
    fn ranges() {
        use RangeAnswer::{Bytes, Ignore, Unsatisfiable};
        let table: &[(&str, u64, RangeAnswer)] = &[
            ("bytes=0-9", 10, Bytes(0, 9)),
            ("bytes=0-0", 10, Bytes(0, 0)),
            ("bytes=2-5", 10, Bytes(2, 5)),
            ("bytes=2-", 10, Bytes(2, 9)),
            ("bytes=2-100", 10, Bytes(2, 9)),
            ("bytes=-3", 10, Bytes(7, 9)),
            ("bytes=-10", 10, Bytes(0, 9)),
            ("bytes=-100", 10, Bytes(0, 9)),
            ("BYTES=1-2", 10, Bytes(1, 2)),
            ("bytes= 1-2 ,", 10, Bytes(1, 2)),
            ("bytes=9-", 10, Bytes(9, 9)),
            ("bytes=99999999999999999999999-", 10, Unsatisfiable),
            ("bytes=0-99999999999999999999999", 10, Bytes(0, 9)),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=5-2", 10, Ignore),
            ("bytes=0-1,3-4", 10, Ignore),
            ("bytes=a-b", 10, Ignore),
            ("bytes=-", 10, Ignore),
            ("bytes=1-2-3", 10, Ignore),
            ("bytes=+1-2", 10, Ignore),
            ("bytes=", 10, Ignore),
            ("items=0-1", 10, Ignore),
            ("bytes 0-1", 10, Ignore),
            ("bytes=0-1", 0, Ignore),
            ("bytes=-5", 0, Ignore),
        ];
        for (field, len, want) in table {
            assert_eq!(byte_range(field, *len), *want, "{field:?} of {len}");
        }
    }

    #[test]
    #[allow(clippy::too_many_lines)] // one table
    fn preconditions_in_rfc_order() {
        use Outcome::{Full, NotModified, Partial, PreconditionFailed, Unsatisfiable};
        let none = Conditions::default();
        let table: &[(Conditions<'_>, Outcome)] = &[
            (none, Full),
            // If-None-Match: weak comparison, lists, *.
            (
                Conditions {
                    if_none_match: Some("\"5f-a\""),
                    ..none
                },
                NotModified,
            ),
            (
                Conditions {
                    if_none_match: Some("W/\"5f-a\""),
                    ..none
                },
                NotModified,
            ),
            (
                Conditions {
                    if_none_match: Some("\"x\", \"5f-a\""),
                    ..none
                },
                NotModified,
            ),
            (
                Conditions {
                    if_none_match: Some("*"),
                    ..none
                },
                NotModified,
            ),
            (
                Conditions {
                    if_none_match: Some("\"x\""),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_none_match: Some("5f-a"),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_none_match: Some("\"5f-a"),
                    ..none
                },
                Full,
            ),
            // If-Modified-Since: not newer than the date → 304.
            (
                Conditions {
                    if_modified_since: Some(DATE),
                    ..none
                },
                NotModified,
            ),
            (
                Conditions {
                    if_modified_since: Some(LATER),
                    ..none
                },
                NotModified,
            ),
            (
                Conditions {
                    if_modified_since: Some(EARLIER),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_modified_since: Some("yesterday"),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_modified_since: Some("Sunday, 06-Nov-94 08:49:37 GMT"),
                    ..none
                },
                NotModified,
            ),
            (
                Conditions {
                    if_modified_since: Some("Sun Nov  6 08:49:37 1994"),
                    ..none
                },
                NotModified,
            ),
            // §13.2.2: If-None-Match present → If-Modified-Since ignored.
            (
                Conditions {
                    if_none_match: Some("\"x\""),
                    if_modified_since: Some(LATER),
                    ..none
                },
                Full,
            ),
            // If-Match: strong comparison; false → 412, before If-None-Match.
            (
                Conditions {
                    if_match: Some("\"5f-a\""),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_match: Some("*"),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_match: Some("W/\"5f-a\""),
                    ..none
                },
                PreconditionFailed,
            ),
            (
                Conditions {
                    if_match: Some("\"x\""),
                    if_none_match: Some("*"),
                    ..none
                },
                PreconditionFailed,
            ),
            (
                Conditions {
                    if_unmodified_since: Some(EARLIER),
                    ..none
                },
                PreconditionFailed,
            ),
            (
                Conditions {
                    if_unmodified_since: Some(DATE),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_match: Some("*"),
                    if_unmodified_since: Some(EARLIER),
                    ..none
                },
                Full,
            ),
            // Range, and If-Range deciding whether it counts.
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    ..none
                },
                Partial { start: 0, end: 3 },
            ),
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    head: true,
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    range: Some("bytes=20-"),
                    ..none
                },
                Unsatisfiable,
            ),
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    if_range: Some("\"5f-a\""),
                    ..none
                },
                Partial { start: 0, end: 3 },
            ),
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    if_range: Some("\"old\""),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    if_range: Some("W/\"5f-a\""),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    if_range: Some(DATE),
                    ..none
                },
                Partial { start: 0, end: 3 },
            ),
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    if_range: Some(EARLIER),
                    ..none
                },
                Full,
            ),
            (
                Conditions {
                    if_range: Some("\"5f-a\""),
                    ..none
                },
                Full,
            ),
            // 304 wins over Range.
            (
                Conditions {
                    range: Some("bytes=0-3"),
                    if_none_match: Some("\"5f-a\""),
                    ..none
                },
                NotModified,
            ),
        ];
        for (c, want) in table {
            assert_eq!(eval(*c), *want, "{c:?}");
        }
    }
}
