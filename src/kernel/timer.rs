//! Timers that raise signals: alarm, setitimer/getitimer, and POSIX timers
//! (timer_create and friends).
//!
//! Each timer's next expiry is kept here, on CLOCK_MONOTONIC (ITIMER_REAL,
//! timers on CLOCK_REALTIME/MONOTONIC/BOOTTIME; an absolute CLOCK_REALTIME
//! time is moved to the monotonic clock when armed) or on the vCPU thread's
//! CPU clock (ITIMER_VIRTUAL, ITIMER_PROF, CPU-time timers; the thread's
//! CPU time is the guest's time plus the host's work for it, so both
//! itimers count the same time). `fire_due` queues the signals of the
//! timers that are due; it runs after every trap and in every wait (a
//! waiting thread leaves the CPU-time timers to a thread that runs, as
//! Linux fires them on a running thread's tick: `Fire`). So
//! that a program spinning in ring 3 or blocked in a wait still notices, a
//! host POSIX timer per clock is armed at the earliest expiry and sends
//! kvmcage's kick signal to the vCPU thread.

use std::time::Duration;

use rustix::io::Errno;
use rustix::time::ClockId;

use super::abi::{Itimerspec, Itimerval, Sigevent, Timespec, Timeval};
use super::signal::{SigInfo, SigView, Target, SIGALRM, SIGPROF, SIGVTALRM, SI_KERNEL};
use super::wait::{clock_now, Deadline};
use super::{Args, Ctx, Identity, SysResult};

/// POSIX timers a process may hold (Linux's bound is RLIMIT_SIGPENDING;
/// this one also bounds kvmcage's memory).
const MAX_TIMERS: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    Monotonic,
    Cpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Monotonic => clock_now(ClockId::Monotonic),
            Clock::Cpu => super::process::cpu_clock().0,
        }
    }
}

/// How late a CPU-time timer may fire, as Linux's fire on the scheduler
/// tick (4 ms at HZ=250, Debian's): the time a thread may keep its signal
/// back while the running thread blocks it (`Fire::HoldBlocked`).
const CPU_TIMER_SLACK: Duration = Duration::from_millis(4);

/// How `Timers::fire_due` is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fire {
    /// On the way back to user mode, with other threads. Linux fires a CPU-time timer on the
    /// tick of the thread that runs, and gives its process-directed signal
    /// to that thread unless it blocks it (complete_signal). Under
    /// kvmcage a thread keeps a signal blocked far longer than natively
    /// (a handler's sa_mask holds until its rt_sigreturn, a trap to the
    /// host away), so a timer due while the running thread blocks its
    /// signal waits up to CPU_TIMER_SLACK for it to be unblocked, as a
    /// later tick would, before it goes to another thread.
    HoldBlocked,
    /// Everything due fires (one thread; or a wait, no other thread
    /// running).
    All,
    /// From a wait while another thread runs: the CPU-time timers are left
    /// to it (`Process::fire_timers_waiting`).
    WallOnly,
}

/// One armed timer: the next expiry on its clock and the period.
#[derive(Clone, Copy, Debug, Default)]
struct Arm {
    next: Option<Duration>,
    interval: Duration,
    /// Due, but kept back until then (`Fire::HoldBlocked`).
    held: Option<Duration>,
}

impl Arm {
    fn set(&mut self, clock: Clock, value: Duration, interval: Duration) {
        self.next = (!value.is_zero()).then(|| clock.now().saturating_add(value));
        self.interval = interval;
        self.held = None;
    }

    /// When its host alarm is to ring.
    fn alarm(&self) -> Option<Duration> {
        self.held.or(self.next)
    }

    /// Due at `now` but within CPU_TIMER_SLACK of its expiry: kept back
    /// (true), its alarm moved to the slack's end.
    fn hold(&mut self, now: Duration) -> bool {
        let Some(next) = self.next.filter(|&n| n <= now) else {
            return false;
        };
        let until = next.saturating_add(CPU_TIMER_SLACK);
        self.held = (now < until).then_some(until);
        self.held.is_some()
    }

    /// Time left, and the period.
    fn get(&self, clock: Clock) -> (Duration, Duration) {
        let left = self.next.map_or(Duration::ZERO, |n| {
            // An expired timer whose signal is not yet out reads as 1 us
            // (Linux's itimer_get_remtime).
            n.saturating_sub(clock.now()).max(Duration::from_micros(1))
        });
        (left, self.interval)
    }

