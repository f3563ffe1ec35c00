//! Process identity, limits, exit, arch_prctl and friends.

use std::time::Duration;

use rustix::io::Errno;

use super::abi::{Rlimit, Rusage, Sysinfo, Timeval, Tms};
use super::fs::NOFILE;
use super::mm::STACK_LIMIT;
use super::{int, wait, Args, Ctx, Exit, SysResult};
use crate::vm::layout::USER_TOP;

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;
const ARCH_GET_CPUID: u64 = 0x1011;
const ARCH_SET_CPUID: u64 = 0x1012;

const RLIM_INFINITY: u64 = u64::MAX;
/// RLIMIT_SIGPENDING: queued signals (a bound on host memory too, 128
/// bytes of siginfo each).
pub const SIGPENDING_MAX: u64 = 4096;
const RLIM_NLIMITS: usize = 16;

/// The program's resource limits, as getrlimit/prlimit64 report them.
#[derive(Clone, Debug)]
pub struct Rlimits([(u64, u64); RLIM_NLIMITS]);

impl Rlimits {
    pub fn new(mem_size: u64) -> Self {
        let mut l = [(RLIM_INFINITY, RLIM_INFINITY); RLIM_NLIMITS];
        l[libc::RLIMIT_STACK as usize] = (STACK_LIMIT, RLIM_INFINITY);
        l[libc::RLIMIT_NOFILE as usize] = (NOFILE as u64, NOFILE as u64);
        l[libc::RLIMIT_AS as usize] = (mem_size, mem_size);
        l[libc::RLIMIT_CORE as usize] = (0, RLIM_INFINITY);
        l[libc::RLIMIT_NPROC as usize] = (1, 1);
        l[libc::RLIMIT_MEMLOCK as usize] = (8 << 20, 8 << 20);
        l[libc::RLIMIT_SIGPENDING as usize] = (SIGPENDING_MAX, SIGPENDING_MAX);
        l[libc::RLIMIT_MSGQUEUE as usize] = (819_200, 819_200);
        l[libc::RLIMIT_NICE as usize] = (0, 0);
        l[libc::RLIMIT_RTPRIO as usize] = (0, 0);
        Self(l)
    }

    /// A soft limit.
    pub fn soft(&self, resource: libc::__rlimit_resource_t) -> u64 {
        self.0.get(resource as usize).map_or(RLIM_INFINITY, |l| l.0)
    }

    pub fn nofile(&self) -> usize {
        usize::try_from(self.0[libc::RLIMIT_NOFILE as usize].0).unwrap_or(usize::MAX)
    }

    /// RLIMIT_FSIZE's soft limit, if any.
    pub fn fsize(&self) -> Option<u64> {
        let soft = self.0[libc::RLIMIT_FSIZE as usize].0;
        (soft != RLIM_INFINITY).then_some(soft)
    }

    /// Set a limit as the user imposed it (soft = hard = `value`).
    pub fn impose(&mut self, resource: libc::__rlimit_resource_t, value: u64) {
        self.impose_pair(resource, value, value);
    }

    /// Set a limit as the user imposed it.
    pub fn impose_pair(&mut self, resource: libc::__rlimit_resource_t, soft: u64, hard: u64) {
        if let Some(l) = self.0.get_mut(resource as usize) {
            *l = (soft, hard);
        }
    }
}

/// Write a regular file at `pos` for `count` bytes under RLIMIT_FSIZE:
/// how many bytes may be written, or None when none may (Linux sends
/// SIGXFSZ, whose default action kills, and returns EFBIG).
pub fn fsize_allows(limit: Option<u64>, pos: u64, count: u64) -> Option<u64> {
    match limit {
        None => Some(count),
        Some(l) if pos >= l && count > 0 => None,
        Some(l) => Some(count.min(l.saturating_sub(pos))),
    }
}

/// exit_group: every thread ends, the process with this status.
pub fn sys_exit_group(cx: &mut Ctx, a: &Args) -> SysResult {
    cx.proc.exit = Some(Exit::Code(int(a.0[0]) & 0xff));
    Ok(0)
}

pub fn sys_arch_prctl(cx: &mut Ctx, a: &Args) -> SysResult {
    let (code, addr) = (a.0[0], a.0[1]);
    match code {
        ARCH_SET_FS | ARCH_SET_GS => {
            if addr >= USER_TOP {
                return Err(Errno::PERM);
            }
            let s = cx.vcpu()?.sregs_mut();
            if code == ARCH_SET_FS {
                s.fs.base = addr;
            } else {
                s.gs.base = addr;
            }
            Ok(0)
        }
        ARCH_GET_FS | ARCH_GET_GS => {
            let s = cx.vcpu()?.sregs();
            let base = if code == ARCH_GET_FS {
                s.fs.base
            } else {
                s.gs.base
            };
            cx.user().write_obj(addr, &base)?;
            Ok(0)
        }
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(Errno::NODEV),
        _ => Err(Errno::INVAL),
    }
}

pub fn sys_set_tid_address(cx: &mut Ctx, a: &Args) -> SysResult {
    cx.proc.me().clear_child_tid = a.0[0];
    Ok(u64::from(cx.proc.me().tid))
}

pub fn sys_set_robust_list(cx: &mut Ctx, a: &Args) -> SysResult {
    // sizeof(struct robust_list_head)
    if a.0[1] != 24 {
        return Err(Errno::INVAL);
    }
    cx.proc.me().robust_list = (a.0[0], a.0[1]);
    Ok(0)
}

/// The kernel release the program sees: the Linux ABI kvmcage implements,
/// never the host's (which would tell the program about the host).
pub const RELEASE: &[u8] = b"6.12.0-kvmcage";
pub const VERSION: &[u8] = b"#1 SMP PREEMPT_DYNAMIC kvmcage";

