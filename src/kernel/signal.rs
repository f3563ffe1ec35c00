//! Signals: dispositions, the mask, the pending queue, and the syscalls that
//! send, wait for and inspect them. Delivery to a handler (the frame on the
//! user stack, rt_sigreturn, restarts) is `sigframe`, which the run loop
//! calls before every return to user mode (PROCESSES.md 8).
//!
//! Today there is one thread, so "the thread" and "the process" are the
//! same: process-directed and thread-directed signals share one queue.

use std::collections::VecDeque;

use rustix::io::Errno;

use super::abi::{KSigaction, StackT};
use super::wait::{self, Wake, Woken};
use super::{int, Args, Ctx, SysResult};

pub const SIGHUP: i32 = 1;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGSEGV: i32 = 11;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;
pub const SIGXCPU: i32 = 24;
pub const SIGXFSZ: i32 = 25;
pub const SIGSYS: i32 = 31;
/// The kernel's first real-time signal (the C libraries keep 32 and 33).
pub const SIGRTMIN: i32 = 32;
pub const NSIG: usize = 64;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

pub const SA_NOCLDSTOP: u64 = 0x1;
pub const SA_NOCLDWAIT: u64 = 0x2;
pub const SA_SIGINFO: u64 = 0x4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// si_code values (include/uapi/asm-generic/siginfo.h).
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_TKILL: i32 = -6;

const SS_ONSTACK: i32 = 1;
const SS_DISABLE: i32 = 2;
const SS_AUTODISARM: i32 = 1 << 31;
/// MINSIGSTKSZ: the smallest alternate stack sigaltstack accepts.
const MINSIGSTKSZ: u64 = 2048;

/// The bit of `sig` in a kernel sigset.
pub const fn bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// SIGKILL and SIGSTOP can be neither blocked nor caught.
pub const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);

/// Signals a fault raises, delivered before any other pending signal.
const SYNCHRONOUS: u64 =
    bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGFPE) | bit(SIGSYS);

/// Kernel `struct sigaction` for x86-64: handler, flags, restorer, mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

impl SigAction {
    /// The kernel's `struct sigaction` of it.
    fn abi(self) -> KSigaction {
        KSigaction {
            handler: self.handler,
            flags: self.flags,
            restorer: self.restorer,
            mask: self.mask,
        }
    }
}

/// What a signal does when it is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Terminate,
    /// Terminate "with a core dump" (the status's core bit).
    Core,
    Ignore,
    /// Stop the process (job control), and continue it.
    Stop,
    Continue,
    Handler(SigAction),
}

/// The default action of `sig` (signal(7)).
pub fn default_action(sig: i32) -> Action {
    match sig {
        3 | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | 24 | SIGXFSZ | SIGSYS => {
            Action::Core
        }
        SIGCHLD | 23 | 28 => Action::Ignore,
        SIGCONT => Action::Continue,
        SIGSTOP | 20..=22 => Action::Stop,
        _ => Action::Terminate,
    }
}

/// One queued signal: the 128-byte siginfo Linux would copy out.
#[derive(Clone, PartialEq, Eq)]
pub struct SigInfo {
    raw: [u8; 128],
    /// Made by one of the process's POSIX timers (SigInfo::timer), not
    /// a siginfo a program wrote with SI_TIMER as its code (which
    /// rt_sigqueueinfo lets it send): only these count overruns, park and
    /// go with their timer.
    from_timer: bool,
}

impl std::fmt::Debug for SigInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigInfo({}, code {})", self.signo(), self.code())
    }
}

impl SigInfo {
    pub fn new(sig: i32, code: i32) -> Self {
        let mut s = Self {
            raw: [0; 128],
            from_timer: false,
        };
        s.put32(0, sig as u32);
        s.put32(8, code as u32);
        s
    }

