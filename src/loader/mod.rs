//! Loading a static x86-64 ELF (ET_EXEC or static-pie ET_DYN) into the guest
//! and building its initial stack (System V ABI, section 3.4.1).
//!
//! The ELF file is input the user handed us, but it may be hostile too: every
//! header field is checked against the file size and the user half before
//! anything is mapped, and a bad file is a `LoadError` (exit status 125), not
//! a panic.

mod stack;
mod vdso;

use linux_loader::elf::{Elf64_Ehdr, Elf64_Phdr};
use thiserror::Error;
use vm_memory::ByteValued;

pub use stack::{build_stack, strings_size, StackInfo, MAX_ARG_BYTES};
pub use vdso::{map_vdso, VDSO_CLOCK_GETTIME, VDSO_IMAGE};

use crate::kernel::mm::{Mm, VmaKind};
use crate::vm::layout::{page_down, page_up, Gva, PAGE_SIZE, PIE_BASE, USER_MIN, USER_TOP};
use crate::vm::Machine;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
const EM_386: u16 = 3;
/// Linux refuses more program headers than fit in 64 KiB.
const MAX_PHNUM: usize = 65536 / std::mem::size_of::<Elf64_Phdr>();

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{0}: not an ELF file")]
    NotElf(String),
    #[error("{path}: {what}")]
    Unsupported { path: String, what: String },
    #[error("{path}: malformed ELF: {what}")]
    Malformed { path: String, what: String },
    #[error("{path}: does not fit in guest memory (raise --mem): {what}")]
    NoMemory { path: String, what: String },
}

/// Where the program ended up.
#[derive(Clone, Debug)]
pub struct LoadedElf {
    pub entry: Gva,
    /// Load bias (0 for ET_EXEC).
    pub bias: u64,
    pub phdr: Gva,
    pub phnum: u64,
    pub phent: u64,
    /// First address past the highest segment, page-aligned (initial brk).
    pub brk: Gva,
    pub exec_stack: bool,
}

fn read_struct<T: ByteValued + Default>(data: &[u8], off: u64) -> Option<T> {
    let off = usize::try_from(off).ok()?;
    let end = off.checked_add(std::mem::size_of::<T>())?;
    let src = data.get(off..end)?;
    let mut v = T::default();
    v.as_mut_slice().copy_from_slice(src);
    Some(v)
}

/// Validate the file header; returns it and the program headers.
pub fn parse(path: &str, data: &[u8]) -> Result<(Elf64_Ehdr, Vec<Elf64_Phdr>), LoadError> {
    let malformed = |what: &str| LoadError::Malformed {
        path: path.into(),
        what: what.into(),
    };
    let unsupported = |what: String| LoadError::Unsupported {
        path: path.into(),
        what,
    };
    if data.len() < 4 || data[..4] != *b"\x7fELF" {
        return Err(LoadError::NotElf(path.into()));
    }
    if data.len() < 5 || data[4] != 2 {
        let class = if data.get(4) == Some(&1) {
            "32-bit"
        } else {
            "unknown-class"
        };
        return Err(unsupported(format!(
            "{class} ELF; kvmcage runs 64-bit x86-64 programs only"
        )));
    }
    let eh: Elf64_Ehdr =
        read_struct(data, 0).ok_or_else(|| malformed("file shorter than the ELF header"))?;
    if eh.e_ident[5] != 1 {
        return Err(unsupported(
            "big-endian ELF; kvmcage runs x86-64 programs only".into(),
        ));
    }
    if eh.e_machine != EM_X86_64 {
        let m = if eh.e_machine == EM_386 {
            "i386".to_string()
        } else {
            format!("machine {}", eh.e_machine)
        };
        return Err(unsupported(format!(
            "ELF for {m}; kvmcage runs x86-64 programs only"
        )));
    }
    if eh.e_type != ET_EXEC && eh.e_type != ET_DYN {
        return Err(unsupported(format!(
            "ELF type {} is not an executable",
            eh.e_type
        )));
    }
    if usize::from(eh.e_phentsize) != std::mem::size_of::<Elf64_Phdr>() {
        return Err(malformed("bad e_phentsize"));
    }
    let phnum = usize::from(eh.e_phnum);
    if phnum == 0 || phnum > MAX_PHNUM {
        return Err(malformed("bad e_phnum"));
    }
    let mut phdrs = Vec::with_capacity(phnum);
    for i in 0..phnum as u64 {
        let off = eh
            .e_phoff
            .checked_add(i * u64::from(eh.e_phentsize))
            .ok_or_else(|| malformed("e_phoff overflows"))?;
        phdrs.push(
            read_struct::<Elf64_Phdr>(data, off)
                .ok_or_else(|| malformed("program headers past the end of the file"))?,
        );
    }
    Ok((eh, phdrs))
}