pub fn sys_uname(cx: &mut Ctx, a: &Args) -> SysResult {
    let mut buf = [0u8; 6 * 65];
    let fields: [&[u8]; 6] = [
        b"Linux",
        &cx.proc.id.hostname,
        RELEASE,
        VERSION,
        b"x86_64",
        b"(none)",
    ];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        buf[i * 65..i * 65 + n].copy_from_slice(&f[..n]);
    }
    cx.user().write(a.0[0], &buf)?;
    Ok(0)
}

pub fn sys_getpid(cx: &mut Ctx, _a: &Args) -> SysResult {
    Ok(u64::from(cx.proc.id.pid))
}

/// getppid: the parent in the process table (the first process once
/// its own parent has ended; 0 for the first process itself).
pub fn sys_getppid(cx: &mut Ctx, _a: &Args) -> SysResult {
    let me = cx.proc.id.pid;
    let t = cx.proc.tasks.lock();
    Ok(u64::from(
        t.procs.get(&me).map_or(cx.proc.id.ppid, |e| e.ppid),
    ))
}

pub fn sys_getuid(cx: &mut Ctx, _a: &Args) -> SysResult {
    Ok(u64::from(cx.proc.id.uid))
}

pub fn sys_getgid(cx: &mut Ctx, _a: &Args) -> SysResult {
    Ok(u64::from(cx.proc.id.gid))
}

/// getgroups(size, list): the program has no supplementary groups (its
/// ids are --uid and --gid only), so the list is empty: 0, as Linux gives
/// a process whose list is empty; a negative size is EINVAL.
pub fn sys_getgroups(_cx: &mut Ctx, a: &Args) -> SysResult {
    if super::int(a.0[0]) < 0 {
        return Err(Errno::INVAL);
    }
    Ok(0)
}

fn write_three_ids(cx: &mut Ctx, a: &Args, id: u32) -> SysResult {
    for p in &a.0[..3] {
        cx.user().write_obj(*p, &id)?;
    }
    Ok(0)
}

pub fn sys_getresuid(cx: &mut Ctx, a: &Args) -> SysResult {
    let id = cx.proc.id.uid;
    write_three_ids(cx, a, id)
}

pub fn sys_getresgid(cx: &mut Ctx, a: &Args) -> SysResult {
    let id = cx.proc.id.gid;
    write_three_ids(cx, a, id)
}

/// setuid and its kin, as for a process without CAP_SETUID/CAP_SETGID
/// (the sandbox gives none, whatever --uid says): each id given (-1 keeps
/// one) must be the one it has (real, effective and saved are the same
/// here), else EPERM.
fn same_ids(current: u32, ids: &[u64]) -> SysResult {
    if ids
        .iter()
        .all(|&v| v as u32 == u32::MAX || v as u32 == current)
    {
        Ok(0)
    } else {
        Err(Errno::PERM)
    }
}

pub fn sys_setuid(cx: &mut Ctx, a: &Args) -> SysResult {
    if a.0[0] as u32 == u32::MAX {
        return Err(Errno::INVAL);
    }
    same_ids(cx.proc.id.uid, &a.0[..1])
}

pub fn sys_setgid(cx: &mut Ctx, a: &Args) -> SysResult {
    if a.0[0] as u32 == u32::MAX {
        return Err(Errno::INVAL);
    }
    same_ids(cx.proc.id.gid, &a.0[..1])
}

pub fn sys_setreuid(cx: &mut Ctx, a: &Args) -> SysResult {
    same_ids(cx.proc.id.uid, &a.0[..2])
}

pub fn sys_setregid(cx: &mut Ctx, a: &Args) -> SysResult {
    same_ids(cx.proc.id.gid, &a.0[..2])
}

pub fn sys_setresuid(cx: &mut Ctx, a: &Args) -> SysResult {
    same_ids(cx.proc.id.uid, &a.0[..3])
}

pub fn sys_setresgid(cx: &mut Ctx, a: &Args) -> SysResult {
    same_ids(cx.proc.id.gid, &a.0[..3])
}

/// setfsuid/setfsgid: the old id; it changes only to what it is.
pub fn sys_setfsuid(cx: &mut Ctx, _a: &Args) -> SysResult {
    Ok(u64::from(cx.proc.id.uid))
}

pub fn sys_setfsgid(cx: &mut Ctx, _a: &Args) -> SysResult {
    Ok(u64::from(cx.proc.id.gid))
}

fn resource(v: u64) -> Result<usize, Errno> {
    usize::try_from(v as u32)
        .ok()
        .filter(|&r| r < RLIM_NLIMITS)
        .ok_or(Errno::INVAL)
}

fn prlimit(cx: &mut Ctx, res: usize, new: u64, old: u64) -> SysResult {
    let cur = cx.proc.rlimits.0[res];
    let new_val = if new != 0 {
        let lim: Rlimit = cx.user().read_obj(new)?;
        let (soft, hard) = (lim.rlim_cur, lim.rlim_max);
        if soft > hard {
            return Err(Errno::INVAL);
        }
        if hard > cur.1 {
            return Err(Errno::PERM);
        }
        if res == libc::RLIMIT_NOFILE as usize && hard > NOFILE as u64 * 1024 {
            return Err(Errno::PERM);
        }
        Some((soft, hard))
    } else {
        None
    };
    if old != 0 {
        let lim = Rlimit {
            rlim_cur: cur.0,
            rlim_max: cur.1,
        };
        cx.user().write_obj(old, &lim)?;
    }
    if let Some(v) = new_val {
        cx.proc.rlimits.0[res] = v;
        if res == libc::RLIMIT_CPU as usize {
            cx.proc.timers.set_cpu_limit(v.0, v.1);
        }
    }
    Ok(0)
}

pub fn sys_prlimit64(cx: &mut Ctx, a: &Args) -> SysResult {
    let pid = int(a.0[0]);
    if pid != 0 && pid != cx.proc.id.pid as i32 {
        return Err(Errno::SRCH);
    }
    let res = resource(a.0[1])?;
    prlimit(cx, res, a.0[2], a.0[3])
}

