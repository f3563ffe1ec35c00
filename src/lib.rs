//! kvmcage: run an untrusted x86-64 Linux program in ring 3 of a KVM guest,
//! with its system calls serviced by the host.
//!
//! ```no_run
//! let outcome = kvmcage::Sandbox::new("./hello").arg("world").run()?;
//! std::process::exit(outcome.exit_code());
//! # Ok::<(), kvmcage::Error>(())
//! ```

#![warn(missing_docs)]
// The modules marked doc(hidden) are public for kvmcage's own command line,
// benchmarks and tests; the embedding API is `Sandbox` and what it returns
// (`Outcome`, `RunStats`, `result::RunResult`, `Error`), `Stdio`,
// `CancelHandle`, `sandbox`'s mount specs and `strace::TraceOptions`.

#[doc(hidden)]
pub mod bench;
#[doc(hidden)]
pub mod confine;
pub(crate) mod exitless;
#[doc(hidden)]
pub mod fuzz;
#[doc(hidden)]
pub mod guest_abi;
#[doc(hidden)]
pub mod kernel;
#[doc(hidden)]
pub mod loader;
#[doc(hidden)]
pub mod mm;
#[doc(hidden)]
pub mod probe;
mod report;
pub mod result;
mod run;
pub mod sandbox;
pub mod strace;
#[doc(hidden)]
pub mod vm;
#[doc(hidden)]
pub mod watchdog;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use exitless::Transport;
use watchdog::Watchdog;

use kernel::{Identity, Process};
use loader::LoadError;
use vm::layout::DEFAULT_MEM_SIZE;
use vm::{EntryMode, Machine, VmError};

