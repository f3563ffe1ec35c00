//! The dispatcher, uaccess and the loader driven by arbitrary bytes, without
//! /dev/kvm.
//!
//! [`run_ops`] takes an input that is a configuration byte and then a
//! sequence of operations: "write these bytes at this user address" and
//! "call syscall N (x86-64 or i386) with these six arguments", N picked
//! among the implemented calls or, for a "wild" call, any value. Addresses and
//! arguments come from a selector byte: most pick from a table of page
//! edges, unmapped holes, the kernel half, non-canonical values and ~0; some
//! pick a descriptor of the fd zoo; some pick a fixture address (extreme
//! timespecs, a pollfd array, an fd_set, an iovec array, paths); 0xff reads
//! a raw value.
//!
//! Before the operations the harness sets up, through real syscalls, the
//! descriptors a program would have: 0-2 are /dev/null (never kvmcage's own
//! stdio), then the fd zoo:
//!
//! | fd | what |
//! |----|------|
//! | 3, 4 | a pipe (read, write end; 16 bytes queued) |
//! | 5, 6 | /dev/null, /dev/zero |
//! | 7 | /proc/self/maps |
//! | 8 | `/` (a directory kvmcage makes up) |
//! | 9 | `/mnt` (a host directory, writable mount) |
//! | 10 | `/mnt/seed`, a file in the writable mount |
//! | 11 | `/tmp/f` in a `--tmpfs` (1 input in 4), else `/mnt/sub/inner` |
//! | 12 | `/ro/seed`, a file in a read-only mount |
//!
//! The writable and the read-only mount are directories made once per fuzz
//! process under the temp directory and reset before every input. After an
//! input the harness checks that the read-only mount and a directory next
//! to the mounts (which symlinks in the mount point at) are unchanged: a
//! write there is a sandbox escape.
//!
//! [`load_elf`] loads arbitrary bytes as the program, as a real run does.
//!
//! Used by the cargo-fuzz targets (fuzz/) and by seeded runs in the test
//! suite. Any panic is a bug; after every call the address space must still
//! be consistent.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};

use kvm_bindings::kvm_regs;

use crate::kernel::mm::VmaKind;
use crate::kernel::{dispatch, Args, Call, Ctx, Identity, Process};
use crate::loader::{self, LoadedElf, StackInfo};
use crate::sandbox::{MountSpec, Policy, TmpfsSpec};
use crate::vm::layout::{page_down, MIN_MEM_SIZE, PAGE_SIZE, USER_TOP, VDSO_BASE};
use crate::vm::{EntryPath, Machine};

/// Where the fuzzed process has memory: RW pages, a read-only page, a hole,
/// and a RW page of fixtures.
const RW: u64 = 0x10_0000;
const RO: u64 = 0x20_0000;
const HOLE: u64 = 0x20_1000;
const FIX: u64 = 0x20_2000;

/// Timespecs (or timevals) no sleep, poll or select should choke on.
const TIMES: u64 = FIX;
const TIMESPECS: [(i64, i64); 6] = [
    (i64::MAX, 0),
    (i64::MAX, 999_999_999),
    (-1, 0),
    (0, -1),
    (0, 1_000_000_000),
    (i64::MIN, 0),
];
/// struct pollfd[13] over fds 0..=12, POLLIN | POLLOUT | POLLPRI.
const POLLFDS: u64 = FIX + 0x100;
const ZOO_FDS: u64 = 13;
/// An fd_set (1024 bits) with fds 0..=12 set.
const FDSET: u64 = FIX + 0x180;
/// struct iovec[3]: 16 bytes of RW, 16 bytes of the hole, RW with a length
/// of 2^63 - 1.
const IOVEC: u64 = FIX + 0x200;
/// int[2] for the zoo's pipe2.
const PIPE_FDS: u64 = FIX + 0x240;
/// NUL-terminated paths, 64 bytes apart.
const PATHS_AT: u64 = FIX + 0x400;
const PATHS: [&[u8]; 12] = [
    b"/dev/null",
    b"/dev/zero",
    b"/proc/self/maps",
    b"/",
    b"/mnt",
    b"/mnt/seed",
    b"/tmp/f",
    b"/ro/seed",
    b"/mnt/abs", // absolute symlink to the host's canary
    b"new",      // relative: under the cwd or a dirfd
    b"",         // for AT_EMPTY_PATH
    b"/mnt/sub/inner",
];
const fn path(i: usize) -> u64 {
    PATHS_AT + 64 * i as u64
}

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

