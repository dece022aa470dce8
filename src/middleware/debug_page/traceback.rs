//! What the debug page shows, read from Python's objects: the exception
//! chain, each exception's type, message and notes, and its frames with their
//! source lines (from `linecache`), the way Python's `traceback` module reads
//! them. Nothing here writes markup.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyString};

use crate::wsgi::type_name;

/// Source lines shown before and after each frame's line.
const LINES_BEFORE: usize = 3;
const LINES_AFTER: usize = 2;

/// A frame repeated more often than this in a row (deep recursion) is shown
/// this many times, then counted (`traceback`'s `_RECURSIVE_CUTOFF`).
const REPEAT_CUTOFF: usize = 3;

/// What Python prints between chained exceptions (`traceback._cause_message`
/// and `_context_message`).
const CAUSE: &str = "The above exception was the direct cause of the following exception:";
const CONTEXT: &str = "During handling of the above exception, another exception occurred:";

/// `str(obj)`, with lone surrogates replaced; `None` when `str()` raises.
fn lossy_str(obj: &Bound<'_, PyAny>) -> Option<String> {
    obj.str().ok().map(|s| s.to_string_lossy().into_owned())
}

/// The exception's type as `traceback` names it (`module.Qualname`, the
/// module left out for `builtins` and `__main__`), and `str(exc)`.
pub(super) fn describe(exc: &Bound<'_, PyAny>) -> (String, String) {
    let ty = exc.get_type();
    let qualname = ty
        .qualname()
        .map_or_else(|_| type_name(exc), |q| q.to_string_lossy().into_owned());
    let name = match ty.module() {
        Ok(m) if !matches!(m.to_str(), Ok("builtins" | "__main__")) => {
            format!("{}.{qualname}", m.to_string_lossy())
        }
        _ => qualname,
    };
    let message = lossy_str(exc).unwrap_or_else(|| "<exception str() failed>".to_owned());
    (name, message)
}

