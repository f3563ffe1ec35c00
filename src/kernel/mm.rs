//! The program's address space: VMAs, brk, mmap/munmap/mprotect/madvise.
//!
//! Guest page tables are the single record of which frame backs which page;
//! the VMA map records what the program asked for. Accessible pages get a
//! frame when they are mapped (the host commits memory only when a page is
//! first touched, because guest RAM is a lazy anonymous mapping). The stack
//! VMA starts 128 KiB below the arguments and grows down on fault (the
//! program's, or a host access's for a call: `StackGrowth`), up to
//! RLIMIT_STACK and never into the guard gap above the mapping below.
//! A PROT_NONE page keeps its frame in a non-present entry, so mprotect back
//! to readable finds the data intact.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use std::os::fd::AsFd;

use rustix::io::Errno;

use super::{Args, Ctx, SysResult};
use crate::vm::layout::{
    is_user_range, page_down, page_up, Gpa, Gva, MMAP_BASE, PAGE_SIZE, STACK_TOP, USER_MIN,
    USER_TOP,
};
use crate::vm::memory::HUGE_RUN;
use crate::vm::paging::{pte, PageTables};
use crate::vm::Machine;

const PROT_READ: u32 = libc::PROT_READ as u32;
const PROT_WRITE: u32 = libc::PROT_WRITE as u32;
const PROT_EXEC: u32 = libc::PROT_EXEC as u32;
const PROT_MASK: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;
/// PROT_GROWSDOWN | PROT_GROWSUP | PROT_SEM are accepted and ignored.
const PROT_ACCEPTED: u32 =
    PROT_MASK | libc::PROT_GROWSDOWN as u32 | libc::PROT_GROWSUP as u32 | 0x8;

/// RLIMIT_STACK (8 MiB) as Linux's default.
pub const STACK_LIMIT: u64 = 8 << 20;
/// Linux's vm.max_map_count default: mappings a process may have.
pub const MAX_MAP_COUNT: usize = 65_530;
/// Bytes of mapped files' names kept for /proc/self/maps; past it a new
/// mapping's name is not kept (its line shows no path).
const FILE_NAMES_BYTES: usize = 8 << 20;
/// How much of the stack is populated before the program starts.
const STACK_INITIAL: u64 = 128 << 10;
/// Pages populated per stack-growth fault.
const STACK_GROW_CHUNK: u64 = 16 * PAGE_SIZE;
/// Linux's stack_guard_gap: the stack grows no closer than this to the
/// mapping below it.
const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// A PT_LOAD segment of the program.
    Image,
    Heap,
    Stack,
    Anon,
    /// A private mapping of /dev/zero: anonymous memory that /proc names
    /// "/dev/zero", as Linux does (its VMA keeps the file).
    DevZero,
    /// The vDSO's code.
    Vdso,
    /// The vDSO's data page.
    Vvar,
    /// A private copy of a file's pages: `name` indexes `Mm::file_names`
    /// (and `Mm::file_handles`, the file itself), `off` is the file offset
    /// at the VMA's start.
    File {
        name: u32,
        off: u64,
    },
    /// A shared mapping: the pages of the host slot at `slot` (a GPA),
    /// from byte `off` of the slot at the VMA's start; `name` indexes
    /// `Mm::file_names`.
    Shared {
        slot: Gpa,
        off: u64,
        name: u32,
    },
}

