//! The command line as a user meets it: exit statuses, error lines, limits,
//! `info`, `bench`, `--stats`.

mod common;
use common::*;
use std::process::Command;

fn one_error_line(out: &std::process::Output, code: i32, needle: &str) {
    assert_eq!(status(out), code, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "exactly one line: {err}");
    assert!(
        err.starts_with("kvmcage: ") && err.contains(needle),
        "{err}"
    );
}

#[test]
/// As timeout(1): 126 for a program that cannot run, 127 for one that is
/// not there, 125 for kvmcage's own failure; one line saying what.
fn bad_programs_give_126_127_125_and_one_line() {
    require_kvm();
    let dir = root().join("target/cli-test");
    std::fs::create_dir_all(&dir).unwrap();
    let hello = std::fs::read(image("hello", Flavor::Gcc)).unwrap();
    // Written executable, as a program is (Linux: EACCES otherwise).
    let write_exe = |p: &std::path::Path, data: &[u8]| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(p, data).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };

    let text_file = dir.join("notes.txt");
    write_exe(&text_file, b"echo hi\n");
    one_error_line(&run_cage(&[], &text_file, &[], b""), 126, "not an ELF file");

    let script = dir.join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    one_error_line(&run_cage(&[], &script, &[], b""), 126, "Permission denied");
    one_error_line(&run_cage(&[], &dir, &[], b""), 126, "Permission denied");

    let truncated = dir.join("truncated");
    write_exe(&truncated, &hello[..100]);
    one_error_line(&run_cage(&[], &truncated, &[], b""), 126, "malformed ELF");

    let mut short = hello.clone();
    short.truncate(hello.len() / 2);
    let half = dir.join("half");
    write_exe(&half, &short);
    one_error_line(&run_cage(&[], &half, &[], b""), 126, "truncated");

    let mut b32 = hello.clone();
    b32[4] = 1; // ELFCLASS32
    let elf32 = dir.join("elf32");
    write_exe(&elf32, &b32);
    one_error_line(&run_cage(&[], &elf32, &[], b""), 126, "32-bit ELF");

    let mut arm = hello.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    let aarch64 = dir.join("aarch64");
    write_exe(&aarch64, &arm);
    one_error_line(
        &run_cage(&[], &aarch64, &[], b""),
        126,
        "x86-64 programs only",
    );

    one_error_line(
        &run_cage(&[], &dir.join("does-not-exist"), &[], b""),
        127,
        "No such file",
    );
    // Not found in the guest's PATH.
    one_error_line(
        &run_cage(&[], std::path::Path::new("no-such-command-here"), &[], b""),
        127,
        "not found in the sandbox's PATH",
    );
    // Dynamically linked, with no system to load its interpreter from.
    one_error_line(
        &run_cage(
            &["--no-system"],
            std::path::Path::new("/bin/true"),
            &[],
            b"",
        ),
        127,
        "ELF interpreter /lib64/ld-linux-x86-64.so.2 is not in the sandbox's view",
    );
    one_error_line(
        &run_cage(&["--mem", "1M"], &image("hello", Flavor::Gcc), &[], b""),
        125,
        "guest memory size",
    );
}

#[test]
fn bad_options_give_125() {
    let out = Command::new(kvmcage())
        .args(["run", "--bogus", "x"])
        .output()
        .unwrap();
    assert_eq!(status(&out), 125);
    let out = Command::new(kvmcage())
        .args(["run", "--env", "NOEQUALS", "x"])
        .output()
        .unwrap();
    assert_eq!(status(&out), 125);
    let out = Command::new(kvmcage()).arg("--help").output().unwrap();
    assert_eq!(status(&out), 0);
    assert!(text(&out.stdout).contains("Usage: kvmcage <COMMAND>"));
}

