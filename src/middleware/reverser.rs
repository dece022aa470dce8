//! `reverser`: text/plain bodies reversed by user-perceived characters.

use pyo3::prelude::*;
use pyo3::{intern, PyTraverseError, PyVisit};
use unicode_segmentation::UnicodeSegmentation;

use super::filter::{call_filtered, BodyMode, ResponseHooks};
use super::{check_app, describe_app};
use crate::vectorcall;
use crate::wsgi::{Headers, MediaType, Status};

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
    /// The charset for a `charset` parameter (already lower case), with the
    /// usual aliases; `None` for one the reverser does not know.
    #[must_use]
    pub fn from_label(label: Option<&str>) -> Option<Self> {
        match label {
            None | Some("utf-8" | "utf8" | "utf_8") => Some(Self::Utf8),
            Some(
                "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin-1" | "latin1" | "latin_1" | "l1"
                | "iso-ir-100" | "csisolatin1",
            ) => Some(Self::Latin1),
            Some(
                "us-ascii" | "ascii" | "us_ascii" | "ansi_x3.4-1968" | "iso646-us" | "csascii",
            ) => Some(Self::Ascii),
            Some(_) => None,
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

/// [`reverse_graphemes`] as bytes, written back to front into one buffer.
///
/// Fast path (UAX #29): call a character *simple* when it is below U+0100
/// (ASCII or Latin-1, one or two UTF-8 bytes). No simple character is
/// Extend, ZWJ, SpacingMark, Prepend, a regional indicator or a Hangul
/// jamo, so between two simple characters there is always a cluster
/// boundary except inside CR LF (GB3): every rule that joins characters
/// (GB9, GB9a, GB9b, GB9c, GB11, GB12/13, GB6-8) involves a character
/// above U+00FF. A simple character followed by a simple one (CR LF aside)
/// or by the end is therefore a cluster of its own; anywhere else the
/// segmenter takes the next cluster, starting at a known boundary.
#[must_use]
pub fn reverse_utf8(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut out = vec![0u8; n];
    let mut end = n; // out[end..] is filled
    let mut i = 0;
    while i < n {
        // A run of ASCII: every byte but the last is a cluster of its own
        // (CR LF aside), and the last one too when a simple character or
        // the end follows it. Copied reversed in one pass.
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
            reverse_ascii(&bytes[i..i + bulk], &mut out[end - bulk..end]);
            end -= bulk;
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
        out[end - len..end].copy_from_slice(&bytes[i..i + len]);
        end -= len;
        i += len;
    }
    out
}

/// Writes the ASCII `run` reversed by clusters into `out` (same length):
/// byte by byte, then each CR LF put back in order.
fn reverse_ascii(run: &[u8], out: &mut [u8]) {
    for (o, &b) in out.iter_mut().zip(run.iter().rev()) {
        *o = b;
    }
    if !run.contains(&b'\r') {
        return;
    }
    let last = out.len() - 1;
    for (k, pair) in run.windows(2).enumerate() {
        if pair == b"\r\n" {
            // run[k], run[k + 1] landed at out[last - k], out[last - k - 1].
            out[last - k - 1] = b'\r';
            out[last - k] = b'\n';
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

/// `body` decoded with `charset`, reversed by grapheme clusters and encoded
/// again; `None` when `body` does not decode (then it is sent unchanged).
/// The result has the same length as `body`: the same characters, each
/// encoded as before, in another order.
#[must_use]
pub fn reverse_body(body: &[u8], charset: Charset) -> Option<Vec<u8>> {
    match charset {
        Charset::Ascii if !body.is_ascii() => None,
        Charset::Utf8 | Charset::Ascii => std::str::from_utf8(body).ok().map(reverse_utf8),
        Charset::Latin1 => {
            let text: String = body.iter().map(|&b| char::from(b)).collect();
            // Every char came from one byte, so each fits in one again.
            reverse_graphemes(&text)
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect()
        }
    }
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
/// Raises `ValueError` when `app` is not callable. Usable as a decorator:
/// `@reverser`.
#[pyclass(module = "rswsgi._rswsgi", name = "reverser", frozen)]
pub struct Reverser {
    app: Py<PyAny>,
    vectorcall: vectorcall::Slot<Self>,
}

vectorcall::wsgi_app!(Reverser);

#[pymethods]
impl Reverser {
    #[new]
    fn new(app: Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            app: check_app(app)?,
            vectorcall: vectorcall::Slot::default(),
        })
    }

    /// The WSGI call (PEP 3333 "The Application/Framework Side").
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        environ: &Bound<'py, PyAny>,
        start_response: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let app = self.app.bind(py);
        let head_request = environ
            .get_item(intern!(py, "REQUEST_METHOD"))
            .is_ok_and(|m| m.eq(intern!(py, "HEAD")).unwrap_or(false));
        if head_request {
            // No body to reverse: the app's iterable goes back as it is.
            return app.call1((environ, start_response));
        }
        call_filtered(
            app,
            environ,
            start_response,
            Box::new(Hooks { charset: None }),
        )
    }

    /// The wrapped WSGI application.
    #[getter]
    fn app(&self, py: Python<'_>) -> Py<PyAny> {
        self.app.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("reverser({})", describe_app(self.app.bind(py)))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.app)
    }

    /// Nothing to clear: `app` is immutable, and a cycle through it always
    /// passes through a mutable object (a function's globals or closure, a
    /// dict) whose own `tp_clear` breaks it (PyO3 guide, "Garbage Collector
    /// Integration": immutable references need not be cleared).
    #[allow(clippy::unused_self)] // the slot's signature; see above
    fn __clear__(&self) {}
}

/// Per-response state: the charset of a body being reversed.
struct Hooks {
    charset: Option<Charset>,
}

/// The body mode and charset for a response head.
fn choose(head: &(Status, Headers)) -> Option<Charset> {
    let (status, headers) = head;
    if status.code < 200 || status.code == 204 || status.code == 304 {
        return None;
    }
    let media = MediaType::parse(headers.get("content-type")?)?;
    if !media.is("text/plain") {
        return None;
    }
    Charset::from_label(media.charset.as_deref())
}

impl ResponseHooks for Hooks {
    fn mode(&mut self, head: &(Status, Headers)) -> BodyMode {
        self.charset = choose(head);
        if self.charset.is_some() {
            BodyMode::Whole
        } else {
            BodyMode::Stream
        }
    }

    fn transform(&mut self, body: Vec<u8>) -> Vec<u8> {
        match self.charset {
            Some(cs) => reverse_body(&body, cs).unwrap_or(body),
            None => body,
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
        let utf8 = "h\u{e9}llo".as_bytes();
        assert_eq!(
            reverse_body(utf8, Charset::Utf8).unwrap(),
            "oll\u{e9}h".as_bytes()
        );
        // Latin-1: é is one byte, reversed as one character.
        assert_eq!(reverse_body(b"h\xe9!", Charset::Latin1).unwrap(), b"!\xe9h");
        assert_eq!(reverse_body(b"abc", Charset::Ascii).unwrap(), b"cba");
        // Undecodable: None (sent unchanged).
        assert_eq!(reverse_body(b"a\xffb", Charset::Utf8), None);
        assert_eq!(reverse_body(b"a\xe9", Charset::Ascii), None);
        // Length is kept.
        let s = "a\u{1f44d}\u{1f3fd}\u{e9}".as_bytes();
        assert_eq!(reverse_body(s, Charset::Utf8).unwrap().len(), s.len());
    }

    #[test]
    fn media_types_and_charsets() {
        let head = |status: &str, ct: Option<&str>| {
            let headers = ct.map_or_else(Vec::new, |c| {
                vec![("Content-Type".to_owned(), c.to_owned())]
            });
            (Status::parse(status).unwrap(), Headers(headers))
        };
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
            assert_eq!(choose(&head(status, ct)), want, "{status} {ct:?}");
        }
    }
}