impl VmaKind {
    /// Anonymous memory, as Linux's vma_is_anonymous: no file behind its
    /// pages (a private /dev/zero mapping included).
    pub fn is_anonymous(self) -> bool {
        matches!(
            self,
            VmaKind::Anon | VmaKind::DevZero | VmaKind::Heap | VmaKind::Stack
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub end: Gva,
    pub prot: u32,
    pub kind: VmaKind,
    /// mlock'ed (Linux's VM_LOCKED). Every accessible page has its frame
    /// from the start here, so this is bookkeeping: RLIMIT_MEMLOCK and
    /// VmLck.
    pub locked: bool,
    /// mseal'ed (Linux's VM_SEALED): no munmap, mremap, mprotect, mmap
    /// over it, nor discarding madvise of its pages when they are
    /// read-only anonymous memory (EPERM).
    pub sealed: bool,
    /// MADV_WIPEONFORK (and MAP_DROPPABLE): a fork's child gets zero
    /// pages here, not the parent's.
    pub wipe_on_fork: bool,
    /// MAP_DROPPABLE: its pages may be dropped (read back as zeros), as
    /// MADV_PAGEOUT does.
    pub droppable: bool,
    /// MADV_DONTFORK: a fork's child does not get this mapping at all.
    pub dont_fork: bool,
}

impl Vma {
    /// This VMA (which starts at `s`) cut to start at `at`: a shared
    /// mapping's offset moves with its start.
    fn starting_at(self, s: Gva, at: Gva) -> Self {
        let mut v = self;
        if let VmaKind::Shared { off, .. } | VmaKind::File { off, .. } = &mut v.kind {
            *off += at - s;
        }
        v
    }

    /// A shared mapping (its pages are a host object's, seen by every
    /// process that maps it).
    pub fn is_shared(&self) -> bool {
        matches!(self.kind, VmaKind::Shared { .. })
    }
}

/// A host file's device and inode.
fn file_id(f: &super::fs::OpenFile) -> Option<(u64, u64)> {
    let st = rustix::fs::fstat(f.host()?).ok()?;
    Some((st.st_dev, st.st_ino))
}

/// The file behind private file mappings (what MADV_DONTNEED reads pages
/// back from), with its identity. Each holds a host descriptor open, so
/// kvmcage keeps at most `MAX_MAPPED_FILES` of them at once; mappings
/// made past that have none (their pages drop to zeros, as before).
#[derive(Debug)]
pub struct MappedFile {
    file: std::sync::Arc<super::fs::OpenFile>,
    id: (u64, u64),
}

/// How many `MappedFile`s kvmcage holds, and at most.
static MAPPED_FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const MAX_MAPPED_FILES: usize = 4096;

impl MappedFile {
    fn new(file: &std::sync::Arc<super::fs::OpenFile>, id: (u64, u64)) -> Option<Self> {
        use std::sync::atomic::Ordering::Relaxed;
        MAPPED_FILES
            .fetch_update(Relaxed, Relaxed, |n| {
                (n < MAX_MAPPED_FILES).then_some(n + 1)
            })
            .ok()?;
        Some(Self {
            file: file.clone(),
            id,
        })
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        MAPPED_FILES.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The leaf for a private page's `frame` under `prot`: writable only
/// while this address space is the frame's one owner. A frame shared since
/// a fork is mapped read-only with `pte::COW`, and the first write copies
/// it (`Mm::fault`, `uaccess`).
fn private_leaf(m: &Machine, frame: Gpa, prot: u32) -> u64 {
    let e = leaf_for(frame, prot);
    if e & pte::WRITABLE != 0 && m.frames().refs(frame) > 1 {
        (e & !pte::WRITABLE) | pte::COW
    } else {
        e
    }
}

/// May a mapping of `kind` take 2 MiB runs of frames, each one host
/// transparent huge page (`FrameAllocator::alloc_huge`)? Anonymous memory
/// and the heap, as Linux with transparent_hugepage "always" gives them
/// huge pages; not a stack (nor MAP_STACK: Linux 6.7+ gives those none).
fn huge_for(kind: VmaKind) -> bool {
    matches!(kind, VmaKind::Anon | VmaKind::DevZero | VmaKind::Heap)
}

/// Is the page whose leaf is `leaf` in memory, as mincore(2), smaps' Rss
/// and pagemap's present bit tell the program: has it a frame the host
/// holds in memory? (Inside a 2 MiB run a first touch brings in the whole
/// run, as a transparent huge page does on Linux.)
pub fn resident(m: &Machine, leaf: u64) -> bool {
    let frame = leaf & pte::ADDR_MASK;
    frame != 0 && (m.ram().resident(frame) || m.shared().resident(frame))
}

/// Leaf entry for `frame` with protection `prot`.
fn leaf_for(frame: Gpa, prot: u32) -> u64 {
    if prot & PROT_MASK == 0 {
        return frame & pte::ADDR_MASK; // not present, frame kept
    }
    let mut e = frame | pte::PRESENT | pte::USER | pte::ACCESSED | pte::DIRTY;
    if prot & PROT_WRITE != 0 {
        e |= pte::WRITABLE;
    }
    if prot & PROT_EXEC == 0 {
        e |= pte::NX;
    }
    e
}

pub struct Mm {
    /// This address space's page tables (its own PML4; the kernel half
    /// is the same in every one).
    pub pt: PageTables,
    /// A vfork child's view of its parent's address space: the same page
    /// tables (what the child writes, the parent sees), a copy of the
    /// mappings. It maps and unmaps nothing (ENOMEM) and is never
    /// destroyed by the child; execve gives the child a space of its own.
    pub borrowed: bool,
    /// The vfork children that borrowed this space (and may still run on
    /// it): when its process ends or execs, the space is handed to one of
    /// them (`task::hand_over`) instead of being destroyed under it.
    pub lent_to: Vec<u32>,
    vmas: BTreeMap<Gva, Vma>,
    /// mlockall(MCL_FUTURE): new mappings are locked.
    pub lock_future: bool,
    /// Guest paths of mapped files, for /proc/self/maps.
    pub file_names: Vec<Vec<u8>>,
    /// The file behind each name of a private file mapping (what
    /// MADV_DONTNEED reads a page back from), as Linux's vm_file holds it.
    file_handles: Vec<Option<std::sync::Arc<MappedFile>>>,
    pub brk_start: Gva,
    pub brk: Gva,
    /// The lowest page a host access made below the stack VMA
    /// (`StackGrowth`), for `settle_stack`; `u64::MAX` when none.
    stack_low: AtomicU64,
}

impl Default for Mm {
    fn default() -> Self {
        Self::new()
    }
}

impl Mm {
    /// The address space on the boot page tables (the first process's).
    pub fn new() -> Self {
        Self::on(PageTables::new(crate::vm::layout::PML4_GPA))
    }

    /// An empty address space on the page tables rooted at `pt`.
    pub fn on(pt: PageTables) -> Self {
        Self {
            pt,
            borrowed: false,
            lent_to: Vec::new(),
            vmas: BTreeMap::new(),
            lock_future: false,
            file_names: Vec::new(),
            file_handles: Vec::new(),
            brk_start: 0,
            brk: 0,
            stack_low: AtomicU64::new(u64::MAX),
        }
    }

    pub fn vmas(&self) -> impl Iterator<Item = (Gva, &Vma)> {
        self.vmas.iter().map(|(s, v)| (*s, v))
    }

    /// The VMA containing `addr`.
    pub fn find(&self, addr: Gva) -> Option<(Gva, Vma)> {
        let (s, v) = self.vmas.range(..=addr).next_back()?;
        (addr < v.end).then_some((*s, *v))
    }

    pub(crate) fn overlaps(&self, start: Gva, end: Gva) -> bool {
        self.vmas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Is every byte of `[start, end)` inside some VMA?
    fn fully_mapped(&self, start: Gva, end: Gva) -> bool {
        let mut cur = start;
        while cur < end {
            match self.find(cur) {
                Some((_, v)) => cur = v.end,
                None => return false,
            }
        }
        true
    }

    /// The index of a mapped file's name (shared by mappings of one name).
    pub(crate) fn file_name(&mut self, name: &[u8]) -> u32 {
        self.file_index(name, None)
    }

    /// The index of a mapped file's name and, for a private file mapping,
    /// the file (shared by mappings of one name and file).
    fn file_index(
        &mut self,
        name: &[u8],
        file: Option<&std::sync::Arc<super::fs::OpenFile>>,
    ) -> u32 {
        let want = file.and_then(|f| file_id(f));
        if let Some(i) = self.find_file(name, want) {
            return i;
        }
        // Amortised: sweep unused names each time the table doubles.
        if self.file_names.len() >= 64 && self.file_names.len().is_power_of_two() {
            self.forget_file_names();
        }
        let bytes: usize = self.file_names.iter().map(Vec::len).sum();
        let name = if bytes + name.len() > FILE_NAMES_BYTES {
            Vec::new()
        } else {
            name.to_vec()
        };
        if let Some(i) = self.find_file(&name, want) {
            return i;
        }
        self.file_names.push(name);
        self.file_handles.resize(self.file_names.len() - 1, None);
        let held = match (file, want) {
            (Some(f), Some(id)) => MappedFile::new(f, id).map(std::sync::Arc::new),
            _ => None,
        };
        self.file_handles.push(held);
        (self.file_names.len() - 1) as u32
    }

    /// The entry of `name` whose file is `id` (device and inode; None for
    /// a name without a file).
    fn find_file(&self, name: &[u8], id: Option<(u64, u64)>) -> Option<u32> {
        (0..self.file_names.len())
            .find(|&i| {
                let held = self.file_handles.get(i).and_then(Option::as_deref);
                self.file_names[i] == name && held.map(|h| h.id) == id
            })
            .map(|i| i as u32)
    }

    /// The file a private file mapping with name index `i` maps.
    fn mapped_file(&self, i: u32) -> Option<std::sync::Arc<super::fs::OpenFile>> {
        let held = self.file_handles.get(i as usize)?.as_ref()?;
        Some(held.file.clone())
    }

    /// Drop the names no mapping uses any more (renumbering the rest), so
    /// the table never outgrows the mappings.
    fn forget_file_names(&mut self) {
        let used: std::collections::BTreeSet<u32> = self
            .vmas
            .values()
            .filter_map(|v| match v.kind {
                VmaKind::File { name: i, .. } | VmaKind::Shared { name: i, .. } => Some(i),
                _ => None,
            })
            .collect();
        if used.len() == self.file_names.len() {
            return;
        }
        let mut renumber = std::collections::BTreeMap::new();
        let old = std::mem::take(&mut self.file_names);
        let mut handles = std::mem::take(&mut self.file_handles);
        handles.resize(old.len(), None);
        for (i, (n, h)) in old.into_iter().zip(handles).enumerate() {
            if used.contains(&(i as u32)) {
                renumber.insert(i as u32, self.file_names.len() as u32);
                self.file_names.push(n);
                self.file_handles.push(h);
            }
        }
        for v in self.vmas.values_mut() {
            if let VmaKind::File { name: i, .. } | VmaKind::Shared { name: i, .. } = &mut v.kind {
                *i = renumber.get(i).copied().unwrap_or(0);
            }
        }
    }

    /// Would cutting VMAs at `start` and `end` (and adding `new` more) pass
    /// vm.max_map_count? Linux refuses such a split or mapping with ENOMEM.
    fn check_count(&self, start: Gva, end: Gva, new: usize) -> Result<(), Errno> {
        let cuts = [start, end]
            .iter()
            .filter(|&&a| self.find(a).is_some_and(|(s, _)| s < a))
            .count();
        if self.vmas.len() + cuts + new > MAX_MAP_COUNT + 1 {
            return Err(Errno::NOMEM);
        }
        Ok(())
    }

    /// The number of VMAs (map_count).
    pub fn count(&self) -> usize {
        self.vmas.len()
    }

    /// Split the VMA containing `addr` so that a VMA starts at `addr`.
    fn split_at(&mut self, addr: Gva) {
        if let Some((s, v)) = self.find(addr) {
            if s < addr {
                self.vmas.insert(s, Vma { end: addr, ..v });
                self.vmas.insert(addr, v.starting_at(s, addr));
            }
        }
    }

    /// A VMA alike in all but its extent to the one just before or after
    /// it becomes one with it (Linux's vma_merge): a region grown in place
    /// by mremap up to its twin shows as one line in /proc/self/maps.
    /// A file's or a slot's offsets must run on from one to the other.
    fn insert(&mut self, start: Gva, vma: Vma) {
        let alike = |a: &Vma, b: &Vma| Vma { end: 0, ..*a } == Vma { end: 0, ..*b };
        let (mut start, mut vma) = (start, vma);
        if let Some((&ps, pv)) = self.vmas.range(..start).next_back() {
            if pv.end == start && alike(&pv.starting_at(ps, start), &vma) {
                (start, vma) = (
                    ps,
                    Vma {
                        end: vma.end,
                        ..*pv
                    },
                );
            }
        }
        if let Some(next) = self.vmas.get(&vma.end).copied() {
            if alike(&next, &vma.starting_at(start, vma.end)) {
                self.vmas.remove(&vma.end);
                vma.end = next.end;
            }
        }
        self.vmas.insert(start, vma);
    }

    /// Give the pages of `[start, end)` frames with protection `prot`
    /// (no frames for PROT_NONE). `huge`: each 2 MiB-aligned stretch takes
    /// a run of frames on one host huge page where the pool has one
    /// (`huge_for`). On failure the pages this call populated are released
    /// again.
    fn populate(
        &mut self,
        m: &mut Machine,
        start: Gva,
        end: Gva,
        prot: u32,
        huge: bool,
    ) -> Result<(), Errno> {
        if prot & PROT_MASK == 0 {
            return Ok(());
        }
        let mut addr = start;
        while addr < end {
            if huge && addr % HUGE_RUN == 0 && end - addr >= HUGE_RUN {
                if let Some(run) = m.frames().alloc_huge() {
                    let mut mapped = 0;
                    while mapped < HUGE_RUN {
                        let (at, frame) = (addr + mapped, run + mapped);
                        if self
                            .pt
                            .set_leaf(m.ram(), m.frames(), at, leaf_for(frame, prot))
                            .is_err()
                        {
                            break;
                        }
                        mapped += PAGE_SIZE;
                    }
                    if mapped < HUGE_RUN {
                        // The run's frames not mapped yet go back as they
                        // are (zero); the rest with the pages before.
                        for f in (run + mapped..run + HUGE_RUN).step_by(PAGE_SIZE as usize) {
                            m.frames().free(f);
                        }
                        self.release(m, start, addr + mapped);
                        return Err(Errno::NOMEM);
                    }
                    addr += HUGE_RUN;
                    continue;
                }
            }
            let ok = match m.alloc_frame() {
                Some(frame) => self
                    .pt
                    .set_leaf(m.ram(), m.frames(), addr, leaf_for(frame, prot))
                    .is_ok(),
                None => false,
            };
            if !ok {
                self.release(m, start, addr);
                return Err(Errno::NOMEM);
            }
            addr += PAGE_SIZE;
        }
        Ok(())
    }

    /// Drop the frames of `[start, end)` and clear their entries.
    fn release(&mut self, m: &mut Machine, start: Gva, end: Gva) {
        let mut freed: Vec<Gpa> = Vec::new();
        let mut shared: Vec<Gpa> = Vec::new();
        let mut addr = start;
        let mut was_present = false;
        loop {
            addr = self.pt.next_covered(m.ram(), addr, end);
            if addr >= end {
                break;
            }
            if let Ok(old) = self.pt.set_leaf(m.ram(), m.frames(), addr, 0) {
                was_present |= old & pte::PRESENT != 0;
                let frame = old & pte::ADDR_MASK;
                if frame != 0 && m.frames().is_pool_frame(frame) {
                    if m.frames().put(frame) {
                        freed.push(frame);
                    } else if old & pte::PRESENT != 0 {
                        // Another process still maps it (since a fork):
                        // only this space's translations go.
                        shared.push(frame);
                    }
                } else if frame != 0 && old & pte::PRESENT != 0 && m.shared().contains(frame) {
                    shared.push(frame);
                }
            }
            addr += PAGE_SIZE;
        }
        if was_present {
            m.invalidate_tlb();
        }
        // KVM must forget this address's translations to slot pages (the
        // slot itself goes once no mapping refers to it: `drop_slots`).
        m.invalidate_frames(&mut shared);
        // Zero the freed frames and give their memory back to the host;
        // MADV_DONTNEED also zaps KVM's cached translations to them.
        let ram = m.ram();
        crate::vm::memory::for_each_run(&mut freed, |gpa, len| {
            ram.zero(gpa, len);
        });
        for f in freed {
            m.frames().free(f);
        }
    }

    /// Make room for one new mapping at `[start, start+len)`: in the user
    /// half, within vm.max_map_count, whatever was there unmapped. Its end.
    fn clear_for_map(&mut self, m: &mut Machine, start: Gva, len: u64) -> Result<Gva, Errno> {
        let end = start.checked_add(len).ok_or(Errno::NOMEM)?;
        if !is_user_range(start, len) {
            return Err(Errno::NOMEM);
        }
        self.check_count(start, end, 1)?;
        self.unmap(m, start, len)?;
        Ok(end)
    }

    /// Map `[start, start+len)` (page-aligned) anew, replacing whatever was
    /// there.
    pub fn map_fixed(
        &mut self,
        m: &mut Machine,
        start: Gva,
        len: u64,
        prot: u32,
        kind: VmaKind,
    ) -> Result<(), Errno> {
        self.map_fixed_as(m, start, len, prot, kind, true)
    }

    /// `map_fixed`; `huge`: false for MAP_STACK (see `huge_for`).
    fn map_fixed_as(
        &mut self,
        m: &mut Machine,
        start: Gva,
        len: u64,
        prot: u32,
        kind: VmaKind,
        huge: bool,
    ) -> Result<(), Errno> {
        let end = self.clear_for_map(m, start, len)?;
        self.populate(m, start, end, prot, huge && huge_for(kind))?;
        let locked = self.lock_future;
        self.insert(
            start,
            Vma {
                end,
                prot,
                kind,
                locked,
                sealed: false,
                wipe_on_fork: false,
                droppable: false,
                dont_fork: false,
            },
        );
        Ok(())
    }

    /// Map `[start, start+len)` anew as the pages of the shared slot at
    /// `slot` from its start, replacing whatever was there.
    pub fn map_shared(
        &mut self,
        m: &mut Machine,
        start: Gva,
        len: u64,
        prot: u32,
        slot: Gpa,
        name: u32,
    ) -> Result<(), Errno> {
        let end = self.clear_for_map(m, start, len)?;
        let v = Vma {
            end,
            prot,
            locked: self.lock_future,
            sealed: false,
            wipe_on_fork: false,
            droppable: false,
            dont_fork: false,
            kind: VmaKind::Shared { slot, off: 0, name },
        };
        self.vmas.insert(start, v);
        if let Err(e) = self.populate_shared(m, start, v, start, end) {
            self.unmap(m, start, len)?;
            return Err(e);
        }
        Ok(())
    }

    /// Point the pages of `[from, to)` of the shared VMA `v` (starting at
    /// `s`) at their slot pages, those the file still covers; pages past
    /// its end stay without an entry (an access is SIGBUS). Pages that
    /// have an entry keep it.
    fn populate_shared(
        &mut self,
        m: &mut Machine,
        s: Gva,
        v: Vma,
        from: Gva,
        to: Gva,
    ) -> Result<(), Errno> {
        let VmaKind::Shared { slot, off, .. } = v.kind else {
            return Ok(());
        };
        let Some(sl) = m.shared().find(slot) else {
            return Err(Errno::NOMEM);
        };
        let size = rustix::fs::fstat(&sl.fd).map_or(0, |st| st.st_size as u64);
        let limit = page_up(size).unwrap_or(u64::MAX);
        let file_off = sl.file_off;
        let mut addr = from;
        while addr < to {
            let in_slot = off + (addr - s);
            if file_off + in_slot >= limit {
                break;
            }
            let gpa = slot + in_slot;
            let old = self.pt.leaf(m.ram(), addr).unwrap_or(0);
            if old & pte::ADDR_MASK == 0
                && self
                    .pt
                    .set_leaf(m.ram(), m.frames(), addr, leaf_for(gpa, v.prot))
                    .is_err()
            {
                return Err(Errno::NOMEM);
            }
            addr += PAGE_SIZE;
        }
        Ok(())
    }

    /// Bytes in locked mappings (VmLck).
    pub fn locked_bytes(&self) -> u64 {
        self.vmas
            .iter()
            .filter(|(_, v)| v.locked)
            .map(|(s, v)| v.end - s)
            .sum()
    }

    /// Set or clear the lock of `[start, end)` (all mapped), splitting
    /// mappings at the edges.
    fn set_locked(&mut self, start: Gva, end: Gva, locked: bool) -> Result<(), Errno> {
        self.set_flags(start, end, |v| v.locked = locked)
    }

    /// Change `[start, end)`'s VMAs (all mapped) with `f`: a VMA that `f`
    /// changes is cut at the range's ends and then becomes one with an
    /// alike neighbour; one it leaves alone is not cut (Linux's
    /// mlock_fixup and madvise_update_vma). ENOMEM past vm.max_map_count.
    fn set_flags(&mut self, start: Gva, end: Gva, f: impl Fn(&mut Vma)) -> Result<(), Errno> {
        self.check_count(start, end, 0)?;
        self.modify(start, end, f);
        Ok(())
    }

    /// `set_flags` without the map-count check.
    fn modify(&mut self, start: Gva, end: Gva, f: impl Fn(&mut Vma)) {
        let lo = self.find(start).map_or(start, |(s, _)| s);
        let inside: Vec<(Gva, Vma)> = self.vmas.range(lo..end).map(|(s, v)| (*s, *v)).collect();
        for (s, v) in inside {
            let mut changed = v;
            f(&mut changed);
            if changed == v {
                continue;
            }
            let (a, e) = (s.max(start), v.end.min(end));
            self.split_at(a);
            self.split_at(e);
            if let Some(mut piece) = self.vmas.remove(&a) {
                f(&mut piece);
                self.insert(a, piece);
            }
        }
    }

    /// Bytes of `[start, end)` not locked yet.
    fn unlocked_in(&self, start: Gva, end: Gva) -> u64 {
        let lo = self.find(start).map_or(start, |(s, _)| s);
        self.vmas
            .range(lo..end)
            .filter(|(_, v)| !v.locked)
            .map(|(s, v)| v.end.min(end).saturating_sub((*s).max(start)))
            .sum()
    }

    /// Is `addr` in a shared mapping but past the end of its file (an
    /// access is SIGBUS, not SIGSEGV)?
    pub fn past_eof(&self, m: &Machine, addr: Gva) -> bool {
        self.find(addr).is_some_and(|(_, v)| {
            v.is_shared()
                && self.pt.leaf(m.ram(), page_down(addr)).unwrap_or(0) & pte::ADDR_MASK == 0
        })
    }

    /// Remove every mapping in `[start, start+len)`: EPERM, and nothing
    /// removed, when one of them is sealed.
    pub fn unmap(&mut self, m: &mut Machine, start: Gva, len: u64) -> Result<(), Errno> {
        let Some(end) = start.checked_add(len) else {
            return Ok(());
        };
        if !self.overlaps(start, end) {
            return Ok(());
        }
        if self.any_sealed(start, end) {
            return Err(Errno::PERM);
        }
        self.check_count(start, end, 0)?;
        self.split_at(start);
        self.split_at(end);
        let inside: Vec<Gva> = self.vmas.range(start..end).map(|(s, _)| *s).collect();
        let mut slots = Vec::new();
        for s in inside {
            if let Some(v) = self.vmas.remove(&s) {
                self.release(m, s, v.end);
                if let VmaKind::Shared { slot, .. } = v.kind {
                    slots.push(slot);
                }
            }
        }
        self.drop_slots(m, slots);
        Ok(())
    }

    /// Does a sealed mapping overlap `[start, end)`?
    pub(crate) fn any_sealed(&self, start: Gva, end: Gva) -> bool {
        self.vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > start)
            .any(|(_, v)| v.sealed)
    }

    /// Is part of `[start, end)` sealed read-only private anonymous memory
    /// (whose contents a discarding madvise would change: Linux's
    /// is_ro_anon under mseal)?
    fn sealed_ro_anon(&self, start: Gva, end: Gva) -> bool {
        self.vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > start)
            .any(|(_, v)| v.sealed && v.prot & PROT_WRITE == 0 && v.kind.is_anonymous())
    }

    /// A copy of this address space for a child (fork): its own page
    /// tables, in which every page maps the same frame as here. Private
    /// writable pages become copy-on-write in both (read-only with
    /// `pte::COW`; the first write copies), other private pages are shared
    /// read-only as they are, shared mappings stay shared (their slots get
    /// one more user). Memory locks are not inherited, as Linux's.
    pub fn fork(&mut self, m: &mut Machine) -> Result<Mm, Errno> {
        let pt = m.new_root().ok_or(Errno::NOMEM)?;
        let mut child = Mm::on(pt);
        child.vmas = self.vmas.clone();
        child.vmas.retain(|_, v| !v.dont_fork);
        for v in child.vmas.values_mut() {
            v.locked = false;
        }
        child.file_names = self.file_names.clone();
        child.file_handles = self.file_handles.clone();
        child.brk_start = self.brk_start;
        child.brk = self.brk;
        let mut downgraded: Vec<Gpa> = Vec::new();
        let mut result = self.fork_pages(m, &child, &mut downgraded);
        m.invalidate_frames(&mut downgraded);
        let wiped: Vec<(Gva, Gva, u32)> = self
            .vmas
            .iter()
            .filter(|(_, v)| v.wipe_on_fork && !v.dont_fork)
            .map(|(&s, v)| (s, v.end, v.prot))
            .collect();
        for (s, e, prot) in wiped {
            if result.is_ok() {
                result = child.populate(m, s, e, prot, false);
            }
        }
        let mut slots: Vec<Gpa> = child
            .vmas
            .values()
            .filter_map(|v| match v.kind {
                VmaKind::Shared { slot, .. } => Some(slot),
                _ => None,
            })
            .collect();
        slots.sort_unstable();
        slots.dedup();
        for sl in slots {
            m.shared_mut().share(sl);
        }
        if let Err(e) = result {
            child.destroy(m);
            return Err(e);
        }
        Ok(child)
    }

    /// The address space of a process that has none any more (it ended):
    /// nothing maps, nothing is destroyed.
    pub fn none() -> Mm {
        let mut mm = Mm::on(PageTables::new(0));
        mm.borrowed = true;
        mm
    }

    /// A vfork child's view of this space (`borrowed`).
    pub fn borrow(&self) -> Mm {
        let mut child = Mm::on(self.pt);
        child.borrowed = true;
        child.vmas = self.vmas.clone();
        child.file_names = self.file_names.clone();
        child.file_handles = self.file_handles.clone();
        child.brk_start = self.brk_start;
        child.brk = self.brk;
        child
    }

    /// Copy every entry of this space into `child` (fork). Frames this
    /// space stops writing are added to `downgraded`.
    fn fork_pages(
        &mut self,
        m: &mut Machine,
        child: &Mm,
        downgraded: &mut Vec<Gpa>,
    ) -> Result<(), Errno> {
        let ram = m.ram();
        let frames = m.frames();
        for (&s, v) in &self.vmas {
            // The child gets fresh zero pages there (`fork`), or nothing.
            if v.wipe_on_fork || v.dont_fork {
                continue;
            }
            let mut addr = s;
            loop {
                addr = self.pt.next_covered(ram, addr, v.end);
                if addr >= v.end {
                    break;
                }
                let e = self.pt.leaf(ram, addr).unwrap_or(0);
                let frame = e & pte::ADDR_MASK;
                let mut ce = e;
                if frame != 0 && frames.is_pool_frame(frame) {
                    if !frames.share(frame) {
                        // 65535 owners: the child gets a copy now.
                        let copy = frames.alloc().ok_or(Errno::NOMEM)?;
                        let mut page = vec![0u8; PAGE_SIZE as usize];
                        if !ram.read(frame, &mut page) || !ram.write(copy, &page) {
                            frames.free(copy);
                            return Err(Errno::NOMEM);
                        }
                        ce = copy | (e & !pte::ADDR_MASK);
                    } else if e & pte::WRITABLE != 0 {
                        ce = (e & !pte::WRITABLE) | pte::COW;
                        if self.pt.set_leaf(ram, frames, addr, ce).is_err() {
                            return Err(Errno::NOMEM);
                        }
                        downgraded.push(frame);
                    }
                }
                if frame != 0 && child.pt.set_leaf(ram, frames, addr, ce).is_err() {
                    // The share taken above is this entry's to give back.
                    if ce & pte::ADDR_MASK == frame && frames.put(frame) {
                        ram.zero(frame, PAGE_SIZE);
                        frames.free(frame);
                    }
                    return Err(Errno::NOMEM);
                }
                addr += PAGE_SIZE;
            }
        }
        Ok(())
    }

    /// The address space ends (its process exited, or a fork failed
    /// half-way): every mapping goes, then its page tables.
    pub fn destroy(&mut self, m: &mut Machine) {
        if self.borrowed {
            return;
        }
        let _ = self.unmap_all(m);
        // Entries outside every VMA (a fork that failed half-way).
        self.release(m, USER_MIN, USER_TOP);
        m.invalidate_tlb();
        // The emptied tables are kept whole for the next address space
        // (`Machine::new_root`): kvm_pvm's shadows of them then still
        // match what they shadow.
        m.spare_root(self.pt);
    }

    /// Everything goes, seals too (execve replaces the address space).
    pub fn unmap_all(&mut self, m: &mut Machine) -> Result<(), Errno> {
        for v in self.vmas.values_mut() {
            v.sealed = false;
        }
        self.unmap(m, USER_MIN, USER_TOP - USER_MIN)
    }

    /// Seal `[start, end)`, all of which is mapped.
    fn seal(&mut self, start: Gva, end: Gva) {
        self.modify(start, end, |v| v.sealed = true);
    }

    /// Remove the shared slots among `slots` that no mapping refers to.
    pub(crate) fn drop_slots(&self, m: &mut Machine, mut slots: Vec<Gpa>) {
        slots.sort_unstable();
        slots.dedup();
        slots.retain(|&sl| {
            !self
                .vmas
                .values()
                .any(|v| matches!(v.kind, VmaKind::Shared { slot, .. } if slot == sl))
        });
        for sl in slots {
            m.remove_shared(sl);
        }
    }

    /// Check `[start, end)` for mprotect as Linux walks it: the first gap
    /// is ENOMEM, the first mapping that may not take `prot` is EACCES
    /// (the vDSO's data page is never writable or executable).
    fn check_protect(&self, m: &Machine, start: Gva, end: Gva, prot: u32) -> Result<(), Errno> {
        let mut cur = start;
        while cur < end {
            let (_, v) = self.find(cur).ok_or(Errno::NOMEM)?;
            if v.sealed {
                return Err(Errno::PERM);
            }
            if v.kind == VmaKind::Vvar && prot & (PROT_WRITE | PROT_EXEC) != 0 {
                return Err(Errno::ACCESS);
            }
            // A shared mapping of a file not opened for writing can never
            // be made writable (Linux's VM_MAYWRITE).
            if let VmaKind::Shared { slot, .. } = v.kind {
                if prot & PROT_WRITE != 0 && !m.shared().find(slot).is_some_and(|s| s.writable) {
                    return Err(Errno::ACCESS);
                }
            }
            cur = v.end;
        }
        Ok(())
    }

    /// Change the protection of `[start, end)`, all of which must be mapped.
    pub fn protect(
        &mut self,
        m: &mut Machine,
        start: Gva,
        end: Gva,
        prot: u32,
    ) -> Result<(), Errno> {
        self.check_protect(m, start, end, prot)?;
        self.check_count(start, end, 0)?;
        // kvmcage commits memory when a page becomes accessible (as Linux
        // with strict overcommit): refuse up front what --mem cannot hold,
        // instead of filling it and failing half-way.
        let need = self.frames_needed(m, start, end, prot);
        if need > m.frames().available() {
            m.reclaim_cache();
        }
        if need > m.frames().available() {
            m.frames().refuse();
            return Err(Errno::NOMEM);
        }
        self.split_at(start);
        self.split_at(end);
        let inside: Vec<(Gva, Vma)> = self.vmas.range(start..end).map(|(s, v)| (*s, *v)).collect();
        let mut changed: Vec<Gpa> = Vec::new();
        let result = self.protect_vmas(m, &inside, prot, &mut changed);
        m.invalidate_frames(&mut changed);
        result
    }

    /// Frames an mprotect of `[start, end)` to `prot` would populate: the
    /// frameless pages of PROT_NONE reservations (walked by page table, so
    /// the count costs what is mapped).
    fn frames_needed(&self, m: &Machine, start: Gva, end: Gva, prot: u32) -> u64 {
        if prot & PROT_MASK == 0 {
            return 0;
        }
        let mut need = 0;
        let lo = self.find(start).map_or(start, |(s, _)| s);
        for (&s, v) in self.vmas.range(lo..end) {
            let (s, e) = (s.max(start), v.end.min(end));
            if e <= s || v.kind == VmaKind::Stack || v.is_shared() || v.prot & PROT_MASK != 0 {
                continue;
            }
            let mut have = 0;
            let mut a = s;
            loop {
                a = self.pt.next_covered(m.ram(), a, e);
                if a >= e {
                    break;
                }
                if self.pt.leaf(m.ram(), a).unwrap_or(0) & pte::ADDR_MASK != 0 {
                    have += 1;
                }
                a += PAGE_SIZE;
            }
            need += (e - s) / PAGE_SIZE - have;
        }
        need
    }

    fn protect_vmas(
        &mut self,
        m: &mut Machine,
        inside: &[(Gva, Vma)],
        prot: u32,
        changed: &mut Vec<Gpa>,
    ) -> Result<(), Errno> {
        for &(s, v) in inside {
            let mut addr = s;
            loop {
                if prot & PROT_MASK == 0 || v.kind == VmaKind::Stack {
                    // Nothing to populate: only existing entries matter.
                    addr = self.pt.next_covered(m.ram(), addr, v.end);
                }
                if addr >= v.end {
                    break;
                }
                let old = self.pt.leaf(m.ram(), addr).unwrap_or(0);
                let frame = old & pte::ADDR_MASK;
                if frame != 0 {
                    let new = if v.is_shared() {
                        leaf_for(frame, prot)
                    } else {
                        private_leaf(m, frame, prot)
                    };
                    if new != old {
                        if self.pt.set_leaf(m.ram(), m.frames(), addr, new).is_err() {
                            return Err(Errno::NOMEM);
                        }
                        if old & pte::PRESENT != 0 {
                            changed.push(frame);
                        }
                    }
                } else if v.is_shared() {
                    // Past the end of the file when it was mapped; maybe
                    // not any more.
                    let nv = Vma { prot, ..v };
                    self.populate_shared(m, s, nv, addr, addr + PAGE_SIZE)?;
                } else if v.kind != VmaKind::Stack {
                    // Only a PROT_NONE reservation has pages without frames.
                    self.populate(m, addr, addr + PAGE_SIZE, prot, false)?;
                }
                addr += PAGE_SIZE;
            }
            self.vmas.insert(s, Vma { prot, ..v });
        }
        Ok(())
    }

    /// Write `bytes` at user `addr`, ignoring page protection (the loader
    /// filling read-only segments). `false` if a page has no frame.
    pub fn poke(&self, m: &Machine, addr: Gva, bytes: &[u8]) -> bool {
        let mut done = 0usize;
        while done < bytes.len() {
            let cur = addr + done as u64;
            let off = cur & (PAGE_SIZE - 1);
            let n = ((PAGE_SIZE - off) as usize).min(bytes.len() - done);
            let frame = self.pt.leaf(m.ram(), page_down(cur)).unwrap_or(0) & pte::ADDR_MASK;
            if frame == 0 || !m.frames().is_pool_frame(frame) {
                return false;
            }
            if !m.ram().write(frame + off, &bytes[done..done + n]) {
                return false;
            }
            done += n;
        }
        true
    }

    /// Create the stack VMA, from 128 KiB below `rsp`'s page (Linux's
    /// stack_expand at exec) up to `STACK_TOP`, and populate it; below it
    /// the stack grows on fault (`fault`, `stack_growth`) down to
    /// RLIMIT_STACK.
    pub fn ensure_stack(&mut self, m: &mut Machine, rsp: Gva) -> bool {
        let bottom = STACK_TOP - STACK_LIMIT;
        if rsp < bottom + STACK_INITIAL {
            return false;
        }
        let from = page_down(rsp) - STACK_INITIAL;
        if self.find(STACK_TOP - PAGE_SIZE).is_none() {
            self.insert(
                from,
                Vma {
                    end: STACK_TOP,
                    prot: PROT_READ | PROT_WRITE,
                    kind: VmaKind::Stack,
                    locked: self.lock_future,
                    sealed: false,
                    wipe_on_fork: false,
                    droppable: false,
                    dont_fork: false,
                },
            );
        }
        self.populate(m, from, STACK_TOP, PROT_READ | PROT_WRITE, false)
            .is_ok()
    }

    /// The stack VMA that grows (the lowest piece of the stack: mprotect
    /// may have split it) and the lowest page it may grow down to:
    /// `limit` (RLIMIT_STACK) below its end, and STACK_GUARD_GAP above the
    /// mapping below it, as Linux's acct_stack_growth and stack_guard_gap.
    fn growing_stack(&self, limit: u64) -> Option<(Gva, Vma, Gva)> {
        let mut found = None;
        let mut top = STACK_TOP;
        for (&s, v) in self.vmas.range(..STACK_TOP).rev() {
            if v.kind != VmaKind::Stack || v.end != top {
                break;
            }
            found = Some((s, *v));
            top = s;
        }
        let (s, v) = found?;
        // The gap is kept from an accessible mapping only (Linux's
        // expand_downwards): a PROT_NONE one below may be grown up to.
        let below = self.vmas.range(..s).next_back().map_or(USER_MIN, |(_, p)| {
            if p.prot & PROT_MASK == 0 {
                p.end
            } else {
                p.end.saturating_add(STACK_GUARD_GAP)
            }
        });
        let lowest = page_down(v.end.saturating_sub(limit).saturating_add(PAGE_SIZE - 1));
        Some((s, v, lowest.max(below).max(USER_MIN)))
    }

    /// Where host accesses for a call may make stack pages (uaccess), with
    /// RLIMIT_STACK `limit`. The VMA catches up in `settle_stack`.
    pub fn stack_growth(&self, limit: u64) -> Option<crate::mm::uaccess::StackGrowth<'_>> {
        let (start, v, floor) = self.growing_stack(limit)?;
        Some(crate::mm::uaccess::StackGrowth {
            floor,
            start,
            end: v.end,
            flags: leaf_for(0, v.prot),
            low: &self.stack_low,
        })
    }

    /// Extend the stack VMA down to the lowest page host accesses made
    /// below it since the last call (`stack_growth`).
    pub fn settle_stack(&mut self) {
        let low = self.stack_low.swap(u64::MAX, Ordering::Relaxed);
        if low == u64::MAX {
            return;
        }
        if let Some((s, v, _)) = self.growing_stack(u64::MAX) {
            if low < s && !self.overlaps(low, s) {
                self.vmas.remove(&s);
                self.vmas.insert(low, v);
            }
        }
    }

    /// Grow the stack down to `addr`'s page for a fault there, if it may
    /// (`growing_stack`): the grown VMA.
    fn grow_stack(&mut self, addr: Gva, limit: u64) -> Option<(Gva, Vma)> {
        let (s, v, floor) = self.growing_stack(limit)?;
        let page = page_down(addr);
        if page < floor || page >= s {
            return None;
        }
        self.vmas.remove(&s);
        self.vmas.insert(page, v);
        Some((page, v))
    }

    /// A page fault at `addr`: populate it if it is an unpopulated stack
    /// page the access is allowed on, growing the stack down to it within
    /// `stack_limit` (RLIMIT_STACK). `true` if the program can retry.
    pub fn fault(
        &mut self,
        m: &mut Machine,
        addr: Gva,
        write: bool,
        exec: bool,
        stack_limit: u64,
    ) -> bool {
        let found = self.find(addr);
        let Some((s, v)) = found.or_else(|| self.grow_stack(addr, stack_limit)) else {
            return false;
        };
        if write && v.prot & PROT_WRITE != 0 && !v.is_shared() {
            let page = page_down(addr);
            if self.pt.leaf(m.ram(), page).unwrap_or(0) & pte::COW != 0 {
                return match self.pt.break_cow(m.ram(), m.frames(), page) {
                    Ok(Some(old)) => {
                        m.invalidate_frames(&mut [old]);
                        true
                    }
                    Ok(None) => true,
                    Err(_) => false,
                };
            }
        }
        if v.is_shared() {
            // A page past the end of the file when it was mapped, which
            // the file may have reached since.
            let page = page_down(addr);
            if v.prot & PROT_MASK == 0
                || (write && v.prot & PROT_WRITE == 0)
                || (exec && v.prot & PROT_EXEC == 0)
                || self.pt.leaf(m.ram(), page).unwrap_or(0) & pte::ADDR_MASK != 0
            {
                return false;
            }
            let _ = self.populate_shared(m, s, v, page, page + PAGE_SIZE);
            return self.pt.leaf(m.ram(), page).unwrap_or(0) & pte::ADDR_MASK != 0;
        }
        if v.kind != VmaKind::Stack || v.prot & PROT_MASK == 0 {
            return false;
        }
        if (write && v.prot & PROT_WRITE == 0) || (exec && v.prot & PROT_EXEC == 0) {
            return false;
        }
        let page = page_down(addr);
        if self.pt.leaf(m.ram(), page).unwrap_or(0) & pte::ADDR_MASK != 0 {
            return false; // populated: a real protection fault
        }
        // Populate a chunk from the faulting page up to the populated part.
        let mut end = page + PAGE_SIZE;
        while end < v.end
            && end - page < STACK_GROW_CHUNK
            && self.pt.leaf(m.ram(), end).unwrap_or(0) & pte::ADDR_MASK == 0
        {
            end += PAGE_SIZE;
        }
        let _ = s;
        self.populate(m, page, end, v.prot, false).is_ok()
    }

    /// Panic if the VMAs overlap, leave the user half, or a present user
    /// page lies outside every VMA. For the fuzzer and tests.
    pub fn check_invariants(&self, m: &Machine) {
        let mut prev_end = 0;
        for (&s, v) in &self.vmas {
            assert!(s < v.end, "empty VMA at {s:#x}");
            assert!(s >= prev_end, "VMAs overlap at {s:#x}");
            assert!(
                s >= USER_MIN && v.end <= USER_TOP,
                "VMA {s:#x}..{:#x} outside the user half",
                v.end
            );
            assert!(
                s % PAGE_SIZE == 0 && v.end % PAGE_SIZE == 0,
                "unaligned VMA at {s:#x}"
            );
            prev_end = v.end;
        }
        // Spot-check the page tables around each VMA's edges.
        for (&s, v) in &self.vmas {
            for addr in [s.wrapping_sub(PAGE_SIZE), v.end] {
                if (USER_MIN..USER_TOP).contains(&addr) && self.find(addr).is_none() {
                    let e = self.pt.leaf(m.ram(), addr).unwrap_or(0);
                    assert!(
                        e & pte::PRESENT == 0,
                        "present page {addr:#x} outside every VMA"
                    );
                }
            }
        }
    }

    /// Move the pages of `[old, old+len)` to `new` (frames and their
    /// protection travel; nothing is copied), leaving `[old, old+len)`
    /// unmapped. The VMAs must already describe the destination.
    fn move_pages(&mut self, m: &mut Machine, old: Gva, new: Gva, len: u64) -> Result<(), Errno> {
        let mut moved: Vec<Gpa> = Vec::new();
        let mut off = 0;
        loop {
            off = match old.checked_add(len) {
                Some(end) => self.pt.next_covered(m.ram(), old + off, end) - old,
                None => len,
            };
            if off >= len {
                break;
            }
            let e = self
                .pt
                .set_leaf(m.ram(), m.frames(), old + off, 0)
                .unwrap_or(0);
            if e & pte::ADDR_MASK != 0 {
                if e & pte::PRESENT != 0 {
                    moved.push(e & pte::ADDR_MASK);
                }
                if self.pt.set_leaf(m.ram(), m.frames(), new + off, e).is_err() {
                    m.invalidate_frames(&mut moved);
                    return Err(Errno::NOMEM);
                }
            }
            off += PAGE_SIZE;
        }
        // The frames' old translations must go (they would still map `old`).
        m.invalidate_frames(&mut moved);
        Ok(())
    }

    /// Drop the VMAs of `[start, end)` without touching page tables.
    fn forget(&mut self, start: Gva, end: Gva) {
        self.split_at(start);
        self.split_at(end);
        let inside: Vec<Gva> = self.vmas.range(start..end).map(|(s, _)| *s).collect();
        for s in inside {
            self.vmas.remove(&s);
        }
    }

    /// A free range of `len` bytes, top-down below `MMAP_BASE`.
    pub(crate) fn find_free(&self, len: u64) -> Option<Gva> {
        let mut top = MMAP_BASE;
        for (&s, v) in self.vmas.range(..MMAP_BASE).rev() {
            if v.end <= top && top - v.end >= len {
                return Some(top - len);
            }
            top = top.min(s);
        }
        let floor = USER_MIN.max(self.brk_start);
        (top >= floor && top - floor >= len).then(|| top - len)
    }
}

// ---- system calls -------------------------------------------------------

/// A vfork child, which runs in its parent's address space until it
/// execs or exits, changes no mapping of it (ENOMEM).
fn own_space(cx: &Ctx) -> Result<(), Errno> {
    if cx.proc.mm.borrowed {
        return Err(Errno::NOMEM);
    }
    Ok(())
}

/// The page-aligned `addr` and the page-rounded `len` of a call that needs
/// every page of the range mapped (madvise, mincore, msync): EINVAL for an
/// unaligned address, ENOMEM for a range past the user half or with a hole.
fn mapped_range(mm: &Mm, addr: u64, len: u64) -> Result<(Gva, Gva), Errno> {
    if addr & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::INVAL);
    }
    let len = page_up(len).ok_or(Errno::NOMEM)?;
    let end = addr.checked_add(len).ok_or(Errno::NOMEM)?;
    if end > USER_TOP || !mm.fully_mapped(addr, end) {
        return Err(Errno::NOMEM);
    }
    Ok((addr, end))
}

