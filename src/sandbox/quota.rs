//! The size cap of a `--tmpfs`: what it holds is counted as the host
//! allocates it, so the program cannot put more than `size=` bytes on the
//! host's disk however it writes (write, pwrite, truncate, fallocate,
//! copy_file_range, sendfile).
//!
//! Every inode in a tmpfs was made by the program (it starts empty, and
//! rename and link across mounts are EXDEV), so the quota knows each one:
//! its allocated bytes (`st_blocks * 512`, measured on the host after every
//! change), whether a name still links it, and how many guest descriptors
//! hold it open. An inode's bytes are given back when its last name is gone
//! and its last descriptor closed, as on Linux. Before a change, the bytes
//! it may add are checked against what is left ([`Quota::room`]); a
//! write's allocation can exceed its length by at most two blocks, kept as
//! slack, so the cap holds to within [`SLACK`] bytes.
//!
//! Inodes are capped too (one per [`BYTES_PER_INODE`] of size, as Linux's
//! tmpfs `nr_inodes` default scales with memory), so empty files cannot
//! fill the host's inode table.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::Arc;

use rustix::io::Errno;

/// What a write may allocate beyond its own length (partial blocks at both
/// ends).
pub const SLACK: u64 = 8192;
/// One inode allowed per this many bytes of size (at least 64).
pub const BYTES_PER_INODE: u64 = 4096;

#[derive(Debug, Default)]
struct Inode {
    bytes: u64,
    open: u32,
    linked: bool,
}

#[derive(Debug, Default)]
struct Inner {
    used: u64,
    inodes: HashMap<u64, Inode>,
}

/// One tmpfs's accounting.
#[derive(Debug)]
pub struct Quota {
    cap: u64,
    max_inodes: usize,
    inner: parking_lot::Mutex<Inner>,
}

fn allocated(st: &rustix::fs::Stat) -> u64 {
    u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512)
}

impl Quota {
    pub fn new(cap: u64) -> Self {
        Self {
            cap,
            max_inodes: usize::try_from((cap / BYTES_PER_INODE).max(64)).unwrap_or(usize::MAX),
            inner: parking_lot::Mutex::default(),
        }
    }

    /// The size it was given (--tmpfs size=).
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// The inodes it may hold, and those it holds now.
    pub fn inodes(&self) -> (u64, u64) {
        (
            self.max_inodes as u64,
            self.inner.lock().inodes.len() as u64,
        )
    }

    /// The bytes in use now.
    pub fn used(&self) -> u64 {
        self.inner.lock().used
    }

    /// How many of `want` bytes may be written now: all of them, fewer
    /// (a short write), or ENOSPC when none may.
    pub fn room(&self, want: u64) -> Result<u64, Errno> {
        let left = self
            .cap
            .saturating_sub(self.inner.lock().used)
            .saturating_sub(SLACK);
        if want > 0 && left == 0 {
            return Err(Errno::NOSPC);
        }
        Ok(want.min(left))
    }

    /// Whether a new inode may be made (checked before the host call).
    pub fn may_create(&self) -> Result<(), Errno> {
        if self.inner.lock().inodes.len() >= self.max_inodes {
            return Err(Errno::NOSPC);
        }
        self.room(1).map(|_| ())
    }

    /// Account for what `fd` (an inode of this tmpfs) holds now: after it
    /// was made or changed.
    pub fn update(&self, fd: impl AsFd) {
        if let Ok(st) = rustix::fs::fstat(fd) {
            self.account(&st);
        }
    }

    /// Record `st`'s inode as holding what `st` says it allocates.
    fn account(&self, st: &rustix::fs::Stat) {
        let mut inner = self.inner.lock();
        let now = allocated(st);
        let ino = inner.inodes.entry(st.st_ino).or_insert(Inode {
            linked: true,
            ..Default::default()
        });
        let before = std::mem::replace(&mut ino.bytes, now);
        inner.used = inner.used.saturating_sub(before).saturating_add(now);
    }

    /// A guest descriptor now holds inode `ino`; dropping the hold lets go.
    pub fn hold(self: &Arc<Self>, fd: impl AsFd) -> Option<Hold> {
        let st = rustix::fs::fstat(&fd).ok()?;
        self.account(&st);
        let mut inner = self.inner.lock();
        inner.inodes.get_mut(&st.st_ino)?.open += 1;
        Some(Hold {
            quota: self.clone(),
            ino: st.st_ino,
        })
    }

    /// Inode `ino` lost a name; `nlink` is its link count before that.
    pub fn unlinked(&self, ino: u64, nlink: u64) {
        let mut inner = self.inner.lock();
        if nlink <= 1 {
            if let Some(i) = inner.inodes.get_mut(&ino) {
                i.linked = false;
            }
            Self::release(&mut inner, ino);
        }
    }

    fn release(inner: &mut Inner, ino: u64) {
        let gone = inner
            .inodes
            .get(&ino)
            .is_some_and(|i| !i.linked && i.open == 0);
        if gone {
            if let Some(i) = inner.inodes.remove(&ino) {
                inner.used = inner.used.saturating_sub(i.bytes);
            }
        }
    }
}

/// A guest descriptor's hold on a tmpfs inode.
#[derive(Debug)]
pub struct Hold {
    quota: Arc<Quota>,
    ino: u64,
}

impl Hold {
    pub fn quota(&self) -> &Quota {
        &self.quota
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut inner = self.quota.inner.lock();
        if let Some(i) = inner.inodes.get_mut(&self.ino) {
            i.open = i.open.saturating_sub(1);
        }
        Quota::release(&mut inner, self.ino);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_back_when_the_last_name_and_descriptor_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let q = Arc::new(Quota::new(1 << 20));
        let f = std::fs::File::create(dir.path().join("a")).unwrap();
        std::io::Write::write_all(&mut &f, &[1u8; 100_000]).unwrap();
        let hold = q.hold(&f).unwrap();
        assert!(q.used() >= 100_000);
        let ino = rustix::fs::fstat(&f).unwrap().st_ino;
        q.unlinked(ino, 1);
        assert!(q.used() >= 100_000, "still open");
        drop(hold);
        assert_eq!(q.used(), 0);
        assert_eq!(q.room(2 << 20).unwrap(), (1 << 20) - SLACK);
    }

    #[test]
    fn a_full_quota_is_enospc() {
        let q = Quota::new(SLACK + 10);
        assert_eq!(q.room(100), Ok(10));
        let q = Quota::new(SLACK);
        assert_eq!(q.room(1), Err(Errno::NOSPC));
        assert_eq!(q.room(0), Ok(0));
    }
}
