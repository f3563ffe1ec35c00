//! /proc/PID/mem and /proc/PID/pagemap of the caller's own process
//! (/proc/self, /proc/thread-self, a task directory of its own): files
//! whose offsets are addresses of the process's memory.
//!
//! mem reads and writes the memory as ptrace's FOLL_FORCE does: a read
//! sees any mapped page, PROT_NONE too; a write reaches a read-only
//! private page (never a shared read-only one, nor one still shared with
//! another process). Both stop at the first unmapped page (EIO when it is
//! the first). pagemap gives 8 bytes per page: bit 63 present (the page
//! has memory, as mincore says), 61 file or shared, 56 mapped by this
//! process only; page frame numbers (guest-physical) only to root in
//! the sandbox, as Linux shows them only with CAP_SYS_ADMIN.
//!
//! A descriptor is bound to the process that opened it: another process
//! that inherits it (fork) reads EIO, as if the opener's memory were gone.

use super::fs::{FileKind, OpenFile};
use super::mm::VmaKind;
use super::{Ctx, SysResult};
use crate::vm::layout::{page_down, Gva, PAGE_SIZE, USER_TOP};
use crate::vm::paging::pte;
use rustix::io::Errno;

/// Which file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemFile {
    Mem,
    Pagemap,
}

/// Each pagemap entry's size.
const ENTRY: u64 = 8;
const PM_PRESENT: u64 = 1 << 63;
const PM_FILE: u64 = 1 << 61;
const PM_EXCLUSIVE: u64 = 1 << 56;
const PM_PFN: u64 = (1 << 55) - 1;

/// The frame behind `page`, if it has one (present, or PROT_NONE with
/// its frame kept).
fn frame_of(cx: &Ctx, page: Gva) -> Option<u64> {
    let frame = cx.proc.mm.pt.leaf(cx.m.ram(), page).unwrap_or(0) & pte::ADDR_MASK;
    (frame != 0).then_some(frame)
}

/// Whether `file` is bound to the calling process.
fn own(cx: &Ctx, pid: u32) -> Result<(), Errno> {
    if cx.proc.id.pid == pid {
        Ok(())
    } else {
        Err(Errno::IO)
    }
}

/// read/pread of `file` at `pos`: up to `count` bytes to the program's
/// `buf`; the bytes done.
pub fn read(
    cx: &mut Ctx,
    file: &OpenFile,
    which: MemFile,
    pid: u32,
    pos: u64,
    buf: u64,
    count: u64,
) -> SysResult {
    own(cx, pid)?;
    match which {
        MemFile::Mem => read_mem(cx, pos, buf, count),
        MemFile::Pagemap => read_pagemap(cx, file, pos, buf, count),
    }
}

/// What one page's piece of a /proc/PID/mem transfer came to.
enum Piece {
    /// All of it.
    Done,
    /// Only this much: the program's buffer faulted.
    Short(usize),
    /// Nothing: the page cannot be reached.
    Stop,
}

/// Walk `[pos, pos+count)` of the address space a page at a time, as
/// Linux's access_remote_vm: `piece(addr, done, n)` moves the `n` bytes at
/// `addr`, `done` into the transfer. EFAULT when the program's buffer
/// faults before anything moved, EIO when the first page cannot be
/// reached, else the bytes moved.
fn by_pages(pos: u64, count: u64, mut piece: impl FnMut(Gva, u64, usize) -> Piece) -> SysResult {
    let mut done = 0u64;
    while done < count {
        let addr = pos.wrapping_add(done);
        if addr >= USER_TOP {
            break;
        }
        let n = (PAGE_SIZE - (addr & (PAGE_SIZE - 1))).min(count - done) as usize;
        match piece(addr, done, n) {
            Piece::Done => done += n as u64,
            Piece::Short(w) => {
                done += w as u64;
                if done == 0 {
                    return Err(Errno::FAULT);
                }
                break;
            }
            Piece::Stop => break,
        }
    }
    if done == 0 && count > 0 {
        return Err(Errno::IO);
    }
    Ok(done)
}

fn read_mem(cx: &mut Ctx, pos: u64, buf: u64, count: u64) -> SysResult {
    let mut tmp = [0u8; PAGE_SIZE as usize];
    by_pages(pos, count, |addr, done, n| {
        let off = addr & (PAGE_SIZE - 1);
        let Some(frame) = frame_of(cx, page_down(addr)) else {
            return Piece::Stop;
        };
        let ok = if cx.m.frames().is_pool_frame(frame) {
            cx.m.ram().read(frame + off, &mut tmp[..n])
        } else {
            cx.m.shared().read(frame + off, &mut tmp[..n])
        };
        if !ok {
            return Piece::Stop;
        }
        match cx.user().write_prefix(buf + done, &tmp[..n]) {
            w if w < n => Piece::Short(w),
            _ => Piece::Done,
        }
    })
}