    /// If due at `now`: how many periods passed (1 or more), advancing or
    /// disarming.
    fn due(&mut self, now: Duration) -> u64 {
        let Some(next) = self.next else { return 0 };
        if now < next {
            return 0;
        }
        self.held = None;
        if self.interval.is_zero() {
            self.next = None;
            return 1;
        }
        let late = (now - next).as_nanos() / self.interval.as_nanos();
        let periods = u64::try_from(late).unwrap_or(u64::MAX - 1) + 1;
        let step = u32::try_from(periods)
            .ok()
            .and_then(|p| self.interval.checked_mul(p));
        self.next = step.and_then(|s| next.checked_add(s));
        periods
    }
}

#[derive(Clone, Copy, Debug)]
struct PosixTimer {
    clock: Clock,
    /// The clock it was made on: an absolute time is on this clock.
    posix: rustix::time::ClockId,
    /// The signal, sigev_value and queue, or None for SIGEV_NONE.
    /// The signal, its value, and the thread it is for (SIGEV_THREAD_ID;
    /// None: the process).
    signal: Option<(i32, u64, Option<u32>)>,
    arm: Arm,
    /// Expiries the last signal stood for, beyond the first.
    overrun: u32,
    /// Its signal is ignored: the expiries since it was last queued,
    /// kept until the signal is no longer ignored and then queued as one
    /// signal with them as its overrun (Linux 6.13's ignored_posix_timers).
    parked: Option<u32>,
}

/// A host POSIX timer that kicks the vCPU thread at a time on its clock.
struct HostAlarm {
    clock: libc::clockid_t,
    id: Option<libc::timer_t>,
    armed: Option<Duration>,
    /// The host thread it kicks: the one that armed it last.
    owner: i32,
}

// SAFETY: a timer_t is an opaque id of a timer that belongs to the whole
// host process: timer_settime and timer_delete may be called from any of
// its threads, and the Process that owns a HostAlarm is only reached under
// its lock.
unsafe impl Send for HostAlarm {}

impl HostAlarm {
    const fn new(clock: libc::clockid_t) -> Self {
        Self {
            clock,
            id: None,
            armed: None,
            owner: 0,
        }
    }

    /// Kick the calling (vCPU) thread at `at` (absolute, on this clock), or
    /// never. Best effort: a wait also wakes at the earliest expiry itself.
    /// The thread that arms it last is kicked: for the CPU clock, the one
    /// running (the one whose timer it is), which takes a process-directed
    /// signal itself if it can, as Linux gives it to the running thread.
    fn arm(&mut self, at: Option<Duration>) {
        let me = rustix::thread::gettid().as_raw_nonzero().get();
        self.arm_for(at, me);
    }

    /// `arm`, kicking host thread `me` (a thread id of this process).
    fn arm_for(&mut self, at: Option<Duration>, me: i32) {
        if at.is_some() && self.owner != me {
            if let Some(id) = self.id.take() {
                // SAFETY: `id` came from timer_create and was not deleted.
                unsafe { libc::timer_delete(id) };
            }
            self.armed = None;
        }
        if at == self.armed {
            return;
        }
        if self.id.is_none() {
            if at.is_none() || crate::watchdog::install_kick_handler().is_err() {
                return;
            }
            // SAFETY: a zeroed sigevent is valid; we set the notify fields.
            let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
            sev.sigev_notify = libc::SIGEV_THREAD_ID;
            sev.sigev_signo = crate::watchdog::kick_signal();
            sev.sigev_notify_thread_id = me;
            let mut id: libc::timer_t = std::ptr::null_mut();
            // SAFETY: `sev` and `id` are live for the call; the kick signal
            // has a handler (installed above), so its arrival is harmless.
            if unsafe { libc::timer_create(self.clock, &mut sev, &mut id) } != 0 {
                return;
            }
            self.id = Some(id);
            self.owner = me;
        }
        let Some(id) = self.id else { return };
        let value = at.map_or(
            libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            |t| libc::timespec {
                tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                // A zero value would disarm: an absolute time of 0 is 1 ns.
                tv_nsec: (t.subsec_nanos() as libc::c_long).max(i64::from(t.is_zero())),
            },
        );
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `id` came from timer_create and is deleted only in Drop;
        // `spec` is live for the call.
        unsafe { libc::timer_settime(id, libc::TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
        self.armed = at;
    }
}

impl Drop for HostAlarm {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            // SAFETY: `id` came from timer_create and was not deleted yet.
            unsafe { libc::timer_delete(id) };
        }
    }
}

