//! kvmcage confines itself before the guest's first instruction, so that a
//! bug in the dispatcher (a missed check, a walk that escapes) has as
//! little reach as possible:
//!
//! - descriptors inherited from the parent other than 0, 1 and 2 are closed
//!   at start-up ([`close_inherited_fds`]);
//! - `PR_SET_NO_NEW_PRIVS`;
//! - landlock (best effort by ABI): read beneath the read-only mounts, read
//!   and write beneath the writable mounts and --tmpfs directories, nothing
//!   else on the host filesystem, no TCP bind/connect, no signals or
//!   abstract sockets outside kvmcage;
//! - a seccomp-bpf allow-list of the host calls kvmcage makes ([`allow`]),
//!   with argument filters on ioctl (the KVM and terminal requests the run
//!   uses), clone (threads only; clone3 is ENOSYS so libc falls back to
//!   clone), mmap/mprotect (never executable), prctl (thread names) and
//!   prlimit64 (reads only); anything else kills the process.
//!
//! It runs while kvmcage has one thread (landlock binds the calling thread
//! and the threads it starts later), after every host file it needs is
//! open: the KVM descriptors, guest memory, the mounts' roots, stdio, the
//! trace files. The --tmpfs directories are then removed by a reaper
//! process forked before confinement (`sandbox::Policy::hand_to_reaper`),
//! since removing a directory's own entry needs rights on its parent.

pub mod allow;

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use seccompiler::{
    SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond,
    SeccompFilter, SeccompRule, TargetArch,
};

/// Why confinement failed. kvmcage does not run a program it could not
/// confine as asked (`--no-confine` runs it unconfined).
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("kvmcage must confine itself before a second thread starts ({0} threads)")]
    Threads(usize),
    #[error("prctl(PR_SET_NO_NEW_PRIVS): {0}")]
    NoNewPrivs(std::io::Error),
    #[error("landlock: {0}")]
    Landlock(String),
    #[error("seccomp: {0}")]
    Seccomp(String),
}

/// What confinement achieved, for `--verbose` and `info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// "ABI 6 (fully enforced)", or why landlock is not in force.
    pub landlock: String,
    /// Landlock rules in force (false when the kernel has none).
    pub landlock_enforced: bool,
    /// Syscall numbers in the seccomp allow-list.
    pub seccomp_syscalls: usize,
}

/// KVM ioctl request numbers (linux/kvm.h), from kvm-bindings' struct sizes.
pub mod kvm {
    use kvm_bindings::{
        kvm_cpuid2, kvm_fpu, kvm_ioeventfd, kvm_msrs, kvm_regs, kvm_signal_mask, kvm_sregs,
        kvm_vcpu_events, kvm_xcrs, kvm_xsave,
    };
    const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
        (dir << 30) | ((size as u64) << 16) | (0xAE << 8) | nr
    }
    const W: u64 = 1;
    const R: u64 = 2;
    pub const RUN: u64 = ioc(0, 0x80, 0);
    pub const GET_REGS: u64 = ioc(R, 0x81, size_of::<kvm_regs>());
    pub const SET_REGS: u64 = ioc(W, 0x82, size_of::<kvm_regs>());
    pub const GET_SREGS: u64 = ioc(R, 0x83, size_of::<kvm_sregs>());
    pub const SET_SREGS: u64 = ioc(W, 0x84, size_of::<kvm_sregs>());
    pub const GET_MSRS: u64 = ioc(R | W, 0x88, size_of::<kvm_msrs>());
    pub const SET_SIGNAL_MASK: u64 = ioc(W, 0x8b, size_of::<kvm_signal_mask>());
    pub const GET_XSAVE: u64 = ioc(R, 0xa4, size_of::<kvm_xsave>());
    pub const GET_VCPU_EVENTS: u64 = ioc(R, 0x9f, size_of::<kvm_vcpu_events>());
    pub const IOEVENTFD: u64 = ioc(W, 0x79, size_of::<kvm_ioeventfd>());
    pub const SET_XSAVE: u64 = ioc(W, 0xa5, size_of::<kvm_xsave>());
    pub const CREATE_VCPU: u64 = ioc(0, 0x41, 0);
    pub const SET_CPUID2: u64 = ioc(W, 0x90, size_of::<kvm_cpuid2>());
    pub const SET_MSRS: u64 = ioc(W, 0x89, size_of::<kvm_msrs>());
    pub const SET_FPU: u64 = ioc(W, 0x8d, size_of::<kvm_fpu>());
    pub const SET_XCRS: u64 = ioc(W, 0xa7, size_of::<kvm_xcrs>());
    pub const SET_USER_MEMORY_REGION: u64 = ioc(
        W,
        0x46,
        size_of::<kvm_bindings::kvm_userspace_memory_region>(),
    );
}

