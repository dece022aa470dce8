//! `repr()` of a Python `str`, computed in Rust (for `log_environ`).
//!
//! The rules are CPython's `unicode_repr` (Objects/unicodeobject.c):
//!
//! - quote with `'`, or with `"` when the text has a `'` and no `"`;
//! - the chosen quote and `\` get a backslash; tab, newline and carriage
//!   return print as `\t`, `\n`, `\r`;
//! - other characters below U+0020 and U+007F print as `\xHH`;
//! - the rest of ASCII prints as is;
//! - a non-ASCII character prints as is when `str.isprintable()` holds for
//!   it, else as `\xHH` (up to U+00FF), `\uHHHH` (up to U+FFFF) or
//!   `\UHHHHHHHH`, lower-case hex.
//!
//! Printability of non-ASCII characters comes from the running Python's own
//! Unicode database (one `isprintable()` call covering every non-ASCII
//! character, and one per character only when some is not printable), so
//! the result matches `repr()` on every Python version.

use std::fmt::Write as _;
use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyInt, PyString, PyTuple, PyType};

/// Byte classes for the one scan of [`push_str_repr`].
const ESCAPE: u8 = 1; // control characters, DEL and backslash
const SQUOTE: u8 = 2;
const DQUOTE: u8 = 4;
const WIDE: u8 = 8; // any byte of a non-ASCII character

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b {
            0..=0x1f | 0x7f | 0x5c => ESCAPE,
            0x27 => SQUOTE,
            0x22 => DQUOTE,
            0x80..=0xff => WIDE,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// `true` when `str.isprintable()` holds for the string `text`.
fn is_printable(py: Python<'_>, text: &str) -> PyResult<bool> {
    PyString::new(py, text)
        .call_method0(intern!(py, "isprintable"))?
        .is_truthy()
}

/// Appends `repr(value)` to `out` when Rust knows it exactly: an exact
/// `str`, `bool`, `None`, an exact `int` that fits in 64 bits, or an exact
/// `tuple` of those (such as `wsgi.version`). `Ok(false)`, with nothing
/// appended, for anything else: the caller then asks Python.
///
/// # Errors
/// As [`push_str_repr`].
pub(crate) fn push_repr(out: &mut String, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    push_repr_at(out, value, true)
}

fn push_repr_at(out: &mut String, value: &Bound<'_, PyAny>, top: bool) -> PyResult<bool> {
    if let Ok(s) = value.cast_exact::<PyString>() {
        return push_str_repr(out, s);
    }
    if let Ok(b) = value.cast_exact::<PyBool>() {
        out.push_str(if b.is_true() { "True" } else { "False" });
        return Ok(true);
    }
    if value.is_none() {
        out.push_str("None");
        return Ok(true);
    }
    if let Ok(i) = value.cast_exact::<PyInt>() {
        return Ok(match i.extract::<i64>() {
            Ok(n) => {
                if n < 0 {
                    out.push('-');
                }
                push_digits(out, n.unsigned_abs(), 10);
                true
            }
            Err(_) => false,
        });
    }
    // Tuples one level deep: `(a, b)`, `(a,)`, `()`.
    let Some(t) = value.cast_exact::<PyTuple>().ok().filter(|_| top) else {
        return Ok(top && push_default_repr(out, value));
    };
    let mark = out.len();
    out.push('(');
    for (k, item) in t.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        if !push_repr_at(out, &item, false)? {
            out.truncate(mark);
            return Ok(false);
        }
    }
    if t.len() == 1 {
        out.push(',');
    }
    out.push(')');
    Ok(true)
}

