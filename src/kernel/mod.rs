//! The host side of the guest kernel: process state and the syscall table.
//!
//! `dispatch` decodes a system call from the register file per its ABI
//! (x86-64 `syscall`, or i386 `int 0x80`), looks the number up with the
//! `syscalls` crate, and calls one typed handler per syscall, grouped by
//! family (`fs`, `mm`, `process`, `time`, `signal`). Unknown and
//! unimplemented numbers return -ENOSYS and are logged once each.
//!
//! Which file owns which calls (kept equal to `handler64` by a test):
//! - `clone` (threads and processes made and ended): clone clone3 exit fork
//!   gettid vfork
//! - `epoll` (epoll): epoll_create epoll_create1 epoll_ctl epoll_pwait
//!   epoll_pwait2 epoll_wait
//! - `exec` (execve): execve execveat
//! - `fs` (descriptor I/O, dup, fcntl, poll and select, signalfd): close
//!   close_range copy_file_range dup dup2 dup3 fadvise64 fcntl flock fstatfs
//!   ioctl lseek poll ppoll pread64 preadv preadv2 pselect6 pwrite64 pwritev
//!   pwritev2 read readv select sendfile signalfd signalfd4 write writev
//! - `futex` (futex): futex futex_waitv
//! - `ipc` (System V IPC): msgctl msgget msgrcv msgsnd semctl semget semop
//!   semtimedop shmat shmctl shmdt shmget
//! - `mm` (memory): brk madvise memfd_create mincore mlock mlock2 mlockall
//!   mmap mprotect mremap mseal msync munlock munlockall munmap
//! - `path` (everything that names a path, pipes, cwd and root, xattrs):
//!   access cachestat chdir chmod chown chroot creat faccessat faccessat2
//!   fallocate fchdir fchmod fchmodat fchmodat2 fchown fchownat fdatasync
//!   fgetxattr flistxattr fremovexattr fsetxattr fstat fsync ftruncate
//!   futimesat getcwd getdents64 getxattr lchown lgetxattr link linkat
//!   listxattr llistxattr lremovexattr lsetxattr lstat mkdir mkdirat mknod
//!   mknodat newfstatat open openat openat2 pipe pipe2 readlink readlinkat
//!   removexattr rename renameat renameat2 rmdir setxattr stat statfs statx
//!   symlink symlinkat sync syncfs truncate umask unlink unlinkat utimensat
//!   utimes
//! - `privileged` (what needs privilege the program lacks): acct bpf
//!   clock_settime delete_module finit_module fsopen fspick init_module
//!   ioperm iopl kexec_file_load kexec_load mount mount_setattr move_mount
//!   perf_event_open pivot_root reboot setdomainname sethostname settimeofday
//!   swapoff swapon syslog umount2 vhangup
//! - `process` (ids, limits, scheduling, prctl, wait, rusage, uname):
//!   arch_prctl exit_group get_robust_list getcpu getegid geteuid getgid
//!   getgroups getpgid getpgrp getpid getppid getpriority getrandom getresgid
//!   getresuid getrlimit getrusage getsid getuid membarrier prctl prlimit64
//!   sched_get_priority_max sched_get_priority_min sched_getaffinity
//!   sched_getparam sched_getscheduler sched_rr_get_interval
//!   sched_setaffinity sched_setparam sched_setscheduler sched_yield
//!   set_robust_list set_tid_address setfsgid setfsuid setgid setpgid
//!   setpriority setregid setresgid setresuid setreuid setrlimit setsid
//!   setuid sysinfo times uname unshare wait4 waitid
//! - `sigframe` (the signal frame): rt_sigreturn
//! - `signal` (signals): kill pause rt_sigaction rt_sigpending rt_sigprocmask
//!   rt_sigqueueinfo rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo
//!   sigaltstack tgkill tkill
//! - `socket` (sockets): accept accept4 bind connect getpeername getsockname
//!   getsockopt listen recvfrom recvmmsg recvmsg sendmmsg sendmsg sendto
//!   setsockopt shutdown socket socketpair
//! - `time` (clocks and sleeps): clock_getres clock_gettime clock_nanosleep
//!   gettimeofday nanosleep restart_syscall time
//! - `timer` (itimers, POSIX timers, timerfd, eventfd): alarm eventfd
//!   eventfd2 getitimer setitimer timer_create timer_delete timer_getoverrun
//!   timer_gettime timer_settime timerfd_create timerfd_gettime
//!   timerfd_settime

pub mod abi;
pub mod clone;
pub mod epoll;
pub mod exec;
pub mod fs;
pub mod futex;
pub mod ipc;
pub mod mm;
pub mod path;
pub mod privileged;
pub mod process;
pub mod procmem;
pub mod sigframe;
pub mod signal;
pub mod socket;
pub mod task;
pub mod time;
pub mod timer;
pub mod vsyscall;
pub mod wait;

use std::collections::HashSet;

use kvm_bindings::kvm_regs;
use rustix::io::Errno;
use syscalls::x86::Sysno as Sysno32;
use syscalls::x86_64::Sysno;

use crate::mm::uaccess::UserMem;
use crate::vm::{EntryPath, Machine};
use fs::Files;
use mm::Mm;
use signal::Signals;

/// A 32-bit `int` argument from its 64-bit register (the upper half
/// ignored, as Linux's SYSCALL_DEFINE).
pub(crate) fn int(v: u64) -> i32 {
    v as u32 as i32
}

/// The errno of the libc call that just failed on the host.
pub(crate) fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL)
}

/// The six argument registers, already decoded per the ABI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Args(pub [u64; 6]);

pub type SysResult = Result<u64, Errno>;
type Handler = fn(&mut Ctx, &Args) -> SysResult;

/// How the program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// exit/exit_group with this status (0..=255).
    Code(i32),
    /// Killed by a signal.
    Signal(i32),
    /// Stopped by kvmcage: the program wrote more than --max-output bytes.
    OutputLimit(u64),
}

/// A lock's guard as handlers hold it: a wait gives the lock up for its
/// length (`wait::block_on`).
pub type Locked<'k, T> = parking_lot::MutexGuard<'k, T>;

/// What one syscall sees: the process and the machine, locked for the
/// call (in this order: `Process`, then `Machine`) and unlocked while it
/// waits on the host, and the calling thread's own vCPU and registers.
pub struct Ctx<'a, 'k> {
    pub m: &'a mut Locked<'k, Machine>,
    /// The vCPU the calling thread runs on; `None` when a host service
    /// thread makes the call while the vCPU waits in the exitless gate
    /// (only calls that never need it go that way: `crate::exitless`).
    pub vcpu: Option<&'a mut crate::vm::Vcpu>,
    pub proc: &'a mut Locked<'k, Process>,
    pub regs: &'a mut kvm_regs,
    pub path: EntryPath,
}

impl Ctx<'_, '_> {
    /// The program's address space, for copying to and from it; a stack
    /// page not there yet is made as the program's own access would.
    pub fn user(&self) -> UserMem<'_> {
        self.proc.user(self.m)
    }

    /// The calling thread's vCPU. Calls made for the exitless gate have
    /// none; they are chosen never to ask (ENOSYS if one did).
    pub fn vcpu(&mut self) -> Result<&mut crate::vm::Vcpu, Errno> {
        self.vcpu.as_deref_mut().ok_or(Errno::NOSYS)
    }
}

