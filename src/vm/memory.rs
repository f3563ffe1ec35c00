//! Guest RAM and the guest-physical frame allocator.
//!
//! RAM is one vm-memory region at GPA 0, mapped anonymous and `MAP_NORESERVE`
//! by vm-memory, so the host commits a page only when the guest (or the host on
//! its behalf) touches it. All access goes through vm-memory's bounds-checked
//! `Bytes` API; nothing here hands out a `&[u8]` over guest RAM.

use thiserror::Error;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use super::layout::{Gpa, FRAME_POOL_START, MIN_MEM_SIZE, PAGE_SIZE};

#[derive(Debug, Error)]
pub enum MemoryError {
    #[error(
        "guest memory size {0} bytes is below the minimum of {MIN_MEM_SIZE} or not page-aligned"
    )]
    BadSize(u64),
    #[error("cannot allocate {size} bytes of guest memory")]
    Allocate {
        size: u64,
        #[source]
        source: vm_memory::mmap::FromRangesError,
    },
}

/// Guest RAM: `[0, size)`. A clone is another handle to the same memory.
#[derive(Clone)]
pub struct GuestRam {
    mem: GuestMemoryMmap,
    size: u64,
}

impl GuestRam {
    pub fn new(size: u64) -> Result<Self, MemoryError> {
        if size < MIN_MEM_SIZE || size % PAGE_SIZE != 0 || usize::try_from(size).is_err() {
            return Err(MemoryError::BadSize(size));
        }
        let len = usize::try_from(size).map_err(|_| MemoryError::BadSize(size))?;
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), len)])
            .map_err(|source| MemoryError::Allocate { size, source })?;
        // 4 KiB host pages behind guest RAM, even where the host's THP is
        // "always": a host huge page would commit 2 MiB at a program's
        // first touch of one page. Runs for large anonymous mappings get
        // huge pages back (`FrameAllocator::alloc_huge`).
        if let Ok(host) = mem.get_host_address(GuestAddress(0)) {
            // SAFETY: [host, host+len) is the anonymous private mapping
            // vm-memory just made for guest RAM; MADV_NOHUGEPAGE only
            // changes how the host backs it, never its contents or
            // protection.
            unsafe { libc::madvise(host.cast(), len, libc::MADV_NOHUGEPAGE) };
        }
        Ok(Self { mem, size })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// Host address of GPA 0 and the length, for KVM_SET_USER_MEMORY_REGION.
    pub fn host_base(&self) -> Option<u64> {
        self.mem
            .get_host_address(GuestAddress(0))
            .ok()
            .map(|p| p as u64)
    }

    /// Does `[gpa, gpa+len)` lie inside RAM?
    pub fn contains(&self, gpa: Gpa, len: u64) -> bool {
        gpa.checked_add(len).is_some_and(|end| end <= self.size)
    }

    pub fn read(&self, gpa: Gpa, buf: &mut [u8]) -> bool {
        self.mem.read_slice(buf, GuestAddress(gpa)).is_ok()
    }

    pub fn write(&self, gpa: Gpa, buf: &[u8]) -> bool {
        self.mem.write_slice(buf, GuestAddress(gpa)).is_ok()
    }

    pub fn read_u64(&self, gpa: Gpa) -> Option<u64> {
        self.mem.read_obj::<u64>(GuestAddress(gpa)).ok()
    }

    pub fn write_u64(&self, gpa: Gpa, val: u64) -> bool {
        self.mem.write_obj(val, GuestAddress(gpa)).is_ok()
    }

    /// Replace the aligned u32 at `gpa` by `f(old)` in one atomic step, as
    /// a locked instruction of the guest would (a futex word another vCPU
    /// may change meanwhile with `lock cmpxchg`); the old value. `None` if
    /// `gpa` is not a 4-aligned word of RAM.
    pub fn update_u32(&self, gpa: Gpa, f: impl Fn(u32) -> u32) -> Option<u32> {
        if gpa % 4 != 0 || !self.contains(gpa, 4) {
            return None;
        }
        let host = self.mem.get_host_address(GuestAddress(gpa)).ok()?;
        // SAFETY: `host` points at 4 bytes inside vm-memory's mapping of
        // guest RAM (checked above), which lives as long as `self`; it is
        // 4-aligned because the mapping is page-aligned and `gpa` is. The
        // host touches guest RAM only through copies and this atomic, and
        // the guest's own accesses are the CPU's, so an atomic view of the
        // word is sound.
        let word = unsafe { std::sync::atomic::AtomicU32::from_ptr(host.cast()) };
        word.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |v| Some(f(v)),
        )
        .ok()
    }

    /// The aligned u32 at `gpa` as an atomic, shared with the guest's own
    /// accesses (the exitless gate's slot words); `None` if `gpa` is not a
    /// 4-aligned word of RAM.
    pub fn atomic_u32(&self, gpa: Gpa) -> Option<&std::sync::atomic::AtomicU32> {
        if gpa % 4 != 0 || !self.contains(gpa, 4) {
            return None;
        }
        let host = self.mem.get_host_address(GuestAddress(gpa)).ok()?;
        // SAFETY: as in `update_u32`: 4 aligned bytes inside the mapping of
        // guest RAM, which lives as long as `self` (the reference's
        // lifetime); the guest's accesses are the CPU's own, so an atomic
        // view of the word is sound.
        Some(unsafe { std::sync::atomic::AtomicU32::from_ptr(host.cast()) })
    }

    /// Zero `len` bytes at `gpa`, returning the host memory behind them where
    /// the range covers whole pages (MADV_DONTNEED on an anonymous private
    /// mapping reads back as zeros).
    pub fn zero(&self, gpa: Gpa, len: u64) -> bool {
        if !self.contains(gpa, len) {
            return false;
        }
        if gpa % PAGE_SIZE == 0 && len % PAGE_SIZE == 0 && len > 0 {
            if let Ok(host) = self.mem.get_host_address(GuestAddress(gpa)) {
                // SAFETY: [host, host+len) lies inside the single anonymous
                // private mapping vm-memory made for [0, size) (checked by
                // `contains` above); MADV_DONTNEED on it only drops pages, which
                // then read back as zeros. No Rust reference to this memory
                // exists: all access goes through vm-memory's volatile copies.
                let rc = unsafe { libc::madvise(host.cast(), len as usize, libc::MADV_DONTNEED) };
                if rc == 0 {
                    return true;
                }
            }
        }
        let zeros = [0u8; PAGE_SIZE as usize];
        let mut off = 0;
        while off < len {
            let n = (len - off).min(PAGE_SIZE);
            if !self.write(gpa + off, &zeros[..n as usize]) {
                return false;
            }
            off += n;
        }
        true
    }
}

