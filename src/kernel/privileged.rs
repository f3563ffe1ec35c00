//! System administration calls, answered as Linux answers a program
//! without privileges: the sandbox never gives CAP_SYS_ADMIN and its kin,
//! so these are EPERM (EACCES for perf_event_open), after the argument
//! checks Linux makes first, and the harmless forms that need no privilege
//! succeed (iopl(0), ioperm off). Nothing here reaches the host.

use rustix::io::Errno;

use super::{int, Args, Ctx, SysResult};

/// mount, pivot_root, move_mount, fsopen, fspick, mount_setattr, swapon,
/// swapoff, reboot, sethostname, setdomainname, settimeofday,
/// init_module, finit_module, delete_module, kexec_load, kexec_file_load,
/// acct, vhangup, bpf: the capability check comes first on Linux.
pub fn sys_needs_privilege(_cx: &mut Ctx, _a: &Args) -> SysResult {
    Err(Errno::PERM)
}

/// umount2: unknown flags are EINVAL before the capability check.
pub fn sys_umount2(_cx: &mut Ctx, a: &Args) -> SysResult {
    const KNOWN: u64 = 1 | 2 | 4 | 8; // MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW
    if a.0[1] & !KNOWN != 0 {
        return Err(Errno::INVAL);
    }
    Err(Errno::PERM)
}

/// clock_settime: an unknown clock is EINVAL, a clock that cannot be set
/// EINVAL too; CLOCK_REALTIME (and TAI's base) needs CAP_SYS_TIME: EPERM.
pub fn sys_clock_settime(_cx: &mut Ctx, a: &Args) -> SysResult {
    match int(a.0[0]) {
        libc::CLOCK_REALTIME => Err(Errno::PERM),
        _ => Err(Errno::INVAL),
    }
}

/// iopl(level): above 3 EINVAL; raising it needs CAP_SYS_RAWIO; staying at
/// 0 succeeds.
pub fn sys_iopl(_cx: &mut Ctx, a: &Args) -> SysResult {
    match a.0[0] {
        0 => Ok(0),
        1..=3 => Err(Errno::PERM),
        _ => Err(Errno::INVAL),
    }
}

/// ioperm(from, num, turn_on): a range past port 0xffff is EINVAL;
/// granting ports needs CAP_SYS_RAWIO; revoking what was never granted
/// succeeds.
pub fn sys_ioperm(_cx: &mut Ctx, a: &Args) -> SysResult {
    let (from, num, on) = (a.0[0], a.0[1], a.0[2] as u32);
    if from.checked_add(num).is_none_or(|end| end > 0x10000) {
        return Err(Errno::INVAL);
    }
    if on != 0 {
        return Err(Errno::PERM);
    }
    Ok(0)
}

/// syslog(type, buf, len) under dmesg_restrict (Debian's default): every
/// action needs CAP_SYSLOG, checked before the type (measured on this
/// host: open and an unknown type are EPERM too).
pub fn sys_syslog(_cx: &mut Ctx, _a: &Args) -> SysResult {
    Err(Errno::PERM)
}

/// perf_event_open(attr, ...) under perf_event_paranoid > 2 (Debian's
/// default): the attribute's size is read first (EFAULT), then EACCES for a
/// program without CAP_PERFMON.
pub fn sys_perf_event_open(cx: &mut Ctx, a: &Args) -> SysResult {
    let mut size = [0u8; 4];
    cx.user().read(a.0[0].wrapping_add(4), &mut size)?;
    Err(Errno::ACCESS)
}
