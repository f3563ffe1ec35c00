//! Path-based system calls, resolved against the sandbox policy.
//!
//! A guest path (with its dirfd) is walked over the guest's mount tree by
//! `sandbox::namei`: component by component, symlinks followed by guest
//! path, every host step beneath a mount root. What it reaches is an object
//! in a mount (with the directory holding it), a missing last component
//! (where a create would put it), a virtual directory, or kvmcage's own
//! /dev, /proc and /.kvmcage nodes. Each call then acts on the descriptors
//! the walk opened, never on a host path: writes to a read-only mount are
//! EROFS, after the checks Linux makes first (ENOENT, EEXIST, ENOTDIR).
//!
//! Host files the program creates or changes never carry S_ISUID or
//! S_ISGID: the bits are stripped from every mode it passes (open, mkdir,
//! chmod, fchmod), and a set-id file it opens for writing loses them, as a
//! `nosuid` mount would make them meaningless but stricter: the program
//! sees them stripped.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::abi::{Stat, Statx, StatxTimestamp};
use super::fs::{guest_stat, Dev, FileKind, OpenFile, View};
use super::{int, Args, Ctx, SysResult};
use crate::mm::uaccess::PATH_MAX;
use crate::sandbox::namei::{beneath, Found, Scope};
use crate::sandbox::Mount;

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EMPTY_PATH: u32 = 0x1000;
const DT_DIR: u8 = 4;
const DT_CHR: u8 = 2;
const DT_REG: u8 = 8;
const DT_LNK: u8 = 10;
/// The permission bits a guest may set on a host file: never set-id.
const MODE_BITS: u32 = 0o1777;
const SETID: u32 = 0o6000;
/// The st_dev of /.kvmcage.
const EXE_DEV: u64 = 0x3f;

/// Open flags a guest may pass to the host (others are dropped, as Linux
/// ignores unknown open flags): Linux's own, but O_ASYNC (no SIGIO here).
const OPEN_ALLOWED: u32 = (VALID_OPEN_FLAGS & !(libc::O_ASYNC as u64)) as u32;

fn os(b: &[u8]) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(b)
}

/// What a resolved guest path is.
enum Node<'a> {
    Dev(Dev),
    /// /dev/stdin, /dev/fd/N, /proc/self/fd/N: that descriptor.
    Fd(i32),
    /// A directory kvmcage makes up, with its entries.
    Dir(Vec<(Vec<u8>, u8)>),
    /// A symlink kvmcage makes up (/proc/self/exe, cwd): its target.
    Link(Vec<u8>),
    /// Generated text (/proc/self/maps, status).
    Text(Vec<u8>),
    /// /proc/self/mem or pagemap: the caller's own memory.
    Mem(super::procmem::MemFile),
    /// The program's own file (read-only).
    Exe,
    /// An object in a mount (see `Found::Host`).
    Host {
        mount: &'a Mount,
        dir: OwnedFd,
        name: Vec<u8>,
        fd: OwnedFd,
    },
    /// A missing last component in a mount directory.
    Absent {
        mount: &'a Mount,
        dir: OwnedFd,
        name: Vec<u8>,
    },
    /// A missing last component in a directory kvmcage makes up.
    AbsentVirtual,
    Missing,
}

/// A walked path: what it names and the guest path it reached.
struct Lookup<'a> {
    path: Vec<u8>,
    node: Node<'a>,
    trailing_slash: bool,
    /// The last component was "." (1) or ".." (2).
    dots: u8,
}

/// The guest directory relative paths start from: the cwd or `dirfd`'s.
fn base_dir(cx: &Ctx, dirfd: i32) -> Result<Vec<u8>, Errno> {
    if dirfd == AT_FDCWD {
        return Ok(cx.proc.cwd());
    }
    let f = cx.proc.files().file(dirfd)?;
    if !is_dir(&f) {
        return Err(Errno::NOTDIR);
    }
    Ok(f.path.clone())
}

/// Walk `name` from `dirfd`; `follow`: follow a symlink in the last
/// component.
fn lookup<'a>(cx: &'a Ctx, dirfd: i32, name: &[u8], follow: bool) -> Result<Lookup<'a>, Errno> {
    lookup_in(cx, &cx.proc.root(), dirfd, name, follow, Resolve::default())
}

/// openat2's `resolve` flags.
#[derive(Clone, Copy, Debug, Default)]
struct Resolve {
    /// The walk's own restrictions (symlinks, BENEATH, NO_XDEV).
    scope: Scope,
    /// RESOLVE_NO_MAGICLINKS: /proc/self/fd/N and the like are ELOOP.
    no_magiclinks: bool,
    /// RESOLVE_BENEATH or RESOLVE_IN_ROOT: magic links are EXDEV.
    scoped: bool,
}

/// `lookup` with `root` as the directory absolute paths start from and
/// `..` stops at (the process's root, or "/" for kvmcage's own links,
/// whose targets are sandbox paths).
fn lookup_in<'a>(
    cx: &'a Ctx,
    root: &[u8],
    dirfd: i32,
    name: &[u8],
    follow: bool,
    how: Resolve,
) -> Result<Lookup<'a>, Errno> {
    if name.is_empty() {
        return Err(Errno::NOENT);
    }
    let start = if name.first() == Some(&b'/') {
        root.to_vec()
    } else {
        base_dir(cx, dirfd)?
    };
    let r = cx
        .proc
        .policy
        .resolve_scoped(root, &start, name, follow, how.scope)?;
    let node = match r.found {
        Found::Host {
            mount,
            dir,
            name,
            fd,
        } => Node::Host {
            mount,
            dir,
            name,
            fd,
        },
        Found::Absent { mount, dir, name } => Node::Absent { mount, dir, name },
        Found::AbsentVirtual => Node::AbsentVirtual,
        Found::Virtual(mut names) => {
            if r.path == b"/" {
                names.extend([b"dev".to_vec(), b"proc".to_vec()]);
            }
            Node::Dir(names.into_iter().map(|n| (n, DT_DIR)).collect())
        }
        Found::Special => {
            peek_needed(cx, &r.path)?;
            special(cx, &r.path)
        }
    };
    // kvmcage's own symlinks (/proc/self/cwd, exe) are magic links.
    if let (Node::Link(_), true) = (&node, follow || r.trailing_slash) {
        if how.no_magiclinks {
            return Err(Errno::LOOP);
        }
        if how.scoped || how.scope.no_xdev {
            return Err(Errno::XDEV);
        }
    }
    // They lead on by guest path.
    if let (Node::Link(target), true) = (&node, follow || r.trailing_slash) {
        // (Their targets are real paths, never such links: no loop.)
        let by_path = if target.first() == Some(&b'/') {
            let target = target.clone();
            Some(lookup_in(
                cx,
                b"/",
                AT_FDCWD,
                &target,
                true,
                Resolve::default(),
            ))
        } else {
            None
        };
        // /proc/self/fd/N is Linux's magic link: the open file itself, also
        // when no path reaches it (a memfd, a deleted file, a pipe).
        let reached = matches!(&by_path, Some(Ok(l))
            if !matches!(l.node, Node::Missing | Node::Absent { .. } | Node::AbsentVirtual));
        let fd = proc_fd_link(cx, &r.path).filter(|_| !reached);
        match (fd, by_path) {
            (Some(fd), _) => {
                return Ok(Lookup {
                    path: r.path,
                    node: Node::Fd(fd),
                    trailing_slash: r.trailing_slash,
                    dots: r.dots,
                })
            }
            (None, Some(l)) => return l,
            (None, None) => {}
        }
    }
    Ok(Lookup {
        path: r.path,
        node,
        trailing_slash: r.trailing_slash,
        dots: r.dots,
    })
}

fn is_dir(f: &OpenFile) -> bool {
    match &f.kind {
        FileKind::Dir(_) => true,
        FileKind::Host { fd, .. } => rustix::fs::fstat(fd)
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir()),
        _ => false,
    }
}

fn file_type(fd: &OwnedFd) -> Result<rustix::fs::FileType, Errno> {
    Ok(rustix::fs::FileType::from_raw_mode(
        rustix::fs::fstat(fd)?.st_mode,
    ))
}

fn proc_maps(cx: &Ctx) -> Vec<u8> {
    let (mm, exe) = (&cx.proc.mm, &cx.proc.id.exe);
    maps_file(mm.vmas(), &mm.file_names, exe, cx.m.shared())
}

/// /proc/PID/maps: the mappings, then the vsyscall page's line as Linux
/// ends it (smaps has no entry for it here).
fn maps_file<'v>(
    vmas: impl Iterator<Item = (crate::vm::layout::Gva, &'v super::mm::Vma)>,
    names: &[Vec<u8>],
    exe: &[u8],
    shared: &crate::vm::shared::SharedSlots,
) -> Vec<u8> {
    let mut text = maps_text(vmas, names, exe, shared, |_, _| None);
    text.extend_from_slice(super::vsyscall::MAPS_LINE.as_bytes());
    text
}

/// What /proc/PID/smaps counts of one mapping, in pages.
#[derive(Clone, Copy, Default)]
struct SmapsCount {
    size: u64,
    rss: u64,
    anon: u64,
    shared: u64,
    locked: u64,
}

/// Count `[start, v.end)`'s pages: resident ones are those whose frame
/// has host memory (what mincore says).
fn smaps_count(cx: &Ctx, start: crate::vm::layout::Gva, v: &super::mm::Vma) -> SmapsCount {
    use super::mm::VmaKind;
    use crate::vm::layout::PAGE_SIZE;
    let (ram, pt) = (cx.m.ram(), &cx.proc.mm.pt);
    let mut rss = 0;
    let mut addr = start;
    loop {
        addr = pt.next_covered(ram, addr, v.end);
        if addr >= v.end {
            break;
        }
        if super::mm::resident(cx.m, pt.leaf(ram, addr).unwrap_or(0)) {
            rss += 1;
        }
        addr += PAGE_SIZE;
    }
    let shared = matches!(v.kind, VmaKind::Shared { .. });
    let anon = v.kind.is_anonymous();
    SmapsCount {
        size: (v.end - start) / PAGE_SIZE,
        rss,
        anon: if anon { rss } else { 0 },
        shared: if shared { rss } else { 0 },
        locked: if v.locked { rss } else { 0 },
    }
}

/// The fields below a mapping's line in /proc/PID/smaps (and the rollup),
/// as Linux 6.12 prints them (`vmflags` None for the rollup).
fn smaps_fields(c: SmapsCount, vmflags: Option<String>) -> String {
    let kb = |pages: u64| pages * 4;
    let private = c.rss - c.shared;
    let mut s = String::new();
    let mut field =
        |name: &str, v: u64| s.push_str(&format!("{:<16}{:>8} kB\n", format!("{name}:"), v));
    if vmflags.is_some() {
        field("Size", kb(c.size));
        field("KernelPageSize", 4);
        field("MMUPageSize", 4);
    }
    field("Rss", kb(c.rss));
    field("Pss", kb(c.rss));
    field("Pss_Dirty", kb(c.rss));
    if vmflags.is_none() {
        field("Pss_Anon", kb(c.anon));
        field("Pss_File", kb(c.rss - c.anon - c.shared));
        field("Pss_Shmem", kb(c.shared));
    }
    field("Shared_Clean", 0);
    field("Shared_Dirty", kb(c.shared));
    field("Private_Clean", 0);
    field("Private_Dirty", kb(private));
    field("Referenced", kb(c.rss));
    field("Anonymous", kb(c.anon));
    field("KSM", 0);
    field("LazyFree", 0);
    field("AnonHugePages", 0);
    field("ShmemPmdMapped", 0);
    field("FilePmdMapped", 0);
    field("Shared_Hugetlb", 0);
    field("Private_Hugetlb", 0);
    field("Swap", 0);
    field("SwapPss", 0);
    field("Locked", kb(c.locked));
    if let Some(flags) = vmflags {
        s.push_str(&format!("{:<16}{:>8}\n", "THPeligible:", 0));
        s.push_str(&format!("VmFlags: {flags} \n"));
    }
    s
}

