//! Which precompressed siblings (`file.br`, `file.zst`, `file.gz`) a file
//! has, remembered per file so that a request whose `Accept-Encoding`
//! allows them does not try to open three missing files every time.
//!
//! What was seen is kept with the stamp of the folder the file is in (its
//! inode and change time: adding, removing or renaming a sibling changes
//! it) and the file's own length and mtime, and is used only while both are
//! unchanged; a folder changed in the last two seconds is not remembered
//! at all (see [`Stamp::settled`]). Siblings that exist are still opened
//! and `fstat`ed on every request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::coding::Coding;
use super::fs::{Meta, Stamp};

/// Files remembered per mount; past this it starts again empty.
const MAX_ENTRIES: usize = 4096;

/// `present[coding as usize]`: the sibling exists as a regular file.
pub(crate) type Present = [bool; 3];

#[derive(Debug, Clone, Copy)]
struct Seen {
    folder: Stamp,
    file: Meta,
    present: Present,
}

/// The siblings of one mount's files, by the file's relative path.
#[derive(Debug, Default)]
pub(crate) struct Siblings {
    seen: Mutex<HashMap<Box<[u8]>, Seen>>,
}

impl Siblings {
    /// What was seen of `rel`'s siblings, if its folder (`folder`) and the
    /// file (`file`) are as they were then.
    #[must_use]
    pub(crate) fn get(&self, rel: &[u8], folder: Stamp, file: &Meta) -> Option<Present> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let s = seen.get(rel)?;
        (s.folder == folder && s.file == *file).then_some(s.present)
    }

    /// Remembers `present` for `rel` when its folder has settled.
    pub(crate) fn put(&self, rel: &[u8], folder: Stamp, file: Meta, present: Present) {
        if !folder.settled() {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= MAX_ENTRIES {
            seen.clear();
        }
        seen.insert(
            rel.into(),
            Seen {
                folder,
                file,
                present,
            },
        );
    }
}

/// The index of `coding` in a [`Present`].
#[must_use]
pub(crate) fn slot(coding: Coding) -> usize {
    coding as usize
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::super::fs::Kind;
    use super::*;

    #[test]
    fn remembered_only_while_folder_and_file_are_unchanged() {
        let siblings = Siblings::default();
        let old = Stamp::made_up(7, 1_000);
        let file = Meta {
            kind: Kind::File,
            len: 10,
            mtime: UNIX_EPOCH + Duration::from_secs(5),
        };
        let present = [true, false, true];
        siblings.put(b"a.css", old, file, present);
        assert_eq!(siblings.get(b"a.css", old, &file), Some(present));
        assert_eq!(siblings.get(b"b.css", old, &file), None);
        // The folder changed (a sibling added or removed), or the file did.
        assert_eq!(
            siblings.get(b"a.css", Stamp::made_up(7, 1_001), &file),
            None
        );
        assert_eq!(
            siblings.get(b"a.css", Stamp::made_up(8, 1_000), &file),
            None
        );
        let edited = Meta { len: 11, ..file };
        assert_eq!(siblings.get(b"a.css", old, &edited), None);
        // A folder changed just now is not remembered (its next change may keep the stamp).
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let recent = Stamp::made_up(9, i64::try_from(now).unwrap());
        assert!(!recent.settled() && old.settled());
        siblings.put(b"c.css", recent, file, present);
        assert_eq!(siblings.get(b"c.css", recent, &file), None);
    }
}