pub fn sys_getrlimit(cx: &mut Ctx, a: &Args) -> SysResult {
    let res = resource(a.0[0])?;
    prlimit(cx, res, 0, a.0[1])
}

pub fn sys_setrlimit(cx: &mut Ctx, a: &Args) -> SysResult {
    let res = resource(a.0[0])?;
    prlimit(cx, res, a.0[1], 0)
}

/// The CPU mask the program sees: CPUs 0..ncpus (the host CPUs kvmcage's
/// threads may run on, renumbered from 0), as `nr_cpu_ids` bits rounded
/// up to longs.
fn cpu_mask(ncpus: u32) -> Vec<u8> {
    let mut m = vec![0u8; (ncpus as usize).div_ceil(64) * 8];
    for cpu in 0..ncpus as usize {
        m[cpu / 8] |= 1 << (cpu % 8);
    }
    m
}

/// The thread `pid` names (0: the caller; the pid: the leader), as an
/// index into the process's threads.
fn thread_index(cx: &Ctx, pid: i32) -> Result<usize, Errno> {
    own_pid(cx, pid)?;
    Ok(match pid {
        0 => cx.proc.cur,
        pid => cx.proc.find_thread(pid.into()).unwrap_or(0),
    })
}

/// The CPUs thread `i` may run on: its sched_setaffinity mask, or all.
fn affinity_of(cx: &Ctx, i: usize) -> Vec<u8> {
    let all = cpu_mask(cx.proc.ncpus);
    match &cx.proc.threads[i].affinity {
        Some(m) => all.iter().zip(m).map(|(a, b)| a & b).collect(),
        None => all,
    }
}

/// sched_getaffinity of a thread of the process.
pub fn sys_sched_getaffinity(cx: &mut Ctx, a: &Args) -> SysResult {
    let (pid, len, mask) = (int(a.0[0]), a.0[1] as u32 as u64, a.0[2]);
    let i = thread_index(cx, pid)?;
    let bits = affinity_of(cx, i);
    // Linux: the buffer must hold nr_cpu_ids bits and be whole longs; it
    // copies cpumask_size() bytes.
    if len * 8 < u64::from(cx.proc.ncpus) || len % 8 != 0 {
        return Err(Errno::INVAL);
    }
    cx.user().write(mask, &bits)?;
    Ok(bits.len() as u64)
}

/// getpriority/setpriority for the program itself (which = PRIO_PROCESS,
/// PRIO_PGRP or PRIO_USER, who = 0 or its own id). The nice value is the
/// sandbox's own; the vCPU thread's host priority is not the program's to
/// change. Raising it (lowering nice) is EACCES without CAP_SYS_NICE, as
/// RLIMIT_NICE 0 says.
pub fn sys_getpriority(cx: &mut Ctx, a: &Args) -> SysResult {
    priority_target(cx, a)?;
    // The kernel's getpriority returns 20 - nice (never negative).
    Ok((20 - cx.proc.nice) as u64)
}

pub fn sys_setpriority(cx: &mut Ctx, a: &Args) -> SysResult {
    priority_target(cx, a)?;
    let nice = (a.0[2] as u32 as i32).clamp(-20, 19);
    if nice < cx.proc.nice {
        return Err(Errno::ACCESS);
    }
    cx.proc.nice = nice;
    Ok(0)
}

fn priority_target(cx: &Ctx, a: &Args) -> Result<(), Errno> {
    let (which, who) = (a.0[0] as u32, a.0[1] as u32);
    let own = match which {
        libc::PRIO_PROCESS | libc::PRIO_PGRP => cx.proc.id.pid,
        libc::PRIO_USER => cx.proc.id.uid,
        _ => return Err(Errno::INVAL),
    };
    if who != 0 && who != own {
        return Err(Errno::SRCH);
    }
    Ok(())
}

/// sched_rr_get_interval: the program runs under SCHED_OTHER, whose
/// "interval" Linux reports as 0 (or the CFS slice); kvmcage says 0.
pub fn sys_sched_rr_get_interval(cx: &mut Ctx, a: &Args) -> SysResult {
    let pid = int(a.0[0]);
    if pid < 0 {
        return Err(Errno::INVAL);
    }
    if pid != 0 && pid != cx.proc.id.pid as i32 {
        return Err(Errno::SRCH);
    }
    cx.user().write(a.0[1], &[0u8; 16])?;
    Ok(0)
}

/// unshare(flags) for a process of one thread: what it could unshare
/// (descriptors, fs attributes, SysV undo lists, and the thread, signal
/// and VM sharing a lone thread has none of) is already its own, as
/// Linux's unshare finds it; new namespaces need privileges the program
/// never has (EPERM, as a kernel that denies unprivileged user
/// namespaces); unknown bits are EINVAL. (Threads, issue 15, make the
/// first set real.)
/// unshare(2): a descriptor table (CLONE_FILES) or working directory
/// (CLONE_FS) of the caller's own. Unsharing the thread group, the
/// dispositions or the memory is a no-op for a process alone in them and
/// EINVAL otherwise (Linux's check_unshare_flags); namespaces need
/// privilege the program lacks.
pub fn sys_unshare(cx: &mut Ctx, a: &Args) -> SysResult {
    let mut flags = a.0[0];
    let own = (libc::CLONE_FILES
        | libc::CLONE_FS
        | libc::CLONE_SYSVSEM
        | libc::CLONE_THREAD
        | libc::CLONE_SIGHAND
        | libc::CLONE_VM) as u64;
    let namespaces = (libc::CLONE_NEWNS
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP) as u64
        | 0x80; // CLONE_NEWTIME
    if flags & !(own | namespaces) != 0 {
        return Err(Errno::INVAL);
    }
    // What each implies (ksys_unshare): a thread leaving its group leaves
    // the memory, leaving the memory leaves the dispositions, a mount
    // namespace of its own needs its own fs_struct.
    let bit = |b: i32| b as u64;
    // A user namespace of its own needs a thread alone (and its own
    // fs_struct) first.
    if flags & bit(libc::CLONE_NEWUSER) != 0 {
        flags |= bit(libc::CLONE_THREAD | libc::CLONE_FS);
    }
    if flags & bit(libc::CLONE_THREAD) != 0 {
        flags |= bit(libc::CLONE_VM);
    }
    if flags & bit(libc::CLONE_VM) != 0 {
        flags |= bit(libc::CLONE_SIGHAND);
    }
    if flags & bit(libc::CLONE_NEWNS) != 0 {
        flags |= bit(libc::CLONE_FS);
    }
    let group = bit(libc::CLONE_THREAD | libc::CLONE_SIGHAND | libc::CLONE_VM);
    if flags & group != 0 && cx.proc.threads.len() > 1 {
        return Err(Errno::INVAL);
    }
    // A vfork child shares its parent's memory until it execs.
    if flags & bit(libc::CLONE_VM) != 0 && cx.proc.mm.borrowed {
        return Err(Errno::INVAL);
    }
    if flags & namespaces != 0 {
        return Err(Errno::PERM);
    }
    if flags & bit(libc::CLONE_FS) != 0 {
        cx.proc.unshare_fs();
    }
    if flags & bit(libc::CLONE_FILES) != 0 {
        cx.proc.unshare_files();
    }
    Ok(0)
}

