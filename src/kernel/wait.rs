//! The one place where a guest thread waits (PROCESSES.md 7).
//!
//! Every blocking handler (pipe and terminal I/O, poll, select, sleeps,
//! pause, sigsuspend, sigtimedwait, futex) calls `block_on`, which waits in
//! one `ppoll` for: the handler's descriptors, the thread's waker (an
//! eventfd other threads will write), a signal for the program, its timers,
//! and the run's end (--timeout, a host signal). What interrupts the host
//! wait is kvmcage's kick signal: it is blocked in the vCPU thread except
//! inside `KVM_RUN` (KVM_SET_SIGNAL_MASK) and inside this `ppoll` (its
//! sigmask argument), so a kick that arrives while the host works stays
//! pending until the thread next waits or enters the guest, and no wake-up
//! is lost.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::io::Errno;
use rustix::time::ClockId;

use super::Ctx;

/// Linux's internal restart codes (include/linux/errno.h): a handler
/// returns one when a signal interrupted it; `sigframe` turns it into EINTR
/// or a restart when the signal is delivered, and the program never sees it.
pub const ERESTARTSYS: Errno = Errno::from_raw_os_error(512);
pub const ERESTARTNOINTR: Errno = Errno::from_raw_os_error(513);
pub const ERESTARTNOHAND: Errno = Errno::from_raw_os_error(514);
pub const ERESTART_RESTARTBLOCK: Errno = Errno::from_raw_os_error(516);

/// Is `ret` (a syscall's raw result) one of the restart codes?
pub fn is_restart(ret: i64) -> bool {
    matches!(-ret, 512..=514 | 516)
}

/// A point in time on CLOCK_MONOTONIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(pub Duration);

impl Deadline {
    pub fn now() -> Self {
        Self(monotonic())
    }

    /// `d` from now (saturating: a sleep of i64::MAX seconds never ends).
    pub fn after(d: Duration) -> Self {
        Self(monotonic().saturating_add(d))
    }

    /// An absolute time on `clock`, moved to CLOCK_MONOTONIC now (a later
    /// step of CLOCK_REALTIME does not move it).
    pub fn at(clock: ClockId, t: Duration) -> Self {
        let now = clock_now(clock);
        Self::after(t.saturating_sub(now))
    }

    pub fn left(self) -> Duration {
        self.0.saturating_sub(monotonic())
    }

    pub fn passed(self) -> bool {
        monotonic() >= self.0
    }
}

pub fn clock_now(clock: ClockId) -> Duration {
    let t = rustix::time::clock_gettime(clock);
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec as u32)
}

fn monotonic() -> Duration {
    clock_now(ClockId::Monotonic)
}

/// What ends a wait besides the descriptors and the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// A signal that would be delivered (runs a handler or kills).
    Signal,
    /// That, or any pending signal of this set (sigtimedwait, signalfd).
    SignalIn(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woken {
    /// One of the descriptors is ready (see their revents).
    Ready,
    TimedOut,
    /// The thread's waker was written (a futex wake, later).
    Woken,
    /// A signal is there to deliver (or, for `Wake::SignalIn`, to take), or
    /// the run is ending: the handler returns a restart code or EINTR.
    Signal,
}

/// The vCPU thread's side of the kick: the mask for host waits.
#[derive(Clone)]
pub struct Kick {
    /// The thread's mask with the kick signal unblocked.
    wait_mask: libc::sigset_t,
}

impl std::fmt::Debug for Kick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kick")
    }
}

impl Kick {
    pub fn new(wait_mask: libc::sigset_t) -> Self {
        Self { wait_mask }
    }
}

/// A thread's waker: other threads (later) write its eventfd to end a
/// wait that no signal ends (a futex wake, a child's exit).
#[derive(Debug)]
pub struct Waker {
    efd: OwnedFd,
}

impl Waker {
    pub fn new() -> Result<Self, Errno> {
        let efd = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        Ok(Self { efd })
    }

    pub fn wake(&self) {
        let _ = rustix::io::write(&self.efd, &1u64.to_ne_bytes());
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.efd.as_fd()
    }

    fn drain(&self) {
        let mut b = [0u8; 8];
        let _ = rustix::io::read(&self.efd, &mut b);
    }

