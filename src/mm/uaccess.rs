//! The one way the host touches memory a program pointed at.
//!
//! Every access is checked like Linux's `access_ok` (no wrap, below
//! `USER_TOP`), then walked page by page through the guest's page tables:
//! present + user (+ writable for writes), frame inside RAM and in the frame
//! pool (never a kernel page). A buffer is copied once into host memory and
//! the copy is what the caller validates and uses.

use rustix::io::Errno;
use vm_memory::ByteValued;

use crate::vm::layout::{page_down, Gpa, Gva, PAGE_SIZE, USER_TOP};
use crate::vm::memory::{FrameAllocator, GuestRam};
use crate::vm::paging::{pte, PageTables};
use crate::vm::shared::SharedSlots;

/// Linux's `MAX_RW_COUNT`: one read/write moves at most this much.
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// `PATH_MAX`, including the NUL.
pub const PATH_MAX: usize = 4096;

/// A view of the program's address space.
pub struct UserMem<'a> {
    ram: &'a GuestRam,
    pt: PageTables,
    frames: &'a FrameAllocator,
    shared: &'a SharedSlots,
    /// The machine's TLB generation, bumped when a write replaced a
    /// copy-on-write page's frame.
    tlb_gen: Option<&'a std::sync::atomic::AtomicU64>,
    /// Where the stack may have a page made for the access.
    stack: Option<StackGrowth<'a>>,
}

/// Where an access may make a stack page that is not there yet, as
/// Linux's copy_to_user/copy_from_user fault on the stack does: in the
/// stack VMA, or below it down to `floor` (the stack grows: RLIMIT_STACK,
/// the guard gap above the mapping below). `Mm::stack_growth` makes it;
/// `Mm::settle_stack` extends the VMA down to `low` after the call.
#[derive(Clone, Copy)]
pub struct StackGrowth<'a> {
    /// The lowest page the stack may grow down to.
    pub floor: Gva,
    /// The stack VMA's start; pages below it are growth.
    pub start: Gva,
    /// The stack VMA's end.
    pub end: Gva,
    /// The leaf flags of a new page (its VMA's protection).
    pub flags: u64,
    /// The lowest page made below `start` (`u64::MAX`: none).
    pub low: &'a std::sync::atomic::AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// `access_ok`: the range lies entirely in the user half and does not wrap.
pub fn access_ok(addr: Gva, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= USER_TOP)
}

impl<'a> UserMem<'a> {
    pub fn new(
        ram: &'a GuestRam,
        pt: PageTables,
        frames: &'a FrameAllocator,
        shared: &'a SharedSlots,
    ) -> Self {
        Self {
            ram,
            pt,
            frames,
            shared,
            tlb_gen: None,
            stack: None,
        }
    }

    /// The same view, making the stack's missing pages as they are touched.
    pub fn with_stack(mut self, stack: Option<StackGrowth<'a>>) -> Self {
        self.stack = stack;
        self
    }

    /// Make the missing stack page at `page` for `access` (a zero frame,
    /// the stack VMA's protection): true if it is there now.
    fn grow(&self, page: Gva, access: Access) -> bool {
        let Some(g) = self.stack else {
            return false;
        };
        let need = match access {
            Access::Read => pte::PRESENT | pte::USER,
            Access::Write => pte::PRESENT | pte::USER | pte::WRITABLE,
        };
        if page < g.floor || page >= g.end || g.flags & need != need {
            return false;
        }
        if self.pt.leaf(self.ram, page).unwrap_or(0) & pte::ADDR_MASK != 0 {
            return false; // there, and not accessible this way
        }
        // Pool frames are zero when free.
        let Some(frame) = self.frames.alloc() else {
            return false;
        };
        if self
            .pt
            .set_leaf(self.ram, self.frames, page, frame | g.flags)
            .is_err()
        {
            self.frames.free(frame);
            return false;
        }
        if page < g.start {
            g.low.fetch_min(page, std::sync::atomic::Ordering::Relaxed);
        }
        true
    }

    /// The same view, bumping `gen` when a write copies a shared page.
    pub fn with_tlb_gen(mut self, gen: &'a std::sync::atomic::AtomicU64) -> Self {
        self.tlb_gen = Some(gen);
        self
    }