/// Identity and facts the program can ask for.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub pid: u32,
    pub ppid: u32,
    /// The program's ids in the sandbox (--uid, --gid).
    pub uid: u32,
    pub gid: u32,
    /// kvmcage's own ids on the host, shown to the program as its own on
    /// the files it made.
    pub host_uid: u32,
    pub host_gid: u32,
    /// uname's nodename (--hostname).
    pub hostname: Vec<u8>,
    /// What readlink("/proc/self/exe") returns.
    pub exe: Vec<u8>,
    /// Guest memory size (RLIMIT_AS as the program sees it).
    pub mem_size: u64,
}

/// One program's kernel-side state.
pub struct Process {
    pub id: Identity,
    pub mm: Mm,
    /// The descriptor table of the threads without one of their own
    /// (`Thread::files`); shared with other processes made with
    /// CLONE_FILES. `files()` is the calling thread's.
    pub files: Files,
    pub signals: Signals,
    pub rlimits: process::Rlimits,
    /// Its threads, the leader first; `cur` is the one holding the lock.
    pub threads: Vec<Thread>,
    pub cur: usize,
    /// The next thread id to give (thread ids follow the pid, as Linux's
    /// pid allocator hands them out).
    pub next_tid: u32,
    /// --max-threads: clone fails with EAGAIN past it.
    pub max_threads: usize,
    /// The CPUs the program sees (sched_getaffinity, /proc/cpuinfo): as
    /// many as the host lets kvmcage's threads run on.
    pub ncpus: u32,
    /// Threads clone made, for the run loop to start.
    pub spawned: Vec<clone::Spawn>,
    /// The process is ending (exit_group, a fatal signal, a limit): every
    /// thread unwinds.
    pub exiting: bool,
    pub exit: Option<Exit>,
    /// Numbers already reported as unimplemented.
    /// Syscalls the program made that got ENOSYS: (i386, number).
    pub unimplemented: HashSet<(bool, u64)>,
    /// The auxiliary vector the program started with (/proc/self/auxv).
    pub auxv: Vec<u8>,
    /// The program's nice value (getpriority/setpriority).
    pub nice: i32,
    /// The vCPU thread's CPU time (user, system) before the program's first
    /// instruction: kvmcage's set-up, not the program's.
    pub cpu_base: (std::time::Duration, std::time::Duration),
    /// Syscalls handled, by entry path.
    pub syscalls: u64,
    /// Set when the run's time limit passes: blocking calls give up.
    pub expiry: crate::watchdog::Expiry,
    /// The working directory, root and umask of the threads without one
    /// of their own (`Thread::fs`); shared with other processes made with
    /// CLONE_FS.
    pub fs: FsContext,
    /// What of the host filesystem the program sees (every process of the
    /// run sees the same).
    pub policy: std::sync::Arc<crate::sandbox::Policy>,
    /// --max-output: bytes stdout and stderr may take, and taken so far
    /// by every process of the run.
    pub max_output: Option<u64>,
    pub output_written: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The run's processes.
    pub tasks: std::sync::Arc<task::Tasks>,
    /// How the process ends, once a thread decided it (exit_group, a
    /// fatal signal): its parent's wait4 reports it.
    pub status: Option<task::Status>,
    /// A vfork child the calling thread waits for before it returns.
    pub vfork_wait: Option<u32>,
    /// CPU time (user, system) of its threads that ended.
    pub cpu_done: (std::time::Duration, std::time::Duration),
    /// CPU time of its children it reaped, theirs included (RUSAGE_CHILDREN).
    pub children_cpu: (std::time::Duration, std::time::Duration),
    /// Stopped by this signal (job control): its threads wait for SIGCONT
    /// or SIGKILL before running user code again.
    pub stopped: Option<i32>,
    /// argv, each NUL-terminated (/proc/self/cmdline).
    pub cmdline: Vec<u8>,
    /// prctl's per-process settings.
    pub task: process::TaskFlags,
    /// The program's file, opened read-only (/proc/self/exe, /.kvmcage).
    pub exe_file: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
    /// Each epoll instance's interests by (descriptor number, file), keyed
    /// by the instance's host descriptor.
    pub epoll_keys: std::collections::HashMap<i32, Vec<(i32, std::sync::Weak<fs::OpenFile>)>>,
    /// What the program's memfds hold (capped at --mem).
    pub memfd_quota: Option<std::sync::Arc<crate::sandbox::quota::Quota>>,
    /// The sandbox's System V IPC objects.
    pub ipc: ipc::Ipc,
    /// Threads waiting in futex(2).
    pub futexes: futex::FutexTable,
    /// Names of the AF_UNIX sockets the sandbox's programs bound, and the
    /// files in flight between them (shared by every process).
    pub unix: std::sync::Arc<parking_lot::Mutex<socket::UnixNames>>,
    /// alarm, itimers, POSIX timers.
    pub timers: timer::Timers,
    /// The vCPU thread's kick mask for host waits (None without a vCPU
    /// thread: the fuzzer).
    pub kick: Option<wait::Kick>,
    /// The CPU facts every new image's auxv carries (set at the start).
    pub exec_facts: exec::Facts,
    /// The user.* attributes the program set, for their limit.
    pub xattrs: path::XattrBudget,
}

/// One thread of a process: what is its own (PROCESSES.md 2).
pub struct Thread {
    pub tid: u32,
    pub sig: signal::ThreadSig,
    /// set_tid_address / CLONE_CHILD_CLEARTID: zeroed and woken at exit.
    pub clear_child_tid: u64,
    /// set_robust_list's head and length.
    pub robust_list: (u64, u64),
    /// What other threads write to end this thread's wait.
    pub waker: Option<std::sync::Arc<wait::Waker>>,
    /// The last fault's trap number, error code and address.
    pub trap: sigframe::TrapState,
    /// Set by rt_sigreturn: the registers came from the frame, so the
    /// return to user mode neither restarts nor rewrites RCX/R11.
    pub sigreturned: bool,
    /// An interrupted sleep or wait that restart_syscall takes up again.
    pub restart: Option<Restart>,
    /// exit was called with this status: the run loop ends the thread.
    pub exit_code: Option<i32>,
    /// The host thread that runs it, once it runs (for the kick), and
    /// that thread's id (for the timers' alarms).
    pub host: Option<libc::pthread_t>,
    pub host_tid: i32,
    /// sched_setaffinity's mask, if it set one (bytes of a cpu_set_t).
    pub affinity: Option<Vec<u8>>,
    /// The blocked signals it waits to take (sigtimedwait, signalfd).
    pub waiting_for: u64,
    /// It sleeps in a wait (`wait::block_on`): it runs no guest code and
    /// spends no CPU time until woken.
    pub waiting: bool,
    /// Another thread execs (Linux's de_thread): end without running
    /// another instruction.
    pub doomed: bool,
    /// A descriptor table and a working directory of its own, apart from
    /// the process's (clone without CLONE_FILES or CLONE_FS, or
    /// unshare).
    pub files: Option<Files>,
    pub fs: Option<FsContext>,
    /// What this syscall copied of other processes (/proc/PID/maps, fd)
    /// and the process it asks for next (`path::NEED_PEEK`).
    pub peek: Vec<path::Peek>,
    pub peek_want: std::sync::atomic::AtomicU32,
}

