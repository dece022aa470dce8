//! The watcher against a real temporary directory and the OS's own
//! notifications. Waits are generous deadlines, not timing asserts.

use super::*;
use std::fs;

const DEBOUNCE: Duration = Duration::from_millis(50);

struct Fixture {
    dir: tempfile::TempDir,
    set: WatchSet,
    rx: Receiver<DebounceEventResult>,
}

impl Fixture {
    fn new() -> Self {
        Self::with(Polling {
            interval: AUTO_POLL,
            everywhere: false,
        })
    }

    fn with(polling: Polling) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (set, rx) = watch_set(DEBOUNCE, polling).unwrap();
        Self { dir, set, rx }
    }

    fn add(&mut self, rel: &str, scope: Scope) {
        let p = self.dir.path().join(rel);
        self.set.add(&p, scope).unwrap();
    }

    /// The real (symlink-free) path of `rel` in the fixture directory.
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().canonicalize().unwrap().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// Every batch of watched changes that arrives within `within`.
    fn batches(&mut self, within: Duration) -> Vec<Vec<PathBuf>> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(batch) => {
                    let changed = self.set.changed(batch);
                    if !changed.is_empty() {
                        out.push(changed);
                    }
                }
                Err(_) => break,
            }
        }
        out
    }

    /// The watched changes seen until the first batch (or 5 s), plus any
    /// that follow within a few debounce periods.
    fn changes(&mut self) -> Vec<PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut out = Vec::new();
        while out.is_empty() && Instant::now() < deadline {
            out = self.batches(Duration::from_millis(100)).concat();
        }
        out.extend(self.batches(DEBOUNCE * 6).concat());
        out.sort();
        out.dedup();
        out
    }
}

