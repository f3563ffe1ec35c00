//! Arguments and results rendered as strace renders them.
//!
//! One table (`signature`) says what each argument of a syscall is; the
//! renderers read guest memory only through `UserMem`, after the call (as
//! strace prints output arguments), and print an unreadable pointer in hex.

use crate::mm::uaccess::UserMem;

/// strace -s 32.
pub const STRING_LIMIT: usize = 32;

/// What an argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A signed int (fd, count as int, pid).
    Int,
    /// An unsigned long.
    Uint,
    Hex,
    /// A pointer printed as NULL or hex.
    Ptr,
    /// A NUL-terminated string.
    Path,
    /// execve's argv: `["ls", "-l"]` (strace shows at most 32 strings).
    Argv,
    /// execve's envp: `0x7ffd... /* 3 vars */`.
    Envp,
    /// A buffer the call reads: `count` is the argument index of its length.
    InBuf(usize),
    /// A buffer the call fills: as many bytes as the result says.
    OutBuf,
    /// A directory fd: AT_FDCWD by name.
    DirFd,
    OpenFlags,
    Mode,
    Prot,
    MapFlags,
    Signal,
    SigHow,
    Clock,
    ArchPrctl,
    Ioctl,
    Fcntl,
    GrndFlags,
    AtFlags,
    Whence,
    Resource,
    /// struct stat written by the call.
    Stat,
    /// struct timespec written by the call.
    Timespec,
    /// struct rlimit (printed when non-NULL and readable).
    Rlimit,
    /// An iovec array with its count at this argument index.
    Iovec(usize),
    /// A sigset_t the call reads / fills.
    SigSetIn,
    SigSetOut,
    /// A struct sigaction the call reads / fills.
    SigActIn,
    SigActOut,
    /// A siginfo the call reads / fills.
    SigInfoIn,
    SigInfoOut,
    /// A stack_t the call reads / fills (sigaltstack).
    StackIn,
    StackOut,
    /// A struct timespec the call reads.
    TimespecIn,
    /// ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF.
    Itimer,
    /// A struct itimerval the call reads / fills.
    ItimervalIn,
    ItimervalOut,
    /// A struct itimerspec the call reads / fills.
    ItimerspecIn,
    ItimerspecOut,
    /// TIMER_ABSTIME (clock_nanosleep, timer_settime).
    TimerFlags,
    /// timerfd_create's TFD_CLOEXEC|TFD_NONBLOCK.
    TfdFlags,
    /// timerfd_settime's TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET.
    TfdTimerFlags,
    /// signalfd4's SFD_CLOEXEC|SFD_NONBLOCK.
    SfdFlags,
    /// wait4's status, filled when it returned a pid.
    WaitStatus,
    /// WNOHANG|WUNTRACED|... of wait4 and waitid.
    WaitOptions,
    /// waitid's P_ALL, P_PID, P_PGID, P_PIDFD.
    IdType,
}

use Arg::*;