pub fn sys_sched_yield(_cx: &mut Ctx, _a: &Args) -> SysResult {
    Ok(0)
}

const GRND_NONBLOCK: u32 = 1;
const GRND_RANDOM: u32 = 2;
const GRND_INSECURE: u32 = 4;

pub fn sys_getrandom(cx: &mut Ctx, a: &Args) -> SysResult {
    let (buf, len, flags) = (a.0[0], a.0[1], a.0[2] as u32);
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::INVAL);
    }
    // Linux caps one call at INT_MAX >> 6 bytes.
    let len = len.min(0x1ff_ffff);
    if !crate::mm::uaccess::access_ok(buf, len) {
        return Err(Errno::FAULT);
    }
    let mut done = 0u64;
    let mut tmp = [0u8; 4096];
    while done < len {
        let n = ((len - done) as usize).min(tmp.len());
        rustix::rand::getrandom(&mut tmp[..n], rustix::rand::GetRandomFlags::empty())?;
        let w = cx.user().write_prefix(buf + done, &tmp[..n]);
        done += w as u64;
        if w < n {
            break;
        }
    }
    if done == 0 && len > 0 {
        return Err(Errno::FAULT);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsize_limit_truncates_then_refuses() {
        assert_eq!(fsize_allows(None, 1 << 40, 10), Some(10));
        assert_eq!(fsize_allows(Some(100), 95, 10), Some(5));
        assert_eq!(fsize_allows(Some(100), 100, 10), None);
        assert_eq!(fsize_allows(Some(100), 100, 0), Some(0));
    }
}

/// What prctl sets and reads back.
#[derive(Clone, Debug)]
pub struct TaskFlags {
    /// PR_SET_NAME (empty: the program file's name).
    pub comm: Vec<u8>,
    pub pdeathsig: i32,
    pub dumpable: bool,
    pub no_new_privs: bool,
    /// membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) was called.
    pub membarrier_private: bool,
    /// membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) was called.
    pub membarrier_global: bool,
}

impl Default for TaskFlags {
    fn default() -> Self {
        Self {
            comm: Vec::new(),
            pdeathsig: 0,
            dumpable: true,
            no_new_privs: false,
            membarrier_private: false,
            membarrier_global: false,
        }
    }
}

/// The thread's name: what PR_SET_NAME set, else the program file's name,
/// at most 15 bytes (TASK_COMM_LEN - 1).
pub fn comm(proc: &super::Process) -> Vec<u8> {
    // Set from the program's name at each execve; PR_SET_NAME may make it
    // anything, even empty.
    let name = &proc.task.comm;
    name[..name.len().min(15)].to_vec()
}

/// `pid` names the one process (0 or its own pid), else ESRCH.
fn own_pid(cx: &Ctx, pid: i32) -> Result<(), Errno> {
    if pid == 0 || pid == cx.proc.id.pid as i32 || cx.proc.find_thread(pid.into()).is_some() {
        Ok(())
    } else if pid < 0 {
        Err(Errno::INVAL)
    } else {
        Err(Errno::SRCH)
    }
}

/// The process `pid` names for getpgid/getsid/setpgid (0: the caller; a
/// thread id names its process only when it is the caller's): its pid.
fn named_pid(cx: &Ctx, pid: i32) -> Result<u32, Errno> {
    if pid < 0 {
        return Err(Errno::SRCH);
    }
    if pid == 0 || cx.proc.find_thread(pid.into()).is_some() {
        return Ok(cx.proc.id.pid);
    }
    Ok(pid as u32)
}

/// getpgid: the process group of a process (zombies too, as Linux).
pub fn sys_getpgid(cx: &mut Ctx, a: &Args) -> SysResult {
    let pid = named_pid(cx, int(a.0[0]))?;
    let t = cx.proc.tasks.lock();
    t.procs
        .get(&pid)
        .map(|e| u64::from(e.pgid))
        .ok_or(Errno::SRCH)
}

pub fn sys_getsid(cx: &mut Ctx, a: &Args) -> SysResult {
    let pid = named_pid(cx, int(a.0[0]))?;
    let t = cx.proc.tasks.lock();
    t.procs
        .get(&pid)
        .map(|e| u64::from(e.sid))
        .ok_or(Errno::SRCH)
}

pub fn sys_getpgrp(cx: &mut Ctx, _a: &Args) -> SysResult {
    sys_getpgid(cx, &Args::default())
}

