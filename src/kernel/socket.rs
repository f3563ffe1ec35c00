//! AF_UNIX sockets inside the sandbox: socket, socketpair, bind, listen,
//! accept, connect, send/recv (with SCM_RIGHTS and SCM_CREDENTIALS),
//! shutdown, get/setsockopt, getsockname/getpeername.
//!
//! Each guest socket is a host AF_UNIX socket (FileKind::Host), so the
//! host kernel keeps the buffers, message boundaries, readiness and
//! EPIPE/EOF rules. kvmcage translates what crosses the boundary:
//! - **addresses**: a path is walked by guest path like every other (bind
//!   creates the socket file in a writable mount, connect reaches a socket
//!   file the view shows) and reaches the host through the walk's
//!   descriptor (`/proc/self/fd/N/name`); abstract names get a prefix
//!   private to this sandbox, so the program can neither reach the host's
//!   abstract sockets nor another sandbox's. Names coming back
//!   (getsockname, accept, recvfrom) are shown as the program gave them.
//! - **descriptors and credentials** in control messages: guest fds to host
//!   fds and back; pids and ids as the sandbox shows them.
//! - **blocking**: a blocking call waits in the one waiting place
//!   (wait::wait_fd) and then makes a host call that does not block, so a
//!   signal or the run's end interrupts it.
//!
//! Other address families are EAFNOSUPPORT: the sandbox has no network.

use std::collections::VecDeque;
use std::mem::offset_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use rustix::io::Errno;

use super::abi;
use super::fs::{FileKind, OpenFile};
use super::{int, last_errno, wait, Args, Ctx, SysResult};

const AF_UNIX: u64 = libc::AF_UNIX as u64;
/// sizeof(struct sockaddr_un) and offsetof(sun_path).
const SOCKADDR_UN: usize = 110;
const SUN_PATH_OFF: usize = 2;
/// The most a control buffer may carry (Linux's net.core.optmem_max
/// default).
const OPTMEM_MAX: u64 = 20480;
/// The most one call moves (a datagram larger than a socket buffer is
/// EMSGSIZE on the host long before this).
const MAX_MSG: u64 = 16 << 20;
/// Bound socket names remembered for getsockname and friends; past it the
/// oldest is forgotten (its name then shows as unnamed).
const MAX_NAMES: usize = 4096;

/// The sandbox's names for its bound sockets.
#[derive(Debug, Default)]
pub struct UnixNames {
    /// "kvmcage-<random>/": what abstract names get in front on the host.
    prefix: Vec<u8>,
    /// Host name (sun_path bytes: a path, or "\0" and an abstract name)
    /// -> the name the program gave. Host paths carry a random part, so a
    /// reused directory descriptor number never makes two alike.
    bound: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Files sent with SCM_RIGHTS and not yet received. What travels
    /// through the host socket is a token, the read end of a pipe of its
    /// own; the receiver gets the same open file back (its kind, view,
    /// quota and output limits included), never a bare host descriptor.
    /// Kept: the token's pipe inode, its write end (which polls POLLERR
    /// once the host dropped the token: a message cut short or never
    /// received), and the file.
    in_flight: Vec<Passed>,
}

#[derive(Debug)]
struct Passed {
    token: (u64, u64),
    write_end: OwnedFd,
    file: Arc<OpenFile>,
}

/// Files that may be in flight at once (Linux bounds them by
/// RLIMIT_NOFILE; past it, ETOOMANYREFS).
const MAX_IN_FLIGHT: usize = 4096;

fn inode_of(fd: BorrowedFd<'_>) -> (u64, u64) {
    rustix::fs::fstat(fd).map_or((0, 0), |st| (st.st_dev, st.st_ino))
}

/// Has the reader of the pipe whose write end is `w` gone?
fn reader_gone(w: &OwnedFd) -> bool {
    let mut p = [rustix::event::PollFd::new(w, rustix::event::PollFlags::OUT)];
    rustix::event::poll(&mut p, Some(&rustix::time::Timespec::default())).is_ok()
        && p[0].revents().contains(rustix::event::PollFlags::ERR)
}

impl UnixNames {
    /// Room for more files in flight, after forgetting those whose token
    /// the host dropped.
    fn in_flight_room(&mut self) -> usize {
        self.in_flight.retain(|p| !reader_gone(&p.write_end));
        MAX_IN_FLIGHT.saturating_sub(self.in_flight.len())
    }

    /// The sandbox's own file a received token stands for.
    fn receive_file(&mut self, fd: BorrowedFd<'_>) -> Option<Arc<OpenFile>> {
        let key = inode_of(fd);
        let i = self.in_flight.iter().position(|p| p.token == key)?;
        Some(self.in_flight.swap_remove(i).file)
    }

    fn remember(&mut self, host: Vec<u8>, guest: Vec<u8>) {
        if self.bound.iter().any(|(h, _)| *h == host) {
            return;
        }
        if self.bound.len() >= MAX_NAMES {
            self.bound.pop_front();
        }
        self.bound.push_back((host, guest));
    }

    fn prefix(&mut self) -> &[u8] {
        if self.prefix.is_empty() {
            let mut r = [0u8; 8];
            let _ = rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty());
            self.prefix = format!("kvmcage-{:016x}/", u64::from_le_bytes(r)).into_bytes();
        }
        &self.prefix
    }
}

/// A host descriptor of an AF_UNIX socket the program holds.
fn socket_file(cx: &Ctx, fd: i32) -> Result<Arc<OpenFile>, Errno> {
    let f = cx.proc.files().file(fd)?;
    if !f.host().is_some_and(super::fs::is_socket) {
        return Err(Errno::NOTSOCK);
    }
    Ok(f)
}

fn host(f: &OpenFile) -> BorrowedFd<'_> {
    f.host().expect("socket_file checked it")
}

/// The /proc/self/fd link text of a host socket.
fn socket_path(fd: BorrowedFd<'_>) -> Vec<u8> {
    let ino = rustix::fs::fstat(fd).map(|s| s.st_ino).unwrap_or(0);
    format!("socket:[{ino}]").into_bytes()
}

fn install_socket(cx: &mut Ctx, fd: OwnedFd, flags: u32) -> SysResult {
    install_socket_file(cx, fd, flags).map(|(g, _)| g as u64)
}

