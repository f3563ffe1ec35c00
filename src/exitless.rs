//! Exitless system calls (issue 19; PLATFORM.md "Where the time goes").
//!
//! On kvm_pvm `syscall` stays in ring 3, so LSTAR can point at a gate on a
//! user page (guest/gate.S) that leaves the call's registers in a request
//! slot and spins while a host *service thread* makes the call, instead of
//! the ~40 us exit through the stub. Each guest thread's vCPU thread owns
//! a [`Gate`]; its service thread starts once the thread has made
//! `START_AFTER` calls it could have served by the exit path (a short
//! program never pays for one), polls the slot for `POLL` after each
//! request, then sleeps until the vCPU thread sees another such call come
//! by the exit path (while it sleeps the gate exits at once: an idle
//! program costs no host CPU).
//!
//! What the service thread makes: calls that never block, never need the
//! vCPU, and never take a translation away (`servable_nr`,
//! `servable_fd`). Everything else, and any call while tracing, answers
//! "take the exit path" before anything is done. A call whose end needs the vCPU thread (a signal to
//! deliver, a page-table change to flush, the process's end) is made, and
//! its result handed to the vCPU thread, which the gate enters with
//! `RESUME_NR`: the usual return path then runs.
//!
//! `int 0x80` takes the same way: while the gate is on, a #UD in ring 3
//! reaches the gate page's ring-3 handler (the vCPU's IDT), which
//! publishes the i386 registers with the exception frame; the service
//! thread makes the call if the bytes at the frame's RIP are `cd 80`, and
//! everything else (a real #UD, a sleeping service thread) comes to the
//! vCPU thread as the #UD the stub would have reported (`exit_trap`).
//!
//! The slot is the program's memory. The host reads a request once into
//! its own copy; what the slot says otherwise only decides which of the
//! program's own states it resumes in. A slot belongs to one address space
//! (`Machine::map_gate`), so no process can make calls as another.

use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use vmm_sys_util::eventfd::EventFd;

use kvm_bindings::kvm_regs;
use parking_lot::Mutex;
use syscalls::x86::Sysno as Sysno32;
use syscalls::Sysno;

use crate::guest_abi::gate;
use crate::kernel::task::ProcRef;
use crate::kernel::{self, Call, Ctx, Process};
use crate::run::{lock_machine, Shared};
use crate::vm::doorbell_value;
use crate::vm::layout::{self, Gpa};
use crate::vm::memory::GuestRam;
use crate::vm::paging::PageTables;
use crate::vm::{EntryPath, Trap, Vcpu};

/// How long a service thread polls for the next request after one (and
/// after it is woken) before it sleeps. A program making calls back to
/// back keeps it awake; one that computes or blocks lets it sleep.
pub const POLL: Duration = Duration::from_micros(300);

/// How many calls the service thread could have made a thread makes by
/// the exit path before its service thread starts. Starting one costs a
/// host thread's creation and a core polling for `POLL`; a short program
/// (a static hello makes 4 such calls) ends before that pays.
pub const START_AFTER: u32 = 8;

/// Which syscall transport a run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// Every call leaves the guest (the stub's path).
    Exit,
    /// The exitless gate where `syscall` reaches LSTAR in ring 3 (kvm_pvm)
    /// and the entry mode accepts the fallbacks; the exit elsewhere. The
    /// service threads' CPU time is not the program's (`service_cpu`).
    /// While a service thread sleeps, the gate exits at once.
    #[default]
    Gate,
    /// The gate, and while a service thread sleeps the gate rings its
    /// doorbell (a KVM ioeventfd on a port the TSS opens to ring 3) and
    /// waits, instead of exiting.
    Doorbell,
}

/// The live service threads' CPU clocks (each thread removes its own
/// before it ends, so a clock read under this lock is of a live thread),
/// and the CPU time of those that ended.
static METERS: Mutex<Vec<libc::clockid_t>> = Mutex::new(Vec::new());
static ENDED_NS: AtomicU64 = AtomicU64::new(0);