impl GuestRam {
    /// `populate`, for frames kvmcage is about to fill: one host page
    /// fault per 4 KiB page costs several microseconds under nested
    /// virtualization. Best effort: a kernel without it leaves the faults
    /// to the copy.
    pub fn prefault(&self, gpa: Gpa, len: u64) {
        let _ = self.populate(gpa, len);
    }

    /// Commit host memory for `[gpa, gpa+len)` now (MADV_POPULATE_WRITE),
    /// so the guest's first touch finds it there. False if not whole pages
    /// of RAM or the host refused (ENOMEM: its memory is short).
    pub fn populate(&self, gpa: Gpa, len: u64) -> bool {
        if !self.contains(gpa, len) || gpa % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
            return false;
        }
        let Ok(host) = self.mem.get_host_address(GuestAddress(gpa)) else {
            return false;
        };
        // SAFETY: [host, host+len) lies inside vm-memory's anonymous private
        // read-write mapping of guest RAM (checked by `contains`);
        // MADV_POPULATE_WRITE faults its pages in without changing their
        // contents (a page already there is kept as it is).
        unsafe { libc::madvise(host.cast(), len as usize, libc::MADV_POPULATE_WRITE) == 0 }
    }

    /// Make KVM forget every translation it cached to the frames in
    /// `[gpa, gpa+len)`, keeping their contents: a protection round trip on
    /// the host mapping fires KVM's MMU notifier, which zaps the shadow
    /// (kvm_pvm) or EPT/NPT entries that map these frames on every vCPU.
    /// Needed after the host downgrades a guest PTE, because KVM's shadow
    /// MMU does not see host writes to guest page tables.
    ///
    /// The round trip adds PROT_EXEC and takes it away again, so it never
    /// takes read or write permission from the mapping: another vCPU
    /// writing any page of the range meanwhile goes on (a read-only round
    /// trip would make its KVM_RUN fail with EFAULT; PROCESSES.md 4,
    /// measured on kvm_pvm). The seccomp filter allows PROT_EXEC in
    /// mprotect for this range only (`ram_range`).
    pub fn drop_cached_translations(&self, gpa: Gpa, len: u64) -> bool {
        if !self.contains(gpa, len) || gpa % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
            return false;
        }
        let (Ok(host), Some(base)) = (
            self.mem.get_host_address(GuestAddress(gpa)),
            self.host_base(),
        ) else {
            return false;
        };
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        toggle_pieces(host as u64, len, base + self.size).all(|(at, n)| {
            // SAFETY: [at, at+n) lies inside vm-memory's anonymous mapping
            // of guest RAM (checked above), whose protection is read-write;
            // the first call only adds execute permission (nothing on the
            // host jumps into guest RAM), the second restores read-write,
            // so no access of the host or of a running vCPU is refused
            // meanwhile.
            unsafe {
                libc::mprotect(at as *mut libc::c_void, n as usize, rw | libc::PROT_EXEC) == 0
                    && libc::mprotect(at as *mut libc::c_void, n as usize, rw) == 0
            }
        })
    }
}

