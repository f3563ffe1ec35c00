//! Path-based system calls, resolved against the sandbox policy.
//!
//! A guest path (with its dirfd) becomes an absolute, lexically normalised
//! guest path; kvmcage's own /dev and /proc/self answer first, then the
//! mount policy (`crate::sandbox`): a mount (opened with openat2 from the
//! mount root, so nothing escapes it), a virtual directory, or nothing
//! (ENOENT). Calls that must not follow the last component (unlink, mkdir,
//! rename, readlink, lstat...) resolve the parent directory the same way
//! and act on the name relative to it. Writes to a read-only mount: EROFS.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::fs::{stat_bytes, Dev, FileKind, OpenFile};
use super::uaccess::PATH_MAX;
use super::{Args, Ctx, SysResult};
use crate::sandbox::{normalize, Lookup, Mount};

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EMPTY_PATH: u32 = 0x1000;
const DT_DIR: u8 = 4;
const DT_CHR: u8 = 2;
const DT_REG: u8 = 8;
const DT_LNK: u8 = 10;

/// Open flags a guest may pass to the host (others are dropped, as Linux
/// ignores unknown open flags).
const OPEN_ALLOWED: u32 = (libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_CLOEXEC
    | libc::O_LARGEFILE
    | libc::O_PATH
    | libc::O_TMPFILE) as u32;

fn int(v: u64) -> i32 {
    v as u32 as i32
}

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
    /// A symlink kvmcage makes up (/proc/self/exe, cwd, fd/N).
    Link(Vec<u8>),
    /// Generated text (/proc/self/maps, status).
    Text(Vec<u8>),
    Mount(&'a Mount, Vec<u8>),
    Missing,
}

/// The absolute guest path for `path` relative to `dirfd`.
fn absolute(cx: &Ctx, dirfd: i32, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    if path.first() == Some(&b'/') {
        return Ok(normalize(b"/", path));
    }
    let base = if dirfd == AT_FDCWD {
        cx.proc.cwd.clone()
    } else {
        let f = cx.proc.files.file(dirfd)?;
        if !is_dir(&f) {
            return Err(Errno::NOTDIR);
        }
        f.path.clone()
    };
    Ok(normalize(&base, path))
}

fn is_dir(f: &OpenFile) -> bool {
    match &f.kind {
        FileKind::Dir(_) => true,
        FileKind::Host { fd, .. } => rustix::fs::fstat(fd)
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir()),
        _ => false,
    }
}

fn proc_maps(cx: &Ctx) -> Vec<u8> {
    use super::mm::VmaKind;
    let mut s = String::new();
    for (start, v) in cx.proc.mm.vmas() {
        let p = |bit: u32, c: char| if v.prot & bit != 0 { c } else { '-' };
        let perms = format!("{}{}{}p", p(1, 'r'), p(2, 'w'), p(4, 'x'));
        let name = match v.kind {
            VmaKind::Image => String::from_utf8_lossy(&cx.proc.id.exe).into_owned(),
            VmaKind::Heap => "[heap]".into(),
            VmaKind::Stack => "[stack]".into(),
            VmaKind::Vdso => "[vdso]".into(),
            VmaKind::Vvar => "[vvar]".into(),
            VmaKind::Anon => String::new(),
            VmaKind::File(i) => cx
                .proc
                .mm
                .file_names
                .get(i as usize)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default(),
        };
        let line = format!("{start:08x}-{:08x} {perms} 00000000 00:00 0", v.end);
        if name.is_empty() {
            s.push_str(&line);
            s.push('\n');
        } else {
            s.push_str(&format!("{line:<73}{name}\n"));
        }
    }
    s.into_bytes()
}

fn proc_status(cx: &Ctx) -> Vec<u8> {
    let id = &cx.proc.id;
    format!(
        "Name:\t{}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{}\nPid:\t{}\nPPid:\t{}\nUid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\nThreads:\t1\n",
        String::from_utf8_lossy(id.exe.rsplit(|&b| b == b'/').next().unwrap_or(b"")),
        cx.proc.umask,
        id.pid,
        id.pid,
        id.ppid,
        u = id.uid,
        g = id.gid
    )
    .into_bytes()
}