/// setpgid as Linux checks it: the caller or a child of it that has not
/// execed (EACCES after), in the caller's session, not a session leader
/// (EPERM), into its own new group or an existing group of the session.
pub fn sys_setpgid(cx: &mut Ctx, a: &Args) -> SysResult {
    let (pid, pgid) = (int(a.0[0]), int(a.0[1]));
    if pgid < 0 {
        return Err(Errno::INVAL);
    }
    let me = cx.proc.id.pid;
    let pid = if pid == 0 { me } else { pid as u32 };
    let pgid = if pgid == 0 { pid } else { pgid as u32 };
    let mut t = cx.proc.tasks.lock();
    let my_sid = t.procs.get(&me).map_or(me, |e| e.sid);
    let target = t.procs.get(&pid).ok_or(Errno::SRCH)?;
    if pid != me {
        if target.ppid != me {
            return Err(Errno::SRCH);
        }
        if target.sid != my_sid {
            return Err(Errno::PERM);
        }
        if target.execed {
            return Err(Errno::ACCESS);
        }
    }
    if target.sid == pid {
        return Err(Errno::PERM);
    }
    if pgid != pid
        && !t
            .procs
            .values()
            .any(|e| e.pgid == pgid && e.sid == my_sid && e.zombie.is_none())
    {
        return Err(Errno::PERM);
    }
    if let Some(e) = t.procs.get_mut(&pid) {
        e.pgid = pgid;
    }
    Ok(0)
}

/// setsid: a new session and group led by the caller, unless it already
/// leads a group (EPERM).
pub fn sys_setsid(cx: &mut Ctx, _a: &Args) -> SysResult {
    let me = cx.proc.id.pid;
    let mut t = cx.proc.tasks.lock();
    if t.procs.values().any(|e| e.pgid == me) {
        return Err(Errno::PERM);
    }
    let e = t.procs.get_mut(&me).ok_or(Errno::SRCH)?;
    e.sid = me;
    e.pgid = me;
    Ok(u64::from(me))
}