    fn put32(&mut self, off: usize, v: u32) {
        self.raw[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn put64(&mut self, off: usize, v: u64) {
        self.raw[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn get32(&self, off: usize) -> u32 {
        u32::from_le_bytes([
            self.raw[off],
            self.raw[off + 1],
            self.raw[off + 2],
            self.raw[off + 3],
        ])
    }

    fn get64(&self, off: usize) -> u64 {
        u64::from(self.get32(off)) | (u64::from(self.get32(off + 4)) << 32)
    }

    /// Sent by a process (kill, tkill, the kernel on its behalf): si_pid
    /// and si_uid.
    pub fn from_process(sig: i32, code: i32, pid: u32, uid: u32) -> Self {
        let mut s = Self::new(sig, code);
        s.put32(16, pid);
        s.put32(20, uid);
        s
    }

    /// SIGCHLD for child `pid`'s end: si_pid, si_uid, si_status (the exit
    /// code or the signal, per `code`: CLD_EXITED, CLD_KILLED...).
    pub fn child(sig: i32, code: i32, pid: u32, uid: u32, status: i32) -> Self {
        let mut s = Self::from_process(sig, code, pid, uid);
        s.put32(24, status as u32);
        s
    }

    /// The same with si_utime and si_stime (clock ticks, USER_HZ 100).
    pub fn with_times(mut self, cpu: (std::time::Duration, std::time::Duration)) -> Self {
        let ticks = |d: std::time::Duration| (d.as_millis() / 10) as u64;
        self.put64(32, ticks(cpu.0));
        self.put64(40, ticks(cpu.1));
        self
    }

    /// Raised by a fault at `addr`.
    pub fn fault(sig: i32, code: i32, addr: u64) -> Self {
        let mut s = Self::new(sig, code);
        s.put64(16, addr);
        s
    }

    /// A POSIX timer's expiry: si_timerid, si_overrun, si_value.
    pub fn timer(sig: i32, id: i32, value: u64) -> Self {
        let mut s = Self::new(sig, SI_TIMER);
        s.put32(16, id as u32);
        s.put64(24, value);
        s.from_timer = true;
        s
    }

    /// The caller's own siginfo (rt_sigqueueinfo), for signal `sig`.
    pub fn from_user(sig: i32, raw: [u8; 128]) -> Self {
        let mut s = Self {
            raw,
            from_timer: false,
        };
        s.put32(0, sig as u32);
        s
    }

    pub fn signo(&self) -> i32 {
        self.get32(0) as i32
    }

    pub fn code(&self) -> i32 {
        self.get32(8) as i32
    }

    /// The fault address of a SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP.
    pub fn addr(&self) -> u64 {
        self.get64(16)
    }

    pub fn bytes(&self) -> &[u8; 128] {
        &self.raw
    }

    fn timer_id(&self) -> Option<i32> {
        (self.from_timer && self.code() == SI_TIMER).then(|| self.get32(16) as i32)
    }

    /// The expiries of its timer that it stands for beyond the first.
    pub fn overrun(&self) -> u32 {
        self.get32(20)
    }

    /// One more expiry of the timer whose signal this is.
    pub fn add_overrun(&mut self, n: u32) {
        let o = self.get32(20).saturating_add(n).min(i32::MAX as u32);
        self.put32(20, o);
    }

    /// Is this one of the codes a fault produces for its signal?
    fn is_fault(&self) -> bool {
        self.code() > 0 && self.code() != SI_KERNEL
            || self.code() == SI_KERNEL && bit(self.signo()) & SYNCHRONOUS != 0
    }

    /// The `struct signalfd_siginfo` read() gives for it.
    pub fn signalfd(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        let mut put32 = |off: usize, v: u32| out[off..off + 4].copy_from_slice(&v.to_le_bytes());
        put32(0, self.signo() as u32);
        put32(4, self.get32(4));
        put32(8, self.code() as u32);
        let mut extra: Vec<(usize, u64, usize)> = Vec::new();
        if self.is_fault() {
            extra.push((72, self.addr(), 8)); // ssi_addr
        } else if self.code() == SI_TIMER {
            extra.push((24, u64::from(self.get32(16)), 4)); // ssi_tid
            extra.push((32, u64::from(self.get32(20)), 4)); // ssi_overrun
            extra.push((44, self.get64(24) & 0xffff_ffff, 4)); // ssi_int
            extra.push((48, self.get64(24), 8)); // ssi_ptr
        } else {
            extra.push((12, u64::from(self.get32(16)), 4)); // ssi_pid
            extra.push((16, u64::from(self.get32(20)), 4)); // ssi_uid
            extra.push((44, self.get64(24) & 0xffff_ffff, 4)); // ssi_int
            extra.push((48, self.get64(24), 8)); // ssi_ptr
        }
        for (off, v, len) in extra {
            out[off..off + len].copy_from_slice(&v.to_le_bytes()[..len]);
        }
        out
    }
}

/// sigaltstack's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub size: u64,
    /// SS_AUTODISARM, as given.
    pub flags: i32,
}

impl AltStack {
    /// Is `sp` on this stack (Linux's on_sig_stack)?
    pub fn on(&self, sp: u64) -> bool {
        sp > self.sp && sp - self.sp <= self.size
    }

    /// ss_flags as reported for a thread whose stack pointer is `sp`.
    pub fn flags_at(&self, sp: u64) -> i32 {
        if self.size == 0 {
            SS_DISABLE
        } else if self.on(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }

    /// The `stack_t` seen from `sp` (uc_stack, sigaltstack's old value).
    pub fn abi(self, sp: u64) -> StackT {
        StackT {
            ss_sp: self.sp,
            ss_flags: self.flags_at(sp) | self.flags,
            pad: 0,
            ss_size: self.size,
        }
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Which queue a signal goes to: the thread's (tkill, tgkill, faults,
/// SIGPIPE) or the process's (kill, sigqueue, timers). Linux takes from the
/// thread's first, so one standard signal sent both ways is delivered twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Thread,
    Process,
}

/// The signal state a thread group shares: the dispositions (one table
/// per CLONE_SIGHAND group) and the process-directed queue.
#[derive(Clone, Debug)]
pub struct Signals {
    pub actions: [SigAction; NSIG],
    /// Pending process-directed signals in the order they came; standard
    /// signals at most once, real-time ones queued.
    shared: VecDeque<SigInfo>,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            actions: [SigAction::default(); NSIG],
            shared: VecDeque::new(),
        }
    }
}

/// One thread's own signal state: its mask, its altstack, the signals sent
/// to it alone, and the mask sigsuspend (or ppoll/pselect6 with a mask)
/// replaced, put back after the handler it let in (Linux's saved_sigmask).
#[derive(Clone, Debug, Default)]
pub struct ThreadSig {
    pub mask: u64,
    pub altstack: AltStack,
    queue: VecDeque<SigInfo>,
    pub saved_mask: Option<u64>,
}

/// SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU as a set.
pub fn stop_signals() -> u64 {
    bit(libc::SIGSTOP) | bit(libc::SIGTSTP) | bit(libc::SIGTTIN) | bit(libc::SIGTTOU)
}

impl ThreadSig {
    /// Drop the pending signals of `set` from this thread's queue.
    pub fn discard(&mut self, set: u64) {
        self.queue.retain(|x| bit(x.signo()) & set == 0);
    }

    pub fn set_mask(&mut self, m: u64) {
        self.mask = m & !UNBLOCKABLE;
    }

    /// Signals sent to this thread alone.
    pub fn pending(&self) -> u64 {
        set_of(&self.queue)
    }

    /// The mask a new thread starts with (clone copies it; the rest starts
    /// empty, as Linux's copy_process).
    pub fn for_new_thread(&self) -> Self {
        Self {
            mask: self.mask,
            ..Self::default()
        }
    }

    /// A fork's child's thread: the mask and the alternate stack, no
    /// pending signal.
    pub fn for_fork(&self) -> Self {
        Self {
            mask: self.mask,
            altstack: self.altstack,
            ..Self::default()
        }
    }
}

impl Signals {
    /// Drop the pending signals of `set` from the process's queue.
    pub fn discard(&mut self, set: u64) {
        self.shared.retain(|x| bit(x.signo()) & set == 0);
    }

    /// A fork's child's: the same dispositions, no pending signal.
    pub fn for_fork(&self) -> Self {
        Self {
            actions: self.actions,
            shared: Default::default(),
        }
    }
}

/// What one thread sees of the signals: its own state and its group's.
pub struct SigView<'a> {
    pub sh: &'a mut Signals,
    pub th: &'a mut ThreadSig,
}

fn set_of(q: &VecDeque<SigInfo>) -> u64 {
    q.iter().fold(0, |s, i| s | bit(i.signo()))
}

/// Linux's next_signal: a fault's signal first, then the lowest number.
fn next_in(ready: u64) -> Option<i32> {
    let pick = if ready & SYNCHRONOUS != 0 {
        ready & SYNCHRONOUS
    } else {
        ready
    };
    (pick != 0).then(|| pick.trailing_zeros() as i32 + 1)
}

impl Signals {
    fn slot(sig: i32) -> Option<usize> {
        usize::try_from(sig.checked_sub(1)?)
            .ok()
            .filter(|&i| i < NSIG)
    }

    /// What delivering `sig` would do now.
    pub fn action(&self, sig: i32) -> Action {
        if sig == SIGKILL {
            return Action::Terminate;
        }
        if sig == SIGSTOP {
            return Action::Stop;
        }
        let Some(a) = Self::slot(sig).map(|i| self.actions[i]) else {
            return Action::Ignore;
        };
        match a.handler {
            SIG_DFL => default_action(sig),
            SIG_IGN => Action::Ignore,
            _ => Action::Handler(a),
        }
    }

    /// Process-directed signals pending.
    pub fn shared_pending(&self) -> u64 {
        set_of(&self.shared)
    }

    /// Does setting `sig`'s action make it ignored, so that what is pending
    /// of it is discarded (POSIX)?
    fn now_ignored(&self, sig: i32) -> bool {
        let a = self.actions[(sig - 1) as usize];
        a.handler == SIG_IGN || a.handler == SIG_DFL && default_action(sig) == Action::Ignore
    }

    /// execve and clone3's CLONE_CLEAR_SIGHAND (Linux's
    /// flush_signal_handlers): handled signals go back to
    /// SIG_DFL, ignored ones stay ignored, every action loses its flags and
    /// mask; the mask and pending signals stay.
    pub fn reset_for_exec(&mut self) {
        for a in &mut self.actions {
            if a.handler != SIG_IGN {
                a.handler = SIG_DFL;
            }
            a.flags = 0;
            a.restorer = 0;
            a.mask = 0;
        }
    }

    /// Drop the queued process-directed signals of a deleted timer.
    pub fn forget_timer(&mut self, id: i32) {
        self.shared.retain(|x| x.timer_id() != Some(id));
    }
}

impl SigView<'_> {
    fn queue(&mut self, q: usize) -> &mut VecDeque<SigInfo> {
        if q == 0 {
            &mut self.th.queue
        } else {
            &mut self.sh.shared
        }
    }

    fn queue_ref(&self, q: usize) -> &VecDeque<SigInfo> {
        if q == 0 {
            &self.th.queue
        } else {
            &self.sh.shared
        }
    }

    /// Would `sig` be thrown away on arrival (ignored and not blocked)?
    /// A stop signal is kept for its action (a process that is not the
    /// first stops); SIGCONT has done its work when it was sent.
    fn discards(&self, sig: i32) -> bool {
        self.th.mask & bit(sig) == 0
            && matches!(self.sh.action(sig), Action::Ignore | Action::Continue)
            && sig != SIGKILL
    }

    /// Would a POSIX timer's signal `sig` be dropped as ignored now (not
    /// blocked, its action SIG_IGN or an ignoring default)?
    pub fn ignores(&self, sig: i32) -> bool {
        self.th.mask & bit(sig) == 0 && self.sh.now_ignored(sig)
    }

    /// The signals the thread blocks.
    pub fn blocked(&self) -> u64 {
        self.th.mask
    }

    /// The pending set (both queues).
    pub fn pending(&self) -> u64 {
        set_of(&self.th.queue) | set_of(&self.sh.shared)
    }

    fn unblocked(&self) -> u64 {
        !(self.th.mask & !UNBLOCKABLE)
    }

    /// The signal that would be delivered now, and its queue.
    fn next(&self, allowed: u64) -> Option<(usize, i32)> {
        (0..2).find_map(|q| next_in(set_of(self.queue_ref(q)) & allowed).map(|s| (q, s)))
    }

    /// The signal that would be delivered now.
    pub fn deliverable(&self) -> Option<i32> {
        self.next(self.unblocked()).map(|(_, s)| s)
    }

    fn take(&mut self, q: usize, sig: i32) -> Option<SigInfo> {
        let queue = self.queue(q);
        let i = queue.iter().position(|x| x.signo() == sig)?;
        queue.remove(i)
    }

    /// Take the signal `deliverable` named.
    pub fn dequeue_deliverable(&mut self) -> Option<SigInfo> {
        let (q, sig) = self.next(self.unblocked())?;
        self.take(q, sig)
    }

    /// Take the lowest-numbered pending signal in `set` (sigtimedwait,
    /// signalfd), the thread's first.
    pub fn dequeue_from(&mut self, set: u64) -> Option<SigInfo> {
        let (q, sig) = self.next(set)?;
        self.take(q, sig)
    }

    /// Queue `info`. A standard signal already pending in that queue is
    /// merged; a real-time signal queues up to `limit` (RLIMIT_SIGPENDING)
    /// when `limited` (sigqueue, tkill: EAGAIN past it), and otherwise
    /// (kill, the kernel) beyond it, but never more than one extra per
    /// signal, so the queues stay bounded.
    pub fn send(
        &mut self,
        info: SigInfo,
        to: Target,
        limit: u64,
        limited: bool,
    ) -> Result<(), Errno> {
        let sig = info.signo();
        if self.discards(sig) {
            return Ok(());
        }
        let q = to as usize;
        let pending = set_of(self.queue_ref(q)) & bit(sig) != 0;
        if sig < SIGRTMIN && pending {
            return Ok(());
        }
        if (self.th.queue.len() + self.sh.shared.len()) as u64 >= limit {
            if limited && sig >= SIGRTMIN {
                return Err(Errno::AGAIN);
            }
            if pending {
                return Ok(());
            }
        }
        self.queue(q).push_back(info);
        Ok(())
    }

    /// execve: the group's actions reset, and this thread's altstack.
    pub fn reset_for_exec(&mut self) {
        self.sh.reset_for_exec();
        self.th.altstack = AltStack::default();
        self.th.saved_mask = None;
    }

    /// A fault's signal (Linux's force_sig_info): a blocked or ignored one
    /// is unblocked and reset to its default action, which kills.
    pub fn force(&mut self, info: SigInfo) {
        let sig = info.signo();
        let Some(i) = Signals::slot(sig) else { return };
        let blocked = self.th.mask & bit(sig) != 0;
        if blocked || self.sh.actions[i].handler == SIG_IGN {
            self.sh.actions[i].handler = SIG_DFL;
            self.th.mask &= !bit(sig);
        }
        if set_of(&self.th.queue) & bit(sig) == 0 {
            self.th.queue.push_front(info);
        }
    }

    /// The pending signal of POSIX timer `id`, if it is still queued.
    pub fn queued_timer(&mut self, id: i32) -> Option<&mut SigInfo> {
        self.th
            .queue
            .iter_mut()
            .chain(self.sh.shared.iter_mut())
            .find(|q| q.timer_id() == Some(id))
    }
}

/// /proc/self/status's signal lines (Linux's render_sigset_t order):
/// SigQ, SigPnd (the thread's), ShdPnd (the process's), SigBlk,
/// SigIgn, SigCgt; bit N-1 for signal N.
pub fn status_lines(sh: &Signals, th: &ThreadSig, rlimit_sigpending: u64) -> String {
    let queued = th.queue.len() + sh.shared.len();
    let (mut ign, mut cgt) = (0u64, 0u64);
    for (i, a) in sh.actions.iter().enumerate() {
        match a.handler {
            SIG_DFL => {}
            SIG_IGN => ign |= 1 << i,
            _ => cgt |= 1 << i,
        }
    }
    format!(
        "SigQ:\t{queued}/{rlimit_sigpending}\nSigPnd:\t{:016x}\nShdPnd:\t{:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{ign:016x}\nSigCgt:\t{cgt:016x}\n",
        set_of(&th.queue),
        set_of(&sh.shared),
        th.mask
    )
}

/// Setting SIG_IGN, or SIG_DFL whose default ignores, discards what is
/// pending of that signal, blocked or not, in the process's queue and in
/// every thread's (POSIX).
/// A POSIX timer's signal discarded this way parks its timer, and a
/// signal no longer ignored gets the parked timers' signals queued again
/// (Linux 6.13+).
fn discard_if_ignored(proc: &mut super::Process, sig: i32) {
    if proc.signals.now_ignored(sig) {
        let mut dropped = Vec::new();
        proc.signals.shared.retain(|x| {
            let keep = x.signo() != sig;
            if !keep {
                dropped.push(x.timer_id().map(|id| (id, x.overrun())));
            }
            keep
        });
        for t in &mut proc.threads {
            t.sig.queue.retain(|x| x.signo() != sig);
        }
        for (id, overrun) in dropped.into_iter().flatten() {
            proc.timers.park(id, overrun.saturating_add(1));
        }
        return;
    }
    let limit = proc.rlimits.soft(libc::RLIMIT_SIGPENDING);
    for info in proc.timers.unpark(sig) {
        let _ = proc.sig().send(info, Target::Process, limit, false);
    }
    proc.wake_for_shared();
}

/// Every POSIX timer's queued signal (execve deletes the timers).
pub fn forget_all_timers(proc: &mut super::Process) {
    proc.signals.shared.retain(|x| x.timer_id().is_none());
    for t in &mut proc.threads {
        t.sig.queue.retain(|x| x.timer_id().is_none());
    }
}

/// A deleted timer's signals, wherever they are queued.
pub fn forget_timer(proc: &mut super::Process, id: i32) {
    proc.signals.forget_timer(id);
    for t in &mut proc.threads {
        t.sig.queue.retain(|x| x.timer_id() != Some(id));
    }
}

fn valid_signal(sig: i32) -> Result<usize, Errno> {
    Signals::slot(sig).ok_or(Errno::INVAL)
}

fn read_sigset(cx: &Ctx, addr: u64, size: u64) -> Result<u64, Errno> {
    if size != 8 {
        return Err(Errno::INVAL);
    }
    let raw = cx.user().read_vec(addr, 8)?;
    Ok(u64::from_le_bytes(
        raw.try_into().map_err(|_| Errno::FAULT)?,
    ))
}

pub fn sys_rt_sigaction(cx: &mut Ctx, a: &Args) -> SysResult {
    let (sig, act, oact, size) = (int(a.0[0]), a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::INVAL);
    }
    let idx = valid_signal(sig)?;
    let new = if act != 0 {
        let k: KSigaction = cx.user().read_obj(act)?;
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::INVAL);
        }
        Some(SigAction {
            handler: k.handler,
            flags: k.flags,
            restorer: k.restorer,
            mask: k.mask & !UNBLOCKABLE,
        })
    } else {
        None
    };
    if oact != 0 {
        let o = cx.proc.signals.actions[idx];
        cx.user().write_obj(oact, &o.abi())?;
    }
    if let Some(n) = new {
        cx.proc.signals.actions[idx] = n;
        discard_if_ignored(cx.proc, sig);
    }
    Ok(0)
}

