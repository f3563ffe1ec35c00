//! The guest threads' loops (PROCESSES.md 3 and 7): one host thread per
//! guest thread, each owning its vCPU.
//!
//! A loop runs its vCPU with no lock held, then takes the process's lock and
//! the machine's (in that order) to handle what the vCPU stopped for: a
//! syscall, a fault, or a kick (a signal for it, the run's end). Blocking
//! handlers give both locks up while they wait (`kernel::wait`). New threads
//! that clone left in the process get their host threads here, before the
//! caller returns to user mode.
//!
//! How it ends: exit_group, a fatal signal, --max-output, a broken machine
//! or the run's limits end the whole process: the first thread to see it
//! records the outcome, marks the process as exiting and kicks every other
//! thread, which unwinds. `exit` ends one thread; the last one out ends the
//! process with its status. The main thread runs the first guest thread,
//! then waits for the outcome and joins the others.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kvm_bindings::kvm_regs;
use parking_lot::{Condvar, Mutex};

use crate::exitless::{Gate, InGate};
use crate::kernel::task::{ProcRef, Status, Tasks};
use crate::kernel::{self, Call, Ctx, Exit, Locked, Process};
use crate::vm::{self, Machine, Stop, Trap, Vcpu};
use crate::{report, strace, watchdog, Error, Outcome, RunStats};

/// What the threads of a run share.
pub(crate) struct Shared {
    /// The first process: its end is the run's (as `docker run`).
    pub init: ProcRef,
    /// Its pid (orphans go to it).
    init_pid: u32,
    pub tasks: Arc<Tasks>,
    pub machine: Mutex<Machine>,
    pub tracer: Mutex<Option<strace::Tracer>>,
    pub stats: Mutex<RunStats>,
    pub expiry: watchdog::Expiry,
    /// KVM_SET_SIGNAL_MASK's mask for every vCPU (the kick unblocked).
    pub run_mask: u64,
    /// System calls go through the exitless gate (`crate::exitless`):
    /// `Gate` or `Doorbell`; `None` for the exit.
    pub gated: Option<crate::Transport>,
    /// Set once the run ends: every loop stops at its next turn.
    stopping: AtomicBool,
    /// How the run ended; the first to end it writes it.
    end: Mutex<Option<Result<Option<Outcome>, Error>>>,
    ended: Condvar,
    /// The host threads of guest threads but the first, joined at the end.
    handles: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// How the process `proc` ends as `o` says, for its parent's wait4.
fn status_of(o: &Outcome) -> Status {
    match o {
        Outcome::Exited(c) => Status::Exited(*c),
        Outcome::Killed { signal, core, .. } => Status::Killed {
            signal: *signal,
            core: *core,
        },
        _ => Status::Killed {
            signal: libc::SIGKILL,
            core: false,
        },
    }
}

/// Take the machine lock for `proc`'s thread: the machine's current
/// address space becomes the process's.
pub(crate) fn lock_machine<'k>(sh: &'k Shared, proc: &Process) -> Locked<'k, Machine> {
    let mut m = sh.machine.lock();
    m.enter_space(proc.mm.pt);
    m
}

impl Shared {
    pub fn new(
        init: ProcRef,
        machine: Machine,
        tracer: Option<strace::Tracer>,
        stats: RunStats,
        run_mask: u64,
        gated: Option<crate::Transport>,
    ) -> Self {
        let (expiry, tasks, init_pid) = {
            let p = init.lock();
            (p.expiry.clone(), Arc::clone(&p.tasks), p.id.pid)
        };
        Self {
            init,
            init_pid,
            tasks,
            machine: Mutex::new(machine),
            tracer: Mutex::new(tracer),
            stats: Mutex::new(stats),
            expiry,
            run_mask,
            gated,
            stopping: AtomicBool::new(false),
            end: Mutex::new(None),
            ended: Condvar::new(),
            handles: Mutex::new(Vec::new()),
        }
    }