/// `object.__repr__`, looked up once.
static OBJECT_REPR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Appends `repr(value)` when its type keeps `object.__repr__` (as
/// `io.BytesIO` and `io.StringIO` do): `<module.qualname object at 0x…>`,
/// CPython's `object_repr` for a type whose `__module__` is a `str` other
/// than `builtins`. The address is formatted as C's `%p` prints it on Unix
/// (`0x` and lower-case hex), which is what `PyUnicode_FromFormat` gives;
/// elsewhere, and in every other case, `false` (nothing appended).
fn push_default_repr(out: &mut String, value: &Bound<'_, PyAny>) -> bool {
    if !cfg!(unix) {
        return false;
    }
    let ty = value.get_type();
    let cached = DEFAULT_REPRS.lock().ok().and_then(|c| {
        c.iter()
            .find(|(t, _)| t.is(&ty))
            .map(|(_, prefix)| out.push_str(prefix))
    });
    if cached.is_none() {
        let Some(prefix) = default_repr_prefix(&ty) else {
            return false;
        };
        out.push_str(&prefix);
        if is_immutable(&ty) {
            if let Ok(mut c) = DEFAULT_REPRS.lock() {
                if c.len() < DEFAULT_REPRS_MAX {
                    c.push((ty.unbind(), prefix));
                }
            }
        }
    }
    push_digits(out, value.as_ptr() as usize as u64, 16);
    out.push('>');
    true
}

/// How many types [`DEFAULT_REPRS`] remembers.
const DEFAULT_REPRS_MAX: usize = 16;

/// `<module.qualname object at 0x` of immutable types whose repr is
/// `object.__repr__` (such as `io.BytesIO` and `io.StringIO`, found in every
/// environ). An immutable type can change neither its `__repr__` nor its
/// `__module__` or `__qualname__` (`TypeError: cannot set ... of immutable
/// type`), and the strong reference keeps its address from being reused, so
/// the entry stays exact.
static DEFAULT_REPRS: Mutex<Vec<(Py<PyType>, String)>> = Mutex::new(Vec::new());

/// `true` when `ty` has `Py_TPFLAGS_IMMUTABLETYPE` (Python 3.10+: static
/// builtin and extension types; its attributes cannot be set).
#[cfg(Py_3_10)]
#[allow(unsafe_code)]
fn is_immutable(ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: `ty` is a live type object (a bound reference, GIL held);
    // `PyType_GetFlags` only reads its `tp_flags`.
    let flags = unsafe { pyo3::ffi::PyType_GetFlags(ty.as_type_ptr()) };
    flags & pyo3::ffi::Py_TPFLAGS_IMMUTABLETYPE != 0
}

/// Before 3.10 the C API has no `Py_TPFLAGS_IMMUTABLETYPE`, so no type is
/// known to be immutable and no default repr prefix is ever remembered
/// (slower, never wrong).
#[cfg(not(Py_3_10))]
fn is_immutable(_ty: &Bound<'_, PyType>) -> bool {
    false
}

/// `<module.qualname object at 0x` when `ty` keeps `object.__repr__` and its
/// `__module__` is a `str` other than `builtins`; else `None`.
fn default_repr_prefix(ty: &Bound<'_, PyType>) -> Option<String> {
    let py = ty.py();
    let object_repr = OBJECT_REPR
        .get_or_try_init(py, || {
            py.get_type::<PyAny>()
                .getattr(intern!(py, "__repr__"))
                .map(Bound::unbind)
        })
        .ok()?;
    let own = ty.getattr(intern!(py, "__repr__"));
    if !own.is_ok_and(|r| r.is(object_repr)) {
        return None;
    }
    let (module, qualname) = (ty.module().ok()?, ty.qualname().ok()?);
    let (module, qualname) = (module.to_str().ok()?, qualname.to_str().ok()?);
    if module == "builtins" {
        return None; // object_repr then prints tp_name, which Python keeps
    }
    Some(format!("<{module}.{qualname} object at 0x"))
}

/// Appends `n` in base 10 or 16 (lower case), without `core::fmt`.
fn push_digits(out: &mut String, mut n: u64, base: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b"0123456789abcdef"[(n % base) as usize];
        n /= base;
        if n == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&b| char::from(b)));
}

