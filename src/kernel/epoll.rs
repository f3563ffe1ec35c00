//! epoll on the host: an epoll descriptor of the program is a host epoll
//! instance whose interest list holds the host descriptors behind the
//! program's (pipes, sockets, eventfds, timerfds, other epoll instances).
//! The event's data word goes to the host and comes back as the program
//! gave it. A wait polls the instance in the one waiting place, so a
//! signal or the run's end interrupts it, then takes the ready events
//! without blocking. kvmcage's own files (/dev nodes, /proc text,
//! signalfd) have no host descriptor: adding one is EPERM, as Linux says
//! for a file that cannot be polled.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use rustix::io::Errno;
use vm_memory::ByteValued;

use super::abi::EpollEvent;
use super::fs::{FileKind, OpenFile};
use super::{int, last_errno, wait, Args, Ctx, SysResult};

/// sizeof(struct epoll_event) on x86-64 (packed).
const EVENT_SIZE: u64 = std::mem::size_of::<EpollEvent>() as u64;
/// Linux's EP_MAX_EVENTS.
const EP_MAX_EVENTS: u64 = (i32::MAX as u64) / EVENT_SIZE;
/// Events taken from the host per wait (a larger maxevents gets at most
/// this many, which Linux allows).
const BATCH: usize = 1024;

/// Is `fd` an epoll instance? (Its /proc/self/fd link names the anon
/// inode.)
fn is_epoll(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    rustix::fs::readlinkat(
        rustix::fs::CWD,
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        Vec::new(),
    )
    .is_ok_and(|l| l.as_bytes() == b"anon_inode:[eventpoll]")
}

pub fn sys_epoll_create1(cx: &mut Ctx, a: &Args) -> SysResult {
    let flags = a.0[0] as u32;
    if flags & !(libc::EPOLL_CLOEXEC as u32) != 0 {
        return Err(Errno::INVAL);
    }
    // SAFETY: epoll_create1 takes no pointers; a non-negative result is a
    // new descriptor nothing else owns.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: as above.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // kvmcage never waits on the host instance itself; non-blocking, a
    // read or write of it answers at once (EINVAL), as Linux's.
    rustix::fs::fcntl_setfl(&fd, rustix::fs::OFlags::NONBLOCK)?;
    let file = OpenFile::new(
        FileKind::Host { fd, writable: true },
        b"anon_inode:[eventpoll]".to_vec(),
        libc::O_RDWR as u32,
    );
    let key = file.host().map(|h| h.as_raw_fd());
    let g = super::path::install(cx, file, flags != 0)?;
    if let Some(k) = key {
        // A new instance at a reused host number starts with no keys.
        cx.proc.epoll_keys.insert(k, Vec::new());
    }
    Ok(g)
}

pub fn sys_epoll_create(cx: &mut Ctx, a: &Args) -> SysResult {
    if int(a.0[0]) <= 0 {
        return Err(Errno::INVAL);
    }
    sys_epoll_create1(cx, &Args([0; 6]))
}

pub fn sys_epoll_ctl(cx: &mut Ctx, a: &Args) -> SysResult {
    let (epfd, op, fd, uevent) = (int(a.0[0]), int(a.0[1]), int(a.0[2]), a.0[3]);
    // Linux copies the event first (EFAULT before EBADF).
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    if op != libc::EPOLL_CTL_DEL {
        let e: EpollEvent = cx.user().read_obj(uevent)?;
        (ev.events, ev.u64) = (e.events, e.data);
    }
    let ep = cx.proc.files().file(epfd)?;
    let target = cx.proc.files().file(fd)?;
    let Some(ep_host) = ep.host() else {
        return Err(Errno::INVAL);
    };
    let Some(t_host) = target.host() else {
        // kvmcage's own files: nothing the host can poll.
        return Err(if epfd == fd {
            Errno::INVAL
        } else {
            Errno::PERM
        });
    };
    // Linux keys an interest by (descriptor number, file): MOD and DEL by
    // another number of the same file, or after the number was closed,
    // find nothing. The host instance sees one host descriptor per file,
    // so kvmcage keeps the keys.
    let key = ep_host.as_raw_fd();
    let keys = cx.proc.epoll_keys.entry(key).or_default();
    keys.retain(|(_, w)| w.strong_count() > 0);
    let at = keys
        .iter()
        .position(|(n, w)| *n == fd && std::ptr::eq(w.as_ptr(), Arc::as_ptr(&target)));
    if matches!(op, libc::EPOLL_CTL_MOD | libc::EPOLL_CTL_DEL) && at.is_none() {
        // (A bad op or a non-epoll epfd still gets the host's answer.)
        if is_epoll(ep_host) {
            return Err(Errno::NOENT);
        }
    }
    // SAFETY: both descriptors are borrowed from files held for the call;
    // `ev` is a live epoll_event.
    let rc = unsafe { libc::epoll_ctl(ep_host.as_raw_fd(), op, t_host.as_raw_fd(), &mut ev) };
    if rc < 0 {
        return Err(last_errno());
    }
    let keys = cx.proc.epoll_keys.entry(key).or_default();
    match (op, at) {
        (libc::EPOLL_CTL_ADD, _) => keys.push((fd, Arc::downgrade(&target))),
        (libc::EPOLL_CTL_DEL, Some(i)) => {
            keys.swap_remove(i);
        }
        _ => {}
    }
    Ok(0)
}