/// What Linux's fs_struct holds: the working directory (a normalised
/// guest path), the root (chroot; "/" unless the program called it) and
/// the umask. The threads and processes that share it (CLONE_FS) hold
/// handles to one; its lock is a leaf, held to read or set a field.
#[derive(Debug)]
pub struct FsContext(std::sync::Arc<parking_lot::Mutex<FsFields>>);

#[derive(Clone, Debug)]
pub struct FsFields {
    pub cwd: Vec<u8>,
    pub root: Vec<u8>,
    pub umask: u32,
}

impl Default for FsContext {
    fn default() -> Self {
        Self::new(FsFields {
            cwd: b"/".to_vec(),
            root: b"/".to_vec(),
            umask: 0o022,
        })
    }
}

impl FsContext {
    fn new(f: FsFields) -> Self {
        Self(std::sync::Arc::new(parking_lot::Mutex::new(f)))
    }

    /// The fields as they are now.
    pub fn get(&self) -> FsFields {
        self.0.lock().clone()
    }

    /// Change the fields for every holder.
    pub fn update<T>(&self, f: impl FnOnce(&mut FsFields) -> T) -> T {
        f(&mut self.0.lock())
    }

    /// A copy of its own (fork, unshare(CLONE_FS)).
    pub fn copy(&self) -> Self {
        Self::new(self.get())
    }

    /// Another handle to the same one (CLONE_FS).
    pub fn handle(&self) -> Self {
        Self(self.0.clone())
    }

    pub fn is_shared(&self) -> bool {
        std::sync::Arc::strong_count(&self.0) > 1
    }
}

/// The CPUs kvmcage's own threads may run on (its affinity mask; 1 if it
/// cannot tell), at most 1024.
pub fn host_cpus() -> u32 {
    rustix::thread::sched_getaffinity(None)
        .map(|set| set.count())
        .unwrap_or(1)
        .clamp(1, 1024)
}

/// --max-threads when not given: clone is EAGAIN past it.
pub const DEFAULT_MAX_THREADS: usize = 1024;

impl Thread {
    pub fn new(tid: u32, sig: signal::ThreadSig) -> Self {
        Self {
            tid,
            sig,
            clear_child_tid: 0,
            robust_list: (0, 0),
            waker: wait::Waker::new().ok().map(std::sync::Arc::new),
            trap: Default::default(),
            sigreturned: false,
            restart: None,
            exit_code: None,
            host: None,
            host_tid: 0,
            affinity: None,
            waiting_for: 0,
            waiting: false,
            doomed: false,
            files: None,
            fs: None,
            peek: Vec::new(),
            peek_want: Default::default(),
        }
    }

    /// Make the thread look at its signals and the process's state: end
    /// its host wait (the waker) or its KVM_RUN (the kick signal).
    pub fn kick(&self) {
        if let Some(w) = &self.waker {
            w.wake();
        }
        self.interrupt();
    }

    /// Stop its vCPU (KVM_RUN returns), or end the host call it blocks in,
    /// without ending a wait of its that is yet to begin (as `kick` does).
    pub fn interrupt(&self) {
        if let Some(host) = self.host {
            // SAFETY: `host` is the pthread of the thread running this
            // guest thread; run.rs joins host threads only after the run
            // has ended, so the id is still valid. The kick signal has a
            // no-op handler (watchdog::install_kick_handler).
            unsafe { libc::pthread_kill(host, crate::watchdog::kick_signal()) };
        }
    }
}

/// Linux's restart_block: what restart_syscall continues.
#[derive(Clone, Copy, Debug)]
pub enum Restart {
    Sleep(time::SleepRestart),
    Futex(futex::FutexRestart),
}

/// What a new process shares with its creator rather than copies
/// (CLONE_FILES, CLONE_FS).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sharing {
    pub files: bool,
    pub fs: bool,
}

/// `handle` of `x` when it is to be shared, else `copy` of it.
fn share_or_copy<T>(share: bool, x: &T, handle: fn(&T) -> T, copy: fn(&T) -> T) -> T {
    if share {
        handle(x)
    } else {
        copy(x)
    }
}

impl Process {
    /// Its address space, for copying to and from it (`m` is running
    /// it): a stack page not there yet is made as the program's own
    /// access would (`Mm::stack_growth`).
    pub fn user<'a>(&'a self, m: &'a Machine) -> UserMem<'a> {
        let limit = self.rlimits.soft(libc::RLIMIT_STACK);
        let own = m.pt().root() == self.mm.pt.root();
        m.user()
            .with_stack(own.then(|| self.mm.stack_growth(limit)).flatten())
    }

    pub fn new(id: Identity) -> Self {
        let rlimits = process::Rlimits::new(id.mem_size);
        let id_pid = id.pid;
        Self {
            id,
            mm: Mm::new(),
            files: Files::stdio(),
            signals: Signals::default(),
            rlimits,
            threads: vec![Thread::new(id_pid, signal::ThreadSig::default())],
            cur: 0,
            next_tid: id_pid + 1,
            max_threads: DEFAULT_MAX_THREADS,
            ncpus: host_cpus(),
            spawned: Vec::new(),
            exiting: false,
            exit: None,
            unimplemented: HashSet::new(),
            cpu_base: Default::default(),
            auxv: Vec::new(),
            nice: 0,
            syscalls: 0,
            expiry: Default::default(),
            max_output: None,
            output_written: Default::default(),
            tasks: std::sync::Arc::new(task::Tasks::new(id_pid)),
            status: None,
            vfork_wait: None,
            cpu_done: Default::default(),
            children_cpu: Default::default(),
            stopped: None,
            exe_file: None,
            task: Default::default(),
            cmdline: Vec::new(),
            fs: FsContext::default(),
            policy: Default::default(),
            timers: Default::default(),
            unix: Default::default(),
            ipc: Default::default(),
            futexes: Default::default(),
            memfd_quota: None,
            epoll_keys: Default::default(),
            kick: None,
            exec_facts: exec::Facts::default(),
            xattrs: path::XattrBudget::default(),
        }
    }

    /// The thread holding the process's lock (the caller of the syscall
    /// being handled).
    pub fn me(&mut self) -> &mut Thread {
        &mut self.threads[self.cur]
    }