pub fn sys_rt_sigprocmask(cx: &mut Ctx, a: &Args) -> SysResult {
    let (how, set, oset, size) = (int(a.0[0]), a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::INVAL);
    }
    let old = cx.proc.me().sig.mask;
    let new = if set != 0 {
        let s = read_sigset(cx, set, size)?;
        Some(match how {
            libc::SIG_BLOCK => old | s,
            libc::SIG_UNBLOCK => old & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::INVAL),
        })
    } else {
        None
    };
    if oset != 0 {
        cx.user().write_obj(oset, &old)?;
    }
    if let Some(n) = new {
        cx.proc.me().sig.set_mask(n);
    }
    Ok(0)
}

/// sigaltstack (Linux's do_sigaltstack): the old value reflects where the
/// caller's stack pointer is; changing the stack while on it is EPERM.
pub fn sys_sigaltstack(cx: &mut Ctx, a: &Args) -> SysResult {
    let (ss, old) = (a.0[0], a.0[1]);
    let sp = cx.regs.rsp;
    let cur = cx.proc.me().sig.altstack;
    if ss != 0 {
        let st: StackT = cx.user().read_obj(ss)?;
        let (ss_sp, flags, size) = (st.ss_sp, st.ss_flags, st.ss_size);
        if cur.on(sp) {
            return Err(Errno::PERM);
        }
        let mode = flags & !SS_AUTODISARM;
        if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
            return Err(Errno::INVAL);
        }
        cx.proc.me().sig.altstack = if mode == SS_DISABLE {
            AltStack::default()
        } else {
            if size < MINSIGSTKSZ {
                return Err(Errno::NOMEM);
            }
            AltStack {
                sp: ss_sp,
                size,
                flags: flags & SS_AUTODISARM,
            }
        };
    }
    if old != 0 {
        if let Err(e) = cx.user().write_obj(old, &cur.abi(sp)) {
            cx.proc.me().sig.altstack = cur;
            return Err(e);
        }
    }
    Ok(0)
}

