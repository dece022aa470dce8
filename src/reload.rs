//! File watching for `python -m rswsgi.dev --reload`.
//!
//! Changes arrive as OS notifications (inotify, FSEvents, kqueue or
//! ReadDirectoryChangesW, through the `notify` crate), debounced by
//! `notify-debouncer-mini`, never by a polling walk: a stat loop over every
//! imported module costs CPU forever (flask#5307) and sees a save late or,
//! for fast successive saves, not at all (werkzeug#2141).
//!
//! Every OS watch is on a *directory*, never on a file: editors save by
//! writing a temporary file and renaming it over the original, which ends a
//! watch on the old inode. A watched file is reported when anything happens
//! to its name in its directory; a watched tree reports its `*.py` files,
//! including ones created later, and skips hidden directories, virtual
//! environments and build output (see [`skipped_dir`]).
//!
//! The Python side (`rswsgi/_reload.py`) only asks "what changed?":
//! [`FileWatcher`] is the private `rswsgi._rswsgi._FileWatcher`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use notify_debouncer_mini::notify::{
    self, EventHandler, RecommendedWatcher, RecursiveMode, Watcher, WatcherKind,
};
use notify_debouncer_mini::{
    new_debouncer_opt, Config, DebounceEventResult, DebouncedEventKind, Debouncer,
};
use pyo3::prelude::*;

use crate::errors::Error;

/// How long `wait` blocks between two `check_signals` (Ctrl-C latency).
const TICK: Duration = Duration::from_millis(100);

/// Directory names never watched inside a tree: caches, dependencies and
/// build output that no one edits by hand (hidden ones, e.g. `.git`,
/// `.venv`, `.tox`, are skipped by their dot).
const SKIPPED_DIRS: [&str; 5] = [
    "__pycache__",
    "node_modules",
    "site-packages",
    "target",
    "build",
];

/// The OS watcher, minus reads: inotify also reports opening and closing a
/// file, and every `import` opens its module, so a child starting would
/// look like a change. Only what changes a file (create, write, attribute,
/// rename, delete) goes on to the debouncer.
pub struct ChangesOnly(RecommendedWatcher);

impl Watcher for ChangesOnly {
    fn new<F: EventHandler>(mut handler: F, config: notify::Config) -> notify::Result<Self> {
        let filter = move |event: notify::Result<notify::Event>| {
            if !matches!(&event, Ok(e) if e.kind.is_access()) {
                handler.handle_event(event);
            }
        };
        RecommendedWatcher::new(filter, config).map(Self)
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        self.0.watch(path, mode)
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        self.0.unwatch(path)
    }

    fn kind() -> WatcherKind {
        RecommendedWatcher::kind()
    }
}

/// What is watched, and the OS watches behind it.
pub struct WatchSet {
    debouncer: Debouncer<ChangesOnly>,
    /// Directories with a (non-recursive) OS watch.
    dirs: HashSet<PathBuf>,
    /// Files reported when they change.
    files: HashSet<PathBuf>,
    /// Roots whose `*.py` files (outside skipped directories) are reported.
    trees: Vec<PathBuf>,
}

/// A new watch set (nothing watched yet) and the channel its debounced
/// batches of events arrive on; a change is reported `debounce` after the
/// last event on its path (bursts of writes become one batch).
pub fn watch_set(debounce: Duration) -> notify::Result<(WatchSet, Receiver<DebounceEventResult>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let set = WatchSet {
        debouncer: new_debouncer_opt(Config::default().with_timeout(debounce), tx)?,
        dirs: HashSet::new(),
        files: HashSet::new(),
        trees: Vec::new(),
    };
    Ok((set, rx))
}

/// `path` made absolute, with symlinks resolved when it exists (so that
/// editing a symlinked module's target is seen).
fn absolute(path: &Path) -> io::Result<PathBuf> {
    path.canonicalize().or_else(|_| std::path::absolute(path))
}

/// Whether a tree walk skips this directory (see [`SKIPPED_DIRS`]); a
/// directory holding `pyvenv.cfg` is a virtual environment (PEP 405).
fn skipped_dir(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        n.starts_with('.') || SKIPPED_DIRS.contains(&n.as_ref())
    }) || dir.join("pyvenv.cfg").exists()
}

/// A Python source file by name (an editor's hidden lock or backup file,
/// e.g. emacs's `.#app.py`, is not).
fn is_source(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
        && path
            .file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}

