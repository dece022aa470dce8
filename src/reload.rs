//! File watching for `python -m rswsgi.dev --reload`.
//!
//! Changes arrive as OS notifications (inotify, FSEvents, kqueue or
//! ReadDirectoryChangesW, through the `notify` crate), debounced by
//! `notify-debouncer-mini`, not by a polling walk: a stat loop over every
//! imported module costs CPU forever (flask#5307) and sees a save late or,
//! for fast successive saves, not at all (werkzeug#2141). The exceptions
//! are polled, one directory at a time (the `notify` poll watcher): folders
//! on file systems whose changes never reach inotify ([`polling`]), every
//! folder past the OS watch limit (said once, with the sysctl that raises
//! it, instead of werkzeug's silent gap), and everything under
//! `--reload-poll`.
//!
//! Every OS watch is on a *directory*, never on a file: editors save by
//! writing a temporary file and renaming it over the original, which ends a
//! watch on the old inode. A watched file is reported when anything happens
//! to its name in its directory; a watched tree reports its `*.py` files
//! (or, for a template or static folder, every file), including ones
//! created later, and skips hidden directories, virtual
//! environments and build output (see [`skipped_dir`]).
//!
//! The Python side (`rswsgi/_reload.py`) only asks "what changed?":
//! [`FileWatcher`] is the private `rswsgi._rswsgi._FileWatcher`.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use notify_debouncer_mini::notify::{
    self, EventHandler, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher, WatcherKind,
};
use notify_debouncer_mini::{
    new_debouncer_opt, Config, DebounceEventResult, DebouncedEventKind, Debouncer,
};
use pyo3::prelude::*;

use crate::errors::Error;

pub(crate) mod polling;

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
pub(crate) struct ChangesOnly(RecommendedWatcher);

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

/// What a watched directory tree reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Its `*.py` files (the source trees of the app).
    PythonFiles,
    /// Every file an editor saves (template and static folders, included
    /// globs), minus hidden files and editor backups.
    EveryFile,
}

/// How the reloader learns of changes in one directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// An OS notification watch (inotify and its peers).
    Notified,
    /// A stat walk every `Polling::interval` (see [`polling`]).
    Polled,
}

/// When directories are polled rather than watched by notification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polling {
    /// Time between two stat walks of a polled directory.
    pub(crate) interval: Duration,
    /// Poll every directory (`--reload-poll`), not only those on file
    /// systems without inotify events or past the OS watch limit.
    pub(crate) everywhere: bool,
}

/// Seconds between two stat walks of a directory polled because inotify
/// gives no events there (or the watch limit was reached).
pub(crate) const AUTO_POLL: Duration = Duration::from_millis(500);

/// What is watched, and the OS watches behind it.
pub(crate) struct WatchSet {
    debouncer: Debouncer<ChangesOnly>,
    /// The poll watcher, made when the first directory is polled.
    poller: Option<Debouncer<PollWatcher>>,
    sender: Sender<DebounceEventResult>,
    debounce: Duration,
    polling: Polling,
    /// Directories with a (non-recursive) watch, and of which kind.
    dirs: HashMap<PathBuf, How>,
    /// Files reported when they change.
    files: HashSet<PathBuf>,
    /// Roots whose files (per their [`Scope`], outside skipped directories)
    /// are reported.
    trees: Vec<(PathBuf, Scope)>,
    /// Set once an OS watch failed for the watch limit: every directory
    /// watched from then on is polled.
    limit_reached: bool,
    /// A lower limit on OS watches than the kernel's, to take the limit
    /// path in tests.
    os_watch_limit: Option<usize>,
    /// What the user should be told once (polling, and why).
    notices: Vec<String>,
    /// File system kinds already named in a notice.
    told: HashSet<&'static str>,
}

/// A new watch set (nothing watched yet) and the channel its debounced
/// batches of events arrive on; a change is reported `debounce` after the
/// last event on its path (bursts of writes become one batch).
pub(crate) fn watch_set(
    debounce: Duration,
    polling: Polling,
) -> notify::Result<(WatchSet, Receiver<DebounceEventResult>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let set = WatchSet {
        debouncer: new_debouncer_opt(Config::default().with_timeout(debounce), tx.clone())?,
        poller: None,
        sender: tx,
        debounce,
        polling,
        dirs: HashMap::new(),
        files: HashSet::new(),
        trees: Vec::new(),
        limit_reached: false,
        os_watch_limit: None,
        notices: Vec::new(),
        told: HashSet::new(),
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

/// A file an editor saves, by name: not a hidden lock, swap or backup file
/// (emacs's `.#app.py`, vim's `.app.py.swp`, `app.py~`, and the `4913`
/// file vim writes to test a directory).
fn is_edited(path: &Path) -> bool {
    path.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        !(n.starts_with('.') || n.ends_with('~') || n == "4913")
    })
}