pub fn sys_prctl(cx: &mut Ctx, a: &Args) -> SysResult {
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_PDEATHSIG: u64 = 2;
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_GET_KEEPCAPS: u64 = 7;
    const PR_SET_KEEPCAPS: u64 = 8;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_GET_SECCOMP: u64 = 21;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    let [option, a2, a3, a4, a5, _] = a.0;
    match option as u32 as u64 {
        PR_SET_PDEATHSIG => {
            if a2 > 64 {
                return Err(Errno::INVAL);
            }
            cx.proc.task.pdeathsig = a2 as i32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            let v = cx.proc.task.pdeathsig;
            cx.user().write_obj(a2, &v)?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(u64::from(cx.proc.task.dumpable)),
        PR_SET_DUMPABLE => match a2 {
            0 | 1 => {
                cx.proc.task.dumpable = a2 == 1;
                Ok(0)
            }
            _ => Err(Errno::INVAL),
        },
        PR_GET_KEEPCAPS => Ok(0),
        PR_SET_KEEPCAPS => match a2 {
            0 | 1 => Ok(0),
            _ => Err(Errno::INVAL),
        },
        PR_SET_NAME => {
            // Linux copies at most 15 bytes and never fails on a long name.
            let mut name = [0u8; 15];
            let n = cx.user().read_prefix(a2, &mut name);
            if n == 0 {
                return Err(Errno::FAULT);
            }
            let end = name[..n].iter().position(|&b| b == 0).unwrap_or(n);
            cx.proc.task.comm = name[..end].to_vec();
            Ok(0)
        }
        PR_GET_NAME => {
            let mut out = [0u8; 16];
            let c = comm(cx.proc);
            out[..c.len()].copy_from_slice(&c);
            cx.user().write(a2, &out)?;
            Ok(0)
        }
        PR_GET_SECCOMP => Ok(0),
        PR_SET_NO_NEW_PRIVS => {
            if a2 != 1 || a3 != 0 || a4 != 0 || a5 != 0 {
                return Err(Errno::INVAL);
            }
            cx.proc.task.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => {
            if a2 != 0 || a3 != 0 || a4 != 0 || a5 != 0 {
                return Err(Errno::INVAL);
            }
            Ok(u64::from(cx.proc.task.no_new_privs))
        }
        _ => Err(Errno::INVAL),
    }
}

pub fn sys_get_robust_list(cx: &mut Ctx, a: &Args) -> SysResult {
    own_pid(cx, int(a.0[0])).map_err(|e| if e == Errno::INVAL { Errno::SRCH } else { e })?;
    // The length is always sizeof(struct robust_list_head), as Linux.
    let head = cx.proc.me().robust_list.0;
    cx.user().write_obj(a.0[2], &24u64)?;
    cx.user().write_obj(a.0[1], &head)?;
    Ok(0)
}

/// Which children a wait is for.
#[derive(Clone, Copy, Debug)]
enum Which {
    Any,
    Pid(u32),
    Group(u32),
}

const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2;
const WEXITED: u64 = 4;
const WCONTINUED: u64 = 8;
const WNOWAIT: u64 = 0x0100_0000;
const WNOTHREAD: u64 = 0x2000_0000;
const WALL: u64 = 0x4000_0000;
const WCLONE: u64 = 0x8000_0000;

/// What a wait found: the child, what happened to it, and its CPU time
/// (user, system; its reaped children's included) when it ended.
type Waited = (u32, super::task::Status, (Duration, Duration));

/// Wait for a child that `which` names to end, or (with WUNTRACED or
/// WCONTINUED in `options`) to stop or continue (Linux's do_wait; an exit
/// is reported only with `exited`). `Ok(None)` with WNOHANG when none has;
/// ECHILD when there is no such child; a signal interrupts
/// (ERESTARTSYS). The event is consumed (a zombie reaped) unless WNOWAIT.
fn wait_child(
    cx: &mut Ctx,
    which: Which,
    options: u64,
    exited: bool,
) -> Result<Option<Waited>, Errno> {
    use super::task::Status;
    loop {
        {
            let me = cx.proc.id.pid;
            let tasks = std::sync::Arc::clone(&cx.proc.tasks);
            let mut t = tasks.lock();
            let mut any = false;
            let mut found = None;
            for (&pid, e) in &t.procs {
                // __WCLONE waits for the children whose exit signal is
                // not SIGCHLD, neither for the others; __WALL for all.
                let clone_child = e.exit_signal != libc::SIGCHLD;
                let kind = options & WALL != 0 || (options & WCLONE != 0) == clone_child;
                let wanted = e.ppid == me
                    && kind
                    && match which {
                        Which::Any => true,
                        Which::Pid(p) => pid == p,
                        Which::Group(g) => e.pgid == g,
                    };
                if !wanted {
                    continue;
                }
                any = true;
                let event = match (e.zombie, e.stop_event) {
                    (Some(st), _) if exited => Some(st),
                    (Some(_), _) => None,
                    (None, Some(sig)) if options & WUNTRACED != 0 => Some(Status::Stopped(sig)),
                    (None, _) if e.continued && options & WCONTINUED != 0 => {
                        Some(Status::Continued)
                    }
                    _ => None,
                };
                if let Some(st) = event {
                    found = Some((pid, st, e.cpu));
                    break;
                }
            }
            if !any {
                return Err(Errno::CHILD);
            }
            if let Some((pid, st, cpu)) = found {
                if options & WNOWAIT == 0 {
                    match st {
                        Status::Stopped(_) => {
                            if let Some(e) = t.procs.get_mut(&pid) {
                                e.stop_event = None;
                            }
                        }
                        Status::Continued => {
                            if let Some(e) = t.procs.get_mut(&pid) {
                                e.continued = false;
                            }
                        }
                        _ => {
                            t.procs.remove(&pid);
                            drop(t);
                            let c = &mut cx.proc.children_cpu;
                            c.0 += cpu.0;
                            c.1 += cpu.1;
                        }
                    }
                }
                return Ok(Some((pid, st, cpu)));
            }
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        if wait::block_on(cx, &mut [], None, wait::Wake::Signal)? == wait::Woken::Signal {
            return Err(wait::ERESTARTSYS);
        }
    }
}

/// A struct rusage with these user and system times, the rest 0.
fn rusage_of(cpu: (Duration, Duration)) -> Rusage {
    Rusage {
        ru_utime: Timeval::from_duration(cpu.0),
        ru_stime: Timeval::from_duration(cpu.1),
        ..Rusage::default()
    }
}

/// The CPU time of the calling process (RUSAGE_SELF, times): the whole
/// of kvmcage's for the first process (as before: its threads and the
/// host's work for them, less the set-up), for another one its ended
/// threads' and the calling thread's.
fn self_cpu_time(cx: &Ctx) -> (Duration, Duration) {
    if cx.proc.tasks.is_first(cx.proc.id.pid) {
        return cpu_time(cx.proc.cpu_base);
    }
    let t = thread_cpu_time();
    (cx.proc.cpu_done.0 + t.0, cx.proc.cpu_done.1 + t.1)
}

/// The caller's process group.
fn my_pgid(cx: &Ctx) -> u32 {
    let me = cx.proc.id.pid;
    cx.proc.tasks.lock().procs.get(&me).map_or(me, |e| e.pgid)
}

pub fn sys_wait4(cx: &mut Ctx, a: &Args) -> SysResult {
    let [pid, status, options, rusage, ..] = a.0;
    let pid = int(pid);
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WCLONE | WALL) != 0 {
        return Err(Errno::INVAL);
    }
    let which = match pid {
        i32::MIN => return Err(Errno::SRCH),
        -1 => Which::Any,
        0 => Which::Group(my_pgid(cx)),
        p if p < 0 => Which::Group(p.unsigned_abs()),
        p => Which::Pid(p as u32),
    };
    let Some((pid, st, cpu)) = wait_child(
        cx,
        which,
        options & (WNOHANG | WUNTRACED | WCONTINUED | WALL | WCLONE),
        true,
    )?
    else {
        return Ok(0);
    };
    if status != 0 {
        cx.user().write_obj(status, &st.wait_status())?;
    }
    if rusage != 0 {
        cx.user().write_obj(rusage, &rusage_of(cpu))?;
    }
    Ok(u64::from(pid))
}

pub fn sys_waitid(cx: &mut Ctx, a: &Args) -> SysResult {
    const P_ALL: u64 = 0;
    const P_PID: u64 = 1;
    const P_PGID: u64 = 2;
    let [idtype, id, infop, options, rusage, _] = a.0;
    let id = int(id);
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WCLONE | WALL)
        != 0
        || options & (WEXITED | WUNTRACED | WCONTINUED) == 0
    {
        return Err(Errno::INVAL);
    }
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID if id > 0 => Which::Pid(id as u32),
        P_PGID if id == 0 => Which::Group(my_pgid(cx)),
        P_PGID if id > 0 => Which::Group(id as u32),
        _ => return Err(Errno::INVAL),
    };
    let found = wait_child(
        cx,
        which,
        options & (WNOHANG | WNOWAIT | WUNTRACED | WCONTINUED | WALL | WCLONE),
        options & WEXITED != 0,
    )?;
    let mut info = [0u8; 128];
    let mut times = Default::default();
    if let Some((pid, st, cpu)) = found {
        let (code, status) = st.code_and_status();
        let si = super::signal::SigInfo::child(libc::SIGCHLD, code, pid, cx.proc.id.uid, status)
            .with_times(cpu);
        info.copy_from_slice(si.bytes());
        times = cpu;
    }
    if infop != 0 {
        cx.user().write(infop, &info)?;
    }
    if rusage != 0 {
        cx.user().write_obj(rusage, &rusage_of(times))?;
    }
    Ok(0)
}

