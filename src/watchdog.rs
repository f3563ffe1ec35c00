//! The wall-clock limit and the host's stop signals: a thread that, once
//! the deadline passes or kvmcage gets SIGTERM, SIGINT or SIGHUP (when the
//! run asked for that), flags the run as expired and keeps signalling the
//! vCPU thread until the run ends. So a run stopped either way unwinds
//! normally: its --tmpfs directories are removed and its trace flushed.
//!
//! The signal has a no-op handler installed without SA_RESTART, so it makes
//! a running KVM_RUN return EINTR and a blocking host call (a read of stdin,
//! a sleep) return early. Because a signal that lands between two KVM_RUNs
//! would be lost, it is re-sent every few milliseconds; the run loop checks
//! the flag before each entry, so a guest spinning in ring 3 is stopped
//! within one signal period.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the vCPU thread is kicked after the deadline.
const KICK_PERIOD: Duration = Duration::from_millis(5);

/// The signal that interrupts the vCPU thread (KVM_RUN, a host wait).
pub fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

extern "C" fn on_kick(_: libc::c_int) {}

/// Install the kick signal's no-op handler (once per process).
pub fn install_kick_handler() -> std::io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid initial value; we set a
        // handler that does nothing (async-signal-safe) and no flags, so
        // interrupted system calls return EINTR instead of restarting.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            result = Err(std::io::Error::last_os_error());
        }
    });
    result
}

/// Why a run was stopped from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The --timeout deadline passed.
    Timeout,
    /// kvmcage got this signal (SIGTERM, SIGINT, SIGHUP).
    HostSignal(i32),
    /// The embedder cancelled the run (`CancelHandle::cancel`).
    Cancelled,
}

/// Shared flag: set once the run must stop (0: running, -1: timeout, -2:
/// cancelled, N: host signal N).
#[derive(Clone, Debug, Default)]
pub struct Expiry(Arc<AtomicI32>);

impl Expiry {
    pub fn expired(&self) -> bool {
        self.0.load(Ordering::Acquire) != 0
    }

    /// Why the run was stopped, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        match self.0.load(Ordering::Acquire) {
            0 => None,
            -1 => Some(StopReason::Timeout),
            -2 => Some(StopReason::Cancelled),
            n => Some(StopReason::HostSignal(n)),
        }
    }

    /// Mark the run as expired now (as the watchdog does at the deadline).
    pub fn expire(&self) {
        self.stop(StopReason::Timeout);
    }

    /// Stop the run for `why` (the first reason wins).
    pub fn stop(&self, why: StopReason) {
        let v = match why {
            StopReason::Timeout => -1,
            StopReason::Cancelled => -2,
            StopReason::HostSignal(n) => n.max(1),
        };
        let _ = self
            .0
            .compare_exchange(0, v, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Sleep for `d`, waking early (returning false) if the run expires.
    /// A duration past what Instant can hold (`sleep infinity` passes
    /// {LONG_MAX, 0}) sleeps until the run expires.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now().checked_add(d);
        loop {
            if self.expired() {
                return false;
            }
            let now = Instant::now();
            let left = match end {
                Some(end) if now >= end => return true,
                Some(end) => end - now,
                None => Duration::MAX,
            };
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }
}

/// A running watchdog; dropping it stops the thread.
pub struct Watchdog {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the watchdog looks for a host stop signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The host signals that stop a run, once registered.
static HOST_SIGNAL: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();

/// From now on SIGTERM, SIGINT and SIGHUP no longer kill kvmcage at once:
/// they stop the run being watched, which then ends as killed by that
/// signal (exit status 128+N, as timeout(1) reports it).
pub fn catch_host_signals() -> std::io::Result<()> {
    if HOST_SIGNAL.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicUsize::new(0));
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        signal_hook::flag::register_usize(sig, flag.clone(), sig as usize)?;
    }
    let _ = HOST_SIGNAL.set(flag);
    Ok(())
}