#[test]
fn program_too_big_for_mem_is_125() {
    require_kvm();
    // malloc.c touches 64 MiB: with 8 MiB of guest memory the allocation
    // fails inside the program (it prints and exits 1), not in the host.
    let out = run_cage(&["--mem", "8M"], &image("malloc", Flavor::Musl), &[], b"");
    assert_eq!(status(&out), 1, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "big malloc failed\n");
}

#[test]
fn timeout_stops_a_spinning_guest_with_124() {
    require_kvm();
    let dir = root().join("target/cli-test");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("spin.c");
    std::fs::write(
        &src,
        "int main(void){ volatile unsigned long i = 0; for (;;) i++; }\n",
    )
    .unwrap();
    let bin = dir.join("spin");
    assert!(Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .unwrap()
        .success());
    let out = run_cage(&["--timeout", "0.5"], &bin, &[], b"");
    assert_eq!(status(&out), 124);
    assert_eq!(
        cage_lines(&out),
        ["kvmcage: time limit of 0.5s exceeded; the program was stopped"]
    );
    // A guest blocked in a host call (reading a stdin that never ends).
    let mut child = std::process::Command::new(kvmcage())
        .args(["run", "--timeout", "0.5"])
        .arg(image("stdin", Flavor::Gcc))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _keep_open = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
}

#[test]
fn one_exit_per_syscall_and_vdso_clock_makes_none() {
    require_kvm();
    for flavor in FLAVORS {
        let bin = image("clock", flavor);
        // The exit transport: every call is one exit (the exitless gate
        // makes calls with none: tests/exitless.rs).
        let opts = ["--stats", "--transport", "exit"];
        let few = run_cage(&opts, &bin, &["10"], b"");
        let many = run_cage(&opts, &bin, &["200000"], b"");
        assert_eq!(status(&many), 0);
        let stats = |o: &std::process::Output| {
            let line = cage_lines(o)
                .into_iter()
                .find(|l| l.contains("syscalls"))
                .expect("stats line");
            let n: Vec<u64> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .take(2)
                .map(|s| s.parse().unwrap())
                .collect();
            (n[0], n[1])
        };
        let (s_few, e_few) = stats(&few);
        let (s_many, e_many) = stats(&many);
        assert_eq!(s_few, s_many, "{flavor:?}: clock_gettime left the guest");
        assert_eq!(e_many, s_many, "{flavor:?}: one exit per syscall");
        assert_eq!(e_few, s_few);
        // The vDSO's realtime clock agrees with the host's.
        let host_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        let guest: i64 = text(&many.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("realtime_ns "))
            .expect("realtime line")
            .parse()
            .unwrap();
        assert!(
            (host_now - guest).abs() < 2_000_000_000,
            "{flavor:?}: guest clock off by {} ns",
            host_now - guest
        );
    }
}

#[test]
fn info_reports_backend_and_entry_paths() {
    require_kvm();
    let out = Command::new(kvmcage()).arg("info").output().unwrap();
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("KVM API version: 12"), "{s}");
    let pvm = std::path::Path::new("/sys/module/kvm_pvm").exists();
    if pvm {
        assert!(s.contains("backend: kvm_pvm"), "{s}");
        assert!(
            s.contains("entry path of `syscall`: syscall (#PF at LSTAR fallback)"),
            "{s}"
        );
        assert!(
            s.contains("entry path of `int 0x80`: int 0x80 (#UD fallback)"),
            "{s}"
        );
        assert!(
            s.contains("syscall transport of `run`: the exitless gate"),
            "{s}"
        );
    } else {
        assert!(s.contains("backend: hardware"), "{s}");
        assert!(
            s.contains("entry path of `syscall`: syscall (LSTAR, CPL 0)"),
            "{s}"
        );
        assert!(
            s.contains("entry path of `int 0x80`: int 0x80 (DPL-3 gate)"),
            "{s}"
        );
        assert!(s.contains("no exitless gate"), "{s}");
    }
}

