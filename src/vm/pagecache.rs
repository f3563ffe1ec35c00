//! One read-only copy of each file page that programs map privately and
//! read-only (the code and read-only data of the C library and ld.so's
//! other libraries): a frame keyed by the host file's identity and the
//! page's offset, shared by every mapping of it (PROCESSES.md 10).
//!
//! The cache holds one owner count on each of its frames; a mapping that
//! uses one shares it (`FrameAllocator::share`), so its entry is
//! read-only with the COW bit (`mm::private_leaf`) and the first write,
//! the program's or a syscall's, copies it. A file that changes (its size
//! or modification time) has new keys; the old entries age out. The cache
//! keeps at most a quarter of the pool, oldest first out, and gives back
//! every frame no mapping uses when memory runs short (`reclaim`).

use std::collections::{HashMap, VecDeque};
use std::os::fd::BorrowedFd;

use super::layout::{Gpa, PAGE_SIZE};
use super::memory::{FrameAllocator, GuestRam};

/// A host file as it is now: device, inode, size, modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

impl FileKey {
    pub fn of(fd: BorrowedFd<'_>) -> Option<Self> {
        let st = rustix::fs::fstat(fd).ok()?;
        // Only regular files: a device or a pipe has no stable pages.
        if !rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() {
            return None;
        }
        Some(Self {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec as i64),
        })
    }
}

/// The cached pages.
#[derive(Debug, Default)]
pub struct PageCache {
    pages: HashMap<(FileKey, u64), Gpa>,
    /// Insertion order, for eviction.
    order: VecDeque<(FileKey, u64)>,
    /// Frames it may hold (a quarter of the pool).
    cap: usize,
    /// Lookups that found the page / did not.
    pub hits: u64,
    pub misses: u64,
}

impl PageCache {
    pub fn new(pool_frames: u64) -> Self {
        Self {
            cap: (pool_frames / 4) as usize,
            ..Self::default()
        }
    }

    /// The frame holding page `off` of `file`, with one more owner for the
    /// caller's mapping.
    pub fn get(&mut self, frames: &FrameAllocator, file: FileKey, off: u64) -> Option<Gpa> {
        match self.pages.get(&(file, off)) {
            Some(&f) if frames.share(f) => {
                self.hits += 1;
                Some(f)
            }
            _ => {
                self.misses += 1;
                None
            }
        }
    }

    /// Keep `frame` (just filled with page `off` of `file`, mapped by the
    /// caller) as that page: the cache becomes an owner of it too. False
    /// when it cannot (the page is cached already, the count is full).
    pub fn insert(
        &mut self,
        ram: &GuestRam,
        frames: &FrameAllocator,
        file: FileKey,
        off: u64,
        frame: Gpa,
    ) -> bool {
        if self.cap == 0 || self.pages.contains_key(&(file, off)) || !frames.share(frame) {
            return false;
        }
        while self.pages.len() >= self.cap {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(f) = self.pages.remove(&old) {
                Self::put(ram, frames, f);
            }
        }
        self.pages.insert((file, off), frame);
        self.order.push_back((file, off));
        true
    }

    /// Give back every frame only the cache holds (memory is short).
    /// How many went.
    pub fn reclaim(&mut self, ram: &GuestRam, frames: &FrameAllocator) -> usize {
        let unused: Vec<(FileKey, u64)> = self
            .pages
            .iter()
            .filter(|(_, &f)| frames.refs(f) <= 1)
            .map(|(k, _)| *k)
            .collect();
        for k in &unused {
            if let Some(f) = self.pages.remove(k) {
                Self::put(ram, frames, f);
            }
        }
        self.order.retain(|k| self.pages.contains_key(k));
        unused.len()
    }

    fn put(ram: &GuestRam, frames: &FrameAllocator, f: Gpa) {
        if frames.put(f) && ram.zero(f, PAGE_SIZE) {
            frames.free(f);
        }
    }

    /// Frames it holds.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}