#[test]
fn a_watched_file_that_changes_is_reported_once_per_burst() {
    let mut f = Fixture::new();
    f.write("app.py", "x = 1\n");
    f.write("other.py", "y = 1\n");
    f.add("app.py", Scope::PythonFiles);
    for i in 0..5 {
        f.write("app.py", &format!("x = {i}\n"));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut first = Vec::new();
    while first.is_empty() && Instant::now() < deadline {
        first = f.batches(Duration::from_millis(100)).concat();
    }
    assert_eq!(first, vec![f.path("app.py")]);
    // One burst, one batch: nothing follows.
    assert_eq!(f.batches(DEBOUNCE * 8), Vec::<Vec<PathBuf>>::new());
    // A sibling in the same (watched) directory is not reported.
    f.write("other.py", "y = 2\n");
    assert_eq!(f.batches(DEBOUNCE * 8), Vec::<Vec<PathBuf>>::new());
}

#[test]
fn an_editor_s_write_and_rename_is_seen_and_the_next_save_too() {
    let mut f = Fixture::new();
    f.write("app.py", "x = 1\n");
    f.add("app.py", Scope::PythonFiles);
    for round in 0..2 {
        f.write(".app.py.swp", &format!("x = {round}\n"));
        fs::rename(f.path(".app.py.swp"), f.path("app.py")).unwrap();
        assert_eq!(f.changes(), vec![f.path("app.py")], "save {round}");
    }
}

#[test]
fn a_tree_reports_python_files_below_it_and_skips_the_rest() {
    let mut f = Fixture::new();
    f.write("pkg/mod.py", "");
    f.write(".venv/pyvenv.cfg", "");
    f.write("env/pyvenv.cfg", "");
    f.write("env/lib/thing.py", "");
    f.write("__pycache__/x.py", "");
    f.add("", Scope::PythonFiles);
    f.write("pkg/mod.py", "x = 1\n");
    f.write("new.py", "");
    f.write("notes.txt", "");
    f.write(".#new.py", "");
    f.write("env/lib/thing.py", "x = 1\n");
    f.write("__pycache__/x.py", "x = 1\n");
    assert_eq!(f.changes(), vec![f.path("new.py"), f.path("pkg/mod.py")]);
}

#[test]
fn a_directory_created_later_in_a_tree_is_watched_too() {
    let mut f = Fixture::new();
    f.add("", Scope::PythonFiles);
    fs::create_dir(f.path("sub")).unwrap();
    // Its creation is not a change, but it gets a watch.
    assert_eq!(f.batches(DEBOUNCE * 8), Vec::<Vec<PathBuf>>::new());
    f.write("sub/late.py", "");
    assert_eq!(f.changes(), vec![f.path("sub/late.py")]);
}

#[test]
fn a_missing_file_can_be_watched_but_not_a_missing_directory() {
    let mut f = Fixture::new();
    f.add("later.py", Scope::PythonFiles);
    f.write("later.py", "");
    assert_eq!(f.changes(), vec![f.path("later.py")]);
    assert!(f
        .set
        .add(&f.path("no/such/dir.py"), Scope::PythonFiles)
        .is_err());
}

#[test]
fn reading_a_file_is_not_a_change() {
    let mut f = Fixture::new();
    f.write("app.py", "x = 1\n");
    f.add("", Scope::PythonFiles);
    for _ in 0..3 {
        fs::read(f.path("app.py")).unwrap();
    }
    assert_eq!(f.batches(DEBOUNCE * 8), Vec::<Vec<PathBuf>>::new());
}

#[test]
fn a_folder_of_every_file_reports_templates_but_not_backups() {
    let mut f = Fixture::new();
    f.write("templates/base.html", "");
    f.write("app.py", "");
    f.add("", Scope::PythonFiles);
    f.add("templates", Scope::EveryFile);
    f.write("templates/base.html", "<p>new</p>");
    f.write("templates/part/new.txt", "");
    f.write("templates/base.html~", "");
    f.write("templates/.base.html.swp", "");
    f.write("notes.txt", "");
    let mut seen = f.changes();
    // The new subfolder is watched once its creation is seen; its file may
    // come in the same batch or later.
    if !seen.contains(&f.path("templates/part/new.txt")) {
        f.write("templates/part/new.txt", "again");
        seen.extend(f.changes());
    }
    assert!(seen.contains(&f.path("templates/base.html")), "{seen:?}");
    assert!(seen.contains(&f.path("templates/part/new.txt")), "{seen:?}");
    for quiet in [
        "templates/base.html~",
        "templates/.base.html.swp",
        "notes.txt",
    ] {
        assert!(!seen.contains(&f.path(quiet)), "{quiet} in {seen:?}");
    }
}

#[test]
fn polling_everywhere_sees_a_change_without_notifications() {
    let mut f = Fixture::with(Polling {
        interval: Duration::from_millis(50),
        everywhere: true,
    });
    f.write("pkg/mod.py", "x = 1\n");
    f.add("", Scope::PythonFiles);
    assert!(f.set.dirs.values().all(|h| *h == How::Polled));
    assert_eq!(f.set.dirs.len(), 2);
    f.write("pkg/mod.py", "x = 2\n");
    assert_eq!(f.changes(), vec![f.path("pkg/mod.py")]);
    assert!(
        f.set.take_notices().is_empty(),
        "forced polling needs no notice"
    );
}

#[test]
fn past_the_watch_limit_the_rest_is_polled_and_the_user_told_once() {
    let mut f = Fixture::with(Polling {
        interval: Duration::from_millis(50),
        everywhere: false,
    });
    f.set.os_watch_limit = Some(1);
    f.write("a/one.py", "");
    f.write("b/two.py", "");
    f.add("", Scope::PythonFiles);
    let notified = f.set.dirs.values().filter(|h| **h == How::Notified).count();
    assert_eq!((notified, f.set.dirs.len()), (1, 3));
    let notices = f.set.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("fs.inotify.max_user_watches"),
        "{notices:?}"
    );
    f.write("a/one.py", "x = 1\n");
    f.write("b/two.py", "x = 1\n");
    let mut seen = f.changes();
    if seen.len() < 2 {
        seen.extend(f.changes());
        seen.sort();
        seen.dedup();
    }
    assert_eq!(seen, vec![f.path("a/one.py"), f.path("b/two.py")]);
    assert!(f.set.take_notices().is_empty());
}