/// Why kvmcage could not run the program (exit status 125, 126 or 127:
/// [`Error::exit_code`]).
#[derive(Debug, Error)]
pub enum Error {
    /// The program's file could not be read (127 when it does not exist).
    #[error("cannot read {path}")]
    Read {
        /// The program as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is no x86-64 ELF kvmcage can load (126).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The program (or its interpreter) is not there (127) or cannot run
    /// (126).
    #[error(transparent)]
    Exec(#[from] kernel::exec::ExecError),
    /// KVM or the guest machine failed.
    #[error(transparent)]
    Vm(#[from] VmError),
    /// A mount or --tmpfs could not be set up.
    #[error(transparent)]
    Policy(#[from] sandbox::PolicyError),
    /// The working directory is not one the program can see.
    #[error("--cwd {0}: not a directory the program can see")]
    Cwd(String),
    /// The watchdog thread or the kick signal could not be set up.
    #[error("cannot start the time-limit watchdog")]
    Watchdog(#[source] std::io::Error),
    /// A limit out of range.
    #[error("{0}")]
    Limit(String),
    /// kvmcage could not confine itself.
    #[error("cannot confine kvmcage (--no-confine runs unconfined)")]
    Confine(#[from] confine::ConfineError),
    /// The process that removes --tmpfs directories could not start.
    #[error("cannot start the --tmpfs reaper")]
    Reaper(#[source] std::io::Error),
    /// /dev/null could not be opened for `Stdio::Null`.
    #[error("cannot open /dev/null for the program's stdio")]
    Stdio(#[source] std::io::Error),
}

impl Error {
    /// kvmcage's exit status for it, as timeout(1): 127 the program is not
    /// there, 126 it cannot run, 125 kvmcage failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 127,
            Error::Read { .. } | Error::Load(_) => 126,
            Error::Exec(e) => e.exit_code(),
            _ => 125,
        }
    }
}

/// How the program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It called exit/exit_group.
    Exited(i32),
    /// It died of a signal; `report` is the one-line explanation. `core`:
    /// the signal's action dumps core and RLIMIT_CORE allows it, so Linux
    /// would set the core bit of the wait status (kvmcage writes no core
    /// file).
    Killed {
        /// The signal.
        signal: i32,
        /// kvmcage's one-line report.
        report: String,
        /// Linux would report a core dump.
        core: bool,
    },
    /// The wall-clock limit passed.
    TimedOut(std::time::Duration),
    /// The CPU-time limit passed: `signal` (SIGXCPU at the limit, SIGKILL a
    /// second later, as RLIMIT_CPU) ended the program.
    CpuTime {
        /// The limit given.
        limit: std::time::Duration,
        /// SIGXCPU or SIGKILL.
        signal: i32,
    },
    /// The program wrote more than this many bytes to stdout and stderr.
    OutputLimit(u64),
    /// The machine stopped for a reason that is not the program's doing.
    MachineFailed(String),
    /// [`CancelHandle::cancel`] stopped it.
    Cancelled,
}

impl Outcome {
    /// kvmcage's one-line report of how the run ended (without the
    /// `kvmcage: ` prefix), or None for an exit.
    pub fn report(&self) -> Option<String> {
        Some(match self {
            Outcome::Exited(_) => return None,
            Outcome::Killed { report, .. } => report.clone(),
            Outcome::TimedOut(limit) => format!(
                "time limit of {}s exceeded; the program was stopped",
                limit.as_secs_f64()
            ),
            Outcome::CpuTime { limit, signal } => format!(
                "CPU time limit of {}s exceeded; the program was stopped ({})",
                limit.as_secs_f64(),
                report::signal_name(*signal)
            ),
            Outcome::OutputLimit(max) => {
                format!("output limit of {max} bytes exceeded; the program was stopped")
            }
            Outcome::MachineFailed(why) => why.clone(),
            Outcome::Cancelled => "the run was cancelled".into(),
        })
    }

    /// The exit status `kvmcage run` gives (DESIGN.md): the program's own,
    /// 128+N for signal N, 124 when a limit (time, output) stopped it, 125
    /// when kvmcage failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(c) => *c,
            Outcome::Killed { signal, .. } => 128 + signal,
            Outcome::TimedOut(_) | Outcome::OutputLimit(_) | Outcome::CpuTime { .. } => 124,
            Outcome::MachineFailed(_) => 125,
            // Stopped outright, as SIGKILL would.
            Outcome::Cancelled => 128 + libc::SIGKILL,
        }
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// KVM_RUN returns.
    pub exits: u64,
    /// Syscalls the program made.
    pub syscalls: u64,
    /// Syscalls by entry path (`syscall`, `int 0x80`, their fallbacks).
    pub by_path: BTreeMap<&'static str, u64>,
    /// Page faults the host resolved (stack growth).
    pub faults_handled: u64,
    /// From the start of the run (before the ELF is loaded) to its end.
    pub wall_time: std::time::Duration,
    /// The program's CPU time as its getrusage reports it.
    pub user_time: std::time::Duration,
    /// System time, likewise.
    pub sys_time: std::time::Duration,
    /// The most guest memory in use at once (KiB), the analogue of max RSS.
    pub peak_memory_kib: u64,
    /// An allocation was refused because guest memory (--mem) ran out.
    pub memory_limit_hit: bool,
    /// Bytes the program wrote to its stdout and stderr (and stdin).
    pub output_bytes: u64,
    /// Syscalls the program made that got ENOSYS, by name.
    pub unimplemented: Vec<String>,
    /// kvmcage's warnings about the run (landlock missing), for its stderr.
    pub warnings: Vec<String>,
}

/// Where one of the program's standard streams goes, as
/// `std::process::Stdio` says for a child.
#[derive(Clone, Debug, Default)]
pub enum Stdio {
    /// kvmcage's own descriptor 0, 1 or 2.
    #[default]
    Inherit,
    /// /dev/null.
    Null,
    /// This descriptor (a file, or a pipe whose other end the caller
    /// reads or writes from another thread), held open for the run.
    Fd(std::sync::Arc<std::os::fd::OwnedFd>),
}

impl From<std::fs::File> for Stdio {
    fn from(f: std::fs::File) -> Self {
        Stdio::Fd(std::sync::Arc::new(f.into()))
    }
}

impl From<std::os::fd::OwnedFd> for Stdio {
    fn from(fd: std::os::fd::OwnedFd) -> Self {
        Stdio::Fd(std::sync::Arc::new(fd))
    }
}

/// Stops a run from another thread: the run ends as
/// [`Outcome::Cancelled`] within a few milliseconds, whatever the program
/// is doing. Cancelling before the run starts makes it end at once.
#[derive(Clone, Debug, Default)]
pub struct CancelHandle(std::sync::Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: std::sync::atomic::AtomicBool,
    /// The running run's stop flag, vCPU thread and watchdog thread.
    running: std::sync::Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    expiry: watchdog::Expiry,
    vcpu: libc::pthread_t,
    watchdog: Option<std::thread::Thread>,
}

/// Unregisters a run from its CancelHandle when the run returns or unwinds.
struct Registered<'a>(&'a CancelHandle);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        *self.0 .0.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl CancelHandle {
    /// Cancel the run (now, or as soon as it starts).
    pub fn cancel(&self) {
        self.0
            .cancelled
            .store(true, std::sync::atomic::Ordering::Release);
        let running = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = running.as_ref() {
            r.expiry.stop(watchdog::StopReason::Cancelled);
            // SAFETY: the thread is the run's vCPU thread, alive while it is
            // registered here (a guard unregisters it under this lock
            // before its run returns or unwinds); the kick has a handler
            // (installed before it registered), so the signal only
            // interrupts KVM_RUN or a wait.
            unsafe { libc::pthread_kill(r.vcpu, watchdog::kick_signal()) };
            // A kick that lands while the vCPU thread has it blocked stays
            // pending; the watchdog repeats it until the run has ended.
            if let Some(w) = &r.watchdog {
                w.unpark();
            }
        }
    }

    /// Register the calling thread's run, until the guard drops; false if
    /// already cancelled.
    fn enter(
        &self,
        expiry: &watchdog::Expiry,
        watchdog: Option<std::thread::Thread>,
    ) -> (Registered<'_>, bool) {
        let mut running = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        *running = Some(Running {
            expiry: expiry.clone(),
            // SAFETY: pthread_self has no preconditions.
            vcpu: unsafe { libc::pthread_self() },
            watchdog,
        });
        let live = !self.0.cancelled.load(std::sync::atomic::Ordering::Acquire);
        (Registered(self), live)
    }
}

/// A program and the sandbox to run it in.
#[derive(Clone, Debug)]
pub struct Sandbox {
    program: PathBuf,
    argv0: Option<OsString>,
    args: Vec<OsString>,
    env: Vec<OsString>,
    mem_size: u64,
    entry_mode: EntryMode,
    transport: Transport,
    timeout: Option<std::time::Duration>,
    max_output: Option<u64>,
    max_fds: Option<u64>,
    max_threads: usize,
    max_procs: usize,
    max_file_size: Option<u64>,
    view: sandbox::View,
    mounts: Vec<sandbox::MountSpec>,
    tmpfs: Vec<sandbox::TmpfsSpec>,
    cwd: Vec<u8>,
    uid: u32,
    gid: u32,
    hostname: Vec<u8>,
    host_signals: bool,
    confine: bool,
    cpu_time: Option<std::time::Duration>,
    stdio: [Stdio; 3],
    cancel: CancelHandle,
}

/// The program's user and group ids unless `Sandbox::ids` says otherwise.
pub const DEFAULT_ID: u32 = 1000;
/// The largest --max-fds (Linux's fs.nr_open default).
pub const NR_OPEN: u64 = 1 << 20;

impl Sandbox {
    /// A sandbox for `program` (an x86-64 ELF, static or dynamic, or a `#!`
    /// script; a name without a slash is searched in the guest's PATH):
    /// the default system view ([`sandbox::View::System`]), an environment
    /// of PATH and HOME only, 256 MiB of guest memory, no time limit.
    pub fn new(program: impl AsRef<Path>) -> Self {
        Self {
            program: program.as_ref().to_path_buf(),
            argv0: None,
            args: Vec::new(),
            env: Vec::new(),
            mem_size: DEFAULT_MEM_SIZE,
            entry_mode: EntryMode::Auto,
            transport: Transport::default(),
            timeout: None,
            max_output: None,
            max_fds: None,
            max_threads: kernel::DEFAULT_MAX_THREADS,
            max_procs: kernel::task::DEFAULT_MAX_PROCS,
            max_file_size: None,
            view: sandbox::View::default(),
            mounts: Vec::new(),
            tmpfs: Vec::new(),
            cwd: b"/".to_vec(),
            uid: DEFAULT_ID,
            gid: DEFAULT_ID,
            hostname: b"kvmcage".to_vec(),
            host_signals: false,
            confine: false,
            cpu_time: None,
            stdio: Default::default(),
            cancel: CancelHandle::default(),
        }
    }

    /// argv[0] (default: the program path as given).
    pub fn argv0(mut self, a: impl Into<OsString>) -> Self {
        self.argv0 = Some(a.into());
        self
    }

    /// Add an argument.
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Add arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, it: I) -> Self {
        self.args.extend(it.into_iter().map(Into::into));
        self
    }

    /// Add `K=V` to the program's environment (in a system view PATH and
    /// HOME=/tmp unless given, else empty).
    pub fn env(mut self, kv: impl Into<OsString>) -> Self {
        self.env.push(kv.into());
        self
    }

    /// Guest memory: also the program's address-space limit.
    pub fn mem_size(mut self, bytes: u64) -> Self {
        self.mem_size = bytes;
        self
    }

    /// Which syscall entry paths the guest accepts (`--entry`).
    pub fn entry_mode(mut self, mode: EntryMode) -> Self {
        self.entry_mode = mode;
        self
    }

    /// How system calls reach the host (`--transport`): the exitless gate
    /// where the platform allows it (kvm_pvm; the default), or always the
    /// exit.
    pub fn transport(mut self, t: Transport) -> Self {
        self.transport = t;
        self
    }

    /// Stop the program after this much wall-clock time (exit status 124).
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Stop the program once it has written `bytes` to stdout and stderr
    /// together (exit status 124).
    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = Some(bytes);
        self
    }

    /// Threads the program may have at once (clone is EAGAIN past it; at
    /// least 1). Each runs on a vCPU and a host thread of its own.
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = n.max(1);
        self
    }