/// The process's timers.
pub struct Timers {
    real: Arm,
    virt: Arm,
    prof: Arm,
    /// RLIMIT_CPU: SIGXCPU at the soft limit and every second after it
    /// (Linux's check_process_timers), SIGKILL at the hard limit.
    cpu_soft: Arm,
    cpu_hard: Option<Duration>,
    /// A RLIMIT_CPU signal was sent.
    pub cpu_limit_hit: bool,
    /// The CPU clock's reading at the program's first instruction: RLIMIT_CPU
    /// counts from there.
    cpu_origin: Duration,
    /// RLIMIT_CPU as set, relative to `cpu_origin`.
    cpu_limit: (Option<Duration>, Option<Duration>),
    /// The exact hard limit kvmcage imposed (--cpu-time): the whole
    /// seconds the program sees and sets never stretch it.
    cpu_ceiling: Option<Duration>,
    posix: Vec<Option<PosixTimer>>,
    mono_alarm: HostAlarm,
    cpu_alarm: HostAlarm,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            real: Arm::default(),
            virt: Arm::default(),
            prof: Arm::default(),
            cpu_soft: Arm::default(),
            cpu_hard: None,
            cpu_limit_hit: false,
            cpu_origin: Duration::ZERO,
            cpu_limit: (None, None),
            cpu_ceiling: None,
            posix: Vec::new(),
            mono_alarm: HostAlarm::new(libc::CLOCK_MONOTONIC),
            cpu_alarm: HostAlarm::new(libc::CLOCK_PROCESS_CPUTIME_ID),
        }
    }
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("real", &self.real)
            .field("posix", &self.posix.iter().flatten().count())
            .finish()
    }
}

impl Timers {
    /// A fork's child's: RLIMIT_CPU as the parent's (kvmcage's CPU clock
    /// is the run's), no interval timer, alarm or POSIX timer (Linux's
    /// fork inherits none).
    pub fn for_fork(&self) -> Self {
        Self {
            cpu_soft: self.cpu_soft,
            cpu_hard: self.cpu_hard,
            cpu_origin: self.cpu_origin,
            cpu_limit: self.cpu_limit,
            cpu_ceiling: self.cpu_ceiling,
            ..Self::default()
        }
    }

    fn earliest(&self, clock: Clock) -> Option<Duration> {
        let hard = Arm {
            next: self.cpu_hard,
            ..Arm::default()
        };
        let itimers: &[&Arm] = match clock {
            Clock::Monotonic => &[&self.real],
            Clock::Cpu => &[&self.virt, &self.prof, &self.cpu_soft, &hard],
        };
        itimers
            .iter()
            .filter_map(|a| a.alarm())
            .chain(
                self.posix
                    .iter()
                    .flatten()
                    .filter(|t| t.clock == clock)
                    .filter_map(|t| t.arm.alarm()),
            )
            .min()
    }

    /// The next expiry on the monotonic clock, for a wait's timeout.
    /// execve deletes the POSIX timers (itimers and alarm stay).
    pub fn clear_posix(&mut self) {
        self.posix.clear();
        self.rearm();
    }

    pub fn next_due(&self) -> Option<Deadline> {
        self.earliest(Clock::Monotonic).map(Deadline)
    }

    /// RLIMIT_CPU changed: `soft` and `hard` in seconds of CPU time
    /// (RLIM_INFINITY for none), counted from the program's start as
    /// Linux counts the process's CPU time.
    pub fn set_cpu_limit(&mut self, soft: u64, hard: u64) {
        let at = |s: u64| {
            let d = (s != libc::RLIM_INFINITY).then(|| Duration::from_secs(s));
            match (d, self.cpu_ceiling) {
                (Some(d), Some(c)) => Some(d.min(c)),
                (None, c) => c,
                (d, None) => d,
            }
        };
        self.set_cpu_limit_exact(at(soft), at(hard));
    }

    /// kvmcage's own CPU-time limit: SIGXCPU at `soft`, SIGKILL at `hard`,
    /// whatever RLIMIT_CPU the program sets later.
    pub fn impose_cpu_limit(&mut self, soft: Duration, hard: Duration) {
        self.cpu_ceiling = Some(hard);
        self.set_cpu_limit_exact(Some(soft), Some(hard));
    }

    /// The same, to the nanosecond (kvmcage's --cpu-time).
    pub fn set_cpu_limit_exact(&mut self, soft: Option<Duration>, hard: Option<Duration>) {
        self.cpu_limit = (soft, hard);
        let at = |d: Option<Duration>| d.map(|d| self.cpu_origin.saturating_add(d));
        self.cpu_soft = Arm {
            next: at(soft),
            interval: Duration::from_secs(1),
            held: None,
        };
        self.cpu_hard = at(hard);
        self.rearm();
    }

