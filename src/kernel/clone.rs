//! clone, clone3, exit and the ids of threads (PROCESSES.md 2, 5, 9).
//!
//! A new thread is a `Thread` in the caller's `Process` (same address
//! space, descriptors, cwd and dispositions) and a vCPU of the machine,
//! taken from the pool of vCPUs whose threads ended or made anew (KVM
//! cannot destroy one). The handler sets the vCPU's state from the
//! caller's (registers with RAX 0 and the new stack, FS/GS bases, the
//! XSAVE image) and leaves a `Spawn` in the process; the run loop, which
//! owns host threads, starts one for it (`kernel/` starts none).
//!
//! A new process (clone without CLONE_THREAD: fork, vfork, posix_spawn)
//! is a `Process` of its own (`Process::fork`: a copy-on-write copy of
//! the address space, the same open files) registered in the task table,
//! whose first thread starts the same way.

use kvm_bindings::kvm_regs;
use rustix::io::Errno;
use vm_memory::ByteValued;

use super::abi;
use super::{Args, Ctx, Process, SysResult, Thread};
use crate::mm::uaccess::access_ok;
use crate::vm::layout::PAGE_SIZE;
use crate::vm::{Machine, Vcpu};

const CSIGNAL: u64 = 0xff;
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_PTRACE: u64 = 0x2000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x1_0000;
const CLONE_NEWNS: u64 = 0x2_0000;
const CLONE_SYSVSEM: u64 = 0x4_0000;
const CLONE_SETTLS: u64 = 0x8_0000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_DETACHED: u64 = 0x40_0000;
const CLONE_UNTRACED: u64 = 0x80_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;
const CLONE_NEWCGROUP: u64 = 0x200_0000;
const CLONE_NEWUTS: u64 = 0x400_0000;
const CLONE_NEWIPC: u64 = 0x800_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;
const CLONE_IO: u64 = 0x8000_0000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CLONE_NEWTIME: u64 = 0x80;

/// What every namespace flag asks for: privilege the program lacks.
const NAMESPACES: u64 = CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET;

/// struct clone_args (clone3), as far as kvmcage reads it.
#[derive(Clone, Copy, Debug, Default)]
struct CloneArgs {
    flags: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    /// The new thread's stack pointer (clone3: stack + stack_size).
    stack: u64,
    tls: u64,
}

/// A thread to start: the run loop gives it a host thread.
pub struct Spawn {
    pub tid: u32,
    pub vcpu: Vcpu,
    pub regs: kvm_regs,
    /// The new process it is the first thread of (fork); `None` for a
    /// thread of the caller's process.
    pub proc: Option<super::task::ProcRef>,
}

impl std::fmt::Debug for Spawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spawn(tid {})", self.tid)
    }
}

/// fork: clone(SIGCHLD).
pub fn sys_fork(cx: &mut Ctx, _a: &Args) -> SysResult {
    do_clone(
        cx,
        CloneArgs {
            exit_signal: libc::SIGCHLD as u64,
            ..CloneArgs::default()
        },
    )
}

/// vfork: clone(CLONE_VM | CLONE_VFORK | SIGCHLD).
pub fn sys_vfork(cx: &mut Ctx, _a: &Args) -> SysResult {
    do_clone(
        cx,
        CloneArgs {
            flags: CLONE_VM | CLONE_VFORK,
            exit_signal: libc::SIGCHLD as u64,
            ..CloneArgs::default()
        },
    )
}

pub fn sys_clone(cx: &mut Ctx, a: &Args) -> SysResult {
    // x86-64's order: flags, newsp, parent_tid, child_tid, tls.
    let [flags, stack, parent_tid, child_tid, tls, _] = a.0;
    // The legacy call ignores bits it does not know (and CLONE_DETACHED);
    // the low byte is the exit signal.
    let flags = flags & 0xffff_ffff & !CLONE_DETACHED;
    do_clone(
        cx,
        CloneArgs {
            flags: flags & !CSIGNAL,
            child_tid,
            parent_tid,
            exit_signal: flags & CSIGNAL,
            stack,
            tls,
        },
    )
}

/// Size of clone_args as of Linux 5.7 (through `cgroup`).
const CLONE_ARGS_SIZE: u64 = std::mem::size_of::<abi::CloneArgs>() as u64;
const CLONE_ARGS_SIZE_VER0: u64 = 64;