/// Close every descriptor above 2: what the parent left open (a socket, a
/// file it holds) is none of kvmcage's business and must not be reachable
/// from a compromised dispatcher. Call before opening anything.
pub fn close_inherited_fds(keep: Option<i32>) -> std::io::Result<()> {
    let close = |lo: u32, hi: u32| {
        // SAFETY: close_range only closes descriptors; nothing in kvmcage
        // holds one yet (this runs first thing in main), so no Rust owner
        // is left with a closed descriptor.
        unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) }
    };
    let rc = match keep.and_then(|k| u32::try_from(k).ok()).filter(|&k| k > 2) {
        Some(k) => {
            let below = if k > 3 { close(3, k - 1) } else { 0 };
            if below == 0 {
                close(k + 1, u32::MAX)
            } else {
                below
            }
        }
        None => close(3, u32::MAX),
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.9: close them one by one.
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2 && Some(fd) != keep)
        .collect();
    for fd in fds {
        // SAFETY: as above; a descriptor of read_dir's own that is already
        // closed gives EBADF, which is ignored.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(1)
}

/// Confine the calling process. `roots` are the mounts' host directories
/// (read-only or writable); `toggled` the host ranges (address, length)
/// where the MMU-notifier toggle may add PROT_EXEC for a moment: guest
/// RAM and the window of shared slots.
/// Must run while the process has one thread.
pub fn apply(
    roots: &[(BorrowedFd<'_>, bool)],
    toggled: &[(u64, u64)],
) -> Result<Status, ConfineError> {
    let threads = thread_count();
    if threads > 1 {
        return Err(ConfineError::Threads(threads));
    }
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(ConfineError::NoNewPrivs(std::io::Error::last_os_error()));
    }
    let (landlock, landlock_enforced) = landlock(roots)?;
    let seccomp_syscalls = seccomp(toggled)?;
    Ok(Status {
        landlock,
        landlock_enforced,
        seccomp_syscalls,
    })
}

/// The landlock ruleset; the text says what the kernel enforced.
fn landlock(roots: &[(BorrowedFd<'_>, bool)]) -> Result<(String, bool), ConfineError> {
    use landlock::{
        Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, Scope, ABI,
    };
    let e = |x: landlock::RulesetError| ConfineError::Landlock(x.to_string());
    let abi = ABI::V6;
    let all = AccessFs::from_all(abi);
    let read = AccessFs::from_read(abi) & !AccessFs::Execute;
    let write = all & !AccessFs::Execute;
    let mut rules = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(e)?
        .handle_access(AccessNet::from_all(abi))
        .map_err(e)?
        .scope(Scope::from_all(abi))
        .map_err(e)?
        .create()
        .map_err(e)?;
    for &(fd, writable) in roots {
        rules = rules
            .add_rule(PathBeneath::new(fd, if writable { write } else { read }))
            .map_err(e)?;
    }
    let status = rules.restrict_self().map_err(e)?;
    let abi = kernel_landlock_abi();
    Ok(match (status.ruleset, abi) {
        (RulesetStatus::FullyEnforced, Ok(v)) => (format!("ABI {v} (fully enforced)"), true),
        (RulesetStatus::PartiallyEnforced, Ok(v)) => {
            (format!("ABI {v} (partly enforced: an older ABI)"), true)
        }
        (_, Err(why)) => (format!("not available ({why})"), false),
        (RulesetStatus::NotEnforced, Ok(v)) => (format!("ABI {v} (not enforced)"), false),
    })
}

/// The running kernel's landlock ABI version, or why there is none.
pub fn kernel_landlock_abi() -> Result<i64, String> {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only returns the
    // ABI version; it reads and writes no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v > 0 {
        return Ok(v);
    }
    Err(match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no landlock".into(),
        Some(libc::EOPNOTSUPP) => "landlock is disabled at boot".into(),
        _ => std::io::Error::last_os_error().to_string(),
    })
}

/// Is seccomp filtering with SECCOMP_RET_KILL_PROCESS available?
pub fn seccomp_available() -> Result<(), String> {
    // SAFETY: PR_GET_SECCOMP takes no pointer.
    if unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) } < 0 {
        return Err("the kernel has no seccomp".into());
    }
    match std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail") {
        Ok(s) if s.split_whitespace().any(|a| a == "kill_process") => Ok(()),
        Ok(_) => Err("no SECCOMP_RET_KILL_PROCESS".into()),
        Err(_) => Ok(()),
    }
}

