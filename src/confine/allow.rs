//! The host system calls kvmcage makes once it is confined: the vCPU loop,
//! the dispatcher (on the program's behalf), the watchdog, the tracer, and
//! starting the watchdog thread. One line per call, with why. A call that
//! is not here kills kvmcage (SECCOMP_RET_KILL_PROCESS). When kvmcage
//! starts making a new call, add it here in the same commit.
//!
//! Calls with argument filters (ioctl, clone, clone3, mmap, mprotect,
//! prctl, prlimit64, tgkill, socket, socketpair) are built in
//! `super::seccomp_filters`.

/// Allowed with any arguments.
pub const ANY_ARGS: &[(i64, &str)] = &[
    // Memory.
    (libc::SYS_brk, "the allocator"),
    (libc::SYS_munmap, "the allocator; a thread's stack"),
    (libc::SYS_mremap, "the allocator (realloc of large blocks)"),
    (
        libc::SYS_madvise,
        "MADV_DONTNEED on guest RAM (munmap, page reuse); freed stacks",
    ),
    (
        libc::SYS_mincore,
        "is a guest frame resident (mincore of guest RAM)",
    ),
    // I/O on descriptors the dispatcher holds.
    (
        libc::SYS_read,
        "reads of host files, pipes, stdin, eventfd, timerfd",
    ),
    (
        libc::SYS_write,
        "the program's output, files, pipes; the trace; the waker",
    ),
    (libc::SYS_readv, "std's vectored reads"),
    (libc::SYS_writev, "std's vectored writes (stderr)"),
    (libc::SYS_pread64, "pread, file-backed mmap"),
    (libc::SYS_pwrite64, "pwrite, msync of file mappings"),
    (libc::SYS_lseek, "lseek"),
    (libc::SYS_close, "close"),
    (
        libc::SYS_fcntl,
        "F_GETFL/F_SETFL, locks, F_GETPIPE_SZ, F_DUPFD_CLOEXEC, F_CREATED_QUERY",
    ),
    (libc::SYS_fstat, "fstat of host files"),
    (libc::SYS_newfstatat, "stat through the walk's descriptors"),
    (libc::SYS_statx, "std's metadata"),
    (libc::SYS_fstatfs, "fstatfs/statfs"),
    (libc::SYS_ftruncate, "ftruncate/truncate"),
    (libc::SYS_fallocate, "fallocate"),
    (libc::SYS_fsync, "fsync"),
    (libc::SYS_fdatasync, "fdatasync"),
    (libc::SYS_getdents64, "getdents64 of host directories"),
    // The path walk (landlock keeps every one of these beneath the mounts).
    (
        libc::SYS_openat,
        "opening one name beneath a directory the walk holds",
    ),
    (libc::SYS_openat2, "the walk's RESOLVE_BENEATH opens"),
    (
        libc::SYS_readlinkat,
        "symlinks the walk follows by guest path",
    ),
    (libc::SYS_mkdirat, "mkdir"),
    (
        libc::SYS_mknodat,
        "mknod of FIFOs, sockets and regular files",
    ),
    (libc::SYS_flock, "flock on host files"),
    (
        libc::SYS_syncfs,
        "sync and syncfs of the mounts' filesystems",
    ),
    (libc::SYS_unlinkat, "unlink, rmdir"),
    (libc::SYS_symlinkat, "symlink"),
    (libc::SYS_linkat, "link"),
    (libc::SYS_renameat2, "rename"),
    (libc::SYS_fchmod, "fchmod"),
    (
        libc::SYS_fchmodat,
        "chmod of a walked descriptor through /proc/self/fd",
    ),
    (libc::SYS_utimensat, "utimensat"),
    (
        libc::SYS_access,
        "access of a walked descriptor through /proc/self/fd",
    ),
    (libc::SYS_faccessat, "access"),
    (libc::SYS_faccessat2, "access with flags"),
    (
        libc::SYS_getxattr,
        "getxattr of a walked descriptor through /proc/self/fd",
    ),
    (libc::SYS_listxattr, "listxattr, likewise"),
    (
        libc::SYS_setxattr,
        "user.* attributes in a writable mount, likewise",
    ),
    (libc::SYS_removexattr, "removexattr, likewise"),
    (
        syscalls::Sysno::cachestat as libc::c_long,
        "cachestat of a host file",
    ),
    (libc::SYS_pipe2, "pipe2"),
    (libc::SYS_eventfd2, "the vCPU thread's waker"),
    (libc::SYS_timerfd_create, "timerfd_create"),
    (libc::SYS_timerfd_settime, "timerfd_settime"),
    (libc::SYS_timerfd_gettime, "timerfd_gettime"),
    (libc::SYS_getrandom, "getrandom, /dev/urandom"),
    // The program's AF_UNIX sockets (socket and socketpair: AF_UNIX only,
    // below).
    (
        libc::SYS_bind,
        "bind in a writable mount or the sandbox's abstract names",
    ),
    (libc::SYS_listen, "listen"),
    (libc::SYS_connect, "connect to a socket the view shows"),
    (libc::SYS_accept4, "accept"),
    (libc::SYS_shutdown, "shutdown"),
    (libc::SYS_getsockname, "getsockname"),
    (libc::SYS_getpeername, "getpeername"),
    (libc::SYS_getsockopt, "getsockopt"),
    (libc::SYS_setsockopt, "the options a program may set"),
    (libc::SYS_sendmsg, "send, sendto, sendmsg"),
    (libc::SYS_recvmsg, "recv, recvfrom, recvmsg"),
    (libc::SYS_recvfrom, "read() of a socket without waiting"),
    (
        libc::SYS_umask,
        "a socket file bound with the program's umask",
    ),
    (libc::SYS_epoll_create1, "the program's epoll instances"),
    (
        libc::SYS_memfd_create,
        "memfd_create, shared anonymous memory and SysV segments",
    ),
    (libc::SYS_msync, "msync of shared mappings"),
    (libc::SYS_epoll_ctl, "epoll_ctl"),
    (libc::SYS_epoll_wait, "taking ready events without waiting"),
    // Waiting, signals and time.
    (libc::SYS_ppoll, "the one waiting place"),
    (libc::SYS_poll, "readiness checks"),
    (libc::SYS_futex, "std's locks and thread join"),
    (libc::SYS_rt_sigaction, "the kick's handler"),
    (
        libc::SYS_rt_sigprocmask,
        "blocking the kick outside KVM_RUN and waits",
    ),
    (libc::SYS_rt_sigtimedwait, "taking a pending kick"),
    (libc::SYS_rt_sigreturn, "return from the kick's handler"),
    (libc::SYS_sigaltstack, "std's per-thread overflow stack"),
    (
        libc::SYS_timer_create,
        "host timers that kick the vCPU for guest timers",
    ),
    (libc::SYS_timer_settime, "arming them"),
    (libc::SYS_timer_gettime, "reading them"),
    (libc::SYS_timer_delete, "removing them"),
    (
        libc::SYS_clock_gettime,
        "clocks (when the vDSO does not answer)",
    ),
    (libc::SYS_clock_nanosleep, "the watchdog's sleeps"),
    (libc::SYS_nanosleep, "sleeps"),
    (
        libc::SYS_restart_syscall,
        "a sleep or futex wait resumed after SIGSTOP/SIGCONT",
    ),
    (libc::SYS_sched_yield, "spin loops in std"),
    (
        libc::SYS_membarrier,
        "the program's membarrier across its threads' vCPUs",
    ),
    (libc::SYS_getrusage, "the guest's CPU time"),
    // Identity of kvmcage itself.
    (libc::SYS_getpid, "the kick's target"),
    (libc::SYS_gettid, "the kick's target thread"),
    (libc::SYS_geteuid, "file ownership as the program sees it"),
    (libc::SYS_getegid, "file ownership as the program sees it"),
    (libc::SYS_getuid, "std"),
    (libc::SYS_getgid, "std"),
    (libc::SYS_sched_getaffinity, "std's available_parallelism"),
    // Threads (clone only with CLONE_THREAD, below) and the end.
    (libc::SYS_set_robust_list, "a new thread's start"),
    (libc::SYS_rseq, "a new thread's start"),
    (libc::SYS_wait4, "waiting for the --tmpfs reaper at the end"),
    (libc::SYS_exit, "a thread's end"),
    (libc::SYS_exit_group, "kvmcage's end"),
];

