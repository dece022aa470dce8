//! Which directories the reloader polls instead of asking the OS to
//! notify it: those on file systems whose changes never reach inotify.
//!
//! inotify sees only changes made through the local kernel. On a network
//! or host-shared file system the writes happen elsewhere (the NFS server,
//! the Windows side of WSL's `/mnt/c`, the host of a Docker Desktop bind
//! mount or a VirtualBox shared folder), so a watch there succeeds and
//! then stays silent (werkzeug#2169-style reports: "reload never fires in
//! Docker"). Such a directory is told by `statfs(2)`'s `f_type` and polled.

use std::path::Path;

/// `statfs` magic numbers (linux/magic.h and the file systems' sources)
/// of file systems where inotify gives no events for remote changes, with
/// the name the notice uses.
const NO_EVENTS: [(u64, &str); 8] = [
    (0x6969, "NFS"),         // NFS_SUPER_MAGIC
    (0x517B, "SMB"),         // SMB_SUPER_MAGIC
    (0xFF53_4D42, "CIFS"),   // CIFS_SUPER_MAGIC
    (0xFE53_4D42, "SMB2"),   // SMB2_SUPER_MAGIC
    (0x0102_1997, "9p"),     // V9FS_MAGIC: WSL's /mnt/c, some VMs' shares
    (0x6573_5546, "FUSE"),   // FUSE_SUPER_MAGIC: virtiofs and Docker Desktop too
    (0x786F_4256, "vboxsf"), // VBOXSF_SUPER_MAGIC
    (0x6B41_4653, "AFS"),    // AFS_FS_MAGIC ("kAFS")
];

/// The file system name when `f_type` is one that gives no inotify events.
#[must_use]
pub(crate) fn no_events_kind(f_type: u64) -> Option<&'static str> {
    NO_EVENTS
        .iter()
        .find(|(magic, _)| *magic == f_type)
        .map(|(_, name)| *name)
}

/// The kind of file system `dir` is on, when inotify gives no events there
/// (Linux; elsewhere `None`: FSEvents, kqueue and ReadDirectoryChangesW
/// are trusted). A directory that cannot be `statfs`ed is not polled: the
/// OS watch that follows reports the error.
#[must_use]
pub(crate) fn gives_no_events(dir: &Path) -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    {
        let stat = rustix::fs::statfs(dir).ok()?;
        // `f_type` is a signed word on most targets; the magic numbers are
        // its low 32 bits.
        #[allow(clippy::cast_sign_loss, clippy::unnecessary_cast)]
        let f_type = (stat.f_type as u64) & 0xFFFF_FFFF;
        no_events_kind(f_type)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_shared_file_systems_are_polled_local_ones_are_not() {
        for (magic, name) in [(0x6969, "NFS"), (0x0102_1997, "9p"), (0x6573_5546, "FUSE")] {
            assert_eq!(no_events_kind(magic), Some(name));
        }
        // ext4, tmpfs, btrfs, xfs, overlayfs (a container's own layers)
        for local in [0xEF53, 0x0102_1994, 0x9123_683E, 0x5846_5342, 0x794C_7630] {
            assert_eq!(no_events_kind(local), None, "{local:#x}");
        }
    }

    #[test]
    fn a_temporary_directory_is_watched_by_notification() {
        let dir = tempfile::tempdir().unwrap();
        // /tmp is tmpfs or the root file system here, never a network one.
        assert_eq!(gives_no_events(dir.path()), None);
    }
}
