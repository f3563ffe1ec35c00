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

fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

extern "C" fn on_kick(_: libc::c_int) {}

fn install_handler() -> std::io::Result<()> {
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
}

/// Shared flag: set once the run must stop (0: running, -1: timeout, N:
/// host signal N).
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
        install_handler()?;
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

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