/// The largest piece the MMU-notifier round trip toggles at once.
pub const TOGGLE_MAX: u64 = 2 << 20;

/// The piece sizes seccomp allows the toggle (confine::seccomp_filters):
/// TOGGLE_MAX, an eighth of that, ... down to a page (2 MiB, 256 KiB,
/// 32 KiB, 4 KiB: few rules, so the filter stays short to load). A piece
/// of size at most `step` may start no later than `step` bytes before the
/// end of its range, so it never reaches past that end (a BPF filter
/// cannot add two arguments to check that itself).
pub fn toggle_steps() -> impl Iterator<Item = u64> {
    std::iter::successors(Some(TOGGLE_MAX), |&s| (s > PAGE_SIZE).then_some(s / 8))
}

/// `[start, start+len)`, inside an allowed range that ends at `end`, in
/// pieces the filter's ladder allows (`toggle_steps`). All three are page
/// multiples.
pub fn toggle_pieces(start: u64, len: u64, end: u64) -> impl Iterator<Item = (u64, u64)> {
    let stop = start + len;
    let mut at = start;
    std::iter::from_fn(move || {
        if at >= stop {
            return None;
        }
        let room = end.saturating_sub(at);
        let step = toggle_steps().find(|&s| s <= room).unwrap_or(PAGE_SIZE);
        let n = step.min(stop - at);
        let piece = (at, n);
        at += n;
        Some(piece)
    })
}

impl GuestRam {
    /// Does the host hold the frame at `gpa` in memory (has it been
    /// touched)? Answered by mincore(2) on the host mapping.
    pub fn resident(&self, gpa: Gpa) -> bool {
        if !self.contains(gpa, PAGE_SIZE) || gpa % PAGE_SIZE != 0 {
            return false;
        }
        let Ok(host) = self.mem.get_host_address(GuestAddress(gpa)) else {
            return false;
        };
        let mut v = 0u8;
        // SAFETY: [host, host+4096) is one page of vm-memory's mapping of
        // guest RAM (checked above); mincore only writes one byte to `v`.
        let rc = unsafe { libc::mincore(host.cast(), PAGE_SIZE as usize, &mut v) };
        rc == 0 && v & 1 != 0
    }
}

/// Call `f(start, len)` for each run of contiguous frames in `frames`
/// (which it sorts).
pub fn for_each_run(frames: &mut [Gpa], mut f: impl FnMut(Gpa, u64)) {
    frames.sort_unstable();
    let mut i = 0;
    while i < frames.len() {
        let mut j = i + 1;
        while j < frames.len() && frames[j] == frames[j - 1] + PAGE_SIZE {
            j += 1;
        }
        f(frames[i], (j - i) as u64 * PAGE_SIZE);
        i = j;
    }
}