pub fn sys_brk(cx: &mut Ctx, a: &Args) -> SysResult {
    if cx.proc.mm.borrowed {
        return Ok(cx.proc.mm.brk);
    }
    let want = a.0[0];
    let mm = &cx.proc.mm;
    if want < mm.brk_start {
        return Ok(mm.brk);
    }
    let (Some(new_end), Some(old_end)) = (page_up(want), page_up(mm.brk)) else {
        return Ok(mm.brk);
    };
    if new_end > old_end {
        if new_end > USER_TOP || mm.overlaps(old_end, new_end) {
            return Ok(mm.brk);
        }
        // Under mlockall(MCL_FUTURE) the new heap is locked: within
        // RLIMIT_MEMLOCK or not at all.
        if mm.lock_future && may_lock(cx, new_end - old_end).is_err() {
            return Ok(mm.brk);
        }
        let mm = &mut cx.proc.mm;
        if mm
            .map_fixed(
                cx.m,
                old_end,
                new_end - old_end,
                PROT_READ | PROT_WRITE,
                VmaKind::Heap,
            )
            .is_err()
        {
            return Ok(mm.brk);
        }
    } else if new_end < old_end {
        cx.proc.mm.unmap(cx.m, new_end, old_end - new_end)?;
    }
    cx.proc.mm.brk = want;
    Ok(want)
}