    /// The program starts now: its CPU time (and RLIMIT_CPU) counts from
    /// the CPU clock's present reading.
    pub fn start_cpu_clock(&mut self) {
        self.cpu_origin = Clock::Cpu.now();
        let (soft, hard) = self.cpu_limit;
        self.set_cpu_limit_exact(soft, hard);
    }

    fn rearm(&mut self) {
        let m = self.earliest(Clock::Monotonic);
        self.mono_alarm.arm(m);
        let c = self.cpu_alarm_at();
        self.cpu_alarm.arm(c);
    }

    /// When the CPU clock's host alarm is to ring, on the host's process
    /// CPU clock: the earliest expiry on the program's, plus the service
    /// threads' CPU time so far (`process::cpu_clock`). Their running on
    /// makes it ring early; `fire_due` then arms it again.
    fn cpu_alarm_at(&self) -> Option<Duration> {
        let c = self.earliest(Clock::Cpu)?;
        Some(c.saturating_add(crate::exitless::service_cpu()))
    }

    /// A CPU-time timer is due.
    pub fn cpu_due(&self) -> bool {
        self.earliest(Clock::Cpu)
            .is_some_and(|t| t <= Clock::Cpu.now())
    }

    /// The CPU clock's alarm kicks host thread `heir` from now on (a thread
    /// that runs, when the one that armed it waits).
    pub fn hand_cpu_alarm(&mut self, heir: i32) {
        let c = self.cpu_alarm_at();
        if self.cpu_alarm.owner != heir {
            self.cpu_alarm.arm_for(c, heir);
        }
    }

    /// The host thread `gone` ends: the alarms that would kick it kick
    /// host thread `heir` (another thread of the process) instead, so an
    /// expiry still reaches a thread running in user mode.
    pub fn hand_alarms(&mut self, gone: i32, heir: i32) {
        let m = self.earliest(Clock::Monotonic);
        let c = self.cpu_alarm_at();
        for (alarm, at) in [(&mut self.mono_alarm, m), (&mut self.cpu_alarm, c)] {
            if alarm.owner == gone && alarm.id.is_some() {
                alarm.arm_for(at, heir);
            }
        }
    }

    /// Queue the signals of every timer that is due; those for a given
    /// thread (SIGEV_THREAD_ID) are returned, with their timer's id, for
    /// the caller to queue on that thread.
    /// A timer signal was dropped from a queue because `sig` became
    /// ignored: its timer keeps counting, parked (`PosixTimer::parked`).
    pub fn park(&mut self, id: i32, expiries: u32) {
        let slot = usize::try_from(id).ok().and_then(|i| self.posix.get_mut(i));
        if let Some(Some(t)) = slot {
            if t.signal.is_some_and(|(_, _, to)| to.is_none()) && !t.arm.interval.is_zero() {
                t.parked = Some(t.parked.unwrap_or(0).saturating_add(expiries));
            }
        }
    }

    /// `sig` is no longer ignored: the signals of the timers parked on it,
    /// each with what it counted meanwhile as its overrun.
    pub fn unpark(&mut self, sig: i32) -> Vec<SigInfo> {
        let mut out = Vec::new();
        for (i, slot) in self.posix.iter_mut().enumerate() {
            let Some(t) = slot.as_mut() else { continue };
            let Some((s, value, None)) = t.signal else {
                continue;
            };
            if s != sig {
                continue;
            }
            if let Some(n) = t.parked.take() {
                let mut info = SigInfo::timer(sig, i as i32, value);
                info.add_overrun(n.saturating_sub(1));
                t.overrun = n.saturating_sub(1);
                out.push(info);
            }
        }
        out
    }

