//! `kvmcage bench`: what entering the kernel costs, in the guest and on the
//! host, side by side.
//!
//! The guest program (guest/bench.S) times each mechanism with RDTSC
//! between marker syscalls; the host notes wall time and the exit count at
//! each marker, so one run gives ns/call (host wall clock), cycles/call
//! (guest TSC) and exits/call for every phase. The host side runs the same
//! calls natively. Each configuration is repeated `runs` times; the table
//! shows the median and the spread (min..max) over runs.

use std::time::Instant;

use kvm_bindings::kvm_regs;
use serde::Serialize;

use crate::kernel::mm::{Mm, VmaKind};
use crate::kernel::sigframe;
use crate::kernel::{Call, Ctx, Identity, Process};
use crate::probe::CpuFacts;
use crate::vm::layout::PAGE_SIZE;
use crate::vm::{Backend, EntryMode, EntryPath, Machine, Stop, Trap, VmError};

mod sym {
    #![allow(dead_code)]
    include!(concat!(env!("OUT_DIR"), "/bench_symbols.rs"));
}

static BENCH_CODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bench.bin"));
/// guest/procbench.S linked into a static ELF (build.rs).
static PROCBENCH: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/procbench"));

/// The process and thread rows: (mechanism, procbench's mode, count,
/// what one unit is).
const PROC_ROWS: [(&str, &str, u64, &str); 6] = [
    ("fork + _exit + wait4", "f", 200, "fork"),
    ("vfork + execve + wait4", "v", 100, "vfork+exec"),
    ("3-process pipeline, 64 MiB", "p", 64, "MiB"),
    ("thread clone + exit + join", "t", 200, "thread"),
    (COMPUTE_1, "a", COMPUTE_UNITS, "unit"),
    (COMPUTE_2, "b", COMPUTE_UNITS, "unit"),
];
/// The transport rows: (mechanism, procbench's mode, count, unit), each
/// run through the exitless gate, through the exit, and natively.
const TRANSPORT_ROWS: [(&str, &str, u64, &str); 5] = [
    ("getpid in a loop", "g", 20_000, "call"),
    ("int 0x80 getpid in a loop", "i", 20_000, "call"),
    (SPARSE, "s", 300, "call"),
    ("4 KiB pread64 of a host file", "r", 20_000, "call"),
    ("pipe: 1-byte write + read (may block)", "q", 5_000, "round"),
];
/// The row whose calls find the service thread asleep: it has a doorbell
/// side too.
const SPARSE: &str = "getpid after 1 ms of compute (service thread asleep)";
/// Compute-bound work on one thread, then split between two: their
/// ratio is the speed-up, under kvmcage and natively in the same run.
const COMPUTE_1: &str = "compute, 1 thread";
const COMPUTE_2: &str = "compute, 2 threads";
/// Units of procbench's work (2^20 dependent multiply-adds each).
const COMPUTE_UNITS: u64 = 100;
const CODE_VA: u64 = 0x40_0000;
const DATA_VA: u64 = 0x50_0000;
const STACK_VA: u64 = 0x60_0000;
const STACK_PAGES: u64 = 4;
/// Guest phases, in the order bench.S runs them.
const GUEST_PHASES: [&str; 6] = [
    "guest: syscall getpid (host round trip)",
    "guest: int 0x80 getpid (host round trip)",
    "guest: clock_gettime via vDSO",
    "guest: clock_gettime via syscall",
    "guest: bare hypercall (no dispatch)",
    SIGNAL_GUEST,
];
const SIGNAL_GUEST: &str = "guest: signal kill(self)->handler->sigreturn";
const SIGNAL_HOST: &str = "host: signal kill(self)->handler->sigreturn";

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub iterations: u64,
    pub runs: usize,
    pub mode: EntryMode,
    /// Also the process rows (fork, vfork + execve, a pipeline) and the
    /// transport rows (calls through the exitless gate and the exit),
    /// each a whole run of guest/procbench.S natively and under kvmcage.
    pub processes: bool,
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub mechanism: String,
    /// Median ns per call over the runs (host wall clock), if measured.
    pub ns_per_call: Option<f64>,
    pub ns_min: Option<f64>,
    pub ns_max: Option<f64>,
    /// Median TSC cycles per call.
    pub cycles_per_call: Option<f64>,
    /// KVM exits per call (guest rows).
    pub exits_per_call: Option<f64>,
    /// ns_per_call divided by the host's native `syscall` getpid.
    pub ratio_to_native_syscall: Option<f64>,
    /// Why a row has no numbers, or how the call entered.
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub cpu: String,
    pub backend: String,
    pub syscall_entry: String,
    pub int80_entry: String,
    pub iterations: u64,
    pub runs: usize,
    pub tsc_khz: u32,
    pub stub_instructions_per_syscall: u32,
    pub rows: Vec<Row>,
}