pub fn sys_clone3(cx: &mut Ctx, a: &Args) -> SysResult {
    let (uargs, size) = (a.0[0], a.0[1]);
    // copy_struct_from_user: too small is EINVAL, more than a page E2BIG,
    // bytes past what kvmcage knows must be zero (E2BIG).
    if size < CLONE_ARGS_SIZE_VER0 {
        return Err(Errno::INVAL);
    }
    if size > PAGE_SIZE {
        return Err(Errno::TOOBIG);
    }
    let raw = cx.user().read_vec(uargs, size as usize)?;
    if raw
        .get(CLONE_ARGS_SIZE as usize..)
        .is_some_and(|t| t.iter().any(|&b| b != 0))
    {
        return Err(Errno::TOOBIG);
    }
    let mut args = abi::CloneArgs::default();
    let n = raw.len().min(CLONE_ARGS_SIZE as usize);
    args.as_mut_slice()[..n].copy_from_slice(&raw[..n]);
    let abi::CloneArgs {
        flags,
        child_tid,
        parent_tid,
        exit_signal,
        stack,
        stack_size,
        tls,
        set_tid_size,
        ..
    } = args;
    // clone3_args_valid.
    let known = 0xffff_ffff & !(CSIGNAL | CLONE_DETACHED)
        | CLONE_NEWTIME
        | CLONE_CLEAR_SIGHAND
        | CLONE_INTO_CGROUP;
    if flags & !known != 0 || exit_signal & !CSIGNAL != 0 || exit_signal > 64 {
        return Err(Errno::INVAL);
    }
    if flags & (CLONE_THREAD | CLONE_PARENT) != 0 && exit_signal != 0 {
        return Err(Errno::INVAL);
    }
    if flags & (CLONE_CLEAR_SIGHAND | CLONE_SIGHAND) == CLONE_CLEAR_SIGHAND | CLONE_SIGHAND {
        return Err(Errno::INVAL);
    }
    if set_tid_size > 32 {
        return Err(Errno::INVAL);
    }
    let stack_ok = match (stack, stack_size) {
        (0, 0) => true,
        (0, _) | (_, 0) => false,
        (s, n) => access_ok(s, n),
    };
    if !stack_ok {
        return Err(Errno::INVAL);
    }
    // Choosing tids (set_tid) and a cgroup need privilege.
    if set_tid_size != 0 || flags & CLONE_INTO_CGROUP != 0 {
        return Err(Errno::PERM);
    }
    do_clone(
        cx,
        CloneArgs {
            flags,
            child_tid,
            parent_tid,
            exit_signal,
            stack: stack.wrapping_add(stack_size),
            tls,
        },
    )
}