pub fn sys_mmap(cx: &mut Ctx, a: &Args) -> SysResult {
    own_space(cx)?;
    let [addr, len, prot, flags, fd, off] = a.0;
    let (prot, flags, fd) = (prot as u32, flags as u32 as i32, fd as i32);
    if off & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::INVAL);
    }
    if len == 0 {
        return Err(Errno::INVAL);
    }
    let len = page_up(len).ok_or(Errno::NOMEM)?;
    if len > USER_TOP {
        return Err(Errno::NOMEM);
    }
    // Under mlockall(MCL_FUTURE) the new mapping is locked: within
    // RLIMIT_MEMLOCK or EAGAIN (Linux's mlock_future_ok).
    if cx.proc.mm.lock_future && may_lock(cx, len).is_err() {
        return Err(Errno::AGAIN);
    }
    // Unlike mprotect, mmap ignores PROT bits it does not know.
    let anon = flags & libc::MAP_ANONYMOUS != 0;
    let droppable = flags & libc::MAP_TYPE == MAP_DROPPABLE;
    match flags & libc::MAP_TYPE {
        libc::MAP_PRIVATE | libc::MAP_SHARED => {}
        // Private anonymous memory whose pages may be dropped (Linux 6.11);
        // never locked, never a stack.
        MAP_DROPPABLE
            if anon
                && flags & (libc::MAP_LOCKED | libc::MAP_HUGETLB | libc::MAP_GROWSDOWN) == 0 => {}
        // Linux checks the flags of a file mapping; anonymous memory has
        // no MAP_SHARED_VALIDATE.
        libc::MAP_SHARED_VALIDATE if !anon => {
            if flags & !LEGACY_MAP_MASK != 0 {
                return Err(Errno::OPNOTSUPP);
            }
        }
        _ => return Err(Errno::INVAL),
    }
    let shared = !matches!(flags & libc::MAP_TYPE, libc::MAP_PRIVATE | MAP_DROPPABLE);
    // A mapping of /dev/zero is anonymous memory.
    let dev_zero = !anon
        && cx
            .proc
            .files()
            .file(fd)
            .is_ok_and(|f| matches!(f.kind, super::fs::FileKind::Dev(super::fs::Dev::Zero)));
    let file = if !anon && !dev_zero {
        Some(mappable_file(cx, fd, flags, prot)?)
    } else {
        None
    };
    let prot = prot & PROT_MASK;
    let mm = &mut cx.proc.mm;
    let fixed = flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0;
    let start = if fixed {
        if addr & (PAGE_SIZE - 1) != 0 {
            return Err(Errno::INVAL);
        }
        if addr < USER_MIN {
            return Err(Errno::PERM);
        }
        if !is_user_range(addr, len) {
            return Err(Errno::NOMEM);
        }
        if flags & libc::MAP_FIXED == 0 && mm.overlaps(addr, addr + len) {
            return Err(Errno::EXIST);
        }
        addr
    } else {
        let hint = page_down(addr);
        if hint >= USER_MIN && is_user_range(hint, len) && !mm.overlaps(hint, hint + len) {
            hint
        } else {
            mm.find_free(len).ok_or(Errno::NOMEM)?
        }
    };
    if shared {
        return map_shared(cx, start, len, prot, file, off);
    }
    // MAP_GROWSDOWN, MAP_NORESERVE and MAP_POPULATE need nothing more:
    // accessible pages get frames now, and host memory on first touch.
    let Some(file) = file else {
        mm.map_fixed_as(
            cx.m,
            start,
            len,
            prot,
            if dev_zero {
                VmaKind::DevZero
            } else {
                VmaKind::Anon
            },
            flags & libc::MAP_STACK == 0,
        )?;
        if droppable {
            mm.set_flags(start, start + len, |v| {
                v.droppable = true;
                v.wipe_on_fork = true;
            })?;
        }
        return Ok(start);
    };
    // A private copy of the file's pages: read-only MAP_SHARED is the same
    // to the program as long as nobody writes the file meanwhile.
    let name = mm.file_index(&file.path, Some(&file));
    let kind = VmaKind::File { name, off };
    mm.map_fixed(cx.m, start, len, prot | PROT_READ, kind)?;
    let host = file.host().ok_or(Errno::NODEV)?;
    // The frames the file's bytes will fill: their host memory in runs.
    let size = rustix::fs::fstat(host).map_or(0, |st| st.st_size as u64);
    let filled = page_up(size.saturating_sub(off).min(len)).unwrap_or(0);
    let mut frames: Vec<Gpa> = (0..filled / PAGE_SIZE)
        .filter_map(|i| mm.pt.leaf(cx.m.ram(), start + i * PAGE_SIZE).ok())
        .map(|e| e & pte::ADDR_MASK)
        .filter(|&f| f != 0 && cx.m.frames().is_pool_frame(f))
        .collect();
    // A mapping the program may not write (code, read-only data) shares
    // the cache's pages, read-only and copied should it mprotect them
    // writable and write; a writable one (data that ld.so relocates at
    // once) gets its own copy, as before, which spares it a copy fault per
    // page.
    let key = if prot & PROT_WRITE == 0 {
        crate::vm::pagecache::FileKey::of(host)
    } else {
        None
    };
    // Pages the cache has: mapped from it; the others are read from the
    // file, then given to the cache.
    let mut cached = vec![false; (filled / PAGE_SIZE) as usize];
    let mut replaced = Vec::new();
    if let Some(key) = key {
        for (i, hit) in cached.iter_mut().enumerate() {
            let at = start + i as u64 * PAGE_SIZE;
            let m = &mut **cx.m;
            let Some(f) = m.cached_page(key, off + i as u64 * PAGE_SIZE) else {
                continue;
            };
            let old = mm.pt.leaf(m.ram(), at).unwrap_or(0);
            if mm
                .pt
                .set_leaf(
                    m.ram(),
                    m.frames(),
                    at,
                    private_leaf(m, f, prot | PROT_READ),
                )
                .is_err()
            {
                m.frames().put(f);
                continue;
            }
            let fresh = old & pte::ADDR_MASK;
            if m.frames().is_pool_frame(fresh) && m.frames().put(fresh) {
                replaced.push(fresh);
            }
            *hit = true;
        }
        // The fresh frames the cached ones replaced: dropped with
        // MADV_DONTNEED (which also drops any translation a thread racing
        // into the new range made) before they are free again.
        let m = &mut **cx.m;
        let ram = m.ram();
        crate::vm::memory::for_each_run(&mut replaced, |gpa, n| {
            ram.zero(gpa, n);
        });
        for f in replaced {
            m.frames().free(f);
        }
        frames.retain(|f| m.frames().refs(*f) == 1);
        log::trace!(
            "mmap of {}: {} of {} pages from the page cache",
            String::from_utf8_lossy(&file.path),
            cached.iter().filter(|&&c| c).count(),
            cached.len()
        );
    }
    let ram = cx.m.ram();
    crate::vm::memory::for_each_run(&mut frames, |gpa, n| ram.prefault(gpa, n));
    let mut buf = vec![0u8; 64 << 10];
    let mut page = 0usize;
    while page < cached.len() {
        if cached[page] {
            page += 1;
            continue;
        }
        // A run of pages to read, up to a buffer's worth.
        let run = cached[page..]
            .iter()
            .take(buf.len() / PAGE_SIZE as usize)
            .take_while(|&&c| !c)
            .count();
        let at = page as u64 * PAGE_SIZE;
        let want = (run as u64 * PAGE_SIZE).min(len - at) as usize;
        let n = match rustix::io::pread(host, &mut buf[..want], off + at) {
            Ok(n) => n,
            Err(e) => {
                mm.unmap(cx.m, start, len)?;
                return Err(e);
            }
        };
        if n == 0 {
            break; // past the end of the file the pages stay zero
        }
        if !mm.poke(cx.m, start + at, &buf[..n]) {
            mm.unmap(cx.m, start, len)?;
            return Err(Errno::NOMEM);
        }
        if let Some(key) = key {
            cache_pages(
                cx.m,
                mm,
                key,
                start + at,
                off + at,
                n as u64,
                prot | PROT_READ,
            );
        }
        page += n.div_ceil(PAGE_SIZE as usize).max(1);
    }
    if prot & PROT_READ == 0 {
        mm.protect(cx.m, start, start + len, prot)?;
    }
    Ok(start)
}

