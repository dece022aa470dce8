//! The text `log_environ` writes for one environ, and what it keeps from
//! one request to the next to write it faster.
//!
//! A server builds every environ alike: the same keys (often the same
//! interned `str` objects) in the same order, and many of the same values
//! (its own constants: `wsgi.version`, `wsgi.url_scheme`, `SERVER_NAME`,
//! the interned method...). So [`DumpCache`] keeps the last environ's keys
//! and, per key, its line and the value it was made from. When the next
//! environ has the same key objects in the same order, their sorted order
//! and printed names are reused; a value that is the *same object* as last
//! time, of a type whose `repr()` depends only on its value and cannot
//! change (an exact `str`, `int`, `float`, `bytes`, `bool`, `None`, or a
//! `tuple` of those), reuses its whole line. The cache holds strong
//! references to those objects, so their ids cannot be reused meanwhile;
//! none of them can be part of a reference cycle, so the garbage collector
//! need not see them.

use std::borrow::Cow;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple};

use super::{push_repr, repr_or_placeholder, REDACTED};
use crate::wsgi::utf8_from_latin1;

/// The keys of the dump's header line, in the order it prints them.
const HEAD_KEYS: [&str; 4] = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING"];

/// What one `log_environ` remembers of the last environ it dumped.
#[derive(Debug, Default)]
pub(crate) struct DumpCache {
    /// The last environ's keys in dict order, all exact `str` (else empty:
    /// nothing to reuse). Held, so that their ids are not reused.
    keys: Vec<Py<PyAny>>,
    /// One line per key, in sorted key order.
    lines: Vec<Line>,
    /// The dict-order position of each of [`HEAD_KEYS`], when present.
    head: [Option<usize>; 4],
    /// The length of the last dump (the next one is about as long).
    last_len: usize,
}

/// One `  key: repr(value)` line of the dump.
#[derive(Debug)]
struct Line {
    /// The item's position in dict order.
    item: usize,
    /// `  key: `, then, when `value` is held, the rest of the line.
    text: String,
    /// The length of `  key: `.
    name_len: usize,
    /// The key is redacted: `text` is the whole line, always.
    redacted: bool,
    /// The value whose line `text` is, held (so that `is` cannot be fooled
    /// by a reused address) once it came twice in a row and its `repr()`
    /// cannot change.
    value: Option<Py<PyAny>>,
    /// The address of the last value, not held: a value made anew per
    /// request costs one compare, no reference and no copy.
    seen: usize,
}

/// The dump of `environ`: header line, then sorted `  key: repr` lines.
/// `cache` (when given and not in use by another thread) is reused and
/// updated.
///
/// # Errors
/// Only interpreter failures (e.g. `MemoryError`); odd keys and values are
/// printed, not raised.
pub(crate) fn format_environ<'py>(
    environ: &Bound<'py, PyDict>,
    redact: &[String],
    cache: Option<&Mutex<DumpCache>>,
) -> PyResult<Bound<'py, PyString>> {
    let items: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> = environ.iter().collect();
    let mut guard = cache.and_then(|c| c.try_lock().ok());
    let mut local = DumpCache::default();
    let dump = guard.as_deref_mut().unwrap_or(&mut local);
    if !dump.same_keys(&items) {
        dump.rebuild(&items, redact);
    }
    let text = dump.write(&items)?;
    Ok(PyString::new(environ.py(), &text))
}

impl DumpCache {
    /// `true` when `items` has the cached key objects, in the same order.
    fn same_keys(&self, items: &[(Bound<'_, PyAny>, Bound<'_, PyAny>)]) -> bool {
        !self.keys.is_empty()
            && self.keys.len() == items.len()
            && self.keys.iter().zip(items).all(|(k, (key, _))| key.is(k))
    }

