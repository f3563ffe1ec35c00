//! The `kvmcage` command line.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use kvmcage::vm::EntryMode;
use kvmcage::{Outcome, Sandbox};

/// Run an untrusted x86-64 Linux program in ring 3 of a KVM guest; the host
/// services its system calls.
#[derive(Parser, Debug)]
#[command(name = "kvmcage", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run PROGRAM (a static x86-64 ELF) in a fresh guest.
    ///
    /// Exit status: the program's own; 128+N when it died of signal N;
    /// 124 when --timeout or --max-output stopped it; 125 when kvmcage
    /// itself failed (bad ELF, no /dev/kvm, bad option).
    Run(Box<RunArgs>),
    /// Measure system-call entry: syscall, int 0x80, sysenter, the vDSO, a
    /// bare exit and a signal's delivery and return in the guest, next to
    /// the same on the host.
    Bench(BenchArgs),
    /// Show the KVM backend, the capabilities kvmcage uses, which entry
    /// path a probe guest's `syscall` and `int 0x80` took, and whether
    /// landlock and seccomp can confine kvmcage.
    Info,
    /// Test-only: confine as `run` would with these mounts, then try one
    /// thing a compromised dispatcher might, and print `ok` or `err ENAME`.
    #[command(hide = true)]
    ConfineProbe(ProbeArgs),
}

#[derive(clap::Args, Debug)]
struct ProbeArgs {
    #[arg(long, value_name = "HOST[:GUEST][:ro|:rw]")]
    mount: Vec<String>,
    #[arg(long, value_name = "GUEST[:size=N]")]
    tmpfs: Vec<String>,
    #[arg(long)]
    no_confine: bool,
    /// read PATH | write PATH | mkdir PATH | syscall NR | exec PATH |
    /// tiocsti | kvm-ioctl REQ
    action: String,
    arg: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// Direct entry paths and the kvm_pvm fallbacks (#PF at LSTAR, #UD on int 0x80).
    Auto,
    /// Direct entry paths only; the fallbacks are guest faults.
    Strict,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Calls per mechanism per run.
    #[arg(long, default_value_t = 5000)]
    iterations: u64,
    /// Repetitions (the table shows the median and the spread).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Which syscall entry paths the guest accepts.
    #[arg(long, value_enum, default_value_t = Entry::Auto)]
    entry: Entry,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
    /// Also write a bar chart (SVG, log scale) to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Guest memory size (bytes, or with K/M/G suffix); also the program's
    /// address-space limit.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    mem: u64,
    /// Add K=V to the program's environment (empty unless given; repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<OsString>,
    /// Which syscall entry paths to accept.
    #[arg(long, value_enum, default_value_t = Entry::Auto)]
    entry: Entry,
    /// Show host directory HOST to the program at GUEST (default: the same
    /// path), read-only unless :rw. Repeatable. Without any, the program
    /// sees no host file at all.
    #[arg(long, value_name = "HOST[:GUEST][:ro|:rw]")]
    mount: Vec<String>,
    /// An empty writable directory at GUEST: private to kvmcage (mode
    /// 0700), at most N bytes (K/M/G suffixes; default 64M; ENOSPC past
    /// it), removed after the run, also when kvmcage is killed by SIGTERM,
    /// SIGINT or SIGHUP. Repeatable.
    #[arg(long, value_name = "GUEST[:size=N]")]
    tmpfs: Vec<String>,
    /// The program's user id inside the sandbox (0 is root there only:
    /// host files are never chowned).
    #[arg(long, value_name = "N", default_value_t = kvmcage::DEFAULT_ID)]
    uid: u32,
    /// The program's group id inside the sandbox.
    #[arg(long, value_name = "N", default_value_t = kvmcage::DEFAULT_ID)]
    gid: u32,
    /// The host name the program sees (uname's nodename).
    #[arg(long, value_name = "NAME", default_value = "kvmcage")]
    hostname: String,
    /// The program's working directory (a guest path).
    #[arg(long, value_name = "DIR", default_value = "/")]
    cwd: String,
    /// Stop the program after SECONDS of wall-clock time (exit status 124).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Option<std::time::Duration>,
    /// Stop the program once it has written BYTES to stdout and stderr
    /// together (K/M/G suffixes; exit status 124).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_output: Option<u64>,
    /// Descriptors the program may hold (RLIMIT_NOFILE; EMFILE past it; at
    /// most 1048576, Linux's nr_open).
    #[arg(long, value_name = "N")]
    max_fds: Option<u64>,
    /// Largest file the program may write (RLIMIT_FSIZE: EFBIG and SIGXFSZ
    /// past it, also for a stdout redirected to a file).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_file_size: Option<u64>,
    /// Log debug details to stderr: machine set-up, unimplemented syscalls,
    /// and a register dump when the program dies of a fault.
    #[arg(long, short)]
    verbose: bool,
    /// Trace the program's syscalls to stderr in strace's format.
    #[arg(long)]
    trace: bool,
    /// Trace to FILE instead of stderr (implies --trace).
    #[arg(long, value_name = "FILE")]
    trace_file: Option<std::path::PathBuf>,
    /// Write one JSON object per syscall to FILE (nr, name, args, result,
    /// errno, entry path, ns in the host).
    #[arg(long, value_name = "FILE")]
    trace_json: Option<std::path::PathBuf>,
    /// At the end, print a strace -c style table (calls, errors, time,
    /// KVM exits per syscall) to stderr.
    #[arg(long)]
    summary: bool,
    /// Print exit, syscall and entry-path counts to stderr at the end.
    #[arg(long)]
    stats: bool,
    /// Do not confine kvmcage itself (for debugging kvmcage only). By
    /// default, before the program's first instruction kvmcage closes the
    /// descriptors it inherited (all but 0, 1, 2), sets no_new_privs, limits
    /// its own host filesystem access to the mounts with landlock, and
    /// installs a seccomp allow-list of the host calls it makes.
    #[arg(long)]
    no_confine: bool,
    /// The program to run.
    #[arg(value_name = "PROGRAM")]
    program: OsString,
    /// Its arguments.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<OsString>,
}

fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.trim_end_matches(['B', 'b', 'i']).char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => bail!("unknown size suffix in {s:?} (use K, M or G)"),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().with_context(|| format!("bad size {s:?}"))?;
    n.checked_mul(mult).context("size too large")
}

fn parse_seconds(s: &str) -> Result<std::time::Duration> {
    let secs: f64 = s
        .parse()
        .with_context(|| format!("bad number of seconds {s:?}"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        bail!("timeout must be a positive number of seconds, got {s:?}");
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn parse_env(s: &str) -> Result<OsString> {
    match s.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(s.into()),
        _ => bail!("expected K=V, got {s:?}"),
    }
}

impl From<Entry> for EntryMode {
    fn from(e: Entry) -> Self {
        match e {
            Entry::Auto => EntryMode::Auto,
            Entry::Strict => EntryMode::Strict,
        }
    }
}

fn bench(args: BenchArgs) -> Result<ExitCode> {
    let report = kvmcage::bench::run(&kvmcage::bench::BenchOptions {
        iterations: args.iterations,
        runs: args.runs,
        mode: args.entry.into(),
    })?;
    print!("{}", kvmcage::bench::table(&report));
    if let Some(path) = args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(&path, json + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = args.svg {
        std::fs::write(&path, kvmcage::bench::svg(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let mode: EntryMode = args.entry.into();
    let mut sb = Sandbox::new(&args.program)
        .args(args.args)
        .mem_size(args.mem)
        .entry_mode(mode);
    if let Some(t) = args.timeout {
        sb = sb.timeout(t);
    }
    for m in &args.mount {
        sb = sb.mount(kvmcage::sandbox::MountSpec::parse(m)?);
    }
    for t in &args.tmpfs {
        sb = sb.tmpfs(kvmcage::sandbox::TmpfsSpec::parse(t)?);
    }
    sb = sb
        .confine(!args.no_confine)
        .stop_on_host_signals(true)
        .ids(args.uid, args.gid)
        .hostname(args.hostname.as_bytes().to_vec());
    sb = sb.cwd(args.cwd.as_bytes().to_vec());
    if let Some(n) = args.max_output {
        sb = sb.max_output(n);
    }
    if let Some(n) = args.max_fds {
        sb = sb.max_fds(n);
    }
    if let Some(n) = args.max_file_size {
        sb = sb.max_file_size(n);
    }
    for e in args.env {
        sb = sb.env(e);
    }
    let mut trace = kvmcage::strace::TraceOptions::default();
    let create = |p: &std::path::Path| -> Result<Box<dyn std::io::Write + Send>> {
        let f =
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(Box::new(std::io::BufWriter::new(f)))
    };
    if let Some(p) = &args.trace_file {
        trace.text = Some(create(p)?);
    } else if args.trace {
        trace.text = Some(Box::new(std::io::stderr()));
    }
    if let Some(p) = &args.trace_json {
        trace.json = Some(create(p)?);
    }
    if args.summary {
        trace.summary = Some(Box::new(std::io::stderr()));
    }
    let (outcome, stats) = sb.run_with(trace)?;
    if args.stats {
        let paths: Vec<String> = stats
            .by_path
            .iter()
            .map(|(p, n)| format!("{p}: {n}"))
            .collect();
        eprintln!(
            "kvmcage: {} syscalls, {} exits, {} faults handled; entry paths: {}",
            stats.syscalls,
            stats.exits,
            stats.faults_handled,
            if paths.is_empty() {
                "none".into()
            } else {
                paths.join(", ")
            }
        );
    }
    match &outcome {
        Outcome::Exited(_) => {}
        Outcome::Killed { report, .. } => eprintln!("kvmcage: {report}"),
        Outcome::TimedOut(limit) => eprintln!(
            "kvmcage: time limit of {}s exceeded; the program was stopped",
            limit.as_secs_f64()
        ),
        Outcome::OutputLimit(max) => {
            eprintln!("kvmcage: output limit of {max} bytes exceeded; the program was stopped")
        }
        Outcome::MachineFailed(why) => eprintln!("kvmcage: {why}"),
    }
    Ok(ExitCode::from(outcome.exit_code().clamp(0, 255) as u8))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Before anything is opened: what the parent left open is not ours.
    let confined = match &cli.command {
        Command::Run(a) => !a.no_confine,
        Command::ConfineProbe(a) => !a.no_confine,
        _ => false,
    };
    if confined {
        if let Err(e) = kvmcage::confine::close_inherited_fds() {
            eprintln!("kvmcage: cannot close inherited descriptors: {e}");
            return ExitCode::from(125);
        }
    }
    let verbose = matches!(&cli.command, Command::Run(a) if a.verbose);
    let default_filter = if verbose { "kvmcage=debug" } else { "warn" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter))
        .format_timestamp(None)
        .init();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Bench(args) => bench(args),
        Command::Info => kvmcage::probe::info_report()
            .map(|r| {
                print!("{r}");
                print_confinement();
                ExitCode::SUCCESS
            })
            .map_err(Into::into),
        Command::ConfineProbe(args) => confine_probe(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kvmcage: {e:#}");
            ExitCode::from(125)
        }
    }
}

/// `info`'s lines on confinement.
fn print_confinement() {
    match kvmcage::confine::kernel_landlock_abi() {
        Ok(v) => println!("landlock: ABI {v} (kvmcage asks for ABI 6, best effort)"),
        Err(why) => println!("landlock: not available ({why})"),
    }
    match kvmcage::confine::seccomp_available() {
        Ok(()) => println!(
            "seccomp: available (allow-list of {} syscalls, SECCOMP_RET_KILL_PROCESS)",
            kvmcage::confine::allow::ANY_ARGS.len() + 8
        ),
        Err(why) => println!("seccomp: not available ({why})"),
    }
}

/// The hidden `confine-probe`: the confinement of a run, then one action.
fn confine_probe(args: ProbeArgs) -> Result<ExitCode> {
    use std::os::fd::AsRawFd;
    let mounts = args
        .mount
        .iter()
        .map(|m| kvmcage::sandbox::MountSpec::parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    let tmpfs = args
        .tmpfs
        .iter()
        .map(|t| kvmcage::sandbox::TmpfsSpec::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut policy = kvmcage::sandbox::Policy::new(&mounts, &tmpfs)?;
    let dirs: Vec<_> = policy.tmpfs_dirs().map(|p| p.to_owned()).collect();
    // A KVM descriptor held from before, as a run holds its VM's.
    let kvm = std::fs::File::open("/dev/kvm").context("/dev/kvm")?;
    if !args.no_confine {
        policy.hand_to_reaper()?;
        kvmcage::confine::apply(&policy.roots())?;
    }
    for d in &dirs {
        println!("tmpfs {}", d.display());
    }
    let arg = args.arg.clone().unwrap_or_default();
    let c = |s: &str| std::ffi::CString::new(s).context("NUL in the argument");
    let num = |s: &str| -> Result<u64> {
        Ok(match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16)?,
            None => s.parse()?,
        })
    };
    let rc: i64 =
        // SAFETY: every call below gets CStrings and buffers that live
        // across the call, and descriptors it owns; the probe exists to
        // make exactly these calls (the raw syscall's arguments are all 0).
        unsafe {
        match args.action.as_str() {
            "read" => {
                let fd = libc::open(c(&arg)?.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    -1
                } else {
                    let mut b = [0u8; 1];
                    libc::read(fd, b.as_mut_ptr().cast(), 1) as i64
                }
            }
            "write" => {
                let fd = libc::open(
                    c(&arg)?.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
                    0o600,
                );
                if fd < 0 {
                    -1
                } else {
                    libc::write(fd, b"x".as_ptr().cast(), 1) as i64
                }
            }
            // mkdirat, as the dispatcher makes it (glibc's mkdir is SYS_mkdir).
            "mkdir" => i64::from(libc::mkdirat(libc::AT_FDCWD, c(&arg)?.as_ptr(), 0o700)),
            "syscall" => libc::syscall(num(&arg)? as libc::c_long, 0, 0, 0, 0, 0, 0),
            "exec" => {
                let p = c(&arg)?;
                let argv = [p.as_ptr(), std::ptr::null()];
                let envp = [std::ptr::null()];
                i64::from(libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr()))
            }
            "tiocsti" => i64::from(libc::ioctl(0, libc::TIOCSTI, b"x".as_ptr())),
            "kvm-ioctl" => i64::from(libc::ioctl(kvm.as_raw_fd(), num(&arg)? as _, 0)),
            other => bail!("unknown probe action {other}"),
        }
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let name = syscalls::Errno::new(e).name().unwrap_or("E?");
        println!("err {name}");
    } else {
        println!("ok");
    }
    Ok(ExitCode::SUCCESS)
}