/// The arguments of the syscalls kvmcage decodes; others print as hex.
pub fn signature(name: &str) -> Option<&'static [Arg]> {
    Some(match name {
        "read" => &[Int, OutBuf, Uint],
        "pread64" => &[Int, OutBuf, Uint, Int],
        "write" => &[Int, InBuf(2), Uint],
        "pwrite64" => &[Int, InBuf(2), Uint, Int],
        "readv" | "writev" | "preadv" | "pwritev" => &[Int, Iovec(2), Int, Int],
        "open" => &[Path, OpenFlags, Mode],
        "openat" => &[DirFd, Path, OpenFlags, Mode],
        "execve" => &[Path, Argv, Envp],
        "execveat" => &[DirFd, Path, Argv, Envp, AtFlags],
        "creat" => &[Path, Mode],
        "close" | "fsync" | "fdatasync" | "dup" | "fchdir" => &[Int],
        "dup2" => &[Int, Int],
        "dup3" => &[Int, Int, OpenFlags],
        "fstat" => &[Int, Stat],
        "stat" | "lstat" => &[Path, Stat],
        "newfstatat" => &[DirFd, Path, Stat, AtFlags],
        "lseek" => &[Int, Int, Whence],
        "mmap" => &[Ptr, Uint, Prot, MapFlags, Int, Hex],
        "munmap" => &[Ptr, Uint],
        "mprotect" => &[Ptr, Uint, Prot],
        "mremap" => &[Ptr, Uint, Uint, Hex, Ptr],
        "madvise" => &[Ptr, Uint, Int],
        "brk" => &[Ptr],
        "ioctl" => &[Int, Ioctl, Ptr],
        "fcntl" => &[Int, Fcntl, Hex],
        "arch_prctl" => &[ArchPrctl, Ptr],
        "set_tid_address" => &[Ptr],
        "set_robust_list" => &[Ptr, Uint],
        "rseq" => &[Ptr, Hex, Int, Hex],
        "prlimit64" => &[Int, Resource, Rlimit, Rlimit],
        "getrlimit" | "setrlimit" => &[Resource, Rlimit],
        "getrandom" => &[OutBuf, Uint, GrndFlags],
        "uname" => &[Ptr],
        "readlink" => &[Path, OutBuf, Uint],
        "readlinkat" => &[DirFd, Path, OutBuf, Uint],
        "access" => &[Path, Hex],
        "faccessat" | "faccessat2" => &[DirFd, Path, Hex, AtFlags],
        "getdents64" => &[Int, Ptr, Uint],
        "exit" | "exit_group" => &[Int],
        "rt_sigaction" => &[Signal, SigActIn, SigActOut, Uint],
        "rt_sigprocmask" => &[SigHow, SigSetIn, SigSetOut, Uint],
        "rt_sigpending" => &[SigSetOut, Uint],
        "rt_sigsuspend" => &[SigSetIn, Uint],
        "rt_sigtimedwait" => &[SigSetIn, SigInfoOut, TimespecIn, Uint],
        "rt_sigqueueinfo" => &[Int, Signal, SigInfoIn],
        "rt_tgsigqueueinfo" => &[Int, Int, Signal, SigInfoIn],
        "signalfd4" => &[Int, SigSetIn, Uint, SfdFlags],
        "pause" => &[],
        "alarm" => &[Uint],
        "setitimer" => &[Itimer, ItimervalIn, ItimervalOut],
        "getitimer" => &[Itimer, ItimervalOut],
        "timer_settime" => &[Int, TimerFlags, ItimerspecIn, ItimerspecOut],
        "timer_gettime" => &[Int, ItimerspecOut],
        "timerfd_create" => &[Clock, TfdFlags],
        "timerfd_settime" => &[Int, TfdTimerFlags, ItimerspecIn, ItimerspecOut],
        "timerfd_gettime" => &[Int, ItimerspecOut],
        "clock_gettime" | "clock_getres" => &[Clock, Timespec],
        "gettimeofday" => &[Ptr, Ptr],
        "time" => &[Ptr],
        "nanosleep" => &[TimespecIn, Ptr],
        "clock_nanosleep" => &[Clock, TimerFlags, TimespecIn, Ptr],
        "kill" => &[Int, Signal],
        "tkill" => &[Int, Signal],
        "tgkill" => &[Int, Int, Signal],
        "pipe" => &[Ptr],
        "pipe2" => &[Ptr, OpenFlags],
        "getpid" | "gettid" | "getppid" | "getuid" | "geteuid" | "getgid" | "getegid"
        | "sched_yield" | "getuid32" | "geteuid32" | "getgid32" | "getegid32" => &[],
        "sched_getaffinity" => &[Int, Uint, Ptr],
        "sigaltstack" => &[StackIn, StackOut],
        "fork" | "vfork" | "setsid" | "getpgrp" => &[],
        "wait4" => &[Int, WaitStatus, WaitOptions, Ptr],
        "waitid" => &[IdType, Int, SigInfoOut, WaitOptions, Ptr],
        "setpgid" => &[Int, Int],
        "getpgid" | "getsid" => &[Int],
        "setuid" | "setgid" | "setfsuid" | "setfsgid" => &[Int],
        "setreuid" | "setregid" => &[Int, Int],
        "setresuid" | "setresgid" => &[Int, Int, Int],
        "mincore" => &[Ptr, Uint, Ptr],
        "msync" => &[Ptr, Uint, Hex],
        _ => return None,
    })
}