/// Queue `info` for the calling thread or its process; signal 0 only
/// checks. A process-directed signal the caller blocks wakes a thread that
/// does not.
fn send_self(cx: &mut Ctx, info: Option<SigInfo>, to: Target, limited: bool) -> SysResult {
    let Some(info) = info else { return Ok(0) };
    let limit = cx.proc.rlimits.soft(libc::RLIMIT_SIGPENDING);
    cx.proc.sig().send(info, to, limit, limited)?;
    if to == Target::Process {
        cx.proc.wake_for_shared();
    }
    Ok(0)
}

/// Queue `info` for thread `tid` of the process (tkill, tgkill,
/// rt_tgsigqueueinfo): ESRCH if there is none; the thread is kicked so
/// that it takes the signal now, wherever it is.
fn send_thread(cx: &mut Ctx, tid: i32, info: Option<SigInfo>, limited: bool) -> SysResult {
    let Some(i) = cx.proc.find_thread(tid.into()) else {
        return Err(Errno::SRCH);
    };
    if i == cx.proc.cur {
        return send_self(cx, info, Target::Thread, limited);
    }
    let Some(info) = info else { return Ok(0) };
    let limit = cx.proc.rlimits.soft(libc::RLIMIT_SIGPENDING);
    let p = &mut **cx.proc;
    SigView {
        sh: &mut p.signals,
        th: &mut p.threads[i].sig,
    }
    .send(info, Target::Thread, limit, limited)?;
    p.threads[i].kick();
    Ok(0)
}