fn cond(arg: u8, len: Len, op: Op, v: u64) -> Result<Cond, ConfineError> {
    Cond::new(arg, len, op, v).map_err(|e| ConfineError::Seccomp(e.to_string()))
}

fn rule(conds: Vec<Cond>) -> Result<SeccompRule, ConfineError> {
    SeccompRule::new(conds).map_err(|e| ConfineError::Seccomp(e.to_string()))
}

/// The two filters: the allow-list (mismatch kills the process), and one
/// that makes clone3 ENOSYS (so glibc's pthread_create uses clone, whose
/// flags a filter can see). The kernel takes the strictest answer of the
/// two, so clone3 is in the allow-list and the second filter's ERRNO wins.
pub fn seccomp_filters(
    toggled: &[(u64, u64)],
) -> Result<(SeccompFilter, SeccompFilter), ConfineError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = allow::ANY_ARGS
        .iter()
        .map(|&(nr, _)| (nr, Vec::new()))
        .collect();
    let ioctls = allow::IOCTLS
        .iter()
        .map(|&(req, _)| rule(vec![cond(1, Len::Dword, Op::Eq, req)?]))
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_ioctl, ioctls);
    // A thread of kvmcage, never a process.
    let thread = libc::CLONE_THREAD as u64;
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![cond(
            0,
            Len::Qword,
            Op::MaskedEq(thread),
            thread,
        )?])?],
    );
    rules.insert(libc::SYS_clone3, Vec::new());
    // Memory is never made executable, but for the MMU-notifier toggle
    // on guest RAM and on shared slots (drop_cached_translations in
    // vm/memory.rs and vm/shared.rs): read(-write)-execute, for a range
    // that starts in one of `toggled` and is no longer than it.
    let exec = libc::PROT_EXEC as u64;
    for nr in [libc::SYS_mmap, libc::SYS_mprotect] {
        let mut r = vec![rule(vec![cond(2, Len::Qword, Op::MaskedEq(exec), 0)?])?];
        if nr == libc::SYS_mprotect {
            let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
            let rwx = rx | libc::PROT_WRITE as u64;
            // A piece of at most `step` bytes that starts at least `step`
            // bytes before the range's end never reaches past it
            // (vm::memory::toggle_pieces cuts the toggles this way).
            for &(base, len) in toggled {
                for step in crate::vm::memory::toggle_steps().filter(|&s| s <= len) {
                    for prot in [rwx, rx] {
                        r.push(rule(vec![
                            cond(0, Len::Qword, Op::Ge, base)?,
                            cond(0, Len::Qword, Op::Le, base + len - step)?,
                            cond(1, Len::Qword, Op::Le, step)?,
                            cond(2, Len::Qword, Op::Eq, prot)?,
                        ])?);
                    }
                }
            }
        }
        rules.insert(nr, r);
    }
    // Naming a new thread; nothing else of prctl.
    rules.insert(
        libc::SYS_prctl,
        vec![rule(vec![cond(
            0,
            Len::Dword,
            Op::Eq,
            libc::PR_SET_NAME as u64,
        )?])?],
    );
    // Reading a limit, never setting one.
    rules.insert(
        libc::SYS_prlimit64,
        vec![rule(vec![cond(2, Len::Qword, Op::Eq, 0)?])?],
    );
    // The kick: a signal to a thread of this process only.
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() } as u64;
    rules.insert(
        libc::SYS_tgkill,
        vec![rule(vec![cond(0, Len::Dword, Op::Eq, pid)?])?],
    );
    // Sockets of the AF_UNIX family only: the sandbox has no network.
    for nr in [libc::SYS_socket, libc::SYS_socketpair] {
        rules.insert(
            nr,
            vec![rule(vec![cond(
                0,
                Len::Dword,
                Op::Eq,
                libc::AF_UNIX as u64,
            )?])?],
        );
    }
    let s = |e: seccompiler::BackendError| ConfineError::Seccomp(e.to_string());
    let allow = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(s)?;
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::x86_64,
    )
    .map_err(s)?;
    Ok((allow, clone3))
}