    /// The calling thread's view of the signals.
    pub fn sig(&mut self) -> signal::SigView<'_> {
        signal::SigView {
            sh: &mut self.signals,
            th: &mut self.threads[self.cur].sig,
        }
    }

    /// Queue the signals of the timers that are due.
    pub fn fire_timers(&mut self) {
        self.fire_timers_as(if self.threads.len() > 1 {
            timer::Fire::HoldBlocked
        } else {
            timer::Fire::All
        });
    }

    /// `fire_timers` from a thread that waits (`wait::block_on`). The
    /// CPU-time clocks advance only while some thread runs, and Linux
    /// fires their timers from the tick of a running thread, which takes a
    /// process-directed signal itself when it can (complete_signal; since
    /// Linux 6.3). So while another thread runs, the waiter leaves them to
    /// it: it fires only the wall-clock timers, and kicks the threads that
    /// run when a CPU timer is due (the host alarm may have kicked the
    /// waiter, the thread that armed it).
    pub fn fire_timers_waiting(&mut self) {
        let me = self.cur;
        let running = |(i, t): &(usize, &Thread)| *i != me && !t.waiting && t.exit_code.is_none();
        if !self.threads.iter().enumerate().any(|e| running(&e)) {
            return self.fire_timers_as(timer::Fire::All);
        }
        if self.timers.cpu_due() {
            let mut heir = None;
            for (_, t) in self.threads.iter().enumerate().filter(running) {
                heir = heir.or(Some(t.host_tid));
                t.interrupt();
            }
            if let Some(h) = heir.filter(|&h| h != 0) {
                self.timers.hand_cpu_alarm(h);
            }
        }
        self.fire_timers_as(timer::Fire::WallOnly);
    }

    fn fire_timers_as(&mut self, how: timer::Fire) {
        let th = &mut self.threads[self.cur].sig;
        let directed = self.timers.fire_due(
            &mut signal::SigView {
                sh: &mut self.signals,
                th,
            },
            &self.id,
            how,
        );
        // A thread's timer signals (SIGEV_THREAD_ID): to that thread, or
        // nowhere once it has ended; one still queued counts an overrun.
        for (tid, timer, info) in directed {
            let Some(i) = self.find_thread(tid.into()) else {
                continue;
            };
            let mut view = signal::SigView {
                sh: &mut self.signals,
                th: &mut self.threads[i].sig,
            };
            if let Some(q) = view.queued_timer(timer) {
                q.add_overrun(info.overrun().saturating_add(1));
            } else {
                let _ = view.send(info, signal::Target::Thread, u64::MAX, false);
            }
            if i != self.cur {
                self.threads[i].kick();
            }
        }
        self.wake_for_shared();
    }

    /// A signal for the whole process from another process (kill, a
    /// child's SIGCHLD): queued for the group, every thread kicked so the
    /// one that can take it does (or a wait4 looks again).
    /// SIGCONT continues a stopped process at once (and discards its
    /// pending stop signals): true when it was stopped, for its parent to
    /// hear of it (`Tasks::notify_parent`).
    pub fn post(&mut self, info: signal::SigInfo) -> bool {
        if self.threads.is_empty() {
            return false;
        }
        let mut continued = false;
        if info.signo() == libc::SIGCONT {
            let stops = signal::stop_signals();
            self.signals.discard(stops);
            for t in &mut self.threads {
                t.sig.discard(stops);
            }
            continued = self.stopped.take().is_some();
        }
        let limit = self.rlimits.soft(libc::RLIMIT_SIGPENDING);
        let cur = self.cur.min(self.threads.len() - 1);
        let _ = signal::SigView {
            sh: &mut self.signals,
            th: &mut self.threads[cur].sig,
        }
        .send(info, signal::Target::Process, limit, false);
        for t in &self.threads {
            t.kick();
        }
        continued
    }

    /// Children that end are reaped at once, unwaited (SIGCHLD ignored, or
    /// SA_NOCLDWAIT).
    pub fn reaps_children(&self) -> bool {
        let a = &self.signals.actions[libc::SIGCHLD as usize - 1];
        a.handler == signal::SIG_IGN || a.flags & signal::SA_NOCLDWAIT != 0
    }

    /// A new thread id (none left: EAGAIN).
    pub fn alloc_tid(&mut self) -> Option<u32> {
        self.tasks.lock().alloc_tid(self.id.pid)
    }

    /// The child of a fork by the current thread: pid `pid`, a
    /// copy-on-write copy of the address space, the same open files
    /// (a table of its own), dispositions, limits, directories and ids;
    /// one thread with the caller's signal mask; no pending signal, timer
    /// or lock of the parent's (Linux's copy_process without CLONE_VM).
    /// With `vfork`, the child runs in the caller's address space
    /// (`Mm::borrow`) until it execs or exits.
    /// With `share.files` or `share.fs` (CLONE_FILES, CLONE_FS), the child
    /// holds the caller's descriptor table or working directory, not a copy.
    pub fn fork(
        &mut self,
        m: &mut Machine,
        pid: u32,
        vfork: bool,
        share: Sharing,
    ) -> Result<Process, Errno> {
        let mm = if vfork {
            // The children that still borrow, and this one.
            {
                let t = self.tasks.lock();
                self.mm
                    .lent_to
                    .retain(|p| t.procs.get(p).is_some_and(|e| !e.vfork_done));
            }
            self.mm.lent_to.push(pid);
            self.mm.borrow()
        } else {
            self.mm.fork(m)?
        };
        let me = &self.threads[self.cur];
        let mut t = Thread::new(pid, me.sig.for_fork());
        t.affinity = me.affinity.clone();
        let mut id = self.id.clone();
        id.pid = pid;
        id.ppid = self.id.pid;
        Ok(Process {
            id,
            mm,
            files: share_or_copy(share.files, self.files(), Files::handle, Files::copy),
            signals: self.signals.for_fork(),
            rlimits: self.rlimits.clone(),
            threads: vec![t],
            cur: 0,
            next_tid: pid + 1,
            max_threads: self.max_threads,
            ncpus: self.ncpus,
            spawned: Vec::new(),
            exiting: false,
            exit: None,
            unimplemented: HashSet::new(),
            auxv: self.auxv.clone(),
            nice: self.nice,
            cpu_base: self.cpu_base,
            syscalls: 0,
            expiry: self.expiry.clone(),
            fs: share_or_copy(share.fs, self.fs(), FsContext::handle, FsContext::copy),
            policy: std::sync::Arc::clone(&self.policy),
            max_output: self.max_output,
            output_written: std::sync::Arc::clone(&self.output_written),
            tasks: std::sync::Arc::clone(&self.tasks),
            status: None,
            vfork_wait: None,
            cpu_done: Default::default(),
            children_cpu: Default::default(),
            stopped: None,
            cmdline: self.cmdline.clone(),
            task: process::TaskFlags {
                pdeathsig: 0,
                ..self.task.clone()
            },
            exe_file: self.exe_file.clone(),
            epoll_keys: self.epoll_keys.clone(),
            memfd_quota: self.memfd_quota.clone(),
            ipc: self.ipc.for_fork(),
            futexes: Default::default(),
            unix: std::sync::Arc::clone(&self.unix),
            timers: self.timers.for_fork(),
            kick: self.kick.clone(),
            exec_facts: self.exec_facts,
            xattrs: Default::default(),
        })
    }

    /// Kick every thread but the current one (the process is ending, or a
    /// process-directed signal may be for any of them).
    pub fn kick_others(&self) {
        for (i, t) in self.threads.iter().enumerate() {
            if i != self.cur {
                t.kick();
            }
        }
    }

    /// A process-directed signal is pending that the current thread blocks:
    /// kick one thread that does not block it (Linux's complete_signal), so
    /// it is taken without waiting for that thread's next syscall.
    pub fn wake_for_shared(&self) {
        let pending = self.signals.shared_pending();
        if pending == 0 {
            return;
        }
        // Who takes `sig` now: a thread that does not block it, or one
        // waiting for it in sigtimedwait.
        let takes = |t: &Thread| !t.sig.mask | t.waiting_for;
        let me = &self.threads[self.cur];
        let wanted = pending & !takes(me);
        if wanted == 0 {
            return;
        }
        if let Some(t) = self
            .threads
            .iter()
            .find(|t| t.tid != me.tid && wanted & takes(t) != 0)
        {
            t.kick();
        }
    }

    /// The index of thread `tid` (as a caller names it: a negative or
    /// unknown id is none of the process's threads).
    pub fn find_thread(&self, tid: i64) -> Option<usize> {
        self.threads.iter().position(|t| i64::from(t.tid) == tid)
    }

    /// The calling thread's descriptor table.
    pub fn files(&self) -> &Files {
        self.threads
            .get(self.cur)
            .and_then(|t| t.files.as_ref())
            .unwrap_or(&self.files)
    }

    /// Thread `tid`'s descriptor table (the process's if it has none of
    /// its own, or is gone): what /proc/PID/task/TID/fd shows.
    pub fn files_of(&self, tid: u32) -> &Files {
        self.threads
            .iter()
            .find(|t| t.tid == tid)
            .and_then(|t| t.files.as_ref())
            .unwrap_or(&self.files)
    }

    /// Thread `tid`'s working directory, root and umask, as `files_of`.
    pub fn fs_of(&self, tid: u32) -> &FsContext {
        self.threads
            .iter()
            .find(|t| t.tid == tid)
            .and_then(|t| t.fs.as_ref())
            .unwrap_or(&self.fs)
    }

    /// The calling thread's working directory, root and umask.
    pub fn fs(&self) -> &FsContext {
        self.threads
            .get(self.cur)
            .and_then(|t| t.fs.as_ref())
            .unwrap_or(&self.fs)
    }

    pub fn cwd(&self) -> Vec<u8> {
        self.fs().0.lock().cwd.clone()
    }

    pub fn root(&self) -> Vec<u8> {
        self.fs().0.lock().root.clone()
    }

    pub fn umask(&self) -> u32 {
        self.fs().0.lock().umask
    }

    /// Whether another thread of the process uses the process's own table
    /// or context (`has_own` tells whether a thread has one of its own).
    fn others_use_process_one(&self, has_own: impl Fn(&Thread) -> bool) -> bool {
        self.threads
            .iter()
            .enumerate()
            .any(|(i, t)| i != self.cur && !has_own(t))
    }

    /// unshare(CLONE_FILES), close_range(CLOSE_RANGE_UNSHARE): the calling
    /// thread gets a descriptor table no other thread or process holds.
    pub fn unshare_files(&mut self) {
        let cur = self.cur;
        if let Some(f) = self.threads.get_mut(cur).and_then(|t| t.files.as_mut()) {
            f.unshare();
        } else if self.others_use_process_one(|t| t.files.is_some()) {
            let own = self.files.copy();
            self.threads[cur].files = Some(own);
        } else {
            self.files.unshare();
        }
    }

    /// unshare(CLONE_FS): the calling thread gets a working directory, root
    /// and umask no other thread or process holds.
    pub fn unshare_fs(&mut self) {
        let cur = self.cur;
        if let Some(f) = self.threads.get_mut(cur).and_then(|t| t.fs.as_mut()) {
            if f.is_shared() {
                *f = f.copy();
            }
        } else if self.others_use_process_one(|t| t.fs.is_some()) {
            let own = self.fs.copy();
            self.threads[cur].fs = Some(own);
        } else if self.fs.is_shared() {
            self.fs = self.fs.copy();
        }
    }

    /// execve, once the caller is the only thread: its table and context
    /// become the process's; the table is its own, without the
    /// close-on-exec descriptors (Linux's unshare_files and
    /// do_close_on_exec).
    pub fn files_for_exec(&mut self) {
        for t in &mut self.threads {
            if let Some(f) = t.files.take() {
                self.files = f;
            }
            if let Some(f) = t.fs.take() {
                self.fs = f;
            }
        }
        self.files.close_on_exec();
    }

    /// Thread `i` leaves the process. If it was the last to use the
    /// process's own descriptor table or working directory (the others
    /// have their own), that one goes now, as Linux's closes with its last
    /// task: a remaining thread's own becomes the process's.
    pub fn remove_thread(&mut self, i: usize) {
        if i >= self.threads.len() {
            return;
        }
        let gone = self.threads.remove(i);
        self.cur = 0;
        if self.threads.is_empty() {
            return;
        }
        // The timer alarms that kicked its host thread kick one that stays.
        let heir = self.threads.iter().map(|t| t.host_tid).find(|&h| h != 0);
        if let (true, Some(heir)) = (gone.host_tid != 0, heir) {
            self.timers.hand_alarms(gone.host_tid, heir);
        }
        if gone.files.is_none() && self.threads.iter().all(|t| t.files.is_some()) {
            if let Some(own) = self.threads[0].files.take() {
                self.files = own;
            }
        }
        if gone.fs.is_none() && self.threads.iter().all(|t| t.fs.is_some()) {
            if let Some(own) = self.threads[0].fs.take() {
                self.fs = own;
            }
        }
    }

    /// The process ended: every descriptor table it held is let go (each
    /// closes with its last holder).
    pub fn close_files(&mut self) {
        for t in &mut self.threads {
            t.files = None;
        }
        self.files.close_all();
    }

    /// Make thread `tid` the one holding the lock; false if it is gone.
    pub fn enter(&mut self, tid: u32) -> bool {
        match self.find_thread(tid.into()) {
            Some(i) => {
                self.cur = i;
                true
            }
            None => false,
        }
    }
}