/// VmFlags of smaps: Linux's two-letter mnemonics, in its order.
fn vm_flags(v: &super::mm::Vma) -> String {
    use super::mm::VmaKind;
    let shared = matches!(v.kind, VmaKind::Shared { .. });
    let flags = [
        (v.prot & 1 != 0, "rd"),
        (v.prot & 2 != 0, "wr"),
        (v.prot & 4 != 0, "ex"),
        (shared, "sh"),
        (true, "mr"),
        (true, "mw"),
        (true, "me"),
        (shared, "ms"),
        (matches!(v.kind, VmaKind::Stack), "gd"),
        (v.locked, "lo"),
        (v.dont_fork, "dc"),
        (!shared && v.prot & 2 != 0 && v.kind.is_anonymous(), "ac"),
        (v.wipe_on_fork, "wf"),
        (v.sealed, "sl"),
    ];
    flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// /proc/PID/smaps: maps, each mapping followed by its counts.
fn proc_smaps(cx: &Ctx) -> Vec<u8> {
    let (mm, exe) = (&cx.proc.mm, &cx.proc.id.exe);
    maps_text(mm.vmas(), &mm.file_names, exe, cx.m.shared(), |start, v| {
        Some(smaps_fields(smaps_count(cx, start, v), Some(vm_flags(v))))
    })
}

/// /proc/PID/smaps_rollup: every mapping's counts summed under one line
/// spanning them all.
fn proc_smaps_rollup(cx: &Ctx) -> Vec<u8> {
    let mut sum = SmapsCount::default();
    let (mut first, mut last) = (None, 0);
    for (start, v) in cx.proc.mm.vmas() {
        let c = smaps_count(cx, start, v);
        sum.rss += c.rss;
        sum.anon += c.anon;
        sum.shared += c.shared;
        sum.locked += c.locked;
        first.get_or_insert(start);
        last = v.end;
    }
    let line = format!(
        "{:08x}-{last:08x} ---p 00000000 00:00 0",
        first.unwrap_or(0)
    );
    format!("{line:<73}[rollup]\n{}", smaps_fields(sum, None)).into_bytes()
}

/// /proc/PID/maps of the mappings `vmas`, whose files are named in
/// `names`, of the program `exe`; `more` adds lines after a mapping's
/// (smaps).
fn maps_text<'v>(
    vmas: impl Iterator<Item = (crate::vm::layout::Gva, &'v super::mm::Vma)>,
    names: &[Vec<u8>],
    exe: &[u8],
    shared: &crate::vm::shared::SharedSlots,
    more: impl Fn(crate::vm::layout::Gva, &super::mm::Vma) -> Option<String>,
) -> Vec<u8> {
    use super::mm::VmaKind;
    let mut s = String::new();
    for (start, v) in vmas {
        let p = |bit: u32, c: char| if v.prot & bit != 0 { c } else { '-' };
        let (kind, offset) = match v.kind {
            VmaKind::Shared { slot, off, .. } => {
                ('s', shared.find(slot).map_or(0, |sl| sl.file_off + off))
            }
            VmaKind::File { off, .. } => ('p', off),
            _ => ('p', 0),
        };
        let perms = format!("{}{}{}{kind}", p(1, 'r'), p(2, 'w'), p(4, 'x'));
        let name = match v.kind {
            VmaKind::Image => String::from_utf8_lossy(exe).into_owned(),
            VmaKind::Heap => "[heap]".into(),
            VmaKind::Stack => "[stack]".into(),
            VmaKind::Vdso => "[vdso]".into(),
            VmaKind::Vvar => "[vvar]".into(),
            VmaKind::Anon => String::new(),
            VmaKind::DevZero => "/dev/zero".into(),
            VmaKind::File { name: i, .. } | VmaKind::Shared { name: i, .. } => names
                .get(i as usize)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default(),
        };
        let line = format!("{start:08x}-{:08x} {perms} {offset:08x} 00:00 0", v.end);
        if name.is_empty() {
            // Linux 6.18 ends the prefix with a space either way.
            s.push_str(&line);
            s.push_str(" \n");
        } else {
            s.push_str(&format!("{line:<73}{name}\n"));
        }
        if let Some(m) = more(start, v) {
            s.push_str(&m);
        }
    }
    s.into_bytes()
}

/// The system-wide /proc files kvmcage answers: the sandbox's own view
/// (its memory, one process, no load), never the host's.
const PROC_FILES: [&str; 7] = [
    "mounts",
    "uptime",
    "loadavg",
    "meminfo",
    "filesystems",
    "stat",
    "cpuinfo",
];

/// The device kvmcage's own /proc and /dev files show (synthetic_stat's).
const PROC_DEV: u64 = 0;
const DEV_DEV: u64 = 0;

/// /proc/self/mounts (`info` false) or /proc/self/mountinfo: the
/// sandbox's mounts with kvmcage's /proc and /dev, in mount order. Devices
/// are the anonymous ones stat shows (0:N), sources never a host path.
fn mount_table(cx: &Ctx, info: bool) -> String {
    let mounts = cx.proc.policy.mounts_in_order();
    let mut rows: Vec<(Vec<u8>, &str, &str, bool, u64)> = Vec::new();
    for m in &mounts {
        let source = if m.quota.is_some() {
            "tmpfs"
        } else {
            "kvmcage"
        };
        rows.push((m.guest.clone(), source, m.fstype(), m.writable, m.dev()));
        if m.guest == b"/" {
            rows.push((b"/proc".to_vec(), "proc", "proc", false, PROC_DEV));
            rows.push((b"/dev".to_vec(), "devtmpfs", "devtmpfs", true, DEV_DEV));
        }
    }
    if !mounts.iter().any(|m| m.guest == b"/") {
        rows.insert(0, (b"/dev".to_vec(), "devtmpfs", "devtmpfs", true, DEV_DEV));
        rows.insert(0, (b"/proc".to_vec(), "proc", "proc", false, PROC_DEV));
    }
    let mut out = String::new();
    for (i, (guest, source, fstype, rw, dev)) in rows.iter().enumerate() {
        let at = String::from_utf8_lossy(guest).replace(' ', "\\040");
        let opts = if *rw { "rw,relatime" } else { "ro,relatime" };
        if info {
            // The parent: the nearest mount above (the first is its own).
            let parent = rows[..i]
                .iter()
                .rposition(|(g, ..)| {
                    g.as_slice() == b"/" || guest.starts_with(&[g.as_slice(), b"/"].concat())
                })
                .unwrap_or(i);
            out.push_str(&format!(
                "{} {} {}:{} / {at} {opts} - {fstype} {source} {}\n",
                20 + i,
                20 + parent,
                rustix::fs::major(*dev),
                rustix::fs::minor(*dev),
                if *rw { "rw" } else { "ro" }
            ));
        } else {
            out.push_str(&format!("{source} {at} {fstype} {opts} 0 0\n"));
        }
    }
    out
}

fn proc_file(cx: &Ctx, name: &[u8]) -> Option<Vec<u8>> {
    let up = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let kib = |frames: u64| frames * crate::vm::layout::PAGE_SIZE / 1024;
    Some(match name {
        b"uptime" => format!("{}.{:02} 0.00\n", up.tv_sec, up.tv_nsec / 10_000_000),
        b"loadavg" => format!("0.00 0.00 0.00 1/1 {}\n", cx.proc.id.pid),
        b"meminfo" => {
            let (total, free) = (kib(cx.m.frames().capacity()), kib(cx.m.frames().available()));
            format!(
                "MemTotal:       {total:8} kB\nMemFree:        {free:8} kB\nMemAvailable:   {free:8} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n"
            )
        }
        b"filesystems" => "nodev\tproc\nnodev\ttmpfs\nnodev\tdevtmpfs\n".into(),
        b"mounts" => mount_table(cx, false),
        b"cpuinfo" => crate::vm::cpuinfo::text(cx.m.cpuid(), cx.proc.ncpus),
        b"stat" => {
            // One CPU whose time is the program's (USER_HZ ticks), idle
            // for the rest of the uptime; one process, running.
            let (u, s) = super::process::cpu_time(cx.proc.cpu_base);
            let tick = |d: std::time::Duration| d.as_millis() as u64 / 10;
            let (u, s) = (tick(u), tick(s));
            let up_ticks = up.tv_sec as u64 * 100 + up.tv_nsec as u64 / 10_000_000;
            let idle = up_ticks.saturating_sub(u + s);
            let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
            let btime = now.tv_sec.saturating_sub(up.tv_sec);
            let cpu = format!("{u} 0 {s} {idle} 0 0 0 0 0 0");
            let per_cpu: String = (0..cx.proc.ncpus)
                .map(|i| if i == 0 { format!("cpu0 {cpu}\n") } else { format!("cpu{i} 0 0 0 {idle} 0 0 0 0 0 0\n") })
                .collect();
            format!(
                "cpu  {cpu}\n{per_cpu}intr 0\nctxt 0\nbtime {btime}\nprocesses 1\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n"
            )
        }
        _ => return None,
    }
    .into_bytes())
}

/// /proc/self/stat: the fields programs read (pid, comm, state, ppid,
/// pgrp, session, times, priority, threads, vsize, rss); the rest 0.
/// The caller's (ppid, pgid, sid) from the process table.
fn tree_ids(cx: &Ctx) -> (u32, u32, u32) {
    let id = &cx.proc.id;
    cx.proc
        .tasks
        .lock()
        .procs
        .get(&id.pid)
        .map_or((id.ppid, id.pid, id.pid), |e| (e.ppid, e.pgid, e.sid))
}

fn proc_stat(cx: &Ctx) -> Vec<u8> {
    let id = &cx.proc.id;
    let vsize: u64 = cx.proc.mm.vmas().map(|(s, v)| v.end - s).sum();
    let rss = cx.m.frames().capacity() - cx.m.frames().available();
    let (ppid, pgid, sid) = tree_ids(cx);
    let mut f: Vec<String> = vec![
        id.pid.to_string(),
        format!(
            "({})",
            String::from_utf8_lossy(&super::process::comm(cx.proc))
        ),
        "R".into(),
        ppid.to_string(),
        pgid.to_string(),
        sid.to_string(),
    ];
    // tty_nr .. cstime (fields 7-17), priority 20, nice 0, the threads.
    let threads = cx.proc.threads.len().to_string();
    f.extend(
        [
            "0", "-1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "20", "0", &threads, "0", "0",
        ]
        .map(String::from),
    );
    f.push(vsize.to_string());
    f.push(rss.to_string());
    f.resize(52, "0".into());
    let mut s = f.join(" ");
    s.push('\n');
    s.into_bytes()
}

fn proc_status(cx: &Ctx) -> Vec<u8> {
    let id = &cx.proc.id;
    format!(
        "Name:\t{}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{}\nPid:\t{}\nPPid:\t{}\nUid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\nKthread:\t0\nVmLck:\t{lck:8} kB\nThreads:\t{}\n",
        String::from_utf8_lossy(&super::process::comm(cx.proc)),
        cx.proc.umask(),
        id.pid,
        id.pid,
        tree_ids(cx).0,
        cx.proc.threads.len(),
        u = id.uid,
        g = id.gid,
        lck = cx.proc.mm.locked_bytes() / 1024
    )
    .into_bytes()
    .into_iter()
    .chain(
        {
            let limit = cx.proc.rlimits.soft(libc::RLIMIT_SIGPENDING);
            let p: &super::Process = cx.proc;
            super::signal::status_lines(&p.signals, &p.threads[p.cur].sig, limit).into_bytes()
        },
    )
    .collect()
}

/// Is `path` (absolute, normalised) a directory the program can see?
pub fn is_directory(proc: &super::Process, path: &[u8]) -> bool {
    match proc.policy.resolve(b"/", path, true) {
        Ok(r) => match r.found {
            Found::Host { fd, .. } => file_type(&fd).is_ok_and(|t| t.is_dir()),
            Found::Virtual(_) => true,
            Found::Special => matches!(r.path.as_slice(), b"/dev" | b"/proc" | b"/proc/self"),
            _ => false,
        },
        Err(_) => false,
    }
}

/// Make an open generated file's text again from its path (a read from
/// offset 0: /proc/uptime read twice must show time passing).
pub(crate) fn regenerate(cx: &Ctx, file: &OpenFile) -> Result<(), Errno> {
    if is_special_path(&file.path) {
        peek_needed(cx, &file.path)?;
    }
    match (&file.kind, special(cx, &file.path)) {
        (FileKind::Text(t), Node::Text(new)) => *t.lock() = new,
        (FileKind::Dir(d), Node::Dir(new)) if is_special_path(&file.path) => *d.lock() = new,
        _ => {}
    }
    Ok(())
}

/// Below /dev, /proc or /.kvmcage (virtual directories elsewhere, the
/// parents of mount points, are fixed for the run).
fn is_special_path(path: &[u8]) -> bool {
    crate::sandbox::namei::is_special(path)
}

/// The descriptor a /proc/.../fd/N magic link names: under /proc/self,
/// /proc/PID, /proc/thread-self, or a task directory of either.
fn proc_fd_link(cx: &Ctx, path: &[u8]) -> Option<i32> {
    let pid = cx.proc.id.pid.to_string();
    let task = format!("/task/{pid}");
    let rest = path
        .strip_prefix(b"/proc/self")
        .or_else(|| path.strip_prefix(format!("/proc/{pid}").as_bytes()))
        .or_else(|| path.strip_prefix(b"/proc/thread-self"))?;
    let rest = rest.strip_prefix(task.as_bytes()).unwrap_or(rest);
    rest.strip_prefix(b"/fd/").and_then(fd_num)
}

/// The descriptor number a /dev/fd/N or /proc/self/fd/N names.
/// As Linux's name_to_int: decimal digits only, no sign, no leading zero,
/// at most INT_MAX.
fn fd_num(n: &[u8]) -> Option<i32> {
    if n.is_empty() || !n.iter().all(u8::is_ascii_digit) || (n.len() > 1 && n[0] == b'0') {
        return None;
    }
    std::str::from_utf8(n).ok()?.parse::<i32>().ok()
}

/// Where the program's own file is shown when no mount shows it.
pub const EXE_DIR: &[u8] = b"/.kvmcage";

/// kvmcage's own nodes: /dev, /proc, /.kvmcage (an absolute, normalised
/// guest path).
fn special<'a>(cx: &Ctx, path: &[u8]) -> Node<'a> {
    if let Some(rest) = path.strip_prefix(EXE_DIR) {
        let name = cx.proc.id.exe.strip_prefix(EXE_DIR).unwrap_or(b"");
        return match rest {
            b"" => Node::Dir(match name.strip_prefix(b"/") {
                Some(n) => vec![(n.to_vec(), DT_REG)],
                None => Vec::new(),
            }),
            r if r == name && !r.is_empty() => Node::Exe,
            _ => Node::Missing,
        };
    }
    let dev = |d: &[u8]| -> Option<Node<'a>> {
        Some(match d {
            b"null" => Node::Dev(Dev::Null),
            b"zero" => Node::Dev(Dev::Zero),
            b"full" => Node::Dev(Dev::Full),
            b"random" | b"urandom" => Node::Dev(Dev::Random),
            b"stdin" => Node::Fd(0),
            b"stdout" => Node::Fd(1),
            b"stderr" => Node::Fd(2),
            _ => return None,
        })
    };
    let fd_dir = |files: &super::fs::Files| {
        Node::Dir(
            files
                .fds()
                .iter()
                .map(|(fd, _)| (fd.to_string().into_bytes(), DT_LNK))
                .collect(),
        )
    };
    if path == b"/dev" {
        let names = [
            "null", "zero", "full", "random", "urandom", "stdin", "stdout", "stderr",
        ];
        let mut v: Vec<(Vec<u8>, u8)> = names
            .iter()
            .map(|n| (n.as_bytes().to_vec(), DT_CHR))
            .collect();
        v.push((b"fd".to_vec(), DT_DIR));
        if cx.proc.policy.covers(b"/dev/shm") {
            v.push((b"shm".to_vec(), DT_DIR));
        }
        return Node::Dir(v);
    }
    if let Some(rest) = path.strip_prefix(b"/dev/") {
        if rest == b"fd" {
            return fd_dir(cx.proc.files());
        }
        if let Some(n) = rest.strip_prefix(b"fd/") {
            return fd_num(n).map(Node::Fd).unwrap_or(Node::Missing);
        }
        return dev(rest).unwrap_or(if rest.contains(&b'/') {
            Node::Missing
        } else {
            Node::AbsentVirtual
        });
    }
    if path == b"/proc" {
        let mut v = vec![
            (b"self".to_vec(), DT_DIR),
            (b"thread-self".to_vec(), DT_LNK),
            (b"sys".to_vec(), DT_DIR),
        ];
        // Every process of the sandbox, zombies too.
        v.extend(
            cx.proc
                .tasks
                .lock()
                .procs
                .keys()
                .map(|p| (p.to_string().into_bytes(), DT_DIR)),
        );
        v.extend(PROC_FILES.iter().map(|n| (n.as_bytes().to_vec(), DT_REG)));
        return Node::Dir(v);
    }
    if let Some(t) = path.strip_prefix(b"/proc/").and_then(|n| proc_file(cx, n)) {
        return Node::Text(t);
    }
    // The few sysctls programs read to learn the kernel: kvmcage's fixed
    // identity, never the host's.
    let line = |v: &[u8]| Node::Text([v, b"\n"].concat());
    match path {
        b"/proc/sys" => {
            return Node::Dir(vec![(b"kernel".to_vec(), DT_DIR), (b"vm".to_vec(), DT_DIR)])
        }
        b"/proc/sys/vm" => return Node::Dir(vec![(b"mmap_min_addr".to_vec(), DT_REG)]),
        b"/proc/sys/vm/mmap_min_addr" => {
            return line(crate::vm::layout::USER_MIN.to_string().as_bytes())
        }
        b"/proc/sys/kernel" => {
            return Node::Dir(
                ["osrelease", "ostype", "version", "hostname", "pid_max"]
                    .iter()
                    .map(|n| (n.as_bytes().to_vec(), DT_REG))
                    .collect(),
            )
        }
        b"/proc/sys/kernel/osrelease" => return line(super::process::RELEASE),
        b"/proc/sys/kernel/ostype" => return line(b"Linux"),
        b"/proc/sys/kernel/version" => return line(super::process::VERSION),
        b"/proc/sys/kernel/hostname" => return line(&cx.proc.id.hostname),
        b"/proc/sys/kernel/pid_max" => return line(b"4194304"),
        _ => {}
    }
    let pid = cx.proc.id.pid.to_string();
    // /proc/thread-self: the calling thread's /proc/PID/task/TID.
    if path == b"/proc/thread-self" {
        // As Linux's: relative, the calling thread's own task directory.
        let tid = cx.proc.threads[cx.proc.cur].tid;
        return Node::Link(format!("{pid}/task/{tid}").into_bytes());
    }
    let below = |r: &&[u8]| r.is_empty() || r.starts_with(b"/");
    if let Some(rest) = path
        .strip_prefix(b"/proc/self")
        .filter(below)
        .or_else(|| {
            path.strip_prefix(format!("/proc/{pid}").as_bytes())
                .filter(below)
        })
        .or_else(|| {
            // Below /proc/thread-self: the thread's own task directory.
            path.strip_prefix(b"/proc/thread-self")
                .filter(|r| r.starts_with(b"/"))
        })
    {
        // /proc/PID/task/TID (any thread of the process) is the thread's
        // view of the same files; /proc/PID is the leader's, and
        // /proc/thread-self the caller's (their descriptor tables and
        // working directories differ when a thread has its own).
        let caller = cx.proc.threads[cx.proc.cur].tid;
        let mut view = if path.starts_with(b"/proc/thread-self") {
            caller
        } else {
            cx.proc.id.pid
        };
        let rest = match task_rest(rest) {
            Some((tid, r)) if cx.proc.find_thread(tid.into()).is_some() => {
                view = tid;
                r
            }
            _ => rest,
        };
        return match rest {
            b"" => Node::Dir(
                [
                    "exe",
                    "cwd",
                    "root",
                    "fd",
                    "maps",
                    "smaps",
                    "smaps_rollup",
                    "mem",
                    "pagemap",
                    "status",
                    "stat",
                    "cmdline",
                    "comm",
                    "auxv",
                    "task",
                    "wchan",
                    "syscall",
                    "mounts",
                    "mountinfo",
                    "map_files",
                ]
                .iter()
                .map(|n| {
                    (
                        n.as_bytes().to_vec(),
                        if matches!(*n, "fd" | "task" | "map_files") {
                            DT_DIR
                        } else {
                            DT_REG
                        },
                    )
                })
                .collect(),
            ),
            b"/task" => Node::Dir(
                cx.proc
                    .threads
                    .iter()
                    .map(|t| (t.tid.to_string().into_bytes(), DT_DIR))
                    .collect(),
            ),
            // Not sleeping in the kernel: Linux shows "0" (no newline).
            b"/wchan" => Node::Text(b"0".to_vec()),
            // The system call the reader is in (this read, when read from
            // offset 0): number, six arguments, stack and instruction
            // pointers, as Linux's proc_pid_syscall.
            b"/syscall" => {
                let r = &*cx.regs;
                Node::Text(
                    format!(
                        "{} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x}\n",
                        r.rax as i64, r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9, r.rsp, r.rip
                    )
                    .into_bytes(),
                )
            }
            b"/exe" => Node::Link(cx.proc.id.exe.clone()),
            b"/cmdline" => Node::Text(cx.proc.cmdline.clone()),
            b"/comm" => Node::Text([super::process::comm(cx.proc), b"\n".to_vec()].concat()),
            b"/cwd" => Node::Link(cx.proc.fs_of(view).get().cwd),
            b"/root" => Node::Link(cx.proc.fs_of(view).get().root),
            b"/fd" => fd_dir(cx.proc.files_of(view)),
            b"/maps" => Node::Text(proc_maps(cx)),
            b"/smaps" => Node::Text(proc_smaps(cx)),
            b"/smaps_rollup" => Node::Text(proc_smaps_rollup(cx)),
            b"/mem" => Node::Mem(super::procmem::MemFile::Mem),
            b"/pagemap" => Node::Mem(super::procmem::MemFile::Pagemap),
            b"/status" => Node::Text(proc_status(cx)),
            b"/stat" => Node::Text(proc_stat(cx)),
            b"/auxv" => Node::Text(cx.proc.auxv.clone()),
            b"/mounts" => Node::Text(mount_table(cx, false).into_bytes()),
            b"/mountinfo" => Node::Text(mount_table(cx, true).into_bytes()),
            b"/map_files" => Node::Dir(
                map_files(cx)
                    .into_iter()
                    .map(|(s, e, _)| (format!("{s:x}-{e:x}").into_bytes(), DT_LNK))
                    .collect(),
            ),
            r if r.starts_with(b"/map_files/") => {
                let range = map_files_range(&r[b"/map_files/".len()..]);
                match map_files(cx)
                    .into_iter()
                    .find(|&(s, e, _)| Some((s, e)) == range)
                {
                    Some((_, _, target)) => Node::Link(target),
                    None => Node::Missing,
                }
            }
            r => match r.strip_prefix(b"/fd/").and_then(fd_num) {
                Some(fd) => match cx.proc.files_of(view).file(fd) {
                    Ok(f) => Node::Link(f.path.clone()),
                    Err(_) => Node::Missing,
                },
                None => Node::Missing,
            },
        };
    }
    if let Some((other, rest)) = proc_pid(path) {
        return other_proc(cx, other, rest);
    }
    Node::Missing
}