/// Quote and escape bytes like strace, cut at `STRING_LIMIT` with `...`.
pub fn quote(bytes: &[u8], complete: bool) -> String {
    let cut = bytes.len() > STRING_LIMIT;
    let shown = &bytes[..bytes.len().min(STRING_LIMIT)];
    let mut s = String::from("\"");
    for &b in shown {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if cut || !complete {
        s.push_str("...");
    }
    s
}

fn flags(v: u64, table: &[(u64, &str)], zero: &str) -> String {
    if v == 0 {
        return zero.to_string();
    }
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, name) in table {
        if bit != 0 && rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

fn one_of(v: u64, table: &[(u64, &str)]) -> String {
    table
        .iter()
        .find(|(k, _)| *k == v)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("{v:#x}"))
}

fn open_flags(v: u64) -> String {
    let acc = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = flags(
        v & !3,
        &[
            (0o100, "O_CREAT"),
            (0o200, "O_EXCL"),
            (0o400, "O_NOCTTY"),
            (0o1000, "O_TRUNC"),
            (0o2000, "O_APPEND"),
            (0o4000, "O_NONBLOCK"),
            (0o10000, "O_DSYNC"),
            (0o200000, "O_DIRECTORY"),
            (0o400000, "O_NOFOLLOW"),
            (0o1000000, "O_NOATIME"),
            (0o2000000, "O_CLOEXEC"),
            (0o10000000, "O_PATH"),
            (0o20000000 | 0o200000, "O_TMPFILE"),
            (0o100000, "O_LARGEFILE"),
        ],
        "",
    );
    if rest.is_empty() {
        acc.to_string()
    } else {
        format!("{acc}|{rest}")
    }
}

const PROT: [(u64, &str); 3] = [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")];

const WAIT_OPTIONS: [(u64, &str); 8] = [
    (1, "WNOHANG"),
    (2, "WSTOPPED"),
    (4, "WEXITED"),
    (8, "WCONTINUED"),
    (0x0100_0000, "WNOWAIT"),
    (0x2000_0000, "__WNOTHREAD"),
    (0x4000_0000, "__WALL"),
    (0x8000_0000, "__WCLONE"),
];

const CLONE_FLAGS: [(u64, &str); 24] = [
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x1_0000, "CLONE_THREAD"),
    (0x2_0000, "CLONE_NEWNS"),
    (0x4_0000, "CLONE_SYSVSEM"),
    (0x8_0000, "CLONE_SETTLS"),
    (0x10_0000, "CLONE_PARENT_SETTID"),
    (0x20_0000, "CLONE_CHILD_CLEARTID"),
    (0x40_0000, "CLONE_DETACHED"),
    (0x80_0000, "CLONE_UNTRACED"),
    (0x100_0000, "CLONE_CHILD_SETTID"),
    (0x200_0000, "CLONE_NEWCGROUP"),
    (0x400_0000, "CLONE_NEWUTS"),
    (0x800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
];

/// wait4's status word as strace shows it.
pub fn wait_status(st: i32) -> String {
    let sig = st & 0x7f;
    if sig == 0 {
        format!(
            "[{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}]",
            (st >> 8) & 0xff
        )
    } else if sig != 0x7f {
        format!(
            "[{{WIFSIGNALED(s) && WTERMSIG(s) == {}{}}}]",
            signal_name(sig as u64),
            if st & 0x80 != 0 {
                " && WCOREDUMP(s)"
            } else {
                ""
            }
        )
    } else {
        format!("[{st:#x}]")
    }
}

/// clone's arguments as strace names them (x86-64 order: flags, stack,
/// parent_tid, child_tid, tls), only those the flags make meaningful.
pub fn clone_args(a: &[u64; 6]) -> String {
    let [f, stack, parent_tid, child_tid, tls, _] = *a;
    let sig = f & 0xff;
    let mut fl = flags(f & 0xffff_ff00, &CLONE_FLAGS, "");
    if sig != 0 {
        if !fl.is_empty() {
            fl.push('|');
        }
        fl.push_str(&signal_name(sig));
    }
    if fl.is_empty() {
        fl.push('0');
    }
    let p = |v: u64| {
        if v == 0 {
            "NULL".to_string()
        } else {
            format!("{v:#x}")
        }
    };
    let mut out = format!("child_stack={}, flags={fl}", p(stack));
    if f & 0x10_0000 != 0 {
        out += &format!(", parent_tid={}", p(parent_tid));
    }
    if f & 0x8_0000 != 0 {
        out += &format!(", tls={}", p(tls));
    }
    if f & (0x20_0000 | 0x100_0000) != 0 {
        out += &format!(", child_tidptr={}", p(child_tid));
    }
    out
}
const MAP: [(u64, &str); 12] = [
    (0x01, "MAP_SHARED"),
    (0x02, "MAP_PRIVATE"),
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
];

fn signal_name(v: u64) -> String {
    let n = crate::report::signal_name(v as i32);
    if n == "signal" {
        format!("{v}")
    } else {
        n.to_string()
    }
}

fn int(v: u64) -> String {
    format!("{}", v as u32 as i32)
}

fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

fn read_u64s(mem: &UserMem, addr: u64, n: usize) -> Option<Vec<u64>> {
    let raw = mem.read_vec(addr, n * 8).ok()?;
    Some(
        raw.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect(),
    )
}

fn stat(mem: &UserMem, addr: u64) -> Option<String> {
    let w = read_u64s(mem, addr, 6)?;
    let mode = w[3] as u32;
    let kind = match mode & 0o170000 {
        0o140000 => "S_IFSOCK",
        0o120000 => "S_IFLNK",
        0o100000 => "S_IFREG",
        0o60000 => "S_IFBLK",
        0o40000 => "S_IFDIR",
        0o20000 => "S_IFCHR",
        0o10000 => "S_IFIFO",
        _ => "0",
    };
    let rdev = w[5];
    let (major, minor) = (
        (rdev >> 8) & 0xfff,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    );
    Some(if matches!(kind, "S_IFCHR" | "S_IFBLK") {
        format!(
            "{{st_mode={kind}|{:04o}, st_rdev=makedev({major:#x}, {minor:#x}), ...}}",
            mode & 0o7777
        )
    } else {
        let size = read_u64s(mem, addr + 48, 1)?[0];
        format!(
            "{{st_mode={kind}|{:04o}, st_size={size}, ...}}",
            mode & 0o7777
        )
    })
}

fn rlimit(mem: &UserMem, addr: u64) -> Option<String> {
    let w = read_u64s(mem, addr, 2)?;
    let one = |v: u64| {
        if v == u64::MAX {
            "RLIM64_INFINITY".to_string()
        } else if v % 1024 == 0 && v > 0 {
            format!("{}*1024", v / 1024)
        } else {
            v.to_string()
        }
    };
    Some(format!(
        "{{rlim_cur={}, rlim_max={}}}",
        one(w[0]),
        one(w[1])
    ))
}

fn iovec(mem: &UserMem, addr: u64, cnt: u64, out: bool, ret: i64) -> Option<String> {
    if cnt > 1024 {
        return None;
    }
    let w = read_u64s(mem, addr, cnt as usize * 2)?;
    let mut left = if out { ret.max(0) as u64 } else { u64::MAX };
    let items: Vec<String> = w
        .chunks_exact(2)
        .map(|p| {
            let (base, len) = (p[0], p[1]);
            let take = len.min(left).min(STRING_LIMIT as u64 + 1) as usize;
            left = left.saturating_sub(len);
            let mut buf = vec![0u8; take];
            let got = mem.read_prefix(base, &mut buf);
            let s = if got == take {
                quote(&buf, take as u64 >= len.min(left + len))
            } else {
                ptr(base)
            };
            format!("{{iov_base={s}, iov_len={len}}}")
        })
        .collect();
    Some(format!("[{}]", items.join(", ")))
}

/// Render one argument. `args` are all six; `ret` is the call's result.
pub fn render(kind: Arg, i: usize, args: &[u64; 6], ret: i64, mem: &UserMem) -> String {
    let v = args[i];
    let or_ptr = |s: Option<String>| s.unwrap_or_else(|| ptr(v));
    match kind {
        Int => int(v),
        Uint => v.to_string(),
        Hex => format!("{v:#x}"),
        Ptr => ptr(v),
        Path => {
            if v == 0 {
                return "NULL".into();
            }
            match mem.read_cstr(v, 4096) {
                Ok(s) => quote(&s, true),
                Err(_) => ptr(v),
            }
        }
        Argv | Envp => {
            if v == 0 {
                return "NULL".into();
            }
            // strace's abbreviation: 32 strings, then "...".
            let mut items = Vec::new();
            let mut more = false;
            for k in 0u64..=32 {
                let mut p = [0u8; 8];
                let Some(at) = v.checked_add(k * 8) else {
                    break;
                };
                if mem.read_prefix(at, &mut p) != 8 {
                    return ptr(v);
                }
                let p = u64::from_le_bytes(p);
                if p == 0 {
                    break;
                }
                if k == 32 {
                    more = true;
                    break;
                }
                items.push(match mem.read_cstr(p, 4096) {
                    Ok(s) => quote(&s, true),
                    Err(_) => ptr(p),
                });
            }
            if kind == Envp {
                let n = items.len();
                format!(
                    "{} /* {n}{} var{} */",
                    ptr(v),
                    if more { "+" } else { "" },
                    if n == 1 && !more { "" } else { "s" }
                )
            } else {
                format!("[{}{}]", items.join(", "), if more { ", ..." } else { "" })
            }
        }
        InBuf(len_idx) => {
            let len = args[len_idx] as usize;
            let mut buf = vec![0u8; len.min(STRING_LIMIT + 1)];
            if mem.read_prefix(v, &mut buf) == buf.len() {
                quote(&buf, true)
            } else {
                ptr(v)
            }
        }
        OutBuf => {
            if ret < 0 {
                return ptr(v);
            }
            let mut buf = vec![0u8; (ret as usize).min(STRING_LIMIT + 1)];
            if mem.read_prefix(v, &mut buf) == buf.len() {
                quote(&buf, true)
            } else {
                ptr(v)
            }
        }
        DirFd => {
            if v as u32 as i32 == -100 {
                "AT_FDCWD".into()
            } else {
                int(v)
            }
        }
        OpenFlags => open_flags(v),
        Mode => format!("{:#o}", v & 0o7777),
        Prot => flags(v, &PROT, "PROT_NONE"),
        MapFlags => flags(v, &MAP, "0"),
        Signal => signal_name(v & 0xffff_ffff),
        WaitStatus => {
            let mut b = [0u8; 4];
            if v == 0 {
                "NULL".into()
            } else if ret <= 0 || mem.read_prefix(v, &mut b) != 4 {
                ptr(v)
            } else {
                wait_status(i32::from_le_bytes(b))
            }
        }
        WaitOptions => flags(v & 0xffff_ffff, &WAIT_OPTIONS, "0"),
        IdType => one_of(
            v & 0xffff_ffff,
            &[(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID"), (3, "P_PIDFD")],
        ),
        SigHow => one_of(
            v,
            &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")],
        ),
        Clock => one_of(
            v,
            &[
                (0, "CLOCK_REALTIME"),
                (1, "CLOCK_MONOTONIC"),
                (2, "CLOCK_PROCESS_CPUTIME_ID"),
                (3, "CLOCK_THREAD_CPUTIME_ID"),
                (4, "CLOCK_MONOTONIC_RAW"),
                (5, "CLOCK_REALTIME_COARSE"),
                (6, "CLOCK_MONOTONIC_COARSE"),
                (7, "CLOCK_BOOTTIME"),
            ],
        ),
        ArchPrctl => one_of(
            v,
            &[
                (0x1001, "ARCH_SET_GS"),
                (0x1002, "ARCH_SET_FS"),
                (0x1003, "ARCH_GET_FS"),
                (0x1004, "ARCH_GET_GS"),
                (0x1011, "ARCH_GET_CPUID"),
                (0x1012, "ARCH_SET_CPUID"),
            ],
        ),
        Ioctl => one_of(
            v & 0xffff_ffff,
            &[
                (0x5401, "TCGETS"),
                (0x5413, "TIOCGWINSZ"),
                (0x541b, "FIONREAD"),
            ],
        ),
        Fcntl => one_of(
            v & 0xffff_ffff,
            &[
                (0, "F_DUPFD"),
                (1, "F_GETFD"),
                (2, "F_SETFD"),
                (3, "F_GETFL"),
                (4, "F_SETFL"),
                (1030, "F_DUPFD_CLOEXEC"),
            ],
        ),
        GrndFlags => flags(
            v,
            &[
                (1, "GRND_NONBLOCK"),
                (2, "GRND_RANDOM"),
                (4, "GRND_INSECURE"),
            ],
            "0",
        ),
        AtFlags => flags(
            v,
            &[
                (0x100, "AT_SYMLINK_NOFOLLOW"),
                (0x200, "AT_EACCESS"),
                (0x800, "AT_NO_AUTOMOUNT"),
                (0x1000, "AT_EMPTY_PATH"),
            ],
            "0",
        ),
        Whence => one_of(v, &[(0, "SEEK_SET"), (1, "SEEK_CUR"), (2, "SEEK_END")]),
        Resource => one_of(
            v & 0xffff_ffff,
            &[
                (0, "RLIMIT_CPU"),
                (1, "RLIMIT_FSIZE"),
                (2, "RLIMIT_DATA"),
                (3, "RLIMIT_STACK"),
                (4, "RLIMIT_CORE"),
                (5, "RLIMIT_RSS"),
                (6, "RLIMIT_NPROC"),
                (7, "RLIMIT_NOFILE"),
                (8, "RLIMIT_MEMLOCK"),
                (9, "RLIMIT_AS"),
            ],
        ),
        Stat => {
            if ret < 0 {
                ptr(v)
            } else {
                or_ptr(stat(mem, v))
            }
        }
        Timespec => {
            if ret < 0 || v == 0 {
                ptr(v)
            } else {
                or_ptr(
                    read_u64s(mem, v, 2)
                        .map(|w| format!("{{tv_sec={}, tv_nsec={}}}", w[0] as i64, w[1] as i64)),
                )
            }
        }
        Rlimit => {
            if v == 0 {
                "NULL".into()
            } else {
                or_ptr(rlimit(mem, v))
            }
        }
        Iovec(cnt_idx) => or_ptr(iovec(mem, v, args[cnt_idx], false, ret)),
        SigSetIn | SigActIn | SigInfoIn | StackIn | TimespecIn | ItimervalIn | ItimerspecIn
        | SigSetOut | SigActOut | SigInfoOut | StackOut | ItimervalOut | ItimerspecOut => {
            let output = matches!(
                kind,
                SigSetOut | SigActOut | SigInfoOut | StackOut | ItimervalOut | ItimerspecOut
            );
            // strace prints what a call filled only when it succeeded
            // (rt_sigtimedwait fills its siginfo only when a signal came).
            if v == 0 {
                "NULL".into()
            } else if output && (ret < 0 || (kind == SigInfoOut && ret == 0)) {
                ptr(v)
            } else {
                or_ptr(structure(kind, mem, v))
            }
        }
        Itimer => one_of(
            v & 0xffff_ffff,
            &[
                (0, "ITIMER_REAL"),
                (1, "ITIMER_VIRTUAL"),
                (2, "ITIMER_PROF"),
            ],
        ),
        TimerFlags => flags(v & 0xffff_ffff, &[(1, "TIMER_ABSTIME")], "0"),
        TfdFlags => flags(
            v & 0xffff_ffff,
            &[(0o2000000, "TFD_CLOEXEC"), (0o4000, "TFD_NONBLOCK")],
            "0",
        ),
        TfdTimerFlags => flags(
            v & 0xffff_ffff,
            &[(1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET")],
            "0",
        ),
        SfdFlags => flags(
            v & 0xffff_ffff,
            &[(0o2000000, "SFD_CLOEXEC"), (0o4000, "SFD_NONBLOCK")],
            "0",
        ),
    }
}

/// sa_flags in strace's order.
const SA_FLAGS: [(u64, &str); 10] = [
    (0x0400_0000, "SA_RESTORER"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x4000_0000, "SA_NODEFER"),
    (0x8000_0000, "SA_RESETHAND"),
    (4, "SA_SIGINFO"),
    (1, "SA_NOCLDSTOP"),
    (2, "SA_NOCLDWAIT"),
    (0x400, "SA_UNSUPPORTED"),
    (0x800, "SA_EXPOSE_TAGBITS"),
];

/// `{tv_sec=1, tv_nsec=0}`, or tv_usec for a timeval.
fn time_pair(sec: u64, sub: u64, usec: bool) -> String {
    let unit = if usec { "tv_usec" } else { "tv_nsec" };
    format!("{{tv_sec={}, {unit}={}}}", sec as i64, sub as i64)
}

/// The struct at `addr` that `kind` names, as strace prints it.
fn structure(kind: Arg, mem: &UserMem, addr: u64) -> Option<String> {
    Some(match kind {
        SigSetIn | SigSetOut => sigset(read_u64s(mem, addr, 1)?[0]),
        SigActIn | SigActOut => {
            // struct kernel_sigaction: handler, flags, restorer, mask.
            let w = read_u64s(mem, addr, 4)?;
            let handler = match w[0] {
                0 => "SIG_DFL".to_string(),
                1 => "SIG_IGN".to_string(),
                h => format!("{h:#x}"),
            };
            let mut s = format!(
                "{{sa_handler={handler}, sa_mask={}, sa_flags={}",
                sigset(w[3]),
                flags(w[1], &SA_FLAGS, "0")
            );
            if w[1] & 0x0400_0000 != 0 {
                s.push_str(&format!(", sa_restorer={}", ptr(w[2])));
            }
            s.push('}');
            s
        }
        SigInfoIn | SigInfoOut => {
            let raw: [u8; 128] = mem.read_vec(addr, 128).ok()?.try_into().ok()?;
            let sig = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            siginfo(&crate::kernel::signal::SigInfo::from_user(sig, raw))
        }
        StackIn | StackOut => {
            // stack_t: ss_sp, ss_flags (int, padded), ss_size.
            let w = read_u64s(mem, addr, 3)?;
            let fl = w[1] & 0xffff_ffff;
            let fl = match fl {
                0 => "0".to_string(),
                1 => "SS_ONSTACK".to_string(),
                2 => "SS_DISABLE".to_string(),
                0x8000_0000 => "SS_AUTODISARM".to_string(),
                f => format!("{f:#x} /* SS_??? */"),
            };
            format!("{{ss_sp={}, ss_flags={fl}, ss_size={}}}", ptr(w[0]), w[2])
        }
        TimespecIn => {
            let w = read_u64s(mem, addr, 2)?;
            time_pair(w[0], w[1], false)
        }
        ItimervalIn | ItimervalOut | ItimerspecIn | ItimerspecOut => {
            let usec = matches!(kind, ItimervalIn | ItimervalOut);
            let w = read_u64s(mem, addr, 4)?;
            format!(
                "{{it_interval={}, it_value={}}}",
                time_pair(w[0], w[1], usec),
                time_pair(w[2], w[3], usec)
            )
        }
        _ => return None,
    })
}

/// The result column: `= N`, `= 0x...` for addresses, or
/// `= -1 ENOENT (No such file or directory)`.
pub fn result(name: &str, ret: i64) -> String {
    // The kernel's internal restart codes, as strace names them.
    match -ret {
        512 => return "? ERESTARTSYS (To be restarted if SA_RESTART is set)".into(),
        513 => return "? ERESTARTNOINTR (To be restarted)".into(),
        514 => return "? ERESTARTNOHAND (To be restarted if no handler)".into(),
        516 => return "? ERESTART_RESTARTBLOCK (Interrupted by signal)".into(),
        _ => {}
    }
    if (-4095..0).contains(&ret) {
        let code = -ret as i32;
        let e = syscalls::Errno::new(code);
        // strace prints the C library's strerror text.
        let text = std::io::Error::from_raw_os_error(code).to_string();
        let text = text.split(" (os error").next().unwrap_or("Unknown error");
        return format!("-1 {} ({text})", e.name().unwrap_or("E?"));
    }
    match name {
        "mmap" | "mremap" | "brk" => format!("{:#x}", ret as u64),
        "rt_sigtimedwait" if ret > 0 => format!("{ret} ({})", signal_name(ret as u64)),
        _ => ret.to_string(),
    }
}

/// A signal set as strace prints it: `[HUP USR2 RT_3]`, `[]`, or
/// `~[...]` for a set with more than half of the signals in it.
pub fn sigset(set: u64) -> String {
    let names = |set: u64| -> Vec<&'static str> {
        (1..=64)
            .filter(|s| set & (1u64 << (s - 1)) != 0)
            .map(|s| crate::report::signal_name(s).trim_start_matches("SIG"))
            .collect()
    };
    if set.count_ones() > 32 {
        format!("~[{}]", names(!set).join(" "))
    } else {
        format!("[{}]", names(set).join(" "))
    }
}

/// strace's rendering of a siginfo: `{si_signo=SIGSEGV, si_code=SEGV_MAPERR,
/// si_addr=0x10}`.
pub fn siginfo(info: &crate::kernel::signal::SigInfo) -> String {
    let b = info.bytes();
    let w32 = |o: usize| i32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let w64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or_default());
    let sig = info.signo();
    let name = crate::report::signal_name(sig);
    let code = info.code();
    let ptr = |v: u64| {
        if v == 0 {
            "NULL".to_string()
        } else {
            format!("{v:#x}")
        }
    };
    let fault_code = match (sig, code) {
        (11, 1) => Some("SEGV_MAPERR"),
        (11, 2) => Some("SEGV_ACCERR"),
        (8, 1) => Some("FPE_INTDIV"),
        (8, 2) => Some("FPE_INTOVF"),
        (8, 3) => Some("FPE_FLTDIV"),
        (8, 4) => Some("FPE_FLTOVF"),
        (8, 5) => Some("FPE_FLTUND"),
        (8, 6) => Some("FPE_FLTRES"),
        (8, 7) => Some("FPE_FLTINV"),
        (4, 1) => Some("ILL_ILLOPC"),
        (4, 2) => Some("ILL_ILLOPN"),
        (7, 1) => Some("BUS_ADRALN"),
        (7, 2) => Some("BUS_ADRERR"),
        (5, 1) => Some("TRAP_BRKPT"),
        (5, 2) => Some("TRAP_TRACE"),
        _ => None,
    };
    let head = format!("{{si_signo={name}, si_code=");
    if sig == libc::SIGCHLD && (1..=6).contains(&code) {
        let c = [
            "CLD_EXITED",
            "CLD_KILLED",
            "CLD_DUMPED",
            "CLD_TRAPPED",
            "CLD_STOPPED",
            "CLD_CONTINUED",
        ][(code - 1) as usize];
        let status = if code == 1 {
            w32(24).to_string()
        } else {
            crate::report::signal_name(w32(24)).to_string()
        };
        return format!(
            "{head}{c}, si_pid={}, si_uid={}, si_status={status}, si_utime={}, si_stime={}}}",
            w32(16),
            w32(20),
            w64(32),
            w64(40)
        );
    }
    if let Some(c) = fault_code {
        return format!("{head}{c}, si_addr={}}}", ptr(w64(16)));
    }
    match code {
        0 => format!("{head}SI_USER, si_pid={}, si_uid={}}}", w32(16), w32(20)),
        0x80 => format!("{head}SI_KERNEL}}"),
        -1 => format!(
            "{head}SI_QUEUE, si_pid={}, si_uid={}, si_int={}, si_ptr={}}}",
            w32(16),
            w32(20),
            w32(24),
            ptr(w64(24))
        ),
        -2 => format!(
            "{head}SI_TIMER, si_timerid={:#x}, si_overrun={}, si_int={}, si_ptr={}}}",
            w32(16),
            w32(20),
            w32(24),
            ptr(w64(24))
        ),
        -6 => format!("{head}SI_TKILL, si_pid={}, si_uid={}}}", w32(16), w32(20)),
        c => format!("{head}{c}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_cut_like_strace() {
        assert_eq!(quote(b"hello\n", true), "\"hello\\n\"");
        assert_eq!(quote(b"a\"b\\c\t\x1b", true), "\"a\\\"b\\\\c\\t\\x1b\"");
        let long = [b'x'; 40];
        assert_eq!(quote(&long, true), format!("\"{}\"...", "x".repeat(32)));
    }

    #[test]
    fn flags_render_symbolically() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(flags(3, &PROT, "PROT_NONE"), "PROT_READ|PROT_WRITE");
        assert_eq!(flags(0, &PROT, "PROT_NONE"), "PROT_NONE");
        assert_eq!(flags(0x22, &MAP, "0"), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(
            flags(0x22 | 0x40_0000_0000, &MAP, "0"),
            "MAP_PRIVATE|MAP_ANONYMOUS|0x4000000000"
        );
    }

    #[test]
    fn results_render_errors_with_names() {
        assert_eq!(result("open", -2), "-1 ENOENT (No such file or directory)");
        assert_eq!(result("write", 10), "10");
        assert_eq!(result("mmap", 0x7fff_0000_0000), "0x7fff00000000");
        assert_eq!(
            result("ioctl", -25),
            "-1 ENOTTY (Inappropriate ioctl for device)"
        );
        assert_eq!(result("rseq", -38), "-1 ENOSYS (Function not implemented)");
    }

    #[test]
    fn signal_sets_and_siginfo_print_like_strace() {
        assert_eq!(sigset(0), "[]");
        assert_eq!(sigset((1 << 0) | (1 << 11) | (1 << 34)), "[HUP USR2 RT_3]");
        assert_eq!(sigset(!(1u64 << 8)), "~[KILL]");
        let f = crate::kernel::signal::SigInfo::fault(11, 1, 0x10);
        assert_eq!(
            siginfo(&f),
            "{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10}"
        );
        let k = crate::kernel::signal::SigInfo::from_process(10, -6, 1, 1000);
        assert_eq!(
            siginfo(&k),
            "{si_signo=SIGUSR1, si_code=SI_TKILL, si_pid=1, si_uid=1000}"
        );
    }
}