/// Give the pages at `[at, at+n)` (just read from `key` at file offset
/// `off`) to the page cache: each becomes read-only for this mapping too,
/// with the COW bit when `prot` lets it write.
fn cache_pages(
    m: &mut Machine,
    mm: &Mm,
    key: crate::vm::pagecache::FileKey,
    at: Gva,
    off: u64,
    n: u64,
    prot: u32,
) {
    let mut downgraded = Vec::new();
    let mut p = 0;
    while p < n {
        let va = at + p;
        let leaf = mm.pt.leaf(m.ram(), va).unwrap_or(0);
        let frame = leaf & pte::ADDR_MASK;
        if frame != 0 && m.frames().refs(frame) == 1 && m.cache_page(key, off + p, frame) {
            let _ = mm
                .pt
                .set_leaf(m.ram(), m.frames(), va, private_leaf(m, frame, prot));
            downgraded.push(frame);
        }
        p += PAGE_SIZE;
    }
    // A downgrade of entries made by this call: a thread of the program
    // racing into the new range may have cached one writable.
    m.invalidate_frames(&mut downgraded);
}

/// mmap's MAP_TYPE for MAP_DROPPABLE (Linux 6.11).
const MAP_DROPPABLE: i32 = 0x08;
const MADV_WIPEONFORK: i32 = 18;
const MADV_KEEPONFORK: i32 = 19;

/// Linux's LEGACY_MAP_MASK: the flags MAP_SHARED_VALIDATE accepts.
const LEGACY_MAP_MASK: i32 = libc::MAP_SHARED
    | libc::MAP_PRIVATE
    | libc::MAP_FIXED
    | libc::MAP_ANONYMOUS
    | libc::MAP_DENYWRITE
    | libc::MAP_EXECUTABLE
    | 0x4000000 // MAP_UNINITIALIZED
    | libc::MAP_GROWSDOWN
    | libc::MAP_LOCKED
    | libc::MAP_NORESERVE
    | libc::MAP_POPULATE
    | libc::MAP_NONBLOCK
    | libc::MAP_STACK
    | libc::MAP_HUGETLB
    | libc::MAP_FIXED_NOREPLACE;