/// The mappings /proc/PID/map_files lists, as Linux: those with a file
/// (the program's image, file mappings, shared memory, private /dev/zero),
/// each with its start, end and the path its link gives.
fn map_files(cx: &Ctx) -> Vec<(u64, u64, Vec<u8>)> {
    use super::mm::VmaKind;
    let mm = &cx.proc.mm;
    mm.vmas()
        .filter_map(|(start, v)| {
            let target = match v.kind {
                VmaKind::Image => cx.proc.id.exe.clone(),
                VmaKind::DevZero => b"/dev/zero".to_vec(),
                VmaKind::File { name, .. } | VmaKind::Shared { name, .. } => {
                    mm.file_names.get(name as usize)?.clone()
                }
                _ => return None,
            };
            Some((start, v.end, target))
        })
        .collect()
}

/// A map_files entry's name, "start-end" in lowercase hex with no leading
/// zeros, spaces or overflow (Linux's dname_to_vma_addr); `None` for
/// anything else, which is no entry (ENOENT).
fn map_files_range(name: &[u8]) -> Option<(u64, u64)> {
    let hex = |p: &[u8]| -> Option<u64> {
        let ok = !p.is_empty()
            && p.len() <= 16
            && p.iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && (p[0] != b'0' || p.len() == 1);
        ok.then(|| u64::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
            .flatten()
    };
    let dash = name.iter().position(|&b| b == b'-')?;
    Some((hex(&name[..dash])?, hex(&name[dash + 1..])?))
}

/// /proc/PID and what follows it (empty or from a '/').
fn proc_pid(path: &[u8]) -> Option<(u32, &[u8])> {
    let r = path.strip_prefix(b"/proc/")?;
    let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
    let pid = std::str::from_utf8(&r[..n]).ok()?.parse::<u32>().ok()?;
    let rest = &r[n..];
    (rest.is_empty() || rest.starts_with(b"/")).then_some((pid, rest))
}

/// What a call returns to have itself made again once the caller's
/// thread holds a `Peek` of the process it asked about (`dispatch` takes
/// it with no lock held). Not an errno of Linux's: it never reaches the
/// program.
pub const NEED_PEEK: Errno = Errno::from_raw_os_error(600);

/// What /proc/PID shows of another process that only that process holds:
/// its mappings (maps) and its descriptors (fd). The reader holds its own
/// process's lock and the machine's, and may not wait for another
/// process's (PROCESSES.md 6), so the call gives them up, copies these
/// (`peek`) and is made again.
#[derive(Debug, Default)]
pub struct Peek {
    pid: u32,
    vmas: Vec<(crate::vm::layout::Gva, super::mm::Vma)>,
    names: Vec<Vec<u8>>,
    exe: Vec<u8>,
    fds: Vec<(i32, Vec<u8>)>,
}

/// Whether `path` is another process's maps or fd (or below its task
/// directory) that the calling thread holds no `Peek` of: the pid is
/// left in `Thread::peek_want` and the answer is `NEED_PEEK`.
fn peek_needed(cx: &Ctx, path: &[u8]) -> Result<(), Errno> {
    let Some((pid, rest)) = proc_pid(path) else {
        return Ok(());
    };
    if pid == cx.proc.id.pid {
        return Ok(());
    }
    let rest = task_rest(rest).map_or(rest, |(_, r)| r);
    let held = |p: &Peek| p.pid == pid;
    let me = &cx.proc.threads[cx.proc.cur];
    if !(rest == b"/maps" || rest == b"/fd" || rest.starts_with(b"/fd/"))
        || me.peek.iter().any(held)
    {
        return Ok(());
    }
    me.peek_want
        .store(pid, std::sync::atomic::Ordering::Relaxed);
    Err(NEED_PEEK)
}

/// Copy what `Peek` holds of process `pid`, with none of the caller's
/// locks held (a process in a syscall holds its own for that long).
pub fn peek(cx: &mut Ctx, pid: u32) -> Peek {
    let tasks = std::sync::Arc::clone(&cx.proc.tasks);
    super::wait::unlocked(cx, move || {
        let target = tasks.lock().get(pid);
        let mut peek = Peek {
            pid,
            ..Peek::default()
        };
        if let Some(target) = target {
            let p = target.lock();
            peek.vmas = p.mm.vmas().map(|(a, v)| (a, *v)).collect();
            peek.names = p.mm.file_names.clone();
            peek.exe = p.id.exe.clone();
            // The leader's table, as Linux's /proc/PID/fd.
            peek.fds = p.files_of(pid).paths();
        }
        peek
    })
}

/// `/task/TID` and what follows it (empty or from a '/').
fn task_rest(rest: &[u8]) -> Option<(u32, &[u8])> {
    let r = rest.strip_prefix(b"/task/")?;
    let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
    let tid = std::str::from_utf8(&r[..n]).ok()?.parse::<u32>().ok()?;
    let after = &r[n..];
    (after.is_empty() || after.starts_with(b"/")).then_some((tid, after))
}

/// /proc/PID of another process of the sandbox: its program (cmdline,
/// comm, exe), its state and ids (stat, status), from the process table;
/// its mappings and descriptors (maps, fd) from the calling thread's
/// `Peek` of it.
fn other_proc<'a>(cx: &Ctx, pid: u32, rest: &[u8]) -> Node<'a> {
    let t = cx.proc.tasks.lock();
    let Some(e) = t.procs.get(&pid) else {
        return Node::Missing;
    };
    let zombie = e.zombie.is_some();
    let (state, long) = if zombie {
        ("Z", "Z (zombie)")
    } else if e.stop_event.is_some() {
        ("T", "T (stopped)")
    } else {
        ("S", "S (sleeping)")
    };
    let comm = String::from_utf8_lossy(&e.image.comm).into_owned();
    // Its threads' directories show the same files.
    let rest = match task_rest(rest) {
        Some((tid, r)) if tid == pid || e.tids.contains(&tid) => r,
        Some(_) => return Node::Missing,
        None => rest,
    };
    let peeked = || {
        cx.proc.threads[cx.proc.cur]
            .peek
            .iter()
            .find(|p| p.pid == pid)
    };
    match (rest, peeked()) {
        (b"/maps", Some(p)) => {
            let vmas = p.vmas.iter().map(|(a, v)| (*a, v));
            return Node::Text(maps_file(vmas, &p.names, &p.exe, cx.m.shared()));
        }
        (b"/fd", Some(p)) => {
            return Node::Dir(
                p.fds
                    .iter()
                    .map(|(n, _)| (n.to_string().into_bytes(), DT_LNK))
                    .collect(),
            )
        }
        (r, Some(p)) if r.starts_with(b"/fd/") => {
            let fd = r.strip_prefix(b"/fd/").and_then(fd_num);
            return match p.fds.iter().find(|(n, _)| Some(*n) == fd) {
                Some((_, path)) => Node::Link(path.clone()),
                None => Node::Missing,
            };
        }
        _ => {}
    }
    match rest {
        b"/task" => Node::Dir(
            std::iter::once(pid)
                .chain(e.tids.iter().copied())
                .map(|t| (t.to_string().into_bytes(), DT_DIR))
                .collect(),
        ),
        b"" => Node::Dir(
            [
                "cmdline", "comm", "exe", "fd", "maps", "stat", "status", "task",
            ]
            .iter()
            .map(|n| {
                let t = match *n {
                    "exe" => DT_LNK,
                    "task" | "fd" => DT_DIR,
                    _ => DT_REG,
                };
                (n.as_bytes().to_vec(), t)
            })
            .collect(),
        ),
        // A zombie has no memory: its cmdline reads empty, as Linux's.
        b"/cmdline" if zombie => Node::Text(Vec::new()),
        b"/cmdline" => Node::Text(e.image.cmdline.clone()),
        b"/comm" => Node::Text(format!("{comm}\n").into_bytes()),
        b"/exe" if zombie => Node::Missing,
        b"/exe" => Node::Link(e.image.exe.clone()),
        b"/stat" => {
            let mut f: Vec<String> = vec![
                pid.to_string(),
                format!("({comm})"),
                state.into(),
                e.ppid.to_string(),
                e.pgid.to_string(),
                e.sid.to_string(),
            ];
            f.extend(
                [
                    "0", "-1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "20", "0", "1", "0",
                    "0",
                ]
                .map(String::from),
            );
            f.resize(52, "0".into());
            Node::Text(format!("{}\n", f.join(" ")).into_bytes())
        }
        b"/status" => Node::Text(
            format!(
                "Name:\t{comm}\nState:\t{long}\nTgid:\t{pid}\nPid:\t{pid}\nPPid:\t{}\n\
                 Uid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\nKthread:\t0\n",
                e.ppid,
                u = cx.proc.id.uid,
                g = cx.proc.id.gid,
            )
            .into_bytes(),
        ),
        _ => Node::Missing,
    }
}

fn read_path(cx: &Ctx, addr: u64) -> Result<Vec<u8>, Errno> {
    cx.user().read_cstr(addr, PATH_MAX)
}

fn wants_write(flags: u32) -> bool {
    flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32
        || flags & (libc::O_CREAT | libc::O_TRUNC) as u32 != 0
        || flags & libc::O_TMPFILE as u32 == libc::O_TMPFILE as u32
}

/// What kvmcage may hold for the program's open generated files
/// (/proc/self/maps of 65,530 mappings is megabytes, /proc/self/fd of a
/// million descriptors more): past it, opening another is ENOMEM, so the
/// program cannot grow kvmcage's memory by opening the same file again
/// and again.
const GENERATED_BUDGET: usize = 64 << 20;

fn check_generated(cx: &Ctx, more: usize) -> Result<(), Errno> {
    let held: usize = cx
        .proc
        .files()
        .fds()
        .iter()
        .map(|(_, f)| match &f.kind {
            FileKind::Text(t) => t.lock().len(),
            FileKind::Dir(e) => e.lock().iter().map(|(n, _)| n.len() + 24).sum(),
            _ => 0,
        })
        .sum();
    if held.saturating_add(more) > GENERATED_BUDGET {
        return Err(Errno::NOMEM);
    }
    Ok(())
}

pub fn install(cx: &mut Ctx, file: OpenFile, cloexec: bool) -> SysResult {
    let limit = cx.proc.rlimits.nofile();
    Ok(cx.proc.files().open(file, cloexec, limit)? as u64)
}

/// Where bind() makes a socket file named `name`: the directory (in a
/// writable mount) and the last component. A name that exists is
/// EADDRINUSE, as Linux's.
/// Also the mount's tmpfs accounting, for the new inode.
pub(crate) type SocketPlace = (
    OwnedFd,
    Vec<u8>,
    Option<std::sync::Arc<crate::sandbox::quota::Quota>>,
);

pub(crate) fn socket_place(cx: &Ctx, name: &[u8]) -> Result<SocketPlace, Errno> {
    match create_at(lookup(cx, AT_FDCWD, name, false)?) {
        Ok((mount, dir, leaf)) => Ok((dir, leaf, mount.quota.clone())),
        Err(Errno::EXIST) => Err(Errno::ADDRINUSE),
        Err(e) => Err(e),
    }
}

/// The socket file connect() or sendto() reaches by `name`: an O_PATH
/// descriptor of it. Missing is ENOENT; kvmcage's own nodes are no
/// sockets (ECONNREFUSED, as a regular file is on the host). A socket in a
/// read-only mount is a host service the mount only meant to show (a
/// container runtime's, a desktop bus): EACCES, as for a socket file the
/// program may not write.
pub(crate) fn socket_target(cx: &Ctx, name: &[u8]) -> Result<OwnedFd, Errno> {
    match lookup(cx, AT_FDCWD, name, true)?.node {
        Node::Host { mount, fd, .. } => {
            if !mount.writable && file_type(&fd)?.is_socket() {
                return Err(Errno::ACCESS);
            }
            Ok(fd)
        }
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => Err(Errno::NOENT),
        _ => Err(Errno::CONNREFUSED),
    }
}

/// A regular file the program may write loses its set-id bits.
fn strip_setid(fd: &OwnedFd) -> Result<(), Errno> {
    let st = rustix::fs::fstat(fd)?;
    if st.st_mode & SETID != 0 && rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() {
        rustix::fs::fchmod(fd, Mode::from_raw_mode(st.st_mode & MODE_BITS))?;
    }
    Ok(())
}

/// How files of `mount` are shown.
fn view_of(mount: &Mount) -> View {
    View {
        dev: Some(mount.dev()),
        owned: mount.writable,
    }
}

/// Open `name` in the mount directory `dir` with the guest's (masked)
/// `flags`, never through a symlink, ready for the descriptor table; a
/// file opened for writing in a writable mount loses its set-id bits.
/// What opening a file needs of its mount, held apart from the policy so
/// that the open can wait with the process's lock given up.
struct OpenMount {
    writable: bool,
    quota: Option<Arc<crate::sandbox::quota::Quota>>,
    view: View,
}

impl OpenMount {
    fn of(mount: &Mount) -> Self {
        Self {
            writable: mount.writable,
            quota: mount.quota.clone(),
            view: view_of(mount),
        }
    }
}

fn open_in(
    cx: &mut Ctx,
    mount: OpenMount,
    (dir, name): (&OwnedFd, &[u8]),
    flags: u32,
    mode: Mode,
    path: Vec<u8>,
    status: u32,
) -> Result<OpenFile, Errno> {
    let open = || {
        rustix::fs::openat2(
            dir,
            os(name),
            OFlags::from_bits_retain(flags) | OFlags::CLOEXEC,
            mode,
            beneath(),
        )
    };
    // Opening a FIFO blocks until its other end is opened (perhaps by
    // another thread): with the locks given up and the kick unblocked, so
    // a signal (ERESTARTSYS, as Linux) or the run's end interrupts it.
    // Other opens do not block; the mask costs two calls.
    let fd = if flags & libc::O_NONBLOCK as u32 == 0 {
        match super::wait::interruptible(cx, open) {
            Err(Errno::INTR) => return Err(super::wait::ERESTARTSYS),
            r => r?,
        }
    } else {
        open()?
    };
    if mount.writable && flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32 {
        strip_setid(&fd)?;
    }
    let hold = mount.quota.as_ref().and_then(|q| q.hold(&fd));
    let mut f = OpenFile::new(
        FileKind::Host {
            fd,
            writable: mount.writable,
        },
        path,
        status,
    );
    f.view = mount.view;
    f.tmpfs = hold;
    Ok(f)
}

fn do_open(cx: &mut Ctx, dirfd: i32, path: u64, flags: u32, mode: u32) -> SysResult {
    do_open_how(cx, dirfd, path, flags, mode, Resolve::default(), false)
}

/// open with openat2's `resolve` restrictions; `in_root`: RESOLVE_IN_ROOT.
fn do_open_how(
    cx: &mut Ctx,
    dirfd: i32,
    path: u64,
    flags: u32,
    mode: u32,
    how: Resolve,
    in_root: bool,
) -> SysResult {
    let (file, cloexec) = open_file(cx, dirfd, path, flags, mode, how, in_root)?;
    let limit = cx.proc.rlimits.nofile();
    Ok(cx.proc.files().share(file, cloexec, limit)? as u64)
}

/// What `do_open_how` opens, not yet given a descriptor, and whether
/// the descriptor is to be close-on-exec.
fn open_file(
    cx: &mut Ctx,
    dirfd: i32,
    path: u64,
    flags: u32,
    mode: u32,
    how: Resolve,
    in_root: bool,
) -> Result<(std::sync::Arc<OpenFile>, bool), Errno> {
    let name = read_path(cx, path)?;
    let flags = flags & OPEN_ALLOWED;
    let creat = flags & libc::O_CREAT as u32 != 0;
    let excl = creat && flags & libc::O_EXCL as u32 != 0;
    let tmpfile = flags & libc::O_TMPFILE as u32 == libc::O_TMPFILE as u32;
    let cloexec = flags & libc::O_CLOEXEC as u32 != 0;
    let status = flags & !(libc::O_CLOEXEC as u32);
    // O_CREAT|O_EXCL never follows a final symlink (EEXIST), as Linux.
    let follow = flags & libc::O_NOFOLLOW as u32 == 0 && !excl;
    let l = if how.scoped {
        // BENEATH and IN_ROOT walk as if `dirfd` were the root.
        let root = base_dir(cx, dirfd)?;
        let root = if in_root || how.scope.beneath {
            root
        } else {
            cx.proc.root()
        };
        lookup_in(cx, &root, dirfd, &name, follow, how)?
    } else {
        lookup_in(cx, &cx.proc.root(), dirfd, &name, follow, how)?
    };
    let exists = !matches!(
        l.node,
        Node::Absent { .. } | Node::AbsentVirtual | Node::Missing
    );
    if excl && exists {
        return Err(Errno::EXIST);
    }
    // Linux ignores the mode unless it creates; openat2 refuses it then.
    let mode = if creat || tmpfile {
        Mode::from_raw_mode(mode & MODE_BITS & !cx.proc.umask())
    } else {
        Mode::empty()
    };
    let file = match l.node {
        Node::Dev(d) => OpenFile::new(FileKind::Dev(d), l.path, status),
        Node::Fd(fd) => {
            // Linux reopens the file; for kvmcage's stdio and pipes the same
            // open file is the closest it can give.
            let f = cx.proc.files().file(fd).map_err(|_| Errno::NOENT)?;
            return Ok((f, cloexec));
        }
        Node::Dir(entries) => {
            if wants_write(flags) {
                return Err(Errno::ISDIR);
            }
            let size = entries.iter().map(|(n, _)| n.len() + 24).sum();
            check_generated(cx, size)?;
            OpenFile::new(FileKind::Dir(entries.into()), l.path, status)
        }
        Node::Mem(which) => {
            if which == super::procmem::MemFile::Pagemap && wants_write(flags) {
                return Err(Errno::ACCESS);
            }
            if flags & libc::O_DIRECTORY as u32 != 0 {
                return Err(Errno::NOTDIR);
            }
            super::procmem::open(cx, which, l.path, status)
        }
        Node::Text(t) => {
            if wants_write(flags) {
                return Err(Errno::ACCESS);
            }
            check_generated(cx, t.len())?;
            if flags & libc::O_DIRECTORY as u32 != 0 {
                return Err(Errno::NOTDIR);
            }
            OpenFile::new(FileKind::Text(t.into()), l.path, status)
        }
        Node::Exe => {
            if wants_write(flags) {
                return Err(Errno::ACCESS);
            }
            let exe = cx.proc.exe_file.as_ref().ok_or(Errno::NOENT)?;
            let fd = exe.try_clone().map_err(|_| Errno::MFILE)?;
            let mut f = OpenFile::new(
                FileKind::Host {
                    fd,
                    writable: false,
                },
                l.path,
                status,
            );
            f.view.dev = Some(EXE_DEV);
            f
        }
        Node::Link(_) => return Err(Errno::NOENT),
        Node::Missing => return Err(Errno::NOENT),
        Node::AbsentVirtual => return Err(if creat { Errno::ROFS } else { Errno::NOENT }),
        Node::Absent { mount, dir, name } => {
            if !creat {
                return Err(Errno::NOENT);
            }
            if l.trailing_slash {
                return Err(Errno::ISDIR);
            }
            if !mount.writable {
                return Err(Errno::ROFS);
            }
            if let Some(q) = &mount.quota {
                q.may_create()?;
            }
            open_in(
                cx,
                OpenMount::of(mount),
                (&dir, &name),
                flags,
                mode,
                l.path,
                status,
            )?
        }
        Node::Host {
            mount,
            dir,
            name,
            fd: _,
        } => {
            if wants_write(flags) && !mount.writable {
                return Err(Errno::ROFS);
            }
            if tmpfile {
                if let Some(q) = &mount.quota {
                    q.may_create()?;
                }
            }
            // It exists: O_CREAT no longer applies, nor its mode (which
            // openat2 refuses without O_CREAT: `> file` of an existing
            // file was EINVAL).
            let (host_flags, mode) = if tmpfile {
                (flags, mode)
            } else {
                (
                    flags & !(libc::O_CREAT | libc::O_EXCL) as u32,
                    Mode::empty(),
                )
            };
            open_in(
                cx,
                OpenMount::of(mount),
                (&dir, &name),
                host_flags,
                mode,
                l.path,
                status,
            )?
        }
    };
    if flags & libc::O_TRUNC as u32 != 0 {
        if let Some(fd) = file.host() {
            super::mm::file_truncated(cx, fd);
        }
    }
    Ok((std::sync::Arc::new(file), cloexec))
}

pub fn sys_open(cx: &mut Ctx, a: &Args) -> SysResult {
    do_open(cx, AT_FDCWD, a.0[0], a.0[1] as u32, a.0[2] as u32)
}

pub fn sys_openat(cx: &mut Ctx, a: &Args) -> SysResult {
    do_open(cx, int(a.0[0]), a.0[1], a.0[2] as u32, a.0[3] as u32)
}

/// openat2(2)'s `resolve` bits.
const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_CACHED: u64 = 0x20;
/// sizeof(struct open_how) in its first version.
const OPEN_HOW_SIZE_VER0: u64 = 24;
/// Linux's VALID_OPEN_FLAGS: what openat2 accepts (open ignores the rest).
const VALID_OPEN_FLAGS: u64 = (libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | libc::O_TMPFILE) as u64;

/// openat2(dirfd, path, how, size): open with Linux's strict checks of
/// `struct open_how` (build_open_how/build_open_flags) and its RESOLVE_*
/// restrictions on the walk.
pub fn sys_openat2(cx: &mut Ctx, a: &Args) -> SysResult {
    let (dirfd, path, how_at, size) = (int(a.0[0]), a.0[1], a.0[2], a.0[3]);
    if size < OPEN_HOW_SIZE_VER0 {
        return Err(Errno::INVAL);
    }
    if size > 4096 {
        return Err(Errno::TOOBIG);
    }
    let mut how = vec![0u8; size as usize];
    cx.user().read(how_at, &mut how)?;
    // A newer struct: fields this kernel does not know must be zero.
    if how[OPEN_HOW_SIZE_VER0 as usize..].iter().any(|&b| b != 0) {
        return Err(Errno::TOOBIG);
    }
    let word = |i: usize| u64::from_le_bytes(how[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    if flags & !VALID_OPEN_FLAGS != 0 {
        return Err(Errno::INVAL);
    }
    let tmpfile = flags & libc::O_TMPFILE as u64 == libc::O_TMPFILE as u64;
    let creat = flags & libc::O_CREAT as u64 != 0;
    if creat || tmpfile {
        if mode & !u64::from(MODE_BITS) != 0 {
            return Err(Errno::INVAL);
        }
    } else if mode != 0 {
        return Err(Errno::INVAL);
    }
    if resolve & !0x3f != 0
        || resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) == RESOLVE_BENEATH | RESOLVE_IN_ROOT
    {
        return Err(Errno::INVAL);
    }
    if creat && flags & libc::O_DIRECTORY as u64 != 0 {
        return Err(Errno::INVAL);
    }
    if tmpfile {
        let acc = flags & libc::O_ACCMODE as u64;
        if creat || (acc != libc::O_WRONLY as u64 && acc != libc::O_RDWR as u64) {
            return Err(Errno::INVAL);
        }
    }
    if flags & libc::O_PATH as u64 != 0 {
        let with_path =
            (libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC) as u64;
        if flags & !with_path != 0 {
            return Err(Errno::INVAL);
        }
    }
    if resolve & RESOLVE_CACHED != 0 && (creat || tmpfile || flags & libc::O_TRUNC as u64 != 0) {
        return Err(Errno::AGAIN);
    }
    let how = Resolve {
        scope: Scope {
            no_symlinks: resolve & RESOLVE_NO_SYMLINKS != 0,
            beneath: resolve & RESOLVE_BENEATH != 0,
            no_xdev: resolve & RESOLVE_NO_XDEV != 0,
        },
        no_magiclinks: resolve & RESOLVE_NO_MAGICLINKS != 0,
        scoped: resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0,
    };
    let in_root = resolve & RESOLVE_IN_ROOT != 0;
    do_open_how(cx, dirfd, path, flags as u32, mode as u32, how, in_root)
}

pub fn sys_creat(cx: &mut Ctx, a: &Args) -> SysResult {
    let flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u32;
    do_open(cx, AT_FDCWD, a.0[0], flags, a.0[1] as u32)
}

/// A stat of something kvmcage makes up.
fn synthetic_stat(mode: u32, rdev: u64, size: u64) -> Stat {
    Stat {
        st_ino: 1,
        st_nlink: if mode & 0o170000 == 0o040000 { 2 } else { 1 },
        st_mode: mode,
        st_rdev: rdev,
        st_size: size as i64,
        st_blksize: 4096,
        ..Stat::default()
    }
}

/// The stat of an open file, as the guest sees it.
pub fn stat_of(cx: &Ctx, f: &OpenFile) -> Result<Stat, Errno> {
    Ok(match &f.kind {
        FileKind::Stdio(_) | FileKind::Host { .. } => guest_stat(
            rustix::fs::fstat(f.host().ok_or(Errno::BADF)?)?,
            f.view,
            &cx.proc.id,
        ),
        FileKind::Dev(d) => synthetic_stat(0o020666, d.rdev(), 0),
        FileKind::Dir(_) => synthetic_stat(0o040555, 0, 0),
        FileKind::Text(_) => synthetic_stat(0o100444, 0, 0),
        // An anonymous inode: no file type bits, mode 0600.
        FileKind::SignalFd(_) => synthetic_stat(0o600, 0, 0),
        FileKind::Mem { .. } => synthetic_stat(0o100600, 0, 0),
    })
}

fn stat_path(cx: &Ctx, dirfd: i32, name: &[u8], follow: bool) -> Result<Stat, Errno> {
    let l = lookup(cx, dirfd, name, follow)?;
    match l.node {
        Node::Dev(d) => Ok(synthetic_stat(0o020666, d.rdev(), 0)),
        Node::Fd(fd) if follow => stat_of(
            cx,
            cx.proc.files().file(fd).map_err(|_| Errno::NOENT)?.as_ref(),
        ),
        Node::Fd(_) | Node::Link(_) => Ok(synthetic_stat(0o120777, 0, 0)),
        Node::Dir(_) => Ok(synthetic_stat(0o040555, 0, 0)),
        Node::Text(_) => Ok(synthetic_stat(0o100444, 0, 0)),
        Node::Mem(super::procmem::MemFile::Mem) => Ok(synthetic_stat(0o100600, 0, 0)),
        Node::Mem(_) => Ok(synthetic_stat(0o100400, 0, 0)),
        Node::Exe => {
            let exe = cx.proc.exe_file.as_ref().ok_or(Errno::NOENT)?;
            let view = View {
                dev: Some(EXE_DEV),
                owned: false,
            };
            Ok(guest_stat(
                rustix::fs::fstat(exe.as_ref())?,
                view,
                &cx.proc.id,
            ))
        }
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => Err(Errno::NOENT),
        Node::Host { mount, fd, .. } => Ok(guest_stat(
            rustix::fs::fstat(&fd)?,
            view_of(mount),
            &cx.proc.id,
        )),
    }
}

fn stat_common(cx: &mut Ctx, dirfd: i32, path: u64, buf: u64, flags: u32) -> SysResult {
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | 0x800 | 0x6000) != 0 {
        return Err(Errno::INVAL);
    }
    let name = read_path(cx, path)?;
    let st = if name.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::NOENT);
        }
        if dirfd == AT_FDCWD {
            stat_path(cx, AT_FDCWD, b".", true)?
        } else {
            stat_of(cx, cx.proc.files().file(dirfd)?.as_ref())?
        }
    } else {
        stat_path(cx, dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    cx.user().write_obj(buf, &st)?;
    Ok(0)
}

pub fn sys_stat(cx: &mut Ctx, a: &Args) -> SysResult {
    stat_common(cx, AT_FDCWD, a.0[0], a.0[1], 0)
}

pub fn sys_lstat(cx: &mut Ctx, a: &Args) -> SysResult {
    stat_common(cx, AT_FDCWD, a.0[0], a.0[1], AT_SYMLINK_NOFOLLOW)
}

pub fn sys_newfstatat(cx: &mut Ctx, a: &Args) -> SysResult {
    stat_common(cx, int(a.0[0]), a.0[1], a.0[2], a.0[3] as u32)
}

pub fn sys_fstat(cx: &mut Ctx, a: &Args) -> SysResult {
    let st = stat_of(cx, cx.proc.files().file(int(a.0[0]))?.as_ref())?;
    cx.user().write_obj(a.0[1], &st)?;
    Ok(0)
}

/// statx, from the same stat: the fields Linux fills for STATX_BASIC_STATS.
pub fn sys_statx(cx: &mut Ctx, a: &Args) -> SysResult {
    let (dirfd, path, flags, buf) = (int(a.0[0]), a.0[1], a.0[2] as u32, a.0[4]);
    let name = read_path(cx, path)?;
    let st = if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            stat_path(cx, AT_FDCWD, b".", true)?
        } else {
            stat_of(cx, cx.proc.files().file(dirfd)?.as_ref())?
        }
    } else {
        if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | 0x800 | 0x6000) != 0 {
            return Err(Errno::INVAL);
        }
        stat_path(cx, dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    let ts = |sec: i64, nsec: i64| StatxTimestamp {
        tv_sec: sec,
        tv_nsec: nsec as u32,
        reserved: 0,
    };
    let x = Statx {
        stx_mask: 0x7ff, // STATX_BASIC_STATS
        stx_blksize: st.st_blksize as u32,
        stx_nlink: st.st_nlink as u32,
        stx_uid: st.st_uid,
        stx_gid: st.st_gid,
        stx_mode: st.st_mode as u16,
        stx_ino: st.st_ino,
        stx_size: st.st_size as u64,
        stx_blocks: st.st_blocks as u64,
        stx_atime: ts(st.st_atime, st.st_atime_nsec),
        stx_ctime: ts(st.st_ctime, st.st_ctime_nsec),
        stx_mtime: ts(st.st_mtime, st.st_mtime_nsec),
        stx_rdev_major: rustix::fs::major(st.st_rdev),
        stx_rdev_minor: rustix::fs::minor(st.st_rdev),
        stx_dev_major: rustix::fs::major(st.st_dev),
        stx_dev_minor: rustix::fs::minor(st.st_dev),
        ..Statx::default()
    };
    cx.user().write_obj(buf, &x)?;
    Ok(0)
}