/// Hands out 4 KiB frames from `[FRAME_POOL_START, size)`: a bump pointer
/// for never-used frames (which are still zero and uncommitted on the host)
/// and a free list for returned ones (zeroed when they come back). Each
/// frame has an owner count, so that processes can share a page after
/// fork until one of them writes it.
///
/// It locks itself (every method takes `&self`): `uaccess`, which only
/// borrows the machine, breaks a copy-on-write share when the host writes
/// to a program's page. The lock is a leaf: nothing is taken under it.
pub struct FrameAllocator {
    end: Gpa,
    pool: parking_lot::Mutex<Pool>,
    /// Host address of GPA 0, when it is 2 MiB-aligned (so a 2 MiB run of
    /// frames is one host huge page): `alloc_huge` hands out runs.
    huge_base: Option<u64>,
}

/// A run of frames `alloc_huge` hands out: one host huge page.
pub const HUGE_RUN: u64 = 2 << 20;

struct Pool {
    next: Gpa,
    /// Free frames, most recently freed last. An entry whose frame has an
    /// owner again is stale (`alloc_huge` took it with its run) and is
    /// skipped when popped; `listed` keeps each frame in it at most once.
    free: Vec<Gpa>,
    /// Which frames have an entry in `free`.
    listed: Vec<bool>,
    /// Frames in `free` that are really free (its length less the stale).
    nfree: u64,
    /// Free frames in `free` of each 2 MiB run (GPA / HUGE_RUN).
    run_free: Vec<u16>,
    /// Runs all of whose frames are free, for `alloc_huge` (checked again
    /// when taken); `in_whole` keeps each in it at most once.
    whole: Vec<Gpa>,
    in_whole: Vec<bool>,
    /// Free frames that were ever page tables: for data only, never a
    /// table again (see `alloc_table`).
    retired: Vec<Gpa>,
    /// Which frames were ever page tables.
    was_table: Vec<bool>,
    /// An allocation was refused because the pool (--mem) ran out.
    refused: bool,
    /// Frames counted as used by memory outside the pool (shared
    /// anonymous memory and SysV segments live in host memfds).
    charged: u64,
    /// Owners of each pool frame: 0 free, 1 for most, more for a page
    /// that processes share after fork until one writes it.
    refs: Vec<u16>,
    /// The 2 MiB runs (by GPA / HUGE_RUN) handed out whole by
    /// `alloc_huge` whose host memory is advised MADV_HUGEPAGE; the advice
    /// goes when one of their frames is freed.
    huge: Vec<bool>,
    /// The most frames handed out at once so far (`peak`).
    peak_used: u64,
}

impl Pool {
    /// Frames handed out now: those the bump pointer passed, less the free.
    fn used(&self) -> u64 {
        ((self.next - FRAME_POOL_START) / PAGE_SIZE)
            .saturating_sub(self.nfree + self.retired.len() as u64)
    }

    fn note_use(&mut self) {
        self.peak_used = self.peak_used.max(self.used());
    }

    fn available(&self, end: Gpa) -> u64 {
        ((end - self.next) / PAGE_SIZE + self.nfree + self.retired.len() as u64)
            .saturating_sub(self.charged)
    }

    /// Put free frame `f` (pool slot `i`) on the free list.
    fn push_free(&mut self, f: Gpa, i: usize) {
        if !self.listed[i] {
            self.free.push(f);
            self.listed[i] = true;
        }
        self.nfree += 1;
        let run = (f / HUGE_RUN) as usize;
        if let Some(n) = self.run_free.get_mut(run) {
            *n += 1;
            if u64::from(*n) == HUGE_RUN / PAGE_SIZE && !self.in_whole[run] {
                self.in_whole[run] = true;
                self.whole.push(run as u64 * HUGE_RUN);
            }
        }
    }