fn read_pagemap(cx: &mut Ctx, _file: &OpenFile, pos: u64, buf: u64, count: u64) -> SysResult {
    if pos % ENTRY != 0 || count % ENTRY != 0 {
        return Err(Errno::INVAL);
    }
    // One page-table walk per entry: a call answers at most 1 MiB of
    // entries (512 MiB of address space), a short read as read(2) allows.
    let count = count.min(1 << 20);
    let mut done = 0u64;
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    while done < count {
        let page = (pos / ENTRY + done / ENTRY).saturating_mul(PAGE_SIZE);
        if page >= USER_TOP {
            break;
        }
        let mut e = 0u64;
        let leaf = cx.proc.mm.pt.leaf(cx.m.ram(), page).unwrap_or(0);
        let frame = leaf & pte::ADDR_MASK;
        if frame != 0 {
            let kind = cx.proc.mm.find(page).map(|(_, v)| v.kind);
            if super::mm::resident(cx.m, leaf) {
                e = PM_PRESENT;
                if matches!(kind, Some(VmaKind::Shared { .. } | VmaKind::File { .. })) {
                    e |= PM_FILE;
                }
                if cx.m.frames().is_pool_frame(frame) && cx.m.frames().refs(frame) <= 1 {
                    e |= PM_EXCLUSIVE;
                }
                // Root in the sandbox sees the frame number, as a program
                // with CAP_SYS_ADMIN does: a guest-physical one, which
                // tells nothing of the host.
                if cx.proc.id.uid == 0 {
                    e |= (frame >> 12) & PM_PFN;
                }
            }
        }
        out.extend_from_slice(&e.to_le_bytes());
        done += ENTRY;
        if out.len() == 4096 || done == count {
            let at = buf + done - out.len() as u64;
            let w = cx.user().write_prefix(at, &out);
            if w < out.len() {
                let got = done - out.len() as u64 + (w as u64 - w as u64 % ENTRY);
                return if got == 0 { Err(Errno::FAULT) } else { Ok(got) };
            }
            out.clear();
        }
    }
    if !out.is_empty() {
        let at = buf + done - out.len() as u64;
        cx.user().write(at, &out)?;
    }
    Ok(done)
}

/// write/pwrite of /proc/PID/mem at `pos` from the program's `buf`.
pub fn write(cx: &mut Ctx, which: MemFile, pid: u32, pos: u64, buf: u64, count: u64) -> SysResult {
    own(cx, pid)?;
    if which != MemFile::Mem {
        return Err(Errno::BADF);
    }
    let mut tmp = [0u8; PAGE_SIZE as usize];
    by_pages(pos, count, |addr, done, n| {
        if cx.user().read_prefix(buf + done, &mut tmp[..n]) < n {
            Piece::Short(0)
        } else if force_write(cx, addr, &tmp[..n]) {
            Piece::Done
        } else {
            Piece::Stop
        }
    })
}

/// Store `data` at `addr` (within one page) as FOLL_FORCE does.
fn force_write(cx: &mut Ctx, addr: Gva, data: &[u8]) -> bool {
    let page = page_down(addr);
    let Some((_, v)) = cx.proc.mm.find(page) else {
        return false;
    };
    let writable = v.prot & libc::PROT_WRITE as u32 != 0;
    if writable {
        // The program's own store: copy-on-write and shared mappings as
        // uaccess does them.
        return cx.user().write_prefix(addr, data) == data.len();
    }
    if matches!(v.kind, VmaKind::Shared { .. }) {
        return false;
    }
    let Some(frame) = frame_of(cx, page) else {
        return false;
    };
    // A private page only this process has: written in place (the vDSO's
    // and other shared frames are not the pool's, or have other users).
    if !cx.m.frames().is_pool_frame(frame) || cx.m.frames().refs(frame) > 1 {
        return false;
    }
    cx.m.ram().write(frame + (addr - page), data)
}

/// The open file for /proc/PID/mem or pagemap of the calling process.
pub fn open(cx: &Ctx, which: MemFile, path: Vec<u8>, status: u32) -> OpenFile {
    OpenFile::new(
        FileKind::Mem {
            which,
            pid: cx.proc.id.pid,
        },
        path,
        status,
    )
}