/// Is `path` (absolute, normalised) a directory the program can see?
pub fn is_directory(proc: &super::Process, path: &[u8]) -> bool {
    match proc.policy.lookup(path) {
        Lookup::Mount(m, rel) => m
            .open(&rel, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
            .is_ok(),
        Lookup::Virtual(_) => true,
        Lookup::Missing => matches!(path, b"/dev" | b"/proc" | b"/proc/self"),
    }
}

/// Find what an absolute guest path names.
fn node<'a>(cx: &'a Ctx, path: &[u8]) -> Node<'a> {
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
    let fd_dir = || {
        Node::Dir(
            cx.proc
                .files
                .fds()
                .iter()
                .map(|(fd, _)| (fd.to_string().into_bytes(), DT_LNK))
                .collect(),
        )
    };
    let fd_num = |n: &[u8]| {
        std::str::from_utf8(n)
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
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
        return Node::Dir(v);
    }
    if let Some(rest) = path.strip_prefix(b"/dev/") {
        if rest == b"fd" {
            return fd_dir();
        }
        if let Some(n) = rest.strip_prefix(b"fd/") {
            return fd_num(n).map(Node::Fd).unwrap_or(Node::Missing);
        }
        return dev(rest).unwrap_or(Node::Missing);
    }
    if path == b"/proc" {
        return Node::Dir(vec![(b"self".to_vec(), DT_DIR)]);
    }
    if let Some(rest) = path.strip_prefix(b"/proc/self").or_else(|| {
        let pid = format!("/proc/{}", cx.proc.id.pid);
        path.strip_prefix(pid.as_bytes())
    }) {
        return match rest {
            b"" => Node::Dir(
                ["exe", "cwd", "fd", "maps", "status"]
                    .iter()
                    .map(|n| {
                        (
                            n.as_bytes().to_vec(),
                            if *n == "fd" { DT_DIR } else { DT_REG },
                        )
                    })
                    .collect(),
            ),
            b"/exe" => Node::Link(cx.proc.id.exe.clone()),
            b"/cwd" => Node::Link(cx.proc.cwd.clone()),
            b"/fd" => fd_dir(),
            b"/maps" => Node::Text(proc_maps(cx)),
            b"/status" => Node::Text(proc_status(cx)),
            r => match r.strip_prefix(b"/fd/").and_then(fd_num) {
                Some(fd) => match cx.proc.files.file(fd) {
                    Ok(f) => Node::Link(f.path.clone()),
                    Err(_) => Node::Missing,
                },
                None => Node::Missing,
            },
        };
    }
    match cx.proc.policy.lookup(path) {
        Lookup::Mount(m, rel) => Node::Mount(m, rel),
        Lookup::Virtual(mut names) => {
            if path == b"/" {
                names.extend([b"dev".to_vec(), b"proc".to_vec()]);
            }
            Node::Dir(names.into_iter().map(|n| (n, DT_DIR)).collect())
        }
        Lookup::Missing => Node::Missing,
    }
}

fn read_path(cx: &Ctx, addr: u64) -> Result<Vec<u8>, Errno> {
    cx.m.user().read_cstr(addr, PATH_MAX)
}

fn wants_write(flags: u32) -> bool {
    flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32
        || flags & (libc::O_CREAT | libc::O_TRUNC) as u32 != 0
        || flags & libc::O_TMPFILE as u32 == libc::O_TMPFILE as u32
}

fn install(cx: &mut Ctx, file: OpenFile, cloexec: bool) -> SysResult {
    let limit = cx.proc.rlimits.nofile();
    Ok(cx.proc.files.open(file, cloexec, limit)? as u64)
}