impl Machine {
    /// The program's address space, for copying to and from it.
    pub fn user(&self) -> UserMem<'_> {
        UserMem::new(self.ram(), self.pt(), self.frames(), self.shared())
            .with_tlb_gen(self.tlb_gen())
    }
}

/// Linux's largest x86-64 syscall number bound (`__NR_syscalls` < 512).
const MAX_SYSCALL: u64 = 512;
const X32_BIT: u64 = 0x4000_0000;

/// The x86-64 table.
fn handler64(nr: Sysno) -> Option<Handler> {
    use Sysno as S;
    Some(match nr {
        S::read => fs::sys_read,
        S::write => fs::sys_write,
        S::readv => fs::sys_readv,
        S::writev => fs::sys_writev,
        S::close => fs::sys_close,
        S::close_range => fs::sys_close_range,
        S::flock => fs::sys_flock,
        S::mknod => path::sys_mknod,
        S::mknodat => path::sys_mknodat,
        S::utimes => path::sys_utimes,
        S::futimesat => path::sys_futimesat,
        S::sync => path::sys_sync,
        S::syncfs => path::sys_syncfs,
        S::getpriority => process::sys_getpriority,
        S::setpriority => process::sys_setpriority,
        S::sched_rr_get_interval => process::sys_sched_rr_get_interval,
        S::ioctl => fs::sys_ioctl,
        S::pread64 => fs::sys_pread64,
        S::preadv => fs::sys_preadv,
        S::pwritev => fs::sys_pwritev,
        S::sendfile => fs::sys_sendfile,
        S::copy_file_range => fs::sys_copy_file_range,
        S::fstatfs => fs::sys_fstatfs,
        S::statfs => path::sys_statfs,
        S::fadvise64 => fs::sys_fadvise64,
        S::fallocate => path::sys_fallocate,
        S::poll => fs::sys_poll,
        S::ppoll => fs::sys_ppoll,
        S::select => fs::sys_select,
        S::pselect6 => fs::sys_pselect6,
        S::pwrite64 => fs::sys_pwrite64,
        S::lseek => fs::sys_lseek,
        S::fstat => path::sys_fstat,
        S::stat => path::sys_stat,
        S::lstat => path::sys_lstat,
        S::newfstatat => path::sys_newfstatat,
        S::statx => path::sys_statx,
        S::readlink => path::sys_readlink,
        S::readlinkat => path::sys_readlinkat,
        S::open => path::sys_open,
        S::openat => path::sys_openat,
        S::openat2 => path::sys_openat2,
        S::creat => path::sys_creat,
        S::access => path::sys_access,
        S::faccessat => path::sys_faccessat,
        S::faccessat2 => path::sys_faccessat2,
        S::execve => exec::sys_execve,
        S::execveat => exec::sys_execveat,
        S::getxattr => path::sys_getxattr,
        S::lgetxattr => path::sys_lgetxattr,
        S::fgetxattr => path::sys_fgetxattr,
        S::listxattr => path::sys_listxattr,
        S::llistxattr => path::sys_llistxattr,
        S::flistxattr => path::sys_flistxattr,
        S::setxattr => path::sys_setxattr,
        S::lsetxattr => path::sys_lsetxattr,
        S::fsetxattr => path::sys_fsetxattr,
        S::removexattr => path::sys_removexattr,
        S::lremovexattr => path::sys_lremovexattr,
        S::fremovexattr => path::sys_fremovexattr,
        S::getcwd => path::sys_getcwd,
        S::chdir => path::sys_chdir,
        S::chroot => path::sys_chroot,
        S::epoll_create => epoll::sys_epoll_create,
        S::epoll_create1 => epoll::sys_epoll_create1,
        S::epoll_ctl => epoll::sys_epoll_ctl,
        S::epoll_wait => epoll::sys_epoll_wait,
        S::epoll_pwait => epoll::sys_epoll_pwait,
        S::epoll_pwait2 => epoll::sys_epoll_pwait2,
        S::shmget => ipc::sys_shmget,
        S::shmat => ipc::sys_shmat,
        S::shmdt => ipc::sys_shmdt,
        S::shmctl => ipc::sys_shmctl,
        S::semget => ipc::sys_semget,
        S::semop => ipc::sys_semop,
        S::semtimedop => ipc::sys_semtimedop,
        S::semctl => ipc::sys_semctl,
        S::msgget => ipc::sys_msgget,
        S::msgsnd => ipc::sys_msgsnd,
        S::msgrcv => ipc::sys_msgrcv,
        S::msgctl => ipc::sys_msgctl,
        S::socket => socket::sys_socket,
        S::socketpair => socket::sys_socketpair,
        S::bind => socket::sys_bind,
        S::listen => socket::sys_listen,
        S::connect => socket::sys_connect,
        S::accept => socket::sys_accept,
        S::accept4 => socket::sys_accept4,
        S::shutdown => socket::sys_shutdown,
        S::getsockname => socket::sys_getsockname,
        S::getpeername => socket::sys_getpeername,
        S::getsockopt => socket::sys_getsockopt,
        S::setsockopt => socket::sys_setsockopt,
        S::sendto => socket::sys_sendto,
        S::recvfrom => socket::sys_recvfrom,
        S::sendmsg => socket::sys_sendmsg,
        S::recvmsg => socket::sys_recvmsg,
        S::sendmmsg => socket::sys_sendmmsg,
        S::recvmmsg => socket::sys_recvmmsg,
        S::fchdir => path::sys_fchdir,
        S::mkdir => path::sys_mkdir,
        S::mkdirat => path::sys_mkdirat,
        S::rmdir => path::sys_rmdir,
        S::unlink => path::sys_unlink,
        S::unlinkat => path::sys_unlinkat,
        S::rename => path::sys_rename,
        S::renameat => path::sys_renameat,
        S::renameat2 => path::sys_renameat2,
        S::link => path::sys_link,
        S::linkat => path::sys_linkat,
        S::symlink => path::sys_symlink,
        S::symlinkat => path::sys_symlinkat,
        S::chmod => path::sys_chmod,
        S::fchmodat => path::sys_fchmodat,
        S::fchmodat2 => path::sys_fchmodat2,
        S::cachestat => path::sys_cachestat,
        S::mseal => mm::sys_mseal,
        S::unshare => process::sys_unshare,
        S::getgroups => process::sys_getgroups,
        S::mount
        | S::pivot_root
        | S::move_mount
        | S::fsopen
        | S::fspick
        | S::mount_setattr
        | S::swapon
        | S::swapoff
        | S::reboot
        | S::sethostname
        | S::setdomainname
        | S::settimeofday
        | S::init_module
        | S::finit_module
        | S::delete_module
        | S::kexec_load
        | S::kexec_file_load
        | S::acct
        | S::vhangup
        | S::bpf => privileged::sys_needs_privilege,
        S::umount2 => privileged::sys_umount2,
        S::clock_settime => privileged::sys_clock_settime,
        S::iopl => privileged::sys_iopl,
        S::ioperm => privileged::sys_ioperm,
        S::syslog => privileged::sys_syslog,
        S::perf_event_open => privileged::sys_perf_event_open,
        S::preadv2 => fs::sys_preadv2,
        S::pwritev2 => fs::sys_pwritev2,
        S::fchmod => path::sys_fchmod,
        S::truncate => path::sys_truncate,
        S::ftruncate => path::sys_ftruncate,
        S::fsync | S::fdatasync => path::sys_fsync,
        S::umask => path::sys_umask,
        S::utimensat => path::sys_utimensat,
        S::getdents64 => path::sys_getdents64,
        S::pipe => path::sys_pipe,
        S::pipe2 => path::sys_pipe2,
        S::dup => fs::sys_dup,
        S::dup2 => fs::sys_dup2,
        S::dup3 => fs::sys_dup3,
        S::fcntl => fs::sys_fcntl,
        S::brk => mm::sys_brk,
        S::mmap => mm::sys_mmap,
        S::munmap => mm::sys_munmap,
        S::mprotect => mm::sys_mprotect,
        S::madvise => mm::sys_madvise,
        S::mremap => mm::sys_mremap,
        S::mincore => mm::sys_mincore,
        S::msync => mm::sys_msync,
        S::memfd_create => mm::sys_memfd_create,
        S::mlock => mm::sys_mlock,
        S::mlock2 => mm::sys_mlock2,
        S::munlock => mm::sys_munlock,
        S::mlockall => mm::sys_mlockall,
        S::munlockall => mm::sys_munlockall,
        S::exit => clone::sys_exit,
        S::exit_group => process::sys_exit_group,
        S::clone => clone::sys_clone,
        S::fork => clone::sys_fork,
        S::vfork => clone::sys_vfork,
        S::clone3 => clone::sys_clone3,
        S::arch_prctl => process::sys_arch_prctl,
        S::set_tid_address => process::sys_set_tid_address,
        S::set_robust_list => process::sys_set_robust_list,
        S::uname => process::sys_uname,
        S::getpid => process::sys_getpid,
        S::gettid => clone::sys_gettid,
        S::getppid => process::sys_getppid,
        S::getuid | S::geteuid => process::sys_getuid,
        S::getgid | S::getegid => process::sys_getgid,
        S::getresuid => process::sys_getresuid,
        S::setuid => process::sys_setuid,
        S::setgid => process::sys_setgid,
        S::setreuid => process::sys_setreuid,
        S::setregid => process::sys_setregid,
        S::setresuid => process::sys_setresuid,
        S::setresgid => process::sys_setresgid,
        S::setfsuid => process::sys_setfsuid,
        S::setfsgid => process::sys_setfsgid,
        S::getresgid => process::sys_getresgid,
        S::prlimit64 => process::sys_prlimit64,
        S::getrlimit => process::sys_getrlimit,
        S::setrlimit => process::sys_setrlimit,
        S::sched_getaffinity => process::sys_sched_getaffinity,
        S::getpgid => process::sys_getpgid,
        S::getsid => process::sys_getsid,
        S::getpgrp => process::sys_getpgrp,
        S::sched_getscheduler => process::sys_sched_getscheduler,
        S::sched_getparam => process::sys_sched_getparam,
        S::sched_setscheduler => process::sys_sched_setscheduler,
        S::sched_setparam => process::sys_sched_setparam,
        S::sched_get_priority_max => process::sys_sched_get_priority_max,
        S::sched_get_priority_min => process::sys_sched_get_priority_min,
        S::sched_setaffinity => process::sys_sched_setaffinity,
        S::setpgid => process::sys_setpgid,
        S::setsid => process::sys_setsid,
        S::prctl => process::sys_prctl,
        S::get_robust_list => process::sys_get_robust_list,
        S::wait4 => process::sys_wait4,
        S::waitid => process::sys_waitid,
        S::getrusage => process::sys_getrusage,
        S::times => process::sys_times,
        S::sysinfo => process::sys_sysinfo,
        S::getcpu => process::sys_getcpu,
        S::membarrier => process::sys_membarrier,
        S::chown => path::sys_chown,
        S::lchown => path::sys_lchown,
        S::fchown => path::sys_fchown,
        S::fchownat => path::sys_fchownat,
        S::sched_yield => process::sys_sched_yield,
        S::getrandom => process::sys_getrandom,
        S::kill => signal::sys_kill,
        S::tkill => signal::sys_tkill,
        S::tgkill => signal::sys_tgkill,
        S::rt_sigaction => signal::sys_rt_sigaction,
        S::rt_sigprocmask => signal::sys_rt_sigprocmask,
        S::sigaltstack => signal::sys_sigaltstack,
        S::rt_sigreturn => sigframe::sys_rt_sigreturn,
        S::rt_sigpending => signal::sys_rt_sigpending,
        S::rt_sigsuspend => signal::sys_rt_sigsuspend,
        S::rt_sigtimedwait => signal::sys_rt_sigtimedwait,
        S::rt_sigqueueinfo => signal::sys_rt_sigqueueinfo,
        S::rt_tgsigqueueinfo => signal::sys_rt_tgsigqueueinfo,
        S::pause => signal::sys_pause,
        S::restart_syscall => time::sys_restart_syscall,
        S::futex => futex::sys_futex,
        S::futex_waitv => futex::sys_futex_waitv,
        S::signalfd => fs::sys_signalfd,
        S::signalfd4 => fs::sys_signalfd4,
        S::alarm => timer::sys_alarm,
        S::getitimer => timer::sys_getitimer,
        S::setitimer => timer::sys_setitimer,
        S::timer_create => timer::sys_timer_create,
        S::timer_settime => timer::sys_timer_settime,
        S::timer_gettime => timer::sys_timer_gettime,
        S::timer_getoverrun => timer::sys_timer_getoverrun,
        S::timer_delete => timer::sys_timer_delete,
        S::timerfd_create => timer::sys_timerfd_create,
        S::eventfd => timer::sys_eventfd,
        S::eventfd2 => timer::sys_eventfd2,
        S::timerfd_settime => timer::sys_timerfd_settime,
        S::timerfd_gettime => timer::sys_timerfd_gettime,
        S::clock_gettime => time::sys_clock_gettime,
        S::clock_getres => time::sys_clock_getres,
        S::gettimeofday => time::sys_gettimeofday,
        S::time => time::sys_time,
        S::nanosleep => time::sys_nanosleep,
        S::clock_nanosleep => time::sys_clock_nanosleep,
        _ => return None,
    })
}