    /// `how`: see `Fire`.
    pub fn fire_due(
        &mut self,
        signals: &mut SigView<'_>,
        id: &Identity,
        how: Fire,
    ) -> Vec<(u32, i32, SigInfo)> {
        let mut directed = Vec::new();
        let mono = self.earliest(Clock::Monotonic);
        let cpu = self.earliest(Clock::Cpu).filter(|_| how != Fire::WallOnly);
        if mono.is_none() && cpu.is_none() {
            return directed;
        }
        let now_m = mono.map(|_| Clock::Monotonic.now());
        let clocks = cpu.map(|_| super::process::cpu_clock());
        let now_c = clocks.map(|c| c.0);
        let mut changed = false;
        let now = |c: Clock| match c {
            Clock::Monotonic => now_m,
            Clock::Cpu => now_c,
        };
        let limit = u64::MAX;
        // A process-directed CPU-time signal the running thread blocks
        // waits a while (`Fire::HoldBlocked`).
        let blocked = signals.blocked();
        let held = |a: &mut Arm, sig: i32, now: Duration| {
            how == Fire::HoldBlocked && blocked & super::signal::bit(sig) != 0 && a.hold(now)
        };
        for (arm, clock, sig) in [
            (&mut self.real, Clock::Monotonic, SIGALRM),
            (&mut self.virt, Clock::Cpu, SIGVTALRM),
            (&mut self.prof, Clock::Cpu, SIGPROF),
        ] {
            let Some(t) = now(clock) else { continue };
            if clock == Clock::Cpu && held(arm, sig, t) {
                changed = true;
                continue;
            }
            if arm.due(t) > 0 {
                changed = true;
                let info = SigInfo::from_process(sig, SI_KERNEL, id.pid, 0);
                let _ = signals.send(info, Target::Process, limit, false);
            }
        }
        if let Some(t) = now_c {
            if self.cpu_hard.is_some_and(|h| t >= h) {
                self.cpu_hard = None;
                self.cpu_soft.next = None;
                self.cpu_limit_hit = true;
                changed = true;
                let info = SigInfo::new(super::signal::SIGKILL, SI_KERNEL);
                let _ = signals.send(info, Target::Process, limit, false);
            } else if self.cpu_soft.due(t) > 0 {
                self.cpu_limit_hit = true;
                changed = true;
                let info = SigInfo::new(super::signal::SIGXCPU, SI_KERNEL);
                let _ = signals.send(info, Target::Process, limit, false);
            }
        }
        for (i, slot) in self.posix.iter_mut().enumerate() {
            let Some(t) = slot.as_mut() else { continue };
            let Some(now) = now(t.clock) else { continue };
            if let Some((sig, _, None)) = t.signal {
                if t.clock == Clock::Cpu && held(&mut t.arm, sig, now) {
                    changed = true;
                    continue;
                }
            }
            let n = t.arm.due(now);
            if n == 0 {
                continue;
            }
            changed = true;
            let extra = u32::try_from(n - 1).unwrap_or(u32::MAX);
            let Some((sig, value, to)) = t.signal else {
                continue;
            };
            if let Some(tid) = to {
                let mut info = SigInfo::timer(sig, i as i32, value);
                info.add_overrun(extra);
                t.overrun = extra;
                directed.push((tid, i as i32, info));
                continue;
            }
            // Ignored: counted until the signal is no longer ignored.
            let expiries = extra.saturating_add(1);
            if let Some(p) = t.parked.as_mut() {
                *p = p.saturating_add(expiries);
                continue;
            }
            if signals.ignores(sig) {
                // Only a periodic timer is kept for later (Linux 6.13's
                // posixtimer_sig_ignore); a one-shot's signal is dropped.
                if !t.arm.interval.is_zero() {
                    t.parked = Some(expiries);
                }
                continue;
            }
            // A timer whose signal is still queued counts an overrun
            // instead of queueing another (Linux's posixtimer_rearm).
            if let Some(q) = signals.queued_timer(i as i32) {
                q.add_overrun(extra.saturating_add(1));
                t.overrun = t.overrun.saturating_add(extra.saturating_add(1));
            } else {
                let mut info = SigInfo::timer(sig, i as i32, value);
                info.add_overrun(extra);
                t.overrun = extra;
                let _ = signals.send(info, Target::Process, limit, false);
            }
        }
        // The host alarm rang before the program's clock got there (the
        // service threads ran meanwhile): again, later.
        let early = clocks.is_some_and(|(_, host)| self.cpu_alarm.armed.is_some_and(|a| a <= host));
        if early {
            self.cpu_alarm.armed = None;
        }
        if changed || early {
            self.rearm();
        }
        directed
    }
}

/// `struct itimerval` of an interval and a time left, each rounded up to
/// whole microseconds as Linux reports them.
fn itimerval(interval: Duration, value: Duration) -> Itimerval {
    Itimerval {
        it_interval: Timeval::from_duration_ceil(interval),
        it_value: Timeval::from_duration_ceil(value),
    }
}

/// `struct itimerspec` of an interval and a time left.
fn itimerspec(interval: Duration, value: Duration) -> Itimerspec {
    Itimerspec {
        it_interval: Timespec::from_duration(interval),
        it_value: Timespec::from_duration(value),
    }
}