/// Linux's copy_process checks, then a new thread.
fn do_clone(cx: &mut Ctx, args: CloneArgs) -> SysResult {
    let f = args.flags;
    if f & (CLONE_NEWNS | CLONE_FS) == CLONE_NEWNS | CLONE_FS
        || f & (CLONE_NEWUSER | CLONE_FS) == CLONE_NEWUSER | CLONE_FS
    {
        return Err(Errno::INVAL);
    }
    if f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0 {
        return Err(Errno::INVAL);
    }
    if f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0 {
        return Err(Errno::INVAL);
    }
    if f & CLONE_PIDFD != 0 && f & CLONE_THREAD != 0 {
        return Err(Errno::INVAL);
    }
    if f & (NAMESPACES | CLONE_NEWTIME) != 0 {
        return Err(Errno::PERM);
    }
    let thread = f & CLONE_THREAD != 0;
    if thread {
        // A thread the caller waits for as for a vfork child: not
        // supported (no libc makes one).
        if f & CLONE_VFORK != 0 {
            return Err(Errno::NOSYS);
        }
    } else if f & CLONE_SIGHAND != 0 || f & (CLONE_VM | CLONE_VFORK) == CLONE_VM {
        // A process that shares memory (and so may share dispositions)
        // with its parent for good: not supported. CLONE_VM|CLONE_VFORK
        // (vfork, posix_spawn) runs the child in its parent's address
        // space until it execs or exits, while the parent waits.
        return Err(Errno::NOSYS);
    }
    // CLONE_FILES and CLONE_FS: the new thread or process holds the
    // caller's descriptor table and working directory rather than copies.
    let share = super::Sharing {
        files: f & CLONE_FILES != 0,
        fs: f & CLONE_FS != 0,
    };
    // CLONE_PTRACE, CLONE_UNTRACED (no tracer), CLONE_SYSVSEM (one SysV
    // undo list per process already), CLONE_IO, CLONE_PARENT (the parent
    // of a thread is its group's): nothing more to do.
    let _ = CLONE_PTRACE | CLONE_UNTRACED | CLONE_SYSVSEM | CLONE_IO;
    // The new FS base must be a user address (do_arch_prctl_64's EPERM;
    // a kernel-half or non-canonical base would not enter the guest).
    if f & CLONE_SETTLS != 0 && args.tls >= crate::vm::layout::USER_TOP {
        return Err(Errno::PERM);
    }
    if thread && cx.proc.threads.len() >= cx.proc.max_threads {
        return Err(Errno::AGAIN);
    }
    let (tid, mut child) = if thread {
        (cx.proc.alloc_tid().ok_or(Errno::AGAIN)?, None)
    } else {
        let pid = cx.proc.tasks.lock().alloc_pid()?;
        (
            pid,
            Some(cx.proc.fork(cx.m, pid, f & CLONE_VM != 0, share)?),
        )
    };
    let vcpu = match new_vcpu(cx, &args, child.as_ref()) {
        Ok(v) => v,
        Err(e) => {
            match child.as_mut() {
                Some(c) => c.mm.destroy(cx.m),
                None => {
                    let pid = cx.proc.id.pid;
                    cx.proc.tasks.lock().free_tid(pid, tid)
                }
            }
            return Err(e);
        }
    };
    let mut regs = *cx.regs;
    regs.rax = 0;
    if args.stack != 0 {
        regs.rsp = args.stack;
    }
    // The tids are written before the thread runs (CHILD_SETTID in the
    // child's memory); a bad address is not an error (Linux's put_user
    // results are ignored here too).
    if f & CLONE_PARENT_SETTID != 0 {
        let _ = cx.user().write_obj(args.parent_tid, &tid);
    }
    if f & CLONE_CHILD_SETTID != 0 {
        let pt = child.as_ref().map_or(cx.m.pt(), |c| c.mm.pt);
        let m = &**cx.m;
        let _ = crate::mm::uaccess::UserMem::new(m.ram(), pt, m.frames(), m.shared())
            .with_tlb_gen(m.tlb_gen())
            .write_obj(args.child_tid, &tid);
    }
    let Some(mut child) = child else {
        let sig = cx.proc.me().sig.for_new_thread();
        let mut t = Thread::new(tid, sig);
        let me = cx.proc.me();
        t.affinity = me.affinity.clone();
        // The process's table and context are the default; a thread that
        // has its own passes it on, or a copy.
        t.files = match (share.files, &me.files) {
            (true, own) => own.as_ref().map(super::Files::handle),
            (false, _) => Some(cx.proc.files().copy()),
        };
        let me = cx.proc.me();
        t.fs = match (share.fs, &me.fs) {
            (true, own) => own.as_ref().map(super::FsContext::handle),
            (false, _) => Some(cx.proc.fs().copy()),
        };
        if f & CLONE_CHILD_CLEARTID != 0 {
            t.clear_child_tid = args.child_tid;
        }
        cx.proc.threads.push(t);
        cx.proc.spawned.push(Spawn {
            tid,
            vcpu,
            regs,
            proc: None,
        });
        return Ok(u64::from(tid));
    };
    if f & CLONE_CHILD_CLEARTID != 0 {
        child.threads[0].clear_child_tid = args.child_tid;
    }
    // clone3's CLONE_CLEAR_SIGHAND: handled signals back to SIG_DFL in
    // the child, as at execve (flush_signal_handlers).
    if f & CLONE_CLEAR_SIGHAND != 0 {
        child.signals.reset_for_exec();
    }
    let child = std::sync::Arc::new(parking_lot::Mutex::new(child));
    let exit_signal = args.exit_signal as i32;
    cx.proc
        .tasks
        .lock()
        .insert(tid, cx.proc.id.pid, &child, exit_signal);
    if f & CLONE_VFORK != 0 {
        cx.proc.vfork_wait = Some(tid);
    }
    cx.proc.spawned.push(Spawn {
        tid,
        vcpu,
        regs,
        proc: Some(child),
    });
    Ok(u64::from(tid))
}