/// `install_socket`, also giving the file installed (to undo the install
/// with `Files::remove_if` if the call fails later).
fn install_socket_file(
    cx: &mut Ctx,
    fd: OwnedFd,
    flags: u32,
) -> Result<(i32, std::sync::Arc<OpenFile>), Errno> {
    let path = socket_path(fd.as_fd());
    let mut oflags = libc::O_RDWR as u32;
    if flags & libc::SOCK_NONBLOCK as u32 != 0 {
        oflags |= libc::O_NONBLOCK as u32;
    }
    let file = std::sync::Arc::new(OpenFile::new(
        FileKind::Host { fd, writable: true },
        path,
        oflags,
    ));
    let limit = cx.proc.rlimits.nofile();
    let cloexec = flags & libc::SOCK_CLOEXEC as u32 != 0;
    let g = cx.proc.files().share(file.clone(), cloexec, limit)?;
    Ok((g, file))
}

/// The type argument's flags, checked as Linux does.
fn type_flags(ty: u64) -> Result<(i32, u32), Errno> {
    let ty = ty as u32;
    let flags = ty & (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u32;
    let base = ty & !flags;
    if base & !0xf != 0 {
        return Err(Errno::INVAL);
    }
    Ok((base as i32, flags))
}

fn host_socket(ty: i32, flags: u32, proto: i32) -> Result<OwnedFd, Errno> {
    let mut t = ty | libc::SOCK_CLOEXEC;
    if flags & libc::SOCK_NONBLOCK as u32 != 0 {
        t |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: socket() takes no pointers; a non-negative result is a new
    // descriptor nothing else owns.
    let fd = unsafe { libc::socket(libc::AF_UNIX, t, proto) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn check(rc: libc::c_int) -> Result<usize, Errno> {
    if rc < 0 {
        Err(last_errno())
    } else {
        Ok(rc as usize)
    }
}

fn check_size(rc: isize) -> Result<usize, Errno> {
    if rc < 0 {
        Err(last_errno())
    } else {
        Ok(rc as usize)
    }
}

pub fn sys_socket(cx: &mut Ctx, a: &Args) -> SysResult {
    let (ty, flags) = type_flags(a.0[1])?;
    if a.0[0] as u32 as u64 != AF_UNIX {
        // No network in the sandbox; unknown families are the same answer.
        return Err(Errno::AFNOSUPPORT);
    }
    let fd = host_socket(ty, flags, int(a.0[2]))?;
    install_socket(cx, fd, flags)
}

pub fn sys_socketpair(cx: &mut Ctx, a: &Args) -> SysResult {
    let (ty, flags) = type_flags(a.0[1])?;
    let domain = a.0[0] as u32;
    if u64::from(domain) != AF_UNIX {
        // Linux: the families that exist have no socketpair.
        return Err(
            if domain < 46
            /* AF_MAX */
            {
                Errno::OPNOTSUPP
            } else {
                Errno::AFNOSUPPORT
            },
        );
    }
    let mut t = ty | libc::SOCK_CLOEXEC;
    if flags & libc::SOCK_NONBLOCK as u32 != 0 {
        t |= libc::SOCK_NONBLOCK;
    }
    let mut sv = [0i32; 2];
    // SAFETY: `sv` is a live array of two ints socketpair writes.
    check(unsafe { libc::socketpair(libc::AF_UNIX, t, int(a.0[2]), sv.as_mut_ptr()) })?;
    // SAFETY: two new descriptors nothing else owns.
    let (s0, s1) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
    let (g0, f0) = install_socket_file(cx, s0, flags)?;
    let (g1, f1) = match install_socket_file(cx, s1, flags) {
        Ok(g) => g,
        Err(e) => {
            cx.proc.files().remove_if(g0, &f0);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&g0.to_le_bytes());
    out[4..].copy_from_slice(&g1.to_le_bytes());
    if let Err(e) = cx.user().write(a.0[3], &out) {
        cx.proc.files().remove_if(g0, &f0);
        cx.proc.files().remove_if(g1, &f1);
        return Err(e);
    }
    Ok(0)
}

/// A guest socket address, read and checked as Linux's unix_validate_addr.
enum GuestAddr {
    /// sun_family only: autobind (bind) or EINVAL.
    Unnamed,
    Path(Vec<u8>),
    Abstract(Vec<u8>),
}

fn read_addr(cx: &Ctx, addr: u64, len: u64) -> Result<GuestAddr, Errno> {
    let len = len as u32 as usize;
    if !(SUN_PATH_OFF..=SOCKADDR_UN).contains(&len) {
        return Err(Errno::INVAL);
    }
    let raw = cx.user().read_vec(addr, len)?;
    if u16::from_le_bytes([raw[0], raw[1]]) as u64 != AF_UNIX {
        return Err(Errno::INVAL);
    }
    let name = &raw[SUN_PATH_OFF..];
    Ok(match name.first() {
        None => GuestAddr::Unnamed,
        Some(0) => GuestAddr::Abstract(name[1..].to_vec()),
        Some(_) => {
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            GuestAddr::Path(name[..end].to_vec())
        }
    })
}

/// A host sockaddr_un for `name` (a path or "\0"+abstract bytes).
fn host_addr(name: &[u8]) -> Result<(libc::sockaddr_un, libc::socklen_t), Errno> {
    // SAFETY: sockaddr_un is plain data; all zeros is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if name.len() > sa.sun_path.len() {
        return Err(Errno::INVAL);
    }
    for (d, s) in sa.sun_path.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    let is_path = name.first().is_some_and(|&b| b != 0);
    let len = SUN_PATH_OFF + name.len() + usize::from(is_path && name.len() < 108);
    Ok((sa, len as libc::socklen_t))
}

/// The first `len` bytes of a socket address the host wrote, at most the
/// whole struct (Linux reports 111 for a 108-byte path with no room for
/// its NUL).
fn addr_bytes(sa: &libc::sockaddr_un, len: usize) -> &[u8] {
    let len = len.min(std::mem::size_of::<libc::sockaddr_un>());
    // SAFETY: `sa` is plain data of at least `len` bytes (clamped above),
    // borrowed for the slice's lifetime.
    unsafe { std::slice::from_raw_parts((sa as *const libc::sockaddr_un).cast::<u8>(), len) }
}

/// The host name of an abstract guest name: "\0", the sandbox's prefix,
/// the name; a name too long for that is replaced by a hash of it
/// (remembered, so it shows as given).
fn abstract_host(cx: &mut Ctx, name: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8];
    h.extend_from_slice(cx.proc.unix.lock().prefix());
    if h.len() + name.len() <= 108 {
        h.extend_from_slice(name);
        return h;
    }
    use std::hash::{Hash, Hasher};
    let mut digest = String::from("#");
    for seed in [0u8, 1] {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (seed, name).hash(&mut hasher);
        digest.push_str(&format!("{:016x}", hasher.finish()));
    }
    h.extend_from_slice(digest.as_bytes());
    cx.proc
        .unix
        .lock()
        .remember(h.clone(), [&[0u8][..], name].concat());
    h
}

/// The host address a connect or sendto to `addr` goes to.
fn peer_addr(cx: &mut Ctx, addr: GuestAddr) -> Result<(Vec<u8>, Option<OwnedFd>), Errno> {
    match addr {
        GuestAddr::Unnamed => Err(Errno::INVAL),
        GuestAddr::Abstract(n) => Ok((abstract_host(cx, &n), None)),
        GuestAddr::Path(p) => {
            let fd = super::path::socket_target(cx, &p)?;
            let name = format!("/proc/self/fd/{}", fd.as_raw_fd()).into_bytes();
            Ok((name, Some(fd)))
        }
    }
}

/// Show a host socket address as the program should see it: its own
/// paths and abstract names as it gave them.
fn guest_name(cx: &Ctx, raw: &[u8]) -> Vec<u8> {
    if raw.len() <= SUN_PATH_OFF {
        return raw.to_vec();
    }
    let mut name = &raw[SUN_PATH_OFF..];
    if name[0] != 0 {
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        name = &name[..end];
    }
    let mut out = raw[..SUN_PATH_OFF].to_vec();
    let unix = cx.proc.unix.lock();
    if let Some((_, g)) = unix.bound.iter().find(|(h, _)| *h == name) {
        out.extend_from_slice(g);
        if g.first() != Some(&0) {
            // A path's NUL, even past a full sun_path (Linux's len 111).
            out.push(0);
        }
        return out;
    }
    let p = &unix.prefix;
    if name[0] == 0 {
        if !p.is_empty() && name[1..].starts_with(p) {
            out.push(0);
            out.extend_from_slice(&name[1 + p.len()..]);
            return out;
        }
        return raw.to_vec();
    }
    // Not a name this sandbox bound (a host socket in a mount, or one
    // forgotten): shown unnamed rather than by its host path.
    out
}

/// Write a socket address to the guest's (addr, *addrlen) as Linux's
/// move_addr_to_user: the copy is cut to the buffer, the full length
/// written back.
fn put_addr(cx: &mut Ctx, addr: u64, lenp: u64, name: &[u8]) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    let len = cx.user().read_obj::<i32>(lenp)?;
    if len < 0 {
        return Err(Errno::INVAL);
    }
    let n = name.len().min(len as usize);
    cx.user().write(addr, &name[..n])?;
    cx.user().write_obj(lenp, &(name.len() as i32))
}

pub fn sys_bind(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    let addr = read_addr(cx, a.0[1], a.0[2])?;
    let fd = host(&f);
    match addr {
        GuestAddr::Unnamed => {
            // Autobind, as Linux's: five hex digits, in the sandbox's
            // abstract names.
            let mut tries = 0;
            loop {
                let mut r = [0u8; 4];
                let _ = rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty());
                let n = format!("{:05x}", u32::from_le_bytes(r) & 0xfffff);
                let name = abstract_host(cx, n.as_bytes());
                match host_bind(fd, &name) {
                    Err(Errno::ADDRINUSE) if tries < 64 => tries += 1,
                    r => break r?,
                }
            }
        }
        GuestAddr::Abstract(n) => {
            let name = abstract_host(cx, &n);
            host_bind(fd, &name)?;
        }
        GuestAddr::Path(p) => {
            let (dir, leaf, quota) = super::path::socket_place(cx, &p)?;
            let os = |b: &[u8]| -> std::ffi::OsString {
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b).to_owned()
            };
            // Bound under a fresh random name beside the target (so the host
            // name is unique and short however long the guest path is),
            // with the program's umask, then moved to its name: connect
            // finds a socket by its file.
            let mut r = [0u8; 8];
            let _ = rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty());
            let tmp = format!(".kvmcage-sock-{:016x}", u64::from_le_bytes(r)).into_bytes();
            let host_name = [
                format!("/proc/self/fd/{}/", dir.as_raw_fd()).as_bytes(),
                &tmp,
            ]
            .concat();
            let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(cx.proc.umask()));
            let bound = host_bind(fd, &host_name);
            rustix::process::umask(umask);
            bound?;
            if let Err(e) = rustix::fs::renameat_with(
                &dir,
                os(&tmp),
                &dir,
                os(&leaf),
                rustix::fs::RenameFlags::NOREPLACE,
            ) {
                let _ = rustix::fs::unlinkat(&dir, os(&tmp), rustix::fs::AtFlags::empty());
                return Err(if e == Errno::EXIST {
                    Errno::ADDRINUSE
                } else {
                    e
                });
            }
            super::path::account_new(quota.as_deref(), &dir, &leaf);
            cx.proc.unix.lock().remember(host_name, p);
        }
    }
    Ok(0)
}