/// A signal the kernel sends the thread for what it just did (SIGPIPE,
/// SIGXFSZ): Linux's send_sig, SI_USER from the caller itself.
pub fn send_to_self(cx: &mut Ctx, sig: i32) {
    let info = SigInfo::from_process(sig, SI_USER, cx.proc.id.pid, cx.proc.id.uid);
    let _ = send_self(cx, Some(info), Target::Thread, false);
}

/// The siginfo of a signal the program sends with `code`, or None for
/// signal 0.
fn from_self(cx: &Ctx, sig: i32, code: i32) -> Result<Option<SigInfo>, Errno> {
    if sig == 0 {
        return Ok(None);
    }
    valid_signal(sig)?;
    Ok(Some(SigInfo::from_process(
        sig,
        code,
        cx.proc.id.pid,
        cx.proc.id.uid,
    )))
}

/// Queue `info` (None: signal 0, a check only) for another process, with
/// the caller's locks given up while the other's is held (no thread holds
/// two process locks).
fn post_to(cx: &mut Ctx, target: super::task::ProcRef, info: Option<SigInfo>) {
    if let Some(info) = info {
        let tasks = std::sync::Arc::clone(&cx.proc.tasks);
        super::wait::unlocked(cx, move || {
            let (pid, continued) = {
                let mut t = target.lock();
                (t.id.pid, t.post(info))
            };
            if continued {
                tasks.notify_parent(pid, super::task::Status::Continued);
            }
        });
    }
}