fn itimer(t: &mut Timers, which: i32) -> Result<(&mut Arm, Clock), Errno> {
    match which {
        0 => Ok((&mut t.real, Clock::Monotonic)),
        1 => Ok((&mut t.virt, Clock::Cpu)),
        2 => Ok((&mut t.prof, Clock::Cpu)),
        _ => Err(Errno::INVAL),
    }
}

pub fn sys_getitimer(cx: &mut Ctx, a: &Args) -> SysResult {
    let (arm, clock) = itimer(&mut cx.proc.timers, a.0[0] as u32 as i32)?;
    let (left, interval) = arm.get(clock);
    cx.user().write_obj(a.0[1], &itimerval(interval, left))?;
    Ok(0)
}

pub fn sys_setitimer(cx: &mut Ctx, a: &Args) -> SysResult {
    let (which, new, old) = (a.0[0] as u32 as i32, a.0[1], a.0[2]);
    let (interval, value) = if new != 0 {
        let v: Itimerval = cx.user().read_obj(new)?;
        (v.it_interval.to_duration()?, v.it_value.to_duration()?)
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let (arm, clock) = itimer(&mut cx.proc.timers, which)?;
    let (left, old_interval) = arm.get(clock);
    arm.set(clock, value, interval);
    cx.proc.timers.rearm();
    if old != 0 {
        cx.user().write_obj(old, &itimerval(old_interval, left))?;
    }
    Ok(0)
}

/// alarm: ITIMER_REAL for whole seconds; returns the seconds that were
/// left, rounded to nearest (at least 1 if any time was left).
pub fn sys_alarm(cx: &mut Ctx, a: &Args) -> SysResult {
    let secs = a.0[0] as u32;
    let arm = &mut cx.proc.timers.real;
    let (left, _) = arm.get(Clock::Monotonic);
    arm.set(
        Clock::Monotonic,
        Duration::from_secs(u64::from(secs)),
        Duration::ZERO,
    );
    cx.proc.timers.rearm();
    let mut old = left.as_secs();
    if left.subsec_micros() >= 500_000 || (old == 0 && !left.is_zero()) {
        old += 1;
    }
    Ok(old)
}

/// The clock a POSIX timer counts on (`Clock`) and the clock its absolute
/// times are read on.
fn posix_clock(cx: &Ctx, id: i32) -> Result<(Clock, rustix::time::ClockId), Errno> {
    use rustix::time::ClockId as C;
    match super::time::clock_for(cx, id)? {
        c @ (C::Realtime | C::Monotonic | C::Boottime | C::Tai) => Ok((Clock::Monotonic, c)),
        c @ (C::ProcessCPUTime | C::ThreadCPUTime) => Ok((Clock::Cpu, c)),
        // Linux's raw and coarse clocks have no timers.
        _ => Err(Errno::INVAL),
    }
}

pub fn sys_timer_create(cx: &mut Ctx, a: &Args) -> SysResult {
    let (clockid, sevp, idp) = (a.0[0] as u32 as i32, a.0[1], a.0[2]);
    let (clock, posix) = posix_clock(cx, clockid)?;
    let free = cx.proc.timers.posix.iter().position(Option::is_none);
    let id = match free {
        Some(i) => i,
        None if cx.proc.timers.posix.len() < MAX_TIMERS => cx.proc.timers.posix.len(),
        None => return Err(Errno::AGAIN),
    };
    let signal = if sevp != 0 {
        let ev: Sigevent = cx.user().read_obj(sevp)?;
        let (value, signo, notify, tid) = (
            ev.sigev_value,
            ev.sigev_signo,
            ev.sigev_notify,
            ev.sigev_notify_thread_id,
        );
        match notify {
            libc::SIGEV_NONE => None,
            libc::SIGEV_SIGNAL | libc::SIGEV_THREAD | libc::SIGEV_THREAD_ID => {
                // A thread of this process (glibc's SIGEV_THREAD timers
                // name their helper thread).
                if notify == libc::SIGEV_THREAD_ID && cx.proc.find_thread(tid.into()).is_none() {
                    return Err(Errno::INVAL);
                }
                if !(1..=64).contains(&signo) {
                    return Err(Errno::INVAL);
                }
                let to = (notify == libc::SIGEV_THREAD_ID).then_some(tid as u32);
                Some((signo, value, to))
            }
            _ => return Err(Errno::INVAL),
        }
    } else {
        Some((SIGALRM, id as u64, None))
    };
    cx.user().write_obj(idp, &(id as i32))?;
    let t = PosixTimer {
        clock,
        posix,
        signal,
        arm: Arm::default(),
        overrun: 0,
        parked: None,
    };
    if id == cx.proc.timers.posix.len() {
        cx.proc.timers.posix.push(Some(t));
    } else {
        cx.proc.timers.posix[id] = Some(t);
    }
    Ok(0)
}

fn posix_timer<'a>(cx: &'a mut Ctx, id: u64) -> Result<&'a mut PosixTimer, Errno> {
    let i = usize::try_from(id as u32 as i32).map_err(|_| Errno::INVAL)?;
    cx.proc
        .timers
        .posix
        .get_mut(i)
        .and_then(Option::as_mut)
        .ok_or(Errno::INVAL)
}

