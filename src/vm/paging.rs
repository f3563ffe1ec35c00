//! 4-level x86-64 page tables, built and edited by the host.
//!
//! The host is the only writer: the tables are not mapped into the guest at
//! all, so neither ring 3 nor the stub can change them. Every table address
//! read back from guest RAM is still bounds-checked (a host bug must not turn
//! into a wild access), and one walker serves both the mapping code and
//! `uaccess`.

use thiserror::Error;

use super::layout::{Gpa, Gva, PAGE_SIZE};
use super::memory::{FrameAllocator, GuestRam};

/// Page-table entry bits (Intel SDM vol. 3A, 4.5).
pub mod pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITABLE: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const ACCESSED: u64 = 1 << 5;
    pub const DIRTY: u64 = 1 << 6;
    pub const HUGE: u64 = 1 << 7;
    pub const GLOBAL: u64 = 1 << 8;
    pub const NX: u64 = 1 << 63;
    /// Software bit (ignored by the MMU): a private writable page whose
    /// frame other address spaces share since a fork. It is mapped
    /// read-only; the first write gets this address space its own copy
    /// (`PageTables::break_cow`).
    pub const COW: u64 = 1 << 9;
    /// Physical-address bits of an entry (52-bit MAXPHYADDR).
    pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
    /// Flags of an intermediate (non-leaf) entry: permissions are decided at
    /// the leaf.
    pub const TABLE: u64 = PRESENT | WRITABLE | USER | ACCESSED;
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PagingError {
    #[error("out of guest memory for page tables")]
    OutOfFrames,
    #[error("page table at GPA {0:#x} lies outside guest RAM")]
    BadTable(Gpa),
    #[error("address {0:#x} is not canonical or not page-aligned")]
    BadAddress(Gva),
}

/// The leaf a walk found, with the permissions of the whole path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Frame (page-aligned GPA) the page maps to.
    pub frame: Gpa,
    pub writable: bool,
    pub user: bool,
    pub executable: bool,
    /// Copy-on-write: read-only until this space gets its own copy.
    pub cow: bool,
}

/// Index into the table of `level` (4 = PML4 .. 1 = PT) for `gva`.
fn index(gva: Gva, level: u32) -> u64 {
    (gva >> (12 + 9 * (level - 1))) & 0x1ff
}

/// Is `gva` canonical for 4-level paging?
pub fn is_canonical(gva: Gva) -> bool {
    let top = gva >> 47;
    top == 0 || top == 0x1ffff
}

/// The guest's page tables, rooted at `pml4`.
#[derive(Clone, Copy, Debug)]
pub struct PageTables {
    pml4: Gpa,
}

impl PageTables {
    pub fn new(pml4: Gpa) -> Self {
        Self { pml4 }
    }

    pub fn root(&self) -> Gpa {
        self.pml4
    }

    fn read_entry(ram: &GuestRam, table: Gpa, idx: u64) -> Result<u64, PagingError> {
        ram.read_u64(table + idx * 8)
            .ok_or(PagingError::BadTable(table))
    }

    fn write_entry(ram: &GuestRam, table: Gpa, idx: u64, val: u64) -> Result<(), PagingError> {
        if ram.write_u64(table + idx * 8, val) {
            Ok(())
        } else {
            Err(PagingError::BadTable(table))
        }
    }

    /// The GPA of the level-1 table for `gva`, creating missing tables with
    /// frames from `alloc` when `create` is set.
    fn leaf_table(
        &self,
        ram: &GuestRam,
        alloc: Option<&FrameAllocator>,
        gva: Gva,
    ) -> Result<Option<Gpa>, PagingError> {
        if !is_canonical(gva) || gva % PAGE_SIZE != 0 {
            return Err(PagingError::BadAddress(gva));
        }
        let mut table = self.pml4;
        for level in (2..=4).rev() {
            let idx = index(gva, level);
            let entry = Self::read_entry(ram, table, idx)?;
            if entry & pte::PRESENT != 0 {
                if entry & pte::HUGE != 0 {
                    return Err(PagingError::BadTable(table));
                }
                table = entry & pte::ADDR_MASK;
                if !ram.contains(table, PAGE_SIZE) {
                    return Err(PagingError::BadTable(table));
                }
                continue;
            }
            let Some(a) = alloc else {
                return Ok(None);
            };
            let frame = a.alloc_table().ok_or(PagingError::OutOfFrames)?;
            Self::write_entry(ram, table, idx, frame | pte::TABLE)?;
            table = frame;
        }
        Ok(Some(table))
    }