/// A shared mapping at `start` (free or to be replaced): the file's pages
/// (`file` at `off`), or for anonymous and /dev/zero memory a memfd of
/// kvmcage's own (counted against --mem), through a shared slot
/// (vm/shared.rs).
fn map_shared(
    cx: &mut Ctx,
    start: Gva,
    len: u64,
    prot: u32,
    file: Option<std::sync::Arc<super::fs::OpenFile>>,
    off: u64,
) -> SysResult {
    let (name, slot) = match &file {
        Some(f) => {
            let host = f.host().ok_or(Errno::NODEV)?;
            let writable = f.flags.get() & libc::O_ACCMODE as u32 == libc::O_RDWR as u32;
            if let (Some(q), true) = (f.quota(), writable) {
                reserve_for_mapping(q, host, off, len)?;
            }
            let name = cx.proc.mm.file_name(&f.path);
            let slot = match cx.m.add_shared(host, off, len, writable) {
                // A memfd sealed against writing maps read-only, and then
                // never becomes writable (Linux clears VM_MAYWRITE).
                Err(Errno::PERM) if writable && prot & PROT_WRITE == 0 => {
                    cx.m.add_shared(host, off, len, false)?
                }
                r => r?,
            };
            (name, slot)
        }
        None => {
            let frames = len / PAGE_SIZE;
            if !cx.m.frames().charge(frames) {
                return Err(Errno::NOMEM);
            }
            let slot = anon_memfd(len).and_then(|fd| cx.m.add_shared(fd.as_fd(), 0, len, true));
            let slot = match slot {
                Ok(s) => s,
                Err(e) => {
                    cx.m.frames().uncharge(frames);
                    return Err(e);
                }
            };
            if let Some(s) = cx.m.shared_mut().find_mut(slot) {
                s.charge = frames;
            }
            // As Linux shows shared anonymous memory.
            (cx.proc.mm.file_name(b"/dev/zero (deleted)"), slot)
        }
    };
    if let Err(e) = cx.proc.mm.map_shared(cx.m, start, len, prot, slot, name) {
        cx.proc.mm.drop_slots(cx.m, vec![slot]);
        return Err(e);
    }
    Ok(start)
}

/// A writable shared mapping of a file under a size cap (a --tmpfs file,
/// /dev/shm, a memfd): stores through it allocate on the host where no
/// write() is checked, so the whole range is allocated now (beyond the end
/// of the file too, which a later ftruncate may bring in), within what the
/// cap has left; past it, ENOMEM (Linux's tmpfs would map and then SIGBUS
/// at the store that finds it full).
fn reserve_for_mapping(
    q: &crate::sandbox::quota::Quota,
    fd: std::os::fd::BorrowedFd<'_>,
    off: u64,
    len: u64,
) -> Result<(), Errno> {
    // (Strict: the range's own allocated blocks are not told apart, so a
    // second mapping of an allocated range needs the room again.)
    if q.room(len).unwrap_or(0) < len {
        return Err(Errno::NOMEM);
    }
    let r = rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::KEEP_SIZE, off, len);
    q.update(fd);
    r.map_err(|e| if e == Errno::NOSPC { Errno::NOMEM } else { e })
}

/// A memfd of `len` bytes for shared anonymous memory.
pub fn anon_memfd(len: u64) -> Result<std::os::fd::OwnedFd, Errno> {
    let fd = rustix::fs::memfd_create("kvmcage-shm", rustix::fs::MemfdFlags::CLOEXEC)?;
    rustix::fs::ftruncate(&fd, len)?;
    Ok(fd)
}

/// The file behind `fd` was truncated: its shared mappings lose the pages
/// past its new end (an access there is SIGBUS from now on, as Linux's
/// unmap_mapping_range), before KVM could find those host pages gone.
pub fn file_truncated(cx: &mut Ctx, fd: std::os::fd::BorrowedFd<'_>) {
    let Ok(st) = rustix::fs::fstat(fd) else {
        return;
    };
    let limit = page_up(st.st_size as u64).unwrap_or(u64::MAX);
    let mm = &mut cx.proc.mm;
    let cut: Vec<(Gva, Gva)> = mm
        .vmas
        .iter()
        .filter_map(|(&s, v)| {
            let VmaKind::Shared { slot, off, .. } = v.kind else {
                return None;
            };
            let sl = cx.m.shared().find(slot)?;
            if cx.m.shared().inode(slot) != Some((st.st_dev, st.st_ino)) {
                return None;
            }
            // The first page of the VMA at or past the new end.
            let first = sl.file_off + off;
            let from = if limit <= first {
                s
            } else {
                s.checked_add(limit - first)?
            };
            (from < v.end).then_some((from, v.end))
        })
        .collect();
    // The mappings stay; their pages there fault again (`Mm::fault`,
    // `past_eof`).
    for (from, to) in cut {
        mm.release(cx.m, from, to);
    }
}

/// memfd_create: a host memfd, its size counted against a budget the size
/// of --mem (as a --tmpfs: writes past it are ENOSPC).
pub fn sys_memfd_create(cx: &mut Ctx, a: &Args) -> SysResult {
    const KNOWN: u32 = 0x1 | 0x2 | 0x8 | 0x10; // CLOEXEC ALLOW_SEALING NOEXEC_SEAL EXEC
    let flags = a.0[1] as u32;
    if flags & !KNOWN != 0 {
        // MFD_HUGETLB too: no huge pages in the sandbox.
        return Err(Errno::INVAL);
    }
    // Linux: at most 249 bytes ("memfd:" + name within NAME_MAX).
    let name = match cx.user().read_cstr(a.0[0], 250) {
        Ok(n) => n,
        Err(Errno::NAMETOOLONG) => return Err(Errno::INVAL),
        Err(e) => return Err(e),
    };
    if name.len() > 249 {
        return Err(Errno::INVAL);
    }
    let p = &mut **cx.proc;
    let quota = p
        .memfd_quota
        .get_or_insert_with(|| {
            std::sync::Arc::new(crate::sandbox::quota::Quota::new(p.id.mem_size))
        })
        .clone();
    quota.may_create()?;
    let host_flags = rustix::fs::MemfdFlags::from_bits_retain(flags | 0x1);
    let fd = rustix::fs::memfd_create(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&name),
        host_flags,
    )?;
    let hold = quota.hold(&fd);
    if let Ok(st) = rustix::fs::fstat(&fd) {
        // No name links it: it goes when its last descriptor does.
        quota.unlinked(st.st_ino, 1);
    }
    let path = [b"/memfd:".as_slice(), &name, b" (deleted)"].concat();
    let mut file = super::fs::OpenFile::new(
        super::fs::FileKind::Host { fd, writable: true },
        path,
        libc::O_RDWR as u32 | libc::O_LARGEFILE as u32,
    );
    file.tmpfs = hold;
    super::path::install(cx, file, flags & 0x1 != 0)
}

/// The open file an mmap names, if it can be mapped: a regular host file
/// opened for reading, and for a writable shared mapping for writing too.
fn mappable_file(
    cx: &Ctx,
    fd: i32,
    flags: i32,
    prot: u32,
) -> Result<std::sync::Arc<super::fs::OpenFile>, Errno> {
    let file = cx.proc.files().file(fd)?;
    let Some(host) = file.host() else {
        return Err(Errno::NODEV);
    };
    let st = rustix::fs::fstat(host)?;
    if !rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() {
        return Err(Errno::NODEV);
    }
    let acc = file.flags.get() & libc::O_ACCMODE as u32;
    if acc == libc::O_WRONLY as u32 {
        return Err(Errno::ACCESS);
    }
    let shared = flags & libc::MAP_TYPE != libc::MAP_PRIVATE;
    if shared && prot & PROT_WRITE != 0 && acc != libc::O_RDWR as u32 {
        return Err(Errno::ACCESS);
    }
    Ok(file)
}

pub fn sys_munmap(cx: &mut Ctx, a: &Args) -> SysResult {
    own_space(cx)?;
    let [addr, len, ..] = a.0;
    if addr & (PAGE_SIZE - 1) != 0 || len == 0 {
        return Err(Errno::INVAL);
    }
    let len = page_up(len).ok_or(Errno::INVAL)?;
    if !is_user_range(addr, len) && addr.checked_add(len).is_none_or(|e| e > USER_TOP) {
        return Err(Errno::INVAL);
    }
    cx.proc.mm.unmap(cx.m, addr, len)?;
    Ok(0)
}

pub fn sys_mprotect(cx: &mut Ctx, a: &Args) -> SysResult {
    own_space(cx)?;
    let [addr, len, prot, ..] = a.0;
    let prot = prot as u32;
    if addr & (PAGE_SIZE - 1) != 0 || prot & !PROT_ACCEPTED != 0 {
        return Err(Errno::INVAL);
    }
    let len = page_up(len).ok_or(Errno::NOMEM)?;
    if len == 0 {
        return Ok(0);
    }
    let end = addr.checked_add(len).ok_or(Errno::NOMEM)?;
    if end > USER_TOP {
        return Err(Errno::NOMEM);
    }
    cx.proc.mm.protect(cx.m, addr, end, prot & PROT_MASK)?;
    Ok(0)
}