/// The fd zoo, the first free descriptor, and AT_FDCWD.
const FDS: [u64; 12] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, libc::AT_FDCWD as u64];

/// Guest addresses the harness filled before the ops.
const FIXTURES: [u64; 22] = [
    TIMES,
    TIMES + 16,
    TIMES + 32,
    TIMES + 48,
    TIMES + 64,
    TIMES + 80,
    TIMES + 8, // a timespec straddling two of them
    POLLFDS,
    FDSET,
    IOVEC,
    path(0),
    path(1),
    path(2),
    path(3),
    path(4),
    path(5),
    path(6),
    path(7),
    path(8),
    path(9),
    path(10),
    path(11),
];

/// Calls the harness does not make: they would block the fuzzing process on
/// the host (sleeps are cut short anyway, see `Harness::new`).
fn skipped(call: &Call) -> bool {
    !call.i386 && matches!(call.nr, 34 /* pause */)
}

/// Keep host pipes non-blocking: a read of an empty pipe that still has a
/// writer, or a write to a full one, would block the fuzzer for good.
/// Also keep fallocate(FALLOC_FL_KEEP_SIZE) small: RLIMIT_FSIZE does not
/// bound it, and on the writable mount it would allocate real disk blocks.
fn tame(call: &mut Call) {
    let a = &mut call.args.0;
    if call.i386 {
        return;
    }
    if call.nr == 72 && a[1] as u32 as i32 == libc::F_SETFL {
        a[2] |= libc::O_NONBLOCK as u64;
    }
    if call.nr == 285 && a[1] & 1 != 0 && (a[3] as i64) > 0 {
        a[3] = a[3].min(1 << 20);
    }
}

/// The syscall numbers the dispatcher implements (x86-64, i386): those that
/// do not answer ENOSYS to six zero arguments, probed once on a throwaway
/// process. A call's 9-bit number in an input indexes these lists.
fn implemented() -> &'static (Vec<u64>, Vec<u64>) {
    static TABLE: OnceLock<(Vec<u64>, Vec<u64>)> = OnceLock::new();
    TABLE.get_or_init(|| (probe(false), probe(true)))
}

fn probe(i386: bool) -> Vec<u64> {
    let all = || (0..512).collect();
    let Ok((m, mut vcpu)) = Machine::detached(MIN_MEM_SIZE) else {
        return all();
    };
    let m = parking_lot::Mutex::new(m);
    let proc = parking_lot::Mutex::new(Process::new(identity(MIN_MEM_SIZE)));
    let mut proc = proc.lock();
    let mut m = m.lock();
    proc.expiry.expire();
    let mut regs = kvm_regs::default();
    let mut call = |nr: u64, arg0: u64, i386: bool| {
        let mut cx = Ctx {
            m: &mut m,
            vcpu: Some(&mut vcpu),
            proc: &mut proc,
            regs: &mut regs,
            path: EntryPath::Lstar,
        };
        let args = Args([arg0, 0, 0, 0, 0, 0]);
        dispatch(&mut cx, &Call { nr, args, i386 })
    };
    for fd in 0..3 {
        call(3, fd, false); // close: never touch kvmcage's stdio
    }
    let nosys = -i64::from(libc::ENOSYS);
    let found: Vec<u64> = (0..512)
        .filter(|&nr| {
            !skipped(&Call {
                nr,
                args: Args::default(),
                i386,
            })
        })
        .filter(|&nr| call(nr, 0, i386) != nosys)
        .collect();
    if found.is_empty() {
        all()
    } else {
        found
    }
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
        let sel = usize::from(self.byte()?);
        match sel {
            0xff => self.u64(),
            0..=0x9f => Some(VALUES[sel % VALUES.len()]),
            0xa0..=0xcf => Some(FDS[sel % FDS.len()]),
            _ => Some(FIXTURES[sel % FIXTURES.len()]),
        }
    }
}

/// The per-process host directories behind the mounts: `base/mnt` (writable
/// at /mnt), `base/ro` (read-only at /ro), `base/outside` (no mount; the
/// canary that symlinks in /mnt point at).
struct Dirs {
    base: PathBuf,
}