#[test]
fn strict_entry_fails_on_kvm_pvm_and_works_on_hardware() {
    require_kvm();
    let bin = image("hello", Flavor::Gcc);
    let out = run_cage(&["--entry", "strict"], &bin, &[], b"");
    if std::path::Path::new("/sys/module/kvm_pvm").exists() {
        // The first syscall takes the #PF fallback, which strict refuses.
        assert_eq!(status(&out), 139, "{}", text(&out.stderr));
        let lines = cage_lines(&out);
        assert!(
            lines[0].contains("page fault on execute at 0xffffffff80000000"),
            "{lines:?}"
        );
    } else {
        assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    }
}

#[test]
fn bench_runs_and_its_json_has_every_row() {
    require_kvm();
    let json = root().join("target/cli-test/bench.json");
    let svg = root().join("target/cli-test/bench.svg");
    std::fs::create_dir_all(json.parent().unwrap()).unwrap();
    let out = Command::new(kvmcage())
        .args(["bench", "--iterations", "50", "--runs", "2", "--json"])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["mechanism"].as_str().unwrap())
        .collect();
    for want in [
        "guest: syscall getpid (host round trip)",
        "guest: null syscall answered by the stub",
        "guest: int 0x80 getpid (host round trip)",
        "guest: clock_gettime via vDSO",
        "guest: clock_gettime via syscall",
        "guest: bare hypercall (no dispatch)",
        "guest: sysenter",
        "host: syscall getpid",
        "host: int 0x80 getpid",
        "host: clock_gettime via vDSO",
        "guest: signal kill(self)->handler->sigreturn",
        "host: signal kill(self)->handler->sigreturn",
        "guest: fork + _exit + wait4",
        "host: fork + _exit + wait4",
        "guest: vfork + execve + wait4",
        "host: vfork + execve + wait4",
        "guest: 3-process pipeline, 64 MiB",
        "host: 3-process pipeline, 64 MiB",
        "guest: thread clone + exit + join",
        "host: thread clone + exit + join",
        "guest: compute, 1 thread",
        "host: compute, 1 thread",
        "guest: compute, 2 threads",
        "host: compute, 2 threads",
        "guest, gate: getpid in a loop",
        "guest, exit: getpid in a loop",
        "host: getpid in a loop",
        "guest, gate: 4 KiB pread64 of a host file",
        "guest, exit: 4 KiB pread64 of a host file",
        "host: 4 KiB pread64 of a host file",
        "guest, gate: pipe: 1-byte write + read (may block)",
        "guest, exit: pipe: 1-byte write + read (may block)",
        "host: pipe: 1-byte write + read (may block)",
    ] {
        assert!(names.contains(&want), "missing row {want}: {names:?}");
    }
    // The process and thread rows ran (procbench checks its children's
    // statuses and the bytes the pipeline moved, and a failure leaves no
    // figure); the two-thread rows carry their speed-up over one thread.
    for r in rows.iter().filter(|r| {
        let m = r["mechanism"].as_str().unwrap();
        m.contains("fork")
            || m.contains("thread")
            || m.contains("loop")
            || m.contains("pread64")
            || m.contains("pipe:")
    }) {
        assert!(r["ns_per_call"].as_f64().unwrap() > 0.0, "{r}");
    }
    for side in ["guest", "host"] {
        let r = rows
            .iter()
            .find(|r| r["mechanism"] == format!("{side}: compute, 2 threads"))
            .unwrap();
        assert!(
            r["note"]
                .as_str()
                .unwrap()
                .contains("speed-up over 1 thread"),
            "{r}"
        );
    }
    let row = |n: &str| rows.iter().find(|r| r["mechanism"] == n).unwrap();
    assert_eq!(
        row("guest: syscall getpid (host round trip)")["exits_per_call"],
        1.0
    );
    assert_eq!(row("guest: clock_gettime via vDSO")["exits_per_call"], 0.0);
    // kill and the handler's rt_sigreturn: two exits a round, so the
    // handler ran every time.
    assert_eq!(
        row("guest: signal kill(self)->handler->sigreturn")["exits_per_call"],
        2.0
    );
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("guest: clock_gettime via vDSO"));
}