/// A vCPU for the new thread or process, with the caller's extended
/// state, its FS/GS bases (or the TLS asked for) and the address space it
/// runs in (the caller's, or the child's).
fn new_vcpu(cx: &mut Ctx, args: &CloneArgs, child: Option<&Process>) -> Result<Vcpu, Errno> {
    let mut vcpu = cx.m.take_vcpu().map_err(|e| {
        log::debug!("clone: no vCPU: {e}");
        Errno::AGAIN
    })?;
    let xsave = match cx.vcpu().map(|v| v.xsave()) {
        Ok(Ok(x)) => x,
        _ => {
            cx.m.put_vcpu(vcpu);
            return Err(Errno::AGAIN);
        }
    };
    if vcpu.set_xsave(&xsave).is_err() {
        cx.m.put_vcpu(vcpu);
        return Err(Errno::AGAIN);
    }
    let mine = match cx.vcpu() {
        Ok(v) => *v.sregs(),
        Err(e) => {
            cx.m.put_vcpu(vcpu);
            return Err(e);
        }
    };
    let s = vcpu.sregs_mut();
    s.fs.base = if args.flags & CLONE_SETTLS != 0 {
        args.tls
    } else {
        mine.fs.base
    };
    s.gs.base = mine.gs.base;
    vcpu.set_cr3(child.map_or(mine.cr3, |c| c.mm.pt.root()));
    Ok(vcpu)
}

pub fn sys_gettid(cx: &mut Ctx, _a: &Args) -> SysResult {
    Ok(u64::from(cx.proc.me().tid))
}

/// exit: the calling thread ends (the run loop calls `exit_thread`); the
/// last one out ends the process with its status.
pub fn sys_exit(cx: &mut Ctx, a: &Args) -> SysResult {
    cx.proc.me().exit_code = Some(super::int(a.0[0]) & 0xff);
    Ok(0)
}

/// The end of the current thread (Linux's exit_mm, exit_robust_list and
/// mm_release): its robust futexes marked OWNER_DIED, 0 written to its
/// clear_child_tid and one waiter woken there (what pthread_join waits
/// for), then it leaves the process. `Some(status)` when it was the last
/// thread: the process ends with that status.
pub fn exit_thread(m: &Machine, proc: &mut Process, status: i32) -> Option<i32> {
    let me = proc.cur;
    let (tid, clear, robust) = {
        let t = &proc.threads[me];
        (t.tid, t.clear_child_tid, t.robust_list)
    };
    exit_robust_list(m, proc, tid, robust.0);
    if clear != 0 && m.user().write_obj(clear, &0u32).is_ok() {
        proc.futexes.wake(clear, 1, u32::MAX);
    }
    proc.futexes.cancel_thread(tid);
    proc.remove_thread(me);
    proc.threads.is_empty().then_some(status)
}

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Linux's ROBUST_LIST_LIMIT: a list longer (or circular) is not walked on.
const ROBUST_LIST_LIMIT: usize = 2048;

/// Walk the robust list at `head` (struct robust_list_head: next, offset,
/// pending): every futex word the dying thread `tid` owns gets
/// FUTEX_OWNER_DIED and one waiter is woken (Linux's handle_futex_death).
/// Every read is checked; a bad list just ends the walk.
fn exit_robust_list(m: &Machine, proc: &mut Process, tid: u32, head: u64) {
    if head == 0 {
        return;
    }
    let user = m.user();
    let read = |a: u64| -> Option<u64> {
        let b = user.read_vec(a, 8).ok()?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    };
    let (Some(mut entry), Some(offset), Some(pending)) = (
        read(head),
        read(head.wrapping_add(8)),
        read(head.wrapping_add(16)),
    ) else {
        return;
    };
    let death = |proc: &mut Process, entry: u64| {
        // The low bit of an entry marks a PI futex; the word is at
        // entry + offset either way.
        let word = (entry & !1).wrapping_add(offset);
        // Atomically, as Linux's cmpxchg: the owner bits may change under
        // another thread's lock cmpxchg meanwhile.
        let owned = |v: u32| v & FUTEX_TID_MASK == tid;
        let Ok(val) = user.update_u32(word, |v| {
            if owned(v) {
                (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED
            } else {
                v
            }
        }) else {
            return;
        };
        if owned(val) && val & FUTEX_WAITERS != 0 {
            proc.futexes.wake(word, 1, u32::MAX);
        }
    };
    let mut n = 0;
    while entry != head && entry != 0 && n < ROBUST_LIST_LIMIT {
        let next = read(entry & !1);
        if entry != pending {
            death(proc, entry);
        }
        match next {
            Some(next) => entry = next,
            None => return,
        }
        n += 1;
    }
    if pending != 0 {
        death(proc, pending);
    }
}