pub fn sys_timer_settime(cx: &mut Ctx, a: &Args) -> SysResult {
    let (id, flags, new, old) = (a.0[0], a.0[1] as u32 as i32, a.0[2], a.0[3]);
    posix_timer(cx, id)?;
    let v: Itimerspec = cx.user().read_obj(new)?;
    let (interval, value) = (v.it_interval.to_duration()?, v.it_value.to_duration()?);
    let clockid_abs = flags & libc::TIMER_ABSTIME != 0;
    let t = posix_timer(cx, id)?;
    let (left, old_interval) = t.arm.get(t.clock);
    let value = if clockid_abs && !value.is_zero() {
        // An absolute time on the clock the timer was made on (realtime's
        // is not monotonic's): what is left of it now (at least 1 ns, so a
        // time in the past fires at once). The program's CPU clock is the
        // vCPU thread's (Clock::Cpu).
        let now = match t.clock {
            Clock::Cpu => t.clock.now(),
            Clock::Monotonic => clock_now(t.posix),
        };
        value.saturating_sub(now).max(Duration::from_nanos(1))
    } else {
        value
    };
    t.arm.set(t.clock, value, interval);
    t.overrun = 0;
    t.parked = None;
    // A signal of the timer's old setting is not delivered any more
    // (Linux 6.13+: a re-armed timer's queued signal is dropped).
    super::signal::forget_timer(cx.proc, id as u32 as i32);
    cx.proc.timers.rearm();
    if old != 0 {
        cx.user().write_obj(old, &itimerspec(old_interval, left))?;
    }
    Ok(0)
}

pub fn sys_timer_gettime(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = posix_timer(cx, a.0[0])?;
    let (left, interval) = t.arm.get(t.clock);
    cx.user().write_obj(a.0[1], &itimerspec(interval, left))?;
    Ok(0)
}

pub fn sys_timer_getoverrun(cx: &mut Ctx, a: &Args) -> SysResult {
    Ok(u64::from(
        posix_timer(cx, a.0[0])?.overrun.min(i32::MAX as u32),
    ))
}

pub fn sys_timer_delete(cx: &mut Ctx, a: &Args) -> SysResult {
    posix_timer(cx, a.0[0])?;
    let i = a.0[0] as u32 as usize;
    cx.proc.timers.posix[i] = None;
    super::signal::forget_timer(cx.proc, i as i32);
    cx.proc.timers.rearm();
    Ok(0)
}

// timerfd: a host timerfd on the same clock, since the guest's clocks are
// the host's. Its descriptor is an ordinary host file to the rest of the
// kernel (reads wait in `wait::block_on` like a pipe's; poll and fcntl
// pass through), and timerfd_settime/gettime hand the guest's values to
// the host kernel, which checks them exactly as Linux does (EINVAL for a
// descriptor that is no timerfd, a bad itimerspec or flag).

/// A host itimerspec from checked durations, and back to the guest's
/// bytes through the itimer helpers above.
fn host_itimerspec(interval: Duration, value: Duration) -> rustix::time::Itimerspec {
    let ts = |d: Duration| rustix::time::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    };
    rustix::time::Itimerspec {
        it_interval: ts(interval),
        it_value: ts(value),
    }
}

fn guest_itimerspec(t: &rustix::time::Itimerspec) -> Itimerspec {
    Itimerspec {
        it_interval: t.it_interval.into(),
        it_value: t.it_value.into(),
    }
}

/// The host descriptor behind guest descriptor `fd` (EBADF when it is not
/// open; EINVAL for kvmcage's own files, which are no timerfd).
fn timerfd_host(cx: &Ctx, fd: u64) -> Result<std::sync::Arc<super::fs::OpenFile>, Errno> {
    let file = cx.proc.files().file(fd as u32 as i32)?;
    match &file.kind {
        super::fs::FileKind::Host { .. } => Ok(file),
        _ => Err(Errno::INVAL),
    }
}