/// epoll_wait and its p-forms: up to `maxevents` events into `uevents`,
/// waiting until `timeout_ms` (None: for ever). Never restarted after a
/// handler (EINTR), as Linux.
fn wait_common(
    cx: &mut Ctx,
    epfd: i32,
    uevents: u64,
    maxevents: u64,
    timeout_ms: Option<u64>,
) -> SysResult {
    let max = int(maxevents);
    if max <= 0 || max as u64 > EP_MAX_EVENTS {
        return Err(Errno::INVAL);
    }
    if !crate::mm::uaccess::access_ok(uevents, max as u64 * EVENT_SIZE) {
        return Err(Errno::FAULT);
    }
    let ep = cx.proc.files().file(epfd)?;
    let Some(h) = ep.host() else {
        return Err(Errno::INVAL);
    };
    let n = (max as usize).min(BATCH);
    let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; n];
    let deadline = timeout_ms.map(|ms| wait::Deadline::after(std::time::Duration::from_millis(ms)));
    loop {
        // SAFETY: `buf` is a live array of `n` events; the call does not
        // block (timeout 0).
        let got = unsafe { libc::epoll_wait(h.as_raw_fd(), buf.as_mut_ptr(), n as i32, 0) };
        if got < 0 {
            return Err(last_errno());
        }
        if got > 0 {
            let mut out = Vec::with_capacity(got as usize * EVENT_SIZE as usize);
            for e in &buf[..got as usize] {
                let ev = EpollEvent {
                    events: e.events,
                    data: e.u64,
                };
                out.extend_from_slice(ev.as_slice());
            }
            cx.user().write(uevents, &out)?;
            return Ok(got as u64);
        }
        if deadline.is_some_and(wait::Deadline::passed) {
            return Ok(0);
        }
        let mut p = [wait::Poll::new(h, libc::POLLIN)];
        match wait::block_on(cx, &mut p, deadline, wait::Wake::Signal)? {
            wait::Woken::Signal => return Err(wait::ERESTARTNOHAND),
            wait::Woken::TimedOut => return Ok(0),
            wait::Woken::Ready | wait::Woken::Woken => {}
        }
    }
}

fn timeout_arg(t: u64) -> Option<u64> {
    let t = int(t);
    (t >= 0).then_some(t as u64)
}

pub fn sys_epoll_wait(cx: &mut Ctx, a: &Args) -> SysResult {
    wait_common(cx, int(a.0[0]), a.0[1], a.0[2], timeout_arg(a.0[3]))
}

pub fn sys_epoll_pwait(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = timeout_arg(a.0[3]);
    super::signal::with_wait_mask(cx, a.0[4], a.0[5], |cx| {
        wait_common(cx, int(a.0[0]), a.0[1], a.0[2], t)
    })
}

pub fn sys_epoll_pwait2(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = super::fs::timeout_ms(cx, a.0[3], true)?;
    super::signal::with_wait_mask(cx, a.0[4], a.0[5], |cx| {
        wait_common(cx, int(a.0[0]), a.0[1], a.0[2], t)
    })
}