/// The CPU time of kvmcage's threads (each guest thread's vCPU thread:
/// guest time and the host's work for it; the idle watchdog), (user,
/// system), less `base`: what was used before the program's first
/// instruction (kvmcage's set-up) is not the program's.
/// The exitless service threads' CPU time is kvmcage's, not the
/// program's (`exitless::service_cpu`): it is taken off, from the user
/// time first.
pub fn cpu_time(base: (Duration, Duration)) -> (Duration, Duration) {
    let (u, s) = rusage(libc::RUSAGE_SELF, base);
    let service = crate::exitless::service_cpu();
    (
        u.saturating_sub(service),
        s.saturating_sub(service.saturating_sub(u)),
    )
}

/// The process CPU-time clock as the program reads it
/// (CLOCK_PROCESS_CPUTIME_ID, its CPU-time timers), and the host's
/// process CPU clock it comes from (which the host alarms run on): the
/// host's less the service threads' (`cpu_time`). The two are read one
/// after the other, so the difference alone could step back; Linux's
/// clock never does, and neither does this one: it holds at the highest
/// reading so far (of any run in this host process, as the host's clock
/// is shared by them).
pub fn cpu_clock() -> (Duration, Duration) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static HIGHEST: AtomicU64 = AtomicU64::new(0);
    let service = crate::exitless::service_cpu();
    let host = super::wait::clock_now(rustix::time::ClockId::ProcessCPUTime);
    let ns = u64::try_from(host.saturating_sub(service).as_nanos()).unwrap_or(u64::MAX);
    let ns = HIGHEST.fetch_max(ns, Ordering::Relaxed).max(ns);
    (Duration::from_nanos(ns), host)
}

/// The calling vCPU thread's own CPU time (getrusage(RUSAGE_THREAD)).
pub fn thread_cpu_time() -> (Duration, Duration) {
    rusage(libc::RUSAGE_THREAD, Default::default())
}

fn rusage(who: i32, base: (Duration, Duration)) -> (Duration, Duration) {
    // SAFETY: getrusage writes one struct rusage into `ru`, which lives
    // across the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    unsafe { libc::getrusage(who, &mut ru) };
    let d = |tv: libc::timeval| {
        Duration::new(
            tv.tv_sec.max(0) as u64,
            (tv.tv_usec.clamp(0, 999_999) * 1000) as u32,
        )
    };
    (
        d(ru.ru_utime).saturating_sub(base.0),
        d(ru.ru_stime).saturating_sub(base.1),
    )
}

pub fn sys_getrusage(cx: &mut Ctx, a: &Args) -> SysResult {
    const RUSAGE_CHILDREN: i32 = -1;
    let who = int(a.0[0]);
    let usage = match who {
        libc::RUSAGE_SELF | libc::RUSAGE_THREAD => {
            let cpu = if who == libc::RUSAGE_SELF {
                self_cpu_time(cx)
            } else {
                thread_cpu_time()
            };
            Rusage {
                // KiB: the most guest memory ever in use.
                ru_maxrss: (cx.m.frames().peak() * 4) as i64,
                ..rusage_of(cpu)
            }
        }
        RUSAGE_CHILDREN => rusage_of(cx.proc.children_cpu),
        _ => return Err(Errno::INVAL),
    };
    cx.user().write_obj(a.0[1], &usage)?;
    Ok(0)
}

/// times: clock ticks at USER_HZ (100).
pub fn sys_times(cx: &mut Ctx, a: &Args) -> SysResult {
    let ticks = |d: Duration| (d.as_millis() / 10) as i64;
    if a.0[0] != 0 {
        let (u, s) = self_cpu_time(cx);
        let (cu, cs) = cx.proc.children_cpu;
        let t = Tms {
            tms_utime: ticks(u),
            tms_stime: ticks(s),
            tms_cutime: ticks(cu),
            tms_cstime: ticks(cs),
        };
        cx.user().write_obj(a.0[0], &t)?;
    }
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    Ok(now.tv_sec as u64 * 100 + now.tv_nsec as u64 / 10_000_000)
}

/// sysinfo: the sandbox's memory (--mem), one process, the host's uptime
/// and no load.
pub fn sys_sysinfo(cx: &mut Ctx, a: &Args) -> SysResult {
    let page = crate::vm::layout::PAGE_SIZE;
    let info = Sysinfo {
        uptime: rustix::time::clock_gettime(rustix::time::ClockId::Boottime).tv_sec,
        totalram: cx.m.frames().capacity() * page,
        freeram: cx.m.frames().available() * page,
        procs: cx.proc.tasks.lock().live().clamp(1, usize::from(u16::MAX)) as u16,
        mem_unit: 1,
        ..Sysinfo::default()
    };
    cx.user().write_obj(a.0[0], &info)?;
    Ok(0)
}

/// getcpu: the one vCPU, node 0.
/// getcpu: the CPU the thread is on, as the process numbers them: its
/// vCPU's, or the first its affinity allows; node 0.
pub fn sys_getcpu(cx: &mut Ctx, a: &Args) -> SysResult {
    let mask = affinity_of(cx, cx.proc.cur);
    let on = |c: u32| {
        mask.get(c as usize / 8)
            .is_some_and(|b| b & (1 << (c % 8)) != 0)
    };
    let mine = cx.vcpu()?.index() as u32 % cx.proc.ncpus.max(1);
    let cpu = if on(mine) {
        mine
    } else {
        (0..cx.proc.ncpus).find(|&c| on(c)).unwrap_or(0)
    };
    for (p, v) in [(a.0[0], cpu), (a.0[1], 0)] {
        if p != 0 {
            cx.user().write_obj(p, &v)?;
        }
    }
    Ok(0)
}

