//! `reverser`: text/plain bodies reversed by user-perceived characters.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use unicode_segmentation::UnicodeSegmentation;

use super::filter::{call_filtered, BodyMode, ResponseHooks};
use super::glue::{middleware_class, Call, Middleware};
use crate::vectorcall;
use crate::wsgi::{Head, MediaType};

/// A character encoding the reverser can decode and re-encode exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 (the default when `Content-Type` names no charset).
    Utf8,
    /// ISO-8859-1, as Python's `latin-1` codec: byte N is U+00NN.
    Latin1,
    /// US-ASCII: bytes 0-127 only.
    Ascii,
}

impl Charset {
    /// The charset for a `charset` parameter (any case), with the usual
    /// aliases; `None` for one the reverser does not know.
    #[must_use]
    pub(crate) fn from_label(label: Option<&str>) -> Option<Self> {
        let Some(label) = label else {
            return Some(Self::Utf8);
        };
        // Lower-cased on the stack: every known label is shorter than this.
        let mut buf = [0u8; 16];
        let lower = buf.get_mut(..label.len())?;
        lower.copy_from_slice(label.as_bytes());
        lower.make_ascii_lowercase();
        match std::str::from_utf8(lower).ok()? {
            "utf-8" | "utf8" | "utf_8" => Some(Self::Utf8),
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin-1" | "latin1" | "latin_1" | "l1"
            | "iso-ir-100" | "csisolatin1" => Some(Self::Latin1),
            "us-ascii" | "ascii" | "us_ascii" | "ansi_x3.4-1968" | "iso646-us" | "csascii" => {
                Some(Self::Ascii)
            }
            _ => None,
        }
    }
}

/// `text` with its extended grapheme clusters (UAX #29) in reverse order:
/// `"👍🏽 ok"` becomes `"ko 👍🏽"`, the skin-tone modifier staying with its
/// emoji, `"e\u{301}"` and `"\r\n"` staying whole.
#[must_use]
pub fn reverse_graphemes(text: &str) -> String {
    let out = reverse_utf8(text);
    // Whole clusters of valid UTF-8 in another order are valid UTF-8; the
    // check keeps this free of `unsafe` (and cannot fail).
    String::from_utf8(out).unwrap_or_else(|_| text.graphemes(true).rev().collect())
}

/// [`reverse_graphemes`] as bytes.
#[must_use]
pub fn reverse_utf8(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    reverse_spans(&mut out, &clusters_of_utf8(text));
    out
}

/// Reverses `buf` by clusters in place, given the clusters longer than one
/// byte (`spans`, in order, not overlapping): each such cluster's bytes are
/// reversed, then the whole buffer, which puts every cluster's bytes back
/// in order and the clusters in reverse order. No second buffer.
fn reverse_spans(buf: &mut [u8], spans: &[(usize, usize)]) {
    for &(start, end) in spans {
        buf[start..end].reverse();
    }
    buf.reverse();
}

/// The clusters (UAX #29) of `text` that are longer than one byte, as
/// `(start, end)` byte offsets in order; none for ASCII text without CR LF.
///
/// Fast path: call a character *simple* when it is below U+0100 (ASCII or
/// Latin-1, one or two UTF-8 bytes). No simple character is Extend, ZWJ,
/// SpacingMark, Prepend, a regional indicator or a Hangul jamo, so between
/// two simple characters there is always a cluster boundary except inside
/// CR LF (GB3): every rule that joins characters (GB9, GB9a, GB9b, GB9c,
/// GB11, GB12/13, GB6-8) involves a character above U+00FF. A simple
/// character followed by a simple one (CR LF aside) or by the end is
/// therefore a cluster of its own; anywhere else the segmenter takes the
/// next cluster, starting at a known boundary.
fn clusters_of_utf8(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < n {
        // A run of ASCII: every byte but the last is a cluster of its own
        // (CR LF aside), and the last one too when a simple character or
        // the end follows it.
        let run = bytes[i..]
            .iter()
            .position(|b| !b.is_ascii())
            .unwrap_or(n - i);
        let mut bulk = match bytes.get(i + run) {
            None | Some(0xc2 | 0xc3) => run,
            Some(_) => run.saturating_sub(1),
        };
        if bulk > 0 && bulk < run && bytes[i + bulk - 1] == b'\r' && bytes[i + bulk] == b'\n' {
            bulk -= 1; // keep a CR LF split by the held-back byte together
        }
        if bulk > 0 {
            push_crlf_spans(&bytes[i..i + bulk], i, &mut spans);
            i += bulk;
            continue;
        }
        let b = bytes[i];
        let simple = simple_len(b);
        let alone = simple.is_some_and(|len| match bytes.get(i + len) {
            None => true,
            Some(&c) => simple_len(c).is_some() && !(b == b'\r' && c == b'\n'),
        });
        let len = match simple {
            Some(len) if alone => len,
            _ => text[i..].graphemes(true).next().map_or(n - i, str::len),
        };
        if len > 1 {
            spans.push((i, i + len));
        }
        i += len;
    }
    spans
}