    /// The GPA of the page containing `addr`, if the program may access it.
    /// A write to a copy-on-write page (shared since a fork) first gets
    /// this address space its own copy, as the program's own write would.
    fn page(&self, addr: Gva, access: Access) -> Option<Gpa> {
        let mut t = match self.pt.translate(self.ram, page_down(addr)) {
            Some(t) => t,
            None if self.grow(page_down(addr), access) => {
                self.pt.translate(self.ram, page_down(addr))?
            }
            None => return None,
        };
        if t.user && access == Access::Write && !t.writable && t.cow {
            let old = self
                .pt
                .break_cow(self.ram, self.frames, page_down(addr))
                .ok()?;
            if let Some(old) = old {
                self.ram.drop_cached_translations(old, PAGE_SIZE);
                if let Some(g) = self.tlb_gen {
                    g.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                }
            }
            t = self.pt.translate(self.ram, page_down(addr))?;
        }
        if !t.user || (access == Access::Write && !t.writable) {
            return None;
        }
        if !self.frames.is_pool_frame(t.frame) && !self.shared.contains(t.frame) {
            return None;
        }
        Some(t.frame)
    }

    /// Walk `[addr, addr+len)` page by page, calling `f(gpa, offset, n)`
    /// for each accessible piece; stops at the first inaccessible page.
    /// Returns the number of bytes covered.
    fn walk(
        &self,
        addr: Gva,
        len: u64,
        access: Access,
        mut f: impl FnMut(Gpa, usize, usize) -> bool,
    ) -> u64 {
        if !access_ok(addr, len) {
            return 0;
        }
        let mut done = 0u64;
        while done < len {
            let cur = addr + done;
            let in_page = PAGE_SIZE - (cur & (PAGE_SIZE - 1));
            let n = in_page.min(len - done);
            let Some(frame) = self.page(cur, access) else {
                break;
            };
            if !f(frame + (cur & (PAGE_SIZE - 1)), done as usize, n as usize) {
                break;
            }
            done += n;
        }
        done
    }

    /// Replace the aligned, writable u32 at `addr` by `f(old)`, atomically
    /// against the other vCPUs for a word in RAM (futex word updates);
    /// the old value. A word of a shared file mapping is read, then
    /// written. EFAULT if it is not writable.
    pub fn update_u32(&self, addr: Gva, f: impl Fn(u32) -> u32) -> Result<u32, Errno> {
        if addr % 4 != 0 || !access_ok(addr, 4) {
            return Err(Errno::FAULT);
        }
        let gpa = self.page(addr, Access::Write).ok_or(Errno::FAULT)? + (addr & (PAGE_SIZE - 1));
        if let Some(old) = self.ram.update_u32(gpa, &f) {
            return Ok(old);
        }
        let old = self.read_obj::<u32>(addr)?;
        self.write_obj(addr, &f(old))?;
        Ok(old)
    }

    /// Copy as much of `[addr, ..)` into `buf` as is readable; returns the
    /// count (short at the first unreadable page).
    pub fn read_prefix(&self, addr: Gva, buf: &mut [u8]) -> usize {
        let (ram, shared) = (self.ram, self.shared);
        self.walk(addr, buf.len() as u64, Access::Read, |gpa, off, n| {
            if ram.contains(gpa, n as u64) {
                ram.read(gpa, &mut buf[off..off + n])
            } else {
                shared.read(gpa, &mut buf[off..off + n])
            }
        }) as usize
    }

    /// Copy all of `buf.len()` bytes from `addr`, or EFAULT.
    pub fn read(&self, addr: Gva, buf: &mut [u8]) -> Result<(), Errno> {
        if self.read_prefix(addr, buf) == buf.len() {
            Ok(())
        } else {
            Err(Errno::FAULT)
        }
    }

    /// Read `len` bytes into a new buffer, or EFAULT.
    pub fn read_vec(&self, addr: Gva, len: usize) -> Result<Vec<u8>, Errno> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Copy as much of `buf` to `addr` as is writable; returns the count.
    pub fn write_prefix(&self, addr: Gva, buf: &[u8]) -> usize {
        let (ram, shared) = (self.ram, self.shared);
        self.walk(addr, buf.len() as u64, Access::Write, |gpa, off, n| {
            if ram.contains(gpa, n as u64) {
                ram.write(gpa, &buf[off..off + n])
            } else {
                shared.write(gpa, &buf[off..off + n])
            }
        }) as usize
    }

    /// Copy all of `buf` to `addr`, or EFAULT (possibly after a partial copy,
    /// as Linux's `copy_to_user`).
    pub fn write(&self, addr: Gva, buf: &[u8]) -> Result<(), Errno> {
        if self.write_prefix(addr, buf) == buf.len() {
            Ok(())
        } else {
            Err(Errno::FAULT)
        }
    }

    /// How many bytes from `addr` (up to `len`) are writable.
    pub fn writable_len(&self, addr: Gva, len: u64) -> u64 {
        self.walk(addr, len, Access::Write, |_, _, _| true)
    }

    /// How many bytes from `addr` (up to `len`) are readable.
    pub fn readable_len(&self, addr: Gva, len: u64) -> u64 {
        self.walk(addr, len, Access::Read, |_, _, _| true)
    }