    /// Wait up to `timeout` for this waker to be written or the thread to
    /// be kicked (the kick unblocked per `kick`), with no lock held: a
    /// stopped thread waiting for SIGCONT.
    pub fn sleep(&self, kick: Option<&Kick>, timeout: Duration) {
        let mut p = libc::pollfd {
            fd: self.efd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        host_ppoll(
            std::slice::from_mut(&mut p),
            Some(timeout),
            kick.map(|k| &k.wait_mask),
        );
        if p.revents != 0 {
            self.drain();
        }
    }
}

/// One descriptor to wait for: poll(2)'s events and, after the wait,
/// revents.
pub struct Poll<'a> {
    pub fd: BorrowedFd<'a>,
    pub events: i16,
    pub revents: i16,
}

impl<'a> Poll<'a> {
    pub fn new(fd: BorrowedFd<'a>, events: i16) -> Self {
        Self {
            fd,
            events,
            revents: 0,
        }
    }
}

/// Is there something that ends a wait of kind `wake`?
fn signalled(cx: &mut Ctx, wake: Wake) -> bool {
    cx.proc.fire_timers_waiting();
    if cx.proc.expiry.expired() || cx.proc.exiting || cx.proc.me().doomed {
        return true;
    }
    let s = cx.proc.sig();
    match wake {
        Wake::Signal => s.deliverable().is_some(),
        Wake::SignalIn(set) => s.deliverable().is_some() || s.pending() & set != 0,
    }
}

/// Wait until one of `fds` is ready, `deadline` passes, or a signal (per
/// `wake`) or the run's end interrupts. Checks first, so a signal already
/// pending never waits.
pub fn block_on(
    cx: &mut Ctx,
    fds: &mut [Poll<'_>],
    deadline: Option<Deadline>,
    wake: Wake,
) -> Result<Woken, Errno> {
    // A thread taking signals it blocks (sigtimedwait, signalfd) is a
    // taker of process-directed ones meanwhile (Linux's real_blocked).
    if let Wake::SignalIn(set) = wake {
        cx.proc.me().waiting_for = set;
    }
    cx.proc.me().waiting = true;
    let r = block_on_inner(cx, fds, deadline, wake);
    let me = cx.proc.me();
    me.waiting_for = 0;
    me.waiting = false;
    r
}

fn block_on_inner(
    cx: &mut Ctx,
    fds: &mut [Poll<'_>],
    deadline: Option<Deadline>,
    wake: Wake,
) -> Result<Woken, Errno> {
    loop {
        if signalled(cx, wake) {
            return Ok(Woken::Signal);
        }
        // Sleep no later than the deadline or the next guest timer (the
        // timer's host alarm also kicks; this is the belt to its braces).
        // A deadline already passed still polls the descriptors once.
        let mut until = deadline.map(Deadline::left);
        if let Some(t) = cx.proc.timers.next_due() {
            let left = t.left();
            until = Some(until.map_or(left, |u| u.min(left)));
        }
        // Without a kick (a machine without a vCPU thread: the fuzzer), wait
        // in short slices so the run's end is still seen.
        if cx.proc.kick.is_none() {
            let slice = Duration::from_millis(20);
            until = Some(until.map_or(slice, |u| u.min(slice)));
        }
        match ppoll(cx, fds, until)? {
            (true, _) => return Ok(Woken::Ready),
            (false, true) => return Ok(Woken::Woken),
            _ => {}
        }
        if deadline.is_some_and(Deadline::passed) {
            return Ok(Woken::TimedOut);
        }
    }
}

/// Run `f`, a host call that may block, with the process and machine
/// locks given up (PROCESSES.md 6: no lock is held across a blocking host
/// call), so other threads run their syscalls meanwhile. Taken back in
/// the usual order, `Process` then `Machine`. `f` cannot borrow from
/// either (the borrow checker sees to that): what it needs it owns or
/// borrows from the handler's own copies.
pub fn unlocked<T>(cx: &mut Ctx, f: impl FnOnce() -> T) -> T {
    let tid = cx.proc.me().tid;
    // Stack pages this call made are the stack VMA's before another
    // thread can map or unmap there.
    cx.proc.mm.settle_stack();
    let Ctx { m, proc, .. } = cx;
    let r = super::Locked::unlocked(m, || super::Locked::unlocked(proc, f));
    // Another thread held the lock meanwhile: the caller is current again,
    // and its address space the machine's. (A thread leaves the table only
    // by its own exit, or by a group exit that ends every wait:
    // `signalled` sees it next.)
    cx.proc.enter(tid);
    cx.m.enter_space(cx.proc.mm.pt);
    r
}

/// ppoll(2) on the host: `fds` (their revents filled), up to `timeout`
/// (None: no limit), with the signal mask `mask` for the call (None: the
/// thread's own). The raw result.
fn host_ppoll(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    mask: Option<&libc::sigset_t>,
) -> libc::c_int {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    // SAFETY: `fds` is a live array of pollfd of the length passed, whose
    // descriptors the callers keep open for the call; `ts` and the mask
    // are either null or point to values that outlive the call. ppoll
    // writes only the revents fields.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts.as_ref().map_or(std::ptr::null(), |t| t as *const _),
            mask.map_or(std::ptr::null(), |k| k as *const libc::sigset_t),
        )
    }
}