/// kill: pid > 0 names a process, 0 the caller's group, -1 every process
/// but the first and the caller, < -1 the group -pid. A zombie can be
/// sent to (nothing happens); a pid or group with no process is ESRCH.
pub fn sys_kill(cx: &mut Ctx, a: &Args) -> SysResult {
    let (pid, sig) = (int(a.0[0]), int(a.0[1]));
    let info = from_self(cx, sig, SI_USER)?;
    let me = cx.proc.id.pid;
    if pid == i32::MIN {
        return Err(Errno::SRCH);
    }
    if pid > 0 && (pid as u32 == me || cx.proc.find_thread(pid.into()).is_some()) {
        return send_self(cx, info, Target::Process, false);
    }
    if pid > 0 {
        let target = {
            let t = cx.proc.tasks.lock();
            match t.procs.get(&(pid as u32)) {
                None => return Err(Errno::SRCH),
                Some(e) => e.proc.upgrade(),
            }
        };
        if let Some(target) = target {
            post_to(cx, target, info);
        }
        return Ok(0);
    }
    // A group, or everyone.
    let (targets, me_too, any) = {
        let t = cx.proc.tasks.lock();
        let my_pgid = t.procs.get(&me).map_or(me, |e| e.pgid);
        let first = t.procs.keys().next().copied().unwrap_or(1);
        let wanted = |p: u32, e: &super::task::Entry| match pid {
            -1 => p != me && p != first,
            0 => e.pgid == my_pgid,
            g => e.pgid == g.unsigned_abs(),
        };
        let any = t.procs.iter().any(|(&p, e)| wanted(p, e));
        let me_too = t.procs.get(&me).is_some_and(|e| wanted(me, e));
        let targets: Vec<_> = t
            .matching(|p, e| p != me && wanted(p, e))
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        (targets, me_too, any)
    };
    if !any {
        return Err(Errno::SRCH);
    }
    for target in targets {
        post_to(cx, target, info.clone());
    }
    if me_too {
        send_self(cx, info, Target::Process, false)?;
    }
    Ok(0)
}