fn do_open(cx: &mut Ctx, dirfd: i32, path: u64, flags: u32, mode: u32) -> SysResult {
    let name = read_path(cx, path)?;
    let abs = absolute(cx, dirfd, &name)?;
    let flags = flags & OPEN_ALLOWED;
    let cloexec = flags & libc::O_CLOEXEC as u32 != 0;
    let status = flags & !(libc::O_CLOEXEC as u32);
    let node = node(cx, &abs);
    let file = match node {
        Node::Dev(d) => OpenFile::new(FileKind::Dev(d), abs, status),
        Node::Fd(fd) => {
            // Linux reopens the file; for kvmcage's stdio and pipes the same
            // open file is the closest it can give.
            let f = cx.proc.files.file(fd).map_err(|_| Errno::NOENT)?;
            let limit = cx.proc.rlimits.nofile();
            return Ok(cx.proc.files.share(f, cloexec, limit)? as u64);
        }
        Node::Dir(entries) => {
            if wants_write(flags) {
                return Err(Errno::ISDIR);
            }
            OpenFile::new(FileKind::Dir(entries), abs, status)
        }
        Node::Text(t) => {
            if wants_write(flags) {
                return Err(Errno::ACCESS);
            }
            OpenFile::new(FileKind::Text(t), abs, status)
        }
        Node::Link(_) => return Err(Errno::NOENT),
        Node::Missing => {
            return Err(
                if flags & libc::O_CREAT as u32 != 0 && is_virtual_parent(cx, &abs) {
                    Errno::ROFS
                } else {
                    Errno::NOENT
                },
            )
        }
        Node::Mount(m, rel) => {
            if wants_write(flags) && !m.writable {
                // Linux says ENOENT for a missing file it was not asked to
                // create, EROFS otherwise.
                let exists = m.open(&rel, OFlags::PATH, Mode::empty()).is_ok();
                return Err(if exists || flags & libc::O_CREAT as u32 != 0 {
                    Errno::ROFS
                } else {
                    Errno::NOENT
                });
            }
            let mode = Mode::from_raw_mode(mode & 0o7777 & !cx.proc.umask);
            let fd = m.open(&rel, OFlags::from_bits_retain(flags), mode)?;
            OpenFile::new(
                FileKind::Host {
                    fd,
                    writable: m.writable,
                },
                abs,
                status,
            )
        }
    };
    install(cx, file, cloexec)
}

fn is_virtual_parent(cx: &Ctx, abs: &[u8]) -> bool {
    let parent = normalize(abs, b"..");
    matches!(node(cx, &parent), Node::Dir(_))
}

pub fn sys_open(cx: &mut Ctx, a: &Args) -> SysResult {
    do_open(cx, AT_FDCWD, a.0[0], a.0[1] as u32, a.0[2] as u32)
}

pub fn sys_openat(cx: &mut Ctx, a: &Args) -> SysResult {
    do_open(cx, int(a.0[0]), a.0[1], a.0[2] as u32, a.0[3] as u32)
}

pub fn sys_creat(cx: &mut Ctx, a: &Args) -> SysResult {
    let flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u32;
    do_open(cx, AT_FDCWD, a.0[0], flags, a.0[1] as u32)
}

/// A stat of something kvmcage makes up.
fn synthetic_stat(mode: u32, rdev: u64, size: u64) -> [u8; 144] {
    let mut b = [0u8; 144];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(8, 1); // st_ino
    put(16, if mode & 0o170000 == 0o040000 { 2 } else { 1 });
    put(24, u64::from(mode));
    put(40, rdev);
    put(48, size);
    put(56, 4096);
    b
}

/// The stat of an open file.
pub fn stat_of(f: &OpenFile) -> Result<[u8; 144], Errno> {
    Ok(match &f.kind {
        FileKind::Stdio(_) | FileKind::Host { .. } => {
            stat_bytes(&rustix::fs::fstat(f.host().ok_or(Errno::BADF)?)?)
        }
        FileKind::Dev(d) => synthetic_stat(0o020666, d.rdev(), 0),
        FileKind::Dir(_) => synthetic_stat(0o040555, 0, 0),
        FileKind::Text(_) => synthetic_stat(0o100444, 0, 0),
    })
}

