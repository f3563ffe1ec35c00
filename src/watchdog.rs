//! The wall-clock limit: a thread that, once the deadline passes, flags the
//! run as expired and keeps signalling the vCPU thread until the run ends.
//!
//! The signal has a no-op handler installed without SA_RESTART, so it makes
//! a running KVM_RUN return EINTR and a blocking host call (a read of stdin,
//! a sleep) return early. Because a signal that lands between two KVM_RUNs
//! would be lost, it is re-sent every few milliseconds; the run loop checks
//! the flag before each entry, so a guest spinning in ring 3 is stopped
//! within one signal period.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// Shared flag: set once the limit has passed.
#[derive(Clone, Debug, Default)]
pub struct Expiry(Arc<AtomicBool>);

impl Expiry {
    pub fn expired(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Mark the run as expired now (as the watchdog does at the deadline).
    pub fn expire(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Sleep for `d`, waking early (returning false) if the run expires.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.expired() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }
}

/// A running watchdog; dropping it stops the thread.
pub struct Watchdog {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Start watching the calling thread (the vCPU thread).
    pub fn start(limit: Duration, expiry: &Expiry) -> std::io::Result<Self> {
        install_handler()?;
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let done = Arc::new(AtomicBool::new(false));
        let (done2, flag) = (done.clone(), expiry.0.clone());
        let deadline = Instant::now() + limit;
        let thread = std::thread::Builder::new()
            .name("kvmcage-watchdog".into())
            .spawn(move || {
                while !done2.load(Ordering::Acquire) {
                    let now = Instant::now();
                    if now < deadline {
                        std::thread::park_timeout(deadline - now);
                        continue;
                    }
                    flag.store(true, Ordering::Release);
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