/// The i386 calls `int 0x80` reaches. Only calls whose arguments mean the
/// same with 32-bit registers are listed (no structs whose layout differs
/// between the ABIs); the rest are -ENOSYS.
fn handler32(nr: Sysno32) -> Option<Handler> {
    use Sysno32 as S;
    Some(match nr {
        S::read => fs::sys_read,
        S::write => fs::sys_write,
        S::close => fs::sys_close,
        S::dup => fs::sys_dup,
        S::dup2 => fs::sys_dup2,
        S::brk => mm::sys_brk,
        S::munmap => mm::sys_munmap,
        S::mprotect => mm::sys_mprotect,
        S::exit => clone::sys_exit,
        S::exit_group => process::sys_exit_group,
        S::fork => clone::sys_fork,
        S::vfork => clone::sys_vfork,
        S::getpid => process::sys_getpid,
        S::gettid => clone::sys_gettid,
        S::getppid => process::sys_getppid,
        S::getuid32 | S::geteuid32 => process::sys_getuid,
        S::getgid32 | S::getegid32 => process::sys_getgid,
        S::uname => process::sys_uname,
        S::sched_yield => process::sys_sched_yield,
        S::getrandom => process::sys_getrandom,
        S::kill => signal::sys_kill,
        S::tgkill => signal::sys_tgkill,
        S::pause => signal::sys_pause,
        S::alarm => timer::sys_alarm,
        S::restart_syscall => time::sys_restart_syscall,
        _ => return None,
    })
}