fn thread_clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is live for the call; `clock` is a live thread's CPU
    // clock (see METERS), and a failure leaves `ts` zero.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec.max(0) as u64)
}

/// The CPU time of this host process's service threads: kvmcage's, not
/// the program's, taken off what the program is told of its process's
/// CPU time (`kernel::process::cpu_time`, the CPU-time clock of its
/// timers and clock_gettime). All of it, the calls they make included:
/// while one is made the program's vCPU thread spins in the gate (a
/// claimed request is never withdrawn), and that spin is on the
/// program's clock already, as the call's time would be on Linux. The
/// host counts it in the process CPU clock, which covers every run in the
/// process, so this does too.
pub fn service_cpu() -> Duration {
    let live: u64 = METERS.lock().iter().map(|&c| thread_clock_ns(c)).sum();
    Duration::from_nanos(live.saturating_add(ENDED_NS.load(Ordering::Relaxed)))
}

/// The calling service thread's clock, registered while it lives.
struct Metered(libc::clockid_t);

impl Metered {
    fn start() -> Option<Self> {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: pthread_self is the calling thread, alive for the call;
        // `clock` is live for the call.
        if unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) } != 0 {
            return None;
        }
        METERS.lock().push(clock);
        Some(Self(clock))
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let mut live = METERS.lock();
        ENDED_NS.fetch_add(thread_clock_ns(self.0), Ordering::Relaxed);
        if let Some(i) = live.iter().position(|&c| c == self.0) {
            live.swap_remove(i);
        }
    }
}

/// A call the service thread made, for the vCPU thread to return.
#[derive(Clone, Copy, Debug)]
pub struct Finished {
    pub call: Call,
    pub ret: i64,
    /// For an `int 0x80`: the #UD frame it was made from (the return is
    /// past its `cd 80`).
    pub frame: Option<UdFrame>,
}

impl Finished {
    /// The way the call came.
    pub fn path(&self) -> EntryPath {
        if self.frame.is_some() {
            EntryPath::Int80Exitless
        } else {
            EntryPath::LstarFault
        }
    }
}

/// The frame of a #UD the ring-3 handler took, as read once from the
/// slot: where it happened, the program's flags and stack.
#[derive(Clone, Copy, Debug)]
pub struct UdFrame {
    pub rip: u64,
    pub rflags: u64,
    pub rsp: u64,
}

/// The `i`th little-endian u64 of a copy of slot memory.
fn le_u64(raw: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
    u64::from_le_bytes(b)
}

impl UdFrame {
    fn read(ram: &GuestRam, slot: Gpa) -> Option<Self> {
        let mut raw = [0u8; 40];
        if !ram.read(slot + gate::S_FRAME, &mut raw) {
            return None;
        }
        let w = |i| le_u64(&raw, i);
        Some(Self {
            rip: w(0),
            rflags: w(2),
            rsp: w(3),
        })
    }

    /// The program's registers at the faulting instruction (`past`:
    /// after its two bytes, the call made).
    fn apply(&self, regs: &mut kvm_regs, past: bool) {
        regs.rip = if past {
            self.rip.wrapping_add(2)
        } else {
            self.rip
        };
        regs.rflags = self.rflags;
        regs.rsp = self.rsp;
    }
}

/// What the vCPU thread and its service thread share.
#[derive(Default)]
struct Shared1 {
    /// GPA of the slot of the address space the vCPU runs (0: none).
    slot: AtomicU64,
    /// That address space's top-level page table (0: none yet).
    root: AtomicU64,
    /// The guest thread's id (an execve from a thread other than the
    /// leader gives it the leader's).
    tid: AtomicU32,
    /// The vCPU thread is in KVM_RUN (the program may be in the gate).
    in_guest: AtomicBool,
    /// KVM_RUN entries so far: a claim made across a leave and a return
    /// is not made (`serve`).
    entries: AtomicU64,
    /// The service thread claimed a request and has not answered it.
    serving: AtomicBool,
    /// The service thread polls (mirrored in the slot for the gate).
    awake: AtomicBool,
    /// What the service thread sleeps on: the vCPU's doorbell, which the
    /// gate rings, or an eventfd only the host writes (no doorbell);
    /// the vCPU thread writes it too when it sees a call the service
    /// thread could have made, and `shutdown` when the thread ends.
    bell: OnceLock<Arc<EventFd>>,
    /// The doorbell's value in the slot (0: the gate exits instead).
    bell_value: AtomicU32,
    stop: AtomicBool,
    done: Mutex<Option<Finished>>,
}