/// The interpreter a dynamically linked program names in its PT_INTERP
/// (`/lib64/ld-linux-x86-64.so.2`, `/lib/ld-musl-x86_64.so.1`), or `None`
/// for a static one. Checked as Linux's load_elf_binary does: inside the
/// file, NUL-terminated, at most PATH_MAX bytes.
pub fn interpreter(path: &str, data: &[u8]) -> Result<Option<Vec<u8>>, LoadError> {
    let (_, phdrs) = parse(path, data)?;
    let Some(p) = phdrs.iter().find(|p| p.p_type == PT_INTERP) else {
        return Ok(None);
    };
    let malformed = |what: &str| LoadError::Malformed {
        path: path.into(),
        what: what.into(),
    };
    if p.p_filesz < 2 || p.p_filesz > libc::PATH_MAX as u64 {
        return Err(malformed("bad PT_INTERP size"));
    }
    let name = usize::try_from(p.p_offset)
        .ok()
        .and_then(|o| data.get(o..o.checked_add(p.p_filesz as usize)?))
        .ok_or_else(|| malformed("PT_INTERP past the end of the file"))?;
    // Linux: the last byte must be NUL; the path ends at the first one.
    match name.split_last() {
        Some((0, _)) => {
            let end = name.iter().position(|&b| b == 0).unwrap_or(0);
            if end == 0 {
                return Err(malformed("PT_INTERP is an empty path"));
            }
            Ok(Some(name[..end].to_vec()))
        }
        _ => Err(malformed("PT_INTERP is not a NUL-terminated path")),
    }
}

fn prot_of(flags: u32) -> u32 {
    let mut prot = 0;
    if flags & PF_R != 0 {
        prot |= libc::PROT_READ as u32;
    }
    if flags & PF_W != 0 {
        prot |= libc::PROT_WRITE as u32;
    }
    if flags & PF_X != 0 {
        prot |= libc::PROT_EXEC as u32;
    }
    prot
}

/// Where an ET_DYN file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The program itself: at `PIE_BASE`, as Linux's ELF_ET_DYN_BASE.
    Program,
    /// Its interpreter: at a free range of the mmap area (top-down), as
    /// Linux's load_elf_interp.
    Interpreter,
}

/// A validated ELF file: where each segment goes.
struct Layout {
    loads: Vec<Elf64_Phdr>,
    /// Page-aligned start, end and protection of each of `loads`.
    spans: Vec<(u64, u64, u32)>,
    elf: LoadedElf,
}

/// Check `data` as [`load`] would, without touching the guest: everything
/// that can fail before the first mapping (execve checks a new image this
/// way before the old one goes). The interpreter is placed as in an empty
/// address space.
pub fn check(path: &str, data: &[u8], place: Place) -> Result<(), LoadError> {
    layout(&Mm::new(), path, data, place).map(|_| ())
}