/// The syscall a trap asked for: number, name and arguments per its ABI.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub nr: u64,
    pub args: Args,
    pub i386: bool,
}

impl Call {
    pub fn decode(regs: &kvm_regs, path: EntryPath) -> Self {
        if path.is_int80() {
            let r = |v: u64| v & 0xffff_ffff;
            Call {
                nr: r(regs.rax),
                args: Args([
                    r(regs.rbx),
                    r(regs.rcx),
                    r(regs.rdx),
                    r(regs.rsi),
                    r(regs.rdi),
                    r(regs.rbp),
                ]),
                i386: true,
            }
        } else {
            Call {
                nr: regs.rax,
                args: Args([regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9]),
                i386: false,
            }
        }
    }

    /// The syscall's name, if the number is a known one.
    /// execve or execveat (x86-64).
    pub fn is_exec(&self) -> bool {
        !self.i386 && (self.nr == Sysno::execve as u64 || self.nr == Sysno::execveat as u64)
    }

    pub fn name(&self) -> Option<&'static str> {
        let nr = usize::try_from(self.nr).ok()?;
        if self.i386 {
            Sysno32::new(nr).map(|s| s.name())
        } else {
            Sysno::new(nr).map(|s| s.name())
        }
    }

    fn handler(&self) -> Option<Handler> {
        if self.nr >= MAX_SYSCALL || self.nr & X32_BIT != 0 {
            return None;
        }
        let nr = usize::try_from(self.nr).ok()?;
        if self.i386 {
            Sysno32::new(nr).and_then(handler32)
        } else {
            Sysno::new(nr).and_then(handler64)
        }
    }
}