impl WatchSet {
    /// Watches `path`: a directory as a tree (its `*.py` files, recursively,
    /// minus skipped directories), anything else as one file (which need not
    /// exist yet, but its directory must).
    pub fn add(&mut self, path: &Path) -> notify::Result<()> {
        let path = absolute(path)?;
        if path.is_dir() {
            self.watch_tree(&path)?;
            if !self.trees.contains(&path) {
                self.trees.push(path);
            }
        } else {
            let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            self.watch_dir(&dir)?;
            self.files.insert(path);
        }
        Ok(())
    }

    fn watch_dir(&mut self, dir: &Path) -> notify::Result<()> {
        if !self.dirs.contains(dir) {
            self.debouncer
                .watcher()
                .watch(dir, RecursiveMode::NonRecursive)?;
            self.dirs.insert(dir.to_path_buf());
        }
        Ok(())
    }

    /// Watches `root` and every directory below it that is not skipped.
    /// Only `root` itself must be watchable; a subdirectory that vanishes or
    /// cannot be read during the walk is left out.
    fn watch_tree(&mut self, root: &Path) -> notify::Result<()> {
        self.watch_dir(root)?;
        let walk = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| e.file_type().is_dir() && !skipped_dir(e.path()));
        for entry in walk.flatten() {
            if let Err(e) = self.watch_dir(entry.path()) {
                if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The tree root `path` lies in, if any, with no skipped directory
    /// between the two.
    fn tree_of(&self, path: &Path) -> Option<&Path> {
        self.trees
            .iter()
            .find(|root| {
                path.strip_prefix(root).is_ok_and(|rel| {
                    rel.parent().is_none_or(|p| {
                        p.ancestors()
                            .filter(|a| !a.as_os_str().is_empty())
                            .all(|a| !skipped_dir(&root.join(a)))
                    })
                })
            })
            .map(PathBuf::as_path)
    }

    /// The watched paths among one debounced batch. A new directory in a
    /// tree gets watched (so files created in it later are seen); a deleted
    /// one loses its watch. An event-stream error (e.g. the OS queue
    /// overflowed, so events were lost) reports the paths it names, or every
    /// tree root when it names none, so that the caller reloads rather than
    /// miss a change.
    pub fn changed(&mut self, batch: DebounceEventResult) -> Vec<PathBuf> {
        let mut out = Vec::new();
        match batch {
            Ok(events) => {
                // `AnyContinuous` means "still changing": wait for the
                // `Any` that follows once the path has been quiet.
                let settled = events
                    .into_iter()
                    .filter(|e| e.kind == DebouncedEventKind::Any);
                for path in settled.map(|e| e.path) {
                    if self.files.contains(&path)
                        || is_source(&path) && self.tree_of(&path).is_some()
                    {
                        out.push(path);
                    } else if path.is_dir() {
                        let new = !self.dirs.contains(&path) && !skipped_dir(&path);
                        if new && self.tree_of(&path).is_some() {
                            let _ = self.watch_tree(&path);
                        }
                    } else if self.dirs.remove(&path) {
                        let _ = self.debouncer.watcher().unwatch(&path);
                    }
                }
            }
            Err(e) if e.paths.is_empty() => out.extend(self.trees.iter().cloned()),
            Err(e) => out.extend(e.paths),
        }
        out
    }
}

/// `_FileWatcher(paths=(), *, debounce_secs=0.1)`: reports changes to files
/// and source trees, from OS notifications (private; used by
/// `python -m rswsgi.dev --reload`).
///
/// Each path is watched as `add` does. `debounce_secs` (seconds) is how long
/// a path must stay quiet before its change is reported, so an editor's
/// write-and-rename is one change. Raises `OSError` when a path cannot be
/// watched (its directory does not exist, or the OS limit on watches is
/// reached) and `ValueError` for a negative or non-finite `debounce_secs`.
#[pyclass(module = "rswsgi._rswsgi", name = "_FileWatcher", frozen)]
pub struct FileWatcher {
    // Free threading: both locks are held only over Rust code (the long
    // wait on `events` runs detached), so a thread that blocks on one while
    // attached waits for Rust code alone.
    set: Mutex<WatchSet>,
    events: Mutex<Receiver<DebounceEventResult>>,
}

/// Seconds from Python as a `Duration`, or a `ValueError` naming `name`.
fn seconds(name: &'static str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        Error::BadArgument {
            name,
            value: secs.to_string(),
            why: "expected a finite number of seconds >= 0",
        }
        .into()
    })
}