fn access_common(cx: &mut Ctx, dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(0x200 | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::INVAL);
    }
    let name = read_path(cx, path)?;
    let l = lookup(cx, dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    match l.node {
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => Err(Errno::NOENT),
        Node::Host { mount, fd, .. } => {
            if mode & 2 != 0 && !mount.writable {
                return Err(Errno::ROFS);
            }
            let access = rustix::fs::Access::from_bits_retain(mode);
            rustix::fs::access(fd_path(&fd), access)?;
            Ok(0)
        }
        Node::Dir(_) | Node::Text(_) if mode & 2 != 0 => Err(Errno::ACCESS),
        Node::Mem(super::procmem::MemFile::Pagemap) if mode & 2 != 0 => Err(Errno::ACCESS),
        _ => Ok(0),
    }
}

pub fn sys_access(cx: &mut Ctx, a: &Args) -> SysResult {
    access_common(cx, AT_FDCWD, a.0[0], a.0[1] as u32, 0)
}

pub fn sys_faccessat(cx: &mut Ctx, a: &Args) -> SysResult {
    access_common(cx, int(a.0[0]), a.0[1], a.0[2] as u32, 0)
}

pub fn sys_faccessat2(cx: &mut Ctx, a: &Args) -> SysResult {
    access_common(cx, int(a.0[0]), a.0[1], a.0[2] as u32, a.0[3] as u32)
}

