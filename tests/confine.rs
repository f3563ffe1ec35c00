//! kvmcage confines itself before the guest's first instruction: no new
//! privileges, a seccomp-bpf allow-list on every thread (anything else is
//! SIGSYS), landlock (the host filesystem only beneath the --mount and
//! --tmpfs directories, writable only where they are), and no inherited
//! descriptors but 0, 1 and 2. `--no-confine` turns all of it off.
//!
//! Most checks use the hidden `kvmcage confine-probe [MOUNTS] ACTION [ARG]`,
//! which confines itself exactly as a run does and then performs one host
//! operation, printing `ok` or `err ENAME` (or dying of SIGSYS). Each is
//! also made with --no-confine, so a check fails if the confinement is not
//! what refuses. The rest look at a real run from outside, in /proc.

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

/// A directory for one test: target/confine-test/NAME-PID, fresh at the
/// start, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let d = root()
            .join("target/confine-test")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        // Canonical, so it compares with what /proc shows.
        Self(std::fs::canonicalize(&d).unwrap())
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    /// `self/p` as a string, for a command line.
    fn s(&self, p: &str) -> String {
        self.join(p).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `kvmcage confine-probe OPTS ACTION`, stdin /dev/null, no core dump when
/// it dies of SIGSYS (the tests run in the source tree).
fn probe_cmd(opts: &[&str], action: &[&str]) -> Command {
    let mut cmd = Command::new(kvmcage());
    cmd.arg("confine-probe")
        .args(opts)
        .args(action)
        .stdin(Stdio::null());
    let no_core = || {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a valid pointer to a filled rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec and only
    // calls setrlimit, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(no_core);
    }
    cmd
}

fn probe(opts: &[&str], action: &[&str]) -> Output {
    probe_cmd(opts, action)
        .output()
        .expect("spawn kvmcage confine-probe")
}

/// How a probe ended, for messages.
fn describe(o: &Output) -> String {
    format!(
        "{}, stdout {:?}, stderr {:?}",
        match (o.status.code(), o.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (_, Some(s)) => format!("signal {s}"),
            _ => "?".into(),
        },
        text(&o.stdout),
        text(&o.stderr).lines().take(3).collect::<Vec<_>>()
    )
}

/// Seccomp killed the probe: SIGSYS, before it printed anything.
fn killed(o: &Output) -> bool {
    o.status.signal() == Some(libc::SIGSYS) && o.stdout.is_empty()
}

/// The probe exited 0; its one result line (`ok` or `err ENAME`), after any
/// `tmpfs HOSTPATH` lines.
fn answer(o: &Output, what: &str) -> String {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", describe(o));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with("tmpfs ")).collect();
    assert_eq!(lines.len(), 1, "{what}: one result line: {}", describe(o));
    lines[0].to_owned()
}

/// The probe with OPTS answers ACTION with `want`.
fn check(opts: &[&str], action: &[&str], want: &str) {
    let what = format!("{opts:?} {action:?}");
    assert_eq!(answer(&probe(opts, action), &what), want, "{what}");
}

/// The host directories of the probe's --tmpfs mounts.
fn tmpfs_dirs(o: &Output) -> Vec<PathBuf> {
    text(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("tmpfs "))
        .map(PathBuf::from)
        .collect()
}

/// The value of `Name:` in a /proc status file.
fn field(status: &str, name: &str) -> Option<String> {
    status.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
    })
}

/// `kvmcage info`'s `landlock:` line.
fn landlock_line() -> String {
    let out = Command::new(kvmcage()).arg("info").output().unwrap();
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .find(|l| l.starts_with("landlock:"))
        .unwrap_or_else(|| panic!("no landlock: line in kvmcage info:\n{}", text(&out.stdout)))
        .to_owned()
}

/// Landlock is enforced on this machine; if not, say why the landlock
/// checks are skipped.
fn landlock_available() -> bool {
    let line = landlock_line();
    if line.contains("not available") {
        eprintln!("skipping the landlock checks: kvmcage info says {line:?}");
        false
    } else {
        true
    }
}

/// A `kvmcage run` of images/stdin.c (it echoes stdin until EOF) with stdin
/// kept open; killed if the test ends while it runs.
struct Running {
    child: Child,
    out: ChildStdout,
}