/// Load `data` (the ELF file at `path`) into the guest.
pub fn load(
    m: &mut Machine,
    mm: &mut Mm,
    path: &str,
    data: &[u8],
    place: Place,
) -> Result<LoadedElf, LoadError> {
    let Layout {
        loads,
        spans,
        mut elf,
    } = layout(mm, path, data, place)?;
    let malformed = |what: String| LoadError::Malformed {
        path: path.into(),
        what,
    };
    // The program's segments show as its own name in /proc/self/maps; an
    // interpreter's as the interpreter's file, at its offsets.
    let interp_name = (place == Place::Interpreter).then(|| mm.file_name(path.as_bytes()));
    for (p, &(pstart, pend, prot)) in loads.iter().zip(&spans) {
        let kind = match interp_name {
            Some(name) => VmaKind::File {
                name,
                off: p.p_offset & !(PAGE_SIZE - 1),
            },
            None => VmaKind::Image,
        };
        mm.map_fixed(m, pstart, pend - pstart, prot, kind)
            .map_err(|_| LoadError::NoMemory {
                path: path.into(),
                what: format!("{} KiB segment", (pend - pstart) / 1024),
            })?;
        // Copy the file part. The range was validated by `layout`.
        let start = p.p_vaddr + elf.bias;
        let off = p.p_offset as usize;
        let bytes = &data[off..off + p.p_filesz as usize];
        if !mm.poke(m, start, bytes) {
            return Err(malformed("segment copy failed".into()));
        }
        elf.brk = elf.brk.max(pend);
    }
    Ok(elf)
}