fn readlink_common(cx: &mut Ctx, dirfd: i32, path: u64, buf: u64, size: u64) -> SysResult {
    let size = int(size);
    let name = read_path(cx, path)?;
    if size <= 0 {
        return Err(Errno::INVAL);
    }
    let l = lookup(cx, dirfd, &name, false)?;
    let target = match l.node {
        // /proc/self is Linux's link to the caller's own /proc/<pid>.
        Node::Dir(_) if l.path == b"/proc/self" => cx.proc.id.pid.to_string().into_bytes(),
        Node::Link(t) => seen_from_root(cx, &t),
        Node::Fd(fd) => seen_from_root(
            cx,
            &cx.proc.files().file(fd).map_err(|_| Errno::NOENT)?.path,
        ),
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => return Err(Errno::NOENT),
        Node::Host { fd, .. } => {
            if !file_type(&fd)?.is_symlink() {
                return Err(Errno::INVAL);
            }
            rustix::fs::readlinkat(&fd, "", Vec::new())?.into_bytes()
        }
        _ => return Err(Errno::INVAL),
    };
    let n = target.len().min(size as usize);
    cx.user().write(buf, &target[..n])?;
    Ok(n as u64)
}

pub fn sys_readlink(cx: &mut Ctx, a: &Args) -> SysResult {
    readlink_common(cx, AT_FDCWD, a.0[0], a.0[1], a.0[2])
}

pub fn sys_readlinkat(cx: &mut Ctx, a: &Args) -> SysResult {
    readlink_common(cx, int(a.0[0]), a.0[1], a.0[2], a.0[3])
}

/// Where a new name goes (mkdir, symlink, link, mknod): EEXIST when
/// something is there, before EROFS, as Linux's filename_create.
fn create_at<'a>(l: Lookup<'a>) -> Result<(&'a Mount, OwnedFd, Vec<u8>), Errno> {
    match l.node {
        Node::Absent { mount, dir, name } => {
            if !mount.writable {
                return Err(Errno::ROFS);
            }
            if let Some(q) = &mount.quota {
                q.may_create()?;
            }
            Ok((mount, dir, name))
        }
        Node::AbsentVirtual => Err(Errno::ROFS),
        Node::Missing => Err(Errno::NOENT),
        _ => Err(Errno::EXIST),
    }
}

/// An existing object the program changes, in a writable mount: the
/// mount, the directory holding its name, the name, and the object.
type Writable<'a> = (&'a Mount, OwnedFd, Vec<u8>, OwnedFd);

/// The object a walk reached, if the program may change it: EROFS in a
/// read-only mount or a virtual directory, `special` for kvmcage's own
/// /dev and /proc nodes, ENOENT when missing.
fn writable(l: Lookup<'_>, special: Errno) -> Result<Writable<'_>, Errno> {
    match l.node {
        Node::Host {
            mount,
            dir,
            name,
            fd,
        } => {
            if !mount.writable {
                return Err(Errno::ROFS);
            }
            Ok((mount, dir, name, fd))
        }
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => Err(Errno::NOENT),
        _ if crate::sandbox::namei::is_special(&l.path) => Err(special),
        _ => Err(Errno::ROFS),
    }
}

/// An existing name to remove or rename: a mount point is EBUSY.
fn existing_at(l: Lookup<'_>) -> Result<Writable<'_>, Errno> {
    let mount_point = matches!(&l.node, Node::Host { name, .. } if name == b"." && l.dots == 0);
    if mount_point {
        return Err(Errno::BUSY);
    }
    writable(l, Errno::ROFS)
}

/// The mount a walked path lies in, if any.
fn mount_of<'a>(l: &Lookup<'a>) -> Option<&'a Mount> {
    match &l.node {
        Node::Host { mount, .. } | Node::Absent { mount, .. } => Some(mount),
        _ => None,
    }
}

/// The new inode `name` in `dir` joins `mount`'s tmpfs accounting.
pub(crate) fn account_new(
    quota: Option<&crate::sandbox::quota::Quota>,
    dir: &OwnedFd,
    name: &[u8],
) {
    if let Some(q) = quota {
        if let Ok(fd) = rustix::fs::openat2(
            dir,
            os(name),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            beneath(),
        ) {
            q.update(&fd);
        }
    }
}

/// `fd`'s inode loses the name it had in `mount`: tell its tmpfs.
fn before_unlink(mount: &Mount, fd: &OwnedFd) -> Option<(u64, u64)> {
    mount.quota.as_ref()?;
    rustix::fs::fstat(fd)
        .ok()
        .map(|st| (st.st_ino, st.st_nlink))
}

fn after_unlink(mount: &Mount, gone: Option<(u64, u64)>) {
    if let (Some(q), Some((ino, nlink))) = (&mount.quota, gone) {
        q.unlinked(ino, nlink);
    }
}

fn mkdir_common(cx: &mut Ctx, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let name = read_path(cx, path)?;
    let l = lookup(cx, dirfd, &name, false)?;
    let (mount, dir, last) = create_at(l)?;
    rustix::fs::mkdirat(
        &dir,
        os(&last),
        Mode::from_raw_mode(mode & MODE_BITS & !cx.proc.umask()),
    )?;
    account_new(mount.quota.as_deref(), &dir, &last);
    Ok(0)
}

/// mknodat: regular files, FIFOs and socket nodes in a writable mount;
/// device nodes need CAP_MKNOD, which the program never has (EPERM, after
/// the path is checked, as Linux's vfs_mknod).
fn mknod_common(cx: &mut Ctx, dirfd: i32, path: u64, mode: u32) -> SysResult {
    use rustix::fs::FileType as T;
    let kind = match mode & libc::S_IFMT {
        // Linux's may_mknod: a directory is mkdir's job.
        libc::S_IFDIR => return Err(Errno::PERM),
        0 | libc::S_IFREG => T::RegularFile,
        libc::S_IFIFO => T::Fifo,
        libc::S_IFSOCK => T::Socket,
        libc::S_IFCHR => T::CharacterDevice,
        libc::S_IFBLK => T::BlockDevice,
        _ => return Err(Errno::INVAL),
    };
    let name = read_path(cx, path)?;
    let l = lookup(cx, dirfd, &name, false)?;
    let (mount, dir, last) = create_at(l)?;
    if matches!(kind, T::CharacterDevice | T::BlockDevice) {
        return Err(Errno::PERM);
    }
    rustix::fs::mknodat(
        &dir,
        os(&last),
        kind,
        Mode::from_raw_mode(mode & MODE_BITS & !cx.proc.umask()),
        0,
    )?;
    account_new(mount.quota.as_deref(), &dir, &last);
    Ok(0)
}

pub fn sys_mknod(cx: &mut Ctx, a: &Args) -> SysResult {
    mknod_common(cx, AT_FDCWD, a.0[0], a.0[1] as u32)
}

pub fn sys_mknodat(cx: &mut Ctx, a: &Args) -> SysResult {
    mknod_common(cx, int(a.0[0]), a.0[1], a.0[2] as u32)
}

pub fn sys_mkdir(cx: &mut Ctx, a: &Args) -> SysResult {
    mkdir_common(cx, AT_FDCWD, a.0[0], a.0[1] as u32)
}

pub fn sys_mkdirat(cx: &mut Ctx, a: &Args) -> SysResult {
    mkdir_common(cx, int(a.0[0]), a.0[1], a.0[2] as u32)
}