/// A Python source file by name (an editor's hidden lock or backup file
/// is not).
fn is_source(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py") && is_edited(path)
}

impl WatchSet {
    /// Watches `path`: a directory as a tree (its files per `scope`,
    /// recursively, minus skipped directories), anything else as one file
    /// (which need not exist yet, but its directory must).
    pub(crate) fn add(&mut self, path: &Path, scope: Scope) -> notify::Result<()> {
        let path = absolute(path)?;
        if path.is_dir() {
            self.watch_tree(&path)?;
            if !self.trees.contains(&(path.clone(), scope)) {
                self.trees.push((path, scope));
            }
        } else {
            let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            self.watch_dir(&dir)?;
            self.files.insert(path);
        }
        Ok(())
    }

    /// The notices not yet taken (each is said once).
    pub(crate) fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    fn watch_dir(&mut self, dir: &Path) -> notify::Result<()> {
        if self.dirs.contains_key(dir) {
            return Ok(());
        }
        let how = if self.polling.everywhere || self.limit_reached {
            How::Polled
        } else if let Some(kind) = polling::gives_no_events(dir) {
            if self.told.insert(kind) {
                self.notices.push(format!(
                    "polling {} every {:?}: it is on {kind}, where the OS reports no changes",
                    dir.display(),
                    self.polling.interval
                ));
            }
            How::Polled
        } else {
            match self.notify(dir) {
                Ok(()) => How::Notified,
                Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                    self.limit_reached = true;
                    self.notices.push(format!(
                        "the OS limit on file watches is reached at {}; polling it and every \
                         folder after it every {:?} (to raise the limit: sudo sysctl \
                         fs.inotify.max_user_watches=524288)",
                        dir.display(),
                        self.polling.interval
                    ));
                    How::Polled
                }
                Err(e) => return Err(e),
            }
        };
        if how == How::Polled {
            self.poller()?
                .watcher()
                .watch(dir, RecursiveMode::NonRecursive)?;
        }
        self.dirs.insert(dir.to_path_buf(), how);
        Ok(())
    }

    /// One OS notification watch on `dir`.
    fn notify(&mut self, dir: &Path) -> notify::Result<()> {
        let notified = self.dirs.values().filter(|h| **h == How::Notified).count();
        if self.os_watch_limit.is_some_and(|limit| notified >= limit) {
            return Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch));
        }
        self.debouncer
            .watcher()
            .watch(dir, RecursiveMode::NonRecursive)
    }

    fn poller(&mut self) -> notify::Result<&mut Debouncer<PollWatcher>> {
        if self.poller.is_none() {
            let config = Config::default()
                .with_timeout(self.debounce)
                .with_notify_config(
                    // The poll watcher keeps whole-second modification
                    // times, so two saves within a second (or a save in the
                    // second the watch began) differ only in content:
                    // compare that too. It reads each polled file per
                    // interval, which polling only the folders that need it
                    // keeps small.
                    notify::Config::default()
                        .with_poll_interval(self.polling.interval)
                        .with_compare_contents(true),
                );
            self.poller = Some(new_debouncer_opt(config, self.sender.clone())?);
        }
        Ok(self.poller.as_mut().expect("made above"))
    }

    fn unwatch_dir(&mut self, dir: &Path) {
        match self.dirs.remove(dir) {
            Some(How::Notified) => {
                let _ = self.debouncer.watcher().unwatch(dir);
            }
            Some(How::Polled) => {
                if let Some(poller) = &mut self.poller {
                    let _ = poller.watcher().unwatch(dir);
                }
            }
            None => {}
        }
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
            let _ = self.watch_dir(entry.path());
        }
        Ok(())
    }

    /// The scope of the tree `path` lies in, if any, with no skipped
    /// directory between the two (`EveryFile` wins when trees overlap).
    fn tree_of(&self, path: &Path) -> Option<Scope> {
        let inside = |root: &Path| {
            path.strip_prefix(root).is_ok_and(|rel| {
                rel.parent().is_none_or(|p| {
                    p.ancestors()
                        .filter(|a| !a.as_os_str().is_empty())
                        .all(|a| !skipped_dir(&root.join(a)))
                })
            })
        };
        let mut scopes = self.trees.iter().filter(|(root, _)| inside(root));
        let first = scopes.next()?.1;
        Some(if scopes.any(|(_, s)| *s == Scope::EveryFile) {
            Scope::EveryFile
        } else {
            first
        })
    }

    /// Whether a change to `path` (a file, or a name that is gone) is
    /// reported.
    fn reported(&self, path: &Path) -> bool {
        self.files.contains(path)
            || match self.tree_of(path) {
                Some(Scope::PythonFiles) => is_source(path),
                Some(Scope::EveryFile) => is_edited(path) && !path.is_dir(),
                None => false,
            }
    }

    /// The watched paths among one debounced batch. A new directory in a
    /// tree gets watched (so files created in it later are seen); a deleted
    /// one loses its watch. An event-stream error (e.g. the OS queue
    /// overflowed, so events were lost) reports the paths it names, or every
    /// tree root when it names none, so that the caller reloads rather than
    /// miss a change.
    pub(crate) fn changed(&mut self, batch: DebounceEventResult) -> Vec<PathBuf> {
        let mut out = Vec::new();
        match batch {
            Ok(events) => {
                // `AnyContinuous` means "still changing": wait for the
                // `Any` that follows once the path has been quiet.
                let settled = events
                    .into_iter()
                    .filter(|e| e.kind == DebouncedEventKind::Any);
                for path in settled.map(|e| e.path) {
                    if self.reported(&path) {
                        out.push(path);
                    } else if path.is_dir() {
                        let new = !self.dirs.contains_key(&path) && !skipped_dir(&path);
                        if new && self.tree_of(&path).is_some() {
                            let _ = self.watch_tree(&path);
                        }
                    } else if self.dirs.contains_key(&path) {
                        self.unwatch_dir(&path);
                    }
                }
            }
            Err(e) if e.paths.is_empty() => {
                out.extend(self.trees.iter().map(|(root, _)| root.clone()));
            }
            Err(e) => out.extend(e.paths),
        }
        out
    }
}