fn stat_path(cx: &Ctx, dirfd: i32, name: &[u8], follow: bool) -> Result<[u8; 144], Errno> {
    let abs = absolute(cx, dirfd, name)?;
    match node(cx, &abs) {
        Node::Dev(d) => Ok(synthetic_stat(0o020666, d.rdev(), 0)),
        Node::Fd(fd) if follow => {
            stat_of(cx.proc.files.file(fd).map_err(|_| Errno::NOENT)?.as_ref())
        }
        Node::Fd(_) | Node::Link(_) => Ok(synthetic_stat(0o120777, 0, 0)),
        Node::Dir(_) => Ok(synthetic_stat(0o040555, 0, 0)),
        Node::Text(_) => Ok(synthetic_stat(0o100444, 0, 0)),
        Node::Missing => Err(Errno::NOENT),
        Node::Mount(m, rel) => {
            if follow || rel == b"." {
                let fd = m.open(&rel, OFlags::PATH, Mode::empty())?;
                Ok(stat_bytes(&rustix::fs::fstat(&fd)?))
            } else {
                let (dir, name) = m.parent(&rel)?;
                Ok(stat_bytes(&rustix::fs::statat(
                    &dir,
                    os(&name),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?))
            }
        }
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
            stat_of(cx.proc.files.file(dirfd)?.as_ref())?
        }
    } else {
        stat_path(cx, dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    cx.m.user().write(buf, &st)?;
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
    let st = stat_of(cx.proc.files.file(int(a.0[0]))?.as_ref())?;
    cx.m.user().write(a.0[1], &st)?;
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
            stat_of(cx.proc.files.file(dirfd)?.as_ref())?
        }
    } else {
        if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | 0x800 | 0x6000) != 0 {
            return Err(Errno::INVAL);
        }
        stat_path(cx, dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    let w = |off: usize| u64::from_le_bytes(st[off..off + 8].try_into().unwrap_or_default());
    let mut x = [0u8; 256];
    put32_at(&mut x, 0, 0x7ff); // stx_mask: STATX_BASIC_STATS
    put32_at(&mut x, 4, w(56) as u32); // blksize
    put32_at(&mut x, 16, w(16) as u32); // nlink
    put32_at(&mut x, 20, (w(24) >> 32) as u32); // uid
    put32_at(&mut x, 24, w(32) as u32); // gid
    x[28..30].copy_from_slice(&(w(24) as u16).to_le_bytes()); // mode
    put64_at(&mut x, 32, w(8)); // ino
    put64_at(&mut x, 40, w(48)); // size
    put64_at(&mut x, 48, w(64)); // blocks
                                 // atime, ctime, mtime as statx timestamps (sec, nsec).
    for (off, sec, nsec) in [
        (64, w(72), w(80)),
        (96, w(104), w(112)),
        (112, w(88), w(96)),
    ] {
        put64_at(&mut x, off, sec);
        put32_at(&mut x, off + 8, nsec as u32);
    }
    let (rdev, dev) = (w(40), w(0));
    put32_at(&mut x, 128, rustix::fs::major(rdev));
    put32_at(&mut x, 132, rustix::fs::minor(rdev));
    put32_at(&mut x, 136, rustix::fs::major(dev));
    put32_at(&mut x, 140, rustix::fs::minor(dev));
    cx.m.user().write(buf, &x)?;
    Ok(0)
}

fn put32_at(x: &mut [u8; 256], off: usize, v: u32) {
    x[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64_at(x: &mut [u8; 256], off: usize, v: u64) {
    x[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn access_common(cx: &mut Ctx, dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(0x200 | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::INVAL);
    }
    let name = read_path(cx, path)?;
    let abs = absolute(cx, dirfd, &name)?;
    match node(cx, &abs) {
        Node::Missing => Err(Errno::NOENT),
        Node::Mount(m, rel) => {
            let fd = m.open(&rel, OFlags::PATH, Mode::empty())?;
            if mode & 2 != 0 && !m.writable {
                return Err(Errno::ROFS);
            }
            let access = rustix::fs::Access::from_bits_retain(mode);
            rustix::fs::access(fd_path(&fd), access)?;
            Ok(0)
        }
        Node::Dir(_) | Node::Text(_) if mode & 2 != 0 => Err(Errno::ACCESS),
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
    let abs = absolute(cx, dirfd, &name)?;
    let target = match node(cx, &abs) {
        Node::Link(t) => t,
        Node::Fd(fd) => cx
            .proc
            .files
            .file(fd)
            .map_err(|_| Errno::NOENT)?
            .path
            .clone(),
        Node::Missing => return Err(Errno::NOENT),
        Node::Mount(m, rel) => {
            let (dir, name) = m.parent(&rel).map_err(|_| Errno::INVAL)?;
            rustix::fs::readlinkat(&dir, os(&name), Vec::new())?.into_bytes()
        }
        _ => return Err(Errno::INVAL),
    };
    let n = target.len().min(size as usize);
    cx.m.user().write(buf, &target[..n])?;
    Ok(n as u64)
}

pub fn sys_readlink(cx: &mut Ctx, a: &Args) -> SysResult {
    readlink_common(cx, AT_FDCWD, a.0[0], a.0[1], a.0[2])
}

pub fn sys_readlinkat(cx: &mut Ctx, a: &Args) -> SysResult {
    readlink_common(cx, int(a.0[0]), a.0[1], a.0[2], a.0[3])
}

/// The writable mount and parent directory for creating or removing the
/// last component of a path.
fn parent_for_change<'a>(
    cx: &'a Ctx,
    dirfd: i32,
    name: &[u8],
) -> Result<(&'a Mount, OwnedFd, Vec<u8>), Errno> {
    let abs = absolute(cx, dirfd, name)?;
    match node(cx, &abs) {
        Node::Mount(m, rel) => {
            if rel == b"." {
                // The mount point itself.
                return Err(Errno::BUSY);
            }
            let (dir, last) = m.parent(&rel)?;
            if !m.writable {
                return Err(Errno::ROFS);
            }
            Ok((m, dir, last))
        }
        Node::Missing => Err(if is_virtual_parent(cx, &abs) {
            Errno::ROFS
        } else {
            Errno::NOENT
        }),
        _ => Err(Errno::ROFS),
    }
}

fn mkdir_common(cx: &mut Ctx, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let name = read_path(cx, path)?;
    let abs = absolute(cx, dirfd, &name)?;
    if matches!(
        node(cx, &abs),
        Node::Dir(_) | Node::Dev(_) | Node::Text(_) | Node::Link(_) | Node::Fd(_)
    ) {
        return Err(Errno::EXIST);
    }
    let (_, dir, last) = parent_for_change(cx, dirfd, &name)?;
    rustix::fs::mkdirat(
        &dir,
        os(&last),
        Mode::from_raw_mode(mode & 0o7777 & !cx.proc.umask),
    )?;
    Ok(0)
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
    let name = read_path(cx, path)?;
    if flags & AT_REMOVEDIR == 0 {
        // unlink of a directory is EISDIR, whatever else is wrong with it.
        let st = stat_path(cx, dirfd, &name, false)?;
        let mode = u32::from_le_bytes(st[24..28].try_into().unwrap_or_default());
        if mode & 0o170000 == 0o040000 {
            return Err(Errno::ISDIR);
        }
    }
    let (_, dir, last) = parent_for_change(cx, dirfd, &name)?;
    let at = if flags & AT_REMOVEDIR != 0 {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    rustix::fs::unlinkat(&dir, os(&last), at)?;
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

/// A directory descriptor and a name under it.
type Parent = (OwnedFd, Vec<u8>);

/// The parents of two paths for rename and link, which must lie in the
/// same mount (EXDEV otherwise).
fn two_parents(
    cx: &Ctx,
    olddir: i32,
    old: &[u8],
    newdir: i32,
    new: &[u8],
) -> Result<(Parent, Parent), Errno> {
    let (m1, d1, l1) = parent_for_change(cx, olddir, old)?;
    let (m2, d2, l2) = parent_for_change(cx, newdir, new)?;
    if !std::ptr::eq(m1, m2) {
        return Err(Errno::XDEV);
    }
    Ok(((d1, l1), (d2, l2)))
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
    let ((d1, l1), (d2, l2)) = two_parents(cx, olddir, &oname, newdir, &nname)?;
    rustix::fs::renameat_with(
        &d1,
        os(&l1),
        &d2,
        os(&l2),
        rustix::fs::RenameFlags::from_bits_retain(flags),
    )?;
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
    let (_, dir, last) = parent_for_change(cx, dirfd, &name)?;
    // Stored as given: following it later goes through RESOLVE_IN_ROOT.
    rustix::fs::symlinkat(os(&target), &dir, os(&last))?;
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
    let ((d1, l1), (d2, l2)) = two_parents(cx, olddir, &oname, newdir, &nname)?;
    if flags & AT_SYMLINK_FOLLOW != 0 {
        // Follow inside the mount only, then link the inode we reached.
        let abs = absolute(cx, olddir, &oname)?;
        let Node::Mount(m, rel) = node(cx, &abs) else {
            return Err(Errno::NOENT);
        };
        let src = m.open(&rel, OFlags::PATH, Mode::empty())?;
        rustix::fs::linkat(&src, "", &d2, os(&l2), AtFlags::EMPTY_PATH)?;
    } else {
        rustix::fs::linkat(&d1, os(&l1), &d2, os(&l2), AtFlags::empty())?;
    }
    Ok(0)
}

pub fn sys_link(cx: &mut Ctx, a: &Args) -> SysResult {
    link_common(cx, AT_FDCWD, a.0[0], AT_FDCWD, a.0[1], 0)
}

pub fn sys_linkat(cx: &mut Ctx, a: &Args) -> SysResult {
    link_common(cx, int(a.0[0]), a.0[1], int(a.0[2]), a.0[3], a.0[4] as u32)
}

/// A path opened for a metadata change (chmod, truncate, utimes): follows
/// symlinks inside the mount only; EROFS on a read-only mount.
fn open_for_change(cx: &Ctx, dirfd: i32, name: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
    let abs = absolute(cx, dirfd, name)?;
    match node(cx, &abs) {
        Node::Mount(m, rel) => {
            let fd = m.open(&rel, flags, Mode::empty())?;
            if !m.writable {
                return Err(Errno::ROFS);
            }
            Ok(fd)
        }
        Node::Missing => Err(Errno::NOENT),
        _ => Err(Errno::ROFS),
    }
}

/// The host path of our own descriptor, for calls that take no fd
/// (chmod): /proc/self/fd/N names exactly the inode we opened safely.
fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd))
}

fn chmod_common(cx: &mut Ctx, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let name = read_path(cx, path)?;
    let fd = open_for_change(cx, dirfd, &name, OFlags::PATH)?;
    rustix::fs::chmod(fd_path(&fd), Mode::from_raw_mode(mode & 0o7777))?;
    Ok(0)
}

pub fn sys_chmod(cx: &mut Ctx, a: &Args) -> SysResult {
    chmod_common(cx, AT_FDCWD, a.0[0], a.0[1] as u32)
}

pub fn sys_fchmodat(cx: &mut Ctx, a: &Args) -> SysResult {
    chmod_common(cx, int(a.0[0]), a.0[1], a.0[2] as u32)
}

pub fn sys_fchmod(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files.file(int(a.0[0]))?;
    match &f.kind {
        FileKind::Host { fd, writable } => {
            if !writable {
                return Err(Errno::ROFS);
            }
            rustix::fs::fchmod(fd, Mode::from_raw_mode(a.0[1] as u32 & 0o7777))?;
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
    let fd = open_for_change(cx, AT_FDCWD, &name, OFlags::WRONLY)?;
    rustix::fs::ftruncate(&fd, len as u64)?;
    Ok(0)
}

pub fn sys_ftruncate(cx: &mut Ctx, a: &Args) -> SysResult {
    let len = a.0[1] as i64;
    let f = cx.proc.files.file(int(a.0[0]))?;
    if len < 0 {
        return Err(Errno::INVAL);
    }
    match (&f.kind, f.host()) {
        (FileKind::Host { .. }, Some(fd)) => {
            if let Some(limit) = cx.proc.rlimits.fsize() {
                if len as u64 > limit {
                    return Err(Errno::FBIG);
                }
            }
            rustix::fs::ftruncate(fd, len as u64)?;
            Ok(0)
        }
        _ => Err(Errno::INVAL),
    }
}

pub fn sys_fsync(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files.file(int(a.0[0]))?;
    match f.host() {
        Some(fd) => {
            rustix::fs::fsync(fd)?;
            Ok(0)
        }
        None => Err(Errno::INVAL),
    }
}

pub fn sys_umask(cx: &mut Ctx, a: &Args) -> SysResult {
    let old = cx.proc.umask;
    cx.proc.umask = a.0[0] as u32 & 0o777;
    Ok(u64::from(old))
}

pub fn sys_chdir(cx: &mut Ctx, a: &Args) -> SysResult {
    let name = read_path(cx, a.0[0])?;
    let abs = absolute(cx, AT_FDCWD, &name)?;
    match node(cx, &abs) {
        Node::Dir(_) => {}
        Node::Mount(m, rel) => {
            m.open(&rel, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        }
        Node::Missing => return Err(Errno::NOENT),
        _ => return Err(Errno::NOTDIR),
    }
    cx.proc.cwd = abs;
    Ok(0)
}

pub fn sys_fchdir(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files.file(int(a.0[0]))?;
    if !is_dir(&f) {
        return Err(Errno::NOTDIR);
    }
    cx.proc.cwd = f.path.clone();
    Ok(0)
}

pub fn sys_getcwd(cx: &mut Ctx, a: &Args) -> SysResult {
    let mut cwd = cx.proc.cwd.clone();
    cwd.push(0);
    if a.0[1] < cwd.len() as u64 {
        return Err(Errno::RANGE);
    }
    cx.m.user().write(a.0[0], &cwd)?;
    Ok(cwd.len() as u64)
}

/// getdents64 on a host directory or one kvmcage makes up.
pub fn sys_getdents64(cx: &mut Ctx, a: &Args) -> SysResult {
    let (fd, buf, count) = (int(a.0[0]), a.0[1], a.0[2] as u32 as u64);
    let f: Rc<OpenFile> = cx.proc.files.file(fd)?;
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
            let all: Vec<(Vec<u8>, u8)> = [(b".".to_vec(), DT_DIR), (b"..".to_vec(), DT_DIR)]
                .into_iter()
                .chain(entries.iter().cloned())
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
    cx.m.user().write(buf, &out)?;
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
    let rfd = install(
        cx,
        OpenFile::new(
            FileKind::Host {
                fd: r,
                writable: false,
            },
            b"pipe:[r]".to_vec(),
            libc::O_RDONLY as u32,
        ),
        cloexec,
    )?;
    let wfd = match install(
        cx,
        OpenFile::new(
            FileKind::Host {
                fd: w,
                writable: true,
            },
            b"pipe:[w]".to_vec(),
            libc::O_WRONLY as u32,
        ),
        cloexec,
    ) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = cx.proc.files.remove(rfd as i32);
            return Err(e);
        }
    };
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(rfd as i32).to_le_bytes());
    b[4..].copy_from_slice(&(wfd as i32).to_le_bytes());
    if let Err(e) = cx.m.user().write(a.0[0], &b) {
        let _ = cx.proc.files.remove(rfd as i32);
        let _ = cx.proc.files.remove(wfd as i32);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_pipe(cx: &mut Ctx, a: &Args) -> SysResult {
    sys_pipe2(cx, &Args([a.0[0], 0, 0, 0, 0, 0]))
}

/// utimensat: times from the guest (NULL = now; UTIME_NOW/UTIME_OMIT pass
/// through), on a descriptor (path NULL) or a path inside a mount.
pub fn sys_utimensat(cx: &mut Ctx, a: &Args) -> SysResult {
    let (dirfd, path, times, flags) = (int(a.0[0]), a.0[1], a.0[2], a.0[3] as u32);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::INVAL);
    }
    let ts = if times == 0 {
        None
    } else {
        let raw = cx.m.user().read_vec(times, 32)?;
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
    let apply = |host: &str, nofollow: bool| -> SysResult {
        let c = std::ffi::CString::new(host).map_err(|_| Errno::INVAL)?;
        let tp = ts.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
        let fl = if nofollow {
            libc::AT_SYMLINK_NOFOLLOW
        } else {
            0
        };
        // SAFETY: `c` is a valid C string naming one of our own descriptors
        // (/proc/self/fd/N) or a name under one; `tp` is NULL or points at
        // two timespecs that live across the call.
        let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), tp, fl) };
        if rc < 0 {
            return Err(
                Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL)
            );
        }
        Ok(0)
    };
    if path == 0 {
        let f = cx.proc.files.file(dirfd)?;
        return match &f.kind {
            FileKind::Host { fd, writable } => {
                if !writable {
                    return Err(Errno::ROFS);
                }
                apply(
                    &format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd)),
                    false,
                )
            }
            _ => Err(Errno::PERM),
        };
    }
    let name = read_path(cx, path)?;
    if flags & AT_SYMLINK_NOFOLLOW != 0 {
        let (_, dir, last) = parent_for_change(cx, dirfd, &name)?;
        let host = format!(
            "/proc/self/fd/{}/{}",
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            String::from_utf8_lossy(&last)
        );
        return apply(&host, true);
    }
    let fd = open_for_change(cx, dirfd, &name, OFlags::PATH)?;
    apply(&fd_path(&fd), false)
}

/// statfs: the filesystem of what the path names (opened O_PATH through
/// the policy, then fstatfs).
pub fn sys_statfs(cx: &mut Ctx, a: &Args) -> SysResult {
    let fd = do_open(cx, AT_FDCWD, a.0[0], libc::O_PATH as u32, 0)? as i32;
    let r = super::fs::sys_fstatfs(cx, &Args([fd as u64, a.0[1], 0, 0, 0, 0]));
    let _ = cx.proc.files.remove(fd);
    r
}
