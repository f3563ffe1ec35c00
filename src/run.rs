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

use crate::kernel::{self, Call, Ctx, Exit, Process};
use crate::vm::{self, Machine, Stop, Trap, Vcpu};
use crate::{report, strace, watchdog, Error, Outcome, RunStats};

/// What the threads of a run share.
pub(crate) struct Shared {
    pub proc: Mutex<Process>,
    pub machine: Mutex<Machine>,
    pub tracer: Mutex<Option<strace::Tracer>>,
    pub stats: Mutex<RunStats>,
    pub expiry: watchdog::Expiry,
    /// KVM_SET_SIGNAL_MASK's mask for every vCPU (the kick unblocked).
    pub run_mask: u64,
    /// Set once the process ends: every loop stops at its next turn.
    stopping: AtomicBool,
    /// How the run ended; the first to end it writes it.
    end: Mutex<Option<Result<Option<Outcome>, Error>>>,
    ended: Condvar,
    /// The host threads of guest threads 2.., joined at the end.
    handles: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Shared {
    pub fn new(
        proc: Process,
        machine: Machine,
        tracer: Option<strace::Tracer>,
        stats: RunStats,
        run_mask: u64,
    ) -> Self {
        let expiry = proc.expiry.clone();
        Self {
            proc: Mutex::new(proc),
            machine: Mutex::new(machine),
            tracer: Mutex::new(tracer),
            stats: Mutex::new(stats),
            expiry,
            run_mask,
            stopping: AtomicBool::new(false),
            end: Mutex::new(None),
            ended: Condvar::new(),
            handles: Mutex::new(Vec::new()),
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
        {
            let mut p = self.proc.lock();
            p.exiting = true;
            for t in &p.threads {
                t.kick();
            }
        }
        self.ended.notify_all();
    }

    /// Wait for the run's end (the process's, or the time limit's), stop
    /// and join every thread, and say how it ended (`None`: stopped from
    /// outside, as `Expiry` says why).
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
        self.proc.lock().exiting = true;
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
            for t in &self.proc.lock().threads {
                t.kick();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.end.lock().take().unwrap_or(Ok(None))
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

/// Run guest thread `tid` on `vcpu` (whose registers are set) until it
/// or its process ends.
pub(crate) fn thread_main(sh: &Arc<Shared>, mut vcpu: Vcpu, tid: u32) {
    let exits = vcpu.exits;
    // A bug in kvmcage that panics ends the run with an error, not the
    // host thread alone (whose guest thread's joiners would wait forever).
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        thread_loop(sh, &mut vcpu, tid)
    }))
    .unwrap_or_else(|_| {
        Ended::Process(Err(Error::Vm(vm::VmError::Setup(format!(
            "kvmcage failed while running thread {tid}"
        )))))
    });
    sh.stats.lock().exits += vcpu.exits - exits;
    {
        // This host thread ends: nobody may signal it any more (its
        // pthread_t is gone once it is joined).
        let mut p = sh.proc.lock();
        if let Some(i) = p.find_thread(tid.into()) {
            p.threads[i].host = None;
        }
    }
    match ended {
        Ended::Thread => sh.machine.lock().put_vcpu(vcpu),
        Ended::Process(how) => sh.end_run(how),
    }
}

/// The host thread of a thread clone made.
fn start_thread(sh: &Arc<Shared>, s: kernel::clone::Spawn) {
    let kernel::clone::Spawn {
        tid,
        mut vcpu,
        regs,
    } = s;
    {
        let mut p = sh.proc.lock();
        if !p.enter(tid) {
            return;
        }
        // SAFETY: pthread_self has no preconditions.
        p.me().host = Some(unsafe { libc::pthread_self() });
    }
    if let Err(e) = vcpu.set_run_signal_mask(sh.run_mask) {
        sh.end_run(Err(e.into()));
        return;
    }
    // Signals sent to it before it ran are taken before its first
    // instruction, as Linux's first return to user mode does.
    let mut regs = regs;
    let killed = {
        let mut p = sh.proc.lock();
        if p.exiting || !p.enter(tid) {
            return;
        }
        let mut m = sh.machine.lock();
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
        Some(Ok(Ended::Process(how))) => return sh.end_run(how),
        Some(Err(e)) => return sh.end_run(Err(e)),
        _ => {}
    }
    if let Err(e) = vcpu.start_user(&regs) {
        sh.end_run(Err(e.into()));
        return;
    }
    thread_main(sh, vcpu, tid);
}

/// Give the threads clone made their host threads. One that cannot be
/// started makes clone fail with EAGAIN after all, as Linux's would.
fn spawn_threads(sh: &Arc<Shared>, spawned: Vec<kernel::clone::Spawn>, regs: &mut kvm_regs) {
    for s in spawned {
        let tid = s.tid;
        let sh2 = Arc::clone(sh);
        let started = std::thread::Builder::new()
            .name(format!("kvmcage-{tid}"))
            .spawn(move || start_thread(&sh2, s));
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
                let mut p = sh.proc.lock();
                p.threads.retain(|t| t.tid != tid);
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
    k: (&mut Machine, &mut Vcpu, &mut Process),
    regs: &mut kvm_regs,
    from: Option<kernel::sigframe::FromSyscall>,
    i386: bool,
    fault: Option<(&report::Fault, i32)>,
) -> Result<Option<Outcome>, Error> {
    let (m, vcpu, proc) = k;
    let d = kernel::sigframe::deliver(m, vcpu, proc, regs, from, i386)?;
    if let Some(t) = sh.tracer.lock().as_mut() {
        let task = task_of(proc);
        for info in &d.taken {
            t.signal(info, task);
        }
    }
    let Some((info, core)) = d.kill else {
        return Ok(None);
    };
    let signal = info.signo();
    let report = match fault {
        Some((f, sig)) if sig == signal => report::signal_line(signal, Some((m, f))),
        _ => report::signal_line(signal, None),
    };
    Ok(Some(Outcome::Killed {
        signal,
        report,
        core,
    }))
}

/// The `[pid N]` of trace lines: the thread, once there is more than one.
fn task_of(proc: &Process) -> Option<u32> {
    (proc.next_tid > proc.id.pid + 1).then(|| proc.threads[proc.cur].tid)
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
    let leaf =
        m.pt.leaf(&m.ram, crate::vm::layout::page_down(addr))
            .unwrap_or(0);
    let (write, exec) = (ec & 2 != 0, ec & 16 != 0);
    leaf & pte::PRESENT != 0
        && leaf & pte::USER != 0
        && (!write || leaf & pte::WRITABLE != 0)
        && (!exec || leaf & pte::NX == 0)
}

/// One thread's loop.
fn thread_loop(sh: &Arc<Shared>, vcpu: &mut Vcpu, tid: u32) -> Ended {
    match thread_loop_inner(sh, vcpu, tid) {
        Ok(e) => e,
        Err(e) => Ended::Process(Err(e)),
    }
}

/// A thread that another thread's execve ends: it leaves the table, its
/// waiters are gone with it.
fn doomed(proc: &mut Process) -> Ended {
    let tid = proc.me().tid;
    proc.futexes.cancel_thread(tid);
    proc.threads.remove(proc.cur);
    proc.cur = 0;
    Ended::Thread
}

fn thread_loop_inner(sh: &Arc<Shared>, vcpu: &mut Vcpu, tid: u32) -> Result<Ended, Error> {
    let mut tid = tid;
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
        let next = vcpu.next_trap()?;
        let mut proc = sh.proc.lock();
        if proc.exiting || !proc.enter(tid) {
            return Ok(Ended::Thread);
        }
        if proc.me().doomed {
            return Ok(doomed(&mut proc));
        }
        let mut m = sh.machine.lock();
        let (trap, mut regs) = match next {
            Ok(t) => t,
            Err(Stop::Interrupted) => {
                // A kick: a timer, a signal, or the run's end. Signals go to
                // a vCPU stopped in ring 3; one stopped in the stub first
                // reaches its next exit.
                watchdog::take_kick();
                // Stopped in ring 3, or in the stub about to return to it
                // (the kick came after the host set up the return).
                let at = match vcpu.interrupted_user_regs() {
                    Some(regs) => Some((regs, true)),
                    None => vcpu.pending_return().map(|r| (r, false)),
                };
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
                    if regs != before {
                        if in_user {
                            vcpu.set_interrupted_user_regs(&regs);
                        } else if let Some(o) = return_to_user(vcpu, &regs)? {
                            return Ok(ending(&mut proc, o));
                        }
                    }
                }
                continue;
            }
            Err(stop) => {
                return Ok(ending(
                    &mut proc,
                    Outcome::MachineFailed(format!("the guest machine stopped: {stop}")),
                ))
            }
        };
        match trap {
            Trap::Syscall(path) => {
                {
                    let mut st = sh.stats.lock();
                    st.syscalls += 1;
                    *st.by_path.entry(path.name()).or_default() += 1;
                }
                let call = Call::decode(&regs, path);
                let tracing = sh.tracer.lock().is_some();
                let mut cx = Ctx {
                    m: &mut m,
                    vcpu: &mut *vcpu,
                    proc: &mut proc,
                    regs: &mut regs,
                    path,
                };
                let started = tracing.then(std::time::Instant::now);
                // execve replaces the memory its arguments are in.
                let head = (tracing && call.is_exec()).then(|| strace::format_call(&call, 0, cx.m));
                let ret = kernel::dispatch(&mut cx, &call);
                log::trace!("syscall {} ({:?}) = {ret}", call.nr, call.name());
                let sigreturned = std::mem::take(&mut proc.me().sigreturned);
                let thread_exit = proc.me().exit_code;
                // execve in a thread that was not the leader takes its id.
                tid = proc.me().tid;
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
                    return Ok(match kernel::clone::exit_thread(&m, &mut proc, status) {
                        Some(status) => ending(&mut proc, Outcome::Exited(status)),
                        None => Ended::Thread,
                    });
                }
                let spawned = std::mem::take(&mut proc.spawned);
                if !spawned.is_empty() {
                    drop(m);
                    drop(proc);
                    spawn_threads(sh, spawned, &mut regs);
                    proc = sh.proc.lock();
                    if proc.exiting || !proc.enter(tid) {
                        return Ok(Ended::Thread);
                    }
                    m = sh.machine.lock();
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
                    if p.mm.fault(&mut m, cr2, ec & 2 != 0, ec & 16 != 0) {
                        sh.stats.lock().faults_handled += 1;
                        vcpu.resume(&regs)?;
                        continue;
                    }
                }
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