/// One guest run: per phase (wall ns total including the closing marker,
/// TSC cycles total, exits).
struct GuestRun {
    phases: Vec<(f64, f64, u64)>,
    syscall_path: Option<EntryPath>,
    int80_path: Option<EntryPath>,
    tsc_khz: u32,
}

fn guest_run(opts: &BenchOptions) -> Result<GuestRun, VmError> {
    let (m, mut vcpu) = Machine::new(32 << 20, opts.mode)?;
    let m = parking_lot::Mutex::new(m);
    let proc = parking_lot::Mutex::new(Process::new(Identity {
        pid: 1,
        ppid: 0,
        uid: 0,
        gid: 0,
        exe: b"[bench]".to_vec(),
        mem_size: 32 << 20,
        ..Default::default()
    }));
    let mut proc = proc.lock();
    let mut m = m.lock();
    let err = |what: &str| VmError::Setup(format!("bench: {what}"));
    let rx = (libc::PROT_READ | libc::PROT_EXEC) as u32;
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
    let mm: &mut Mm = &mut proc.mm;
    mm.map_fixed(&mut m, CODE_VA, PAGE_SIZE, rx, VmaKind::Image)
        .and_then(|_| mm.map_fixed(&mut m, DATA_VA, PAGE_SIZE, rw, VmaKind::Anon))
        .and_then(|_| mm.map_fixed(&mut m, STACK_VA, STACK_PAGES * PAGE_SIZE, rw, VmaKind::Anon))
        .map_err(|_| err("map"))?;
    if BENCH_CODE.len() as u64 > PAGE_SIZE || !mm.poke(&m, CODE_VA, BENCH_CODE) {
        return Err(err("code"));
    }
    let vdso = crate::loader::map_vdso(&mut m, &vcpu, mm).map_err(|e| err(&e.to_string()))?;
    let (_, tsc_khz) = vcpu.guest_tsc()?;
    vcpu.start_user(&kvm_regs {
        rip: CODE_VA + sym::BENCH_START,
        rsp: STACK_VA + STACK_PAGES * PAGE_SIZE,
        rflags: 0x202,
        r12: vdso + crate::loader::VDSO_CLOCK_GETTIME,
        r13: opts.iterations,
        r14: DATA_VA,
        ..Default::default()
    })?;
    let mut marks: Vec<(Instant, u64)> = Vec::new();
    let (mut syscall_path, mut int80_path) = (None, None);
    loop {
        let (trap, mut regs) = match vcpu.next_trap()? {
            Ok(t) => t,
            Err(Stop::Interrupted) => continue,
            Err(stop) => return Err(err(&stop.to_string())),
        };
        let path = match trap {
            Trap::Syscall(p) => p,
            Trap::Fault { vector, .. } => {
                return Err(err(&format!("exception {vector} at {:#x}", regs.rip)))
            }
        };
        if path.is_int80() {
            int80_path.get_or_insert(path);
        } else {
            syscall_path.get_or_insert(path);
        }
        match regs.rax {
            sym::BENCH_MARK => {
                marks.push((Instant::now(), vcpu.exits));
                regs.rax = 0;
            }
            sym::BENCH_BARE => regs.rax = 0,
            _ => {
                let call = Call::decode(&regs, path);
                let mut cx = Ctx {
                    m: &mut m,
                    vcpu: Some(&mut vcpu),
                    proc: &mut proc,
                    regs: &mut regs,
                    path,
                };
                let ret = crate::kernel::dispatch(&mut cx, &call);
                if proc.exit.is_some() {
                    break;
                }
                // The same return to user mode as a run: signals are
                // delivered (the signal phase) with the restart rules.
                let sigreturned = std::mem::take(&mut proc.me().sigreturned);
                sigframe::syscall_return_regs(&mut regs, path, sigreturned);
                let from = (!sigreturned).then_some(sigframe::FromSyscall { nr: call.nr, ret });
                if sigframe::deliver(&mut m, &mut vcpu, &mut proc, &mut regs, from, call.i386)?
                    .kill
                    .is_some()
                {
                    return Err(err("a signal ended the benchmark guest"));
                }
                vcpu.resume(&regs)?;
                continue;
            }
        }
        sigframe::syscall_return_regs(&mut regs, path, false);
        vcpu.resume(&regs)?;
    }
    let mut cycles = [0u8; 8 * GUEST_PHASES.len()];
    if !m.ram().read(
        m.pt()
            .translate(m.ram(), DATA_VA)
            .map(|t| t.frame)
            .ok_or_else(|| err("results"))?,
        &mut cycles,
    ) {
        return Err(err("results"));
    }
    if marks.len() != GUEST_PHASES.len() + 1 {
        return Err(err("the guest did not reach every phase"));
    }
    let phases = (0..GUEST_PHASES.len())
        .map(|i| {
            let (t0, e0) = marks[i];
            let (t1, e1) = marks[i + 1];
            let c = u64::from_le_bytes(cycles[i * 8..i * 8 + 8].try_into().unwrap_or_default());
            // The closing marker's own exit is not the mechanism's.
            ((t1 - t0).as_nanos() as f64, c as f64, e1 - e0 - 1)
        })
        .collect();
    Ok(GuestRun {
        phases,
        syscall_path,
        int80_path,
        tsc_khz,
    })
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects; every x86-64 CPU has it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Time `n` calls of `f` natively: (wall ns, TSC cycles).
fn host_time(n: u64, mut f: impl FnMut()) -> (f64, f64) {
    let (t0, c0) = (Instant::now(), rdtsc());
    for _ in 0..n {
        f();
    }
    let (c1, t1) = (rdtsc(), Instant::now());
    ((t1 - t0).as_nanos() as f64, c1.wrapping_sub(c0) as f64)
}

fn int80_getpid() -> i64 {
    let r: i64;
    // SAFETY: `int $0x80` with eax = 20 is the i386 getpid: no memory
    // effects; it clobbers nothing but rax (r8-r11 are preserved by the
    // compat entry, and we declare them clobbered anyway).
    unsafe {
        core::arch::asm!("int 0x80", inlateout("rax") 20i64 => r,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
    }
    r
}

/// Does this host kernel take `int 0x80` from 64-bit code? Tried in a child
/// so that a kernel without IA32 emulation kills only the child.
fn host_has_int80() -> bool {
    // SAFETY: the child only executes `int 0x80` and `_exit`, both
    // async-signal-safe, so forking a multi-threaded process is sound.
    let pid = unsafe { libc::fork() };
    match pid {
        0 => {
            let ok = int80_getpid() > 0;
            // SAFETY: _exit ends the child without running destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        p if p > 0 => {
            let mut status = 0;
            // SAFETY: waiting for our own child with a valid status pointer.
            let r = unsafe { libc::waitpid(p, &mut status, 0) };
            r == p && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
        }
        _ => false,
    }
}

extern "C" fn on_bench_signal(_: libc::c_int) {}

/// Time `n` rounds of kill(self, SIGUSR1) → an empty handler → rt_sigreturn
/// natively, the same work as the guest's signal phase. The previous
/// action is put back afterwards.
fn host_signal_round_trips(n: u64) -> (f64, f64) {
    // SAFETY: a zeroed sigaction is a valid "default, empty mask" value.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = on_bench_signal as *const () as usize;
    // SAFETY: a zeroed sigaction is valid storage for the old action.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to sigaction structs; the handler does nothing,
    // so it is async-signal-safe.
    if unsafe { libc::sigaction(libc::SIGUSR1, &act, &mut old) } != 0 {
        return (0.0, 0.0);
    }
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    let t = host_time(n, || {
        // SAFETY: SIGUSR1 to ourselves, whose handler is installed above.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
    });
    // SAFETY: puts back the action saved above.
    unsafe { libc::sigaction(libc::SIGUSR1, &old, std::ptr::null_mut()) };
    t
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn row(mechanism: &str, n: u64, samples: &[(f64, f64, u64)], note: Option<String>) -> Row {
    let per = |x: f64| x / n as f64;
    let mut ns: Vec<f64> = samples.iter().map(|s| per(s.0)).collect();
    let mut cyc: Vec<f64> = samples.iter().map(|s| per(s.1)).collect();
    let mut ex: Vec<f64> = samples.iter().map(|s| per(s.2 as f64)).collect();
    let (lo, hi) = ns
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    Row {
        mechanism: mechanism.into(),
        ns_per_call: Some(median(&mut ns)),
        ns_min: Some(lo),
        ns_max: Some(hi),
        cycles_per_call: Some(median(&mut cyc)),
        exits_per_call: if mechanism.starts_with("guest") {
            Some(median(&mut ex))
        } else {
            None
        },
        ratio_to_native_syscall: None,
        note,
    }
}

fn empty_row(mechanism: &str, note: &str) -> Row {
    Row {
        mechanism: mechanism.into(),
        ns_per_call: None,
        ns_min: None,
        ns_max: None,
        cycles_per_call: None,
        exits_per_call: None,
        ratio_to_native_syscall: None,
        note: Some(note.into()),
    }
}

fn cpu_is_intel() -> bool {
    let r = core::arch::x86_64::__cpuid(0);
    (r.ebx, r.edx, r.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e) // "GenuineIntel"
}

/// Run the whole benchmark.
pub fn run(opts: &BenchOptions) -> Result<Report, VmError> {
    let n = opts.iterations.max(1);
    let runs = opts.runs.max(1);
    let mut guest: Vec<GuestRun> = Vec::new();
    for _ in 0..runs {
        guest.push(guest_run(&BenchOptions {
            iterations: n,
            ..opts.clone()
        })?);
    }
    let int80 = host_has_int80();
    let mut host: Vec<[(f64, f64, u64); 4]> = Vec::new();
    for _ in 0..runs {
        let a = host_time(n, || {
            // SAFETY: getpid takes no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getpid) };
        });
        let b = if int80 {
            host_time(n, || {
                int80_getpid();
            })
        } else {
            (0.0, 0.0)
        };
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let c = host_time(n, || {
            // SAFETY: a valid clock id and a valid out pointer.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        });
        let d = host_signal_round_trips(n);
        host.push([(a.0, a.1, 0), (b.0, b.1, 0), (c.0, c.1, 0), (d.0, d.1, 0)]);
    }
    let first = &guest[0];
    let path_name = |p: Option<EntryPath>| p.map(|p| p.name().to_string()).unwrap_or("none".into());
    let mut rows = Vec::new();
    for (i, name) in GUEST_PHASES.iter().enumerate() {
        // ns from the guest's TSC: the phase's wall time would also hold the
        // closing marker's exit.
        let samples: Vec<(f64, f64, u64)> = guest
            .iter()
            .map(|g| {
                let (_, cycles, exits) = g.phases[i];
                (cycles * 1e6 / f64::from(g.tsc_khz.max(1)), cycles, exits)
            })
            .collect();
        let note = match i {
            0 | 3 | 4 => Some(path_name(first.syscall_path)),
            1 => Some(path_name(first.int80_path)),
            5 => Some("per round: 2 syscalls (kill, rt_sigreturn) and a frame".into()),
            _ => Some("no exit: answered in ring 3".into()),
        };
        rows.push(row(name, n, &samples, note));
    }
    rows.insert(
        1,
        empty_row(
            "guest: null syscall answered by the stub",
            "not applicable: every syscall is one exit in this design",
        ),
    );
    rows.push(empty_row(
        "guest: sysenter",
        if cpu_is_intel() {
            "not implemented by kvmcage (SYSENTER_CS is 0: #GP)"
        } else {
            "not supported by this CPU (AMD: #UD in long mode, SIGILL as on Linux)"
        },
    ));
    let host_names = [
        "host: syscall getpid",
        "host: int 0x80 getpid",
        "host: clock_gettime via vDSO",
        SIGNAL_HOST,
    ];
    for (i, name) in host_names.iter().enumerate() {
        if i == 1 && !int80 {
            rows.push(empty_row(name, "the host kernel has no IA32 emulation"));
            continue;
        }
        let samples: Vec<_> = host.iter().map(|h| h[i]).collect();
        rows.push(row(name, n, &samples, None));
    }
    let native = rows
        .iter()
        .find(|r| r.mechanism == "host: syscall getpid")
        .and_then(|r| r.ns_per_call);
    for r in &mut rows {
        if let (Some(ns), Some(base)) = (r.ns_per_call, native) {
            r.ratio_to_native_syscall = Some(ns / base);
        }
    }
    if opts.processes {
        rows.extend(process_rows(runs));
    }
    let backend = Backend::detect();
    Ok(Report {
        cpu: CpuFacts::host().model,
        backend: backend.to_string(),
        syscall_entry: path_name(first.syscall_path),
        int80_entry: path_name(first.int80_path),
        iterations: n,
        runs,
        tsc_khz: first.tsc_khz,
        stub_instructions_per_syscall: 2,
        rows,
    })
}

/// One run of procbench (`mode`, `count`) natively or under kvmcage: the
/// nanoseconds it measured.
/// `cage`: the transport under kvmcage, or None for natively.
fn procbench_once(
    bin: &std::path::Path,
    mode: &str,
    count: u64,
    cage: Option<crate::Transport>,
) -> Result<f64, String> {
    let count = count.to_string();
    let bytes = if let Some(transport) = cage {
        let out = tempfile::tempfile().map_err(|e| e.to_string())?;
        let out = std::sync::Arc::new(std::os::fd::OwnedFd::from(out));
        let outcome = crate::Sandbox::new(bin)
            .arg(mode)
            .arg(&count)
            .transport(transport)
            .confine(false)
            .stdout(crate::Stdio::Fd(std::sync::Arc::clone(&out)))
            .run()
            .map_err(|e| e.to_string())?;
        if outcome != crate::Outcome::Exited(0) {
            return Err(format!("under kvmcage: {outcome:?}"));
        }
        let mut b = [0u8; 8];
        rustix::io::pread(&*out, &mut b, 0).map_err(|e| e.to_string())?;
        b
    } else {
        let out = std::process::Command::new(bin)
            .args([mode, &count])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() || out.stdout.len() != 8 {
            return Err(format!("natively: {}", out.status));
        }
        out.stdout[..8].try_into().unwrap_or_default()
    };
    Ok(u64::from_le_bytes(bytes) as f64)
}

/// fork, vfork + execve and a pipeline between processes, thread creation
/// and compute on one and two threads, natively and under kvmcage (`runs`
/// runs each, the median): guest and host rows, the guest row's note
/// saying how many times native it is, and the two-thread rows the
/// speed-up over one thread.
fn process_rows(runs: usize) -> Vec<Row> {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return vec![empty_row("guest: processes", &e.to_string())],
    };
    let bin = dir.path().join("procbench");
    let written = std::fs::write(&bin, PROCBENCH).and_then(|()| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
    });
    if let Err(e) = written {
        return vec![empty_row("guest: processes", &e.to_string())];
    }
    let mut rows = transport_rows(&bin, runs);
    let cage = Some(crate::Transport::default());
    for (name, mode, count, unit) in PROC_ROWS {
        let mut figures = [Vec::new(), Vec::new()];
        let mut failed = None;
        for _ in 0..runs {
            for (i, cage) in [cage, None].into_iter().enumerate() {
                match procbench_once(&bin, mode, count, cage) {
                    Ok(ns) => figures[i].push((ns / count as f64, 0.0, 0)),
                    Err(e) => failed = Some(e),
                }
            }
        }
        if let Some(e) = failed {
            rows.push(empty_row(&format!("guest: {name}"), &e));
            continue;
        }
        let mut guest = row(&format!("guest: {name}"), 1, &figures[0], None);
        let host = row(
            &format!("host: {name}"),
            1,
            &figures[1],
            Some(format!("per {unit}")),
        );
        guest.cycles_per_call = None;
        guest.exits_per_call = None;
        guest.note = match (guest.ns_per_call, host.ns_per_call) {
            (Some(g), Some(h)) if h > 0.0 => {
                Some(format!("per {unit}; {:.1}x native (same run)", g / h))
            }
            _ => Some(format!("per {unit}")),
        };
        rows.push(guest);
        let mut host = host;
        host.cycles_per_call = None;
        rows.push(host);
    }
    note_speedup(&mut rows);
    rows
}

/// Calls through the exitless gate and through the exit, and the same
/// natively, per call (`runs` runs each, the median; one run of each in
/// turn, so a noisy moment falls on all three alike). Each guest row
/// says how many times native it is.
fn transport_rows(bin: &std::path::Path, runs: usize) -> Vec<Row> {
    use crate::Transport;
    let gate_note = match Backend::detect() {
        Backend::KvmPvm => None,
        b => Some(format!(
            "the gate is not used on {b} (`syscall` enters ring 0): this is the exit"
        )),
    };
    let mut rows = Vec::new();
    for (name, mode, count, unit) in TRANSPORT_ROWS {
        let mut sides = vec![
            (format!("guest, gate: {name}"), Some(Transport::Gate)),
            (format!("guest, exit: {name}"), Some(Transport::Exit)),
        ];
        if name == SPARSE {
            sides.insert(
                1,
                (
                    format!("guest, doorbell: {name}"),
                    Some(Transport::Doorbell),
                ),
            );
        }
        sides.push((format!("host: {name}"), None));
        let host_i = sides.len() - 1;
        let mut figures = vec![Vec::new(); sides.len()];
        let mut failed = None;
        for _ in 0..runs {
            for (i, (_, cage)) in sides.iter().enumerate() {
                match procbench_once(bin, mode, count, *cage) {
                    Ok(ns) => figures[i].push((ns / count as f64, 0.0, 0)),
                    Err(e) => failed = Some(e),
                }
            }
        }
        if let Some(e) = failed {
            rows.push(empty_row(&format!("guest: {name}"), &e));
            continue;
        }
        let host = row(
            &sides[host_i].0,
            1,
            &figures[host_i],
            Some(format!("per {unit}")),
        );
        for (i, (label, _)) in sides.iter().enumerate() {
            let mut r = if i == host_i {
                host.clone()
            } else {
                row(label, 1, &figures[i], None)
            };
            r.cycles_per_call = None;
            r.exits_per_call = None;
            if i < host_i {
                let mut note = format!("per {unit}");
                if let (Some(g), Some(h)) = (r.ns_per_call, host.ns_per_call) {
                    if h > 0.0 {
                        note.push_str(&format!("; {:.1}x native (same run)", g / h));
                    }
                }
                let gated = matches!(sides[i].1, Some(Transport::Gate | Transport::Doorbell));
                if let (true, Some(n)) = (gated, &gate_note) {
                    note = format!("{note}; {n}");
                }
                r.note = Some(note);
            }
            rows.push(r);
        }
    }
    rows
}

/// The two-thread compute rows say how much faster than one thread they
/// ran: kvmcage's speed-up next to native's, both from this run.
fn note_speedup(rows: &mut [Row]) {
    let ns = |rows: &[Row], name: &str| {
        rows.iter()
            .find(|r| r.mechanism == name)
            .and_then(|r| r.ns_per_call)
    };
    for side in ["guest", "host"] {
        let one = ns(rows, &format!("{side}: {COMPUTE_1}"));
        let two = ns(rows, &format!("{side}: {COMPUTE_2}"));
        let (Some(one), Some(two)) = (one, two) else {
            continue;
        };
        if two <= 0.0 {
            continue;
        }
        if let Some(r) = rows
            .iter_mut()
            .find(|r| r.mechanism == format!("{side}: {COMPUTE_2}"))
        {
            let note = r.note.take().unwrap_or_default();
            r.note = Some(format!("{note}; speed-up over 1 thread {:.2}x", one / two));
        }
    }
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

/// The table for a terminal.
pub fn table(r: &Report) -> String {
    let mut s = format!(
        "CPU: {}\nbackend: {}\nentry paths: syscall -> {}; int 0x80 -> {}\n\
         stub instructions at CPL 0 per syscall: {} (plus the exception delivery on the fallback paths)\n\
         {} runs x {} calls; ns/call is the median over runs (guest rows: guest TSC at {} kHz; host rows: \
         wall clock), spread is min..max\n\n",
        r.cpu,
        r.backend,
        r.syscall_entry,
        r.int80_entry,
        r.stub_instructions_per_syscall,
        r.runs,
        r.iterations,
        r.tsc_khz
    );
    let w = r
        .rows
        .iter()
        .map(|x| x.mechanism.len())
        .max()
        .unwrap_or(0)
        .max(44);
    s.push_str(&format!(
        "{:<w$} {:>10} {:>19} {:>12} {:>10} {:>9}  {}\n",
        "mechanism", "ns/call", "spread", "cycles/call", "exits/call", "x native", "note"
    ));
    for row in &r.rows {
        let spread = match (row.ns_min, row.ns_max) {
            (Some(a), Some(b)) => format!("{a:.1}..{b:.1}"),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:<w$} {:>10} {:>19} {:>12} {:>10} {:>9}  {}\n",
            row.mechanism,
            fmt_opt(row.ns_per_call, 1),
            spread,
            fmt_opt(row.cycles_per_call, 0),
            fmt_opt(row.exits_per_call, 2),
            fmt_opt(row.ratio_to_native_syscall, 1),
            row.note.as_deref().unwrap_or("")
        ));
    }
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar chart of ns/call on a log scale.
pub fn svg(r: &Report) -> String {
    let rows: Vec<&Row> = r.rows.iter().filter(|x| x.ns_per_call.is_some()).collect();
    let (label_w, bar_w, row_h, top) = (330.0, 520.0, 26.0, 60.0);
    let height = top + row_h * rows.len() as f64 + 50.0;
    let width = label_w + bar_w + 120.0;
    let vals: Vec<f64> = rows.iter().filter_map(|x| x.ns_per_call).collect();
    let lo = vals.iter().cloned().fold(f64::MAX, f64::min).max(0.1);
    let hi = vals.iter().cloned().fold(f64::MIN, f64::max).max(lo * 10.0);
    let (dlo, dhi) = (lo.log10().floor(), hi.log10().ceil());
    let x = |v: f64| label_w + (v.max(0.1).log10() - dlo) / (dhi - dlo) * bar_w;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">kvmcage bench: ns per call (log scale), median of {} runs x {} calls</text>\n\
         <text x=\"10\" y=\"42\">{}; {}</text>\n",
        r.runs,
        r.iterations,
        xml_escape(&r.cpu),
        xml_escape(&r.backend)
    );
    let mut d = dlo;
    while d <= dhi {
        let gx = x(10f64.powf(d));
        s.push_str(&format!(
            "<line x1=\"{gx:.1}\" y1=\"{top}\" x2=\"{gx:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{gx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            height - 35.0,
            height - 20.0,
            10f64.powf(d)
        ));
        d += 1.0;
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let v = row.ns_per_call.unwrap_or(0.0);
        let color = if row.mechanism.starts_with("host") {
            "#4a7"
        } else {
            "#47a"
        };
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">{v:.1} ns</text>\n",
            label_w - 8.0,
            y + 16.0,
            xml_escape(&row.mechanism),
            y + 4.0,
            (x(v) - label_w).max(1.0),
            row_h - 8.0,
            x(v) + 6.0,
            y + 16.0
        ));
    }
    s.push_str("</svg>\n");
    s
}