fn layout(mm: &Mm, path: &str, data: &[u8], place: Place) -> Result<Layout, LoadError> {
    let (eh, phdrs) = parse(path, data)?;
    let malformed = |what: String| LoadError::Malformed {
        path: path.into(),
        what,
    };
    // An empty PT_LOAD maps nothing (Linux skips it too).
    let loads: Vec<Elf64_Phdr> = phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
        .copied()
        .collect();
    if loads.is_empty() {
        return Err(malformed("no PT_LOAD segment".into()));
    }
    let lowest = loads
        .iter()
        .map(|p| page_down(p.p_vaddr))
        .min()
        .unwrap_or(0);
    let bias = match (eh.e_type, place) {
        (ET_DYN, Place::Program) => PIE_BASE
            .checked_sub(lowest)
            .ok_or_else(|| malformed("segments too high for a PIE".into()))?,
        (ET_DYN, Place::Interpreter) => {
            let highest = loads
                .iter()
                .map(|p| p.p_vaddr.saturating_add(p.p_memsz))
                .max()
                .unwrap_or(0);
            let span = page_up(highest)
                .filter(|&h| h > lowest)
                .map(|h| h - lowest)
                .ok_or_else(|| malformed("segments overflow".into()))?;
            let base = mm.find_free(span).ok_or_else(|| LoadError::NoMemory {
                path: path.into(),
                what: format!("no free {} KiB range for the interpreter", span / 1024),
            })?;
            base.checked_sub(lowest)
                .ok_or_else(|| malformed("segments too high for an interpreter".into()))?
        }
        _ => 0,
    };
    // Validate every segment before mapping any.
    let mut spans = Vec::new();
    for (i, p) in loads.iter().enumerate() {
        let bad = |what: &str| malformed(format!("PT_LOAD #{i}: {what}"));
        if p.p_filesz > p.p_memsz {
            return Err(bad("p_filesz > p_memsz"));
        }
        let file_end = p
            .p_offset
            .checked_add(p.p_filesz)
            .ok_or_else(|| bad("offset overflows"))?;
        if file_end > data.len() as u64 {
            return Err(bad("extends past the end of the file (truncated?)"));
        }
        if p.p_vaddr % PAGE_SIZE != p.p_offset % PAGE_SIZE {
            return Err(bad("p_vaddr and p_offset disagree modulo the page size"));
        }
        let start = p
            .p_vaddr
            .checked_add(bias)
            .ok_or_else(|| bad("address overflows"))?;
        let end = start
            .checked_add(p.p_memsz)
            .ok_or_else(|| bad("size overflows"))?;
        let (pstart, pend) = (
            page_down(start),
            page_up(end).ok_or_else(|| bad("size overflows"))?,
        );
        if pstart < USER_MIN || pend > USER_TOP {
            return Err(LoadError::Unsupported {
                path: path.into(),
                what: format!("PT_LOAD #{i} at {start:#x}..{end:#x} lies outside the user address space ({USER_MIN:#x}..{USER_TOP:#x})"),
            });
        }
        if p.p_flags & PF_W != 0 && p.p_flags & PF_X != 0 {
            return Err(LoadError::Unsupported {
                path: path.into(),
                what: format!("PT_LOAD #{i} is writable and executable; kvmcage maps no page W+X"),
            });
        }
        if spans
            .iter()
            .any(|&(s, e, _): &(u64, u64, u32)| pstart < e && s < pend)
        {
            // Segments sharing a page would need one page with two sets of
            // permissions; modern linkers never produce that.
            return Err(bad("overlaps another PT_LOAD segment's pages"));
        }
        spans.push((pstart, pend, prot_of(p.p_flags)));
    }
    // AT_PHDR as Linux computes it: where the PT_LOAD segment that covers
    // e_phoff maps the headers (PT_PHDR itself is not trusted).
    let phdr = loads
        .iter()
        .find(|p| p.p_offset <= eh.e_phoff && eh.e_phoff - p.p_offset < p.p_filesz)
        .and_then(|p| (p.p_vaddr + bias).checked_add(eh.e_phoff - p.p_offset))
        .unwrap_or(0);
    let exec_stack = phdrs
        .iter()
        .find(|p| p.p_type == PT_GNU_STACK)
        .is_some_and(|p| p.p_flags & PF_X != 0);
    let entry = eh
        .e_entry
        .checked_add(bias)
        .ok_or_else(|| malformed("entry overflows".into()))?;
    if !spans
        .iter()
        .any(|&(s, e, prot)| entry >= s && entry < e && prot & libc::PROT_EXEC as u32 != 0)
    {
        return Err(malformed(format!(
            "entry point {entry:#x} is not in an executable segment"
        )));
    }
    let elf = LoadedElf {
        entry,
        bias,
        phdr,
        phnum: u64::from(eh.e_phnum),
        phent: u64::from(eh.e_phentsize),
        brk: 0,
        exec_stack,
    };
    Ok(Layout { loads, spans, elf })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut eh = Elf64_Ehdr::default();
        eh.e_ident[..4].copy_from_slice(b"\x7fELF");
        eh.e_ident[4] = 2;
        eh.e_ident[5] = 1;
        eh.e_type = ET_EXEC;
        eh.e_machine = EM_X86_64;
        eh.e_phentsize = 56;
        eh.e_phnum = 1;
        eh.e_phoff = 64;
        let mut v = eh.as_slice().to_vec();
        let ph = Elf64_Phdr {
            p_type: PT_LOAD,
            p_flags: PF_R | PF_X,
            p_vaddr: 0x40_0000,
            p_filesz: 120,
            p_memsz: 120,
            ..Default::default()
        };
        v.extend_from_slice(ph.as_slice());
        v
    }

    #[test]
    fn parses_a_minimal_header() {
        let (eh, ph) = parse("x", &header()).unwrap();
        assert_eq!(eh.e_machine, EM_X86_64);
        assert_eq!(ph.len(), 1);
    }

    #[test]
    fn rejects_bad_files_with_clear_errors() {
        assert!(matches!(
            parse("x", b"#!/bin/sh\n"),
            Err(LoadError::NotElf(_))
        ));
        let mut h = header();
        h[4] = 1;
        assert!(parse("x", &h).unwrap_err().to_string().contains("32-bit"));
        let mut h = header();
        h[18] = 183; // aarch64
        assert!(parse("x", &h)
            .unwrap_err()
            .to_string()
            .contains("x86-64 programs only"));
        let h = header();
        assert!(matches!(
            parse("x", &h[..100]),
            Err(LoadError::Malformed { .. })
        ));
        let mut h = header();
        h[56..58].copy_from_slice(&0xffffu16.to_le_bytes()); // e_phnum
        assert!(matches!(parse("x", &h), Err(LoadError::Malformed { .. })));
    }
}