/// eventfd2: a host eventfd (its counter, EFD_SEMAPHORE and readiness are
/// the host kernel's). Reads wait in the one waiting place; a write that
/// must wait for room does so interruptibly (fs::host_write_all).
pub fn sys_eventfd2(cx: &mut Ctx, a: &Args) -> SysResult {
    use rustix::event::EventfdFlags as F;
    let (init, flags) = (a.0[0] as u32, a.0[1] as u32);
    let allowed = (libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | libc::EFD_SEMAPHORE) as u32;
    if flags & !allowed != 0 {
        return Err(Errno::INVAL);
    }
    let nonblock = flags & libc::EFD_NONBLOCK as u32 != 0;
    let mut host = F::CLOEXEC;
    if nonblock {
        host |= F::NONBLOCK;
    }
    if flags & libc::EFD_SEMAPHORE as u32 != 0 {
        host |= F::SEMAPHORE;
    }
    let fd = rustix::event::eventfd(init, host)?;
    let file = super::fs::OpenFile::new(
        super::fs::FileKind::Host { fd, writable: true },
        b"anon_inode:[eventfd]".to_vec(),
        libc::O_RDWR as u32 | if nonblock { libc::O_NONBLOCK as u32 } else { 0 },
    );
    super::path::install(cx, file, flags & libc::EFD_CLOEXEC as u32 != 0)
}

pub fn sys_eventfd(cx: &mut Ctx, a: &Args) -> SysResult {
    sys_eventfd2(cx, &Args([a.0[0], 0, 0, 0, 0, 0]))
}

pub fn sys_timerfd_create(cx: &mut Ctx, a: &Args) -> SysResult {
    use rustix::time::{TimerfdClockId as C, TimerfdFlags as F};
    let (clock, flags) = (a.0[0] as u32 as i32, a.0[1] as u32);
    let allowed = (libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) as u32;
    if flags & !allowed != 0 {
        return Err(Errno::INVAL);
    }
    let clock = match clock {
        libc::CLOCK_REALTIME => C::Realtime,
        libc::CLOCK_MONOTONIC => C::Monotonic,
        libc::CLOCK_BOOTTIME => C::Boottime,
        // The alarm clocks need CAP_WAKE_ALARM, which the program never has.
        libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM => return Err(Errno::PERM),
        _ => return Err(Errno::INVAL),
    };
    let nonblock = flags & libc::TFD_NONBLOCK as u32 != 0;
    let mut host = F::CLOEXEC;
    if nonblock {
        host |= F::NONBLOCK;
    }
    let fd = rustix::time::timerfd_create(clock, host)?;
    let file = super::fs::OpenFile::new(
        super::fs::FileKind::Host {
            fd,
            writable: false,
        },
        b"anon_inode:[timerfd]".to_vec(),
        libc::O_RDWR as u32 | if nonblock { libc::O_NONBLOCK as u32 } else { 0 },
    );
    super::path::install(cx, file, flags & libc::TFD_CLOEXEC as u32 != 0)
}

pub fn sys_timerfd_settime(cx: &mut Ctx, a: &Args) -> SysResult {
    let (fd, flags, new, old) = (a.0[0], a.0[1] as u32, a.0[2], a.0[3]);
    // Linux's order: the copy (EFAULT), the flags and values (EINVAL),
    // then the descriptor (EBADF, EINVAL for one that is no timerfd).
    let v: Itimerspec = cx.user().read_obj(new)?;
    let known = (libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET) as u32;
    if flags & !known != 0 {
        return Err(Errno::INVAL);
    }
    let flags = rustix::time::TimerfdTimerFlags::from_bits_retain(flags);
    let value = host_itimerspec(v.it_interval.to_duration()?, v.it_value.to_duration()?);
    let file = timerfd_host(cx, fd)?;
    let host = file.host().ok_or(Errno::INVAL)?;
    let was = rustix::time::timerfd_settime(host, flags, &value)?;
    if old != 0 {
        cx.user().write_obj(old, &guest_itimerspec(&was))?;
    }
    Ok(0)
}

pub fn sys_timerfd_gettime(cx: &mut Ctx, a: &Args) -> SysResult {
    let file = timerfd_host(cx, a.0[0])?;
    let host = file.host().ok_or(Errno::INVAL)?;
    let now = rustix::time::timerfd_gettime(host)?;
    cx.user().write_obj(a.0[1], &guest_itimerspec(&now))?;
    Ok(0)
}