    /// The most recently freed frame, off the free list.
    fn pop_free(&mut self, slot: impl Fn(Gpa) -> Option<usize>) -> Option<Gpa> {
        while let Some(f) = self.free.pop() {
            let Some(i) = slot(f) else { continue };
            self.listed[i] = false;
            if self.refs[i] != 0 {
                continue; // taken with its run since
            }
            self.nfree -= 1;
            if let Some(n) = self.run_free.get_mut((f / HUGE_RUN) as usize) {
                *n -= 1;
            }
            return Some(f);
        }
        None
    }
}

impl FrameAllocator {
    pub fn new(ram_size: u64) -> Self {
        let frames = (ram_size.saturating_sub(FRAME_POOL_START) / PAGE_SIZE) as usize;
        let runs = ram_size.div_ceil(HUGE_RUN) as usize;
        Self {
            end: ram_size,
            pool: parking_lot::Mutex::new(Pool {
                next: FRAME_POOL_START,
                free: Vec::new(),
                retired: Vec::new(),
                was_table: vec![false; frames],
                refused: false,
                charged: 0,
                refs: vec![0; frames],
                listed: vec![false; frames],
                nfree: 0,
                run_free: vec![0; runs],
                whole: Vec::new(),
                in_whole: vec![false; runs],
                huge: vec![false; runs],
                peak_used: 0,
            }),
            huge_base: None,
        }
    }

    /// Hand out 2 MiB runs (`alloc_huge`) of `ram`, if its host mapping
    /// is 2 MiB-aligned (else every frame comes alone).
    pub fn with_huge_runs(mut self, ram: &GuestRam) -> Self {
        self.huge_base = ram.host_base().filter(|b| b % HUGE_RUN == 0);
        self
    }

    /// Advise the host memory of run `run` (its first GPA) huge or not.
    fn advise(&self, run: Gpa, huge: bool) {
        let Some(base) = self.huge_base else {
            return;
        };
        if run % HUGE_RUN != 0 || run.checked_add(HUGE_RUN).is_none_or(|e| e > self.end) {
            return;
        }
        let advice = if huge {
            libc::MADV_HUGEPAGE
        } else {
            libc::MADV_NOHUGEPAGE
        };
        // SAFETY: [base+run, base+run+2 MiB) lies inside the host mapping of
        // guest RAM (checked against `end`, the RAM size, above);
        // MADV_(NO)HUGEPAGE only changes how the host backs it, never its
        // contents or protection.
        unsafe { libc::madvise((base + run) as *mut libc::c_void, HUGE_RUN as usize, advice) };
    }

    /// 512 zeroed frames, contiguous and 2 MiB-aligned, each with one
    /// owner, for a large anonymous mapping: their host memory becomes a
    /// transparent huge page at the first touch, so the program's first
    /// touches cost a kvm_pvm shadow fault each instead of that plus a
    /// host page fault (touch 256 MiB: 1.7 s -> 0.15 s). A run whose
    /// frames have all been freed first (their free-list entries go stale),
    /// else memory never handed out (the frames skipped to align go to the
    /// free list); `None` when there is no such run or no host support.
    pub fn alloc_huge(&self) -> Option<Gpa> {
        self.huge_base?;
        let n = HUGE_RUN / PAGE_SIZE;
        let mut p = self.pool.lock();
        if p.available(self.end) < n {
            return None;
        }
        let mut start = None;
        while let Some(run) = p.whole.pop() {
            let r = (run / HUGE_RUN) as usize;
            p.in_whole[r] = false;
            if u64::from(p.run_free[r]) == n {
                p.run_free[r] = 0;
                p.nfree -= n;
                start = Some(run);
                break;
            }
        }
        let start = match start {
            Some(s) => s,
            None => {
                let start = p.next.checked_next_multiple_of(HUGE_RUN)?;
                if start.checked_add(HUGE_RUN).is_none_or(|e| e > self.end) {
                    return None;
                }
                while p.next < start {
                    let f = p.next;
                    p.next += PAGE_SIZE;
                    if let Some(i) = self.slot(f) {
                        p.push_free(f, i);
                    }
                }
                p.next = start + HUGE_RUN;
                start
            }
        };
        for f in (start..start + HUGE_RUN).step_by(PAGE_SIZE as usize) {
            if let Some(i) = self.slot(f) {
                p.refs[i] = 1;
            }
        }
        p.huge[(start / HUGE_RUN) as usize] = true;
        p.note_use();
        drop(p);
        self.advise(start, true);
        Some(start)
    }