/// Adds each CR LF of `run` (which starts at byte `at`) to `spans`: in text
/// of characters below U+0100 the only clusters longer than one character.
fn push_crlf_spans(run: &[u8], at: usize, spans: &mut Vec<(usize, usize)>) {
    if !run.contains(&b'\r') {
        return;
    }
    let mut k = 0;
    while k + 1 < run.len() {
        if run[k] == b'\r' && run[k + 1] == b'\n' {
            spans.push((at + k, at + k + 2));
            k += 2;
        } else {
            k += 1;
        }
    }
}

/// The UTF-8 length of the character whose first byte is `b` when that
/// character is below U+0100 (lead bytes 0xC2 and 0xC3 begin U+0080..U+00FF).
fn simple_len(b: u8) -> Option<usize> {
    match b {
        0..=0x7f => Some(1),
        0xc2 | 0xc3 => Some(2),
        _ => None,
    }
}

/// Reverses `body`, decoded with `charset`, by grapheme clusters and
/// encodes it again, in place; `false` (`body` unchanged) when it does not
/// decode (then it is sent as it is). The length stays: the same
/// characters, each encoded as before, in another order.
pub fn reverse_body(body: &mut [u8], charset: Charset) -> bool {
    let spans = match charset {
        Charset::Ascii if !body.is_ascii() => return false,
        Charset::Utf8 | Charset::Ascii => match std::str::from_utf8(body) {
            Ok(text) => clusters_of_utf8(text),
            Err(_) => return false,
        },
        // Every character is below U+0100 (one byte each): CR LF is the
        // only cluster longer than one character.
        Charset::Latin1 => {
            let mut spans = Vec::new();
            push_crlf_spans(body, 0, &mut spans);
            spans
        }
    };
    reverse_spans(body, &spans);
    true
}

/// WSGI middleware: `reverser(app)`.
///
/// When the response media type is `text/plain` (any case, parameters
/// allowed, RFC 9110 §8.3.1) and its status allows a body, the whole body
/// (iterable and `write()` output alike) is decoded with the `charset`
/// parameter (default utf-8; also latin-1/iso-8859-1 and us-ascii),
/// reversed by extended grapheme clusters and encoded again.
///
/// `Content-Length`: the head is passed on with the reversed body, as one
/// chunk, and carries its exact length whatever the app declared and
/// whatever its iterable (list, generator, any object with `__iter__`): the
/// whole body is read at its first non-empty chunk, which PEP 3333 lets the
/// head wait for. Only a `write()` call passes the head on at once (the app
/// asked for its bytes to go out); a declared length then stays, exact
/// because reversal keeps the byte length, and `b''` is yielded per later
/// inner chunk (PEP 3333 "Middleware Handling of Block Boundaries").
///
/// Passed through untouched and lazily: every other media type, a charset
/// it does not know, HEAD requests (no body), and 1xx/204/304 responses. A
/// body that does not decode with its charset is sent unchanged.
///
/// Raises `TypeError` when `app` is not callable. Usable as a decorator:
/// `@reverser`.
#[pyclass(module = "rswsgi._rswsgi", name = "reverser", frozen)]
pub(crate) struct Reverser {
    app: Py<PyAny>,
    vectorcall: vectorcall::Slot<Self>,
}

middleware_class!(Reverser, "reverser", new(app));

impl Reverser {
    #[allow(clippy::unnecessary_wraps)] // the constructor's shape; see `middleware_class!`
    fn build(app: Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            app: app.unbind(),
            vectorcall: vectorcall::Slot::default(),
        })
    }
}

impl Middleware for Reverser {
    fn call<'py>(&self, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
        let py = call.app.py();
        let key = intern!(py, "REQUEST_METHOD");
        let method = match call.environ.cast::<PyDict>() {
            Ok(dict) => dict.get_item(key).ok().flatten(),
            Err(_) => call.environ.get_item(key).ok(), // not a dict, as PEP 3333 asks
        };
        let head_request = method.is_some_and(|m| match m.cast::<PyString>() {
            Ok(s) => s.to_str().is_ok_and(|s| s == "HEAD"),
            Err(_) => m.eq(intern!(py, "HEAD")).unwrap_or(false),
        });
        if head_request {
            // No body to reverse: the app's iterable goes back as it is.
            return call.pass_on();
        }
        call_filtered(call, Box::new(Hooks { charset: None }))
    }
}

/// Per-response state: the charset of a body being reversed.
struct Hooks {
    charset: Option<Charset>,
}

/// The charset of a body to reverse, from its status code and
/// `Content-Type`: `None` for a status without a body, another media type
/// or a charset the reverser does not know.
fn choose(code: u16, content_type: Option<&str>) -> Option<Charset> {
    if code < 200 || code == 204 || code == 304 {
        return None;
    }
    let media = MediaType::parse(content_type?)?;
    if !media.is("text/plain") {
        return None;
    }
    Charset::from_label(media.charset)
}