    /// The first page at or after `gva` and before `end` that a level-1
    /// table covers (`end` if none). Absent upper-level entries are skipped
    /// whole, so a loop over a range's pages that only cares about existing
    /// entries costs what is mapped, not the range's length (a 2^46-byte
    /// PROT_NONE reservation has no tables at all).
    pub fn next_covered(&self, ram: &GuestRam, gva: Gva, end: Gva) -> Gva {
        let mut gva = gva;
        'walk: while gva < end {
            let mut table = self.pml4;
            for level in (2..=4).rev() {
                let entry = Self::read_entry(ram, table, index(gva, level)).unwrap_or(0);
                let next = entry & pte::ADDR_MASK;
                if entry & pte::PRESENT == 0
                    || entry & pte::HUGE != 0
                    || !ram.contains(next, PAGE_SIZE)
                {
                    let span = 1u64 << (12 + 9 * (level - 1));
                    match (gva & !(span - 1)).checked_add(span) {
                        Some(n) => gva = n,
                        None => return end,
                    }
                    continue 'walk;
                }
                table = next;
            }
            return gva;
        }
        end
    }

    /// The raw leaf entry for `gva` (0 when no table covers it).
    pub fn leaf(&self, ram: &GuestRam, gva: Gva) -> Result<u64, PagingError> {
        match self.leaf_table(ram, None, gva)? {
            Some(table) => Self::read_entry(ram, table, index(gva, 1)),
            None => Ok(0),
        }
    }

    /// Write the raw leaf entry for `gva`, creating tables as needed; returns
    /// the entry it replaced. A non-present entry may keep a frame address
    /// (a PROT_NONE page that still owns its memory).
    pub fn set_leaf(
        &self,
        ram: &GuestRam,
        alloc: &FrameAllocator,
        gva: Gva,
        raw: u64,
    ) -> Result<u64, PagingError> {
        let table = match self.leaf_table(ram, None, gva)? {
            Some(t) => t,
            None if raw == 0 => return Ok(0),
            None => self
                .leaf_table(ram, Some(alloc), gva)?
                .ok_or(PagingError::OutOfFrames)?,
        };
        let idx = index(gva, 1);
        let old = Self::read_entry(ram, table, idx)?;
        Self::write_entry(ram, table, idx, raw)?;
        Ok(old)
    }

    /// Free the tables of the user half (PML4 entries 0..256), whose leaves
    /// the caller has already cleared and released, and clear their
    /// entries: what an address space that ends gives back. The PML4
    /// itself stays (the caller frees it if it is a pool frame).
    pub fn free_user_tables(&self, ram: &GuestRam, frames: &FrameAllocator) {
        self.free_tables(ram, frames, 0..256);
    }

    /// Free the tables under the PML4 entries `range` (their leaves already
    /// released) and clear those entries.
    pub fn free_tables(
        &self,
        ram: &GuestRam,
        frames: &FrameAllocator,
        range: std::ops::Range<u64>,
    ) {
        fn free_table(ram: &GuestRam, frames: &FrameAllocator, table: Gpa, level: u32) {
            if level > 1 {
                for i in 0..512 {
                    let e = ram.read_u64(table + i * 8).unwrap_or(0);
                    let next = e & pte::ADDR_MASK;
                    if e & pte::PRESENT != 0 && frames.is_pool_frame(next) {
                        free_table(ram, frames, next, level - 1);
                    }
                }
            }
            if ram.zero(table, PAGE_SIZE) {
                frames.free(table);
            }
        }
        for i in range {
            let e = ram.read_u64(self.pml4 + i * 8).unwrap_or(0);
            let next = e & pte::ADDR_MASK;
            if e & pte::PRESENT != 0 && frames.is_pool_frame(next) {
                free_table(ram, frames, next, 3);
            }
            ram.write_u64(self.pml4 + i * 8, 0);
        }
    }

    /// Make the copy-on-write page at `gva` writable for this address
    /// space: in place when it is the frame's last owner, else in a copy
    /// of the frame (the old one loses an owner). `Some(old)` when the
    /// entry now maps a new frame, whose old translations the caller must
    /// drop; `None` when it became writable in place (an upgrade: nothing
    /// to drop). An error when the entry is not copy-on-write or no frame
    /// is left.
    pub fn break_cow(
        &self,
        ram: &GuestRam,
        frames: &FrameAllocator,
        gva: Gva,
    ) -> Result<Option<Gpa>, PagingError> {
        let Some(table) = self.leaf_table(ram, None, gva)? else {
            return Err(PagingError::BadAddress(gva));
        };
        let idx = index(gva, 1);
        let old = Self::read_entry(ram, table, idx)?;
        let want = pte::PRESENT | pte::USER | pte::COW;
        if old & want != want {
            return Err(PagingError::BadAddress(gva));
        }
        let frame = old & pte::ADDR_MASK;
        let flags = (old & !pte::ADDR_MASK & !pte::COW) | pte::WRITABLE;
        if frames.refs(frame) <= 1 {
            Self::write_entry(ram, table, idx, frame | flags)?;
            return Ok(None);
        }
        let copy = frames.alloc().ok_or(PagingError::OutOfFrames)?;
        let mut page = vec![0u8; PAGE_SIZE as usize];
        if !ram.read(frame, &mut page) || !ram.write(copy, &page) {
            frames.free(copy);
            return Err(PagingError::BadTable(frame));
        }
        Self::write_entry(ram, table, idx, copy | flags)?;
        if frames.put(frame) {
            // Its other owners went meanwhile (not under the machine lock:
            // cannot happen); it is this space's to free.
            ram.zero(frame, PAGE_SIZE);
            frames.free(frame);
        }
        Ok(Some(frame))
    }

    /// Map the page at `gva` to `frame` with leaf flags `flags`
    /// (PRESENT is implied). Returns the entry it replaced (0 if none).
    pub fn map(
        &self,
        ram: &GuestRam,
        alloc: &FrameAllocator,
        gva: Gva,
        frame: Gpa,
        flags: u64,
    ) -> Result<u64, PagingError> {
        let table = self
            .leaf_table(ram, Some(alloc), gva)?
            .ok_or(PagingError::OutOfFrames)?;
        let idx = index(gva, 1);
        let old = Self::read_entry(ram, table, idx)?;
        let new = (frame & pte::ADDR_MASK) | flags | pte::PRESENT | pte::ACCESSED | pte::DIRTY;
        Self::write_entry(ram, table, idx, new)?;
        Ok(old)
    }

    /// Remove the mapping of `gva`; returns the frame it mapped, if any.
    pub fn unmap(&self, ram: &GuestRam, gva: Gva) -> Result<Option<Gpa>, PagingError> {
        let Some(table) = self.leaf_table(ram, None, gva)? else {
            return Ok(None);
        };
        let idx = index(gva, 1);
        let old = Self::read_entry(ram, table, idx)?;
        if old & pte::PRESENT == 0 {
            return Ok(None);
        }
        Self::write_entry(ram, table, idx, 0)?;
        Ok(Some(old & pte::ADDR_MASK))
    }

    /// Change the leaf flags of a mapped page; `false` if it is not mapped.
    pub fn protect(&self, ram: &GuestRam, gva: Gva, flags: u64) -> Result<bool, PagingError> {
        let Some(table) = self.leaf_table(ram, None, gva)? else {
            return Ok(false);
        };
        let idx = index(gva, 1);
        let old = Self::read_entry(ram, table, idx)?;
        if old & pte::PRESENT == 0 {
            return Ok(false);
        }
        let new = (old & pte::ADDR_MASK) | flags | pte::PRESENT | pte::ACCESSED | pte::DIRTY;
        Self::write_entry(ram, table, idx, new)?;
        Ok(true)
    }

    /// Walk the tables for `gva` as the MMU would. `None` if any level is not
    /// present, a table lies outside RAM, or a large page is found (the host
    /// never makes one). The leaf frame may lie outside RAM (a shared slot).
    pub fn translate(&self, ram: &GuestRam, gva: Gva) -> Option<Translation> {
        if !is_canonical(gva) {
            return None;
        }
        let mut table = self.pml4;
        let (mut writable, mut user, mut executable) = (true, true, true);
        let mut cow = false;
        for level in (1..=4).rev() {
            let entry = Self::read_entry(ram, table, index(gva, level)).ok()?;
            cow = entry & pte::COW != 0;
            if entry & pte::PRESENT == 0 {
                return None;
            }
            if level > 1 && entry & pte::HUGE != 0 {
                return None;
            }
            writable &= entry & pte::WRITABLE != 0;
            user &= entry & pte::USER != 0;
            executable &= entry & pte::NX == 0;
            table = entry & pte::ADDR_MASK;
            // Page tables live in RAM; a leaf may also be a shared slot's
            // page above it (the caller checks what the frame is).
            if level > 1 && !ram.contains(table, PAGE_SIZE) {
                return None;
            }
        }
        Some(Translation {
            frame: table,
            writable,
            user,
            executable,
            cow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::layout::{FRAME_POOL_START, MIN_MEM_SIZE};

    fn setup() -> (GuestRam, FrameAllocator, PageTables) {
        let ram = GuestRam::new(MIN_MEM_SIZE).unwrap();
        let alloc = FrameAllocator::new(MIN_MEM_SIZE);
        let pml4 = alloc.alloc().unwrap();
        (ram, alloc, PageTables::new(pml4))
    }

    #[test]
    fn next_covered_skips_absent_tables() {
        let (ram, frames, pt) = setup();
        let base = 0x40_0000_0000u64; // 256 GiB: its own PML4 entry
        let f = frames.alloc().unwrap();
        pt.map(&ram, &frames, base + 0x20_0000, f, pte::USER)
            .unwrap();
        assert_eq!(pt.next_covered(&ram, 0x1000, 1 << 46), base + 0x20_0000);
        assert_eq!(
            pt.next_covered(&ram, base + 0x20_0000 + 0x3000, 1 << 46),
            base + 0x20_3000
        );
        assert_eq!(pt.next_covered(&ram, base + 0x40_0000, 1 << 46), 1 << 46);
    }

    #[test]
    fn map_translate_protect_unmap() {
        let (ram, alloc, pt) = setup();
        let frame = alloc.alloc().unwrap();
        let gva = 0x40_0000;
        assert_eq!(pt.translate(&ram, gva), None);
        pt.map(
            &ram,
            &alloc,
            gva,
            frame,
            pte::USER | pte::WRITABLE | pte::NX,
        )
        .unwrap();
        let t = pt.translate(&ram, gva).unwrap();
        assert_eq!(t.frame, frame);
        assert!(t.writable && t.user && !t.executable);
        assert!(pt.protect(&ram, gva, pte::USER).unwrap());
        let t = pt.translate(&ram, gva).unwrap();
        assert!(!t.writable && t.executable);
        assert_eq!(pt.unmap(&ram, gva).unwrap(), Some(frame));
        assert_eq!(pt.translate(&ram, gva), None);
        assert_eq!(pt.unmap(&ram, gva).unwrap(), None);
    }

    #[test]
    fn rejects_noncanonical_and_bad_tables() {
        let (ram, alloc, pt) = setup();
        assert_eq!(
            pt.map(&ram, &alloc, 0x8000_0000_0000, FRAME_POOL_START, 0),
            Err(PagingError::BadAddress(0x8000_0000_0000))
        );
        assert_eq!(pt.translate(&ram, 0x8000_0000_0000), None);
        // A PML4 entry pointing past RAM is refused by the walker.
        ram.write_u64(pt.root(), 0x7fff_ffff_f000 | pte::TABLE);
        assert_eq!(pt.translate(&ram, 0x1000), None);
        assert!(pt.map(&ram, &alloc, 0x1000, FRAME_POOL_START, 0).is_err());
    }

    #[test]
    fn map_fails_cleanly_when_out_of_frames() {
        let (ram, alloc, pt) = setup();
        while alloc.alloc().is_some() {}
        assert_eq!(
            pt.map(&ram, &alloc, 0x40_0000, FRAME_POOL_START, 0),
            Err(PagingError::OutOfFrames)
        );
    }
}