pub fn sys_madvise(cx: &mut Ctx, a: &Args) -> SysResult {
    own_space(cx)?;
    let [addr, len, advice, ..] = a.0;
    if addr & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::INVAL);
    }
    let len = page_up(len).ok_or(Errno::INVAL)?;
    let end = addr.checked_add(len).ok_or(Errno::INVAL)?;
    let advice = advice as i32;
    let known = matches!(
        advice,
        libc::MADV_NORMAL
            | libc::MADV_RANDOM
            | libc::MADV_SEQUENTIAL
            | libc::MADV_WILLNEED
            | libc::MADV_DONTNEED
            | libc::MADV_FREE
            | libc::MADV_DONTFORK
            | libc::MADV_DOFORK
            | libc::MADV_MERGEABLE
            | libc::MADV_UNMERGEABLE
            | libc::MADV_HUGEPAGE
            | libc::MADV_NOHUGEPAGE
            | libc::MADV_DONTDUMP
            | libc::MADV_DODUMP
            | libc::MADV_COLD
            | libc::MADV_PAGEOUT
            | MADV_WIPEONFORK
            | MADV_KEEPONFORK
            | libc::MADV_POPULATE_READ
            | libc::MADV_POPULATE_WRITE
    );
    if !known {
        return Err(Errno::INVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    if end > USER_TOP || !cx.proc.mm.fully_mapped(addr, end) {
        return Err(Errno::NOMEM);
    }
    let discards = matches!(
        advice,
        libc::MADV_DONTNEED | libc::MADV_FREE | libc::MADV_DONTFORK
    );
    if discards && cx.proc.mm.sealed_ro_anon(addr, end) {
        return Err(Errno::PERM);
    }
    if matches!(advice, MADV_WIPEONFORK | MADV_KEEPONFORK) {
        // Wiping is for private anonymous memory only; a droppable mapping
        // stays wiped on fork (Linux's madvise_vma_behavior).
        let bad = cx.proc.mm.vmas().any(|(s, v)| {
            s < end
                && v.end > addr
                && match advice {
                    MADV_WIPEONFORK => !v.kind.is_anonymous(),
                    _ => v.droppable,
                }
        });
        if bad {
            return Err(Errno::INVAL);
        }
        let wipe = advice == MADV_WIPEONFORK;
        cx.proc.mm.set_flags(addr, end, |v| v.wipe_on_fork = wipe)?;
        return Ok(0);
    }
    if matches!(advice, libc::MADV_POPULATE_READ | libc::MADV_POPULATE_WRITE) {
        return populate_range(cx, addr, end, advice == libc::MADV_POPULATE_WRITE);
    }
    if matches!(advice, libc::MADV_DONTFORK | libc::MADV_DOFORK) {
        let dont = advice == libc::MADV_DONTFORK;
        cx.proc.mm.set_flags(addr, end, |v| v.dont_fork = dont)?;
        return Ok(0);
    }
    // MADV_PAGEOUT reclaims: a droppable mapping's pages are dropped (read
    // back as zeros); other pages keep their contents.
    let dropped: Vec<(Gva, Gva)> = if advice == libc::MADV_PAGEOUT {
        cx.proc
            .mm
            .vmas()
            .filter(|(s, v)| *s < end && v.end > addr && v.droppable)
            .map(|(s, v)| (s.max(addr), v.end.min(end)))
            .collect()
    } else {
        Vec::new()
    };
    for (from, to) in dropped {
        drop_anon_pages(cx, from, to, |_| false)?;
    }
    if advice == libc::MADV_FREE
        && cx.proc.mm.vmas().any(|(s, v)| {
            s < end && v.end > addr && !(v.kind.is_anonymous() || v.kind == VmaKind::Image)
        })
    {
        // Only private anonymous memory can be freed lazily.
        return Err(Errno::INVAL);
    }
    // A private file mapping's pages read back as the file's bytes.
    let file_ranges: Vec<(Gva, Gva, std::sync::Arc<super::fs::OpenFile>, u64)> =
        if advice == libc::MADV_DONTNEED {
            let mm = &cx.proc.mm;
            mm.vmas()
                .filter(|(s, v)| *s < end && v.end > addr)
                .filter_map(|(s, v)| match v.kind {
                    VmaKind::File { name, off } => {
                        let from = s.max(addr);
                        let file = mm.mapped_file(name)?;
                        Some((from, v.end.min(end), file, off + (from - s)))
                    }
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
    for (from, to, file, off) in &file_ranges {
        refill_from_file(cx, *from, *to, file, *off)?;
    }
    // The ranges are in address order, as the pages: one cursor.
    let mut next_range = 0;
    let in_file = |page: Gva| {
        while file_ranges.get(next_range).is_some_and(|r| r.1 <= page) {
            next_range += 1;
        }
        file_ranges.get(next_range).is_some_and(|r| r.0 <= page)
    };
    if matches!(advice, libc::MADV_DONTNEED | libc::MADV_FREE) {
        drop_anon_pages(cx, addr, end, in_file)?;
    }
    Ok(0)
}

/// MADV_POPULATE_READ/WRITE of `[addr, end)` (all mapped): every page
/// must allow the access (EINVAL; PROT_NONE allows none); a write breaks
/// copy-on-write as the program's own store would; the frames then get
/// host memory, so the first touch costs no host fault (mincore and
/// /proc/self/pagemap show them resident, as Linux's populated pages).
fn populate_range(cx: &mut Ctx, addr: Gva, end: Gva, write: bool) -> SysResult {
    let need = if write { PROT_WRITE } else { PROT_READ };
    let denied = cx
        .proc
        .mm
        .vmas()
        .any(|(s, v)| s < end && v.end > addr && v.prot & need == 0);
    if denied {
        return Err(Errno::INVAL);
    }
    let mut page = addr;
    while page < end {
        let e = cx.proc.mm.pt.leaf(cx.m.ram(), page).unwrap_or(0);
        // A copy-on-write page gets its own copy; a stack page not yet
        // there is made, as the program's own access would.
        let absent = e & pte::ADDR_MASK == 0;
        if absent || (write && e & pte::WRITABLE == 0) {
            let p = &mut *cx.proc;
            let limit = p.rlimits.soft(libc::RLIMIT_STACK);
            if !p.mm.fault(cx.m, page, write, false, limit) && !absent {
                return Err(Errno::FAULT);
            }
        }
        page += PAGE_SIZE;
    }
    commit_frames(cx, addr, end)
}

/// Give the frames of `[addr, end)`'s pages host memory now (mlock,
/// MADV_POPULATE_*): ENOMEM if the host has none.
fn commit_frames(cx: &mut Ctx, addr: Gva, end: Gva) -> SysResult {
    let mut frames = Vec::new();
    let mut page = addr;
    loop {
        page = cx.proc.mm.pt.next_covered(cx.m.ram(), page, end);
        if page >= end {
            break;
        }
        let frame = cx.proc.mm.pt.leaf(cx.m.ram(), page).unwrap_or(0) & pte::ADDR_MASK;
        if frame != 0 && cx.m.frames().is_pool_frame(frame) {
            frames.push(frame);
        }
        page += PAGE_SIZE;
    }
    let ram = cx.m.ram();
    let mut ok = true;
    crate::vm::memory::for_each_run(&mut frames, |gpa, len| ok &= ram.populate(gpa, len));
    if ok {
        Ok(0)
    } else {
        Err(Errno::NOMEM)
    }
}

/// Drop the contents of `[from, to)` but for the pages `skip` names:
/// anonymous pages read back as zeros. Zeroing through the host mapping
/// keeps each page's frame and entry unchanged; frames that follow each
/// other go in one host call (a thread's 8 MiB stack at its exit: 2048
/// calls became a handful).
fn drop_anon_pages(
    cx: &mut Ctx,
    from: Gva,
    to: Gva,
    mut skip: impl FnMut(Gva) -> bool,
) -> Result<(), Errno> {
    {
        let (addr, end) = (from, to);
        let mut page = addr;
        let mut frames = Vec::new();
        loop {
            page = cx.proc.mm.pt.next_covered(cx.m.ram(), page, end);
            if page >= end {
                break;
            }
            if skip(page) {
                page += PAGE_SIZE;
                continue;
            }
            let leaf = cx.proc.mm.pt.leaf(cx.m.ram(), page).unwrap_or(0);
            let frame = leaf & pte::ADDR_MASK;
            if frame != 0 && cx.m.frames().refs(frame) > 1 {
                // Shared since a fork: this space gets a zero page of its
                // own, the other owners keep the contents.
                unshare_zeroed(cx, page, leaf)?;
            } else if frame != 0 && cx.m.frames().is_pool_frame(frame) {
                frames.push(frame);
            }
            page += PAGE_SIZE;
        }
        let ram = cx.m.ram();
        crate::vm::memory::for_each_run(&mut frames, |gpa, len| {
            ram.zero(gpa, len);
        });
    }
    Ok(())
}

/// MADV_DONTNEED of `[from, to)` in a private mapping of `file` (whose
/// offset at `from` is `off`): each present page holds the file's bytes
/// again (zeros past its end), in a frame of its own if others share the
/// one it has (the page cache's, or a fork's).
fn refill_from_file(
    cx: &mut Ctx,
    from: Gva,
    to: Gva,
    file: &super::fs::OpenFile,
    off: u64,
) -> Result<(), Errno> {
    let host = file.host().ok_or(Errno::NODEV)?;
    let mut buf = vec![0u8; PAGE_SIZE as usize];
    let mut page = from;
    while page < to {
        page = cx.proc.mm.pt.next_covered(cx.m.ram(), page, to);
        if page >= to {
            break;
        }
        let leaf = cx.proc.mm.pt.leaf(cx.m.ram(), page).unwrap_or(0);
        let frame = leaf & pte::ADDR_MASK;
        if frame == 0 || !cx.m.frames().is_pool_frame(frame) {
            page += PAGE_SIZE;
            continue;
        }
        buf.fill(0);
        let at = off + (page - from);
        let mut got = 0;
        while got < buf.len() {
            match rustix::io::pread(host, &mut buf[got..], at + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
            }
        }
        if cx.m.frames().refs(frame) > 1 {
            unshare_with(cx, page, leaf, Some(&buf))?;
        } else if !cx.m.ram().write(frame, &buf) {
            return Err(Errno::FAULT);
        }
        page += PAGE_SIZE;
    }
    Ok(())
}

/// Point the private page at `page` (entry `leaf`, whose frame others
/// share) at a fresh zero frame: writable again if it was copy-on-write.
fn unshare_zeroed(cx: &mut Ctx, page: Gva, leaf: u64) -> Result<(), Errno> {
    unshare_with(cx, page, leaf, None)
}

/// `unshare_zeroed`, the fresh frame holding `content` (a page's worth
/// at most) rather than zeros.
fn unshare_with(cx: &mut Ctx, page: Gva, leaf: u64, content: Option<&[u8]>) -> Result<(), Errno> {
    let m = &mut **cx.m;
    let fresh = m.frames().alloc().ok_or(Errno::NOMEM)?;
    if let Some(c) = content {
        if !m.ram().write(fresh, c) {
            m.frames().free(fresh);
            return Err(Errno::NOMEM);
        }
    }
    let old = leaf & pte::ADDR_MASK;
    let mut flags = leaf & !pte::ADDR_MASK;
    if flags & pte::COW != 0 {
        flags = (flags & !pte::COW) | pte::WRITABLE;
    }
    if cx
        .proc
        .mm
        .pt
        .set_leaf(m.ram(), m.frames(), page, fresh | flags)
        .is_err()
    {
        m.frames().free(fresh);
        return Err(Errno::NOMEM);
    }
    if m.frames().put(old) {
        m.ram().zero(old, PAGE_SIZE);
        m.frames().free(old);
    }
    m.invalidate_frames(&mut [old]);
    Ok(())
}

const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const MREMAP_DONTUNMAP: u64 = 4;

pub fn sys_mremap(cx: &mut Ctx, a: &Args) -> SysResult {
    own_space(cx)?;
    let [old, old_len, new_len, flags, new_addr, _] = a.0;
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
        || (flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0)
        || old & (PAGE_SIZE - 1) != 0
    {
        return Err(Errno::INVAL);
    }
    let dontunmap = flags & MREMAP_DONTUNMAP != 0;
    if dontunmap && (flags & MREMAP_MAYMOVE == 0 || old_len != new_len) {
        return Err(Errno::INVAL);
    }
    let old_len = page_up(old_len).ok_or(Errno::INVAL)?;
    let new_len = page_up(new_len).ok_or(Errno::INVAL)?;
    if new_len == 0 || old_len == 0 {
        // old_len 0 duplicates a shared mapping on Linux; these are private.
        return Err(Errno::INVAL);
    }
    let old_end = old.checked_add(old_len).ok_or(Errno::INVAL)?;
    let mm = &mut cx.proc.mm;
    if mm.any_sealed(old, old_end) {
        return Err(Errno::PERM);
    }
    // The old range must lie inside one mapping.
    let (vs, v) = mm.find(old).ok_or(Errno::FAULT)?;
    if old_end > v.end {
        return Err(Errno::FAULT);
    }
    let v = v.starting_at(vs, old);
    if dontunmap {
        return mremap_dontunmap(cx, old, old_len, flags, new_addr, v);
    }
    if flags & MREMAP_FIXED != 0 {
        if new_addr & (PAGE_SIZE - 1) != 0 {
            return Err(Errno::INVAL);
        }
        if !is_user_range(new_addr, new_len) {
            return Err(Errno::INVAL);
        }
        let new_end = new_addr + new_len;
        if new_addr < old_end && old < new_end {
            return Err(Errno::INVAL);
        }
        if v.is_shared() && new_len > old_len {
            return mremap_shared_grow(cx, old, old_len, new_addr, new_len, v);
        }
        mm.unmap(cx.m, new_addr, new_len)?;
        return mremap_move(cx, old, old_len, new_addr, new_len, v);
    }
    if new_len <= old_len {
        mm.unmap(cx.m, old + new_len, old_len - new_len)?;
        return Ok(old);
    }
    // Grow in place if the pages after the mapping are free.
    let grow_end = old.checked_add(new_len).ok_or(Errno::NOMEM)?;
    if old_end == v.end && grow_end <= USER_TOP && !mm.overlaps(old_end, grow_end) {
        if v.is_shared() {
            return mremap_shared_grow(cx, old, old_len, old, new_len, v);
        }
        mm.populate(cx.m, old_end, grow_end, v.prot, huge_for(v.kind))?;
        // `v` starts at `old`: the grown part's file offset follows on.
        let grown = v.starting_at(old, old_end);
        mm.insert(
            old_end,
            Vma {
                end: grow_end,
                ..grown
            },
        );
        return Ok(old);
    }
    if flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::NOMEM);
    }
    let dest = mm.find_free(new_len).ok_or(Errno::NOMEM)?;
    if v.is_shared() {
        return mremap_shared_grow(cx, old, old_len, dest, new_len, v);
    }
    mremap_move(cx, old, old_len, dest, new_len, v)
}

/// Grow the shared mapping `v` at `[old, old+old_len)` to `new_len` at
/// `dest`: a new slot over more of the same object (whose pages keep the
/// data; past the end of the object they are SIGBUS, as on Linux).
fn mremap_shared_grow(
    cx: &mut Ctx,
    old: Gva,
    old_len: u64,
    dest: Gva,
    new_len: u64,
    v: Vma,
) -> SysResult {
    let VmaKind::Shared { slot, name, .. } = v.kind else {
        return Err(Errno::INVAL);
    };
    let new = second_slot(cx, v, new_len)?;
    // The memory a memfd of kvmcage's own holds is counted once: by the
    // newest slot over it.
    let charge =
        cx.m.shared_mut()
            .find_mut(slot)
            .map_or(0, |s| std::mem::take(&mut s.charge));
    if let Some(s) = cx.m.shared_mut().find_mut(new) {
        s.charge = charge;
    }
    let mm = &mut cx.proc.mm;
    mm.unmap(cx.m, old, old_len)?;
    if let Err(e) = mm.map_shared(cx.m, dest, new_len, v.prot, new, name) {
        mm.drop_slots(cx.m, vec![new]);
        return Err(e);
    }
    Ok(dest)
}

/// mremap(MREMAP_DONTUNMAP): the pages move to a new address (anywhere,
/// or `new_addr` with MREMAP_FIXED) and the old range stays mapped, as
/// Linux leaves it: private anonymous memory reads as zeros there, a
/// shared mapping still shows its object (both ranges map it). A private
/// file mapping's old range would refault the file, which kvmcage's
/// eagerly populated mappings do not do: EINVAL, as Linux before 5.13.
fn mremap_dontunmap(
    cx: &mut Ctx,
    old: Gva,
    len: u64,
    flags: u64,
    new_addr: u64,
    v: Vma,
) -> SysResult {
    let shared = v.is_shared();
    if !shared && !v.kind.is_anonymous() {
        return Err(Errno::INVAL);
    }
    let dest = if flags & MREMAP_FIXED != 0 {
        if new_addr & (PAGE_SIZE - 1) != 0 || !is_user_range(new_addr, len) {
            return Err(Errno::INVAL);
        }
        if new_addr < old + len && old < new_addr + len {
            return Err(Errno::INVAL);
        }
        cx.proc.mm.unmap(cx.m, new_addr, len)?;
        new_addr
    } else {
        cx.proc.mm.find_free(len).ok_or(Errno::NOMEM)?
    };
    if let VmaKind::Shared { name, .. } = v.kind {
        let new = second_slot(cx, v, len)?;
        let mm = &mut cx.proc.mm;
        if let Err(e) = mm.map_shared(cx.m, dest, len, v.prot, new, name) {
            mm.drop_slots(cx.m, vec![new]);
            return Err(e);
        }
        return Ok(dest);
    }
    // The old range's zero pages first, so that running out of memory
    // changes nothing.
    let mut fresh = Vec::new();
    let pages = if v.prot & PROT_MASK == 0 {
        0
    } else {
        len / PAGE_SIZE
    };
    for _ in 0..pages {
        match cx.m.frames().alloc() {
            Some(f) => fresh.push(f),
            None => {
                for f in fresh {
                    cx.m.frames().free(f);
                }
                return Err(Errno::NOMEM);
            }
        }
    }
    let dest = mremap_move(cx, old, len, dest, len, v)?;
    let mm = &mut cx.proc.mm;
    mm.insert(
        old,
        Vma {
            end: old + len,
            locked: false,
            ..v
        },
    );
    for (i, f) in fresh.into_iter().enumerate() {
        let at = old + i as u64 * PAGE_SIZE;
        let m = &mut **cx.m;
        if mm
            .pt
            .set_leaf(m.ram(), m.frames(), at, leaf_for(f, v.prot))
            .is_err()
        {
            m.frames().free(f);
        }
    }
    Ok(dest)
}

/// A new slot over `len` bytes of the object the shared mapping `v` shows,
/// from where `v` starts (its pages are the same pages).
fn second_slot(cx: &mut Ctx, v: Vma, len: u64) -> Result<Gpa, Errno> {
    let VmaKind::Shared { slot, off, .. } = v.kind else {
        return Err(Errno::INVAL);
    };
    let sl = cx.m.shared().find(slot).ok_or(Errno::FAULT)?;
    let (fd, file_off, writable) = (
        rustix::io::fcntl_dupfd_cloexec(&sl.fd, 0)?,
        sl.file_off + off,
        sl.writable,
    );
    cx.m.add_shared(fd.as_fd(), file_off, len, writable)
}

/// Move `[old, old+old_len)` to `dest` and size it to `new_len`.
fn mremap_move(cx: &mut Ctx, old: Gva, old_len: u64, dest: Gva, new_len: u64, v: Vma) -> SysResult {
    let mm = &mut cx.proc.mm;
    let keep = old_len.min(new_len);
    mm.insert(
        dest,
        Vma {
            end: dest + new_len,
            ..v
        },
    );
    mm.move_pages(cx.m, old, dest, keep)?;
    if new_len > keep {
        mm.populate(cx.m, dest + keep, dest + new_len, v.prot, huge_for(v.kind))?;
    }
    // What stayed behind (a shrinking move) is released; the moved part is
    // already unmapped.
    mm.forget(old, old + old_len);
    if old_len > keep {
        mm.release(cx.m, old + keep, old + old_len);
    }
    Ok(dest)
}

/// mseal(start, len, flags): seal the mappings of the range (Linux 6.10):
/// EINVAL for flags or an unaligned start or a wrapping range, ENOMEM for
/// a gap; sealing twice is fine.
pub fn sys_mseal(cx: &mut Ctx, a: &Args) -> SysResult {
    own_space(cx)?;
    let [start, len, flags, ..] = a.0;
    if flags != 0 || start & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::INVAL);
    }
    let len = page_up(len).ok_or(Errno::INVAL)?;
    let end = start.checked_add(len).ok_or(Errno::INVAL)?;
    if len == 0 {
        return Ok(0);
    }
    if end > USER_TOP || !cx.proc.mm.fully_mapped(start, end) {
        return Err(Errno::NOMEM);
    }
    cx.proc.mm.seal(start, end);
    Ok(0)
}