fn unlink_common(cx: &mut Ctx, dirfd: i32, path: u64, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::INVAL);
    }
    let rmdir = flags & AT_REMOVEDIR != 0;
    let name = read_path(cx, path)?;
    let l = lookup(cx, dirfd, &name, false)?;
    if rmdir {
        match l.dots {
            1 => return Err(Errno::INVAL),
            2 => return Err(Errno::NOTEMPTY),
            _ => {}
        }
    } else {
        // unlink of a directory is EISDIR, whatever else is wrong with it.
        let is_dir = match &l.node {
            Node::Host { fd, .. } => file_type(fd)?.is_dir(),
            Node::Dir(_) => true,
            _ => false,
        };
        if is_dir {
            return Err(Errno::ISDIR);
        }
    }
    let (mount, dir, last, fd) = existing_at(l)?;
    let gone = before_unlink(mount, &fd);
    let at = if rmdir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    rustix::fs::unlinkat(&dir, os(&last), at)?;
    after_unlink(mount, gone);
    Ok(0)
}

pub fn sys_unlink(cx: &mut Ctx, a: &Args) -> SysResult {
    unlink_common(cx, AT_FDCWD, a.0[0], 0)
}

pub fn sys_rmdir(cx: &mut Ctx, a: &Args) -> SysResult {
    unlink_common(cx, AT_FDCWD, a.0[0], AT_REMOVEDIR)
}

pub fn sys_unlinkat(cx: &mut Ctx, a: &Args) -> SysResult {
    unlink_common(cx, int(a.0[0]), a.0[1], a.0[2] as u32)
}

fn rename_common(
    cx: &mut Ctx,
    olddir: i32,
    old: u64,
    newdir: i32,
    new: u64,
    flags: u32,
) -> SysResult {
    const RENAME_NOREPLACE: u32 = 1;
    const RENAME_EXCHANGE: u32 = 2;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
        || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
    {
        return Err(Errno::INVAL);
    }
    let (oname, nname) = (read_path(cx, old)?, read_path(cx, new)?);
    let lo = lookup(cx, olddir, &oname, false)?;
    let ln = lookup(cx, newdir, &nname, false)?;
    if lo.dots != 0 || ln.dots != 0 {
        return Err(Errno::BUSY);
    }
    // Linux checks the mounts first (EXDEV), then writability (EROFS),
    // then the names.
    if let (Some(m1), Some(m2)) = (mount_of(&lo), mount_of(&ln)) {
        if !std::ptr::eq(m1, m2) {
            return Err(Errno::XDEV);
        }
    }
    let (m1, d1, l1, _) = existing_at(lo)?;
    let (m2, d2, l2, replaced) = match ln.node {
        Node::Absent { .. } | Node::AbsentVirtual | Node::Missing => {
            let (m, d, l) = create_at(ln)?;
            (m, d, l, None)
        }
        _ => {
            let (m, d, l, fd) = existing_at(ln)?;
            (m, d, l, Some(fd))
        }
    };
    if !std::ptr::eq(m1, m2) {
        return Err(Errno::XDEV);
    }
    let gone = replaced
        .as_ref()
        .filter(|_| flags & RENAME_EXCHANGE == 0)
        .and_then(|fd| before_unlink(m2, fd));
    rustix::fs::renameat_with(
        &d1,
        os(&l1),
        &d2,
        os(&l2),
        rustix::fs::RenameFlags::from_bits_retain(flags),
    )?;
    after_unlink(m2, gone);
    Ok(0)
}

pub fn sys_rename(cx: &mut Ctx, a: &Args) -> SysResult {
    rename_common(cx, AT_FDCWD, a.0[0], AT_FDCWD, a.0[1], 0)
}

pub fn sys_renameat(cx: &mut Ctx, a: &Args) -> SysResult {
    rename_common(cx, int(a.0[0]), a.0[1], int(a.0[2]), a.0[3], 0)
}

pub fn sys_renameat2(cx: &mut Ctx, a: &Args) -> SysResult {
    rename_common(cx, int(a.0[0]), a.0[1], int(a.0[2]), a.0[3], a.0[4] as u32)
}

fn symlink_common(cx: &mut Ctx, target: u64, dirfd: i32, path: u64) -> SysResult {
    let target = read_path(cx, target)?;
    if target.is_empty() {
        return Err(Errno::NOENT);
    }
    let name = read_path(cx, path)?;
    let l = lookup(cx, dirfd, &name, false)?;
    let (mount, dir, last) = create_at(l)?;
    // Stored as given: following it later is a walk by guest path.
    rustix::fs::symlinkat(os(&target), &dir, os(&last))?;
    account_new(mount.quota.as_deref(), &dir, &last);
    Ok(0)
}

pub fn sys_symlink(cx: &mut Ctx, a: &Args) -> SysResult {
    symlink_common(cx, a.0[0], AT_FDCWD, a.0[1])
}

pub fn sys_symlinkat(cx: &mut Ctx, a: &Args) -> SysResult {
    symlink_common(cx, a.0[0], int(a.0[1]), a.0[2])
}

fn link_common(
    cx: &mut Ctx,
    olddir: i32,
    old: u64,
    newdir: i32,
    new: u64,
    flags: u32,
) -> SysResult {
    const AT_SYMLINK_FOLLOW: u32 = 0x400;
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::INVAL);
    }
    let (oname, nname) = (read_path(cx, old)?, read_path(cx, new)?);
    // Linux's order: the old name must exist (ENOENT), the new one must
    // not (EEXIST, EROFS), both in one mount (EXDEV), and no directory may
    // be hard-linked (EPERM).
    let lo = lookup(cx, olddir, &oname, flags & AT_SYMLINK_FOLLOW != 0)?;
    if matches!(
        lo.node,
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual
    ) {
        return Err(Errno::NOENT);
    }
    let ln = lookup(cx, newdir, &nname, false)?;
    let (m2, d2, l2) = create_at(ln)?;
    let Node::Host {
        mount: m1,
        dir: d1,
        name: l1,
        fd,
    } = lo.node
    else {
        return Err(Errno::XDEV);
    };
    if !std::ptr::eq(m1, m2) {
        return Err(Errno::XDEV);
    }
    if file_type(&fd)?.is_dir() {
        return Err(Errno::PERM);
    }
    // The name the walk reached (the target when following): linked
    // without following anything further.
    rustix::fs::linkat(&d1, os(&l1), &d2, os(&l2), AtFlags::empty())?;
    Ok(0)
}

pub fn sys_link(cx: &mut Ctx, a: &Args) -> SysResult {
    link_common(cx, AT_FDCWD, a.0[0], AT_FDCWD, a.0[1], 0)
}

pub fn sys_linkat(cx: &mut Ctx, a: &Args) -> SysResult {
    link_common(cx, int(a.0[0]), a.0[1], int(a.0[2]), a.0[3], a.0[4] as u32)
}

/// A path for a metadata change (chmod, truncate, utimes), symlinks
/// followed unless `follow` is false. kvmcage's /dev and /proc nodes
/// belong to root: the program may not change them (EPERM).
fn for_change<'a>(
    cx: &'a Ctx,
    dirfd: i32,
    name: &[u8],
    follow: bool,
) -> Result<Writable<'a>, Errno> {
    writable(lookup(cx, dirfd, name, follow)?, Errno::PERM)
}

/// The host path of our own descriptor, for calls that take no fd
/// (chmod): /proc/self/fd/N names exactly the inode we opened safely.
fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn chmod_common(cx: &mut Ctx, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let name = read_path(cx, path)?;
    let (_, _, _, fd) = for_change(cx, dirfd, &name, true)?;
    rustix::fs::chmod(fd_path(&fd), Mode::from_raw_mode(mode & MODE_BITS))?;
    Ok(0)
}

pub fn sys_chmod(cx: &mut Ctx, a: &Args) -> SysResult {
    chmod_common(cx, AT_FDCWD, a.0[0], a.0[1] as u32)
}

pub fn sys_fchmodat(cx: &mut Ctx, a: &Args) -> SysResult {
    chmod_common(cx, int(a.0[0]), a.0[1], a.0[2] as u32)
}

/// fchmodat2(dirfd, path, mode, flags): fchmodat with the flags Linux 6.6
/// added: AT_SYMLINK_NOFOLLOW (a symlink's own mode: EOPNOTSUPP, as on
/// Linux's filesystems) and AT_EMPTY_PATH (the descriptor itself).
pub fn sys_fchmodat2(cx: &mut Ctx, a: &Args) -> SysResult {
    let (dirfd, path, mode, flags) = (int(a.0[0]), a.0[1], a.0[2] as u32, a.0[3] as u32);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::INVAL);
    }
    let name = read_path(cx, path)?;
    if name.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::NOENT);
        }
        return fchmod_fd(cx, dirfd, mode);
    }
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let (_, _, _, fd) = for_change(cx, dirfd, &name, follow)?;
    if !follow && file_type(&fd)?.is_symlink() {
        return Err(Errno::OPNOTSUPP);
    }
    rustix::fs::chmod(fd_path(&fd), Mode::from_raw_mode(mode & MODE_BITS))?;
    Ok(0)
}

pub fn sys_fchmod(cx: &mut Ctx, a: &Args) -> SysResult {
    fchmod_fd(cx, int(a.0[0]), a.0[1] as u32)
}

fn fchmod_fd(cx: &mut Ctx, fd: i32, mode: u32) -> SysResult {
    let f = cx.proc.files().file(fd)?;
    match &f.kind {
        FileKind::Host { fd, writable } => {
            if !writable {
                return Err(Errno::ROFS);
            }
            rustix::fs::fchmod(fd, Mode::from_raw_mode(mode & MODE_BITS))?;
            Ok(0)
        }
        _ => Err(Errno::PERM),
    }
}

pub fn sys_truncate(cx: &mut Ctx, a: &Args) -> SysResult {
    let len = a.0[1] as i64;
    if len < 0 {
        return Err(Errno::INVAL);
    }
    let name = read_path(cx, a.0[0])?;
    let (mount, dir, last, obj) = for_change(cx, AT_FDCWD, &name, true)?;
    // Linux's vfs_truncate: a directory is EISDIR, anything else that is
    // not a regular file EINVAL (and a FIFO is never opened, which would
    // block).
    match file_type(&obj)? {
        t if t.is_dir() => return Err(Errno::ISDIR),
        t if !t.is_file() => return Err(Errno::INVAL),
        _ => {}
    }
    let fd = rustix::fs::openat2(
        &dir,
        os(&last),
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
        beneath(),
    )?;
    let quota = mount.quota.clone();
    super::fs::check_file_size(cx, len as u64)?;
    strip_setid(&fd)?;
    rustix::fs::ftruncate(&fd, len as u64)?;
    if let Some(q) = quota {
        q.update(&fd);
    }
    super::mm::file_truncated(cx, fd.as_fd());
    Ok(0)
}

pub fn sys_ftruncate(cx: &mut Ctx, a: &Args) -> SysResult {
    let len = a.0[1] as i64;
    let f = cx.proc.files().file(int(a.0[0]))?;
    if len < 0 {
        return Err(Errno::INVAL);
    }
    match (&f.kind, f.host()) {
        (FileKind::Host { .. }, Some(fd)) if f.writable() => {
            super::fs::check_file_size(cx, len as u64)?;
            rustix::fs::ftruncate(fd, len as u64)?;
            if let Some(q) = f.quota() {
                q.update(fd);
            }
            super::mm::file_truncated(cx, fd);
            Ok(0)
        }
        _ => Err(Errno::INVAL),
    }
}

/// fallocate on a host file: mode 0 (allocate, maybe growing the file),
/// FALLOC_FL_KEEP_SIZE and FALLOC_FL_PUNCH_HOLE; under RLIMIT_FSIZE and a
/// tmpfs's size like a write.
pub fn sys_fallocate(cx: &mut Ctx, a: &Args) -> SysResult {
    const KEEP_SIZE: u32 = 1;
    const PUNCH_HOLE: u32 = 2;
    let (fd, mode, off, len) = (int(a.0[0]), a.0[1] as u32, a.0[2] as i64, a.0[3] as i64);
    if off < 0 || len <= 0 {
        return Err(Errno::INVAL);
    }
    let end = (off as u64).checked_add(len as u64).ok_or(Errno::FBIG)?;
    if end > i64::MAX as u64 {
        return Err(Errno::FBIG);
    }
    let f = cx.proc.files().file(fd)?;
    if !f.writable() {
        return Err(Errno::BADF);
    }
    let host = match (&f.kind, f.host()) {
        (FileKind::Host { .. }, Some(h)) => h,
        (FileKind::Dev(_), _) => return Err(Errno::NODEV),
        _ => return Err(Errno::SPIPE),
    };
    let flags = match mode {
        0 => rustix::fs::FallocateFlags::empty(),
        KEEP_SIZE => rustix::fs::FallocateFlags::KEEP_SIZE,
        m if m == PUNCH_HOLE | KEEP_SIZE => {
            rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE
        }
        m if m & PUNCH_HOLE != 0 => return Err(Errno::INVAL),
        _ => return Err(Errno::OPNOTSUPP),
    };
    if mode & PUNCH_HOLE == 0 {
        if mode & KEEP_SIZE == 0 {
            super::fs::check_file_size(cx, end)?;
        }
        if let Some(q) = f.quota() {
            if q.room(len as u64)? < len as u64 {
                return Err(Errno::NOSPC);
            }
        }
    }
    let r = rustix::fs::fallocate(host, flags, off as u64, len as u64);
    if let Some(q) = f.quota() {
        q.update(host);
    }
    r?;
    Ok(0)
}

/// cachestat(fd, range, cstat, flags): the page-cache state of a host
/// file's range, from the host; kvmcage's own /dev and /proc files have no
/// page cache (all counts 0, as Linux reports for them).
pub fn sys_cachestat(cx: &mut Ctx, a: &Args) -> SysResult {
    let (fd, range_at, out_at, flags) = (int(a.0[0]), a.0[1], a.0[2], a.0[3]);
    let f = cx.proc.files().file(fd)?;
    if flags != 0 {
        return Err(Errno::INVAL);
    }
    let mut range = [0u8; 16];
    cx.user().read(range_at, &mut range)?;
    let mut out = [0u64; 5];
    if let Some(host) = f.host() {
        // SAFETY: cachestat reads 16 bytes at `range` and writes 40 at
        // `out`, both live host buffers of those sizes; `host` is open.
        let r = unsafe {
            libc::syscall(
                syscalls::Sysno::cachestat as libc::c_long,
                host.as_raw_fd(),
                range.as_ptr(),
                out.as_mut_ptr(),
                0u32,
            )
        };
        if r < 0 {
            return Err(super::last_errno());
        }
    }
    let bytes: Vec<u8> = out.iter().flat_map(|w| w.to_le_bytes()).collect();
    cx.user().write(out_at, &bytes)?;
    Ok(0)
}