impl Running {
    /// Spawn `cmd` and wait until the guest has echoed a line back: the
    /// guest has run, so kvmcage has confined itself by then.
    fn start(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kvmcage");
        let out = child.stdout.take().unwrap();
        let mut r = Running { child, out };
        let _ = r.child.stdin.as_mut().unwrap().write_all(b"ping\n");
        let mut echo = [0u8; 5];
        // Bounded: --timeout ends a run that never echoes, and stdout ends.
        if r.out.read_exact(&mut echo).is_err() || echo != *b"ping\n" {
            let (st, rest, err) = r.finish();
            panic!(
                "the guest never echoed its input: {st:?}, echo {:?} then {rest:?}, stderr {err:?}",
                text(&echo)
            );
        }
        r
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The run's threads, once there are at least two (the vCPU thread and
    /// the --timeout watchdog); waits up to about 5 s for them.
    fn threads(&self) -> Vec<u32> {
        let task = format!("/proc/{}/task", self.pid());
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let tids: Vec<u32> = std::fs::read_dir(&task)
                .map(|rd| {
                    rd.flatten()
                        .filter_map(|e| e.file_name().to_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            if tids.len() >= 2 || Instant::now() >= end {
                return tids;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Close stdin (the program then prints its count and exits) and wait:
    /// the status, the rest of stdout, stderr.
    fn finish(&mut self) -> (ExitStatus, String, String) {
        drop(self.child.stdin.take());
        let mut rest = Vec::new();
        let _ = self.out.read_to_end(&mut rest);
        let mut err = Vec::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_end(&mut err);
        }
        let st = self.child.wait().expect("wait for kvmcage");
        (st, text(&rest), text(&err))
    }

    /// `finish`, and require the run to have ended as natively.
    fn finish_normally(mut self, what: &str) {
        let (st, rest, err) = self.finish();
        assert!(st.success(), "{what}: {st:?}, stderr {err:?}");
        assert_eq!(rest, "read 5 bytes, last result 0\n", "{what}: {err}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `kvmcage run --timeout 20 [OPTS] stdin`.
fn stdin_run(opts: &[&str]) -> Command {
    let mut cmd = Command::new(kvmcage());
    cmd.args(["run", "--timeout", "20"])
        .args(opts)
        .arg(image("stdin", Flavor::Gcc));
    cmd
}

// ------------------------------------------------------------------ tests

#[test]
fn every_thread_is_confined_during_a_run() {
    require_kvm();
    // What this test process already has (a container may run everything
    // under a seccomp filter): --no-confine must add nothing to it.
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let own_seccomp = field(&own, "Seccomp").expect("Seccomp: in /proc/self/status");
    let own_filters = field(&own, "Seccomp_filters");

    for confine in [true, false] {
        let what = if confine { "confined" } else { "--no-confine" };
        let opts: &[&str] = if confine { &[] } else { &["--no-confine"] };
        let run = Running::start(stdin_run(opts));
        let tids = run.threads();
        assert!(
            tids.len() >= 2,
            "{what}: expected the vCPU and the watchdog thread, found {tids:?}"
        );
        let mut seen = 0;
        for tid in &tids {
            let path = format!("/proc/{}/task/{tid}/status", run.pid());
            // A thread may end between the listing and the read.
            let Ok(st) = std::fs::read_to_string(&path) else {
                continue;
            };
            seen += 1;
            let nnp = field(&st, "NoNewPrivs");
            let seccomp = field(&st, "Seccomp");
            let filters = field(&st, "Seccomp_filters");
            if confine {
                assert_eq!(
                    nnp.as_deref(),
                    Some("1"),
                    "{what}: thread {tid}: NoNewPrivs"
                );
                assert_eq!(
                    seccomp.as_deref(),
                    Some("2"),
                    "{what}: thread {tid}: Seccomp"
                );
                if let (Some(f), Some(o)) = (&filters, &own_filters) {
                    assert!(
                        f.parse::<u64>().unwrap() > o.parse::<u64>().unwrap(),
                        "{what}: thread {tid}: no filter of its own ({f} filters, this test has {o})"
                    );
                }
            } else {
                assert_eq!(
                    seccomp.as_deref(),
                    Some(own_seccomp.as_str()),
                    "{what}: thread {tid}: Seccomp"
                );
                if let (Some(f), Some(o)) = (&filters, &own_filters) {
                    assert_eq!(f, o, "{what}: thread {tid}: Seccomp_filters");
                }
            }
        }
        assert!(
            seen >= 2,
            "{what}: read the status of {seen} threads of {tids:?}"
        );
        run.finish_normally(what);
    }
}

#[test]
fn inherited_descriptors_are_closed() {
    require_kvm();
    let dir = Scratch::new("fds");
    let marker = dir.join("inherited");
    std::fs::write(&marker, "marker\n").unwrap();
    let file = std::fs::File::open(&marker).unwrap();
    let src = file.as_raw_fd();

    for confine in [true, false] {
        let what = if confine { "confined" } else { "--no-confine" };
        let opts: &[&str] = if confine { &[] } else { &["--no-confine"] };
        let mut cmd = stdin_run(opts);
        let inherit = move || {
            for to in [7, 100] {
                // SAFETY: src is open (close-on-exec only) in the child;
                // `to` is replaced, which is what we want.
                if unsafe { libc::dup2(src, to) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // dup2(fd, fd) leaves close-on-exec set: clear it.
                // SAFETY: `to` is open.
                if unsafe { libc::fcntl(to, libc::F_SETFD, 0) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        };
        // SAFETY: the closure runs in the forked child before exec and only
        // calls dup2 and fcntl, which are async-signal-safe.
        unsafe {
            cmd.pre_exec(inherit);
        }
        let run = Running::start(cmd);
        run.threads();
        let fd_dir = PathBuf::from(format!("/proc/{}/fd", run.pid()));
        let mut all = Vec::new();
        let mut marked = Vec::new();
        for e in std::fs::read_dir(&fd_dir)
            .unwrap_or_else(|e| panic!("{what}: cannot list {}: {e}", fd_dir.display()))
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if std::fs::read_link(e.path()).ok().as_deref() == Some(marker.as_path()) {
                marked.push(name.clone());
            }
            all.push(name);
        }
        // We can see kvmcage's descriptors at all.
        assert!(
            all.iter().any(|n| n == "0"),
            "{what}: no fd 0 in {}: {all:?}",
            fd_dir.display()
        );
        marked.sort();
        if confine {
            // Another file may take the number 7 later; the inherited one
            // must be gone from every number.
            assert_eq!(
                marked,
                Vec::<String>::new(),
                "{what}: kvmcage still holds the inherited file (all: {all:?})"
            );
        } else {
            assert_eq!(
                marked,
                ["100", "7"],
                "{what}: the inherited descriptors (all: {all:?})"
            );
        }
        run.finish_normally(what);
    }
    drop(file);
}

#[test]
fn forbidden_syscalls_kill_with_sigsys() {
    require_kvm();
    let forbidden = [
        (41, "socket"),
        (101, "ptrace"),
        (59, "execve"),
        (165, "mount"),
        (166, "umount2"),
        (321, "bpf"),
        (310, "process_vm_readv"),
        (311, "process_vm_writev"),
        (175, "init_module"),
        (313, "finit_module"),
        (246, "kexec_load"),
        (320, "kexec_file_load"),
        (272, "unshare"),
        (308, "setns"),
        (155, "pivot_root"),
        (161, "chroot"),
        (250, "keyctl"),
        (248, "add_key"),
        (298, "perf_event_open"),
        (323, "userfaultfd"),
        (425, "io_uring_setup"),
        (304, "open_by_handle_at"),
        (57, "fork"),
        (58, "vfork"),
        // clone without CLONE_THREAD (all arguments 0): a process.
        (56, "clone"),
        // socket of any family but AF_UNIX (here AF_UNSPEC, 0): no network.
        (41, "socket"),
        (53, "socketpair"),
        (135, "personality"),
    ];
    let mut failures = Vec::new();
    for (nr, name) in forbidden {
        let o = probe(&[], &["syscall", &nr.to_string()]);
        if !killed(&o) {
            failures.push(format!("{name} ({nr}): {}", describe(&o)));
        }
    }
    for (action, what) in [
        (&["exec", "/bin/true"][..], "execve of /bin/true"),
        (&["tiocsti"][..], "ioctl TIOCSTI"),
        (&["kvm-ioctl", "0xAE01"][..], "ioctl KVM_CREATE_VM"),
    ] {
        let o = probe(&[], action);
        if !killed(&o) {
            failures.push(format!("{what}: {}", describe(&o)));
        }
    }
    assert!(
        failures.is_empty(),
        "not killed by SIGSYS:\n{}",
        failures.join("\n")
    );

    // What a run needs is let through.
    assert_eq!(answer(&probe(&[], &["syscall", "39"]), "getpid"), "ok");
    // clone3 hides its flags from the filter: ENOSYS, so libc falls back
    // to clone, whose flags the filter checks.
    assert_eq!(
        answer(&probe(&[], &["syscall", "435"]), "clone3"),
        "err ENOSYS"
    );
    // KVM_RUN on the /dev/kvm descriptor fails (it is not a vCPU), but the
    // filter lets the request through: KVM_CREATE_VM is refused by request.
    let r = answer(&probe(&[], &["kvm-ioctl", "0xAE80"]), "ioctl KVM_RUN");
    assert!(r == "ok" || r.starts_with("err "), "ioctl KVM_RUN: {r:?}");

    // Without confinement the same calls are made, so it is the filter that
    // kills.
    let free = ["--no-confine"];
    assert_eq!(
        answer(&probe(&free, &["syscall", "39"]), "--no-confine getpid"),
        "ok"
    );
    for nr in ["41", "272"] {
        let o = probe(&free, &["syscall", nr]);
        let r = answer(&o, &format!("--no-confine syscall {nr}"));
        assert!(
            r == "ok" || r.starts_with("err "),
            "--no-confine syscall {nr}: {r:?}"
        );
    }
    let o = probe(&free, &["exec", "/bin/true"]);
    assert!(
        o.status.success() && o.stdout.is_empty(),
        "--no-confine exec /bin/true: {}",
        describe(&o)
    );
    let r = answer(&probe(&free, &["tiocsti"]), "--no-confine tiocsti");
    assert!(
        r.starts_with("err "),
        "--no-confine tiocsti on /dev/null: {r:?}"
    );
    assert_eq!(
        answer(
            &probe(&free, &["kvm-ioctl", "0xAE01"]),
            "--no-confine KVM_CREATE_VM"
        ),
        "ok"
    );
}

#[test]
fn landlock_limits_the_host_filesystem() {
    require_kvm();
    let d = Scratch::new("landlock");
    std::fs::write(d.join("in.txt"), "input\n").unwrap();
    let ro = format!("{}:/data:ro", d.path().display());
    let rw = format!("{}:/data:rw", d.path().display());
    let (ro, rw) = (["--mount", ro.as_str()], ["--mount", rw.as_str()]);

    if landlock_available() {
        // Read-only mount: read beneath it, change nothing.
        check(&ro, &["read", &d.s("in.txt")], "ok");
        check(&ro, &["write", &d.s("new.txt")], "err EACCES");
        assert!(
            !d.join("new.txt").exists(),
            "created through a read-only mount"
        );
        check(&ro, &["write", &d.s("in.txt")], "err EACCES");
        assert_eq!(
            std::fs::read_to_string(d.join("in.txt")).unwrap(),
            "input\n",
            "truncated through a read-only mount"
        );
        check(&ro, &["mkdir", &d.s("sub")], "err EACCES");
        assert!(!d.join("sub").exists(), "mkdir through a read-only mount");
        check(&ro, &["read", "/etc/passwd"], "err EACCES");

        // Writable mount: read and write beneath it, nothing outside.
        check(&rw, &["read", &d.s("in.txt")], "ok");
        check(&rw, &["write", &d.s("new.txt")], "ok");
        assert_eq!(
            std::fs::metadata(d.join("new.txt")).map(|m| m.len()).ok(),
            Some(1),
            "the write through the writable mount"
        );
        check(&rw, &["mkdir", &d.s("sub")], "ok");
        assert!(d.join("sub").is_dir(), "mkdir through the writable mount");
        check(&rw, &["read", "/etc/passwd"], "err EACCES");
        let outside =
            Path::new("/tmp").join(format!("kvmcage-confine-outside-{}", std::process::id()));
        let _ = std::fs::remove_file(&outside);
        let r = answer(
            &probe(&rw, &["write", outside.to_str().unwrap()]),
            "write outside every mount",
        );
        let created = outside.exists();
        let _ = std::fs::remove_file(&outside);
        assert_eq!(r, "err EACCES", "write {}", outside.display());
        assert!(!created, "{} was created", outside.display());

        // A --tmpfs directory's parent is not writable.
        let tmp = Scratch::new("tmpdir-beside");
        let o = probe_cmd(&["--tmpfs", "/scratch"], &["write", &tmp.s("beside")])
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        assert_eq!(answer(&o, "write beside a tmpfs"), "err EACCES");
        assert!(!tmp.join("beside").exists(), "written beside a tmpfs");

        // Without confinement the same operations succeed: it is landlock
        // that refuses.
        check(&["--no-confine"], &["read", "/etc/passwd"], "ok");
        let free_ro = ["--no-confine", ro[0], ro[1]];
        check(&free_ro, &["write", &d.s("free.txt")], "ok");
        assert!(d.join("free.txt").exists(), "--no-confine write");
    }

    // The --tmpfs directory is made under TMPDIR and removed when the
    // probe ends, although the process that removes it is confined.
    let tmp = Scratch::new("tmpdir");
    let o = probe_cmd(&["--tmpfs", "/scratch"], &["syscall", "39"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(answer(&o, "--tmpfs getpid"), "ok");
    let dirs = tmpfs_dirs(&o);
    assert_eq!(dirs.len(), 1, "one tmpfs line: {}", describe(&o));
    assert!(
        dirs[0].starts_with(tmp.path()),
        "the tmpfs directory {} is not under TMPDIR {}",
        dirs[0].display(),
        tmp.path().display()
    );
    assert!(!dirs[0].exists(), "{} left behind", dirs[0].display());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");

    // A confined run writes and reads beneath its --tmpfs directory (the
    // probe cannot be told a path inside one: it is made fresh each time).
    let out = run_cage(
        &["--tmpfs", "/scratch"],
        &image("hostile/tmpfs", Flavor::Musl),
        &["hold", "/scratch"],
        b"",
    );
    assert_eq!(
        (status(&out), text(&out.stdout).as_str()),
        (0, "ready\ndone\n"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn info_reports_confinement() {
    require_kvm();
    let out = Command::new(kvmcage()).arg("info").output().unwrap();
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for key in ["landlock:", "seccomp:"] {
        assert!(
            s.lines().any(|l| l.starts_with(key) && l.len() > key.len()),
            "no {key} line in kvmcage info:\n{s}"
        );
    }
}

#[test]
fn a_traced_run_still_works_confined() {
    require_kvm();
    let d = Scratch::new("traced");
    let native_dir = d.join("native");
    std::fs::create_dir(&native_dir).unwrap();
    let trace = d.join("trace.txt");
    let bin = image("fileio", Flavor::Gcc);
    let native = Command::new(&bin)
        .arg(&native_dir)
        .env_clear()
        .output()
        .unwrap();
    let cage = run_cage(
        &["--trace-file", trace.to_str().unwrap(), "--tmpfs", "/t"],
        &bin,
        &["/t"],
        b"",
    );
    assert_eq!(
        text(&cage.stdout),
        text(&native.stdout),
        "{}",
        text(&cage.stderr)
    );
    assert_eq!(status(&cage), status(&native), "{}", text(&cage.stderr));
    // Opened before confinement, written to the end after it.
    let t = std::fs::read_to_string(&trace).unwrap_or_default();
    assert!(!t.is_empty(), "the trace file is empty");
    assert!(
        t.contains("exit_group("),
        "the trace has no exit_group:\n{t}"
    );
}

/// A stopped and continued kvmcage (Ctrl-Z and fg, a debugger attaching)
/// resumes its interrupted sleeps through restart_syscall, which the filter
/// must let through: the run still ends by its --timeout, not by SIGSYS.
#[test]
fn stop_and_continue_survive_the_filter() {
    require_kvm();
    let mut child = Command::new(kvmcage())
        .args(["run", "--timeout", "2"])
        .arg(image("blockers", Flavor::Gcc))
        .arg("sleep")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kvmcage");
    let mut out = child.stdout.take().expect("stdout");
    let mut line = [0u8; 17];
    out.read_exact(&mut line).expect("the guest's first line");
    assert_eq!(&line, b"blocking in sleep");
    let pid = child.id() as libc::pid_t;
    // SAFETY: signals to our own child, which has not been reaped.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(124),
        "{status:?}: a stopped and continued run must still end by its timeout"
    );
}