impl ResponseHooks for Hooks {
    fn mode(&mut self, py: Python<'_>, head: &Head) -> BodyMode {
        let content_type = head.content_type.as_ref().map(|c| c.bind(py));
        self.charset = choose(head.code, content_type.and_then(|c| c.to_str().ok()));
        if self.charset.is_some() {
            BodyMode::Whole
        } else {
            BodyMode::Stream
        }
    }

    fn transform(&mut self, body: &mut Vec<u8>) {
        if let Some(cs) = self.charset {
            reverse_body(body, cs);
        }
    }

    fn preserves_length(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphemes_not_code_points() {
        // The skin-tone modifier stays attached to its emoji.
        assert_eq!(
            reverse_graphemes("h\u{e9}llo w\u{f6}rld \u{1f44d}\u{1f3fd}"),
            "\u{1f44d}\u{1f3fd} dlr\u{f6}w oll\u{e9}h"
        );
        // A combining accent, CRLF, a ZWJ family, a flag: each one cluster.
        assert_eq!(reverse_graphemes("ae\u{301}\r\nb"), "b\r\ne\u{301}a");
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(
            reverse_graphemes(&format!("x{family}y")),
            format!("y{family}x")
        );
        assert_eq!(
            reverse_graphemes("\u{1f1eb}\u{1f1f7}!"),
            "!\u{1f1eb}\u{1f1f7}"
        );
        assert_eq!(reverse_graphemes(""), "");
    }

    #[test]
    fn fast_paths_agree_with_the_segmenter() {
        let naive = |t: &str| t.graphemes(true).rev().collect::<String>();
        let parts = [
            "ab",
            "\r\n",
            "\r",
            "\n",
            "\u{e9}",
            "\u{301}",
            "\u{1f44d}",
            "\u{1f3fd}",
            "\u{600}",
            "\u{200d}",
            "\u{ad}",
            "x",
        ];
        // Every sequence of three parts, and each doubled.
        for a in parts {
            for b in parts {
                for c in parts {
                    let t = format!("{a}{b}{c}{a}{b}{c}");
                    assert_eq!(reverse_graphemes(&t), naive(&t), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn bodies_by_charset() {
        // `Some(reversed)`, or `None` when the body was left unchanged.
        let rev = |body: &[u8], cs| {
            let mut buf = body.to_vec();
            if reverse_body(&mut buf, cs) {
                Some(buf)
            } else {
                assert_eq!(buf, body);
                None
            }
        };
        let utf8 = "h\u{e9}llo".as_bytes();
        assert_eq!(rev(utf8, Charset::Utf8).unwrap(), "oll\u{e9}h".as_bytes());
        // Latin-1: é is one byte, reversed as one character; CR LF stays.
        assert_eq!(rev(b"h\xe9!", Charset::Latin1).unwrap(), b"!\xe9h");
        assert_eq!(
            rev(b"a\r\n\xe9\r", Charset::Latin1).unwrap(),
            b"\r\xe9\r\na"
        );
        assert_eq!(rev(b"abc", Charset::Ascii).unwrap(), b"cba");
        assert_eq!(rev(b"a\r\nb\n\r", Charset::Ascii).unwrap(), b"\r\nb\r\na");
        // Undecodable: None (sent unchanged).
        assert_eq!(rev(b"a\xffb", Charset::Utf8), None);
        assert_eq!(rev(b"a\xe9", Charset::Ascii), None);
        // Length is kept.
        let s = "a\u{1f44d}\u{1f3fd}\u{e9}".as_bytes();
        assert_eq!(rev(s, Charset::Utf8).unwrap().len(), s.len());
    }

    #[test]
    fn media_types_and_charsets() {
        let cases = [
            ("200 OK", Some("text/plain"), Some(Charset::Utf8)),
            (
                "200 OK",
                Some("text/plain; charset=utf-8"),
                Some(Charset::Utf8),
            ),
            ("200 OK", Some("TEXT/PLAIN"), Some(Charset::Utf8)),
            (
                "200 OK",
                Some("Text/Plain; Charset=\"ISO-8859-1\""),
                Some(Charset::Latin1),
            ),
            (
                "404 Not Found",
                Some("text/plain;charset=us-ascii"),
                Some(Charset::Ascii),
            ),
            ("200 OK", Some("text/plain; charset=koi8-r"), None),
            ("200 OK", Some("text/html"), None),
            ("200 OK", Some("text/plainx"), None),
            ("200 OK", Some("application/json"), None),
            ("200 OK", None, None),
            ("204 No Content", Some("text/plain"), None),
            ("304 Not Modified", Some("text/plain"), None),
        ];
        for (status, ct, want) in cases {
            let code = crate::wsgi::status_code(status).unwrap();
            assert_eq!(choose(code, ct), want, "{status} {ct:?}");
        }
    }
}