    fn slot(&self, frame: Gpa) -> Option<usize> {
        self.is_pool_frame(frame)
            .then(|| ((frame - FRAME_POOL_START) / PAGE_SIZE) as usize)
    }

    /// A zeroed frame with one owner for data, or `None` when RAM is
    /// exhausted. Frames that were page tables are handed out first.
    pub fn alloc(&self) -> Option<Gpa> {
        self.take(false)
    }

    /// A zeroed frame for a page table: one that never was one before.
    ///
    /// kvm_pvm's shadow MMU keeps its shadow of a guest page table, keyed
    /// by the table's frame, after the host freed the table (host writes
    /// to guest tables are invisible to it). A freed table frame reused as
    /// a table of another address space would bring that stale shadow back
    /// (another process's translations); reused for data it is harmless
    /// (KVM drops a shadow whose frame the guest writes as data).
    pub fn alloc_table(&self) -> Option<Gpa> {
        self.take(true)
    }

    fn take(&self, table: bool) -> Option<Gpa> {
        let mut p = self.pool.lock();
        if p.available(self.end) == 0 {
            p.refused = true;
            return None;
        }
        let retired = if table { None } else { p.retired.pop() };
        let f = match retired.or_else(|| p.pop_free(|f| self.slot(f))) {
            Some(f) => f,
            None => {
                if p.next.checked_add(PAGE_SIZE).is_none_or(|n| n > self.end) {
                    p.refused = true;
                    return None;
                }
                p.next += PAGE_SIZE;
                p.next - PAGE_SIZE
            }
        };
        if let Some(i) = self.slot(f) {
            p.refs[i] = 1;
            p.was_table[i] |= table;
        }
        p.note_use();
        Some(f)
    }

    /// Return a frame nobody else owns. The caller must have zeroed it
    /// (see `GuestRam::zero`).
    pub fn free(&self, frame: Gpa) {
        debug_assert!(frame >= FRAME_POOL_START && frame < self.end && frame % PAGE_SIZE == 0);
        let Some(i) = self.slot(frame) else {
            return;
        };
        let mut p = self.pool.lock();
        debug_assert!(p.refs[i] <= 1, "freeing a shared frame");
        p.refs[i] = 0;
        if p.was_table[i] {
            p.retired.push(frame);
        } else {
            p.push_free(frame, i);
        }
        // A frame of a huge run goes back alone: the run's host memory is
        // 4 KiB pages again, lest reusing the frame commit 2 MiB.
        let run = (frame / HUGE_RUN) as usize;
        if p.huge.get(run).copied().unwrap_or(false) {
            p.huge[run] = false;
            drop(p);
            self.advise(run as u64 * HUGE_RUN, false);
        }
    }

    /// How many owners `frame` has (0 for a free or a non-pool frame).
    pub fn refs(&self, frame: Gpa) -> u16 {
        self.slot(frame).map_or(0, |i| self.pool.lock().refs[i])
    }

    /// One more owner of `frame` (a fork's child maps it too); false when
    /// the count is saturated and the caller must copy instead.
    pub fn share(&self, frame: Gpa) -> bool {
        let Some(i) = self.slot(frame) else {
            return false;
        };
        let mut p = self.pool.lock();
        if p.refs[i] > 0 && p.refs[i] < u16::MAX {
            p.refs[i] += 1;
            true
        } else {
            false
        }
    }

    /// One owner lets go of `frame`: true when it was the last, and the
    /// caller zeroes it and `free`s it; false when others still map it.
    pub fn put(&self, frame: Gpa) -> bool {
        let Some(i) = self.slot(frame) else {
            return true;
        };
        let mut p = self.pool.lock();
        if p.refs[i] > 1 {
            p.refs[i] -= 1;
            false
        } else {
            true
        }
    }