pub fn sys_tkill(cx: &mut Ctx, a: &Args) -> SysResult {
    let (tid, sig) = (int(a.0[0]), int(a.0[1]));
    if tid <= 0 {
        return Err(Errno::INVAL);
    }
    let info = from_self(cx, sig, SI_TKILL)?;
    send_thread(cx, tid, info, true)
}

pub fn sys_tgkill(cx: &mut Ctx, a: &Args) -> SysResult {
    let (tgid, tid, sig) = (int(a.0[0]), int(a.0[1]), int(a.0[2]));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::INVAL);
    }
    let info = from_self(cx, sig, SI_TKILL)?;
    if tgid != cx.proc.id.pid as i32 {
        return Err(Errno::SRCH);
    }
    send_thread(cx, tid, info, true)
}

/// rt_sigqueueinfo / rt_tgsigqueueinfo: the caller's own siginfo. (A code
/// that claims to come from the kernel or tkill is EPERM only towards
/// another process, and there is none yet.) `to`: the process, or the
/// thread with this tid.
fn queueinfo(cx: &mut Ctx, to: Option<i32>, sig: i32, uinfo: u64) -> SysResult {
    let raw: [u8; 128] = cx
        .user()
        .read_vec(uinfo, 128)?
        .try_into()
        .map_err(|_| Errno::FAULT)?;
    let info = SigInfo::from_user(sig, raw);
    if sig == 0 {
        return Ok(0);
    }
    valid_signal(sig)?;
    match to {
        None => send_self(cx, Some(info), Target::Process, true),
        Some(tid) => send_thread(cx, tid, Some(info), true),
    }
}