/// Run one syscall; the result (a value or -errno) goes into RAX.
pub fn dispatch(cx: &mut Ctx, call: &Call) -> i64 {
    cx.proc.syscalls += 1;
    let result = match call.handler() {
        Some(h) => {
            let mut r = h(cx, &call.args);
            // A call about another process's /proc/PID/maps or fd: once
            // more with a copy of it (at most a few: a call names at most
            // two paths, each naming at most one process).
            while r == Err(path::NEED_PEEK) {
                let pid = cx
                    .proc
                    .me()
                    .peek_want
                    .swap(0, std::sync::atomic::Ordering::Relaxed);
                if cx.proc.me().peek.len() >= 4 || pid == 0 {
                    r = Err(Errno::NOENT);
                    break;
                }
                let p = path::peek(cx, pid);
                cx.proc.me().peek.push(p);
                r = h(cx, &call.args);
            }
            cx.proc.me().peek.clear();
            cx.proc.mm.settle_stack();
            r
        }
        None => {
            // Only real syscall numbers are remembered: a program calling
            // every bogus number must not grow this set.
            if call.nr < MAX_SYSCALL && cx.proc.unimplemented.insert((call.i386, call.nr)) {
                log::debug!(
                    "unimplemented {}syscall {} ({}): ENOSYS",
                    if call.i386 { "i386 " } else { "" },
                    call.nr,
                    call.name().unwrap_or("unknown")
                );
            }
            Err(Errno::NOSYS)
        }
    };
    if result == Err(Errno::NOSYS) && call.nr < MAX_SYSCALL {
        // Also the calls whose handler refuses them (fork before processes
        // exist): what the program wanted and did not get.
        cx.proc.unimplemented.insert((call.i386, call.nr));
    }
    let ret = match result {
        Ok(v) => v as i64,
        Err(e) => -i64::from(e.raw_os_error()),
    };
    cx.regs.rax = ret as u64;
    ret
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module index at the top of this file names every x86-64 call
    /// with a handler exactly once, and nothing else.
    #[test]
    fn module_index_names_every_handled_call_once() {
        let src = include_str!("mod.rs");
        let index = src
            .split("//! Which file owns which calls")
            .nth(1)
            .and_then(|s| s.split("\n\n").next())
            .expect("the module index");
        let mut named: Vec<&str> = Vec::new();
        for line in index.lines().skip(1) {
            let Some(body) = line.strip_prefix("//! ") else {
                break;
            };
            let calls = match body.strip_prefix("- ") {
                Some(first) => first.split_once("): ").map_or("", |(_, c)| c),
                None => body,
            };
            named.extend(calls.split_whitespace());
        }
        let mut sorted = named.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), named.len(), "a call named twice");
        let handled: std::collections::BTreeSet<&str> = Sysno::iter()
            .filter(|&nr| handler64(nr).is_some())
            .map(|nr| nr.name())
            .collect();
        let named: std::collections::BTreeSet<&str> = named.into_iter().collect();
        let missing: Vec<_> = handled.difference(&named).collect();
        let extra: Vec<_> = named.difference(&handled).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:?}, extra {extra:?}"
        );
    }

    /// README's "What is ENOSYS, deliberately" names exactly the x86-64
    /// calls without a handler, and its count is right.
    #[test]
    fn readme_lists_exactly_the_enosys_calls() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## What is ENOSYS, deliberately")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("the README section");
        let listed: HashSet<&str> = section
            .split('`')
            .skip(1)
            .step_by(2)
            .flat_map(str::split_whitespace)
            .collect();
        let all: Vec<Sysno> = Sysno::iter().collect();
        let missing: Vec<&str> = all
            .iter()
            .filter(|&&nr| handler64(nr).is_none())
            .map(|nr| nr.name())
            .collect();
        let unlisted: Vec<&&str> = missing.iter().filter(|n| !listed.contains(**n)).collect();
        assert!(
            unlisted.is_empty(),
            "ENOSYS but not in README: {unlisted:?}"
        );
        let handled: Vec<&str> = all
            .iter()
            .filter(|&&nr| handler64(nr).is_some() && listed.contains(nr.name()))
            .map(|nr| nr.name())
            .collect();
        assert!(handled.is_empty(), "in README but implemented: {handled:?}");
        let count = format!("These are the {} of the {} ", missing.len(), all.len());
        let flat = section.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&count), "README should say: {count}");
    }

    #[test]
    fn numbers_outside_the_table_have_no_handler() {
        let call = |nr: u64, i386: bool| Call {
            nr,
            args: Args::default(),
            i386,
        };
        assert!(call(1, false).handler().is_some(), "write");
        assert!(call(4, true).handler().is_some(), "i386 write");
        for nr in [u64::MAX, 512, 1 | X32_BIT, 335 /* gap */, 0xffff_ffff] {
            assert!(call(nr, false).handler().is_none(), "{nr:#x}");
        }
        assert_eq!(call(60, false).name(), Some("exit"));
        assert_eq!(call(1, true).name(), Some("exit"));
    }

    #[test]
    fn int80_decoding_uses_the_i386_registers_and_truncates() {
        let regs = kvm_regs {
            rax: 0xdead_0000_0000_0004,
            rbx: 0x1_0000_0001,
            rcx: 2,
            rdx: 3,
            rsi: 4,
            rdi: 5,
            rbp: 6,
            ..Default::default()
        };
        let c = Call::decode(&regs, EntryPath::Int80Ud);
        assert_eq!(c.nr, 4);
        assert_eq!(c.args.0, [1, 2, 3, 4, 5, 6]);
        let c = Call::decode(&regs, EntryPath::Lstar);
        assert_eq!(c.args.0[0], 5, "rdi first");
    }
}

const _: () = {
    const fn send<T: Send>() {}
    send::<Process>();
    send::<Machine>();
    send::<crate::vm::Vcpu>();
};

/// A `Cell` that threads may share: `get`/`set` of a small `Copy` value
/// under a lock (an open file's position and flags, reached from several
/// threads through the same `Arc<OpenFile>`).
#[derive(Debug, Default)]
pub struct SyncCell<T: Copy>(parking_lot::Mutex<T>);

impl<T: Copy> SyncCell<T> {
    pub fn new(v: T) -> Self {
        Self(parking_lot::Mutex::new(v))
    }
    pub fn get(&self) -> T {
        *self.0.lock()
    }
    pub fn set(&self, v: T) {
        *self.0.lock() = v;
    }
}
