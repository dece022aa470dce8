//! Opening a file under a mount's folder so that nothing outside it is
//! ever opened, symlinks included.
//!
//! On Linux each path is opened with `openat2(2)` and `RESOLVE_BENEATH`
//! relative to the folder: the kernel refuses any resolution that leaves
//! it (`..`, an absolute path, a symlink pointing out of it, even an
//! absolute symlink pointing back in), with no window between a check and
//! the open. Where `openat2` is missing (another OS, a kernel before 5.6, a
//! seccomp filter that refuses it) the path is resolved with `realpath`
//! and must lie under the folder's own resolved path; a symlink swapped
//! between that check and the open is then not caught.
//!
//! The folder stays open between requests, checked with one `stat` of its
//! path per request ([`Folder`]), so a folder that a build replaces
//! (`rm -r static && mkdir static`) is served as it is now.
//! Files are opened non-blocking, so a FIFO in the folder cannot hang the
//! app thread; only regular files and folders are then used.

use std::fs::{File, Metadata};
use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One opened file or folder and what `fstat` says of it.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The open file (read-only).
    pub(crate) file: File,
    /// Its kind, length and modification time.
    pub(crate) meta: Meta,
}

/// What is needed of a file's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// What it is.
    pub(crate) kind: Kind,
    /// Length in bytes.
    pub(crate) len: u64,
    /// Last modification, at the filesystem's resolution.
    pub(crate) mtime: SystemTime,
}

/// The kinds of file this module tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file: served.
    File,
    /// A folder: its index file may be served.
    Dir,
    /// Anything else (FIFO, socket, device): never served.
    Other,
}

impl Meta {
    fn of(m: &Metadata) -> Self {
        let kind = if m.is_file() {
            Kind::File
        } else if m.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        Self {
            kind,
            len: m.len(),
            mtime: m.modified().unwrap_or(UNIX_EPOCH),
        }
    }
}

/// What identifies a folder as it is now: device, inode and change time.
/// The change time moves whenever an entry is added, removed or renamed in
/// it, and a folder made anew has its own, so an equal stamp means the same
/// folder with the same names in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    ctime: (i64, i64),
}

/// How long after its last change a stamp is trusted: file times are
/// coarse (a few ms on Linux, 2 s on FAT), so a folder changed within that
/// tick could change again without a new stamp ("racily clean", as git
/// calls it).
const SETTLED: Duration = Duration::from_secs(2);

impl Stamp {
    #[cfg(target_os = "linux")]
    #[allow(clippy::unnecessary_cast, clippy::cast_possible_wrap)] // field types vary by arch
    fn of(st: &rustix::fs::Stat) -> Self {
        Self {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    /// A stamp made up for tests.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn made_up(ino: u64, ctime_secs: i64) -> Self {
        Self {
            dev: 1,
            ino,
            ctime: (ctime_secs, 0),
        }
    }

    /// The folder has not changed for [`SETTLED`]: what was seen in it can
    /// be remembered under this stamp.
    #[must_use]
    pub(crate) fn settled(&self) -> bool {
        let changed =
            u64::try_from(self.ctime.0).map_or(UNIX_EPOCH, |s| UNIX_EPOCH + Duration::from_secs(s));
        SystemTime::now()
            .duration_since(changed)
            .is_ok_and(|age| age > SETTLED)
    }
}

/// A mount's folder, kept open between requests (Linux) and opened again
/// when its path names another folder or the folder changed (its
/// [`Stamp`]): one `stat` per request instead of an `open` and a `close`,
/// and a folder that a build replaces (`rm -r static && mkdir static`) is
/// served as it is now.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    #[cfg(target_os = "linux")]
    open: Mutex<Option<(Arc<OwnedFd>, Stamp)>>,
}

impl Folder {
    /// The folder at `dir` for one request, and its stamp where known.
    ///
    /// # Errors
    /// The OS error when it cannot be opened (it was removed, say).
    pub(crate) fn root(&self, dir: &Path) -> io::Result<(Root, Option<Stamp>)> {
        #[cfg(target_os = "linux")]
        if beneath::available() {
            use rustix::fs::{Mode, OFlags};
            let now = Stamp::of(&rustix::fs::stat(dir)?);
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((fd, stamp)) = open.as_ref() {
                if *stamp == now {
                    return Ok((Root::Beneath(Arc::clone(fd)), Some(now)));
                }
            }
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = Arc::new(rustix::fs::open(dir, flags, Mode::empty())?);
            // The stamp of what was opened, not of what the path named a moment before.
            let stamp = Stamp::of(&rustix::fs::fstat(&*fd)?);
            *open = Some((Arc::clone(&fd), stamp));
            return Ok((Root::Beneath(fd), Some(stamp)));
        }
        Ok((Root::Resolved(dir.canonicalize()?), None))
    }
}

/// A mount's folder for one request.
#[derive(Debug)]
pub(crate) enum Root {
    /// The folder's descriptor; paths are opened beneath it with `openat2`.
    #[cfg(target_os = "linux")]
    Beneath(Arc<OwnedFd>),
    /// The folder's resolved path (`realpath`), for the check after each
    /// path is resolved.
    Resolved(PathBuf),
}