pub fn sys_rt_sigqueueinfo(cx: &mut Ctx, a: &Args) -> SysResult {
    let (pid, sig) = (int(a.0[0]), int(a.0[1]));
    if pid != cx.proc.id.pid as i32 {
        return Err(Errno::SRCH);
    }
    queueinfo(cx, None, sig, a.0[2])
}

pub fn sys_rt_tgsigqueueinfo(cx: &mut Ctx, a: &Args) -> SysResult {
    let (tgid, tid, sig) = (int(a.0[0]), int(a.0[1]), int(a.0[2]));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::INVAL);
    }
    if tgid != cx.proc.id.pid as i32 {
        return Err(Errno::SRCH);
    }
    if cx.proc.find_thread(tid.into()).is_none() {
        return Err(Errno::SRCH);
    }
    queueinfo(cx, Some(tid), sig, a.0[3])
}

pub fn sys_rt_sigpending(cx: &mut Ctx, a: &Args) -> SysResult {
    if a.0[1] > 8 {
        return Err(Errno::INVAL);
    }
    let set = cx.proc.sig().pending() & cx.proc.me().sig.mask;
    let n = a.0[1] as usize;
    cx.user().write(a.0[0], &set.to_le_bytes()[..n])?;
    Ok(0)
}

/// Run a wait with the temporary signal mask at `uset` (ppoll, pselect6,
/// epoll_pwait; none when 0), as Linux's set_user_sigmask: when the wait
/// ends for a signal's handler, the old mask comes back after the handler
/// has run (as for rt_sigsuspend), otherwise at once.
pub fn with_wait_mask(
    cx: &mut Ctx,
    uset: u64,
    size: u64,
    wait: impl FnOnce(&mut Ctx) -> SysResult,
) -> SysResult {
    if uset == 0 {
        return wait(cx);
    }
    let mask = read_sigset(cx, uset, size)?;
    let old = cx.proc.me().sig.mask;
    cx.proc.me().sig.set_mask(mask);
    let r = wait(cx);
    match r {
        Err(e) if e == Errno::INTR || e == wait::ERESTARTNOHAND => {
            cx.proc.me().sig.saved_mask = Some(old)
        }
        _ => cx.proc.me().sig.set_mask(old),
    }
    r
}

/// pause: wait for a signal that runs a handler or kills.
pub fn sys_pause(cx: &mut Ctx, _a: &Args) -> SysResult {
    loop {
        if wait::block_on(cx, &mut [], None, Wake::Signal)? == Woken::Signal {
            return Err(wait::ERESTARTNOHAND);
        }
    }
}

/// rt_sigsuspend: wait with `mask` in place; the old mask comes back once
/// the handler that ended the wait returns.
pub fn sys_rt_sigsuspend(cx: &mut Ctx, a: &Args) -> SysResult {
    let mask = read_sigset(cx, a.0[0], a.0[1])?;
    let old = cx.proc.me().sig.mask;
    cx.proc.me().sig.set_mask(mask);
    cx.proc.me().sig.saved_mask = Some(old);
    loop {
        match wait::block_on(cx, &mut [], None, Wake::Signal) {
            Ok(Woken::Signal) => return Err(wait::ERESTARTNOHAND),
            Ok(_) => continue,
            Err(e) => {
                cx.proc.me().sig.set_mask(old);
                cx.proc.me().sig.saved_mask = None;
                return Err(e);
            }
        }
    }
}

/// rt_sigtimedwait: take a pending signal of `set`, waiting for one until
/// the timeout (EAGAIN); a handled signal outside the set is EINTR.
pub fn sys_rt_sigtimedwait(cx: &mut Ctx, a: &Args) -> SysResult {
    let (uset, uinfo, uts, size) = (a.0[0], a.0[1], a.0[2], a.0[3]);
    let set = read_sigset(cx, uset, size)? & !UNBLOCKABLE;
    let deadline = if uts != 0 {
        Some(wait::Deadline::after(super::time::read_timespec(cx, uts)?))
    } else {
        None
    };
    loop {
        if let Some(info) = cx.proc.sig().dequeue_from(set) {
            if uinfo != 0 {
                cx.user().write(uinfo, info.bytes())?;
            }
            return Ok(info.signo() as u64);
        }
        match wait::block_on(cx, &mut [], deadline, Wake::SignalIn(set))? {
            Woken::TimedOut => return Err(Errno::AGAIN),
            Woken::Signal if cx.proc.sig().pending() & set == 0 => return Err(Errno::INTR),
            _ => {}
        }
    }
}