    pub fn read_obj<T: ByteValued + Default>(&self, addr: Gva) -> Result<T, Errno> {
        let mut v = T::default();
        self.read(addr, v.as_mut_slice())?;
        Ok(v)
    }

    pub fn write_obj<T: ByteValued>(&self, addr: Gva, val: &T) -> Result<(), Errno> {
        self.write(addr, val.as_slice())
    }

    /// A NUL-terminated string of at most `max` bytes including the NUL:
    /// EFAULT if it runs into an unreadable page first, ENAMETOOLONG if no
    /// NUL comes within `max`.
    pub fn read_cstr(&self, addr: Gva, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut cur = addr;
        loop {
            let in_page = (PAGE_SIZE - (cur & (PAGE_SIZE - 1))) as usize;
            let want = in_page.min(max - out.len());
            let mut chunk = vec![0u8; want];
            let got = self.read_prefix(cur, &mut chunk);
            if let Some(nul) = chunk[..got].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(out);
            }
            if got < want {
                return Err(Errno::FAULT);
            }
            out.extend_from_slice(&chunk);
            if out.len() >= max {
                return Err(Errno::NAMETOOLONG);
            }
            cur = cur.checked_add(want as u64).ok_or(Errno::FAULT)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::layout::MIN_MEM_SIZE;

    struct Fixture {
        ram: GuestRam,
        frames: FrameAllocator,
        pt: PageTables,
        shared: SharedSlots,
    }

    /// Two user pages at 0x10000 (RW) and 0x11000 (read-only), a hole at
    /// 0x12000.
    fn fixture() -> Fixture {
        let ram = GuestRam::new(MIN_MEM_SIZE).unwrap();
        let frames = FrameAllocator::new(MIN_MEM_SIZE);
        let pt = PageTables::new(frames.alloc().unwrap());
        let rw = frames.alloc().unwrap();
        let ro = frames.alloc().unwrap();
        pt.map(
            &ram,
            &frames,
            0x10000,
            rw,
            pte::USER | pte::WRITABLE | pte::NX,
        )
        .unwrap();
        pt.map(&ram, &frames, 0x11000, ro, pte::USER | pte::NX)
            .unwrap();
        Fixture {
            ram,
            frames,
            pt,
            shared: SharedSlots::new(1 << 32, 1 << 36),
        }
    }

    #[test]
    fn reads_and_writes_across_pages_stop_at_holes_and_readonly() {
        let f = fixture();
        let u = UserMem::new(&f.ram, f.pt, &f.frames, &f.shared);
        let data: Vec<u8> = (0..100).collect();
        assert_eq!(
            u.write_prefix(0x10fd0, &data),
            0x30,
            "stops at the read-only page"
        );
        assert_eq!(u.write(0x10fd0, &data), Err(Errno::FAULT));
        let mut back = [0u8; 0x30];
        u.read(0x10fd0, &mut back).unwrap();
        assert_eq!(&back[..], &data[..0x30]);
        let mut big = vec![0u8; 0x2000];
        assert_eq!(
            u.read_prefix(0x10800, &mut big),
            0x1800,
            "stops at the hole"
        );
        assert_eq!(u.writable_len(0x10000, 0x3000), 0x1000);
        assert_eq!(u.readable_len(0x10000, 0x3000), 0x2000);
    }

    #[test]
    fn rejects_kernel_noncanonical_and_wrapping_ranges() {
        let f = fixture();
        let u = UserMem::new(&f.ram, f.pt, &f.frames, &f.shared);
        let mut b = [0u8; 8];
        for addr in [
            0xffff_8000_0000_0000,
            0x8000_0000_0000,
            u64::MAX - 3,
            0,
            0xffff_ffff_8000_0000,
        ] {
            assert_eq!(u.read(addr, &mut b), Err(Errno::FAULT), "{addr:#x}");
        }
        assert!(!access_ok(0x10000, u64::MAX));
        assert_eq!(u.writable_len(0x10000, u64::MAX), 0);
    }

    #[test]
    fn cstr_faults_and_length_limits() {
        let f = fixture();
        let u = UserMem::new(&f.ram, f.pt, &f.frames, &f.shared);
        u.write(0x10ff0, b"0123456789abcdef").unwrap();
        // No NUL before the read-only page, which is zero: ends there.
        assert_eq!(u.read_cstr(0x10ff0, 4096).unwrap(), b"0123456789abcdef");
        assert_eq!(u.read_cstr(0x10ff0, 8), Err(Errno::NAMETOOLONG));
        // A string running into the hole faults.
        let page = vec![b'x'; 4096];
        u.write(0x10000, &page).unwrap();
        f.ram
            .write(f.pt.translate(&f.ram, 0x11000).unwrap().frame, &page);
        assert_eq!(u.read_cstr(0x10000, 16384), Err(Errno::FAULT));
    }
}