const SEED: &[u8] = b"seed file of the kvmcage fuzz harness\n";
const CANARY: &[u8] = b"nothing in the sandbox may change this\n";

impl Dirs {
    fn mnt(&self) -> PathBuf {
        self.base.join("mnt")
    }
    fn ro(&self) -> PathBuf {
        self.base.join("ro")
    }
    fn outside(&self) -> PathBuf {
        self.base.join("outside")
    }

    fn create() -> Option<Self> {
        let tmp = std::env::temp_dir();
        // Those of fuzz processes that died without exit() (a crash under
        // libFuzzer is an abort), and our own pid's from an earlier life.
        let me = std::process::id().to_string();
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name();
            let pid = (name.to_str())
                .and_then(|n| n.strip_prefix("kvmcage-fuzz-"))
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if pid.is_some_and(|p| p == me || !Path::new("/proc").join(p).exists()) {
                clear_dir(&e.path());
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let base = tmp.join(format!("kvmcage-fuzz-{}", std::process::id()));
        let d = Dirs { base };
        std::fs::create_dir_all(&d.base).ok()?;
        static AT_EXIT: std::sync::Once = std::sync::Once::new();
        AT_EXIT.call_once(|| {
            // SAFETY: `remove_dirs` is an `extern "C" fn()` that lives as
            // long as the program; atexit only records the pointer.
            unsafe { libc::atexit(remove_dirs) };
        });
        d.restore_read_only().ok()?;
        Some(d)
    }

    /// Put the read-only mount and the canary back as they were made.
    fn restore_read_only(&self) -> std::io::Result<()> {
        for (dir, name, bytes) in [
            (self.ro(), "seed", SEED),
            (self.outside(), "canary", CANARY),
        ] {
            clear_dir(&dir);
            std::fs::create_dir_all(&dir)?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
            std::fs::write(dir.join(name), bytes)?;
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(())
    }

    /// Put the writable mount back as `rebuild_mnt` makes it: in place when
    /// only contents or modes changed (most inputs change nothing, many
    /// write to the seed; making files anew costs more than the input).
    fn reset_mnt(&self) -> std::io::Result<()> {
        let mnt = self.mnt();
        let kind = |p: &Path| std::fs::symlink_metadata(p).map(|m| m.file_type()).ok();
        let link =
            |name: &str, to: &Path| std::fs::read_link(mnt.join(name)).ok().as_deref() == Some(to);
        let same_tree = names(&mnt) == ["abs", "seed", "sub", "up"]
            && names(&mnt.join("sub")) == ["inner"]
            && kind(&mnt.join("sub")).is_some_and(|t| t.is_dir())
            && kind(&mnt.join("seed")).is_some_and(|t| t.is_file())
            && kind(&mnt.join("sub/inner")).is_some_and(|t| t.is_file())
            && link("abs", &self.outside().join("canary"))
            && link("up", Path::new("../outside/canary"));
        if !same_tree {
            return self.rebuild_mnt();
        }
        for (p, mode, contents) in [
            ("", 0o755, None),
            ("sub", 0o755, None),
            ("seed", 0o644, Some(SEED)),
            ("sub/inner", 0o644, Some(SEED)),
        ] {
            let p = mnt.join(p);
            let m = std::fs::symlink_metadata(&p)?;
            if m.permissions().mode() & 0o7777 != mode {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
            }
            if let Some(c) = contents {
                if m.len() != c.len() as u64 || std::fs::read(&p)? != c {
                    std::fs::write(&p, c)?;
                }
            }
        }
        Ok(())
    }

    /// Empty the writable mount and fill it anew.
    fn rebuild_mnt(&self) -> std::io::Result<()> {
        let mnt = self.mnt();
        clear_dir(&mnt);
        std::fs::create_dir_all(&mnt)?;
        std::fs::set_permissions(&mnt, std::fs::Permissions::from_mode(0o755))?;
        std::fs::write(mnt.join("seed"), SEED)?;
        std::fs::create_dir(mnt.join("sub"))?;
        std::fs::write(mnt.join("sub/inner"), SEED)?;
        for (p, mode) in [("seed", 0o644), ("sub", 0o755), ("sub/inner", 0o644)] {
            std::fs::set_permissions(mnt.join(p), std::fs::Permissions::from_mode(mode))?;
        }
        // Both point out of the mount, at the canary: followed on the host
        // they would escape.
        std::os::unix::fs::symlink(self.outside().join("canary"), mnt.join("abs"))?;
        std::os::unix::fs::symlink("../outside/canary", mnt.join("up"))?;
        Ok(())
    }

    /// What changed in the read-only mount or outside the mounts, if
    /// anything.
    fn escaped(&self) -> Option<String> {
        if names(&self.base) != ["mnt", "outside", "ro"] {
            return Some(format!(
                "{} now holds {:?}",
                self.base.display(),
                names(&self.base)
            ));
        }
        for (dir, name, bytes) in [
            (self.ro(), "seed", SEED),
            (self.outside(), "canary", CANARY),
        ] {
            if names(&dir) != [name] {
                return Some(format!("{} now holds {:?}", dir.display(), names(&dir)));
            }
            let file = dir.join(name);
            let mode = std::fs::symlink_metadata(&file).map(|m| m.permissions().mode() & 0o7777);
            if std::fs::read(&file).ok().as_deref() != Some(bytes) || mode.ok() != Some(0o644) {
                return Some(format!("{} was changed", file.display()));
            }
        }
        None
    }
}

/// The names in a directory, sorted.
fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Remove everything inside `dir` (not `dir` itself), whatever modes the
/// program left on it.
fn clear_dir(dir: &Path) {
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            clear_dir(&p);
            let _ = std::fs::remove_dir(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// The directories, made on first use; the lock also serialises inputs
/// within one process (they share the directories).
static DIRS: Mutex<Option<Dirs>> = Mutex::new(None);

extern "C" fn remove_dirs() {
    let guard = match DIRS.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    if let Some(d) = guard.as_ref() {
        clear_dir(&d.base);
        let _ = std::fs::remove_dir(&d.base);
    }
}

fn identity(mem_size: u64) -> Identity {
    Identity {
        pid: 1,
        ppid: 0,
        uid: 1000,
        gid: 1000,
        exe: b"/fuzz".to_vec(),
        mem_size,
        ..Default::default()
    }
}

/// One fuzzed process and its machine.
struct Harness {
    m: parking_lot::Mutex<Machine>,
    vcpu: crate::vm::Vcpu,
    proc: parking_lot::Mutex<Process>,
    regs: kvm_regs,
    dirs: MutexGuard<'static, Option<Dirs>>,
}

impl Harness {
    /// A process with memory, mounts, the fd zoo and the limits `config`
    /// picks: bits 0-1 RLIMIT_NOFILE (default, 16, nr_open, 1), bit 2
    /// RLIMIT_FSIZE 4 KiB instead of 1 MiB (always bounded: the mounts are
    /// real directories), bit 3 cwd /mnt instead of /, bits 4-5 both set:
    /// a --tmpfs at /tmp (else fd 11 is /mnt/sub/inner).
    fn new(config: u8) -> Option<Self> {
        let mut dirs = DIRS.lock().unwrap_or_else(PoisonError::into_inner);
        if dirs.is_none() {
            *dirs = Dirs::create();
        }
        let (mut m, vcpu) = Machine::detached(MIN_MEM_SIZE).ok()?;
        let mut proc = Process::new(identity(MIN_MEM_SIZE));
        // Host-side blocking calls give up at once.
        proc.expiry.expire();
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
        let ro = libc::PROT_READ as u32;
        for (start, pages, prot) in [(RW, 4, rw), (RO, 1, ro), (FIX, 1, rw)] {
            proc.mm
                .map_fixed(&mut m, start, pages * PAGE_SIZE, prot, VmaKind::Anon)
                .ok()?;
        }
        proc.mm.brk_start = 0x30_0000;
        proc.mm.brk = 0x30_0000;
        let mut specs = Vec::new();
        if let Some(d) = dirs.as_ref() {
            if d.reset_mnt().is_ok() {
                specs.push(MountSpec {
                    host: d.mnt(),
                    guest: b"/mnt".to_vec(),
                    writable: true,
                });
            }
            specs.push(MountSpec {
                host: d.ro(),
                guest: b"/ro".to_vec(),
                writable: false,
            });
        }
        // Making and removing a --tmpfs's directory costs more than the
        // rest of an input: 1 input in 4 has one.
        let tmpfs: Vec<TmpfsSpec> = if config & 0x30 == 0x30 {
            TmpfsSpec::parse("/tmp:size=256K").into_iter().collect()
        } else {
            Vec::new()
        };
        proc.policy = std::sync::Arc::new(
            Policy::new(&specs, &tmpfs)
                .or_else(|_| Policy::new(&[], &tmpfs))
                .unwrap_or_default(),
        );
        if config & 8 != 0 && specs.first().is_some_and(|s| s.writable) {
            proc.fs.update(|f| f.cwd = b"/mnt".to_vec());
        }
        fill_fixtures(&m);
        let mut h = Harness {
            m: parking_lot::Mutex::new(m),
            vcpu,
            proc: parking_lot::Mutex::new(proc),
            regs: kvm_regs::default(),
            dirs,
        };
        h.zoo(!tmpfs.is_empty());
        // The limits a user can give (--max-fds is 1..=NR_OPEN).
        let nofile = match config & 3 {
            1 => Some(16),
            2 => Some(crate::NR_OPEN),
            3 => Some(1),
            _ => None,
        };
        if let Some(n) = nofile {
            h.proc.get_mut().rlimits.impose(libc::RLIMIT_NOFILE, n);
        }
        let fsize = if config & 4 != 0 { 4096 } else { 1 << 20 };
        h.proc.get_mut().rlimits.impose(libc::RLIMIT_FSIZE, fsize);
        Some(h)
    }

    fn call(&mut self, call: &Call) -> i64 {
        let (mut m, mut proc) = (self.m.lock(), self.proc.lock());
        let mut cx = Ctx {
            m: &mut m,
            vcpu: Some(&mut self.vcpu),
            proc: &mut proc,
            regs: &mut self.regs,
            path: if call.i386 {
                EntryPath::Int80Ud
            } else {
                EntryPath::LstarFault
            },
        };
        dispatch(&mut cx, call)
    }

    fn sys(&mut self, nr: u64, args: [u64; 6]) -> i64 {
        self.call(&Call {
            nr,
            args: Args(args),
            i386: false,
        })
    }

    fn open(&mut self, p: usize, flags: i32, mode: u64) -> i64 {
        let dirfd = libc::AT_FDCWD as u64;
        self.sys(257, [dirfd, path(p), flags as u64, mode, 0, 0])
    }

    /// Descriptors 0-12 as the module documentation lists them. A step
    /// that fails leaves /dev/null in its place, so the numbers hold.
    fn zoo(&mut self, tmpfs: bool) {
        // The fuzzer must not read or write kvmcage's own stdio.
        for fd in 0..3 {
            self.sys(3, [fd, 0, 0, 0, 0, 0]);
        }
        let rdwr = libc::O_RDWR;
        let dir = libc::O_RDONLY | libc::O_DIRECTORY;
        let mut next = 0;
        let mut fill = |h: &mut Self, count: i32| {
            for fd in next..next + count {
                if !h.proc.get_mut().files().is_open(fd) {
                    h.open(0, rdwr, 0);
                }
            }
            next += count;
        };
        for _ in 0..3 {
            self.open(0, rdwr, 0);
            fill(self, 1);
        }
        self.sys(293, [PIPE_FDS, libc::O_NONBLOCK as u64, 0, 0, 0, 0]);
        fill(self, 2);
        self.sys(1, [4, RW, 16, 0, 0, 0]);
        for (p, flags, mode) in [
            (0, rdwr, 0),
            (1, rdwr, 0),
            (2, libc::O_RDONLY, 0),
            (3, dir, 0),
            (4, dir, 0),
            (5, rdwr, 0),
            if tmpfs {
                (6, rdwr | libc::O_CREAT | libc::O_TRUNC, 0o644)
            } else {
                (11, rdwr, 0)
            },
            (7, libc::O_RDONLY, 0),
        ] {
            self.open(p, flags, mode);
            fill(self, 1);
        }
    }

    /// fsync and fdatasync of a host file wait for the disk (a journal
    /// commit each on ext4): the run would spend its time there.
    fn syncs_to_disk(&mut self, call: &Call) -> bool {
        !call.i386
            && matches!(call.nr, 74 | 75)
            && self
                .proc
                .get_mut()
                .files()
                .file(call.args.0[0] as u32 as i32)
                .is_ok_and(|f| f.host().is_some())
    }

    /// After a call: keep every host pipe non-blocking (see `tame`).
    fn after(&mut self, call: &Call) {
        if call.i386 || !matches!(call.nr, 22 | 293) {
            return;
        }
        for (_, f) in self.proc.get_mut().files().fds() {
            let Some(fd) = f.host() else { continue };
            let fifo = rustix::fs::fstat(fd).is_ok_and(|st| {
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
            });
            if let (true, Ok(fl)) = (fifo, rustix::fs::fcntl_getfl(fd)) {
                let _ = rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK);
            }
        }
    }

    /// Panic if the program changed what it must not reach.
    fn check_escape(&self) {
        let Some(d) = self.dirs.as_ref() else { return };
        if let Some(what) = d.escaped() {
            let _ = d.restore_read_only();
            panic!("sandbox escape: {what}");
        }
    }
}

/// Write the fixtures (see the constants) into the fixture page.
fn fill_fixtures(m: &Machine) {
    let u = m.user();
    for (i, (sec, nsec)) in TIMESPECS.iter().enumerate() {
        let _ = u.write(TIMES + 16 * i as u64, &sec.to_le_bytes());
        let _ = u.write(TIMES + 16 * i as u64 + 8, &nsec.to_le_bytes());
    }
    let events = (libc::POLLIN | libc::POLLOUT | libc::POLLPRI) as u16;
    for fd in 0..ZOO_FDS {
        let mut pfd = [0u8; 8];
        pfd[..4].copy_from_slice(&(fd as i32).to_le_bytes());
        pfd[4..6].copy_from_slice(&events.to_le_bytes());
        let _ = u.write(POLLFDS + 8 * fd, &pfd);
    }
    let _ = u.write(FDSET, &((1u64 << ZOO_FDS) - 1).to_le_bytes());
    let iov = [(RW, 16), (HOLE, 16), (RW + PAGE_SIZE, i64::MAX as u64)];
    for (i, (base, len)) in iov.iter().enumerate() {
        let _ = u.write(IOVEC + 16 * i as u64, &base.to_le_bytes());
        let _ = u.write(IOVEC + 16 * i as u64 + 8, &len.to_le_bytes());
    }
    for (i, p) in PATHS.iter().enumerate() {
        let _ = u.write(path(i), &[p, &b"\0"[..]].concat());
    }
}

/// Run one input; returns the number of syscalls it made (the harness's
/// own setup not counted). Panics only on a kvmcage bug.
pub fn run_ops(data: &[u8]) -> u64 {
    let mut input = Input { data };
    let config = input.byte().unwrap_or(0);
    let Some(mut h) = Harness::new(config) else {
        return 0;
    };
    let first = h.proc.get_mut().syscalls;
    'ops: while let Some(op) = input.byte() {
        if op & 1 == 0 {
            // Write bytes at a chosen user address (as the program would).
            let (Some(addr), Some(len)) = (input.value(), input.byte()) else {
                break 'ops;
            };
            let n = usize::from(len).min(input.data.len());
            let (bytes, rest) = input.data.split_at(n);
            input.data = rest;
            let _ = h.m.get_mut().user().write_prefix(addr, bytes);
        } else {
            let (Some(lo), Some(hi)) = (input.byte(), input.byte()) else {
                break 'ops;
            };
            let raw = u16::from_le_bytes([lo, hi]);
            let i386 = raw & 0x8000 != 0;
            let nr = if raw & 0x4000 != 0 {
                let Some(v) = input.value() else {
                    break 'ops;
                };
                v
            } else {
                let (x86_64, i386_nrs) = implemented();
                let table = if i386 { i386_nrs } else { x86_64 };
                table[usize::from(raw & 0x1ff) % table.len()]
            };
            let mut args = [0u64; 6];
            for a in &mut args {
                let Some(v) = input.value() else {
                    break 'ops;
                };
                *a = v;
            }
            let mut call = Call {
                nr,
                args: Args(args),
                i386,
            };
            if skipped(&call) || h.syncs_to_disk(&call) {
                continue;
            }
            tame(&mut call);
            h.call(&call);
            h.after(&call);
            h.proc.get_mut().mm.check_invariants(h.m.get_mut());
            if h.proc.get_mut().exit.is_some() {
                break 'ops;
            }
        }
    }
    h.check_escape();
    h.proc.get_mut().syscalls - first
}

/// The fd zoo of a fresh fuzzed process (with the --tmpfs): each open
/// descriptor and the guest path it was opened by (for the test suite).
pub fn zoo() -> Vec<(i32, String)> {
    let Some(mut h) = Harness::new(0x30) else {
        return Vec::new();
    };
    h.proc
        .get_mut()
        .files()
        .fds()
        .into_iter()
        .map(|(fd, f)| (fd, String::from_utf8_lossy(&f.path).into_owned()))
        .collect()
}

/// Guest memory for [`load_elf`]: a real static binary fits, and segments
/// somewhat larger than that still do.
const ELF_MEM_SIZE: u64 = 32 << 20;

/// Load `data` as the program, as a real run does (parse, load, vDSO,
/// initial stack) on a machine without a vCPU, then make the first calls a
/// program makes with that layout (brk, mprotect and munmap of its image).
/// A bad file is an `Err`; any panic is a bug.
pub fn load_elf(data: &[u8]) -> Result<LoadedElf, crate::Error> {
    const NAME: &str = "/fuzz.elf";
    loader::parse(NAME, data)?;
    loader::interpreter(NAME, data)?;
    let (m, mut vcpu) = Machine::detached(ELF_MEM_SIZE)?;
    let m = parking_lot::Mutex::new(m);
    let proc = parking_lot::Mutex::new(Process::new(identity(ELF_MEM_SIZE)));
    let mut proc = proc.lock();
    let mut m = m.lock();
    proc.expiry.expire();
    let elf = loader::load(&mut m, &mut proc.mm, NAME, data, loader::Place::Program)?;
    proc.mm.brk_start = elf.brk;
    proc.mm.brk = elf.brk;
    // The same file as an interpreter, at a free range of the mmap area
    // (a failure is the file's, not a bug).
    let interp = loader::load(&mut m, &mut proc.mm, NAME, data, loader::Place::Interpreter).ok();
    // A detached machine has no TSC for the vDSO's data page: map_vdso
    // maps and copies the image, then fails on that; the layout is real.
    let _ = loader::map_vdso(&mut m, &vcpu, &mut proc.mm);
    let vdso = VDSO_BASE;
    let argv = [NAME.as_bytes().to_vec()];
    let info = StackInfo {
        argv: &argv,
        envp: &[],
        execfn: NAME.as_bytes(),
        random: [0x5a; 16],
        uid: 1000,
        gid: 1000,
        hwcap: 0,
        hwcap2: 0,
        minsigstksz: 2048,
        vdso: Some(vdso),
        interp_base: interp.as_ref().map_or(0, |i| i.bias),
    };
    let (rsp, _) = loader::build_stack(&mut m, &mut proc.mm, &elf, &info)?;
    proc.mm.check_invariants(&m);
    assert!(
        elf.entry < USER_TOP && elf.brk <= USER_TOP && rsp < USER_TOP,
        "loaded outside the user half: {elf:?}, rsp {rsp:#x}"
    );
    let mut regs = kvm_regs {
        rip: elf.entry,
        rsp,
        ..Default::default()
    };
    let page = page_down(elf.entry);
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let calls: [(u64, [u64; 6]); 8] = [
        (12, [0, 0, 0, 0, 0, 0]),
        (12, [elf.brk + PAGE_SIZE, 0, 0, 0, 0, 0]),
        (12, [elf.brk.saturating_add(ELF_MEM_SIZE), 0, 0, 0, 0, 0]),
        (12, [USER_TOP, 0, 0, 0, 0, 0]),
        (12, [u64::MAX, 0, 0, 0, 0, 0]),
        (12, [elf.brk, 0, 0, 0, 0, 0]),
        (10, [page, PAGE_SIZE, rw, 0, 0, 0]),
        (11, [page, PAGE_SIZE, 0, 0, 0, 0]),
    ];
    for (nr, args) in calls {
        let mut cx = Ctx {
            m: &mut m,
            vcpu: Some(&mut vcpu),
            proc: &mut proc,
            regs: &mut regs,
            path: EntryPath::Lstar,
        };
        dispatch(
            &mut cx,
            &Call {
                nr,
                args: Args(args),
                i386: false,
            },
        );
        proc.mm.check_invariants(&m);
    }
    Ok(elf)
}