/// KVM and terminal ioctl requests the run makes after set-up.
pub const IOCTLS: &[(u64, &str)] = &[
    (super::kvm::RUN, "KVM_RUN"),
    (
        super::kvm::GET_REGS,
        "KVM_GET_REGS: the register file at a trap",
    ),
    (super::kvm::SET_REGS, "KVM_SET_REGS: results, signal frames"),
    (super::kvm::GET_SREGS, "KVM_GET_SREGS: CR2, FS/GS base"),
    (
        super::kvm::SET_SREGS,
        "KVM_SET_SREGS: arch_prctl, page tables",
    ),
    (super::kvm::GET_XSAVE, "KVM_GET_XSAVE: signal frames"),
    (
        super::kvm::IOEVENTFD,
        "KVM_IOEVENTFD: a vCPU's exitless-gate doorbell, on first use",
    ),
    (
        super::kvm::GET_VCPU_EVENTS,
        "KVM_GET_VCPU_EVENTS: a kick during an exception's delivery",
    ),
    (super::kvm::SET_XSAVE, "KVM_SET_XSAVE: rt_sigreturn"),
    (super::kvm::GET_MSRS, "KVM_GET_MSRS: fault reports"),
    (
        super::kvm::SET_SIGNAL_MASK,
        "KVM_SET_SIGNAL_MASK: the kick inside KVM_RUN",
    ),
    (
        super::kvm::CREATE_VCPU,
        "KVM_CREATE_VCPU: a vCPU for a new thread",
    ),
    (super::kvm::SET_CPUID2, "KVM_SET_CPUID2: a new vCPU's CPUID"),
    (
        super::kvm::SET_MSRS,
        "KVM_SET_MSRS: a new vCPU's LSTAR, STAR...",
    ),
    (
        super::kvm::SET_FPU,
        "KVM_SET_FPU: a new vCPU's x87/SSE state",
    ),
    (super::kvm::SET_XCRS, "KVM_SET_XCRS: a new vCPU's XCR0"),
    (
        super::kvm::SET_USER_MEMORY_REGION,
        "KVM_SET_USER_MEMORY_REGION: the program's shared mappings",
    ),
    (libc::TCGETS, "TCGETS for the program's isatty"),
    (libc::TIOCGWINSZ, "TIOCGWINSZ for the program"),
    (
        libc::FIONREAD,
        "FIONREAD: pipe room and the program's FIONREAD",
    ),
];