pub fn sys_mincore(cx: &mut Ctx, a: &Args) -> SysResult {
    let [addr, len, vec, ..] = a.0;
    let (addr, end) = mapped_range(&cx.proc.mm, addr, len)?;
    let pages = ((end - addr) / PAGE_SIZE) as usize;
    // Linux's access_ok on the whole vector first; then the walk below is
    // bounded by what the program can really receive.
    if cx.user().writable_len(vec, pages as u64) < pages as u64 {
        return Err(Errno::FAULT);
    }
    // One byte per page: is the page in memory? A page the program never
    // touched is not, on the host as on Linux.
    let mut out = Vec::with_capacity(pages.min(1 << 20));
    for i in 0..pages as u64 {
        let leaf = cx
            .proc
            .mm
            .pt
            .leaf(cx.m.ram(), addr + i * PAGE_SIZE)
            .unwrap_or(0);
        out.push(u8::from(resident(cx.m, leaf)));
        if out.len() == 4096 {
            let at = vec + i + 1 - out.len() as u64;
            cx.user().write(at, &out)?;
            out.clear();
        }
    }
    let at = vec + pages as u64 - out.len() as u64;
    cx.user().write(at, &out)?;
    Ok(0)
}

pub fn sys_msync(cx: &mut Ctx, a: &Args) -> SysResult {
    let [addr, len, flags, ..] = a.0;
    let flags = flags as u32 as i32;
    if flags & !(libc::MS_ASYNC | libc::MS_INVALIDATE | libc::MS_SYNC) != 0
        || flags & (libc::MS_ASYNC | libc::MS_SYNC) == (libc::MS_ASYNC | libc::MS_SYNC)
    {
        return Err(Errno::INVAL);
    }
    let (start, end) = mapped_range(&cx.proc.mm, addr, len)?;
    // Shared mappings are the host's: its msync writes them back. Private
    // memory has nothing to write back.
    let lo = cx.proc.mm.find(start).map_or(start, |(s, _)| s);
    let vmas: Vec<(Gva, Vma)> = cx
        .proc
        .mm
        .vmas
        .range(lo..end)
        .map(|(s, v)| (*s, *v))
        .collect();
    for (s, v) in vmas {
        if let VmaKind::Shared { slot, off, .. } = v.kind {
            let (a, e) = (s.max(start), v.end.min(end));
            cx.m.shared().sync(slot + off + (a - s), e - a, flags)?;
        }
    }
    Ok(0)
}

/// May `more` bytes be locked on top of what is? RLIMIT_MEMLOCK, unless
/// the program is root in the sandbox (CAP_IPC_LOCK); a limit of 0 is
/// EPERM, past it ENOMEM, as Linux's mlock.
fn may_lock(cx: &Ctx, more: u64) -> Result<(), Errno> {
    if cx.proc.id.uid == 0 {
        return Ok(());
    }
    let limit = cx.proc.rlimits.soft(libc::RLIMIT_MEMLOCK);
    if limit == 0 {
        return Err(Errno::PERM);
    }
    if cx.proc.mm.locked_bytes().saturating_add(more) > limit {
        return Err(Errno::NOMEM);
    }
    Ok(())
}

/// The page range mlock and munlock act on: `addr` rounded down, the end
/// rounded up; all of it mapped (ENOMEM).
fn lock_range(mm: &Mm, addr: u64, len: u64) -> Result<(Gva, Gva), Errno> {
    let start = page_down(addr);
    let end = addr
        .checked_add(len)
        .and_then(page_up)
        .ok_or(Errno::NOMEM)?;
    if end > USER_TOP || !mm.fully_mapped(start, end) {
        return Err(Errno::NOMEM);
    }
    Ok((start, end))
}

/// Lock `[addr, addr+len)`; unless `onfault`, its pages get their memory
/// now, as Linux's mlock faults them in (smaps' Rss then equals Size).
fn mlock_common(cx: &mut Ctx, addr: u64, len: u64, onfault: bool) -> SysResult {
    if len == 0 {
        return Ok(0);
    }
    let (start, end) = lock_range(&cx.proc.mm, addr, len)?;
    may_lock(cx, cx.proc.mm.unlocked_in(start, end))?;
    cx.proc.mm.set_locked(start, end, true)?;
    if !onfault {
        commit_frames(cx, start, end)?;
    }
    Ok(0)
}

pub fn sys_mlock(cx: &mut Ctx, a: &Args) -> SysResult {
    mlock_common(cx, a.0[0], a.0[1], false)
}

/// mlock2: MLOCK_ONFAULT locks the pages but brings in none.
pub fn sys_mlock2(cx: &mut Ctx, a: &Args) -> SysResult {
    const MLOCK_ONFAULT: u64 = 1;
    if a.0[2] & !MLOCK_ONFAULT != 0 {
        return Err(Errno::INVAL);
    }
    mlock_common(cx, a.0[0], a.0[1], a.0[2] & MLOCK_ONFAULT != 0)
}

pub fn sys_munlock(cx: &mut Ctx, a: &Args) -> SysResult {
    if a.0[1] == 0 {
        return Ok(0);
    }
    let (start, end) = lock_range(&cx.proc.mm, a.0[0], a.0[1])?;
    cx.proc.mm.set_locked(start, end, false)?;
    Ok(0)
}

pub fn sys_mlockall(cx: &mut Ctx, a: &Args) -> SysResult {
    const CURRENT: u64 = 1;
    const FUTURE: u64 = 2;
    const ONFAULT: u64 = 4;
    let flags = a.0[0];
    if flags == 0 || flags & !(CURRENT | FUTURE | ONFAULT) != 0 || flags == ONFAULT {
        return Err(Errno::INVAL);
    }
    if flags & CURRENT != 0 {
        let all: u64 = cx.proc.mm.vmas().map(|(s, v)| v.end - s).sum();
        let unlocked = all - cx.proc.mm.locked_bytes();
        may_lock(cx, unlocked)?;
        let ranges: Vec<(Gva, Gva)> = cx.proc.mm.vmas().map(|(s, v)| (s, v.end)).collect();
        for (s, e) in ranges {
            cx.proc.mm.set_locked(s, e, true)?;
            if flags & ONFAULT == 0 {
                commit_frames(cx, s, e)?;
            }
        }
    }
    cx.proc.mm.lock_future = flags & FUTURE != 0;
    Ok(0)
}

pub fn sys_munlockall(cx: &mut Ctx, _a: &Args) -> SysResult {
    let ranges: Vec<(Gva, Gva)> = cx.proc.mm.vmas().map(|(s, v)| (s, v.end)).collect();
    for (s, e) in ranges {
        cx.proc.mm.set_locked(s, e, false)?;
    }
    cx.proc.mm.lock_future = false;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_encoding_follows_prot() {
        let f = 0x20_0000;
        assert_eq!(leaf_for(f, 0), f, "PROT_NONE keeps the frame, not present");
        let r = leaf_for(f, PROT_READ);
        assert!(r & pte::PRESENT != 0 && r & pte::WRITABLE == 0 && r & pte::NX != 0);
        let rw = leaf_for(f, PROT_READ | PROT_WRITE);
        assert!(rw & pte::WRITABLE != 0 && rw & pte::NX != 0);
        let rx = leaf_for(f, PROT_READ | PROT_EXEC);
        assert!(rx & pte::NX == 0 && rx & pte::WRITABLE == 0);
    }
}