    /// Has the run ended (every loop stops at its next turn)?
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Every live process (the table's lock is let go before any of them
    /// is locked).
    fn all_procs(&self) -> Vec<ProcRef> {
        let mut v: Vec<ProcRef> = self
            .tasks
            .lock()
            .matching(|_, _| true)
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        if !v.iter().any(|p| Arc::ptr_eq(p, &self.init)) {
            v.push(Arc::clone(&self.init));
        }
        v
    }

    /// Mark every process as ending and kick all their threads.
    fn stop_all(&self) {
        for p in self.all_procs() {
            let mut p = p.lock();
            p.exiting = true;
            for t in &p.threads {
                t.kick();
            }
        }
    }

    /// Record how the run ended (the first end wins), stop every thread.
    fn end_run(&self, how: Result<Option<Outcome>, Error>) {
        {
            let mut end = self.end.lock();
            if end.is_none() {
                *end = Some(how);
            }
        }
        self.stopping.store(true, Ordering::Release);
        self.stop_all();
        self.ended.notify_all();
    }

    /// Wait for the run's end (the first process's, or the time limit's),
    /// stop and join every thread of every process, and say how it ended
    /// (`None`: stopped from outside, as `Expiry` says why).
    pub fn wait(self: &Arc<Self>) -> Result<Option<Outcome>, Error> {
        {
            let mut end = self.end.lock();
            while end.is_none() {
                if self.expiry.expired() {
                    drop(end);
                    self.end_run(Ok(None));
                    end = self.end.lock();
                    continue;
                }
                self.ended.wait_for(&mut end, Duration::from_millis(20));
            }
        }
        self.stopping.store(true, Ordering::Release);
        // Every thread is on its way out; a kick ends a wait or a KVM_RUN
        // it may have gone back into before seeing the flag. Done when
        // every host thread is joined and none holds the run any more (a
        // thread being spawned holds it before its handle is listed).
        loop {
            let done: Vec<_> = {
                let mut h = self.handles.lock();
                let (done, live): (Vec<_>, Vec<_>) = h.drain(..).partition(|t| t.is_finished());
                *h = live;
                done
            };
            for t in done {
                let _ = t.join();
            }
            if self.handles.lock().is_empty() && Arc::strong_count(self) == 1 {
                break;
            }
            self.stop_all();
            std::thread::sleep(Duration::from_millis(2));
        }
        self.end.lock().take().unwrap_or(Ok(None))
    }

    /// Process `proc` ends as `how` says (this thread found out). The
    /// first process's end, a limit's or a failure of kvmcage's end the
    /// run; another process's end is for its parent to wait for: its
    /// threads unwind, and the last one out makes it a zombie.
    fn process_ends(&self, proc: &ProcRef, how: Result<Option<Outcome>, Error>) {
        let status = match &how {
            Ok(Some(o @ (Outcome::Exited(_) | Outcome::Killed { .. })))
                if !Arc::ptr_eq(proc, &self.init) =>
            {
                status_of(o)
            }
            _ => return self.end_run(how),
        };
        let mut p = proc.lock();
        p.exiting = true;
        p.status.get_or_insert(status);
        for t in &p.threads {
            t.kick();
        }
    }

    /// Thread `tid` of `proc` has left its loop: it leaves the process,
    /// and the last one out ends it. A process other than the first then
    /// gives its memory and descriptors back, becomes a zombie, and its
    /// parent hears of it (SIGCHLD and a wake-up of its wait4).
    fn thread_left(&self, proc: &ProcRef, tid: u32) {
        let mut p = proc.lock();
        // Called on the host thread that ran it (one guest thread each):
        // its CPU time is the guest thread's.
        let t = kernel::process::thread_cpu_time();
        p.cpu_done.0 += t.0;
        p.cpu_done.1 += t.1;
        // Found by its host thread too: an execve in another thread may
        // have given that one this id (the leader's) after this thread
        // left the table (de_thread), and that one lives on.
        let host = rustix::thread::gettid().as_raw_nonzero().get();
        let mine = p
            .threads
            .iter()
            .position(|t| t.tid == tid && t.host_tid == host);
        if let Some(i) = mine {
            p.futexes.cancel_thread(tid);
            p.remove_thread(i);
            // Ended with its group (exit_group, a fatal signal): strace -f
            // shows each thread but the leader leaving with the group's
            // status (the leader's line is the process's).
            if let (Some(status), true) = (p.status, tid != p.id.pid) {
                if let Some(t) = self.tracer.lock().as_mut() {
                    t.process_exited(tid, &status);
                }
            }
        }
        if p.find_thread(tid.into()).is_none() {
            p.tasks.futexes.lock().cancel_thread(tid);
            if tid != p.id.pid {
                p.tasks.lock().free_tid(p.id.pid, tid);
            }
        }
        if !p.threads.is_empty() || Arc::ptr_eq(proc, &self.init) {
            return;
        }
        let Some(status) = p.status else {
            // Its threads ended with the run (stop_all): nobody waits.
            return;
        };
        let pid = p.id.pid;
        let cpu = (
            p.cpu_done.0 + p.children_cpu.0,
            p.cpu_done.1 + p.children_cpu.1,
        );
        p.ipc.exit(self.machine.lock().frames());
        let mm = std::mem::replace(&mut p.mm, kernel::mm::Mm::none());
        p.close_files();
        p.epoll_keys.clear();
        p.timers = Default::default();
        drop(p);
        // A vfork child still running on the address space takes it over.
        if let Some(mut mm) = self.tasks.hand_over(mm) {
            mm.destroy(&mut self.machine.lock());
        }
        let init = self.init_pid;
        // Whether its parent reaps it at once (SIGCHLD ignored, or
        // SA_NOCLDWAIT) is decided under the parent's lock, and the zombie
        // made and removed while it is held, so the parent's wait4 never
        // finds a zombie it should not see (Linux's autoreap in
        // exit_notify); the parent's sigaction cannot slip in between.
        let before = self
            .tasks
            .lock()
            .procs
            .get(&pid)
            .map(|e| (e.ppid, e.exit_signal));
        let parent = before.and_then(|(ppid, _)| self.tasks.lock().get(ppid));
        let guard = parent.as_ref().map(|p| p.lock());
        let autoreap =
            matches!((before, &guard), (Some((_, libc::SIGCHLD)), Some(pp)) if pp.reaps_children());
        let Some((ppid, exit_signal, orphans)) = self.tasks.exited(pid, status, init, cpu) else {
            return;
        };
        let reaped = autoreap && before.is_some_and(|(p, _)| p == ppid);
        if reaped {
            self.tasks.reap(pid);
            // A wait4 of the parent looks again (ECHILD if that was all).
            for t in guard.iter().flat_map(|pp| pp.threads.iter()) {
                t.kick();
            }
        }
        drop(guard);
        drop(parent);
        if orphans && ppid != init {
            // The first process has zombies to reap now: a wait4 of its
            // looks again.
            for t in &self.init.lock().threads {
                t.kick();
            }
        }
        if let Some(t) = self.tracer.lock().as_mut() {
            t.process_exited(pid, &status);
        }
        if reaped {
            return;
        }
        let parent = self.tasks.lock().get(ppid);
        let Some(parent) = parent else {
            self.tasks.reap(pid);
            return;
        };
        let mut pp = parent.lock();
        if exit_signal == libc::SIGCHLD && pp.reaps_children() {
            self.tasks.reap(pid);
            // A wait4 of the parent looks again (ECHILD if that was all).
            for t in &pp.threads {
                t.kick();
            }
            return;
        }
        // An exit signal past 64 (clone's low byte) is none, as Linux's
        // do_notify_parent sends only a valid one.
        if (1..=64).contains(&exit_signal) {
            let (code, st) = status.code_and_status();
            let uid = pp.id.uid;
            pp.post(
                kernel::signal::SigInfo::child(exit_signal, code, pid, uid, st).with_times(cpu),
            );
        } else {
            for t in &pp.threads {
                t.kick();
            }
        }
    }

    /// The calling thread of `proc` made a vfork child `child`: it waits
    /// (no lock held) until the child execs or ends, or the run or its
    /// process ends.
    fn wait_vfork(&self, proc: &ProcRef, child: u32) {
        loop {
            {
                let mut t = self.tasks.lock();
                if t.procs.get(&child).is_none_or(|e| e.vfork_done) {
                    return;
                }
                self.tasks
                    .changed
                    .wait_for(&mut t, Duration::from_millis(20));
                if t.procs.get(&child).is_none_or(|e| e.vfork_done) {
                    return;
                }
            }
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            // The wait is killable, and ends for a thread another's
            // execve dooms.
            let mut p = proc.lock();
            let kill = kernel::signal::bit(libc::SIGKILL);
            if p.exiting || p.me().doomed || p.sig().pending() & kill != 0 {
                return;
            }
        }
    }
}

/// How one thread's loop ended.
enum Ended {
    /// This thread ended (exit, or it was the group's end that another
    /// thread recorded).
    Thread,
    /// The process ends, as this thread found out.
    Process(Result<Option<Outcome>, Error>),
}

/// Run guest thread `tid` of `proc` on `vcpu` (whose registers are set)
/// until it or its process ends.
pub(crate) fn thread_main(sh: &Arc<Shared>, proc: &ProcRef, mut vcpu: Vcpu, tid: u32) {
    let exits = vcpu.exits;
    // An execve in a thread other than the leader gives it the leader's id.
    let mut tid = tid;
    // A bug in kvmcage that panics ends the run with an error, not the
    // host thread alone (whose guest thread's joiners would wait forever).
    let ram = sh.machine.lock().ram().clone();
    let mut gate = Gate::new(sh.gated, ram);
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        thread_loop(sh, proc, &mut vcpu, &mut gate, &mut tid)
    }))
    .unwrap_or_else(|_| {
        Ended::Process(Err(Error::Vm(vm::VmError::Setup(format!(
            "kvmcage failed while running thread {tid}"
        )))))
    });
    gate.shutdown();
    sh.stats.lock().exits += vcpu.exits - exits;
    if let Ended::Process(how) = ended {
        sh.process_ends(proc, how);
    }
    sh.machine.lock().put_vcpu(vcpu);
    sh.thread_left(proc, tid);
}