/// membarrier with one thread: every barrier is already complete.
pub fn sys_membarrier(cx: &mut Ctx, a: &Args) -> SysResult {
    const QUERY: u32 = 0;
    const GLOBAL: u32 = 1;
    const GLOBAL_EXPEDITED: u32 = 2;
    const REGISTER_GLOBAL_EXPEDITED: u32 = 4;
    const PRIVATE_EXPEDITED: u32 = 8;
    const REGISTER_PRIVATE_EXPEDITED: u32 = 16;
    const GET_REGISTRATIONS: u32 = 512;
    let (cmd, flags) = (a.0[0] as u32, a.0[1] as u32);
    if flags != 0 {
        return Err(Errno::INVAL);
    }
    match cmd {
        QUERY => Ok(u64::from(
            GLOBAL
                | GLOBAL_EXPEDITED
                | REGISTER_GLOBAL_EXPEDITED
                | PRIVATE_EXPEDITED
                | REGISTER_PRIVATE_EXPEDITED,
        )),
        GLOBAL | GLOBAL_EXPEDITED => host_barrier(cx),
        REGISTER_GLOBAL_EXPEDITED => {
            cx.proc.task.membarrier_global = true;
            Ok(0)
        }
        // The registrations made so far (Linux 6.3).
        GET_REGISTRATIONS => Ok(u64::from(
            if cx.proc.task.membarrier_global {
                REGISTER_GLOBAL_EXPEDITED
            } else {
                0
            } | if cx.proc.task.membarrier_private {
                REGISTER_PRIVATE_EXPEDITED
            } else {
                0
            },
        )),
        REGISTER_PRIVATE_EXPEDITED => {
            cx.proc.task.membarrier_private = true;
            Ok(0)
        }
        PRIVATE_EXPEDITED if cx.proc.task.membarrier_private => host_barrier(cx),
        PRIVATE_EXPEDITED => Err(Errno::PERM),
        _ => Err(Errno::INVAL),
    }
}

/// A memory barrier on every thread of the program that runs now: with
/// one thread there is nothing to do; with several, the host's
/// membarrier(PRIVATE_EXPEDITED) interrupts each CPU that runs one of
/// kvmcage's threads (a vCPU in guest mode leaves it, which orders its
/// accesses), and returns once all have. Registered on first use; a host
/// without it gets MEMBARRIER_CMD_GLOBAL, which waits for every CPU.
fn host_barrier(cx: &mut Ctx) -> SysResult {
    use std::sync::atomic::{AtomicU8, Ordering};
    const HOST_GLOBAL: libc::c_long = 1;
    const HOST_PRIVATE_EXPEDITED: libc::c_long = 8;
    const HOST_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 16;
    // 0: not asked yet, 1: registered, 2: not available.
    static STATE: AtomicU8 = AtomicU8::new(0);
    if cx.proc.threads.len() < 2 {
        return Ok(0);
    }
    let membarrier = |cmd: libc::c_long| {
        // SAFETY: membarrier takes two integer arguments (and a CPU id
        // that these commands ignore); it touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
    };
    if STATE.load(Ordering::Acquire) == 0 {
        let ok = membarrier(HOST_REGISTER_PRIVATE_EXPEDITED);
        STATE.store(if ok { 1 } else { 2 }, Ordering::Release);
    }
    let done = match STATE.load(Ordering::Acquire) {
        1 => membarrier(HOST_PRIVATE_EXPEDITED),
        _ => membarrier(HOST_GLOBAL),
    };
    if !done {
        log::debug!(
            "host membarrier failed: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(0)
}

/// The one scheduling class kvmcage runs programs in: SCHED_OTHER, nice 0.
pub fn sys_sched_getscheduler(cx: &mut Ctx, a: &Args) -> SysResult {
    own_pid(cx, int(a.0[0]))?;
    Ok(libc::SCHED_OTHER as u64)
}

pub fn sys_sched_getparam(cx: &mut Ctx, a: &Args) -> SysResult {
    own_pid(cx, int(a.0[0]))?;
    cx.user().write_obj(a.0[1], &0i32)?;
    Ok(0)
}

/// Setting SCHED_OTHER/BATCH/IDLE with priority 0 is allowed (and changes
/// nothing); real-time classes need CAP_SYS_NICE (EPERM).
pub fn sys_sched_setscheduler(cx: &mut Ctx, a: &Args) -> SysResult {
    own_pid(cx, int(a.0[0]))?;
    let prio: i32 = cx.user().read_obj(a.0[2])?;
    match int(a.0[1]) {
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE if prio == 0 => Ok(0),
        libc::SCHED_FIFO | libc::SCHED_RR if (1..=99).contains(&prio) => Err(Errno::PERM),
        _ => Err(Errno::INVAL),
    }
}

pub fn sys_sched_setparam(cx: &mut Ctx, a: &Args) -> SysResult {
    own_pid(cx, int(a.0[0]))?;
    let prio: i32 = cx.user().read_obj(a.0[1])?;
    if prio != 0 {
        return Err(Errno::INVAL);
    }
    Ok(0)
}

pub fn sys_sched_get_priority_max(_cx: &mut Ctx, a: &Args) -> SysResult {
    match int(a.0[0]) {
        libc::SCHED_FIFO | libc::SCHED_RR => Ok(99),
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => Ok(0),
        _ => Err(Errno::INVAL),
    }
}

pub fn sys_sched_get_priority_min(_cx: &mut Ctx, a: &Args) -> SysResult {
    match int(a.0[0]) {
        libc::SCHED_FIFO | libc::SCHED_RR => Ok(1),
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => Ok(0),
        _ => Err(Errno::INVAL),
    }
}

/// sched_setaffinity: the mask must name one of the process's CPUs
/// (EINVAL otherwise); it is what sched_getaffinity and getcpu report for
/// the thread. (kvmcage does not pin its host threads.)
pub fn sys_sched_setaffinity(cx: &mut Ctx, a: &Args) -> SysResult {
    let i = thread_index(cx, int(a.0[0]))?;
    let have = cpu_mask(cx.proc.ncpus);
    let len = (a.0[1] as u32 as usize).min(have.len());
    if len == 0 {
        return Err(Errno::INVAL);
    }
    let mut raw = cx.user().read_vec(a.0[2], len)?;
    raw.resize(have.len(), 0);
    if !raw.iter().zip(&have).any(|(w, h)| w & h != 0) {
        return Err(Errno::INVAL);
    }
    cx.proc.threads[i].affinity = Some(raw);
    Ok(0)
}