fn build_c(name: &str, src: &str) -> std::path::PathBuf {
    let dir = root().join("target/cli-test");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let bin = dir.join(name);
    // Tests run in parallel: build under a private name, then rename, so no
    // test ever runs a half-written binary.
    let tmp = dir.join(format!(".{name}.{:?}", std::thread::current().id()));
    assert!(Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&tmp)
        .arg(&c)
        .status()
        .unwrap()
        .success());
    std::fs::rename(&tmp, &bin).unwrap();
    bin
}

const YES: &str =
    "#include <stdio.h>\nint main(void){ for (long i = 0;; i++) printf(\"line %ld\\n\", i); }\n";

#[test]
fn max_output_stops_the_run_at_the_limit() {
    require_kvm();
    let bin = build_c("yes-output", YES);
    let out = run_cage(&["--max-output", "10K"], &bin, &[], b"");
    assert_eq!(status(&out), 124);
    assert_eq!(out.stdout.len(), 10240);
    assert!(text(&out.stdout).starts_with("line 0\nline 1\n"));
    assert_eq!(
        cage_lines(&out),
        ["kvmcage: output limit of 10240 bytes exceeded; the program was stopped"]
    );
}

#[test]
fn max_file_size_is_rlimit_fsize_with_sigxfsz() {
    require_kvm();
    let bin = build_c("yes-fsize", YES);
    let path = root().join("target/cli-test/fsize.out");
    let f = std::fs::File::create(&path).unwrap();
    let out = Command::new(kvmcage())
        .args(["run", "--max-file-size", "1000"])
        .arg(&bin)
        .stdout(f)
        .output()
        .unwrap();
    assert_eq!(status(&out), 128 + 25, "SIGXFSZ: {}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1000);
    assert_eq!(cage_lines(&out), ["kvmcage: guest killed by SIGXFSZ"]);
}

#[test]
fn max_fds_is_rlimit_nofile() {
    require_kvm();
    let bin = image("hostile/fdmax", Flavor::Gcc);
    let out = run_cage(&["--max-fds", "64"], &bin, &[], b"");
    let s = text(&out.stdout);
    // Raising the hard limit past 64 is EPERM, as for an unprivileged process.
    assert!(
        s.starts_with("setrlimit: -1\nopen before failure: 64, errno Too many open files\n"),
        "{s}"
    );
}

#[test]
fn verbose_adds_a_register_dump_to_a_fault_report() {
    require_kvm();
    let out = run_cage(&["--verbose"], &image("segv", Flavor::Gcc), &[], b"");
    assert_eq!(status(&out), 139);
    let err = text(&out.stderr);
    assert!(err.contains("registers: rax="), "{err}");
    assert!(err.contains("kvmcage: guest killed by SIGSEGV"), "{err}");
}

/// `kvmcage run yes 2>&1 | head -1`: once the reader is gone the program
/// dies of SIGPIPE, and kvmcage's own report line to the same closed pipe
/// is lost quietly; the status is the program's (141), as natively. It
/// used to panic on the report and die of the confinement's SIGSYS (159).
#[test]
fn a_closed_stderr_pipe_ends_as_natively() {
    require_kvm();
    let yes = build_c("yes_pipe", YES);
    let piped = |cmd: String| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "{cmd} 2>&1 | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
            ))
            .output()
            .expect("bash");
        text(&out.stdout).trim().to_string()
    };
    let native = piped(format!("{}", yes.display()));
    let cage = piped(format!("{} run {}", kvmcage().display(), yes.display()));
    assert_eq!(native, "141", "native status");
    assert_eq!(cage, native);
}