/// The host thread of a thread clone made (in the caller's process, or
/// the first of a new one).
fn start_thread(sh: &Arc<Shared>, proc: &ProcRef, s: kernel::clone::Spawn) {
    let kernel::clone::Spawn {
        tid,
        mut vcpu,
        regs,
        proc: _,
    } = s;
    {
        let mut p = proc.lock();
        if !p.enter(tid) {
            return;
        }
        // SAFETY: pthread_self has no preconditions.
        p.me().host = Some(unsafe { libc::pthread_self() });
        p.me().host_tid = rustix::thread::gettid().as_raw_nonzero().get();
    }
    if let Err(e) = vcpu.set_run_signal_mask(sh.run_mask) {
        sh.end_run(Err(e.into()));
        return;
    }
    // Signals sent to it before it ran are taken before its first
    // instruction, as Linux's first return to user mode does.
    let mut regs = regs;
    let killed = {
        let mut p = proc.lock();
        if p.exiting || !p.enter(tid) {
            drop(p);
            sh.machine.lock().put_vcpu(vcpu);
            sh.thread_left(proc, tid);
            return;
        }
        let mut m = lock_machine(sh, &p);
        match deliver_signals(
            sh,
            (&mut m, &mut vcpu, &mut p),
            &mut regs,
            None,
            false,
            None,
        ) {
            Ok(Some(o)) => Some(Ok(ending(&mut p, o))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    };
    match killed {
        Some(Ok(Ended::Process(how))) => {
            sh.process_ends(proc, how);
            sh.machine.lock().put_vcpu(vcpu);
            return sh.thread_left(proc, tid);
        }
        Some(Err(e)) => return sh.end_run(Err(e)),
        _ => {}
    }
    if let Err(e) = vcpu.start_user(&regs) {
        sh.end_run(Err(e.into()));
        return;
    }
    thread_main(sh, proc, vcpu, tid);
}

/// Give the threads clone made their host threads. One that cannot be
/// started makes clone fail with EAGAIN after all, as Linux's would.
fn spawn_threads(
    sh: &Arc<Shared>,
    proc: &ProcRef,
    spawned: Vec<kernel::clone::Spawn>,
    regs: &mut kvm_regs,
) {
    for s in spawned {
        let tid = s.tid;
        let sh2 = Arc::clone(sh);
        let owner = s.proc.clone().unwrap_or_else(|| Arc::clone(proc));
        let child = s.proc.is_some();
        let owner2 = Arc::clone(&owner);
        let started = std::thread::Builder::new()
            .name(format!("kvmcage-{tid}"))
            .spawn(move || start_thread(&sh2, &owner2, s));
        match started {
            Ok(h) => {
                let mut hs = sh.handles.lock();
                // Reap the host threads of guest threads that ended.
                let (done, live): (Vec<_>, Vec<_>) = hs.drain(..).partition(|t| t.is_finished());
                *hs = live;
                hs.push(h);
                drop(hs);
                for t in done {
                    let _ = t.join();
                }
            }
            Err(e) => {
                log::warn!("cannot start a host thread for thread {tid}: {e}");
                if child {
                    // The process never ran: it goes as if killed.
                    owner.lock().status = Some(Status::Killed {
                        signal: libc::SIGKILL,
                        core: false,
                    });
                    sh.thread_left(&owner, tid);
                    sh.tasks.reap(tid);
                } else {
                    let mut p = owner.lock();
                    p.threads.retain(|t| t.tid != tid);
                    p.tasks.lock().free_tid(p.id.pid, tid);
                }
                regs.rax = (-i64::from(libc::EAGAIN)) as u64;
            }
        }
    }
}

/// Deliver the signals due before a return to user mode, tracing them;
/// `Some` when one of them ends the process. `fault` is the trap that
/// raised a signal just now, for the report if that signal kills.
fn deliver_signals(
    sh: &Shared,
    k: (
        &mut Locked<'_, Machine>,
        &mut Vcpu,
        &mut Locked<'_, Process>,
    ),
    regs: &mut kvm_regs,
    from: Option<kernel::sigframe::FromSyscall>,
    i386: bool,
    fault: Option<(&report::Fault, i32)>,
) -> Result<Option<Outcome>, Error> {
    let (m, vcpu, proc) = k;
    let mut from = from;
    loop {
        if let Some(sig) = proc.stopped {
            // Stopped by another thread: this one waits too.
            stopped(sh, m, proc, sig, false);
        }
        let d = kernel::sigframe::deliver(m, vcpu, proc, regs, from.take(), i386)?;
        if let Some(t) = sh.tracer.lock().as_mut() {
            let task = task_of(proc);
            for info in &d.taken {
                t.signal(info, task);
            }
        }
        if let Some((info, core)) = d.kill {
            let signal = info.signo();
            let report = match fault {
                Some((f, sig)) if sig == signal => report::signal_line(signal, Some((m, f))),
                _ => report::signal_line(signal, None),
            };
            return Ok(Some(Outcome::Killed {
                signal,
                report,
                core,
            }));
        }
        let Some(sig) = d.stop else {
            return Ok(None);
        };
        stopped(sh, m, proc, sig, true);
        if proc.exiting || sh.stopping.load(Ordering::Acquire) {
            return Ok(None);
        }
        // Continued (or SIGKILL came): what is pending now is delivered.
    }
}

/// The process is stopped by `sig` (job control; `first`: this thread
/// took the stop signal). Its parent hears of it once; this thread waits,
/// with no lock held, until SIGCONT continues the process, SIGKILL is
/// pending, or the process or the run ends; the others stop at their
/// next return to user mode.
fn stopped(
    sh: &Shared,
    m: &mut Locked<'_, Machine>,
    proc: &mut Locked<'_, Process>,
    sig: i32,
    first: bool,
) {
    let tid = proc.me().tid;
    let pid = proc.id.pid;
    let newly = first && proc.stopped.is_none();
    proc.stopped.get_or_insert(sig);
    proc.kick_others();
    let waker = proc.me().waker.clone();
    let kick = proc.kick.clone();
    if newly {
        Locked::unlocked(m, || {
            Locked::unlocked(proc, || {
                sh.tasks.notify_parent(pid, Status::Stopped(sig));
            })
        });
        proc.enter(tid);
    }
    let kill = kernel::signal::bit(libc::SIGKILL);
    while proc.stopped.is_some()
        && !proc.exiting
        && !sh.stopping.load(Ordering::Acquire)
        && !sh.expiry.expired()
        && proc.sig().pending() & kill == 0
    {
        Locked::unlocked(m, || {
            Locked::unlocked(proc, || match &waker {
                Some(w) => w.sleep(kick.as_ref(), Duration::from_millis(50)),
                None => std::thread::sleep(Duration::from_millis(5)),
            })
        });
        proc.enter(tid);
    }
    m.enter_space(proc.mm.pt);
}

/// The `[pid N]` of trace lines: the thread, once the run has had more
/// than one.
fn task_of(proc: &Process) -> Option<u32> {
    proc.tasks.lock().many.then(|| proc.threads[proc.cur].tid)
}

/// Return to the program with `regs`; a return address outside the user
/// half ends it with SIGSEGV (`Vcpu::resume` refuses it).
fn return_to_user(vcpu: &mut Vcpu, regs: &kvm_regs) -> Result<Option<Outcome>, Error> {
    match vcpu.resume(regs) {
        Ok(()) => Ok(None),
        Err(vm::VmError::NonUserReturn { rip }) => Ok(Some(Outcome::Killed {
            signal: report::SIGSEGV,
            report: format!("guest killed by SIGSEGV (return to a non-user address {rip:#x})"),
            core: false,
        })),
        Err(e) => Err(e.into()),
    }
}

/// The process ends as this thread found out, holding the lock: every
/// other thread sees it at its next turn (no syscall of theirs runs after
/// an exit_group, and a second exit_group cannot overtake the first).
fn ending(proc: &mut Process, o: Outcome) -> Ended {
    proc.exiting = true;
    // Decided now, under the lock: the other threads leaving see it.
    if let Outcome::Exited(_) | Outcome::Killed { .. } = o {
        proc.status.get_or_insert(status_of(&o));
    }
    proc.kick_others();
    Ended::Process(Ok(Some(o)))
}

/// A user page fault whose page-table entry allows the access now: the
/// vCPU used a translation cached before another thread upgraded it
/// (PROCESSES.md 4). Not for reserved-bit or protection-key faults.
fn spurious(m: &Machine, addr: u64, ec: u64) -> bool {
    use crate::vm::paging::pte;
    const RSVD: u64 = 1 << 3;
    const PK: u64 = 1 << 5;
    if ec & (RSVD | PK) != 0 {
        return false;
    }
    let leaf = m
        .pt()
        .leaf(m.ram(), crate::vm::layout::page_down(addr))
        .unwrap_or(0);
    let (write, exec) = (ec & 2 != 0, ec & 16 != 0);
    leaf & pte::PRESENT != 0
        && leaf & pte::USER != 0
        && (!write || leaf & pte::WRITABLE != 0)
        && (!exec || leaf & pte::NX == 0)
}

/// One thread's loop.
fn thread_loop(
    sh: &Arc<Shared>,
    proc: &ProcRef,
    vcpu: &mut Vcpu,
    gate: &mut Gate,
    tid: &mut u32,
) -> Ended {
    match thread_loop_inner(sh, proc, vcpu, gate, tid) {
        Ok(e) => e,
        Err(e) => Ended::Process(Err(e)),
    }
}

/// A thread that another thread's execve ends: it leaves the table, its
/// waiters are gone with it.
fn doomed(proc: &mut Process) -> Ended {
    let tid = proc.me().tid;
    proc.futexes.cancel_thread(tid);
    let cur = proc.cur;
    proc.remove_thread(cur);
    Ended::Thread
}

fn thread_loop_inner(
    sh: &Arc<Shared>,
    procref: &ProcRef,
    vcpu: &mut Vcpu,
    gate: &mut Gate,
    tid: &mut u32,
) -> Result<Ended, Error> {
    // Exits since the last syscall: the trap's own, plus any page faults the
    // host resolved on the way (counted against the next syscall).
    let mut exits_seen = vcpu.exits;
    loop {
        if sh.expiry.expired() {
            return Ok(Ended::Process(Ok(None)));
        }
        if sh.stopping.load(Ordering::Acquire) {
            return Ok(Ended::Thread);
        }
        gate.prepare(sh, procref, vcpu);
        gate.enter();
        let next = vcpu.next_trap();
        gate.leave();
        let next = next?;
        let mut proc = procref.lock();
        if proc.exiting || !proc.enter(*tid) {
            return Ok(Ended::Thread);
        }
        if proc.me().doomed {
            return Ok(doomed(&mut proc));
        }
        let mut m = lock_machine(sh, &proc);
        // A call the exitless gate's service thread made, to return here.
        let mut resumed = None;
        let (trap, mut regs) = match next {
            Ok(t) => t,
            Err(Stop::Interrupted) => {
                // A kick: a timer, a signal, or the run's end. Signals go to
                // a vCPU stopped in ring 3; one stopped in the stub first
                // reaches its next exit.
                watchdog::take_kick();
                // Stopped in ring 3, or in the stub about to return to it
                // (the kick came after the host set up the return), or in
                // the exitless gate, where its call's state decides: not
                // made yet (make it now), made (return it), or over.
                let mut moved = false;
                let at = match vcpu
                    .interrupted_in_gate()
                    .map(|(off, r)| gate.in_gate(off, &r))
                {
                    Some(InGate::Call(u)) => Err(u),
                    Some(InGate::Resume(u, f)) => {
                        resumed = Some(f);
                        Err(u)
                    }
                    Some(InGate::Returned(u)) => {
                        moved = true;
                        Ok(Some((u, true)))
                    }
                    None => Ok(match vcpu.interrupted_user_regs() {
                        Some(regs) => Some((regs, true)),
                        None => vcpu.pending_return().map(|r| (r, false)),
                    }),
                };
                match at {
                    Err(u) => (
                        Trap::Syscall(
                            resumed
                                .as_ref()
                                .map_or(vm::EntryPath::LstarFault, |f| f.path()),
                        ),
                        u,
                    ),
                    Ok(at) => {
                        if let Some((mut regs, in_user)) = at {
                            let before = regs;
                            if let Some(o) = deliver_signals(
                                sh,
                                (&mut m, vcpu, &mut proc),
                                &mut regs,
                                None,
                                false,
                                None,
                            )? {
                                return Ok(ending(&mut proc, o));
                            }
                            if regs != before || moved {
                                if in_user {
                                    vcpu.set_interrupted_user_regs(&regs);
                                } else if let Some(o) = return_to_user(vcpu, &regs)? {
                                    return Ok(ending(&mut proc, o));
                                }
                            }
                        }
                        continue;
                    }
                }
            }
            Err(stop) => {
                return Ok(ending(
                    &mut proc,
                    Outcome::MachineFailed(format!("the guest machine stopped: {stop}")),
                ))
            }
        };
        // The gate's exit paths: a call it made, or the #UD its ring-3
        // handler took, which becomes the trap the stub would have had.
        let mut trap = trap;
        if resumed.is_none() {
            resumed = gate.exit_trap(vcpu, &mut trap, &mut regs);
        }
        // A call into the vsyscall page is that system call.
        if let Trap::Fault {
            vector: 14,
            error_code: Some(ec),
            cr2,
        } = trap
        {
            if kernel::vsyscall::take_call(&m, &mut regs, cr2) {
                trap = Trap::Syscall(vm::EntryPath::Vsyscall);
            } else if kernel::vsyscall::in_page(cr2) {
                trap = Trap::Fault {
                    vector: 14,
                    error_code: Some(ec | 1),
                    cr2,
                };
            }
        }
        match trap {
            Trap::Syscall(path) => {
                // (One the service thread made is counted there.)
                if resumed.is_none() {
                    let mut st = sh.stats.lock();
                    st.syscalls += 1;
                    *st.by_path.entry(path.name()).or_default() += 1;
                }
                let call = match &resumed {
                    Some(f) => f.call,
                    None => Call::decode(&regs, path),
                };
                if resumed.is_none() {
                    gate.want_service(sh, procref, (*tid, &proc, &mut m), &call);
                }
                let tracing = sh.tracer.lock().is_some();
                let mut cx = Ctx {
                    m: &mut m,
                    vcpu: Some(&mut *vcpu),
                    proc: &mut proc,
                    regs: &mut regs,
                    path,
                };
                let started = tracing.then(std::time::Instant::now);
                // execve replaces the memory its arguments are in.
                let head = (tracing && call.is_exec()).then(|| strace::format_call(&call, 0, cx.m));
                let ret = match resumed {
                    Some(f) => {
                        cx.regs.rax = f.ret as u64;
                        f.ret
                    }
                    None => kernel::dispatch(&mut cx, &call),
                };
                log::trace!("syscall {} ({:?}) = {ret}", call.nr, call.name());
                let sigreturned = std::mem::take(&mut proc.me().sigreturned);
                let thread_exit = proc.me().exit_code;
                // execve in a thread that was not the leader takes its id.
                *tid = proc.me().tid;
                if proc.me().doomed {
                    return Ok(doomed(&mut proc));
                }
                if let Some(started) = started {
                    let ends = matches!(proc.exit, Some(Exit::Code(_))) || thread_exit.is_some();
                    let mask = proc.me().sig.mask;
                    let ev = strace::Traced {
                        call: &call,
                        ret,
                        path,
                        took: started.elapsed(),
                        exits: vcpu.exits - exits_seen,
                        ends_process: ends,
                        sigreturn_mask: (sigreturned && !call.is_exec()).then_some(mask),
                        head: head.as_deref(),
                        task: task_of(&proc),
                        pid: proc.id.pid,
                    };
                    if let Some(t) = sh.tracer.lock().as_mut() {
                        t.syscall(&m, &ev);
                    }
                }
                exits_seen = vcpu.exits;
                let end = match proc.exit.take() {
                    Some(Exit::Code(c)) => Some(Outcome::Exited(c)),
                    Some(Exit::Signal(sig)) => Some(Outcome::Killed {
                        signal: sig,
                        report: report::signal_line(sig, None),
                        core: false,
                    }),
                    Some(Exit::OutputLimit(max)) => Some(Outcome::OutputLimit(max)),
                    None => None,
                };
                if let Some(o) = end {
                    return Ok(ending(&mut proc, o));
                }
                if let Some(status) = thread_exit {
                    let pid = proc.id.pid;
                    return Ok(match kernel::clone::exit_thread(&m, &mut proc, status) {
                        Some(status) => ending(&mut proc, Outcome::Exited(status)),
                        None => {
                            // exit(2) of one thread: strace -f's line for
                            // it (the leader's waits for the group's end).
                            if *tid != pid {
                                if let Some(t) = sh.tracer.lock().as_mut() {
                                    t.process_exited(*tid, &kernel::task::Status::Exited(status));
                                }
                            }
                            Ended::Thread
                        }
                    });
                }
                let spawned = std::mem::take(&mut proc.spawned);
                let vfork = proc.vfork_wait.take();
                if !spawned.is_empty() {
                    drop(m);
                    drop(proc);
                    spawn_threads(sh, procref, spawned, &mut regs);
                    if let Some(child) = vfork.filter(|_| regs.rax as i64 > 0) {
                        sh.wait_vfork(procref, child);
                    }
                    proc = procref.lock();
                    if proc.exiting || !proc.enter(*tid) {
                        return Ok(Ended::Thread);
                    }
                    m = lock_machine(sh, &proc);
                }
                kernel::sigframe::syscall_return_regs(&mut regs, path, sigreturned);
                let from =
                    (!sigreturned).then_some(kernel::sigframe::FromSyscall { nr: call.nr, ret });
                if let Some(o) = deliver_signals(
                    sh,
                    (&mut m, vcpu, &mut proc),
                    &mut regs,
                    from,
                    call.i386,
                    None,
                )? {
                    return Ok(ending(&mut proc, o));
                }
                if let Some(o) = return_to_user(vcpu, &regs)? {
                    return Ok(ending(&mut proc, o));
                }
            }
            Trap::Fault {
                vector,
                error_code,
                cr2,
            } => {
                if vector == 14 {
                    let ec = error_code.unwrap_or(0);
                    if spurious(&m, cr2, ec) {
                        // Another thread made the access legal after this
                        // vCPU cached the old entry: reload and retry.
                        vcpu.flush_tlb();
                        vcpu.resume(&regs)?;
                        continue;
                    }
                    let p = &mut *proc;
                    let limit = p.rlimits.soft(libc::RLIMIT_STACK);
                    if p.mm.fault(&mut m, cr2, ec & 2 != 0, ec & 16 != 0, limit) {
                        sh.stats.lock().faults_handled += 1;
                        vcpu.resume(&regs)?;
                        continue;
                    }
                }
                log::debug!(
                    "thread {tid}: fault {vector} ({error_code:?}) at {:#x}, cr2 {cr2:#x}",
                    regs.rip
                );
                let fault = report::Fault {
                    vector,
                    error_code,
                    cr2,
                    regs,
                };
                let info = report::siginfo_for(&m, vcpu, &proc.mm, &fault);
                let last_cr2 = proc.me().trap.cr2;
                proc.me().trap = kernel::sigframe::TrapState {
                    trapno: u64::from(vector),
                    err: error_code.unwrap_or(0),
                    cr2: if vector == 14 { cr2 } else { last_cr2 },
                };
                let sig = info.signo();
                proc.sig().force(info);
                if let Some(o) = deliver_signals(
                    sh,
                    (&mut m, vcpu, &mut proc),
                    &mut regs,
                    None,
                    false,
                    Some((&fault, sig)),
                )? {
                    return Ok(ending(&mut proc, o));
                }
                if let Some(o) = return_to_user(vcpu, &regs)? {
                    return Ok(ending(&mut proc, o));
                }
            }
        }
    }
}
