//! `_LiveReload`: the dev server's live-reload link in every HTML page.
//!
//! Under `python -m rswsgi.dev --reload` each `text/html` response gets
//! `<script src="/__rswsgi__/live-reload.js?g=GENERATION"></script>` before
//! its last `</body>` (at the end when it has none), with its
//! `Content-Length` corrected and nothing else touched. The script, and the
//! event stream it opens, are answered by the server itself
//! (`src/server/live_reload.rs`).
//!
//! Left untouched: HEAD, 1xx/204/304, other media types, a compressed body
//! (`Content-Encoding`), and a page whose `Content-Security-Policy` would
//! block the script or its stream (a same-origin script and `connect-src`
//! must be allowed: `'self'`, `*`, or no such directive); the first such
//! page is named on stderr with what to change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::filter::{call_filtered, BodyMode, ResponseHooks};
use super::glue::{middleware_class, Call, Middleware, Options};
use crate::errors::Error;
use crate::vectorcall;
use crate::wsgi::{header_item, header_list, repr_or_type, Head, MediaType};

/// `_LiveReload(app, *, generation)`: links the live-reload script, for
/// the server process named `generation` (`str`), into every HTML page
/// (see the module docs). Private to `python -m rswsgi.dev --reload`.
///
/// Raises `TypeError` when `app` is not callable or `generation` is not a
/// `str` of URL-safe characters (ASCII letters, digits, `-`, `_`, `.`).
#[pyclass(module = "rswsgi._rswsgi", name = "_LiveReload", frozen)]
pub(crate) struct LiveReload {
    app: Py<PyAny>,
    /// The `<script>` element inserted.
    tag: Arc<[u8]>,
    /// A page was left untouched for its `Content-Security-Policy`, and
    /// said so.
    warned: Arc<AtomicBool>,
    vectorcall: vectorcall::Slot<Self>,
}

middleware_class!(
    LiveReload,
    "_LiveReload",
    new(app, *, generation),
    text_signature = "(app, *, generation)"
);

impl LiveReload {
    fn build(app: Bound<'_, PyAny>, [generation]: Options<'_, 1>) -> PyResult<Self> {
        let bad = || Error::BadArgument {
            name: "generation",
            value: generation.as_ref().map_or("None".into(), repr_or_type),
            why: "expected a str of ASCII letters, digits, '-', '_' and '.'",
        };
        let generation: String = generation
            .as_ref()
            .and_then(|g| g.extract().ok())
            .ok_or_else(bad)?;
        let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if generation.is_empty() || !generation.bytes().all(safe) {
            return Err(bad().into());
        }
        let tag = format!(r#"<script src="/__rswsgi__/live-reload.js?g={generation}"></script>"#);
        Ok(Self {
            app: app.unbind(),
            tag: tag.into_bytes().into(),
            warned: Arc::new(AtomicBool::new(false)),
            vectorcall: vectorcall::Slot::default(),
        })
    }
}

/// The environ key `_LiveReload` sets (`True`) on every request it passes
/// on, so that `handle_error(debug=True)`'s page, whose policy otherwise
/// forbids every script, allows the live-reload script and its stream.
pub(crate) const LIVE_RELOAD_KEY: &str = "rswsgi.live_reload";

impl Middleware for LiveReload {
    fn call<'py>(&self, call: &Call<'_, 'py>) -> PyResult<Bound<'py, PyAny>> {
        let py = call.app.py();
        let method = call
            .environ
            .cast::<PyDict>()
            .ok()
            .and_then(|d| d.get_item(intern!(py, "REQUEST_METHOD")).ok().flatten());
        if method.is_some_and(|m| m.eq(intern!(py, "HEAD")).unwrap_or(false)) {
            return call.pass_on();
        }
        // Tells a debug page inside that its policy may let the script in.
        let _ = call.environ.set_item(intern!(py, LIVE_RELOAD_KEY), true);
        let path = call
            .environ
            .get_item(intern!(py, "PATH_INFO"))
            .ok()
            .and_then(|p| p.extract::<String>().ok())
            .unwrap_or_default();
        let hooks = Hooks {
            tag: Arc::clone(&self.tag),
            warned: Arc::clone(&self.warned),
            path,
            inject: false,
        };
        call_filtered(call, Box::new(hooks))
    }
}

/// One response's state: whether its body gets the script.
struct Hooks {
    tag: Arc<[u8]>,
    warned: Arc<AtomicBool>,
    /// The request's path, to name a page left untouched.
    path: String,
    inject: bool,
}

impl ResponseHooks for Hooks {
    fn mode(&mut self, py: Python<'_>, head: &Head) -> BodyMode {
        self.inject = self.decide(py, head);
        if self.inject {
            BodyMode::Whole
        } else {
            BodyMode::Stream
        }
    }