pub fn sys_fsync(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files().file(int(a.0[0]))?;
    match f.host() {
        Some(fd) => {
            rustix::fs::fsync(fd)?;
            Ok(0)
        }
        None => Err(Errno::INVAL),
    }
}

/// syncfs: the host filesystem holding the file.
pub fn sys_syncfs(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files().file(int(a.0[0]))?;
    if let Some(fd) = f.host() {
        rustix::fs::syncfs(fd)?;
    }
    Ok(0)
}

/// sync: what the program can have written is beneath its writable mounts
/// (and --tmpfs directories): sync those filesystems, not the host's all.
pub fn sys_sync(cx: &mut Ctx, _a: &Args) -> SysResult {
    for (root, writable) in cx.proc.policy.roots() {
        if writable {
            let _ = rustix::fs::syncfs(root);
        }
    }
    Ok(0)
}

pub fn sys_umask(cx: &mut Ctx, a: &Args) -> SysResult {
    let new = a.0[0] as u32 & 0o777;
    let old = cx
        .proc
        .fs()
        .update(|f| std::mem::replace(&mut f.umask, new));
    Ok(u64::from(old))
}

/// A walk that must end on a directory (chdir, chroot): ENOENT when
/// missing, ENOTDIR when something else.
fn must_be_dir(l: &Lookup<'_>) -> Result<(), Errno> {
    match &l.node {
        Node::Dir(_) => Ok(()),
        Node::Host { fd, .. } if file_type(fd)?.is_dir() => Ok(()),
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => Err(Errno::NOENT),
        _ => Err(Errno::NOTDIR),
    }
}

pub fn sys_chdir(cx: &mut Ctx, a: &Args) -> SysResult {
    let name = read_path(cx, a.0[0])?;
    let l = lookup(cx, AT_FDCWD, &name, true)?;
    must_be_dir(&l)?;
    let path = l.path;
    cx.proc.fs().update(|f| f.cwd = path);
    Ok(0)
}

pub fn sys_fchdir(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files().file(int(a.0[0]))?;
    if !is_dir(&f) {
        return Err(Errno::NOTDIR);
    }
    cx.proc.fs().update(|fs| fs.cwd = f.path.clone());
    Ok(0)
}

/// A sandbox path as the program sees it from its root directory: inside
/// the root, relative to it.
pub fn seen_from_root(cx: &Ctx, path: &[u8]) -> Vec<u8> {
    let root = &cx.proc.root();
    if root == b"/" || path.first() != Some(&b'/') {
        return path.to_vec();
    }
    match crate::sandbox::under(path, root) {
        Some(skip) if skip >= path.len() => b"/".to_vec(),
        Some(skip) => [b"/".as_slice(), &path[skip..]].concat(),
        // Outside the root: the path from the sandbox's root, as d_path
        // gives for /proc links (getcwd adds "(unreachable)").
        None => path.to_vec(),
    }
}

/// chroot: the directory becomes where absolute paths start, within the
/// sandbox's view (nothing changes on the host). Linux's order: the path
/// must name a directory the program may search, then CAP_SYS_CHROOT
/// (uid 0 in the sandbox) is needed.
pub fn sys_chroot(cx: &mut Ctx, a: &Args) -> SysResult {
    let name = read_path(cx, a.0[0])?;
    let l = lookup(cx, AT_FDCWD, &name, true)?;
    must_be_dir(&l)?;
    if let (Node::Host { fd, .. }, true) = (&l.node, cx.proc.id.uid != 0) {
        rustix::fs::access(fd_path(fd), rustix::fs::Access::EXEC_OK)?;
    }
    if cx.proc.id.uid != 0 {
        return Err(Errno::PERM);
    }
    let path = l.path;
    cx.proc.fs().update(|f| f.root = path);
    Ok(0)
}

pub fn sys_getcwd(cx: &mut Ctx, a: &Args) -> SysResult {
    let super::FsFields { cwd, root, .. } = cx.proc.fs().get();
    let mut cwd = if root == b"/" || crate::sandbox::under(&cwd, &root).is_some() {
        seen_from_root(cx, &cwd)
    } else {
        // A cwd outside the root, as Linux's getcwd shows it.
        [b"(unreachable)".as_slice(), &cwd].concat()
    };
    cwd.push(0);
    if a.0[1] < cwd.len() as u64 {
        return Err(Errno::RANGE);
    }
    cx.user().write(a.0[0], &cwd)?;
    Ok(cwd.len() as u64)
}

/// getdents64 on a host directory or one kvmcage makes up.
pub fn sys_getdents64(cx: &mut Ctx, a: &Args) -> SysResult {
    let (fd, buf, count) = (int(a.0[0]), a.0[1], a.0[2] as u32 as u64);
    let f: Arc<OpenFile> = cx.proc.files().file(fd)?;
    let mut out: Vec<u8> = Vec::new();
    match &f.kind {
        FileKind::Host { fd, .. } => {
            let mut tmp = vec![0u8; count.min(64 << 10) as usize];
            // SAFETY: getdents64 writes at most tmp.len() bytes into tmp,
            // which lives across the call; fd is a valid open descriptor.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd()),
                    tmp.as_mut_ptr(),
                    tmp.len(),
                )
            };
            if n < 0 {
                return Err(
                    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
                );
            }
            out.extend_from_slice(&tmp[..n as usize]);
        }
        FileKind::Dir(entries) => {
            if f.pos.get() == 0 {
                regenerate(cx, &f)?;
            }
            let all: Vec<(Vec<u8>, u8)> = [(b".".to_vec(), DT_DIR), (b"..".to_vec(), DT_DIR)]
                .into_iter()
                .chain(entries.lock().iter().cloned())
                .collect();
            let mut pos = f.pos.get() as usize;
            while let Some((name, ty)) = all.get(pos) {
                let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
                if out.len() + reclen > count as usize {
                    break;
                }
                let start = out.len();
                out.extend_from_slice(&(pos as u64 + 1).to_le_bytes()); // d_ino
                out.extend_from_slice(&(pos as u64 + 1).to_le_bytes()); // d_off
                out.extend_from_slice(&(reclen as u16).to_le_bytes());
                out.push(*ty);
                out.extend_from_slice(name);
                out.resize(start + reclen, 0);
                pos += 1;
            }
            if out.is_empty() && pos < all.len() {
                return Err(Errno::INVAL);
            }
            f.pos.set(pos as u64);
        }
        _ => return Err(Errno::NOTDIR),
    }
    cx.user().write(buf, &out)?;
    Ok(out.len() as u64)
}

pub fn sys_pipe2(cx: &mut Ctx, a: &Args) -> SysResult {
    let flags = a.0[1] as u32;
    let allowed = (libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) as u32;
    if flags & !allowed != 0 {
        return Err(Errno::INVAL);
    }
    let mut host = rustix::pipe::PipeFlags::CLOEXEC;
    if flags & libc::O_NONBLOCK as u32 != 0 {
        host |= rustix::pipe::PipeFlags::NONBLOCK;
    }
    let (r, w) = rustix::pipe::pipe_with(host)?;
    let cloexec = flags & libc::O_CLOEXEC as u32 != 0;
    let end = |fd, writable, name: &[u8], mode| {
        std::sync::Arc::new(OpenFile::new(
            FileKind::Host { fd, writable },
            name.to_vec(),
            mode as u32,
        ))
    };
    let (r, w) = (
        end(r, false, b"pipe:[r]", libc::O_RDONLY),
        end(w, true, b"pipe:[w]", libc::O_WRONLY),
    );
    let limit = cx.proc.rlimits.nofile();
    let files = cx.proc.files();
    let rfd = files.share(r.clone(), cloexec, limit)?;
    let wfd = match files.share(w.clone(), cloexec, limit) {
        Ok(fd) => fd,
        Err(e) => {
            files.remove_if(rfd, &r);
            return Err(e);
        }
    };
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&rfd.to_le_bytes());
    b[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = cx.user().write(a.0[0], &b) {
        // Only what this call installed: a process sharing the table may
        // have closed and reused the numbers meanwhile.
        let files = cx.proc.files();
        files.remove_if(rfd, &r);
        files.remove_if(wfd, &w);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_pipe(cx: &mut Ctx, a: &Args) -> SysResult {
    sys_pipe2(cx, &Args([a.0[0], 0, 0, 0, 0, 0]))
}

/// utimensat: times from the guest (NULL = now; UTIME_NOW/UTIME_OMIT pass
/// through), on a descriptor (path NULL) or a path inside a mount.
/// utimes and futimesat: timevals, as utimensat with microseconds (a
/// tv_usec outside [0, 1e6) is EINVAL).
fn utimes_common(cx: &mut Ctx, dirfd: i32, path: u64, times: u64) -> SysResult {
    let ts = if times == 0 {
        None
    } else {
        let raw = cx.user().read_vec(times, 32)?;
        let w = |i: usize| i64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let one = |sec: i64, usec: i64| -> Result<libc::timespec, Errno> {
            if !(0..1_000_000).contains(&usec) {
                return Err(Errno::INVAL);
            }
            Ok(libc::timespec {
                tv_sec: sec,
                tv_nsec: usec * 1000,
            })
        };
        Some([one(w(0), w(1))?, one(w(2), w(3))?])
    };
    // A NULL path names the descriptor itself (futimesat); with AT_FDCWD
    // it is a path that cannot be read (Linux's do_utimes).
    if path == 0 && dirfd == AT_FDCWD {
        return Err(Errno::FAULT);
    }
    utimens_with(cx, dirfd, path, ts, 0)
}

pub fn sys_utimes(cx: &mut Ctx, a: &Args) -> SysResult {
    utimes_common(cx, AT_FDCWD, a.0[0], a.0[1])
}

pub fn sys_futimesat(cx: &mut Ctx, a: &Args) -> SysResult {
    utimes_common(cx, int(a.0[0]), a.0[1], a.0[2])
}

pub fn sys_utimensat(cx: &mut Ctx, a: &Args) -> SysResult {
    let (dirfd, path, times, flags) = (int(a.0[0]), a.0[1], a.0[2], a.0[3] as u32);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::INVAL);
    }
    let ts = if times == 0 {
        None
    } else {
        let raw = cx.user().read_vec(times, 32)?;
        let w = |i: usize| i64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let one = |sec: i64, nsec: i64| -> Result<libc::timespec, Errno> {
            let special = nsec == libc::UTIME_NOW || nsec == libc::UTIME_OMIT;
            if !special && !(0..1_000_000_000).contains(&nsec) {
                return Err(Errno::INVAL);
            }
            Ok(libc::timespec {
                tv_sec: sec,
                tv_nsec: nsec,
            })
        };
        Some([one(w(0), w(1))?, one(w(2), w(3))?])
    };
    utimens_with(cx, dirfd, path, ts, flags)
}

/// utimensat with its times read: NULL (now) or two timespecs.
fn utimens_with(
    cx: &mut Ctx,
    dirfd: i32,
    path: u64,
    ts: Option<[libc::timespec; 2]>,
    flags: u32,
) -> SysResult {
    // SAFETY (both calls below): `name` is a valid C string, `tp` NULL or
    // two timespecs that live across the call, `dir` one of our own open
    // descriptors; the name is never followed past its last component.
    let apply = |dir: i32, name: &[u8], fl: i32| -> SysResult {
        let c = std::ffi::CString::new(name).map_err(|_| Errno::INVAL)?;
        let tp = ts.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
        // SAFETY: see above.
        let rc = unsafe { libc::utimensat(dir, c.as_ptr(), tp, fl) };
        if rc < 0 {
            return Err(super::last_errno());
        }
        Ok(0)
    };
    if path == 0 {
        let f = cx.proc.files().file(dirfd)?;
        return match &f.kind {
            FileKind::Host { fd, writable } => {
                if !writable {
                    return Err(Errno::ROFS);
                }
                apply(fd.as_raw_fd(), b"", libc::AT_EMPTY_PATH)
            }
            _ => Err(Errno::PERM),
        };
    }
    let name = read_path(cx, path)?;
    let (_, dir, last, _) = for_change(cx, dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    // The walk followed what it had to: the last name is acted on as is.
    apply(dir.as_raw_fd(), &last, libc::AT_SYMLINK_NOFOLLOW)
}

/// statfs: the filesystem of what the path names (opened O_PATH through
/// the policy, then fstatfs).
pub fn sys_statfs(cx: &mut Ctx, a: &Args) -> SysResult {
    let how = Resolve::default();
    let (file, _) = open_file(cx, AT_FDCWD, a.0[0], libc::O_PATH as u32, 0, how, false)?;
    let st = super::fs::statfs_of(&file)?;
    cx.user().write_obj(a.0[1], &st)?;
    Ok(0)
}

/// chown and friends. Host ownership never changes. The program may make
/// a change that leaves ownership as it sees it (uid and gid -1 or the
/// current ones); beyond that it needs CAP_CHOWN: EPERM for an
/// unprivileged sandbox user, and success without effect for uid 0 (root
/// inside the sandbox only; ownership is not recorded).
fn chown_common(cx: &Ctx, st: Stat, writable: bool, uid: u32, gid: u32) -> SysResult {
    if !writable {
        return Err(Errno::ROFS);
    }
    let (owner, group) = (st.st_uid, st.st_gid);
    if cx.proc.id.uid == 0 {
        return Ok(0);
    }
    let uid_ok = uid == u32::MAX || uid == owner;
    let gid_ok =
        gid == u32::MAX || gid == group || (gid == cx.proc.id.gid && owner == cx.proc.id.uid);
    if uid_ok && gid_ok && owner == cx.proc.id.uid {
        Ok(0)
    } else {
        Err(Errno::PERM)
    }
}

fn chown_path(cx: &mut Ctx, dirfd: i32, path: u64, uid: u32, gid: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::INVAL);
    }
    let name = read_path(cx, path)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return sys_fchown(
            cx,
            &Args([dirfd as u64, u64::from(uid), u64::from(gid), 0, 0, 0]),
        );
    }
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let st = stat_path(cx, dirfd, &name, follow)?;
    let l = lookup(cx, dirfd, &name, follow)?;
    let writable = match l.node {
        Node::Host { mount, .. } => mount.writable,
        Node::Dir(_) if !crate::sandbox::namei::is_special(&l.path) => false,
        // kvmcage's own /dev and /proc nodes: /proc refuses ownership
        // changes (proc_setattr), /dev nodes belong to root.
        _ => {
            let dev = l.path.starts_with(b"/dev/");
            return if dev && cx.proc.id.uid == 0 {
                Ok(0)
            } else {
                Err(Errno::PERM)
            };
        }
    };
    chown_common(cx, st, writable, uid, gid)
}

pub fn sys_chown(cx: &mut Ctx, a: &Args) -> SysResult {
    chown_path(cx, AT_FDCWD, a.0[0], a.0[1] as u32, a.0[2] as u32, 0)
}

pub fn sys_fchownat(cx: &mut Ctx, a: &Args) -> SysResult {
    chown_path(
        cx,
        int(a.0[0]),
        a.0[1],
        a.0[2] as u32,
        a.0[3] as u32,
        a.0[4] as u32,
    )
}

