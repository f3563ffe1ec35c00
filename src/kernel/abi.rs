//! Linux's x86-64 user ABI structures, laid out as the kernel's own
//! (include/uapi): `#[repr(C)]`, every padding byte an explicit field, read
//! from and written to the program's memory whole with
//! `UserMem::read_obj`/`write_obj` instead of packed by hand at each call.
//! A compile-time assert pins each to Linux's `sizeof`.

use std::time::Duration;

use rustix::io::Errno;
use vm_memory::ByteValued;

/// Declare ABI structs: `#[repr(C)]`, `Default` (all zero) and
/// `ByteValued`.
macro_rules! abi_structs {
    ($($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* })*) => {$(
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }
        // No implicit padding: the fields' sizes add up to the struct's.
        const _: () = assert!(
            0 $(+ std::mem::size_of::<$t>())* == std::mem::size_of::<$name>()
        );
        // SAFETY: a #[repr(C)] struct of integers and arrays of integers
        // (or of other such structs) with no implicit padding (every gap
        // is a named field; the assert above proves it): every byte
        // pattern is a valid value and every byte is initialised.
        unsafe impl ByteValued for $name {}
    )*};
}

abi_structs! {
    /// `struct timespec` (`__kernel_timespec`).
    pub struct Timespec {
        pub tv_sec: i64,
        pub tv_nsec: i64,
    }

    /// `struct timeval` (`__kernel_old_timeval`).
    pub struct Timeval {
        pub tv_sec: i64,
        pub tv_usec: i64,
    }

    /// `struct itimerspec`.
    pub struct Itimerspec {
        pub it_interval: Timespec,
        pub it_value: Timespec,
    }

    /// `struct itimerval`.
    pub struct Itimerval {
        pub it_interval: Timeval,
        pub it_value: Timeval,
    }

    /// `struct rlimit64` (and `struct rlimit` on x86-64).
    pub struct Rlimit {
        pub rlim_cur: u64,
        pub rlim_max: u64,
    }

    /// `struct rusage`.
    pub struct Rusage {
        pub ru_utime: Timeval,
        pub ru_stime: Timeval,
        /// KiB.
        pub ru_maxrss: i64,
        pub ru_ixrss: i64,
        pub ru_idrss: i64,
        pub ru_isrss: i64,
        pub ru_minflt: i64,
        pub ru_majflt: i64,
        pub ru_nswap: i64,
        pub ru_inblock: i64,
        pub ru_oublock: i64,
        pub ru_msgsnd: i64,
        pub ru_msgrcv: i64,
        pub ru_nsignals: i64,
        pub ru_nvcsw: i64,
        pub ru_nivcsw: i64,
    }

    /// `struct tms`, in clock ticks.
    pub struct Tms {
        pub tms_utime: i64,
        pub tms_stime: i64,
        pub tms_cutime: i64,
        pub tms_cstime: i64,
    }

    /// `struct sysinfo`.
    pub struct Sysinfo {
        pub uptime: i64,
        pub loads: [u64; 3],
        pub totalram: u64,
        pub freeram: u64,
        pub sharedram: u64,
        pub bufferram: u64,
        pub totalswap: u64,
        pub freeswap: u64,
        pub procs: u16,
        pub pad: u16,
        /// C's implicit padding before `totalhigh`.
        pub pad2: u32,
        pub totalhigh: u64,
        pub freehigh: u64,
        pub mem_unit: u32,
        /// `_f` is empty on 64-bit; this is C's tail padding.
        pub pad3: u32,
    }

    /// `stack_t` (sigaltstack).
    pub struct StackT {
        pub ss_sp: u64,
        pub ss_flags: i32,
        /// C's implicit padding before `ss_size`.
        pub pad: u32,
        pub ss_size: u64,
    }

    /// The kernel's `struct sigaction` (rt_sigaction; not libc's).
    pub struct KSigaction {
        pub handler: u64,
        pub flags: u64,
        pub restorer: u64,
        pub mask: u64,
    }

    /// `struct sigevent` (timer_create): the value, the signal, how to
    /// notify, and for SIGEV_THREAD_ID the thread; the rest of its 64
    /// bytes is a union kvmcage does not read.
    pub struct Sigevent {
        pub sigev_value: u64,
        pub sigev_signo: i32,
        pub sigev_notify: i32,
        pub sigev_notify_thread_id: i32,
        pub pad: [u32; 11],
    }

    /// `struct flock` (fcntl's record locks; `flock64` is the same).
    pub struct Flock {
        pub l_type: i16,
        pub l_whence: i16,
        /// C's implicit padding before `l_start`.
        pub pad: u32,
        pub l_start: i64,
        pub l_len: i64,
        pub l_pid: i32,
        /// C's tail padding.
        pub pad2: u32,
    }

    /// The kernel's x86-64 `struct stat`.
    pub struct Stat {
        pub st_dev: u64,
        pub st_ino: u64,
        pub st_nlink: u64,
        pub st_mode: u32,
        pub st_uid: u32,
        pub st_gid: u32,
        pub pad0: u32,
        pub st_rdev: u64,
        pub st_size: i64,
        pub st_blksize: i64,
        pub st_blocks: i64,
        pub st_atime: i64,
        pub st_atime_nsec: i64,
        pub st_mtime: i64,
        pub st_mtime_nsec: i64,
        pub st_ctime: i64,
        pub st_ctime_nsec: i64,
        pub unused: [i64; 3],
    }

    /// `struct statx_timestamp`.
    pub struct StatxTimestamp {
        pub tv_sec: i64,
        pub tv_nsec: u32,
        pub reserved: i32,
    }

    /// `struct statx`: the fields up to the device numbers, then the rest
    /// of its 256 bytes (mount id, direct-I/O alignment, ...), which
    /// kvmcage leaves zero and does not claim in `stx_mask`.
    pub struct Statx {
        pub stx_mask: u32,
        pub stx_blksize: u32,
        pub stx_attributes: u64,
        pub stx_nlink: u32,
        pub stx_uid: u32,
        pub stx_gid: u32,
        pub stx_mode: u16,
        pub spare0: u16,
        pub stx_ino: u64,
        pub stx_size: u64,
        pub stx_blocks: u64,
        pub stx_attributes_mask: u64,
        pub stx_atime: StatxTimestamp,
        pub stx_btime: StatxTimestamp,
        pub stx_ctime: StatxTimestamp,
        pub stx_mtime: StatxTimestamp,
        pub stx_rdev_major: u32,
        pub stx_rdev_minor: u32,
        pub stx_dev_major: u32,
        pub stx_dev_minor: u32,
        pub rest: [u64; 14],
    }

    /// The kernel's x86-64 `struct statfs`.
    pub struct Statfs {
        pub f_type: i64,
        pub f_bsize: i64,
        pub f_blocks: u64,
        pub f_bfree: u64,
        pub f_bavail: u64,
        pub f_files: u64,
        pub f_ffree: u64,
        pub f_fsid: [i32; 2],
        pub f_namelen: i64,
        pub f_frsize: i64,
        pub f_flags: i64,
        pub f_spare: [i64; 4],
    }

    /// `struct iovec`.
    pub struct Iovec {
        pub iov_base: u64,
        pub iov_len: u64,
    }

    /// `struct pollfd`.
    pub struct Pollfd {
        pub fd: i32,
        pub events: i16,
        pub revents: i16,
    }

    /// `struct ipc64_perm`.
    pub struct Ipc64Perm {
        pub key: i32,
        pub uid: u32,
        pub gid: u32,
        pub cuid: u32,
        pub cgid: u32,
        pub mode: u32,
        pub seq: u16,
        pub pad2: u16,
        /// C's implicit padding before `unused1`.
        pub pad3: u32,
        pub unused1: u64,
        pub unused2: u64,
    }

    /// `struct shmid64_ds`.
    pub struct Shmid64Ds {
        pub shm_perm: Ipc64Perm,
        pub shm_segsz: u64,
        pub shm_atime: i64,
        pub shm_dtime: i64,
        pub shm_ctime: i64,
        pub shm_cpid: i32,
        pub shm_lpid: i32,
        pub shm_nattch: u64,
        pub unused4: u64,
        pub unused5: u64,
    }

    /// x86-64's `struct semid64_ds`.
    pub struct Semid64Ds {
        pub sem_perm: Ipc64Perm,
        pub sem_otime: i64,
        pub unused1: u64,
        pub sem_ctime: i64,
        pub unused2: u64,
        pub sem_nsems: u64,
        pub unused3: u64,
        pub unused4: u64,
    }

    /// `struct msqid64_ds`.
    pub struct Msqid64Ds {
        pub msg_perm: Ipc64Perm,
        pub msg_stime: i64,
        pub msg_rtime: i64,
        pub msg_ctime: i64,
        pub msg_cbytes: u64,
        pub msg_qnum: u64,
        pub msg_qbytes: u64,
        pub msg_lspid: i32,
        pub msg_lrpid: i32,
        pub unused4: u64,
        pub unused5: u64,
    }

    /// `struct sembuf`.
    pub struct Sembuf {
        pub sem_num: u16,
        pub sem_op: i16,
        pub sem_flg: i16,
    }

    /// `struct msghdr` (user_msghdr).
    pub struct MsgHdr {
        pub msg_name: u64,
        pub msg_namelen: u32,
        /// C's implicit padding before `msg_iov`.
        pub pad: u32,
        pub msg_iov: u64,
        pub msg_iovlen: u64,
        pub msg_control: u64,
        pub msg_controllen: u64,
        pub msg_flags: u32,
        /// C's tail padding.
        pub pad2: u32,
    }

    /// `struct clone_args` as of Linux 5.7 (through `cgroup`); an older
    /// program's shorter struct reads as this one zero-extended.
    pub struct CloneArgs {
        pub flags: u64,
        pub pidfd: u64,
        pub child_tid: u64,
        pub parent_tid: u64,
        pub exit_signal: u64,
        pub stack: u64,
        pub stack_size: u64,
        pub tls: u64,
        pub set_tid: u64,
        pub set_tid_size: u64,
        pub cgroup: u64,
    }

    /// x86-64's `struct sigcontext`: the general registers, then RFLAGS,
    /// the segment selectors, the trap's facts, the old mask and where
    /// the FP state is.
    pub struct SigContext {
        pub r8: u64,
        pub r9: u64,
        pub r10: u64,
        pub r11: u64,
        pub r12: u64,
        pub r13: u64,
        pub r14: u64,
        pub r15: u64,
        pub rdi: u64,
        pub rsi: u64,
        pub rbp: u64,
        pub rbx: u64,
        pub rdx: u64,
        pub rax: u64,
        pub rcx: u64,
        pub rsp: u64,
        pub rip: u64,
        pub eflags: u64,
        pub cs: u16,
        pub gs: u16,
        pub fs: u16,
        pub ss: u16,
        pub err: u64,
        pub trapno: u64,
        pub oldmask: u64,
        pub cr2: u64,
        pub fpstate: u64,
        pub reserved1: [u64; 8],
    }

    /// The kernel's `struct ucontext` (uc_sigmask is its 8-byte sigset).
    pub struct UContext {
        pub uc_flags: u64,
        pub uc_link: u64,
        pub uc_stack: StackT,
        pub uc_mcontext: SigContext,
        pub uc_sigmask: u64,
    }

    /// x86-64's `struct rt_sigframe`: the return address (sa_restorer),
    /// the ucontext, the siginfo's 128 bytes.
    pub struct RtSigframe {
        pub pretcode: u64,
        pub uc: UContext,
        pub info: [u64; 16],
    }

    /// `struct futex_waitv`.
    pub struct FutexWaitv {
        pub val: u64,
        pub uaddr: u64,
        pub flags: u32,
        pub reserved: u32,
    }
}