impl Root {
    /// Opens `rel` (a relative path of checked segments, see `path.rs`;
    /// empty for the folder itself) under the folder, and `fstat`s it.
    ///
    /// # Errors
    /// `NotFound` (or the OS error) when there is no such file, or its path
    /// leads out of the folder.
    pub(crate) fn open_file(&self, rel: &[u8]) -> io::Result<Opened> {
        let file = match self {
            #[cfg(target_os = "linux")]
            Self::Beneath(dir) => match beneath::open(dir, rel) {
                Err(e) if beneath::unsupported(&e) => {
                    beneath::mark_unavailable();
                    let root = Self::Resolved(fd_path(dir)?);
                    return root.open_file(rel);
                }
                opened => opened?,
            },
            Self::Resolved(root) => {
                let path = root.join(os_path(rel)?).canonicalize()?;
                if !path.starts_with(root) {
                    return Err(io::ErrorKind::NotFound.into());
                }
                open_nonblocking(&path)?
            }
        };
        let meta = Meta::of(&file.metadata()?);
        Ok(Opened { file, meta })
    }

    /// The stamp of the sub-folder `rel` (non-empty, already opened through
    /// beneath it); `None` where stamps are not kept.
    #[must_use]
    pub(crate) fn stamp(&self, rel: &[u8]) -> Option<Stamp> {
        match self {
            #[cfg(target_os = "linux")]
            Self::Beneath(dir) => rustix::fs::statat(&**dir, rel, rustix::fs::AtFlags::empty())
                .ok()
                .map(|st| Stamp::of(&st)),
            Self::Resolved(_) => None,
        }
    }
}

/// The folder's path from its descriptor (Linux `/proc/self/fd`), for the
/// fallback when `openat2` turns out to be refused.
#[cfg(target_os = "linux")]
fn fd_path(dir: &OwnedFd) -> io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd()))
}

/// `rel` as a path: its bytes on Unix (file names are bytes there); UTF-8
/// elsewhere.
#[allow(clippy::unnecessary_wraps)] // fallible off Unix
fn os_path(rel: &[u8]) -> io::Result<&Path> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(Path::new(std::ffi::OsStr::from_bytes(rel)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(rel)
            .map(Path::new)
            .map_err(|_| io::ErrorKind::NotFound.into())
    }
}

fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc_o_nonblock());
    }
    options.open(path)
}

#[cfg(unix)]
fn libc_o_nonblock() -> i32 {
    i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0)
}

#[cfg(target_os = "linux")]
mod beneath {
    use std::fs::File;
    use std::io;
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{Mode, OFlags, ResolveFlags};

    /// Cleared the first time the kernel refuses `openat2` itself.
    static AVAILABLE: AtomicBool = AtomicBool::new(true);

    pub(crate) fn available() -> bool {
        AVAILABLE.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_unavailable() {
        AVAILABLE.store(false, Ordering::Relaxed);
    }

    /// `ENOSYS` (a kernel before 5.6) or `EPERM` (a seccomp filter, as old
    /// container runtimes install): `openat2` cannot be used at all.
    pub(crate) fn unsupported(e: &io::Error) -> bool {
        matches!(
            rustix::io::Errno::from_io_error(e),
            Some(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM)
        )
    }

    pub(crate) fn open(dir: &OwnedFd, rel: &[u8]) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let path: &[u8] = if rel.is_empty() { b"." } else { rel };
        Ok(File::from(rustix::fs::openat2(
            dir,
            path,
            flags,
            Mode::empty(),
            resolve,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_beneath_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let root_dir = tmp.path().join("root");
        std::fs::create_dir_all(root_dir.join("sub")).unwrap();
        std::fs::write(root_dir.join("sub/a.txt"), b"hello").unwrap();
        std::fs::write(tmp.path().join("secret.txt"), b"secret").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("../secret.txt", root_dir.join("out")).unwrap();
            symlink(tmp.path().join("secret.txt"), root_dir.join("abs")).unwrap();
            symlink("sub/a.txt", root_dir.join("in")).unwrap();
            symlink("..", root_dir.join("up")).unwrap();
        }
        let root = Folder::default().root(&root_dir).unwrap().0;
        let a = root.open_file(b"sub/a.txt").unwrap();
        assert_eq!((a.meta.kind, a.meta.len), (Kind::File, 5));
        assert_eq!(root.open_file(b"sub").unwrap().meta.kind, Kind::Dir);
        assert_eq!(root.open_file(b"").unwrap().meta.kind, Kind::Dir);
        assert!(root.open_file(b"missing").is_err());
        assert!(root.open_file(b"../secret.txt").is_err());
        assert!(root.open_file(b"sub/../../secret.txt").is_err());
        #[cfg(unix)]
        {
            assert!(root.open_file(b"out").is_err());
            assert!(root.open_file(b"abs").is_err());
            assert!(root.open_file(b"up/secret.txt").is_err());
            assert_eq!(root.open_file(b"in").unwrap().meta.len, 5);
        }
        // The fallback draws the same line.
        let resolved = Root::Resolved(root_dir.canonicalize().unwrap());
        assert_eq!(resolved.open_file(b"sub/a.txt").unwrap().meta.len, 5);
        assert!(resolved.open_file(b"../secret.txt").is_err());
        #[cfg(unix)]
        {
            assert!(resolved.open_file(b"out").is_err());
            assert!(resolved.open_file(b"up/secret.txt").is_err());
            assert_eq!(resolved.open_file(b"in").unwrap().meta.len, 5);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_does_not_block_and_is_not_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let root = Folder::default().root(tmp.path()).unwrap().0;
        assert_eq!(root.open_file(b"pipe").unwrap().meta.kind, Kind::Other);
    }
}