fn host_bind(fd: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    let (sa, len) = host_addr(name)?;
    // SAFETY: `sa` is a live sockaddr_un of the length given.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sa as *const _ as *const libc::sockaddr,
            len,
        )
    })?;
    Ok(())
}

pub fn sys_listen(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    // SAFETY: listen takes no pointers.
    check(unsafe { libc::listen(host(&f).as_raw_fd(), int(a.0[1])) })?;
    Ok(0)
}

/// Is the guest's view of `f` blocking (and the call without a
/// don't-wait flag)?
fn blocking(f: &OpenFile, dontwait: bool) -> bool {
    // The host descriptor's O_NONBLOCK is the program's (F_SETFL sets it).
    !dontwait && super::fs::may_block(host(f))
}

pub fn sys_connect(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    if a.0[2] as u32 as usize >= SUN_PATH_OFF
        && cx.user().read_obj::<u16>(a.0[1])? == libc::AF_UNSPEC as u16
        && sock_type(&f) != libc::SOCK_STREAM
    {
        // AF_UNSPEC dissolves a datagram socket's association.
        // SAFETY: sockaddr is plain data; zeroed is valid.
        let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
        sa.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
        let len = std::mem::size_of::<libc::sockaddr>() as libc::socklen_t;
        // SAFETY: `sa` is live and of the length given.
        check(unsafe { libc::connect(host(&f).as_raw_fd(), &sa, len) })?;
        return Ok(0);
    }
    let addr = read_addr(cx, a.0[1], a.0[2])?;
    let (name, _hold) = peer_addr(cx, addr)?;
    let (sa, len) = host_addr(&name)?;
    let fd = host(&f).as_raw_fd();
    // SAFETY: `sa` is a live sockaddr_un of the length given. A stream
    // connect blocks only while the listener's backlog is full; it runs
    // with the kick unblocked, so a signal or the run's end interrupts it.
    let rc = wait::interruptible(cx, || unsafe {
        libc::connect(fd, &sa as *const _ as *const libc::sockaddr, len)
    });
    match check(rc) {
        Err(Errno::INTR) => Err(wait::ERESTARTSYS),
        r => r.map(|_| 0),
    }
}