    /// Sorts the keys of `items` and makes their lines afresh.
    fn rebuild(&mut self, items: &[(Bound<'_, PyAny>, Bound<'_, PyAny>)], redact: &[String]) {
        let names: Vec<Cow<'_, str>> = items
            .iter()
            .map(|(k, _)| match k.cast::<PyString>().map(|s| s.to_str()) {
                Ok(Ok(s)) => Cow::Borrowed(s),
                _ => Cow::Owned(repr_or_placeholder(k)),
            })
            .collect();
        let prefixes: Vec<u128> = names.iter().map(|n| sort_prefix(n)).collect();
        let mut order: Vec<usize> = (0..items.len()).collect();
        // Most comparisons end at the first 16 bytes (one integer compare);
        // equal prefixes fall back to comparing the whole key. Ties,
        // possible only among keys printed alike, keep dict order.
        order.sort_unstable_by(|&a, &b| {
            (prefixes[a], &names[a], a).cmp(&(prefixes[b], &names[b], b))
        });
        self.lines = order
            .into_iter()
            .map(|i| {
                let redacted = redact.iter().any(|r| *r == names[i]);
                let mut text = format!("  {}: ", names[i]);
                let name_len = text.len();
                if redacted {
                    text.push_str(REDACTED);
                    text.push('\n');
                }
                Line {
                    item: i,
                    text,
                    name_len,
                    redacted,
                    value: None,
                    seen: 0,
                }
            })
            .collect();
        self.head = HEAD_KEYS.map(|want| {
            items.iter().position(|(k, _)| {
                k.cast::<PyString>()
                    .is_ok_and(|s| s.to_str().is_ok_and(|s| s == want))
            })
        });
        // Only exact `str` keys are known to print the same next time.
        let reusable = items
            .iter()
            .all(|(k, _)| k.is_exact_instance_of::<PyString>());
        self.keys = if reusable {
            items.iter().map(|(k, _)| k.clone().unbind()).collect()
        } else {
            Vec::new()
        };
    }

    /// Writes the dump of `items` (whose keys are the cached ones).
    fn write(&mut self, items: &[(Bound<'_, PyAny>, Bound<'_, PyAny>)]) -> PyResult<String> {
        let mut out = String::with_capacity(self.last_len.max(128 + 48 * items.len()));
        let text = |slot: Option<usize>| {
            let value = &items.get(slot?)?.1;
            value.cast::<PyString>().ok()
        };
        let [method, script, path, query] = self.head.map(|slot| text(slot)?.to_str().ok());
        out.push_str(method.unwrap_or("-"));
        out.push(' ');
        // Each part on its own: a mount splits the path at a `/`, never
        // inside a UTF-8 sequence.
        out.push_str(&readable(script.unwrap_or_default()));
        out.push_str(&readable(path.unwrap_or_default()));
        if let Some(qs) = query.filter(|q| !q.is_empty()) {
            out.push('?');
            out.push_str(&readable(qs));
        }
        out.push('\n');
        for line in &mut self.lines {
            let Some((_, value)) = items.get(line.item) else {
                continue;
            };
            if line.redacted || line.value.as_ref().is_some_and(|v| value.is(v)) {
                out.push_str(&line.text);
                continue;
            }
            let start = out.len();
            out.push_str(&line.text[..line.name_len]);
            push_repr(&mut out, value)?;
            out.push('\n');
            // The same address as last time: maybe the same object, maybe a
            // new one in freed memory. Held from now on (if its repr cannot
            // change), the next `is` tells.
            let addr = value.as_ptr() as usize;
            if addr == line.seen && fixed_repr(value) {
                line.text.truncate(line.name_len);
                line.text.push_str(&out[start + line.name_len..]);
                line.value = Some(value.clone().unbind());
            } else {
                line.value = None;
            }
            line.seen = addr;
        }
        self.last_len = out.len();
        Ok(out)
    }
}

/// `true` when `repr(value)` depends only on its value, which cannot
/// change: an exact `str`, `int`, `float`, `bytes`, `bool` or `None`, or an
/// exact `tuple` of those (such as `wsgi.version`).
fn fixed_repr(value: &Bound<'_, PyAny>) -> bool {
    let scalar = |v: &Bound<'_, PyAny>| {
        v.is_exact_instance_of::<PyString>()
            || v.is_exact_instance_of::<PyInt>()
            || v.is_exact_instance_of::<PyBool>()
            || v.is_none()
            || v.is_exact_instance_of::<PyFloat>()
            || v.is_exact_instance_of::<PyBytes>()
    };
    scalar(value)
        || value
            .cast_exact::<PyTuple>()
            .is_ok_and(|t| t.iter().all(|item| scalar(&item)))
}