/// Appends `repr(s)` to `out`. `Ok(false)` (nothing appended) when `s` holds
/// a lone surrogate, which has no UTF-8 form: the caller then asks Python.
///
/// # Errors
/// What `str.isprintable()` raised (only interpreter failures such as
/// `MemoryError`).
pub(crate) fn push_str_repr(out: &mut String, s: &Bound<'_, PyString>) -> PyResult<bool> {
    let Ok(text) = s.to_str() else {
        return Ok(false);
    };
    let bytes = text.as_bytes();
    // One pass over the bytes: which of the cases below occur.
    let mut seen = 0u8;
    for &b in bytes {
        seen |= CLASS[usize::from(b)];
    }
    let quote = if seen & SQUOTE != 0 && seen & DQUOTE == 0 {
        b'"'
    } else {
        b'\''
    };
    let quoted = if quote == b'\'' { SQUOTE } else { DQUOTE };
    if seen & (ESCAPE | WIDE | quoted) == 0 {
        // Printable ASCII with no backslash and no quote to escape (the
        // usual environ value): one copy.
        out.reserve(text.len() + 2);
        out.push(char::from(quote));
        out.push_str(text);
        out.push(char::from(quote));
        return Ok(true);
    }
    // Which non-ASCII characters are not printable: none (the usual case),
    // or a per-character answer.
    let mut unprintable: Option<Vec<char>> = None;
    if seen & WIDE != 0 {
        let py = s.py();
        let wide: String = text.chars().filter(|c| !c.is_ascii()).collect();
        if !is_printable(py, &wide)? {
            let mut bad = Vec::new();
            let mut buf = [0u8; 4];
            for c in wide.chars() {
                if !bad.contains(&c) && !is_printable(py, c.encode_utf8(&mut buf))? {
                    bad.push(c);
                }
            }
            unprintable = Some(bad);
        }
    }
    out.reserve(text.len() + 2);
    out.push(char::from(quote));
    // Copy runs that need no escape in one go.
    let mut run = 0;
    for (i, c) in text.char_indices() {
        let escape: Option<&str> = match c {
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\\' => Some("\\\\"),
            '\'' if quote == b'\'' => Some("\\'"),
            '"' if quote == b'"' => Some("\\\""),
            _ => None,
        };
        let hex = escape.is_none()
            && (c < ' ' || c == '\x7f' || unprintable.as_ref().is_some_and(|bad| bad.contains(&c)));
        if escape.is_none() && !hex {
            continue;
        }
        out.push_str(&text[run..i]);
        run = i + c.len_utf8();
        if let Some(e) = escape {
            out.push_str(e);
        } else {
            let n = u32::from(c);
            let _ = match n {
                0..=0xff => write!(out, "\\x{n:02x}"),
                0x100..=0xffff => write!(out, "\\u{n:04x}"),
                _ => write!(out, "\\U{n:08x}"),
            };
        }
    }
    out.push_str(&text[run..]);
    out.push(char::from(quote));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_repr() {
        Python::attach(|py| {
            let cases = [
                "",
                "plain",
                "it's",
                "say \"hi\"",
                "both ' and \"",
                "back\\slash",
                "tab\there\nnew\rcr",
                "\u{0}\u{1f}\u{7f}",
                "caf\u{e9}",
                "\u{a0}nbsp\u{ad}shy",
                "\u{85}\u{2028}\u{fffe}",
                "e\u{301} \u{1f44d}\u{1f3fd} \u{5d0}\u{5d1}",
                "\u{e000}\u{10ffff}\u{e0001}",
            ];
            for case in cases {
                let s = PyString::new(py, case);
                let mut out = String::new();
                assert!(push_str_repr(&mut out, &s).unwrap());
                let want = s.repr().unwrap().to_str().unwrap().to_owned();
                assert_eq!(out, want, "{case:?}");
            }
        });
    }

    #[test]
    fn other_values() {
        Python::attach(|py| {
            // (Python expression, whether Rust formats it)
            let cases = [
                ("(1, 0)", true),
                ("()", true),
                ("('a',)", true),
                ("(True, None, -7, \"it's\")", true),
                ("2**63", false),
                ("-2**63", true),
                ("((1, 2),)", false),
                ("1.5", false),
                ("[1]", false),
                ("object()", false),
                ("__import__('io').BytesIO()", true),
                ("__import__('io').StringIO()", true),
                (
                    "type('T', (), {'__module__': 'm.n', '__qualname__': 'A.<locals>.T'})()",
                    true,
                ),
                ("type('T', (), {'__module__': 'builtins'})()", false),
                ("type('T', (), {'__repr__': lambda s: 'mine'})()", false),
                ("__import__('decimal').Decimal(1)", false),
            ];
            for (expr, known) in cases {
                let code = std::ffi::CString::new(expr).unwrap();
                let v = py.eval(&code, None, None).unwrap();
                let mut out = String::from("x");
                assert_eq!(push_repr(&mut out, &v).unwrap(), known, "{expr}");
                if known {
                    assert_eq!(out[1..], *v.repr().unwrap().to_str().unwrap(), "{expr}");
                } else {
                    assert_eq!(out, "x", "{expr}");
                }
            }
        });
    }

    #[test]
    fn default_repr_remembered_only_for_immutable_types() {
        Python::attach(|py| {
            let ns = pyo3::types::PyDict::new(py);
            py.run(
                c"__name__ = 'm'\nimport io\nclass T: pass\nt = T()\nfirst = [io.BytesIO(), io.BytesIO()]",
                Some(&ns),
                None,
            )
            .unwrap();
            let get = |k: &str| ns.get_item(k).unwrap().unwrap();
            let check = |v: &Bound<'_, PyAny>| {
                let mut out = String::new();
                assert!(push_repr(&mut out, v).unwrap());
                assert_eq!(out, v.repr().unwrap().to_str().unwrap());
                out
            };
            // Two objects of one immutable type: the second uses the cache
            // and still prints its own address.
            for b in get("first").try_iter().unwrap() {
                check(&b.unwrap());
            }
            assert!(DEFAULT_REPRS
                .lock()
                .unwrap()
                .iter()
                .any(|(t, _)| t.bind(py).name().unwrap() == "BytesIO"));
            // A class's names can change between requests: never remembered.
            check(&get("t"));
            py.run(
                c"T.__qualname__ = 'Renamed'; T.__module__ = 'elsewhere'",
                Some(&ns),
                None,
            )
            .unwrap();
            assert!(check(&get("t")).starts_with("<elsewhere.Renamed object at 0x"));
        });
    }
}