    /// Record that a request was refused for want of frames (a caller
    /// that checks `available` up front instead of failing half-way).
    pub fn refuse(&self) {
        self.pool.lock().refused = true;
    }

    /// Was any allocation refused for want of frames?
    pub fn was_refused(&self) -> bool {
        self.pool.lock().refused
    }

    /// Frames still available.
    pub fn available(&self) -> u64 {
        self.pool.lock().available(self.end)
    }

    /// Count `frames` of memory held outside the pool against it; false
    /// (and nothing counted) when the pool cannot spare them.
    pub fn charge(&self, frames: u64) -> bool {
        let mut p = self.pool.lock();
        if p.available(self.end) < frames {
            p.refused = true;
            return false;
        }
        p.charged += frames;
        true
    }

    /// Give back what `charge` counted.
    pub fn uncharge(&self, frames: u64) {
        let mut p = self.pool.lock();
        p.charged = p.charged.saturating_sub(frames);
    }

    /// Frames ever handed out at once, at most: the high-water mark (not
    /// the bump pointer, which also passed the frames `alloc_huge`
    /// skipped to align a run, free for single use).
    pub fn peak(&self) -> u64 {
        self.pool.lock().peak_used
    }

    /// Frames in the pool in all.
    pub fn capacity(&self) -> u64 {
        (self.end - FRAME_POOL_START) / PAGE_SIZE
    }