/// `_FileWatcher(paths=(), *, debounce_secs=0.1, poll_secs=None)`: reports
/// changes to files and folders, from OS notifications, or by polling where
/// those never come (private; used by `python -m rswsgi.dev --reload`).
///
/// Each path is watched as `add` does. `debounce_secs` (seconds) is how long
/// a path must stay quiet before its change is reported, so an editor's
/// write-and-rename is one change. `poll_secs` (seconds): poll every folder
/// at this interval (`--reload-poll`); `None` polls only folders on file
/// systems that give no inotify events (NFS, SMB/CIFS, 9p, FUSE and
/// virtiofs, vboxsf) and, once the OS watch limit is reached, every folder
/// after it, each every 0.5 s (`take_notices` says so). Raises `OSError`
/// when a path cannot be watched (its directory does not exist) and
/// `ValueError` for a negative or non-finite `debounce_secs` or `poll_secs`.
#[pyclass(module = "rswsgi._rswsgi", name = "_FileWatcher", frozen)]
pub(crate) struct FileWatcher {
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
    #[pyo3(signature = (paths = Vec::new(), *, debounce_secs = 0.1, poll_secs = None))]
    fn new(
        py: Python<'_>,
        paths: Vec<PathBuf>,
        debounce_secs: f64,
        poll_secs: Option<f64>,
    ) -> PyResult<Self> {
        let debounce = seconds("debounce_secs", debounce_secs)?;
        let polling = match poll_secs {
            Some(secs) => Polling {
                interval: seconds("poll_secs", secs)?,
                everywhere: true,
            },
            None => Polling {
                interval: AUTO_POLL,
                everywhere: false,
            },
        };
        let (set, events) = watch_set(debounce, polling)
            .map_err(|e| watch_error("cannot start watching files".into(), e))?;
        let watcher = Self {
            set: Mutex::new(set),
            events: Mutex::new(events),
        };
        for path in paths {
            watcher.add(py, path, false)?;
        }
        Ok(watcher)
    }

    /// `add(path, *, every_file=False) -> None`: watches `path` (`str` or
    /// `os.PathLike`): a directory as a tree of `*.py` files, or of every
    /// file with `every_file=True` (template and static folders), except
    /// hidden files and editor backups (`*~`), recursively (hidden
    /// directories, virtual environments, `__pycache__`, `node_modules`,
    /// `site-packages`, `target` and `build` are skipped); anything else as
    /// one file, which need not exist yet. Adding a path twice is harmless.
    /// Raises `OSError` as the constructor does.
    #[pyo3(signature = (path, *, every_file = false))]
    fn add(&self, py: Python<'_>, path: PathBuf, every_file: bool) -> PyResult<()> {
        let scope = if every_file {
            Scope::EveryFile
        } else {
            Scope::PythonFiles
        };
        py.detach(|| {
            let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
            set.add(&path, scope)
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

    /// `take_notices() -> list[str]`: what the user should be told about
    /// how folders are watched (polled, and why), each message once.
    fn take_notices(&self) -> Vec<String> {
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        set.take_notices()
    }

    fn __repr__(&self) -> String {
        let set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        let polled = set.dirs.values().filter(|h| **h == How::Polled).count();
        format!(
            "<rswsgi._FileWatcher: {} files, {} trees, {} directories watched ({} polled)>",
            set.files.len(),
            set.trees.len(),
            set.dirs.len(),
            polled
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