/// A PEP 3333 latin-1 string (`/w\u{c3}\u{b6}rld`, the request's bytes one
/// per code point) as the text a person reads: decoded as UTF-8
/// (`/wörld`) where its bytes are UTF-8, else kept as it is.
fn readable(s: &str) -> Cow<'_, str> {
    utf8_from_latin1(s).unwrap_or(Cow::Borrowed(s))
}

/// The first 16 bytes of `key`, zero-padded, as a big-endian number: for
/// keys that differ within them, the numbers order as the strings do.
fn sort_prefix(key: &str) -> u128 {
    let mut buf = [0u8; 16];
    let n = key.len().min(16);
    buf[..n].copy_from_slice(&key.as_bytes()[..n]);
    u128::from_be_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dumps a run of environs through one cache and checks each against a
    /// dump made with no cache at all.
    #[test]
    fn cached_dumps_equal_fresh_ones() {
        Python::attach(|py| {
            let ns = PyDict::new(py);
            py.run(
                c"
shared = {'REQUEST_METHOD': 'GET', 'wsgi.version': (1, 0), 'n': 7, 'f': 0.5, 'b': b'x'}
items = ['a']
class Loud(str):
    def __repr__(self): return 'LOUD'
def env(path, **extra):
    e = dict(shared, PATH_INFO=path, QUERY_STRING='', SCRIPT_NAME='', items=items)
    e.update(extra)
    return e
",
                Some(&ns),
                None,
            )
            .unwrap();
            let env = |code: &std::ffi::CStr| {
                py.eval(code, Some(&ns), None)
                    .unwrap()
                    .cast_into::<PyDict>()
                    .unwrap()
            };
            let redact = ["HTTP_COOKIE".to_owned()];
            let cache = Mutex::new(DumpCache::default());
            let check = |e: &Bound<'_, PyDict>| {
                let fresh = format_environ(e, &redact, None).unwrap().to_string();
                let cached = format_environ(e, &redact, Some(&cache))
                    .unwrap()
                    .to_string();
                assert_eq!(cached, fresh);
                cached
            };
            let first = check(&env(c"env('/a')"));
            assert!(first.starts_with("GET /a\n") && first.contains("  wsgi.version: (1, 0)\n"));
            // The same objects three times over (the second time stores
            // whole lines, the third reuses them).
            let same = env(c"env('/a')");
            for _ in 0..3 {
                check(&same);
            }
            // A list is the same object but changed: never reused.
            py.run(c"items.append('b')", Some(&ns), None).unwrap();
            assert!(check(&same).contains("  items: ['a', 'b']\n"));
            // A value replaced by an equal new object, or by another value.
            check(&env(c"env('/a', n=int('7'))"));
            for _ in 0..2 {
                check(&env(c"env(''.join(['/', 'a']))"));
            }
            assert!(check(&env(c"env(''.join(['/', 'b']))")).contains("  PATH_INFO: '/b'\n"));
            assert!(check(&env(c"env('/a', n=8)")).contains("  n: 8\n"));
            // A str subclass is never reused (it may repr as it likes).
            let loud = env(c"env('/a', n=Loud('x'))");
            check(&loud);
            assert!(check(&loud).contains("  n: LOUD\n"));
            // Other keys, another order, a redacted key, a non-str key.
            check(&env(c"dict(reversed(env('/b', HTTP_COOKIE='s').items()))"));
            check(&env(c"env('/c', HTTP_COOKIE='s', **{'x': 1})"));
            let odd = env(c"{**env('/d'), 3: 'three'}");
            check(&odd);
            assert!(check(&odd).contains("  3: 'three'\n"));
        });
    }
}