/// How a kick found the program inside the gate, resolved.
pub enum InGate {
    /// The call is not made: make it now, from these registers.
    Call(kvm_regs),
    /// The service thread made it; return its result from these registers.
    Resume(kvm_regs, Finished),
    /// The call is over: the program is back at its return address.
    Returned(kvm_regs),
}

/// One vCPU thread's side of the transport.
pub struct Gate {
    on: bool,
    /// Sleeping service threads are woken by the doorbell.
    doorbell: bool,
    ram: GuestRam,
    t: Arc<Shared1>,
    service: Option<std::thread::JoinHandle<()>>,
    /// Calls it could have made before it started (`START_AFTER`).
    seen: u32,
    /// The vCPU's index, once it has run.
    index: Option<usize>,
}

fn word(ram: &GuestRam, gpa: Gpa) -> Option<&AtomicU32> {
    ram.atomic_u32(gpa)
}

fn read_u64(ram: &GuestRam, slot: Gpa, off: u64) -> u64 {
    ram.read_u64(slot + off).unwrap_or(0)
}

impl Gate {
    /// `mode`: the run's transport where the gate is in use (kvm_pvm),
    /// `None` for the exit.
    pub fn new(mode: Option<Transport>, ram: GuestRam) -> Self {
        Self {
            on: mode.is_some(),
            doorbell: mode == Some(Transport::Doorbell),
            ram,
            t: Arc::default(),
            service: None,
            seen: 0,
            index: None,
        }
    }

    /// Before running the vCPU: if it now runs another address space,
    /// map its gate and slot there (LSTAR goes back to the stub when that
    /// cannot be done).
    pub fn prepare(&mut self, sh: &Shared, procref: &ProcRef, vcpu: &mut Vcpu) {
        if !self.on {
            // Turned off (no service thread could be had): the stub again.
            if vcpu.gate().is_some() {
                if let Err(e) = vcpu.set_gate(None, false) {
                    log::warn!("exitless gate: {e}");
                }
                self.t.slot.store(0, Ordering::SeqCst);
            }
            return;
        }
        let root = vcpu.sregs().cr3 & crate::vm::paging::pte::ADDR_MASK;
        if root == self.t.root.load(Ordering::SeqCst) {
            return;
        }
        self.index = Some(vcpu.index());
        let slot = {
            let proc = procref.lock();
            let mut m = lock_machine(sh, &proc);
            m.map_gate(crate::vm::paging::PageTables::new(root), vcpu.index())
        };
        self.t.root.store(root, Ordering::SeqCst);
        self.t.slot.store(slot.unwrap_or(0), Ordering::SeqCst);
        if let Some(slot) = slot {
            self.set_word(slot, gate::S_STATE, gate::IDLE);
        }
        self.publish();
        let page = slot.map(|_| layout::gate_gva(vcpu.index()));
        if let Err(e) = vcpu.set_gate(page, self.doorbell) {
            log::warn!("exitless gate off for vCPU {}: {e}", vcpu.index());
            self.on = false;
            self.t.slot.store(0, Ordering::SeqCst);
        }
    }

    /// Around KVM_RUN: the service thread answers only while the program
    /// can be waiting in the gate. Leaving waits for a call it is making
    /// (it never blocks), so the slot's state is final afterwards.
    pub fn enter(&self) {
        self.t.entries.fetch_add(1, Ordering::SeqCst);
        self.t.in_guest.store(true, Ordering::SeqCst);
    }