/// An `OSError` for a watch that failed; `what` says what was attempted.
fn watch_error(what: String, e: notify::Error) -> PyErr {
    let (errno, why) = match e.kind {
        notify::ErrorKind::Io(io) => return Error::io(what, &io).into(),
        notify::ErrorKind::PathNotFound => (Some(2), "no such file or directory".into()), // ENOENT
        notify::ErrorKind::MaxFilesWatch => (
            Some(28), // ENOSPC, as inotify_add_watch(2) reports it
            "the OS limit on watches is reached (on Linux raise fs.inotify.max_user_watches)"
                .into(),
        ),
        other => (None, format!("{other:?}")),
    };
    Error::Os { what, errno, why }.into()
}

#[pymethods]
impl FileWatcher {
    #[new]
    #[pyo3(signature = (paths = Vec::new(), *, debounce_secs = 0.1))]
    fn new(py: Python<'_>, paths: Vec<PathBuf>, debounce_secs: f64) -> PyResult<Self> {
        let debounce = seconds("debounce_secs", debounce_secs)?;
        let (set, events) = watch_set(debounce)
            .map_err(|e| watch_error("cannot start watching files".into(), e))?;
        let watcher = Self {
            set: Mutex::new(set),
            events: Mutex::new(events),
        };
        for path in paths {
            watcher.add(py, path)?;
        }
        Ok(watcher)
    }

    /// `add(path) -> None`: watches `path` (`str` or `os.PathLike`): a
    /// directory as a tree of `*.py` files (recursively; hidden directories,
    /// virtual environments, `__pycache__`, `node_modules`, `site-packages`,
    /// `target` and `build` are skipped), anything else as one file, which
    /// need not exist yet. Adding a path twice is harmless. Raises `OSError`
    /// as the constructor does.
    fn add(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| {
            let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
            set.add(&path)
        })
        .map_err(|e| watch_error(format!("cannot watch {}", path.display()), e))
    }

    /// `wait(timeout_secs=None) -> list[str] | None`: blocks until watched
    /// paths change and returns them (absolute, symlinks resolved, sorted,
    /// each once), or returns `None` after `timeout_secs` seconds without a
    /// change (`None`: wait forever; `0`: only collect what already
    /// happened). A deleted or renamed file counts as a change. The GIL is
    /// released while waiting and signal handlers run every 0.1 s, so Ctrl-C
    /// raises `KeyboardInterrupt`. Raises `ValueError` for a negative
    /// timeout and `OSError` if the OS watcher stopped.
    #[pyo3(signature = (timeout_secs = None))]
    fn wait(&self, py: Python<'_>, timeout_secs: Option<f64>) -> PyResult<Option<Vec<OsString>>> {
        let deadline = match timeout_secs {
            Some(t) => Some(Instant::now() + seconds("timeout_secs", t)?),
            None => None,
        };
        loop {
            let step = deadline.map_or(TICK, |d| {
                d.saturating_duration_since(Instant::now()).min(TICK)
            });
            let got = py.detach(|| self.next_changes(step));
            match got {
                Ok(changed) if !changed.is_empty() => {
                    return Ok(Some(
                        changed.into_iter().map(PathBuf::into_os_string).collect(),
                    ));
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::Os {
                        what: "cannot watch files".into(),
                        errno: None,
                        why: "the OS watcher stopped".into(),
                    }
                    .into());
                }
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    fn __repr__(&self) -> String {
        let set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        format!(
            "<rswsgi._FileWatcher: {} files, {} trees, {} directories watched>",
            set.files.len(),
            set.trees.len(),
            set.dirs.len()
        )
    }
}

impl FileWatcher {
    /// Waits up to `step` for a batch, then takes every batch already
    /// queued; returns the watched paths among them (sorted, deduplicated;
    /// empty when the batches held none).
    fn next_changes(&self, step: Duration) -> Result<Vec<PathBuf>, RecvTimeoutError> {
        let mut batches = Vec::new();
        {
            let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            batches.push(events.recv_timeout(step)?);
            batches.extend(events.try_iter());
        }
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changed: Vec<PathBuf> = batches.into_iter().flat_map(|b| set.changed(b)).collect();
        changed.sort();
        changed.dedup();
        Ok(changed)
    }
}

#[cfg(test)]
mod tests;