/// `struct epoll_event`: packed on x86-64 (12 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy, Default)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

// SAFETY: packed, so it has no padding at all; both fields are integers,
// valid for every byte pattern.
unsafe impl ByteValued for EpollEvent {}

/// An array of ABI structs as the bytes it is in the program's memory
/// (iovec[], pollfd[]), for one copy of the whole array.
pub trait AsBytes {
    fn as_bytes(&self) -> &[u8];
    fn as_bytes_mut(&mut self) -> &mut [u8];
}

impl<T: ByteValued> AsBytes for [T] {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `T: ByteValued` has no padding and every byte of it is
        // initialised; the slice's memory is exactly size_of_val bytes.
        unsafe { std::slice::from_raw_parts(self.as_ptr().cast(), std::mem::size_of_val(self)) }
    }

    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_bytes`; and every byte pattern is a valid `T`
        // (ByteValued), so writes through the bytes keep each `T` valid.
        unsafe {
            std::slice::from_raw_parts_mut(self.as_mut_ptr().cast(), std::mem::size_of_val(self))
        }
    }
}

impl Timespec {
    pub fn from_duration(d: Duration) -> Self {
        Self {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        }
    }

    /// The duration, EINVAL unless 0 <= tv_nsec < 1e9 and tv_sec >= 0.
    pub fn to_duration(self) -> Result<Duration, Errno> {
        duration(self.tv_sec, self.tv_nsec, 1)
    }
}

impl From<rustix::time::Timespec> for Timespec {
    fn from(t: rustix::time::Timespec) -> Self {
        Self {
            tv_sec: t.tv_sec,
            tv_nsec: t.tv_nsec,
        }
    }
}

impl Timeval {
    /// Truncated to whole microseconds (what getrusage and
    /// gettimeofday report).
    pub fn from_duration(d: Duration) -> Self {
        Self {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_usec: i64::from(d.subsec_micros()),
        }
    }

    /// Rounded up to whole microseconds, as Linux reports a time left
    /// (getitimer, setitimer's old value).
    pub fn from_duration_ceil(d: Duration) -> Self {
        let usec = d.subsec_nanos().div_ceil(1000);
        if usec == 1_000_000 {
            Self {
                tv_sec: d.as_secs() as i64 + 1,
                tv_usec: 0,
            }
        } else {
            Self {
                tv_sec: d.as_secs() as i64,
                tv_usec: i64::from(usec),
            }
        }
    }

    /// The duration, EINVAL unless 0 <= tv_usec < 1e6 and tv_sec >= 0.
    pub fn to_duration(self) -> Result<Duration, Errno> {
        duration(self.tv_sec, self.tv_usec, 1000)
    }
}

/// `sec` seconds and `sub` units of `unit_ns` nanoseconds, EINVAL when
/// either is out of range.
fn duration(sec: i64, sub: i64, unit_ns: i64) -> Result<Duration, Errno> {
    if sec < 0 || !(0..1_000_000_000 / unit_ns).contains(&sub) {
        return Err(Errno::INVAL);
    }
    Ok(Duration::new(sec as u64, (sub * unit_ns) as u32))
}

// Each struct is Linux's size (libc's where it has the type): checked at
// compile time, so a wrong field breaks the build.
const _: () = {
    use std::mem::size_of;
    assert!(size_of::<Timespec>() == size_of::<libc::timespec>());
    assert!(size_of::<Timeval>() == size_of::<libc::timeval>());
    assert!(size_of::<Itimerspec>() == size_of::<libc::itimerspec>());
    assert!(size_of::<Itimerval>() == size_of::<libc::itimerval>());
    assert!(size_of::<Rlimit>() == size_of::<libc::rlimit64>());
    assert!(size_of::<Rusage>() == size_of::<libc::rusage>());
    assert!(size_of::<Tms>() == size_of::<libc::tms>());
    assert!(size_of::<Sysinfo>() == size_of::<libc::sysinfo>());
    assert!(size_of::<StackT>() == size_of::<libc::stack_t>());
    assert!(size_of::<KSigaction>() == 32);
    assert!(size_of::<Sigevent>() == size_of::<libc::sigevent>());
    assert!(size_of::<FutexWaitv>() == 24);
    assert!(size_of::<Flock>() == size_of::<libc::flock>());
    assert!(size_of::<Stat>() == size_of::<libc::stat>());
    assert!(size_of::<Statx>() == size_of::<libc::statx>());
    assert!(size_of::<Statfs>() == size_of::<libc::statfs>());
    assert!(size_of::<Iovec>() == size_of::<libc::iovec>());
    assert!(size_of::<Pollfd>() == size_of::<libc::pollfd>());
    assert!(size_of::<Ipc64Perm>() == size_of::<libc::ipc_perm>());
    assert!(size_of::<Shmid64Ds>() == size_of::<libc::shmid_ds>());
    assert!(size_of::<Semid64Ds>() == 104);
    assert!(size_of::<Msqid64Ds>() == size_of::<libc::msqid_ds>());
    assert!(size_of::<Sembuf>() == size_of::<libc::sembuf>());
    assert!(size_of::<MsgHdr>() == size_of::<libc::msghdr>());
    assert!(size_of::<CloneArgs>() == 88);
    assert!(size_of::<SigContext>() == 256);
    assert!(size_of::<UContext>() == 304);
    assert!(size_of::<RtSigframe>() == 440);
    assert!(size_of::<EpollEvent>() == size_of::<libc::epoll_event>());
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_convert_as_linux_does() {
        let d = Duration::new(3, 999_999_001);
        assert_eq!(Timeval::from_duration(d).tv_usec, 999_999);
        let up = Timeval::from_duration_ceil(d);
        assert_eq!((up.tv_sec, up.tv_usec), (4, 0));
        let bad = Timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000_000,
        };
        assert_eq!(bad.to_duration(), Err(Errno::INVAL));
        let neg = Timeval {
            tv_sec: -1,
            tv_usec: 0,
        };
        assert_eq!(neg.to_duration(), Err(Errno::INVAL));
        let ok = Timeval {
            tv_sec: 2,
            tv_usec: 5,
        };
        assert_eq!(ok.to_duration(), Ok(Duration::new(2, 5000)));
    }
}
