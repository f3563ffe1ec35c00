//! The vsyscall page as Linux's default (`vsyscall=xonly`) gives it: at
//! `layout::VSYSCALL_PAGE`, not readable, but a call to one of its three
//! entries (gettimeofday at +0, time at +0x400, getcpu at +0x800) is made
//! as that system call and returns to the caller, as if the page held
//! `mov $nr, %rax; syscall; ret` (Linux's `emulate_vsyscall`). Old static
//! binaries call them; /proc/self/maps lists the page as `--xp`.

use kvm_bindings::kvm_regs;
use syscalls::Sysno;

use crate::vm::layout::{VSYSCALL_ENTRIES, VSYSCALL_PAGE};
use crate::vm::Machine;

/// Is `addr` in the page? A fault there that is no call has the error
/// code's present bit set, as on Linux, whose page is there for the
/// kernel only.
pub fn in_page(addr: u64) -> bool {
    addr & !0xfff == VSYSCALL_PAGE
}

/// The /proc/PID/maps line Linux ends with.
pub const MAPS_LINE: &str =
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

/// The call of the vsyscall entry at `rip`, if `rip` is one.
pub fn entry(rip: u64) -> Option<Sysno> {
    const CALLS: [Sysno; 3] = [Sysno::gettimeofday, Sysno::time, Sysno::getcpu];
    let i = VSYSCALL_ENTRIES.iter().position(|&e| e == rip)?;
    Some(CALLS[i])
}

/// A user-mode page fault at `cr2` while fetching at `regs.rip`: if it is
/// a call into a vsyscall entry, turn `regs` into that system call's
/// (number in RAX, arguments where a `syscall` has them) returning to the
/// caller's return address, popped from the stack, and say so. Otherwise
/// (another address, a return address that cannot be read) it stays the
/// fault it is: SIGSEGV, as on Linux. (The error code is not looked at:
/// after an `iretq` to the entry, as a sigreturn makes with the trap flag
/// set, kvm_pvm reports the fetch fault with error code 0.)
pub fn take_call(m: &Machine, regs: &mut kvm_regs, cr2: u64) -> bool {
    if cr2 != regs.rip {
        return false;
    }
    let Some(nr) = entry(regs.rip) else {
        return false;
    };
    let mut ret = [0u8; 8];
    if m.user().read_prefix(regs.rsp, &mut ret) != ret.len() {
        return false;
    }
    regs.rax = nr as u64;
    regs.rip = u64::from_le_bytes(ret);
    regs.rsp = regs.rsp.wrapping_add(8);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_entries_and_nothing_else() {
        assert_eq!(entry(VSYSCALL_PAGE), Some(Sysno::gettimeofday));
        assert_eq!(entry(VSYSCALL_PAGE + 0x400), Some(Sysno::time));
        assert_eq!(entry(VSYSCALL_PAGE + 0x800), Some(Sysno::getcpu));
        assert_eq!(entry(VSYSCALL_PAGE + 1), None);
        assert_eq!(entry(VSYSCALL_PAGE + 0xc00), None);
        assert_eq!(entry(VSYSCALL_PAGE - 0x400), None);
        assert!(MAPS_LINE.starts_with(&format!("{VSYSCALL_PAGE:x}-")));
    }
}