fn accept_common(cx: &mut Ctx, a: &Args, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !((libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u32) != 0 {
        return Err(Errno::INVAL);
    }
    let f = socket_file(cx, int(a.0[0]))?;
    let fd = host(&f);
    let mut hflags = libc::SOCK_CLOEXEC;
    if flags & libc::SOCK_NONBLOCK as u32 != 0 {
        hflags |= libc::SOCK_NONBLOCK;
    }
    // A socket that is not listening answers at once (EINVAL).
    let block = blocking(&f, false) && sockopt_int(fd, libc::SO_ACCEPTCONN) == Some(1);
    // SAFETY: sockaddr_un is plain data; zeroed is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let new = loop {
        if block && !wait::wait_fd(cx, fd, libc::POLLIN)? {
            return Err(wait::ERESTARTSYS);
        }
        let mut len = SOCKADDR_UN as libc::socklen_t;
        // SAFETY: `sa` and `len` are live and describe the buffer.
        let rc = wait::interruptible(cx, || unsafe {
            libc::accept4(
                fd.as_raw_fd(),
                &mut sa as *mut _ as *mut libc::sockaddr,
                &mut len,
                hflags,
            )
        });
        match check(rc) {
            Err(Errno::INTR) | Err(Errno::AGAIN) if block => continue,
            Err(e) => return Err(e),
            // SAFETY: a new descriptor nothing else owns.
            Ok(n) => break (unsafe { OwnedFd::from_raw_fd(n as i32) }, len as usize),
        }
    };
    let raw = addr_bytes(&sa, new.1);
    let name = guest_name(cx, raw);
    let (g, file) = install_socket_file(cx, new.0, flags)?;
    if let Err(e) = put_addr(cx, a.0[1], a.0[2], &name) {
        cx.proc.files().remove_if(g, &file);
        return Err(e);
    }
    Ok(g as u64)
}

pub fn sys_accept(cx: &mut Ctx, a: &Args) -> SysResult {
    accept_common(cx, a, 0)
}

pub fn sys_accept4(cx: &mut Ctx, a: &Args) -> SysResult {
    accept_common(cx, a, a.0[3])
}

pub fn sys_shutdown(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    // SAFETY: shutdown takes no pointers.
    check(unsafe { libc::shutdown(host(&f).as_raw_fd(), int(a.0[1])) })?;
    Ok(0)
}

fn name_common(cx: &mut Ctx, a: &Args, peer: bool) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    // SAFETY: sockaddr_un is plain data; zeroed is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = SOCKADDR_UN as libc::socklen_t;
    let fd = host(&f).as_raw_fd();
    let p = &mut sa as *mut _ as *mut libc::sockaddr;
    // SAFETY: `sa` and `len` are live and describe the buffer.
    check(unsafe {
        if peer {
            libc::getpeername(fd, p, &mut len)
        } else {
            libc::getsockname(fd, p, &mut len)
        }
    })?;
    let raw = addr_bytes(&sa, len as usize);
    let name = guest_name(cx, raw);
    put_addr(cx, a.0[1], a.0[2], &name)?;
    Ok(0)
}

pub fn sys_getsockname(cx: &mut Ctx, a: &Args) -> SysResult {
    name_common(cx, a, false)
}

pub fn sys_getpeername(cx: &mut Ctx, a: &Args) -> SysResult {
    name_common(cx, a, true)
}

/// struct ucred as the sandbox shows it: kvmcage's own pid and ids become
/// the program's.
fn guest_ucred(cx: &Ctx, c: &mut libc::ucred) {
    let id = &cx.proc.id;
    if c.pid == std::process::id() as i32 {
        c.pid = id.pid as i32;
    }
    if c.uid == id.host_uid {
        c.uid = id.uid;
    }
    if c.gid == id.host_gid {
        c.gid = id.gid;
    }
}