    pub fn leave(&self) {
        self.t.in_guest.store(false, Ordering::SeqCst);
        let mut spins = 0u32;
        while self.t.serving.load(Ordering::SeqCst) {
            spins += 1;
            if spins < 1000 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn slot(&self) -> Option<Gpa> {
        match self.t.slot.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Store `v` in the slot's word at `off`.
    fn set_word(&self, slot: Gpa, off: u64, v: u32) {
        if let Some(w) = word(&self.ram, slot + off) {
            w.store(v, Ordering::SeqCst);
        }
    }

    /// A syscall trap came by the exit path: if it is the gate's, clear
    /// the slot, and for `RESUME_NR` hand back the call the service thread
    /// made. A result nobody asks for (the program wrote its slot) goes.
    /// The #UD handler's exit path becomes the trap the stub would have
    /// reported for its frame: an `int 0x80`, or a #UD fault.
    pub fn exit_trap(&self, vcpu: &Vcpu, trap: &mut Trap, regs: &mut kvm_regs) -> Option<Finished> {
        if !self.on || *trap != Trap::Syscall(EntryPath::LstarFault) {
            return None;
        }
        let slot = self.slot()?;
        let done = self.t.done.lock().take();
        let state = word(&self.ram, slot + gate::S_STATE)?.swap(gate::IDLE, Ordering::SeqCst);
        match state {
            gate::RESUME if regs.rax == gate::RESUME_NR => {
                let f = done?;
                if let Some(frame) = f.frame {
                    frame.apply(regs, true);
                    *trap = Trap::Syscall(f.path());
                }
                Some(f)
            }
            gate::UD_EXIT if regs.rax == gate::UD_EXIT_NR => {
                // RCX is the program's again, RAX in the slot; the rest of
                // its state is the frame's.
                let frame = UdFrame::read(&self.ram, slot)?;
                regs.rax = read_u64(&self.ram, slot, gate::S_RAX);
                frame.apply(regs, false);
                *trap = vcpu.ud_trap(regs);
                None
            }
            _ => None,
        }
    }

    /// The program's registers in the gate at `off`, as the call stands.
    pub fn in_gate(&self, off: u64, regs: &kvm_regs) -> InGate {
        let Some(slot) = self.slot() else {
            // No slot: the gate cannot have got past its first load.
            return InGate::Call(call_regs(regs, regs.rax, regs.rcx, regs.r11));
        };
        if off >= gate::UD_ENTRY {
            return self.in_ud(off, regs, slot);
        }
        let get = |o| read_u64(&self.ram, slot, o);
        let saved = call_regs(regs, get(gate::S_RAX), get(gate::S_RCX), get(gate::S_R11));
        let returned = |rsp: u64| {
            let mut r = saved;
            r.rax = get(gate::S_RET);
            r.rsp = rsp;
            InGate::Returned(r)
        };
        if off <= gate::PUBLISH {
            return InGate::Call(call_regs(regs, regs.rax, regs.rcx, regs.r11));
        }
        if off >= gate::DONE {
            self.set_word(slot, gate::S_STATE, gate::IDLE);
            // Past its first instruction the gate has saved RSP.
            let rsp = if off > gate::DONE {
                get(gate::S_RSP)
            } else {
                regs.rsp
            };
            return returned(rsp);
        }
        let Some(state) = word(&self.ram, slot + gate::S_STATE) else {
            return InGate::Call(saved);
        };
        let now = match state.compare_exchange(
            gate::REQUEST,
            gate::IDLE,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => return InGate::Call(saved),
            Err(v) => v,
        };
        state.store(gate::IDLE, Ordering::SeqCst);
        let done = self.t.done.lock().take();
        match (now, done) {
            (gate::DONE_STATE, _) => returned(regs.rsp),
            (gate::RESUME, Some(f)) => InGate::Resume(saved, f),
            _ => InGate::Call(saved),
        }
    }

    /// `in_gate` in the #UD handler: the program is at its faulting
    /// instruction (nothing made: it runs again), or past it with the
    /// result (made), or the vCPU thread finishes the call (`Resume`).
    fn in_ud(&self, off: u64, regs: &kvm_regs, slot: Gpa) -> InGate {
        let get = |o| read_u64(&self.ram, slot, o);
        let Some(frame) = UdFrame::read(&self.ram, slot) else {
            return InGate::Returned(*regs);
        };
        let mut prog = *regs;
        if off >= gate::UD_SAVED {
            prog.rax = get(gate::S_RAX);
            prog.rcx = get(gate::S_RSI);
        }
        let rewind = |mut p: kvm_regs| {
            frame.apply(&mut p, false);
            InGate::Returned(p)
        };
        let returned = |mut p: kvm_regs| {
            frame.apply(&mut p, true);
            p.rax = get(gate::S_RET);
            InGate::Returned(p)
        };
        if off <= gate::UD_PUBLISH {
            return rewind(prog);
        }
        if off >= gate::UD_DONE {
            self.set_word(slot, gate::S_STATE, gate::IDLE);
            return returned(prog);
        }
        let now = word(&self.ram, slot + gate::S_STATE)
            .map_or(gate::IDLE, |w| w.swap(gate::IDLE, Ordering::SeqCst));
        let done = self.t.done.lock().take();
        match (now, done) {
            (gate::DONE_STATE, _) => returned(prog),
            (gate::RESUME, Some(f)) => {
                // The frame the call was made from.
                f.frame.unwrap_or(frame).apply(&mut prog, true);
                InGate::Resume(prog, f)
            }
            _ => rewind(prog),
        }
    }

    /// The vCPU thread made a call the service thread could have made:
    /// start the service thread, or wake it. (Not for a call it would
    /// hand back, such as a read of a pipe: a program busy with those
    /// would keep a host core polling for nothing.)
    pub fn want_service(
        &mut self,
        sh: &Arc<Shared>,
        procref: &ProcRef,
        (tid, proc, m): (u32, &Process, &mut crate::vm::Machine),
        call: &Call,
    ) {
        if !self.on || self.slot().is_none() || !servable_nr(call) || !servable_fd(proc, call) {
            return;
        }
        self.t.tid.store(tid, Ordering::SeqCst);
        if self.service.is_none() && self.seen < START_AFTER {
            self.seen += 1;
            return;
        }
        if self.service.is_some() {
            if !self.t.awake.load(Ordering::SeqCst) {
                self.ring();
            }
            return;
        }
        // The vCPU's doorbell, or a plain eventfd to sleep on.
        let doorbell = self
            .index
            .filter(|_| self.doorbell)
            .and_then(|i| Some((m.doorbell(i)?, doorbell_value(i)?)));
        let bell = match doorbell {
            Some((fd, value)) => {
                self.t.bell_value.store(value, Ordering::SeqCst);
                fd
            }
            None => match EventFd::new(libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) {
                Ok(fd) => Arc::new(fd),
                Err(e) => {
                    log::warn!("no exitless service thread: eventfd: {e}");
                    self.on = false;
                    return;
                }
            },
        };
        let _ = self.t.bell.set(bell);
        let (sh, procref, t, ram) = (
            Arc::clone(sh),
            Arc::clone(procref),
            Arc::clone(&self.t),
            self.ram.clone(),
        );
        t.awake.store(true, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name(format!("kvmcage-gate-{tid}"))
            .stack_size(256 << 10)
            .spawn(move || service(&sh, &procref, &t, &ram));
        match spawned {
            Ok(h) => self.service = Some(h),
            Err(e) => {
                log::warn!("no exitless service thread: {e}");
                self.t.awake.store(false, Ordering::SeqCst);
                self.t.bell_value.store(0, Ordering::SeqCst);
                self.on = false;
            }
        }
        self.publish();
    }

    /// Wake the service thread (what the gate's doorbell does too).
    fn ring(&self) {
        if let Some(b) = self.t.bell.get() {
            if let Err(e) = b.write(1) {
                log::debug!("exitless doorbell: {e}");
            }
        }
    }

    /// Tell the gate in the current slot whether the service thread polls
    /// and what its doorbell is.
    fn publish(&self) {
        if let Some(slot) = self.slot() {
            let awake = u32::from(self.t.awake.load(Ordering::SeqCst));
            self.set_word(slot, gate::S_AWAKE, awake);
            self.set_word(slot, gate::S_BELL, self.t.bell_value.load(Ordering::SeqCst));
        }
    }

    /// The thread ends: stop its service thread. Its slot rings no more
    /// (the vCPU's next thread makes its own service thread).
    pub fn shutdown(&mut self) {
        self.t.stop.store(true, Ordering::SeqCst);
        self.t.bell_value.store(0, Ordering::SeqCst);
        if let Some(slot) = self.slot() {
            self.set_word(slot, gate::S_BELL, 0);
        }
        if let Some(h) = self.service.take() {
            self.ring();
            let _ = h.join();
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The registers of the call the gate holds: the return address and
/// flags from RCX and R11 (what `syscall` saved), the number in RAX.
fn call_regs(regs: &kvm_regs, rax: u64, rcx: u64, r11: u64) -> kvm_regs {
    let mut r = *regs;
    r.rax = rax;
    r.rcx = rcx;
    r.r11 = r11;
    r.rip = rcx;
    r.rflags = r11;
    r
}

/// The x86-64 call `call` names, if any.
fn sysno(call: &Call) -> Option<Sysno> {
    if call.i386 {
        return None;
    }
    usize::try_from(call.nr).ok().and_then(Sysno::new)
}

/// The i386 call (`int 0x80`) `call` names, if any.
fn sysno32(call: &Call) -> Option<Sysno32> {
    if !call.i386 {
        return None;
    }
    usize::try_from(call.nr).ok().and_then(Sysno32::new)
}

/// Calls on a descriptor the service thread may make (when its file
/// never blocks: `servable_fd`).
fn on_fd(call: &Call) -> bool {
    use Sysno::*;
    if let Some(nr) = sysno32(call) {
        return matches!(nr, Sysno32::read | Sysno32::write);
    }
    sysno(call).is_some_and(|nr| {
        matches!(
            nr,
            read | write
                | pread64
                | pwrite64
                | readv
                | writev
                | lseek
                | fstat
                | getdents64
                | fadvise64
        )
    })
}

/// Calls the service thread may make, by number: none blocks, needs the
/// vCPU, or takes a translation away (an unmap or downgrade would leave
/// the waiting vCPU's TLB stale), and none starts or ends anything.
/// Not the clocks: the vDSO's clock (guest TSC) and the host's differ by
/// some microseconds here, which the exit's latency hides; a syscall clock
/// read in 2 us could come out after a vDSO read made later
/// (kernel selftest vDSO/vdso_test_correctness). For `int 0x80`, the same
/// among the i386 calls kvmcage has (`kernel::handler32`).
fn servable_nr(call: &Call) -> bool {
    use Sysno::*;
    if on_fd(call) {
        return true;
    }
    if let Some(nr) = sysno32(call) {
        use Sysno32 as S;
        return matches!(
            nr,
            S::getpid
                | S::getppid
                | S::gettid
                | S::getuid32
                | S::geteuid32
                | S::getgid32
                | S::getegid32
                | S::uname
                | S::getrandom
        );
    }
    sysno(call).is_some_and(|nr| {
        matches!(
            nr,
            getpid
                | getppid
                | gettid
                | getuid
                | geteuid
                | getgid
                | getegid
                | getresuid
                | getresgid
                | getpgrp
                | getpgid
                | getsid
                | getgroups
                | uname
                | getcwd
                | getrandom
                | rt_sigprocmask
                | rt_sigaction
                | newfstatat
                | statx
                | faccessat
                | faccessat2
                | access
                | readlink
                | readlinkat
        )
    })
}

/// A call `servable_nr` allows, on a descriptor only if its file never
/// blocks (a regular file or directory of the host, an emulated device,
/// generated /proc text).
fn servable_fd(proc: &Process, call: &Call) -> bool {
    if !on_fd(call) {
        return true;
    }
    let Ok(file) = proc.files().file(call.args.0[0] as i32) else {
        // EBADF: answered at once either way.
        return true;
    };
    kernel::fs::never_blocks(&file)
}

/// The service thread of one vCPU thread.
fn service(sh: &Shared, procref: &ProcRef, t: &Shared1, ram: &GuestRam) {
    let _meter = Metered::start();
    let mut last = Instant::now();
    let mut rounds = 0u32;
    loop {
        if t.stop.load(Ordering::SeqCst) || sh.is_stopping() || sh.expiry.expired() {
            return;
        }
        let slot = t.slot.load(Ordering::SeqCst);
        let state = (slot != 0)
            .then(|| word(ram, slot + gate::S_STATE))
            .flatten();
        if let Some(s) = state {
            if s.load(Ordering::SeqCst) == gate::REQUEST {
                serve(sh, procref, t, ram, slot, s);
                last = Instant::now();
                continue;
            }
        }
        rounds = rounds.wrapping_add(1);
        if rounds % 64 != 0 || last.elapsed() < POLL {
            std::hint::spin_loop();
            continue;
        }
        // Sleep: the gate exits at once from now on, and the vCPU thread
        // wakes this one at the next call it could make.
        t.awake.store(false, Ordering::SeqCst);
        if let Some(w) = (slot != 0)
            .then(|| word(ram, slot + gate::S_AWAKE))
            .flatten()
        {
            w.store(0, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        let late = state.is_some_and(|s| s.load(Ordering::SeqCst) == gate::REQUEST);
        if !late {
            let Some(bell) = t.bell.get() else {
                return;
            };
            while !sleep_on(bell, Duration::from_millis(250)) {
                if t.stop.load(Ordering::SeqCst) || sh.is_stopping() || sh.expiry.expired() {
                    return;
                }
            }
        }
        t.awake.store(true, Ordering::SeqCst);
        let slot = t.slot.load(Ordering::SeqCst);
        if let Some(w) = (slot != 0)
            .then(|| word(ram, slot + gate::S_AWAKE))
            .flatten()
        {
            w.store(1, Ordering::SeqCst);
        }
        last = Instant::now();
    }
}

/// Wait until `bell` is rung or `timeout` passes; true if it was rung
/// (its count is taken).
fn sleep_on(bell: &EventFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: bell.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: `pfd` and `ts` are live for the call and `pfd` is one entry;
    // the eventfd is open (the Arc holds it); no signal mask is passed.
    let n = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    n > 0 && bell.read().is_ok()
}

/// Claim the request in `slot` and answer it.
fn serve(
    sh: &Shared,
    procref: &ProcRef,
    t: &Shared1,
    ram: &GuestRam,
    slot: Gpa,
    state: &AtomicU32,
) {
    // `serving` before the claim: a vCPU thread leaving KVM_RUN either
    // sees it (and waits for the answer) or this thread sees it gone.
    let entered = t.entries.load(Ordering::SeqCst);
    t.serving.store(true, Ordering::SeqCst);
    if state
        .compare_exchange(
            gate::REQUEST,
            gate::CLAIMED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        )
        .is_err()
    {
        t.serving.store(false, Ordering::SeqCst);
        return;
    }
    // The vCPU thread left KVM_RUN (it then settles the slot itself), or
    // left and came back (the request may be one it already settled), or
    // moved to another address space's slot: nothing is done here.
    let answer = if !t.in_guest.load(Ordering::SeqCst)
        || t.entries.load(Ordering::SeqCst) != entered
        || t.slot.load(Ordering::SeqCst) != slot
    {
        gate::EXIT
    } else {
        make_call(sh, procref, t, ram, slot)
    };
    // Only over its own claim: never over a request made since.
    let _ = state.compare_exchange(gate::CLAIMED, answer, Ordering::SeqCst, Ordering::SeqCst);
    t.serving.store(false, Ordering::SeqCst);
}

/// Read the request once and make it, if it may be made here.
fn make_call(sh: &Shared, procref: &ProcRef, t: &Shared1, ram: &GuestRam, slot: Gpa) -> u32 {
    // One copy of the request: RAX, the six arguments, RCX, R11, RSP
    // (unused) and the kind; for a #UD, one copy of its frame.
    let mut raw = [0u8; 100];
    if !ram.read(slot + gate::S_RAX, &mut raw) {
        return gate::EXIT;
    }
    let w = |i| le_u64(&raw, i);
    const _: () = assert!(gate::S_KIND - gate::S_RAX == 88);
    let kind = u32::from_le_bytes([raw[88], raw[89], raw[90], raw[91]]);
    let (mut regs, frame, path) = if kind == gate::KIND_UD {
        let Some(frame) = UdFrame::read(ram, slot) else {
            return gate::EXIT;
        };
        let mut regs = kvm_regs {
            rax: w(0),
            rbx: w(1),
            rcx: w(2),
            rdx: w(3),
            rsi: w(4),
            rdi: w(5),
            rbp: w(6),
            ..Default::default()
        };
        frame.apply(&mut regs, true);
        (regs, Some(frame), EntryPath::Int80Exitless)
    } else {
        let regs = kvm_regs {
            rax: w(0),
            rdi: w(1),
            rsi: w(2),
            rdx: w(3),
            r10: w(4),
            r8: w(5),
            r9: w(6),
            rcx: w(7),
            r11: w(8),
            rip: w(7),
            rflags: w(8),
            ..Default::default()
        };
        (regs, None, EntryPath::Gate)
    };
    const TF: u64 = 0x100;
    let call = Call::decode(&regs, path);
    if regs.rflags & TF != 0 || !servable_nr(&call) || sh.tracer.lock().is_some() {
        return gate::EXIT;
    }
    let mut proc = procref.lock();
    if proc.exiting
        || !proc.enter(t.tid.load(Ordering::SeqCst))
        || proc.me().doomed
        || !servable_fd(&proc, &call)
    {
        return gate::EXIT;
    }
    if proc.sig().deliverable().is_some() {
        return gate::EXIT;
    }
    let mut m = lock_machine(sh, &proc);
    // A #UD is an `int 0x80` only where the program's code says `cd 80`.
    if let Some(f) = frame {
        let root = PageTables::new(t.root.load(Ordering::SeqCst));
        if !crate::vm::vcpu::code_is_int80(ram, root, f.rip) {
            return gate::EXIT;
        }
    }
    let gen = m.tlb_gen().load(Ordering::SeqCst);
    let ret = {
        let mut cx = Ctx {
            m: &mut m,
            vcpu: None,
            proc: &mut proc,
            regs: &mut regs,
            path,
        };
        kernel::dispatch(&mut cx, &call)
    };
    {
        let mut st = sh.stats.lock();
        st.syscalls += 1;
        *st.by_path.entry(path.name()).or_default() += 1;
    }
    let here = m.tlb_gen().load(Ordering::SeqCst) == gen
        && !proc.exiting
        && proc.exit.is_none()
        && proc.spawned.is_empty()
        && proc.vfork_wait.is_none()
        && !kernel::wait::is_restart(ret)
        && {
            let me = proc.me();
            me.exit_code.is_none() && !me.doomed && !me.sigreturned
        }
        && proc.sig().deliverable().is_none();
    if here {
        if !ram.write_u64(slot + gate::S_RET, ret as u64) {
            return gate::EXIT;
        }
        gate::DONE_STATE
    } else {
        *t.done.lock() = Some(Finished { call, ret, frame });
        gate::RESUME
    }
}