/// The exceptions to show, oldest first, each with the sentence that
/// follows it (how it led to the next one); the raised one is last.
pub(super) fn chain<'py>(
    raised: &Bound<'py, PyAny>,
) -> PyResult<Vec<(Bound<'py, PyAny>, Option<&'static str>)>> {
    let py = raised.py();
    let mut newest_first: Vec<(Bound<'py, PyAny>, Option<&'static str>)> = Vec::new();
    let mut next = Some((raised.clone(), None));
    while let Some((exc, link)) = next.take() {
        if newest_first.iter().any(|(seen, _)| seen.is(&exc)) {
            break; // a cycle: each exception once, as traceback does
        }
        let cause = exc.getattr(intern!(py, "__cause__"))?;
        let context = exc.getattr(intern!(py, "__context__"))?;
        next = if !cause.is_none() {
            Some((cause, Some(CAUSE)))
        } else if !context.is_none()
            && !exc
                .getattr(intern!(py, "__suppress_context__"))?
                .is_truthy()?
        {
            Some((context, Some(CONTEXT)))
        } else {
            None
        };
        newest_first.push((exc, link));
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// One frame of a traceback, ready to show.
pub(super) struct Frame {
    pub(super) file: String,
    pub(super) line: Option<usize>,
    pub(super) function: String,
    /// `(line number, text)`, dedented together.
    pub(super) source: Vec<(usize, String)>,
    /// Byte range of the failing expression in the marked line.
    pub(super) span: Option<(usize, usize)>,
    pub(super) library: bool,
    /// How many more times this frame repeated right after (recursion).
    pub(super) repeated: usize,
}

/// The frames of the traceback `tb`, outermost first, runs of one frame
/// repeated past [`REPEAT_CUTOFF`] counted instead of listed.
pub(super) fn frames(mut tb: Bound<'_, PyAny>) -> PyResult<Vec<Frame>> {
    let py = tb.py();
    let mut frames: Vec<Frame> = Vec::new();
    let mut run = 0;
    while !tb.is_none() {
        let frame = tb.getattr(intern!(py, "tb_frame"))?;
        let code = frame.getattr(intern!(py, "f_code"))?;
        let file = lossy_str(&code.getattr(intern!(py, "co_filename"))?).unwrap_or_default();
        let function = match code.getattr_opt(intern!(py, "co_qualname"))? {
            Some(q) => lossy_str(&q),
            None => lossy_str(&code.getattr(intern!(py, "co_name"))?),
        }
        .unwrap_or_default();
        let line = tb
            .getattr(intern!(py, "tb_lineno"))?
            .extract::<usize>()
            .ok();
        let same = frames
            .last()
            .is_some_and(|p| p.file == file && p.line == line && p.function == function);
        run = if same { run + 1 } else { 1 };
        if let (true, Some(prev)) = (run > REPEAT_CUTOFF, frames.last_mut()) {
            prev.repeated += 1;
        } else {
            let (source, span) = match line {
                Some(n) => lines_around(&frame, &code, &tb, &file, n)?,
                None => (Vec::new(), None),
            };
            frames.push(Frame {
                library: is_library(py, &file),
                file,
                line,
                function,
                source,
                span,
                repeated: 0,
            });
        }
        tb = tb.getattr(intern!(py, "tb_next"))?;
    }
    Ok(frames)
}

/// A frame's numbered source lines, and the failing expression's byte range
/// in its marked line.
type Source = (Vec<(usize, String)>, Option<(usize, usize)>);

/// Lines `line - LINES_BEFORE ..= line + LINES_AFTER` of `file` from
/// `linecache` (with the frame's globals, so a module loaded by a loader is
/// found too), blank lines at the edges left out, dedented together, and
/// the failing expression's byte range in `line` when known.
fn lines_around(
    frame: &Bound<'_, PyAny>,
    code: &Bound<'_, PyAny>,
    tb: &Bound<'_, PyAny>,
    file: &str,
    line: usize,
) -> PyResult<Source> {
    static GETLINES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = frame.py();
    let globals = frame.getattr(intern!(py, "f_globals"))?;
    let all = GETLINES
        .import(py, "linecache", "getlines")?
        .call1((file, globals))?;
    let Ok(all) = all.cast::<PyList>() else {
        return Ok((Vec::new(), None));
    };
    let first = line.saturating_sub(LINES_BEFORE).max(1);
    let last = (line + LINES_AFTER).min(all.len());
    let mut lines: Vec<(usize, String)> = (first..=last)
        .filter_map(|n| {
            let text = all.get_item(n - 1).ok()?;
            let text = text.cast::<PyString>().ok()?.to_string_lossy();
            Some((n, text.trim_end_matches(['\r', '\n']).to_owned()))
        })
        .collect();
    // Blank lines at the window's edges add nothing.
    while lines
        .last()
        .is_some_and(|(n, t)| *n > line && t.trim().is_empty())
    {
        lines.pop();
    }
    let lead = lines
        .iter()
        .take_while(|(n, t)| *n < line && t.trim().is_empty())
        .count();
    lines.drain(..lead);
    let indent = lines
        .iter()
        .filter(|(_, t)| !t.trim().is_empty())
        .map(|(_, t)| t.len() - t.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    for (_, t) in &mut lines {
        t.drain(..indent.min(t.len() - t.trim_start_matches(' ').len()));
    }
    let span = lines
        .iter()
        .find(|(n, _)| *n == line)
        .and_then(|(_, text)| {
            let (a, b) = position(code, tb, line)?;
            let (a, b) = (a.checked_sub(indent)?, b.checked_sub(indent)?);
            // `get` is `None` past the end or inside a character.
            let (before, after) = (text.get(..a)?, text.get(b..)?);
            let whole = before.trim().is_empty() && after.trim().is_empty();
            (a < b && !whole).then_some((a, b))
        });
    Ok((lines, span))
}

/// The failing expression's start and end columns (UTF-8 byte offsets) in
/// `line`, from `code.co_positions()` at the traceback's last instruction
/// (Python 3.11+, PEP 657); `None` when unknown or spanning lines.
fn position(code: &Bound<'_, PyAny>, tb: &Bound<'_, PyAny>, line: usize) -> Option<(usize, usize)> {
    let py = code.py();
    let lasti: isize = tb.getattr(intern!(py, "tb_lasti")).ok()?.extract().ok()?;
    // One position per 2-byte code unit (CPython's `_get_code_position`).
    let index = usize::try_from(lasti).ok()? / 2;
    let positions = code.call_method0(intern!(py, "co_positions")).ok()?;
    let item = positions.try_iter().ok()?.nth(index)?.ok()?;
    let (start, end, col, end_col): (Option<usize>, Option<usize>, Option<usize>, Option<usize>) =
        item.extract().ok()?;
    (start? == line && end? == line).then_some((col?, end_col?))
}

/// `true` for code of the standard library or an installed package (shown
/// folded): under `sysconfig`'s `stdlib`/`platstdlib`, in a `site-packages`
/// or `dist-packages` folder, or a frozen module.
fn is_library(py: Python<'_>, file: &str) -> bool {
    static STDLIB: PyOnceLock<Vec<String>> = PyOnceLock::new();
    let stdlib = STDLIB.get_or_init(py, || {
        let paths = py
            .import(intern!(py, "sysconfig"))
            .and_then(|m| m.call_method0(intern!(py, "get_paths")));
        ["stdlib", "platstdlib"]
            .iter()
            .filter_map(|k| {
                paths
                    .as_ref()
                    .ok()?
                    .get_item(k)
                    .ok()?
                    .extract::<String>()
                    .ok()
            })
            .collect()
    });
    file.starts_with("<frozen ")
        || file
            .split(['/', '\\'])
            .any(|part| part == "site-packages" || part == "dist-packages")
        || stdlib.iter().any(|dir| {
            file.strip_prefix(dir.as_str())
                .is_some_and(|rest| rest.starts_with(['/', '\\']))
        })
}

/// `exc.__notes__` (PEP 678), each as `str`.
pub(super) fn notes(exc: &Bound<'_, PyAny>) -> Vec<String> {
    let py = exc.py();
    match exc.getattr_opt(intern!(py, "__notes__")) {
        Ok(Some(notes)) if !notes.is_instance_of::<PyString>() => notes
            .try_iter()
            .map(|it| it.filter_map(|n| lossy_str(&n.ok()?)).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}