    fn transform(&mut self, body: &mut Vec<u8>) {
        if self.inject {
            insert_before_body_end(body, &self.tag);
        }
    }
}

impl Hooks {
    /// `true` when this response is an HTML page the script may be linked
    /// into (see the module docs); warns once about a forbidding CSP.
    fn decide(&self, py: Python<'_>, head: &Head) -> bool {
        if head.code < 200 || head.code == 204 || head.code == 304 {
            return false;
        }
        let html = head
            .content_type
            .as_ref()
            .and_then(|c| MediaType::parse(c.bind(py).to_str().ok()?).map(|m| m.is("text/html")));
        if html != Some(true) {
            return false;
        }
        let Ok(headers) = header_list(head.headers.bind(py)) else {
            return false;
        };
        for item in headers.iter() {
            let Ok((name, value)) = header_item(&item) else {
                return false;
            };
            let (Ok(name), Ok(value)) = (name.to_str(), value.to_str()) else {
                return false;
            };
            if name.eq_ignore_ascii_case("content-encoding") {
                return false;
            }
            if name.eq_ignore_ascii_case("content-security-policy") && !csp_allows(value) {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    crate::server::access_log::warn(
                        py,
                        &format!(
                            "live reload: the Content-Security-Policy of {} blocks its script; \
                             allow 'self' in script-src and connect-src while developing, \
                             or run with --no-live-reload (pages with this policy are left \
                             as they are)",
                            self.path.escape_debug()
                        ),
                    );
                }
                return false;
            }
        }
        true
    }
}

/// `true` when a `Content-Security-Policy` value (CSP Level 3 §2.2) allows
/// a same-origin script and a same-origin `EventSource`: the directive that
/// governs each (`script-src-elem`, else `script-src`, else `default-src`;
/// `connect-src`, else `default-src`) is absent or lists `'self'` or `*`.
#[must_use]
pub(crate) fn csp_allows(policy: &str) -> bool {
    let directives: Vec<(String, Vec<&str>)> = policy
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_ascii_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.collect()))
        })
        .collect();
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            directives
                .iter()
                .find(|(name, _)| name == n)
                .map(|(_, v)| v)
        })
    };
    let allows = |sources: Option<&Vec<&str>>| {
        sources.is_none_or(|s| {
            s.iter()
                .any(|w| w.eq_ignore_ascii_case("'self'") || *w == "*")
        })
    };
    allows(find(&["script-src-elem", "script-src", "default-src"]))
        && allows(find(&["connect-src", "default-src"]))
}

/// Inserts `tag` before the last `</body` (any case) of `body`, or at its
/// end when there is none.
pub(crate) fn insert_before_body_end(body: &mut Vec<u8>, tag: &[u8]) {
    const END: &[u8] = b"</body";
    let at = body
        .windows(END.len())
        .rposition(|w| w.eq_ignore_ascii_case(END))
        .unwrap_or(body.len());
    body.splice(at..at, tag.iter().copied());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_goes_before_the_last_body_end() {
        let put = |body: &str| {
            let mut b = body.as_bytes().to_vec();
            insert_before_body_end(&mut b, b"<s>");
            String::from_utf8(b).unwrap()
        };
        assert_eq!(put("<p>x</p></body></html>"), "<p>x</p><s></body></html>");
        assert_eq!(put("a</BODY>b</Body >c"), "a</BODY>b<s></Body >c");
        assert_eq!(put("<p>no end"), "<p>no end<s>");
        assert_eq!(put(""), "<s>");
    }

    #[test]
    fn policies_that_allow_the_script_and_its_stream() {
        for ok in [
            "",
            "img-src *",
            "default-src 'self'",
            "default-src 'none'; script-src 'self'; connect-src 'self'",
            "script-src 'SELF' https://cdn.example; object-src 'none'",
            "default-src *",
        ] {
            assert!(csp_allows(ok), "{ok:?}");
        }
        for blocked in [
            "default-src 'none'",
            "script-src 'nonce-abc'",
            "script-src 'self'; connect-src 'none'",
            "default-src https://cdn.example",
            "script-src-elem 'none'; script-src 'self'",
        ] {
            assert!(!csp_allows(blocked), "{blocked:?}");
        }
    }
}