pub fn sys_fchown(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files().file(int(a.0[0]))?;
    let st = stat_of(cx, &f)?;
    let writable = match &f.kind {
        FileKind::Host { writable, .. } => *writable,
        FileKind::Stdio(_) => true,
        _ => {
            return if cx.proc.id.uid == 0 {
                Ok(0)
            } else {
                Err(Errno::PERM)
            }
        }
    };
    chown_common(cx, st, writable, a.0[1] as u32, a.0[2] as u32)
}

pub fn sys_lchown(cx: &mut Ctx, a: &Args) -> SysResult {
    chown_path(
        cx,
        AT_FDCWD,
        a.0[0],
        a.0[1] as u32,
        a.0[2] as u32,
        AT_SYMLINK_NOFOLLOW,
    )
}

/// The file execve names, opened for execution, and its guest path:
/// through a mount, or one of kvmcage's own nodes (/proc/self/exe, the
/// magic links /proc/self/fd/N and /dev/fd/N, which programs re-exec
/// themselves through). `follow`: not AT_SYMLINK_NOFOLLOW (a final
/// symlink is then ELOOP).
pub(crate) fn exec_open(
    cx: &Ctx,
    dirfd: i32,
    name: &[u8],
    follow: bool,
) -> Result<(OwnedFd, Vec<u8>), Errno> {
    let l = lookup(cx, dirfd, name, follow)?;
    match l.node {
        Node::Host { fd, .. } => {
            if !follow && file_type(&fd)?.is_symlink() {
                return Err(Errno::LOOP);
            }
            Ok((super::exec::reopen_executable(&fd)?, l.path))
        }
        Node::Exe => {
            // Already open for reading (a reopen through /proc/self/fd
            // would be refused by landlock for a file outside the view).
            let exe = cx.proc.exe_file.as_ref().ok_or(Errno::NOENT)?;
            super::exec::check_executable(&**exe)?;
            Ok((
                rustix::io::fcntl_dupfd_cloexec(&**exe, 0)?,
                cx.proc.id.exe.clone(),
            ))
        }
        Node::Fd(n) => {
            let f = cx.proc.files().file(n).map_err(|_| Errno::NOENT)?;
            let h = f.host().ok_or(Errno::ACCESS)?;
            Ok((super::exec::reopen_executable(h)?, f.path.clone()))
        }
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => Err(Errno::NOENT),
        Node::Link(_) if !follow => Err(Errno::LOOP),
        _ => Err(Errno::ACCESS),
    }
}

// ---- extended attributes ------------------------------------------------

/// Linux's XATTR_SIZE_MAX and XATTR_LIST_MAX.
const XATTR_SIZE_MAX: usize = 65536;
/// Linux's XATTR_NAME_MAX + 1.
const XATTR_NAME_BUF: usize = 256;
/// The user.* attribute bytes (names and values) the program may have set
/// at once, and how many: the host counts them against no quota (a
/// memfd's, a tmpfs file's), so kvmcage does. ENOSPC past either.
pub const XATTR_BUDGET_BYTES: usize = 1 << 20;
pub const XATTR_BUDGET_COUNT: usize = 4096;

/// The attributes the program set through kvmcage: (device, inode, name)
/// to bytes, and their sum.
#[derive(Debug, Default)]
pub struct XattrBudget {
    set: std::collections::HashMap<(u64, u64, Vec<u8>), usize>,
    bytes: usize,
}

impl XattrBudget {
    /// Room for `key` to hold `size` bytes from now on?
    fn check(&self, key: &(u64, u64, Vec<u8>), size: usize) -> Result<(), Errno> {
        let old = self.set.get(key).copied();
        if old.is_none() && self.set.len() >= XATTR_BUDGET_COUNT {
            return Err(Errno::NOSPC);
        }
        if self.bytes - old.unwrap_or(0) + size > XATTR_BUDGET_BYTES {
            return Err(Errno::NOSPC);
        }
        Ok(())
    }

    fn record(&mut self, key: (u64, u64, Vec<u8>), size: Option<usize>) {
        let old = match size {
            Some(n) => {
                self.bytes += n;
                self.set.insert(key, n)
            }
            None => self.set.remove(&key),
        };
        self.bytes -= old.unwrap_or(0);
    }
}
const XATTR_CREATE: u32 = 1;
const XATTR_REPLACE: u32 = 2;

/// An attribute name from the program: ERANGE when empty or longer than
/// XATTR_NAME_MAX, as Linux's strncpy_from_user check.
fn xattr_name(cx: &Ctx, addr: u64) -> Result<Vec<u8>, Errno> {
    match cx.user().read_cstr(addr, XATTR_NAME_BUF) {
        Ok(n) if n.is_empty() => Err(Errno::RANGE),
        Err(Errno::NAMETOOLONG) => Err(Errno::RANGE),
        r => r,
    }
}

/// Names the program may see: the namespaces an unprivileged process
/// reads on Linux. `trusted.*` needs CAP_SYS_ADMIN, which the program
/// never has (kvmcage itself may, on the host).
fn xattr_visible(name: &[u8]) -> bool {
    !name.starts_with(b"trusted.") && !is_acl(name)
}

/// POSIX ACLs (system.posix_acl_access/_default): kvmcage's filesystems do
/// not support them (EOPNOTSUPP), so programs fall back to the mode bits
/// (coreutils' cp -p, install -m, sed -i: an EPERM made them fail).
fn is_acl(name: &[u8]) -> bool {
    name.starts_with(b"system.posix_acl_")
}

/// Where an attribute call acts: a host file, a symlink (whose user
/// attributes Linux refuses), or something kvmcage makes up.
enum XattrTarget {
    Host {
        /// /proc/self/fd/N of `fd`, which it holds open.
        path: String,
        fd: OwnedFd,
        writable: bool,
    },
    /// A symlink's own attributes (l*xattr): none, and none settable.
    Symlink {
        writable: bool,
    },
    Virtual,
}

fn xattr_target(cx: &Ctx, path: u64, follow: bool) -> Result<XattrTarget, Errno> {
    let name = read_path(cx, path)?;
    let l = lookup(cx, AT_FDCWD, &name, follow)?;
    Ok(match l.node {
        Node::Missing | Node::Absent { .. } | Node::AbsentVirtual => return Err(Errno::NOENT),
        Node::Host { mount, fd, .. } => {
            if file_type(&fd)?.is_symlink() {
                XattrTarget::Symlink {
                    writable: mount.writable,
                }
            } else {
                XattrTarget::Host {
                    path: fd_path(&fd),
                    fd,
                    writable: mount.writable,
                }
            }
        }
        Node::Fd(fd) => return xattr_fd_target(cx, fd),
        _ => XattrTarget::Virtual,
    })
}

fn xattr_fd_target(cx: &Ctx, fd: i32) -> Result<XattrTarget, Errno> {
    let f = cx.proc.files().file(fd)?;
    Ok(match &f.kind {
        FileKind::Host { fd, writable } => {
            let fd = fd.try_clone().map_err(|_| Errno::MFILE)?;
            XattrTarget::Host {
                path: fd_path(&fd),
                fd,
                writable: *writable,
            }
        }
        _ => XattrTarget::Virtual,
    })
}

fn getxattr_common(cx: &mut Ctx, t: XattrTarget, a: &Args) -> SysResult {
    let name = xattr_name(cx, a.0[1])?;
    let size = (a.0[3] as usize).min(XATTR_SIZE_MAX);
    if is_acl(&name) {
        return Err(Errno::OPNOTSUPP);
    }
    let XattrTarget::Host { path, .. } = t else {
        return Err(Errno::NODATA);
    };
    if !xattr_visible(&name) {
        return Err(Errno::NODATA);
    }
    let mut buf = vec![0u8; size];
    let n = rustix::fs::getxattr(path.as_str(), os(&name), &mut buf)?;
    cx.user().write(a.0[2], &buf[..n.min(size)])?;
    Ok(n as u64)
}

fn listxattr_common(cx: &mut Ctx, t: XattrTarget, a: &Args) -> SysResult {
    let size = a.0[2] as usize;
    let XattrTarget::Host { path, .. } = t else {
        return Ok(0);
    };
    let mut buf = vec![0u8; XATTR_SIZE_MAX];
    let n = rustix::fs::listxattr(path.as_str(), &mut buf)?;
    let list: Vec<u8> = buf[..n.min(buf.len())]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty() && xattr_visible(n))
        .flat_map(|n| n.iter().copied().chain([0]))
        .collect();
    if size == 0 {
        return Ok(list.len() as u64);
    }
    if size < list.len() {
        return Err(Errno::RANGE);
    }
    cx.user().write(a.0[1], &list)?;
    Ok(list.len() as u64)
}

/// setxattr's arguments, copied and checked before the file is looked at
/// (Linux's setxattr_copy): the name, the value and the flags.
fn setxattr_args(cx: &Ctx, a: &Args) -> Result<(Vec<u8>, Vec<u8>, u32), Errno> {
    let flags = a.0[4] as u32;
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::INVAL);
    }
    let name = xattr_name(cx, a.0[1])?;
    let size = a.0[3] as usize;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::TOOBIG);
    }
    let mut value = vec![0u8; size];
    cx.user().read(a.0[2], &mut value)?;
    Ok((name, value, flags))
}

/// Which attributes an unprivileged program may change: user.* (EPERM for
/// the privileged namespaces, EOPNOTSUPP for names in none).
fn xattr_settable(name: &[u8]) -> Result<(), Errno> {
    if is_acl(name) {
        Err(Errno::OPNOTSUPP)
    } else if name.starts_with(b"user.") {
        Ok(())
    } else if [&b"trusted."[..], b"security.", b"system."]
        .iter()
        .any(|p| name.starts_with(p))
    {
        Err(Errno::PERM)
    } else {
        Err(Errno::OPNOTSUPP)
    }
}

fn xattr_key(fd: &OwnedFd, name: &[u8]) -> Result<(u64, u64, Vec<u8>), Errno> {
    let st = rustix::fs::fstat(fd)?;
    Ok((st.st_dev, st.st_ino, name.to_vec()))
}

/// The file whose attribute `name` the program may change, as Linux
/// checks it: a symlink's user.* attributes are EPERM, a read-only place
/// EROFS, kvmcage's own files EOPNOTSUPP, then the namespace.
fn xattr_changeable(t: XattrTarget, name: &[u8]) -> Result<(String, OwnedFd), Errno> {
    let (path, fd, writable) = match t {
        XattrTarget::Host { path, fd, writable } => (path, fd, writable),
        XattrTarget::Symlink { writable } => {
            return Err(if writable { Errno::PERM } else { Errno::ROFS })
        }
        XattrTarget::Virtual => return Err(Errno::OPNOTSUPP),
    };
    if !writable {
        return Err(Errno::ROFS);
    }
    xattr_settable(name)?;
    Ok((path, fd))
}

fn setxattr_common(
    cx: &mut Ctx,
    t: XattrTarget,
    (name, value, flags): (Vec<u8>, Vec<u8>, u32),
) -> SysResult {
    let (path, fd) = xattr_changeable(t, &name)?;
    let key = xattr_key(&fd, &name)?;
    cx.proc.xattrs.check(&key, name.len() + value.len())?;
    let host_flags = rustix::fs::XattrFlags::from_bits_retain(flags);
    rustix::fs::setxattr(path.as_str(), os(&name), &value, host_flags)?;
    cx.proc.xattrs.record(key, Some(name.len() + value.len()));
    Ok(0)
}

fn removexattr_common(cx: &mut Ctx, t: XattrTarget, name: Vec<u8>) -> SysResult {
    let (path, fd) = xattr_changeable(t, &name)?;
    rustix::fs::removexattr(path.as_str(), os(&name))?;
    cx.proc.xattrs.record(xattr_key(&fd, &name)?, None);
    Ok(0)
}

/// How an attribute call names its file: a path (followed or not) or a
/// descriptor, in its first argument.
#[derive(Clone, Copy)]
enum By {
    Path,
    Link,
    Fd,
}

fn xattr_target_by(cx: &Ctx, a: &Args, by: By) -> Result<XattrTarget, Errno> {
    match by {
        By::Path => xattr_target(cx, a.0[0], true),
        By::Link => xattr_target(cx, a.0[0], false),
        By::Fd => xattr_fd_target(cx, int(a.0[0])),
    }
}

fn getxattr_by(cx: &mut Ctx, a: &Args, by: By) -> SysResult {
    let t = xattr_target_by(cx, a, by)?;
    getxattr_common(cx, t, a)
}

fn listxattr_by(cx: &mut Ctx, a: &Args, by: By) -> SysResult {
    let t = xattr_target_by(cx, a, by)?;
    listxattr_common(cx, t, a)
}

fn setxattr_by(cx: &mut Ctx, a: &Args, by: By) -> SysResult {
    let args = setxattr_args(cx, a)?;
    let t = xattr_target_by(cx, a, by)?;
    setxattr_common(cx, t, args)
}

fn removexattr_by(cx: &mut Ctx, a: &Args, by: By) -> SysResult {
    let name = xattr_name(cx, a.0[1])?;
    let t = xattr_target_by(cx, a, by)?;
    removexattr_common(cx, t, name)
}

pub fn sys_getxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    getxattr_by(cx, a, By::Path)
}
pub fn sys_lgetxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    getxattr_by(cx, a, By::Link)
}
pub fn sys_fgetxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    getxattr_by(cx, a, By::Fd)
}
pub fn sys_listxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    listxattr_by(cx, a, By::Path)
}
pub fn sys_llistxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    listxattr_by(cx, a, By::Link)
}
pub fn sys_flistxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    listxattr_by(cx, a, By::Fd)
}
pub fn sys_setxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    setxattr_by(cx, a, By::Path)
}
pub fn sys_lsetxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    setxattr_by(cx, a, By::Link)
}
pub fn sys_fsetxattr(cx: &mut Ctx, a: &Args) -> SysResult {
    setxattr_by(cx, a, By::Fd)
}
pub fn sys_removexattr(cx: &mut Ctx, a: &Args) -> SysResult {
    removexattr_by(cx, a, By::Path)
}
pub fn sys_lremovexattr(cx: &mut Ctx, a: &Args) -> SysResult {
    removexattr_by(cx, a, By::Link)
}
pub fn sys_fremovexattr(cx: &mut Ctx, a: &Args) -> SysResult {
    removexattr_by(cx, a, By::Fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_files_names_are_strict() {
        assert_eq!(map_files_range(b"7f00-7f1000"), Some((0x7f00, 0x7f1000)));
        assert_eq!(map_files_range(b"0-1"), Some((0, 1)));
        for bad in [
            &b" 7f00-8000"[..],
            b"7f00 -8000",
            b"7f00- 8000",
            b"7f00-8000 ",
            b"07f00-8000",
            b"7f00-08000",
            b"7F00-8000",
            b"10000000000000000-1",
            b"7f00",
            b"-8000",
        ] {
            assert_eq!(
                map_files_range(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
