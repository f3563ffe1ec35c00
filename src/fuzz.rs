//! The dispatcher and uaccess driven by arbitrary bytes, without /dev/kvm.
//!
//! An input is a sequence of operations: "write these bytes at this user
//! address" and "call syscall N (x86-64 or i386) with these six arguments",
//! where addresses and arguments come from a table of page edges, unmapped
//! holes, the kernel half, non-canonical values and ~0, or are raw. Used by
//! the cargo-fuzz target (fuzz/) and by a seeded run in the test suite.
//! Any panic is a bug; after every call the address space must still be
//! consistent.

use kvm_bindings::kvm_regs;

use crate::kernel::mm::VmaKind;
use crate::kernel::{dispatch, Args, Call, Ctx, Identity, Process};
use crate::vm::layout::{MIN_MEM_SIZE, PAGE_SIZE, USER_TOP};
use crate::vm::{EntryPath, Machine};

/// Where the fuzzed process has memory: RW pages, a read-only page, a hole.
const RW: u64 = 0x10_0000;
const RO: u64 = 0x20_0000;
const HOLE: u64 = 0x20_1000;

/// Interesting argument values.
const VALUES: [u64; 24] = [
    0,
    1,
    2,
    3,
    0xff,
    0x1000,
    RW,
    RW + PAGE_SIZE - 8,
    RW + 2 * PAGE_SIZE - 1,
    RW + 4 * PAGE_SIZE, // just past the RW pages
    RO,
    RO + PAGE_SIZE - 4,
    HOLE,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0001,
    USER_TOP - 1,
    USER_TOP,
    0x0000_8000_0000_0000,
    0xffff_8000_0000_0000,
    0xffff_ffff_8000_0000,
    u64::MAX,
    u64::MAX - 4095,
    i64::MAX as u64,
];

/// Calls the harness does not make: they would block the fuzzing process on
/// the host (sleeps are cut short anyway, see below) or end the process,
/// which only stops the input early.
fn skipped(call: &Call) -> bool {
    !call.i386 && matches!(call.nr, 34 /* pause */)
}

struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*b)
    }
    fn u64(&mut self) -> Option<u64> {
        let mut v = [0u8; 8];
        for b in &mut v {
            *b = self.byte()?;
        }
        Some(u64::from_le_bytes(v))
    }
    fn value(&mut self) -> Option<u64> {
        let sel = self.byte()?;
        match sel {
            0xff => self.u64(),
            s => Some(VALUES[usize::from(s) % VALUES.len()]),
        }
    }
}

/// Run one input; returns the number of syscalls it made. Panics only on a
/// kvmcage bug.
pub fn run_ops(data: &[u8]) -> u64 {
    let Ok(mut m) = Machine::detached(MIN_MEM_SIZE) else {
        return 0;
    };
    let mut proc = Process::new(Identity {
        pid: 1,
        ppid: 0,
        uid: 1000,
        gid: 1000,
        exe: b"/fuzz".to_vec(),
        mem_size: MIN_MEM_SIZE,
        ..Default::default()
    });
    // Host-side blocking calls give up at once.
    proc.expiry.expire();
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
    if proc
        .mm
        .map_fixed(&mut m, RW, 4 * PAGE_SIZE, rw, VmaKind::Anon)
        .is_err()
        || proc
            .mm
            .map_fixed(&mut m, RO, PAGE_SIZE, libc::PROT_READ as u32, VmaKind::Anon)
            .is_err()
    {
        return 0;
    }
    proc.mm.brk_start = 0x30_0000;
    proc.mm.brk = 0x30_0000;
    let mut regs = kvm_regs::default();
    // The fuzzer must not read or write kvmcage's own stdio.
    for fd in 0..3u64 {
        let call = Call {
            nr: 3,
            args: Args([fd, 0, 0, 0, 0, 0]),
            i386: false,
        };
        let mut cx = Ctx {
            m: &mut m,
            proc: &mut proc,
            regs: &mut regs,
            path: EntryPath::Lstar,
        };
        dispatch(&mut cx, &call);
    }
    let first = proc.syscalls;
    let made = |p: &Process| p.syscalls - first;
    let mut input = Input { data };
    while let Some(op) = input.byte() {
        if op & 1 == 0 {
            // Write bytes at a chosen user address (as the program would).
            let (Some(addr), Some(len)) = (input.value(), input.byte()) else {
                return made(&proc);
            };
            let n = usize::from(len).min(input.data.len());
            let (bytes, rest) = input.data.split_at(n);
            input.data = rest;
            let _ = m.user().write_prefix(addr, bytes);
        } else {
            let (Some(lo), Some(hi)) = (input.byte(), input.byte()) else {
                return made(&proc);
            };
            let raw = u16::from_le_bytes([lo, hi]);
            let i386 = raw & 0x8000 != 0;
            let nr = if raw & 0x4000 != 0 {
                let Some(v) = input.value() else {
                    return made(&proc);
                };
                v
            } else {
                u64::from(raw & 0x1ff)
            };
            let mut args = [0u64; 6];
            for a in &mut args {
                let Some(v) = input.value() else {
                    return made(&proc);
                };
                *a = v;
            }
            let call = Call {
                nr,
                args: Args(args),
                i386,
            };
            if skipped(&call) {
                continue;
            }
            let mut cx = Ctx {
                m: &mut m,
                proc: &mut proc,
                regs: &mut regs,
                path: if i386 {
                    EntryPath::Int80Ud
                } else {
                    EntryPath::LstarFault
                },
            };
            dispatch(&mut cx, &call);
            proc.mm.check_invariants(&m);
            if proc.exit.is_some() {
                break;
            }
        }
    }
    made(&proc)
}
