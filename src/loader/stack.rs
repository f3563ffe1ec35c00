//! The initial process stack: argc, argv, envp, auxv and the strings they
//! point at, laid out as Linux's `create_elf_tables` does.

use super::{LoadError, LoadedElf};
use crate::kernel::mm::Mm;
use crate::vm::layout::{Gva, STACK_TOP};
use crate::vm::Machine;

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
const AT_EXECFN: u64 = 31;
const AT_SYSINFO_EHDR: u64 = 33;
const AT_MINSIGSTKSZ: u64 = 51;

/// Linux caps argv + envp strings at a quarter of the 8 MiB stack limit.
pub const MAX_ARG_BYTES: usize = 2 << 20;

/// The bytes of strings `build_stack` writes for these (checked against
/// [`MAX_ARG_BYTES`]).
pub fn strings_size(argv: &[Vec<u8>], envp: &[Vec<u8>], execfn: &[u8]) -> usize {
    let strings: usize = argv.iter().chain(envp).map(|s| s.len() + 1).sum();
    strings + execfn.len() + 1 + b"x86_64\0".len() + 16
}

/// What goes on the stack besides the ELF facts.
pub struct StackInfo<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    pub execfn: &'a [u8],
    pub random: [u8; 16],
    pub uid: u32,
    pub gid: u32,
    pub hwcap: u64,
    pub hwcap2: u64,
    pub minsigstksz: u64,
    /// AT_SYSINFO_EHDR, when a vDSO is mapped.
    pub vdso: Option<Gva>,
    /// AT_BASE: the interpreter's load bias (0 for a static program).
    pub interp_base: Gva,
}

/// Write the initial stack below `STACK_TOP`; returns the initial RSP
/// (pointing at argc, 16-byte aligned) and the auxiliary vector as written
/// (for /proc/self/auxv).
pub fn build_stack(
    m: &mut Machine,
    mm: &mut Mm,
    elf: &LoadedElf,
    info: &StackInfo<'_>,
) -> Result<(Gva, Vec<u8>), LoadError> {
    let too_big = || LoadError::Unsupported {
        path: String::from_utf8_lossy(info.execfn).into_owned(),
        what: "argument list too long (E2BIG)".into(),
    };
    // Strings area, built downward from the top: we lay it out upward in a
    // buffer and place the buffer so that it ends at STACK_TOP.
    let mut strings: Vec<u8> = Vec::new();
    let mut put = |s: &[u8]| -> usize {
        let off = strings.len();
        strings.extend_from_slice(s);
        strings.push(0);
        off
    };
    let execfn_off = put(info.execfn);
    let argv_offs: Vec<usize> = info.argv.iter().map(|a| put(a)).collect();
    let envp_offs: Vec<usize> = info.envp.iter().map(|e| put(e)).collect();
    let platform_off = put(b"x86_64");
    let random_off = strings.len();
    strings.extend_from_slice(&info.random);
    if strings.len() > MAX_ARG_BYTES {
        return Err(too_big());
    }
    let strings_base = (STACK_TOP - strings.len() as u64 - 8) & !0xf;
    let at = |off: usize| strings_base + off as u64;

    let mut auxv = vec![
        (AT_PHDR, elf.phdr),
        (AT_PHENT, elf.phent),
        (AT_PHNUM, elf.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, info.interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, elf.entry),
        (AT_UID, u64::from(info.uid)),
        (AT_EUID, u64::from(info.uid)),
        (AT_GID, u64::from(info.gid)),
        (AT_EGID, u64::from(info.gid)),
        (AT_SECURE, 0),
        (AT_RANDOM, at(random_off)),
        (AT_HWCAP, info.hwcap),
        (AT_HWCAP2, info.hwcap2),
        (AT_CLKTCK, 100),
        (AT_PLATFORM, at(platform_off)),
        (AT_EXECFN, at(execfn_off)),
        (AT_MINSIGSTKSZ, info.minsigstksz),
    ];
    if let Some(vdso) = info.vdso {
        auxv.insert(0, (AT_SYSINFO_EHDR, vdso));
    }
    auxv.push((AT_NULL, 0));

    let mut words: Vec<u64> = Vec::new();
    words.push(info.argv.len() as u64);
    words.extend(argv_offs.iter().map(|&o| at(o)));
    words.push(0);
    words.extend(envp_offs.iter().map(|&o| at(o)));
    words.push(0);
    let mut auxv_bytes = Vec::with_capacity(auxv.len() * 16);
    for (k, v) in auxv {
        words.push(k);
        words.push(v);
        auxv_bytes.extend_from_slice(&k.to_le_bytes());
        auxv_bytes.extend_from_slice(&v.to_le_bytes());
    }
    let table_len = words.len() as u64 * 8;
    let rsp = (strings_base - table_len) & !0xf;
    let mut table = Vec::with_capacity(table_len as usize);
    for w in &words {
        table.extend_from_slice(&w.to_le_bytes());
    }
    if !mm.ensure_stack(m, rsp) {
        return Err(too_big());
    }
    if !mm.poke(m, strings_base, &strings) || !mm.poke(m, rsp, &table) {
        return Err(too_big());
    }
    Ok((rsp, auxv_bytes))
}