/// One host wait: the descriptors plus the waker, with the kick unblocked.
/// Whether one of `fds` is ready, and whether the waker was written.
fn ppoll(
    cx: &mut Ctx,
    fds: &mut [Poll<'_>],
    timeout: Option<Duration>,
) -> Result<(bool, bool), Errno> {
    let mut raw: Vec<libc::pollfd> = fds
        .iter()
        .map(|p| libc::pollfd {
            fd: p.fd.as_raw_fd(),
            events: p.events,
            revents: 0,
        })
        .collect();
    // Held here, so its descriptor stays open while the locks are given up.
    let waker = cx.proc.me().waker.clone();
    if let Some(w) = &waker {
        raw.push(libc::pollfd {
            fd: w.fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    let mask = cx.proc.kick.as_ref().map(|k| k.wait_mask);
    let rc = unlocked(cx, || host_ppoll(&mut raw, timeout, mask.as_ref()));
    if rc < 0 {
        let e = super::last_errno();
        return if e == Errno::INTR {
            Ok((false, false))
        } else {
            Err(e)
        };
    }
    let mut woken = false;
    if let Some(w) = &waker {
        woken = raw.last().is_some_and(|r| r.revents != 0);
        if woken {
            w.drain();
        }
    }
    let mut any = false;
    for (p, r) in fds.iter_mut().zip(&raw) {
        p.revents = r.revents;
        any |= r.revents != 0;
    }
    Ok((any, woken))
}

/// Wait until `fd` is ready for `events` (poll bits); false when a signal
/// or the run's end came first.
pub fn wait_fd(cx: &mut Ctx, fd: BorrowedFd<'_>, events: i16) -> Result<bool, Errno> {
    let mut p = [Poll::new(fd, events)];
    loop {
        match block_on(cx, &mut p, None, Wake::Signal)? {
            Woken::Ready => return Ok(true),
            Woken::Signal => return Ok(false),
            Woken::TimedOut | Woken::Woken => continue,
        }
    }
}

/// Run a host call that may block and cannot be split into a poll and a
/// call that does not block (F_SETLKW), with the kick unblocked so that a
/// signal for the program or the run's end interrupts it (EINTR). A kick
/// that lands between the unblocking and the call is taken before the
/// call blocks; the watchdog's repeated kick after the run's end covers
/// that window.
pub fn interruptible<T>(cx: &mut Ctx, f: impl FnOnce() -> T) -> T {
    let Some(wait_mask) = cx.proc.kick.as_ref().map(|k| k.wait_mask) else {
        return unlocked(cx, f);
    };
    unlocked(cx, || with_kick_unblocked(&wait_mask, f))
}

fn with_kick_unblocked<T>(wait_mask: &libc::sigset_t, f: impl FnOnce() -> T) -> T {
    // SAFETY: a zeroed sigset_t is valid storage for the old mask.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are live; only the calling thread's mask changes.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, wait_mask, &mut old) };
    let r = f();
    // SAFETY: as above, putting back the mask saved just before.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    r
}