    /// Processes the sandbox may hold at once (fork is EAGAIN past it, as
    /// with RLIMIT_NPROC; at least 1). Each thread of each still counts
    /// against --max-threads.
    pub fn max_procs(mut self, n: usize) -> Self {
        self.max_procs = n.max(1);
        self
    }

    /// RLIMIT_NOFILE, soft and hard: descriptors the program may hold.
    pub fn max_fds(mut self, n: u64) -> Self {
        self.max_fds = Some(n);
        self
    }

    /// RLIMIT_FSIZE, soft and hard: a write past it is EFBIG and SIGXFSZ.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = Some(bytes);
        self
    }

    /// What the program sees besides the mounts: the host's system
    /// read-only (the default), a `--rootfs` directory, or nothing
    /// (`--no-system`).
    pub fn view(mut self, view: sandbox::View) -> Self {
        self.view = view;
        self
    }

    /// Make a host directory visible to the program (see `sandbox`).
    pub fn mount(mut self, spec: sandbox::MountSpec) -> Self {
        self.mounts.push(spec);
        self
    }

    /// An empty writable directory (private, capped, removed after the
    /// run; see `sandbox`).
    pub fn tmpfs(mut self, spec: sandbox::TmpfsSpec) -> Self {
        self.tmpfs.push(spec);
        self
    }

    /// The program's user and group ids inside the sandbox (default 1000;
    /// 0 makes it root there only: host files are never chowned).
    pub fn ids(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// Catch SIGTERM, SIGINT and SIGHUP sent to this process: the run then
    /// stops and ends as killed by that signal, with its --tmpfs
    /// directories removed (the CLI does this; a library caller may prefer
    /// its own handling).
    /// Limit the program's CPU time as RLIMIT_CPU does: SIGXCPU at
    /// `limit`, SIGKILL one second later; the run then ends as
    /// [`Outcome::CpuTime`].
    pub fn cpu_time(mut self, limit: std::time::Duration) -> Self {
        self.cpu_time = Some(limit);
        self
    }

    /// The program's stdin (kvmcage's own unless given).
    pub fn stdin(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[0] = s.into();
        self
    }

    /// The program's stdout (kvmcage's own unless given).
    pub fn stdout(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[1] = s.into();
        self
    }

    /// The program's stderr (kvmcage's own unless given).
    pub fn stderr(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[2] = s.into();
        self
    }

    /// A handle that cancels this sandbox's run from another thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Run the program and describe how it ended as a grader reads it
    /// (the `--result` JSON); a failure to run it is status `error`.
    pub fn run_result(&self) -> result::RunResult {
        match self.run_with_stats() {
            Ok((outcome, stats)) => result::RunResult::of_run(&outcome, &stats),
            Err(e) => result::RunResult::of_error(e.to_string(), e.exit_code()),
        }
    }

    /// Confine this process (no_new_privs, landlock, seccomp; see
    /// [`confine`]) before the guest's first instruction. Irreversible:
    /// for a process that runs one sandbox and ends, as `kvmcage run`.
    pub fn confine(mut self, yes: bool) -> Self {
        self.confine = yes;
        self
    }

    /// End the run cleanly when this process gets SIGTERM, SIGINT or
    /// SIGHUP (for a command line; an embedder keeps its own handlers).
    pub fn stop_on_host_signals(mut self, yes: bool) -> Self {
        self.host_signals = yes;
        self
    }

    /// uname's nodename (default `kvmcage`).
    pub fn hostname(mut self, name: impl Into<Vec<u8>>) -> Self {
        self.hostname = name.into();
        self
    }

    /// The program's working directory (a guest path; default `/`).
    pub fn cwd(mut self, guest: impl Into<Vec<u8>>) -> Self {
        self.cwd = guest.into();
        self
    }

    /// Run the program to its end.
    pub fn run(&self) -> Result<Outcome, Error> {
        self.run_with_stats().map(|(o, _)| o)
    }

    /// Run the program and also return the run's counters.
    pub fn run_with_stats(&self) -> Result<(Outcome, RunStats), Error> {
        self.run_with(strace::TraceOptions::default())
    }

    /// Run the program, tracing its syscalls as `trace` says, and return
    /// the run's counters.
    pub fn run_with(&self, trace: strace::TraceOptions) -> Result<(Outcome, RunStats), Error> {
        let started = std::time::Instant::now();
        if let Some(n) = self.max_fds.filter(|&n| n > NR_OPEN) {
            return Err(Error::Limit(format!(
                "--max-fds {n} is above Linux's nr_open ({NR_OPEN})"
            )));
        }
        if self.host_signals {
            watchdog::catch_host_signals().map_err(Error::Watchdog)?;
        }
        // /dev/shm is a private tmpfs (shm_open, sem_open), half of --mem
        // as Linux's default, unless the caller put something there.
        let mut tmpfs = self.tmpfs.clone();
        let shm = b"/dev/shm";
        if !tmpfs.iter().any(|t| t.guest == shm) && !self.mounts.iter().any(|m| m.guest == shm) {
            tmpfs.push(sandbox::TmpfsSpec {
                guest: shm.to_vec(),
                size: (self.mem_size / 2).max(1 << 20),
            });
        }
        let who = sandbox::system::Identity {
            uid: self.uid,
            gid: self.gid,
            hostname: &self.hostname,
        };
        let mut policy = sandbox::Policy::for_view(
            &self.view,
            &self.mounts,
            &tmpfs,
            &who,
            (self.mem_size / 2).max(1 << 20),
        )?;
        // The environment: a system view's PATH and HOME unless given.
        let mut envp: Vec<Vec<u8>> = self.env.iter().map(|e| e.as_bytes().to_vec()).collect();
        if self.view.is_system() {
            let defaults = [
                b"HOME=/tmp".to_vec(),
                [b"PATH=", kernel::exec::DEFAULT_PATH.as_bytes()].concat(),
            ];
            for d in defaults {
                let key = &d[..=d.iter().position(|&b| b == b'=').unwrap_or(0)];
                if !envp.iter().any(|e| e.starts_with(key)) {
                    envp.push(d);
                }
            }
        }
        let search = envp
            .iter()
            .find_map(|e| e.strip_prefix(b"PATH="))
            .unwrap_or(kernel::exec::DEFAULT_PATH.as_bytes())
            .to_vec();
        let cwd = sandbox::normalize(b"/", &self.cwd);
        let argv0 = self
            .argv0
            .clone()
            .unwrap_or_else(|| self.program.as_os_str().to_owned());
        let argv: Vec<Vec<u8>> = std::iter::once(&argv0)
            .chain(&self.args)
            .map(|a| a.as_bytes().to_vec())
            .collect();
        // Found and read (with its interpreter) before touching KVM.
        // (At least the smallest --mem, so that a --mem too small for any
        // program is reported as such by Machine::new.)
        let budget = self.mem_size.max(vm::layout::MIN_MEM_SIZE);
        let at = kernel::exec::Place::new(&policy, b"/", &cwd, budget);
        let first = kernel::exec::locate(&at, &self.program, &search)?;
        // AT_EXECFN: the name it was run by (a host file's is its
        // /.kvmcage name, set below).
        let execfn = match &first.source {
            kernel::exec::Source::Guest(_) => Some(first.called.clone()),
            kernel::exec::Source::Host(_) => None,
        };
        let program = kernel::exec::prepare(&at, first, argv)?;
        if self.confine {
            // Forked before guest memory exists, so the fork is cheap.
            policy.hand_to_reaper().map_err(Error::Reaper)?;
        }
        let (mut m, mut vcpu) = Machine::new(self.mem_size, self.entry_mode)?;
        // The exitless gate needs `syscall` to stay in ring 3 (kvm_pvm) and
        // its exit path is the #PF fallback, which Strict refuses.
        let gated = (self.transport != Transport::Exit
            && m.backend() == vm::Backend::KvmPvm
            && self.entry_mode == EntryMode::Auto)
            .then_some(self.transport);
        let (uid, gid) = (self.uid, self.gid);
        let mut proc = Process::new(Identity {
            pid: 1,
            ppid: 0,
            uid,
            gid,
            host_uid: rustix::process::geteuid().as_raw(),
            host_gid: rustix::process::getegid().as_raw(),
            hostname: self.hostname.clone(),
            exe: Vec::new(),
            mem_size: self.mem_size,
        });
        proc.max_output = self.max_output;
        // The program's stdio; a /dev/null opened here lives until the run
        // returns, as the caller's descriptors do in `self`.
        let mut null = None;
        let mut host = [0, 1, 2];
        for (i, s) in self.stdio.iter().enumerate() {
            host[i] = match s {
                Stdio::Inherit => i as i32,
                Stdio::Null => {
                    let f = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/null")
                        .map_err(Error::Stdio)?;
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
                    null.get_or_insert_with(Vec::new).push(f);
                    fd
                }
                Stdio::Fd(fd) => std::os::fd::AsRawFd::as_raw_fd(&**fd),
            };
        }
        proc.files = kernel::fs::Files::stdio_from(host);
        proc.policy = std::sync::Arc::new(policy);
        // The program's own path as the program sees it: its guest path
        // when the view shows it, else /.kvmcage/NAME; never the host path.
        let mut program = program;
        if let kernel::exec::Source::Host(host) = &program.main.source {
            proc.id.exe = proc
                .policy
                .guest_path_of(host, &program.main.file)
                .unwrap_or_else(|| {
                    let name = host.file_name().unwrap_or_default().as_bytes();
                    [kernel::path::EXE_DIR, b"/", name].concat()
                });
        }
        let execfn = execfn.unwrap_or_else(|| proc.id.exe.clone());
        if let Some(script) = program.host_script.take() {
            // Its interpreter opens it as /dev/fd/3, as Linux hands a
            // script it was given by descriptor.
            let file = kernel::fs::OpenFile::new(
                kernel::fs::FileKind::Host {
                    fd: script.file,
                    writable: false,
                },
                format!("/dev/fd/{}", kernel::exec::HOST_SCRIPT_FD).into_bytes(),
                libc::O_RDONLY as u32,
            );
            let fd = proc.files().open(file, false, usize::MAX).ok();
            debug_assert_eq!(fd, Some(kernel::exec::HOST_SCRIPT_FD));
        }
        proc.fs.update(|f| f.cwd = cwd.clone());
        if !kernel::path::is_directory(&proc, &cwd) {
            return Err(Error::Cwd(String::from_utf8_lossy(&self.cwd).into_owned()));
        }
        if let Some(n) = self.max_fds {
            proc.rlimits.impose(libc::RLIMIT_NOFILE, n);
        }
        if let Some(n) = self.max_file_size {
            proc.rlimits.impose(libc::RLIMIT_FSIZE, n);
        }
        if let Some(limit) = self.cpu_time {
            // The program sees whole seconds, as RLIMIT_CPU holds them.
            let soft = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
            proc.rlimits
                .impose_pair(libc::RLIMIT_CPU, soft, soft.saturating_add(1));
            let hard = limit.saturating_add(std::time::Duration::from_secs(1));
            proc.timers.impose_cpu_limit(limit, hard);
        }
        let cpu = probe::CpuFacts::host();
        proc.exec_facts = kernel::exec::Facts {
            hwcap: cpu.hwcap,
            hwcap2: if m.cr4() & (1 << 16) != 0 { 2 } else { 0 },
            minsigstksz: cpu.minsigstksz,
        };
        let regs = kernel::exec::load_image(&mut m, &vcpu, &mut proc, program, &envp, &execfn)?;
        vcpu.start_user(&regs)?;
        let mut warnings = Vec::new();
        if self.confine {
            // Everything the run needs from the host is open now; the
            // watchdog thread starts after, inside the confinement.
            let toggled: Vec<(u64, u64)> = [
                m.ram().host_base().map(|b| (b, m.ram().size())),
                m.shared().host_window(),
            ]
            .into_iter()
            .flatten()
            .collect();
            let st = confine::apply(&proc.policy.roots(), &toggled)?;
            if !st.landlock_enforced {
                warnings.push(format!(
                    "warning: landlock {}; the host filesystem is guarded by the path walk and seccomp only",
                    st.landlock
                ));
            }
            log::debug!(
                "confined: no_new_privs, landlock {}, seccomp allow-list of {} syscalls",
                st.landlock,
                st.seccomp_syscalls
            );
        }
        let stats = RunStats {
            warnings,
            ..RunStats::default()
        };
        // Always: it also repeats the kick of a CancelHandle.
        let watchdog = Watchdog::start(self.timeout, &proc.expiry).map_err(Error::Watchdog)?;
        let _kick = watchdog::KickBlocked::new().map_err(Error::Watchdog)?;
        vcpu.set_run_signal_mask(_kick.run_mask())?;
        proc.kick = Some(_kick.wait());
        let tracer = trace
            .is_active()
            .then(|| strace::Tracer::new(trace, proc.id.pid));
        proc.cpu_base = kernel::process::cpu_time(Default::default());
        proc.timers.start_cpu_clock();
        watchdog::install_kick_handler().map_err(Error::Watchdog)?;
        let (registered, live) = self.cancel.enter(&proc.expiry, watchdog.thread());
        if !live {
            proc.expiry.stop(watchdog::StopReason::Cancelled);
        }
        proc.max_threads = self.max_threads;
        // What the program sees of --max-procs.
        proc.rlimits
            .impose(libc::RLIMIT_NPROC, self.max_procs as u64);
        // Thread 1 runs on this thread, which the watchdog and a
        // CancelHandle kick.
        // SAFETY: pthread_self has no preconditions.
        proc.me().host = Some(unsafe { libc::pthread_self() });
        proc.me().host_tid = rustix::thread::gettid().as_raw_nonzero().get();
        proc.tasks.lock().max_procs = self.max_procs;
        let pid = proc.id.pid;
        let proc = std::sync::Arc::new(parking_lot::Mutex::new(proc));
        {
            let p = proc.lock();
            p.tasks.insert_first(pid, &proc);
            p.tasks.set_image(pid, kernel::exec::image_of(&p));
        }
        let shared = std::sync::Arc::new(run::Shared::new(
            std::sync::Arc::clone(&proc),
            m,
            tracer,
            stats,
            _kick.run_mask(),
            gated,
        ));
        run::thread_main(&shared, &proc, vcpu, pid);
        let looped = shared.wait();
        let Ok(shared) = std::sync::Arc::try_unwrap(shared) else {
            return Err(Error::Vm(VmError::Setup(
                "a guest thread outlived its run".into(),
            )));
        };
        let run::Shared {
            machine: m,
            tracer,
            stats,
            ..
        } = shared;
        let (m, mut tracer, mut stats) = (m.into_inner(), tracer.into_inner(), stats.into_inner());
        let proc = proc.lock();
        drop(registered);
        drop(null);
        let outcome = match looped? {
            None => match proc.expiry.reason() {
                Some(watchdog::StopReason::Cancelled) => Outcome::Cancelled,
                Some(watchdog::StopReason::HostSignal(sig)) => Outcome::Killed {
                    signal: sig,
                    core: false,
                    report: format!(
                        "stopped by {} sent to kvmcage; the guest was killed",
                        report::signal_name(sig)
                    ),
                },
                _ => Outcome::TimedOut(self.timeout.unwrap_or_default()),
            },
            Some(Outcome::Killed { signal, .. })
                if (signal == libc::SIGXCPU || signal == libc::SIGKILL)
                    && proc.timers.cpu_limit_hit
                    && self.cpu_time.is_some() =>
            {
                Outcome::CpuTime {
                    limit: self.cpu_time.unwrap_or_default(),
                    signal,
                }
            }
            Some(o) => o,
        };
        if let Some(t) = tracer.as_mut() {
            t.finish(&match &outcome {
                Outcome::Exited(c) => format!("exited with {c}"),
                Outcome::Killed { signal, core, .. } => {
                    format!(
                        "killed by {}{}",
                        report::signal_name(*signal),
                        if *core { " (core dumped)" } else { "" }
                    )
                }
                // kvmcage stops the guest outright, as SIGKILL would.
                _ => "killed by SIGKILL".to_string(),
            });
        }
        (stats.user_time, stats.sys_time) = kernel::process::cpu_time(proc.cpu_base);
        stats.peak_memory_kib = m.frames().peak() * (vm::layout::PAGE_SIZE / 1024);
        stats.memory_limit_hit = m.frames().was_refused();
        stats.output_bytes = proc
            .output_written
            .load(std::sync::atomic::Ordering::Acquire);
        let mut unimplemented: Vec<_> = proc.unimplemented.iter().copied().collect();
        unimplemented.sort_unstable();
        stats.unimplemented = unimplemented
            .into_iter()
            .map(|(i386, nr)| {
                let name = kernel::Call {
                    nr,
                    args: kernel::Args::default(),
                    i386,
                }
                .name()
                .map_or_else(|| format!("syscall {nr}"), str::to_string);
                if i386 {
                    format!("{name} (i386)")
                } else {
                    name
                }
            })
            .collect();
        stats.wall_time = started.elapsed();
        Ok((outcome, stats))
    }
}