/// Install both filters on every thread; the number of allowed syscalls.
fn seccomp(toggled: &[(u64, u64)]) -> Result<usize, ConfineError> {
    let (allow, clone3) = seccomp_filters(toggled)?;
    let n = allow::ANY_ARGS.len() + 10; // + ioctl, clone, clone3, mmap, mprotect, prctl, prlimit64, tgkill, socket, socketpair
                                        // The allow-list last: it does not let seccomp() itself through.
    for f in [clone3, allow] {
        let prog: seccompiler::BpfProgram = f
            .try_into()
            .map_err(|e: seccompiler::BackendError| ConfineError::Seccomp(e.to_string()))?;
        seccompiler::apply_filter_all_threads(&prog)
            .map_err(|e| ConfineError::Seccomp(e.to_string()))?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_request_numbers_match_linux() {
        assert_eq!(kvm::RUN, 0xae80);
        assert_eq!(kvm::GET_REGS, 0x8090_ae81);
        assert_eq!(kvm::SET_REGS, 0x4090_ae82);
        assert_eq!(kvm::GET_SREGS, 0x8138_ae83);
        assert_eq!(kvm::SET_SREGS, 0x4138_ae84);
        assert_eq!(kvm::GET_MSRS, 0xc008_ae88);
        assert_eq!(kvm::SET_SIGNAL_MASK, 0x4004_ae8b);
        assert_eq!(kvm::GET_XSAVE, 0x9000_aea4);
        assert_eq!(kvm::GET_VCPU_EVENTS, 0x8040_ae9f);
        assert_eq!(kvm::IOEVENTFD, 0x4040_ae79);
        assert_eq!(kvm::SET_XSAVE, 0x5000_aea5);
    }

    #[test]
    fn the_filters_compile_and_list_each_call_once() {
        let (allow, _) = seccomp_filters(&[(0x7f00_0000_0000, 1 << 28)]).unwrap();
        let prog: seccompiler::BpfProgram = allow.try_into().unwrap();
        assert!(!prog.is_empty());
        let mut nrs: Vec<i64> = allow::ANY_ARGS.iter().map(|a| a.0).collect();
        nrs.sort_unstable();
        let n = nrs.len();
        nrs.dedup();
        assert_eq!(nrs.len(), n, "a syscall is listed twice");
        for never in [
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_bpf,
            libc::SYS_process_vm_readv,
            libc::SYS_fork,
        ] {
            assert!(!nrs.contains(&never), "{never} must never be allowed");
        }
    }
}