    /// Is `gpa` a frame this allocator hands out (not a kernel frame)?
    pub fn is_pool_frame(&self, gpa: Gpa) -> bool {
        gpa >= FRAME_POOL_START && gpa < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every toggle piece fits one of seccomp's ladder rules (no more than
    /// a step long, starting at least that step before the range's end),
    /// and the pieces cover the range exactly, near its end too.
    #[test]
    fn toggle_pieces_fit_the_seccomp_ladder() {
        let base = 0x7f00_0000_0000u64;
        let end = base + (64 << 20);
        let cases = [
            (base, 64 << 20),
            (end - PAGE_SIZE, PAGE_SIZE),
            (end - (3 << 20) - 5 * PAGE_SIZE, (3 << 20) + 5 * PAGE_SIZE),
            (base + PAGE_SIZE, 7 * PAGE_SIZE),
        ];
        for (start, len) in cases {
            let mut at = start;
            for (s, n) in toggle_pieces(start, len, end) {
                assert_eq!(s, at);
                assert!(
                    toggle_steps().any(|step| n <= step && s <= end - step),
                    "piece {s:#x}+{n:#x} fits no rule"
                );
                at += n;
            }
            assert_eq!(at, start + len);
        }
    }

    #[test]
    fn allocator_exhausts_and_reuses() {
        let a = FrameAllocator::new(FRAME_POOL_START + 2 * PAGE_SIZE);
        let f1 = a.alloc().unwrap();
        let f2 = a.alloc().unwrap();
        assert_ne!(f1, f2);
        assert_eq!(a.alloc(), None);
        a.free(f1);
        assert_eq!(a.available(), 1);
        assert_eq!(a.alloc(), Some(f1));
    }

    /// `alloc_huge`: an aligned run from memory never handed out, the
    /// frames skipped to align it free for single use, nothing without a
    /// 2 MiB-aligned host mapping or room; a frame of the run freed alone
    /// ends the run's huge advice.
    #[test]
    fn huge_runs_are_aligned_and_fall_back() {
        assert_eq!(FrameAllocator::new(8 << 20).alloc_huge(), None);
        let ram = GuestRam::new(8 << 20).unwrap();
        let a = FrameAllocator::new(ram.size()).with_huge_runs(&ram);
        if ram.host_base().is_none_or(|b| b % HUGE_RUN != 0) {
            assert_eq!(a.alloc_huge(), None);
            return;
        }
        let single = a.alloc().unwrap();
        let before = a.available();
        let run = a.alloc_huge().unwrap();
        assert_eq!(run % HUGE_RUN, 0);
        assert!(run > single);
        assert_eq!(a.available(), before - HUGE_RUN / PAGE_SIZE);
        assert_eq!(a.refs(run), 1);
        assert_eq!(a.refs(run + HUGE_RUN - PAGE_SIZE), 1);
        // The peak counts the frames in use, not those skipped to align.
        assert_eq!(a.peak(), 1 + HUGE_RUN / PAGE_SIZE);
        // The frames between `single` and the run come singly now.
        let next = a.alloc().unwrap();
        assert!(next > single && next < run, "{next:#x}");
        assert!(a.pool.lock().huge[(run / HUGE_RUN) as usize]);
        a.free(run + PAGE_SIZE);
        assert!(!a.pool.lock().huge[(run / HUGE_RUN) as usize]);
        // 8 MiB of RAM: runs at 2, 4 and 6 MiB at most.
        let mut runs = 1;
        while a.alloc_huge().is_some() {
            runs += 1;
        }
        assert!(runs <= 3, "{runs}");
    }

    /// A run whose frames all came back is a run again: its free-list
    /// entries go stale, never handed out singly while it is in use, and
    /// each frame is counted once however often it comes and goes.
    #[test]
    fn freed_runs_are_runs_again_and_counted_once() {
        let ram = GuestRam::new(8 << 20).unwrap();
        let a = FrameAllocator::new(ram.size()).with_huge_runs(&ram);
        let Some(run) = a.alloc_huge() else {
            return; // the host mapping is not 2 MiB-aligned here
        };
        let n = HUGE_RUN / PAGE_SIZE;
        let frames: Vec<Gpa> = (run..run + HUGE_RUN).step_by(PAGE_SIZE as usize).collect();
        let base = a.available();
        for &f in &frames {
            a.free(f);
        }
        assert_eq!(a.available(), base + n);
        // Taken again whole, not from fresh memory.
        let next_before = a.pool.lock().next;
        assert_eq!(a.alloc_huge(), Some(run));
        assert_eq!(a.pool.lock().next, next_before);
        assert_eq!(a.available(), base);
        // Its stale entries are skipped: no single frame of the run comes
        // out while it is in use.
        let mut singles = Vec::new();
        while let Some(f) = a.alloc() {
            assert!(!(run..run + HUGE_RUN).contains(&f), "{f:#x} is in use");
            singles.push(f);
        }
        assert_eq!(a.available(), 0);
        // One frame of the run back: exactly one frame free, handed out
        // once (its stale entry made good, not listed twice).
        a.free(run + 5 * PAGE_SIZE);
        assert_eq!(a.available(), 1);
        assert_eq!(a.alloc(), Some(run + 5 * PAGE_SIZE));
        assert_eq!(a.alloc(), None);
        // A run missing a frame is not whole.
        for &f in frames.iter().filter(|&&f| f != run + 5 * PAGE_SIZE) {
            a.free(f);
        }
        for f in singles {
            a.free(f);
        }
        let whole_before = a.alloc_huge();
        assert_ne!(whole_before, Some(run));
        a.free(run + 5 * PAGE_SIZE);
        assert!(a.alloc_huge().is_some());
    }

    #[test]
    fn shared_frames_are_freed_by_their_last_owner() {
        let a = FrameAllocator::new(FRAME_POOL_START + 2 * PAGE_SIZE);
        let f = a.alloc().unwrap();
        assert_eq!(a.refs(f), 1);
        assert!(a.share(f));
        assert!(!a.put(f), "one owner left");
        assert_eq!(a.refs(f), 1);
        assert!(a.put(f), "the last owner frees it");
        a.free(f);
        assert_eq!(a.refs(f), 0);
        assert!(!a.share(f), "a free frame has no owner to share with");
    }

    #[test]
    fn ram_rejects_out_of_range_access() {
        let ram = GuestRam::new(MIN_MEM_SIZE).unwrap();
        assert!(ram.write_u64(0x2000, 7));
        assert_eq!(ram.read_u64(0x2000), Some(7));
        assert_eq!(ram.read_u64(MIN_MEM_SIZE - 4), None);
        assert!(!ram.contains(u64::MAX, 2));
        assert!(ram.zero(0x2000, PAGE_SIZE));
        assert_eq!(ram.read_u64(0x2000), Some(0));
    }
}