impl Watchdog {
    /// Start watching the calling thread (the vCPU thread), until `limit`
    /// (if any) or a host stop signal (if caught).
    pub fn start(limit: Option<Duration>, expiry: &Expiry) -> std::io::Result<Self> {
        install_kick_handler()?;
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let done = Arc::new(AtomicBool::new(false));
        let (done2, expiry) = (done.clone(), expiry.clone());
        let host_signal = HOST_SIGNAL.get().cloned();
        // A limit past what Instant can hold never comes.
        let deadline = limit.and_then(|l| Instant::now().checked_add(l));
        let thread = std::thread::Builder::new()
            .name("kvmcage-watchdog".into())
            .spawn(move || {
                while !done2.load(Ordering::Acquire) {
                    if let Some(sig) = host_signal.as_ref().map(|f| f.load(Ordering::Acquire)) {
                        if sig != 0 {
                            expiry.stop(StopReason::HostSignal(sig as i32));
                        }
                    }
                    if !expiry.expired() {
                        let now = Instant::now();
                        let wait = match deadline {
                            Some(d) if now >= d => {
                                expiry.stop(StopReason::Timeout);
                                continue;
                            }
                            Some(d) => d - now,
                            None => Duration::MAX,
                        };
                        if host_signal.is_some() {
                            std::thread::park_timeout(wait.min(SIGNAL_POLL));
                        } else if wait == Duration::MAX {
                            std::thread::park();
                        } else {
                            std::thread::park_timeout(wait);
                        }
                        continue;
                    }
                    // SAFETY: the target thread outlives this one: the
                    // Watchdog is owned by the target thread, whose Drop sets
                    // `done` and joins this thread before returning.
                    unsafe { libc::pthread_kill(target, kick_signal()) };
                    std::thread::park_timeout(KICK_PERIOD);
                }
            })?;
        Ok(Self {
            done,
            thread: Some(thread),
        })
    }
}

impl Watchdog {
    /// The watchdog thread, to wake it when the run is stopped from outside
    /// (it then repeats the kick until the run has ended).
    pub fn thread(&self) -> Option<std::thread::Thread> {
        self.thread.as_ref().map(|t| t.thread().clone())
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// The kick signal blocked in the calling (vCPU) thread for the run, as
/// PROCESSES.md 7 has it: unblocked only inside KVM_RUN (the mask given
/// to KVM_SET_SIGNAL_MASK) and inside a host wait (ppoll's mask). Dropping
/// it puts the thread's mask back.
pub struct KickBlocked {
    old: libc::sigset_t,
}

fn kick_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, kick_signal());
        set
    }
}

impl KickBlocked {
    pub fn new() -> std::io::Result<Self> {
        install_kick_handler()?;
        let set = kick_set();
        // SAFETY: a zeroed sigset_t is valid storage for the old mask;
        // pthread_sigmask only changes the calling thread.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live sigset_t values.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        Ok(Self { old })
    }

    /// The mask for KVM_RUN: the thread's own, without the kick.
    pub fn run_mask(&self) -> u64 {
        (1..=64)
            .filter(|&s| s != kick_signal())
            // SAFETY: `self.old` is an initialised sigset_t.
            .filter(|&s| unsafe { libc::sigismember(&self.old, s) } == 1)
            .fold(0u64, |m, s| m | (1 << (s - 1)))
    }

    /// The mask for host waits: the same.
    pub fn wait(&self) -> crate::kernel::wait::Kick {
        let mut set = self.old;
        // SAFETY: `set` is an initialised sigset_t.
        unsafe { libc::sigdelset(&mut set, kick_signal()) };
        crate::kernel::wait::Kick::new(set)
    }
}

impl Drop for KickBlocked {
    fn drop(&mut self) {
        take_kick();
        // SAFETY: restores the mask saved in `new` for this same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// Consume a kick left pending (it stays pending after KVM_RUN returns,
/// since KVM restores the blocking mask before the handler could run).
pub fn take_kick() {
    let set = kick_set();
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `set` and `zero` are live for the call; a null siginfo
    // pointer is allowed. Only the kick signal can be taken.
    while unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) } > 0 {}
}