pub fn sys_getsockopt(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    let (level, name, val, lenp) = (int(a.0[1]), int(a.0[2]), a.0[3], a.0[4]);
    let want = cx.user().read_obj::<i32>(lenp)?;
    if want < 0 {
        return Err(Errno::INVAL);
    }
    if level != libc::SOL_SOCKET || !(FACTS.contains(&name) || SETTABLE.contains(&name)) {
        // Host identifiers (cookies, security labels, group lists) and
        // descriptors (SO_PEERPIDFD) are not the sandbox's to give.
        return Err(Errno::NOPROTOOPT);
    }
    let mut buf = vec![0u8; (want as usize).min(256)];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` and `len` are live and describe the buffer.
    check(unsafe {
        libc::getsockopt(
            host(&f).as_raw_fd(),
            level,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    let len = (len as usize).min(buf.len());
    if level == libc::SOL_SOCKET
        && name == libc::SO_PEERCRED
        && len == std::mem::size_of::<libc::ucred>()
    {
        // SAFETY: `buf` holds a ucred the host wrote (read unaligned).
        let mut c: libc::ucred = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
        guest_ucred(cx, &mut c);
        // SAFETY: writing the same plain struct back into the buffer.
        unsafe { std::ptr::write_unaligned(buf.as_mut_ptr().cast(), c) };
    }
    cx.user().write(val, &buf[..len])?;
    cx.user().write_obj(lenp, &(len as i32))?;
    Ok(0)
}

/// The socket options a program may read: what it may set (`SETTABLE`),
/// and these facts of the socket.
const FACTS: [i32; 6] = [
    libc::SO_TYPE,
    libc::SO_ERROR,
    libc::SO_ACCEPTCONN,
    libc::SO_DOMAIN,
    libc::SO_PROTOCOL,
    libc::SO_PEERCRED,
];

/// The socket options a program may set: buffer sizes and flags of its own
/// sockets. Receive and send timeouts would not bound kvmcage's own waits,
/// so they are refused rather than ignored.
const SETTABLE: [i32; 9] = [
    libc::SO_SNDBUF,
    libc::SO_RCVBUF,
    libc::SO_PASSCRED,
    libc::SO_KEEPALIVE,
    libc::SO_REUSEADDR,
    libc::SO_LINGER,
    libc::SO_RCVLOWAT,
    libc::SO_PEEK_OFF,
    libc::SO_BROADCAST,
];

pub fn sys_setsockopt(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    let (level, name, val, len) = (int(a.0[1]), int(a.0[2]), a.0[3], a.0[4] as u32);
    if len > 4096 {
        return Err(Errno::INVAL);
    }
    if level != libc::SOL_SOCKET || !SETTABLE.contains(&name) {
        return Err(Errno::NOPROTOOPT);
    }
    let buf = cx.user().read_vec(val, len as usize)?;
    // SAFETY: `buf` is live and of the length given.
    check(unsafe {
        libc::setsockopt(host(&f).as_raw_fd(), level, name, buf.as_ptr().cast(), len)
    })?;
    Ok(0)
}

/// A guest msghdr.
#[derive(Default)]
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
}

fn read_msghdr(cx: &Ctx, addr: u64) -> Result<MsgHdr, Errno> {
    let m: abi::MsgHdr = cx.user().read_obj(addr)?;
    Ok(MsgHdr {
        name: m.msg_name,
        namelen: m.msg_namelen,
        iov: m.msg_iov,
        iovlen: m.msg_iovlen,
        control: m.msg_control,
        controllen: m.msg_controllen,
    })
}

/// CMSG_ALIGN for x86-64.
fn cmsg_align(n: usize) -> usize {
    (n + 7) & !7
}

/// Walk a control buffer: (offset of the header, level, type, data range).
fn cmsgs(buf: &[u8]) -> Vec<(usize, i32, i32, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u64::from_le_bytes(buf[off..off + 8].try_into().expect("8")) as usize;
        if len < 16 || len > buf.len() - off {
            break;
        }
        let level = i32::from_le_bytes(buf[off + 8..off + 12].try_into().expect("4"));
        let ty = i32::from_le_bytes(buf[off + 12..off + 16].try_into().expect("4"));
        out.push((off, level, ty, off + 16..off + len));
        off += cmsg_align(len);
    }
    out
}

/// The guest's control messages made host ones: descriptors to host
/// descriptors to tokens (the read ends kept alive in `hold` until sent,
/// the files registered once sent: `register`), credentials to the host's.
fn host_control(
    cx: &Ctx,
    mut buf: Vec<u8>,
    hold: &mut Vec<(OwnedFd, Passed)>,
) -> Result<Vec<u8>, Errno> {
    for (_, level, ty, data) in cmsgs(&buf) {
        // Other levels mean nothing to an AF_UNIX socket (Linux skips them).
        if level != libc::SOL_SOCKET {
            continue;
        }
        match ty {
            libc::SCM_RIGHTS => {
                if data.len() % 4 != 0 || data.len() / 4 > 253 {
                    return Err(Errno::INVAL);
                }
                for i in (data.start..data.end).step_by(4) {
                    let g = i32::from_le_bytes(buf[i..i + 4].try_into().expect("4"));
                    let file = cx.proc.files().file(g)?;
                    let (r, w) = rustix::pipe::pipe_with(
                        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
                    )?;
                    buf[i..i + 4].copy_from_slice(&r.as_raw_fd().to_le_bytes());
                    let token = inode_of(r.as_fd());
                    hold.push((
                        r,
                        Passed {
                            token,
                            write_end: w,
                            file,
                        },
                    ));
                }
            }
            libc::SCM_CREDENTIALS => {
                if data.len() < 12 {
                    return Err(Errno::INVAL);
                }
                let r = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().expect("4"));
                let (pid, uid, gid) = (r(data.start), r(data.start + 4), r(data.start + 8));
                let id = &cx.proc.id;
                // Only one's own credentials, as an unprivileged sender.
                if pid != id.pid || uid != id.uid || gid != id.gid {
                    return Err(Errno::PERM);
                }
                let s = data.start;
                buf[s..s + 4].copy_from_slice(&std::process::id().to_le_bytes());
                buf[s + 4..s + 8].copy_from_slice(&id.host_uid.to_le_bytes());
                buf[s + 8..s + 12].copy_from_slice(&id.host_gid.to_le_bytes());
            }
            _ => return Err(Errno::INVAL),
        }
    }
    Ok(buf)
}

/// The host's control messages made the guest's: received descriptors
/// installed, credentials shown as the sandbox's. Returns the MSG_CTRUNC
/// flag when a descriptor could not be installed.
fn guest_control(cx: &mut Ctx, buf: &mut [u8], cloexec: bool) -> i32 {
    let mut trunc = 0;
    for (_, level, ty, data) in cmsgs(buf) {
        if level != libc::SOL_SOCKET {
            continue;
        }
        match ty {
            libc::SCM_RIGHTS => {
                for i in (data.start..data.end).step_by(4) {
                    let h = i32::from_le_bytes(buf[i..i + 4].try_into().expect("4"));
                    // SAFETY: the host just gave us this descriptor
                    // (MSG_CMSG_CLOEXEC); nothing else owns it.
                    let fd = unsafe { OwnedFd::from_raw_fd(h) };
                    let g = received_file(cx, fd, cloexec).unwrap_or_else(|_| {
                        trunc = libc::MSG_CTRUNC;
                        -1
                    });
                    buf[i..i + 4].copy_from_slice(&g.to_le_bytes());
                }
            }
            libc::SCM_CREDENTIALS if data.len() >= 12 => {
                let s = data.start;
                let r = |b: &[u8], i: usize| i32::from_le_bytes(b[i..i + 4].try_into().expect("4"));
                let mut c = libc::ucred {
                    pid: r(buf, s),
                    uid: r(buf, s + 4) as u32,
                    gid: r(buf, s + 8) as u32,
                };
                guest_ucred(cx, &mut c);
                buf[s..s + 4].copy_from_slice(&c.pid.to_le_bytes());
                buf[s + 4..s + 8].copy_from_slice(&c.uid.to_le_bytes());
                buf[s + 8..s + 12].copy_from_slice(&c.gid.to_le_bytes());
            }
            _ => {}
        }
    }
    trunc
}

/// Install a descriptor that came over a socket: the sandbox's own file
/// when it is one of its tokens, else (a host peer's) a plain host file.
fn received_file(cx: &mut Ctx, fd: OwnedFd, cloexec: bool) -> Result<i32, Errno> {
    let received = cx.proc.unix.lock().receive_file(fd.as_fd());
    if let Some(f) = received {
        let limit = cx.proc.rlimits.nofile();
        return cx.proc.files().share(f, cloexec, limit);
    }
    let st = rustix::fs::fstat(&fd)?;
    use rustix::fs::FileType as T;
    let ty = T::from_raw_mode(st.st_mode);
    let path = match ty {
        T::Socket => format!("socket:[{}]", st.st_ino),
        T::Fifo => format!("pipe:[{}]", st.st_ino),
        _ => "anon_inode:[passed]".to_owned(),
    };
    let fl = rustix::fs::fcntl_getfl(&fd)?.bits();
    let file = OpenFile::new(
        FileKind::Host {
            fd,
            writable: fl & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32,
        },
        path.into_bytes(),
        fl,
    );
    Ok(super::path::install(cx, file, cloexec)? as i32)
}

/// sendmsg, and sendto through it: the data of `iov`, to `m`'s address
/// with `m`'s control messages.
fn send_common(
    cx: &mut Ctx,
    f: &OpenFile,
    iov: &[(u64, u64)],
    m: &MsgHdr,
    flags: u64,
) -> SysResult {
    let flags = flags as u32 as i32;
    let total: u64 = iov.iter().map(|&(_, l)| l).sum::<u64>().min(MAX_MSG);
    let mut data = Vec::with_capacity(total as usize);
    for &(base, len) in iov {
        let take = len.min(total - data.len() as u64) as usize;
        let start = data.len();
        data.resize(start + take, 0);
        cx.user().read(base, &mut data[start..])?;
    }
    let ty = sock_type(f);
    if ty == libc::SOCK_STREAM && m.name != 0 && m.namelen != 0 {
        // Linux's unix_stream_sendmsg: a stream takes no address.
        // SAFETY: sockaddr_un is plain data; zeroed is valid.
        let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        let mut len = SOCKADDR_UN as libc::socklen_t;
        // SAFETY: `sa` and `len` are live and describe the buffer.
        let connected = unsafe {
            libc::getpeername(
                host(f).as_raw_fd(),
                (&mut sa as *mut libc::sockaddr_un).cast(),
                &mut len,
            )
        } == 0;
        return Err(if connected {
            Errno::ISCONN
        } else {
            Errno::OPNOTSUPP
        });
    }
    // A seqpacket socket ignores the address (unix_seqpacket_sendmsg).
    let (dest, _hold_dir) = if m.name != 0 && m.namelen != 0 && ty != libc::SOCK_SEQPACKET {
        let a = read_addr(cx, m.name, u64::from(m.namelen))?;
        let (n, d) = peer_addr(cx, a)?;
        (Some(host_addr(&n)?), d)
    } else {
        (None, None)
    };
    let mut hold = Vec::new();
    let mut control = if m.controllen != 0 {
        if m.controllen > OPTMEM_MAX {
            return Err(Errno::NOBUFS);
        }
        let raw = cx.user().read_vec(m.control, m.controllen as usize)?;
        host_control(cx, raw, &mut hold)?
    } else {
        Vec::new()
    };
    if hold.len() > cx.proc.unix.lock().in_flight_room() {
        return Err(Errno::TOOMANYREFS);
    }
    let h = host(f).as_raw_fd();
    let block = blocking(f, flags & libc::MSG_DONTWAIT != 0);
    let stream = ty == libc::SOCK_STREAM;
    let mut done = 0usize;
    let mut backoff = std::time::Duration::from_micros(500);
    loop {
        let mut one = libc::iovec {
            iov_base: data[done..].as_ptr() as *mut _,
            iov_len: data.len() - done,
        };
        // SAFETY: msghdr is plain data; zeroed is valid.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = &mut one;
        hdr.msg_iovlen = 1;
        if let Some((sa, len)) = &dest {
            hdr.msg_name = sa as *const _ as *mut _;
            hdr.msg_namelen = *len;
        }
        if !control.is_empty() {
            hdr.msg_control = control.as_mut_ptr().cast();
            hdr.msg_controllen = control.len();
        }
        // kvmcage raises the program's SIGPIPE itself; the host call never
        // waits: a blocking send waits for room below and tries again.
        let hflags = flags | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        // SAFETY: `hdr` points at `one`, `data`, the address and `control`,
        // all live for the call.
        let r = check_size(unsafe { libc::sendmsg(h, &hdr, hflags) });
        match r {
            Ok(n) => {
                done += n;
                // Control data goes with the first bytes only; the files
                // it passed are in flight until received.
                if !control.is_empty() {
                    control.clear();
                    // The tokens are in flight (the host holds its own
                    // copies of the read ends): remember what they are.
                    let passed = std::mem::take(&mut hold).into_iter().map(|(_, p)| p);
                    cx.proc.unix.lock().in_flight.extend(passed);
                }
                if !block || !stream || done == data.len() {
                    return Ok(done as u64);
                }
                if !wait::wait_fd(cx, host(f), libc::POLLOUT)? {
                    return Ok(done as u64);
                }
            }
            // A datagram to a full receiver: the sender's own POLLOUT says
            // nothing of the receiver's queue (Linux sleeps on the peer), so
            // wait a growing while instead.
            Err(Errno::AGAIN) if block && ty == libc::SOCK_DGRAM => {
                let d = wait::Deadline::after(backoff);
                backoff = (backoff * 2).min(std::time::Duration::from_millis(50));
                if wait::block_on(cx, &mut [], Some(d), wait::Wake::Signal)? == wait::Woken::Signal
                {
                    return Err(wait::ERESTARTSYS);
                }
            }
            Err(Errno::AGAIN) if block => {
                if !wait::wait_fd(cx, host(f), libc::POLLOUT)? {
                    return if done > 0 {
                        Ok(done as u64)
                    } else {
                        Err(wait::ERESTARTSYS)
                    };
                }
            }
            Err(Errno::PIPE) => {
                if flags & libc::MSG_NOSIGNAL == 0 && stream && done == 0 {
                    super::fs::raise_sigpipe(cx);
                }
                return if done > 0 {
                    Ok(done as u64)
                } else {
                    Err(Errno::PIPE)
                };
            }
            Err(e) => return if done > 0 { Ok(done as u64) } else { Err(e) },
        }
    }
}

/// An int-valued SOL_SOCKET option of a host socket (None on error).
pub(super) fn sockopt_int(fd: BorrowedFd<'_>, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are live and describe an int.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(v)
}

fn sock_type(f: &OpenFile) -> i32 {
    sockopt_int(host(f), libc::SO_TYPE).unwrap_or(libc::SOCK_STREAM)
}

/// One buffer as an iovec list, checked as Linux's import_single_range.
fn single(buf: u64, len: u64) -> Result<Vec<(u64, u64)>, Errno> {
    let len = len.min(crate::mm::uaccess::MAX_RW_COUNT);
    if !crate::mm::uaccess::access_ok(buf, len) {
        return Err(Errno::FAULT);
    }
    Ok(vec![(buf, len)])
}

pub fn sys_sendmsg(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    sendmsg_at(cx, &f, a.0[1], a.0[2])
}

/// sendmsg of the msghdr at `hdr`.
fn sendmsg_at(cx: &mut Ctx, f: &OpenFile, hdr: u64, flags: u64) -> SysResult {
    let m = read_msghdr(cx, hdr)?;
    let iov = super::fs::read_iovecs(cx, m.iov, m.iovlen)?;
    send_common(cx, f, &iov, &m, flags)
}

/// sizeof(struct mmsghdr): a msghdr and msg_len (padded).
const MMSGHDR: u64 = std::mem::size_of::<libc::mmsghdr>() as u64;
/// Where an mmsghdr's msg_len is: right after its msghdr.
const MSG_LEN: u64 = std::mem::size_of::<abi::MsgHdr>() as u64;
/// Linux's UIO_MAXIOV bounds vlen.
const MAX_VLEN: u64 = 1024;

/// sendmmsg: sendmsg for each entry until one fails; the count sent (the
/// error only when the first fails), each msg_len written.
pub fn sys_sendmmsg(cx: &mut Ctx, a: &Args) -> SysResult {
    let (vec, vlen, flags) = (a.0[1], (a.0[2] as u32 as u64).min(MAX_VLEN), a.0[3]);
    let f = socket_file(cx, int(a.0[0]))?;
    let mut done = 0;
    while done < vlen {
        let at = vec + done * MMSGHDR;
        match sendmsg_at(cx, &f, at, flags) {
            Ok(n) => cx.user().write_obj(at + MSG_LEN, &(n as u32))?,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += 1;
    }
    Ok(done)
}

/// recvmmsg: recvmsg for each entry; after the first, MSG_WAITFORONE stops
/// waiting, and the timeout is looked at after each message (Linux's
/// semantics: it does not bound the wait for one).
pub fn sys_recvmmsg(cx: &mut Ctx, a: &Args) -> SysResult {
    let (vec, vlen, mut flags, uts) =
        (a.0[1], (a.0[2] as u32 as u64).min(MAX_VLEN), a.0[3], a.0[4]);
    let deadline = if uts != 0 {
        Some(wait::Deadline::after(super::time::read_timespec(cx, uts)?))
    } else {
        None
    };
    let f = socket_file(cx, int(a.0[0]))?;
    let mut done = 0;
    while done < vlen {
        let at = vec + done * MMSGHDR;
        match recvmsg_at(cx, &f, at, flags) {
            Ok(n) => cx.user().write_obj(at + MSG_LEN, &(n as u32))?,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += 1;
        if flags & libc::MSG_WAITFORONE as u64 != 0 {
            flags |= libc::MSG_DONTWAIT as u64;
        }
        if deadline.is_some_and(wait::Deadline::passed) {
            break;
        }
    }
    Ok(done)
}

pub fn sys_sendto(cx: &mut Ctx, a: &Args) -> SysResult {
    let iov = single(a.0[1], a.0[2])?;
    let m = MsgHdr {
        name: a.0[4],
        namelen: a.0[5] as u32,
        ..Default::default()
    };
    let f = socket_file(cx, int(a.0[0]))?;
    send_common(cx, &f, &iov, &m, a.0[3])
}

/// What a receive gave: bytes (the datagram's full length under MSG_TRUNC),
/// msg_flags, the sender's name as the guest sees it, the control bytes.
struct Received {
    n: usize,
    flags: i32,
    name: Vec<u8>,
    control: Vec<u8>,
}

/// recvmsg, and recvfrom through it: into `iov`, with room for
/// `controllen` bytes of control messages.
fn recv_common(
    cx: &mut Ctx,
    f: &OpenFile,
    iov: &[(u64, u64)],
    controllen: u64,
    flags: u64,
) -> Result<Received, Errno> {
    let flags = flags as u32 as i32;
    let total: u64 = iov.iter().map(|&(_, l)| l).sum::<u64>().min(MAX_MSG);
    // A stream keeps what a bad buffer cannot take (Linux copies before it
    // consumes): take only as much as the buffers can hold. A datagram is
    // consumed whole, as on Linux.
    let mut room = total;
    let stream = sock_type(f) == libc::SOCK_STREAM;
    if stream {
        room = 0;
        for &(base, len) in iov {
            let w = cx.user().writable_len(base, len);
            room += w;
            if w < len {
                break;
            }
        }
        room = room.min(total);
        if room == 0 && total > 0 {
            return Err(Errno::FAULT);
        }
    }
    let mut data = vec![0u8; room as usize];
    let mut control = vec![0u8; controllen.min(OPTMEM_MAX) as usize];
    let cloexec = flags & libc::MSG_CMSG_CLOEXEC != 0;
    let h = host(f).as_raw_fd();
    let block = blocking(f, flags & libc::MSG_DONTWAIT != 0);
    // SAFETY: sockaddr_un is plain data; zeroed is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let (n, hdr) = loop {
        let mut one = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain data; zeroed is valid.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = &mut one;
        hdr.msg_iovlen = 1;
        hdr.msg_name = (&mut sa as *mut libc::sockaddr_un).cast();
        hdr.msg_namelen = SOCKADDR_UN as libc::socklen_t;
        if !control.is_empty() {
            hdr.msg_control = control.as_mut_ptr().cast();
            hdr.msg_controllen = control.len();
        }
        // Passed descriptors are kvmcage's own until installed: always
        // close-on-exec on the host.
        // The host call never waits: a blocking receive waits for data
        // below and tries again.
        let hflags = flags | libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT;
        // SAFETY: `hdr` points at `one` (over `data`), `sa` and `control`,
        // all live for the call.
        match check_size(unsafe { libc::recvmsg(h, &mut hdr, hflags) }) {
            Err(Errno::AGAIN) if block => {
                if !wait::wait_fd(cx, host(f), libc::POLLIN)? {
                    return Err(wait::ERESTARTSYS);
                }
            }
            r => break (r?, hdr),
        }
    };
    let mut n = n;
    if flags & libc::MSG_WAITALL != 0 && block && stream && n > 0 {
        // MSG_WAITALL: a stream fills the buffer unless the peer ends the
        // stream or a signal comes (what came so far is returned).
        while n < data.len() {
            // SAFETY: the rest of `data` is live and of the length given.
            let r = check_size(unsafe {
                libc::recv(
                    h,
                    data[n..].as_mut_ptr().cast(),
                    data.len() - n,
                    libc::MSG_DONTWAIT,
                )
            });
            match r {
                Ok(0) => break,
                Ok(m) => n += m,
                Err(Errno::AGAIN) => {
                    if !wait::wait_fd(cx, host(f), libc::POLLIN)? {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    let clen = hdr.msg_controllen.min(control.len());
    control.truncate(clen);
    let mut out_flags = hdr.msg_flags;
    out_flags |= guest_control(cx, &mut control, cloexec);
    let raw = addr_bytes(&sa, hdr.msg_namelen as usize);
    let name = guest_name(cx, raw);
    // Scatter what came into the guest's buffers.
    let mut off = 0usize;
    let got = n.min(data.len());
    for &(base, len) in iov {
        if off >= got {
            break;
        }
        let take = (len as usize).min(got - off);
        cx.user().write(base, &data[off..off + take])?;
        off += take;
    }
    Ok(Received {
        n,
        // MSG_CMSG_CLOEXEC comes back as the program asked (Linux keeps it).
        flags: (out_flags & !libc::MSG_CMSG_CLOEXEC) | (flags & libc::MSG_CMSG_CLOEXEC),
        name,
        control,
    })
}

pub fn sys_recvmsg(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = socket_file(cx, int(a.0[0]))?;
    recvmsg_at(cx, &f, a.0[1], a.0[2])
}

/// recvmsg into the msghdr at `hdr`.
fn recvmsg_at(cx: &mut Ctx, f: &OpenFile, hdr: u64, flags: u64) -> SysResult {
    let m = read_msghdr(cx, hdr)?;
    let iov = super::fs::read_iovecs(cx, m.iov, m.iovlen)?;
    if m.controllen != 0 && !crate::mm::uaccess::access_ok(m.control, m.controllen) {
        return Err(Errno::FAULT);
    }
    let r = recv_common(cx, f, &iov, m.controllen, flags)?;
    // msg_namelen, msg_controllen and msg_flags back into the msghdr.
    if m.name != 0 {
        let n = r.name.len().min(m.namelen as usize);
        cx.user().write(m.name, &r.name[..n])?;
        let at = hdr + offset_of!(abi::MsgHdr, msg_namelen) as u64;
        cx.user().write_obj(at, &(r.name.len() as u32))?;
    }
    if !r.control.is_empty() {
        cx.user().write(m.control, &r.control)?;
    }
    let at = hdr + offset_of!(abi::MsgHdr, msg_controllen) as u64;
    cx.user().write_obj(at, &(r.control.len() as u64))?;
    let at = hdr + offset_of!(abi::MsgHdr, msg_flags) as u64;
    cx.user().write_obj(at, &r.flags)?;
    Ok(r.n as u64)
}

/// read and readv of a socket: one receive into all of `iov`.
pub(super) fn read_iov(cx: &mut Ctx, f: &OpenFile, iov: &[(u64, u64)]) -> SysResult {
    let total: u64 = iov.iter().map(|&(_, l)| l).sum();
    if total == 0 {
        return Ok(0);
    }
    recv_common(cx, f, iov, 0, 0).map(|r| r.n.min(total as usize) as u64)
}

/// write and writev of a socket: one send of all of `iov`.
pub(super) fn write_iov(cx: &mut Ctx, f: &OpenFile, iov: &[(u64, u64)]) -> SysResult {
    send_common(cx, f, iov, &MsgHdr::default(), 0)
}

pub fn sys_recvfrom(cx: &mut Ctx, a: &Args) -> SysResult {
    let iov = single(a.0[1], a.0[2])?;
    let f = socket_file(cx, int(a.0[0]))?;
    let r = recv_common(cx, &f, &iov, 0, a.0[3])?;
    put_addr(cx, a.0[4], a.0[5], &r.name)?;
    Ok(r.n as u64)
}
