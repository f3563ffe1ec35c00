//! The grader interface: `--result FILE` / `--result-fd N` (one line of
//! JSON per run), `--cpu-time`, the timeout(1) exit statuses (124, 125,
//! 126, 127), `--stdin`/`--stdout`/`--stderr`, `--quiet`, options ending at
//! PROGRAM, and the time and size forms. The programs are images/grader/.

mod common;
use common::*;
use serde_json::Value;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Every field of the result, in order.
const FIELDS: [&str; 15] = [
    "status",
    "exit_code",
    "signal",
    "signal_name",
    "report",
    "wall_time_s",
    "cpu_time_s",
    "user_time_s",
    "sys_time_s",
    "peak_memory_kib",
    "memory_limit_hit",
    "output_bytes",
    "syscalls",
    "exits",
    "kvmcage_exit_code",
];

/// A fresh path under target/result-test (removed if it was there).
fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target/result-test");
    std::fs::create_dir_all(&dir).expect("create target/result-test");
    let p = dir.join(name);
    if p.is_dir() {
        let _ = std::fs::remove_dir_all(&p);
    } else {
        let _ = std::fs::remove_file(&p);
    }
    p
}

fn grader(name: &str) -> PathBuf {
    image(&format!("grader/{name}"), Flavor::Gcc)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The result's text: exactly one line of JSON with every field.
fn parse(text: &str, what: &str) -> Value {
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{what}: the result is not one line: {text:?}"
    );
    let v: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what}: the result is not JSON ({e}): {text:?}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {text}"));
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = FIELDS.to_vec();
    let mut got = keys.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "{what}: fields of {text}");
    v
}

/// `kvmcage run --result FILE OPTS BIN ARGS` with `stdin`: the output and
/// the result, which must be a new 0600 file.
fn run_result(
    tag: &str,
    opts: &[&str],
    bin: &Path,
    args: &[&str],
    stdin: &[u8],
) -> (Output, Value) {
    let file = scratch(&format!("{tag}.json"));
    let mut all = vec!["--result", file.to_str().expect("utf-8 path")];
    all.extend_from_slice(opts);
    let out = run_cage(&all, bin, args, stdin);
    let json = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{tag}: no result file ({e}); exit {}, stderr: {}",
            status(&out),
            text(&out.stderr)
        )
    });
    assert_eq!(mode(&file), 0o600, "{tag}: result file mode");
    assert!(
        !text(&out.stdout).contains("\"kvmcage_exit_code\""),
        "{tag}: the result leaked into stdout"
    );
    let r = parse(&json, tag);
    check_common(tag, &r, &out);
    (out, r)
}

fn num(r: &Value, k: &str) -> f64 {
    r[k].as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number in {r}"))
}

fn int(r: &Value, k: &str) -> u64 {
    r[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not a non-negative integer in {r}"))
}

fn report(r: &Value) -> &str {
    r["report"]
        .as_str()
        .unwrap_or_else(|| panic!("no report in {r}"))
}

/// What holds for every result: the exit status, the CPU time sum, and
/// for a run that ran, counters above zero.
fn check_common(tag: &str, r: &Value, out: &Output) {
    assert_eq!(
        r["kvmcage_exit_code"].as_i64(),
        Some(i64::from(status(out))),
        "{tag}: kvmcage_exit_code vs the exit status: {r}"
    );
    let cpu = num(r, "cpu_time_s");
    let sum = num(r, "user_time_s") + num(r, "sys_time_s");
    assert!(
        (cpu - sum).abs() < 1e-6,
        "{tag}: cpu_time_s != user + sys: {r}"
    );
    assert_eq!(
        r["memory_limit_hit"].as_bool(),
        Some(r["status"] == "memory-limit"),
        "{tag}: memory_limit_hit: {r}"
    );
    match r["signal"].as_i64() {
        None => assert!(r["signal_name"].is_null(), "{tag}: {r}"),
        Some(_) => assert!(r["signal_name"].is_string(), "{tag}: {r}"),
    }
    if r["status"] != "error" {
        assert!(int(r, "syscalls") > 0, "{tag}: syscalls: {r}");
        assert!(int(r, "exits") > 0, "{tag}: exits: {r}");
        assert!(num(r, "wall_time_s") > 0.0, "{tag}: wall_time_s: {r}");
        assert!(int(r, "peak_memory_kib") > 0, "{tag}: peak_memory_kib: {r}");
    }
}

/// Status `error`: nothing ran.
fn check_error(tag: &str, r: &Value, code: i64, needle: &str) {
    assert_eq!(r["status"], "error", "{tag}: {r}");
    assert_eq!(r["kvmcage_exit_code"].as_i64(), Some(code), "{tag}: {r}");
    assert!(
        r["exit_code"].is_null() && r["signal"].is_null(),
        "{tag}: {r}"
    );
    assert!(
        report(r).contains(needle),
        "{tag}: report lacks {needle:?}: {r}"
    );
    assert_eq!(int(r, "syscalls"), 0, "{tag}: {r}");
    assert_eq!(int(r, "output_bytes"), 0, "{tag}: {r}");
}

// 1. One test per status.

#[test]
fn status_exited() {
    require_kvm();
    let input = b"Hello, grader!\nsecond line\n";
    for flavor in FLAVORS {
        let bin = image("grader/upper", flavor);
        let native = run_native(&bin, &[], input);
        assert_eq!(text(&native.stdout), "HELLO, GRADER!\nSECOND LINE\n");
        let tag = format!("exited-{}", flavor.name());
        let (out, r) = run_result(&tag, &[], &bin, &[], input);
        assert_eq!(status(&out), 0, "{tag}: {}", text(&out.stderr));
        assert_eq!(out.stdout, native.stdout, "{tag}");
        assert_eq!(out.stderr, native.stderr, "{tag}: no line of kvmcage's own");
        assert_eq!(r["status"], "exited", "{tag}: {r}");
        assert_eq!(r["exit_code"].as_i64(), Some(0), "{tag}: {r}");
        assert!(r["signal"].is_null(), "{tag}: {r}");
        assert!(r["report"].is_null(), "{tag}: {r}");
        assert_eq!(
            int(&r, "output_bytes"),
            (native.stdout.len() + native.stderr.len()) as u64,
            "{tag}: {r}"
        );
    }
}

#[test]
fn status_killed() {
    require_kvm();
    let bin = grader("segv");
    let native = run_native(&bin, &[], b"");
    assert_eq!(status(&native), 139);
    let (out, r) = run_result("killed", &[], &bin, &[], b"");
    assert_eq!(status(&out), 139, "{}", text(&out.stderr));
    assert_eq!(r["status"], "killed", "{r}");
    assert!(r["exit_code"].is_null(), "{r}");
    assert_eq!(r["signal"].as_i64(), Some(11), "{r}");
    assert_eq!(r["signal_name"], "SIGSEGV", "{r}");
    assert!(report(&r).contains("SIGSEGV"), "{r}");
    assert_eq!(
        int(&r, "output_bytes"),
        (native.stdout.len() + native.stderr.len()) as u64,
        "{r}"
    );
    // The same line as kvmcage printed.
    assert_eq!(
        cage_lines(&out),
        [format!("kvmcage: {}", report(&r))],
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn status_timeout() {
    require_kvm();
    let (out, r) = run_result("timeout", &["--timeout", "1"], &grader("spin"), &[], b"");
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    assert_eq!(r["status"], "timeout", "{r}");
    assert!(r["exit_code"].is_null() && r["signal"].is_null(), "{r}");
    assert!(report(&r).contains("time limit of 1s"), "{r}");
    assert!(num(&r, "wall_time_s") >= 0.9, "{r}");
    assert_eq!(int(&r, "output_bytes"), 0, "{r}");
}

#[test]
fn status_cpu_time_sigxcpu() {
    require_kvm();
    let (out, r) = run_result(
        "cpu-time",
        &["--cpu-time", "0.5"],
        &grader("spin"),
        &[],
        b"",
    );
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    assert_eq!(r["status"], "cpu-time", "{r}");
    assert!(r["exit_code"].is_null(), "{r}");
    assert_eq!(r["signal"].as_i64(), Some(24), "{r}");
    assert_eq!(r["signal_name"], "SIGXCPU", "{r}");
    assert!(
        report(&r).contains("0.5s") && report(&r).contains("SIGXCPU"),
        "{r}"
    );
    assert!(num(&r, "cpu_time_s") >= 0.49, "{r}");
    assert_eq!(int(&r, "output_bytes"), 0, "{r}");
}

#[test]
fn status_cpu_time_sigkill_when_sigxcpu_is_handled() {
    require_kvm();
    let bin = grader("xcpu");
    let (out, r) = run_result("cpu-time-kill", &["--cpu-time", "0.5"], &bin, &[], b"");
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "xcpu\n", "the handler ran once");
    assert_eq!(r["status"], "cpu-time", "{r}");
    assert!(r["exit_code"].is_null(), "{r}");
    assert_eq!(r["signal"].as_i64(), Some(9), "{r}");
    assert_eq!(r["signal_name"], "SIGKILL", "{r}");
    assert!(
        report(&r).contains("0.5s") && report(&r).contains("SIGKILL"),
        "{r}"
    );
    // SIGKILL one second after SIGXCPU.
    assert!(num(&r, "cpu_time_s") >= 1.45, "{r}");
    assert_eq!(int(&r, "output_bytes"), 5, "{r}");
}

#[test]
fn status_output_limit() {
    require_kvm();
    let (out, r) = run_result(
        "output-limit",
        &["--max-output", "10K"],
        &grader("flood"),
        &[],
        b"",
    );
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    assert_eq!(r["status"], "output-limit", "{r}");
    assert!(r["exit_code"].is_null() && r["signal"].is_null(), "{r}");
    assert!(report(&r).contains("10240"), "{r}");
    assert_eq!(out.stdout.len(), 10240);
    assert_eq!(int(&r, "output_bytes"), 10240, "{r}");
}

#[test]
fn status_memory_limit() {
    require_kvm();
    for flavor in FLAVORS {
        let tag = format!("memory-limit-{}", flavor.name());
        let bin = image("grader/hog", flavor);
        let (out, r) = run_result(&tag, &["--mem", "32M"], &bin, &[], b"");
        assert_eq!(status(&out), 134, "{tag}: {}", text(&out.stderr));
        assert_eq!(r["status"], "memory-limit", "{tag}: {r}");
        assert_eq!(r["memory_limit_hit"], true, "{tag}: {r}");
        assert!(r["exit_code"].is_null(), "{tag}: {r}");
        assert_eq!(r["signal"].as_i64(), Some(6), "{tag}: {r}");
        assert_eq!(r["signal_name"], "SIGABRT", "{tag}: {r}");
        assert!(report(&r).contains("SIGABRT"), "{tag}: {r}");
        let peak = int(&r, "peak_memory_kib");
        assert!(peak > 16 * 1024 && peak <= 32 * 1024, "{tag}: peak: {r}");
        assert_eq!(int(&r, "output_bytes"), 0, "{tag}: {r}");
    }
}

/// Status `error` with each of kvmcage's own exit statuses (test 5).
#[test]
fn status_error_127_126_125() {
    require_kvm();
    let missing = scratch("does-not-exist");
    let (out, r) = run_result("error-127", &[], &missing, &[], b"");
    assert_eq!(status(&out), 127, "{}", text(&out.stderr));
    check_error("missing", &r, 127, "No such file");
    assert_eq!(cage_lines(&out), [format!("kvmcage: {}", report(&r))]);

    // An executable text file without #! (Linux: ENOEXEC).
    let script = scratch("script.txt");
    std::fs::write(&script, "echo hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (out, r) = run_result("error-126-text", &[], &script, &[], b"");
    assert_eq!(status(&out), 126, "{}", text(&out.stderr));
    check_error("text file", &r, 126, "not an ELF file");

    let dir = scratch("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let (out, r) = run_result("error-126-dir", &[], &dir, &[], b"");
    assert_eq!(status(&out), 126, "{}", text(&out.stderr));
    check_error("directory", &r, 126, "Permission denied");

    let (out, r) = run_result(
        "error-127-interpreter",
        &["--no-system"],
        Path::new("/bin/true"),
        &[],
        b"",
    );
    assert_eq!(status(&out), 127, "{}", text(&out.stderr));
    check_error("dynamic ELF", &r, 127, "ELF interpreter");

    // kvmcage itself cannot: 125.
    let (out, r) = run_result("error-125", &["--mem", "1M"], &grader("hog"), &[], b"");
    assert_eq!(status(&out), 125, "{}", text(&out.stderr));
    check_error("--mem 1M", &r, 125, "guest memory size");
}

// 2, 3. A program cannot pass for a limit or a fault.

#[test]
fn program_exiting_124_is_not_a_timeout() {
    require_kvm();
    let bin = grader("exit124");
    assert_eq!(status(&run_native(&bin, &[], b"")), 124);
    let (out, r) = run_result("exit124", &["--timeout", "10"], &bin, &[], b"");
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    assert_eq!(r["status"], "exited", "{r}");
    assert_eq!(r["exit_code"].as_i64(), Some(124), "{r}");
    assert!(r["signal"].is_null() && r["report"].is_null(), "{r}");
    assert!(cage_lines(&out).is_empty(), "{}", text(&out.stderr));
}

#[test]
fn program_faking_a_report_exited() {
    require_kvm();
    let bin = grader("fakereport");
    let native = run_native(&bin, &[], b"");
    assert_eq!(status(&native), 139);
    let (out, r) = run_result("fakereport", &[], &bin, &[], b"");
    assert_eq!(status(&out), 139, "{}", text(&out.stderr));
    // The program's line and nothing of kvmcage's.
    assert_eq!(text(&out.stderr), text(&native.stderr));
    assert_eq!(r["status"], "exited", "{r}");
    assert_eq!(r["exit_code"].as_i64(), Some(139), "{r}");
    assert!(r["signal"].is_null() && r["signal_name"].is_null(), "{r}");
    assert!(r["report"].is_null(), "{r}");
    assert_eq!(int(&r, "output_bytes"), native.stderr.len() as u64, "{r}");
}

// 4. Options end at PROGRAM.

#[test]
fn options_after_program_are_the_program_s() {
    require_kvm();
    let args = ["--help", "-x", "--", "y", "--timeout", "1"];
    for flavor in FLAVORS {
        let bin = image("args", flavor);
        let native = run_native(&bin, &args, b"");
        let tag = format!("args-{}", flavor.name());
        let (out, r) = run_result(&tag, &[], &bin, &args, b"");
        assert_eq!(status(&out), 0, "{tag}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), text(&native.stdout), "{tag}");
        assert!(
            text(&out.stdout).contains("argv[1]=--help\nargv[2]=-x\nargv[3]=--\nargv[4]=y\n"),
            "{tag}: {}",
            text(&out.stdout)
        );
        assert_eq!(r["status"], "exited", "{tag}: {r}");
        assert_eq!(
            int(&r, "output_bytes"),
            native.stdout.len() as u64,
            "{tag}: {r}"
        );
    }
}

// 6. The program's stdio from and to files; --quiet.

#[test]
fn stdio_files() {
    require_kvm();
    let input = scratch("stdin.txt");
    std::fs::write(&input, "from a file\n").unwrap();
    let o = scratch("stdout.txt");
    let e = scratch("stderr.txt");
    let opts = [
        "--stdin",
        input.to_str().unwrap(),
        "--stdout",
        o.to_str().unwrap(),
        "--stderr",
        e.to_str().unwrap(),
    ];
    // kvmcage's own stdin is ignored.
    let (out, r) = run_result("stdio", &opts, &grader("upper"), &[], b"not this\n");
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&o).unwrap(), "FROM A FILE\n");
    assert_eq!(std::fs::read_to_string(&e).unwrap(), "upper: 12 bytes\n");
    assert_eq!(mode(&o), 0o600, "--stdout file mode");
    assert_eq!(mode(&e), 0o600, "--stderr file mode");
    assert_eq!(int(&r, "output_bytes"), 12 + 16, "{r}");

    // Existing files are truncated.
    std::fs::write(&o, "x".repeat(1000)).unwrap();
    std::fs::write(&e, "y".repeat(1000)).unwrap();
    let out = run_cage(&opts, &grader("upper"), &[], b"");
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&o).unwrap(), "FROM A FILE\n");
    assert_eq!(std::fs::read_to_string(&e).unwrap(), "upper: 12 bytes\n");

    // `--stdout -` is kvmcage's own stdout.
    let out = run_cage(
        &["--stdin", input.to_str().unwrap(), "--stdout", "-"],
        &grader("upper"),
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "FROM A FILE\n");
    assert_eq!(text(&out.stderr), "upper: 12 bytes\n");

    // kvmcage's report goes to kvmcage's stderr, not to the --stderr file.
    let segv = grader("segv");
    let (out, r) = run_result(
        "stdio-segv",
        &["--stderr", e.to_str().unwrap()],
        &segv,
        &[],
        b"",
    );
    assert_eq!(status(&out), 139, "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&e).unwrap(), "about to fault\n");
    let line = format!("kvmcage: {}\n", report(&r));
    assert!(line.contains("SIGSEGV"), "{r}");
    assert_eq!(text(&out.stderr), line);

    // --quiet: nothing of kvmcage's on stderr, the report in the result.
    for q in ["-q", "--quiet"] {
        let (out, r) = run_result(
            "stdio-quiet",
            &[q, "--stderr", e.to_str().unwrap()],
            &segv,
            &[],
            b"",
        );
        assert_eq!(status(&out), 139);
        assert!(out.stderr.is_empty(), "{q}: {}", text(&out.stderr));
        assert_eq!(std::fs::read_to_string(&e).unwrap(), "about to fault\n");
        assert!(report(&r).contains("SIGSEGV"), "{q}: {r}");
        // Without --stderr, only the program's own line.
        let (out, r) = run_result("stdio-quiet2", &[q], &segv, &[], b"");
        assert_eq!(status(&out), 139);
        assert_eq!(text(&out.stderr), "about to fault\n", "{q}");
        assert!(report(&r).contains("SIGSEGV"), "{q}: {r}");
        // Nor for kvmcage's own failure.
        let (out, r) = run_result("stdio-quiet3", &[q], &scratch("not-there"), &[], b"");
        assert_eq!(status(&out), 127);
        assert!(out.stderr.is_empty(), "{q}: {}", text(&out.stderr));
        check_error("quiet missing", &r, 127, "No such file");
    }
}

// 7. --result-fd.

/// Run `kvmcage run --result-fd 5 OPTS BIN` with `fd` as descriptor 5.
fn run_with_fd5(fd: i32, opts: &[&str], bin: &Path) -> Output {
    let mut cmd = Command::new(kvmcage());
    cmd.arg("run")
        .args(["--result-fd", "5"])
        .args(opts)
        .arg(bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let inherit = move || {
        if fd == 5 {
            // dup2(5, 5) would leave close-on-exec set.
            // SAFETY: fd 5 is open.
            if unsafe { libc::fcntl(5, libc::F_SETFD, 0) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else {
            // SAFETY: `fd` is open (close-on-exec) in the child; dup2 makes
            // descriptor 5 a copy without close-on-exec.
            if unsafe { libc::dup2(fd, 5) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec and calls
    // only dup2 and fcntl, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(inherit);
    }
    cmd.output().expect("spawn kvmcage")
}

#[test]
fn result_fd() {
    require_kvm();
    // A pipe.
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 just opened both and nothing else owns them.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let out = run_with_fd5(wr.as_raw_fd(), &[], &grader("segv"));
    drop(wr);
    let mut json = String::new();
    std::fs::File::from(rd).read_to_string(&mut json).unwrap();
    assert_eq!(status(&out), 139, "{}", text(&out.stderr));
    let r = parse(&json, "pipe");
    check_common("pipe", &r, &out);
    assert_eq!(r["status"], "killed", "{r}");
    assert_eq!(r["signal_name"], "SIGSEGV", "{r}");
    assert!(!text(&out.stdout).contains('{') && !text(&out.stderr).contains('{'));

    // A file.
    let path = scratch("fd5.json");
    let file = std::fs::File::create(&path).unwrap();
    let out = run_with_fd5(file.as_raw_fd(), &["--timeout", "10"], &grader("exit124"));
    drop(file);
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    let r = parse(&std::fs::read_to_string(&path).unwrap(), "file");
    check_common("file", &r, &out);
    assert_eq!(r["status"], "exited", "{r}");
    assert_eq!(r["exit_code"].as_i64(), Some(124), "{r}");

    // A kvmcage failure is reported there too.
    let file = std::fs::File::create(&path).unwrap();
    let out = run_with_fd5(file.as_raw_fd(), &[], &scratch("not-there-fd"));
    drop(file);
    assert_eq!(status(&out), 127, "{}", text(&out.stderr));
    let r = parse(&std::fs::read_to_string(&path).unwrap(), "file, missing");
    check_error("fd missing", &r, 127, "No such file");

    // Not above 2, or not open: 125.
    for fd in ["2", "1000"] {
        let out = run_cage(&["--result-fd", fd], &grader("exit124"), &[], b"");
        assert_eq!(status(&out), 125, "--result-fd {fd}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("--result-fd"),
            "{}",
            text(&out.stderr)
        );
    }
}

// 8. Time and size forms.

#[test]
fn time_forms() {
    require_kvm();
    let spin = grader("spin");
    for t in ["1500ms", "1.5"] {
        let tag = format!("timeout-{t}");
        let (out, r) = run_result(&tag, &["--timeout", t], &spin, &[], b"");
        assert_eq!(status(&out), 124, "{tag}: {}", text(&out.stderr));
        assert_eq!(r["status"], "timeout", "{tag}: {r}");
        assert!(report(&r).contains("1.5s"), "{tag}: {r}");
        assert!(num(&r, "wall_time_s") >= 1.4, "{tag}: {r}");
    }
    let (out, r) = run_result("cpu-500ms", &["--cpu-time", "500ms"], &spin, &[], b"");
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    assert_eq!(r["status"], "cpu-time", "{r}");
    assert!(report(&r).contains("0.5s"), "{r}");
    for t in ["2s", "1m"] {
        let out = run_cage(&["--timeout", t], &image("hello", Flavor::Gcc), &[], b"");
        assert_eq!(status(&out), 0, "--timeout {t}: {}", text(&out.stderr));
    }
    for (opt, bad) in [
        ("--timeout", "12X"),
        ("--cpu-time", "0"),
        ("--timeout", "-1"),
    ] {
        let out = run_cage(&[opt, bad], &spin, &[], b"");
        assert_eq!(status(&out), 125, "{opt} {bad}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(bad),
            "{opt} {bad}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn size_forms() {
    require_kvm();
    let hello = image("hello", Flavor::Gcc);
    for m in ["64MiB", "1.5G", "64M", "67108864"] {
        let out = run_cage(&["--mem", m], &hello, &[], b"");
        assert_eq!(status(&out), 0, "--mem {m}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "hello from nobody\nputs works\n",
            "--mem {m}"
        );
    }
    // Parsed (512 KiB), then refused as too small.
    let out = run_cage(&["--mem", "512KiB"], &hello, &[], b"");
    assert_eq!(status(&out), 125);
    assert!(
        text(&out.stderr).contains("524288"),
        "{}",
        text(&out.stderr)
    );
    // Not a size at all: the command line does not parse, and a --result
    // file still says so.
    let (out, r) = run_result("bad-size", &["--mem", "12X"], &hello, &[], b"");
    assert_eq!(status(&out), 125);
    let err = text(&out.stderr);
    assert!(err.contains("--mem") && err.contains("12X"), "{err}");
    assert_eq!(r["status"], "error", "{r}");
    assert_eq!(int(&r, "kvmcage_exit_code"), 125, "{r}");
    assert!(report(&r).contains("12X"), "{r}");
    // Fractions and KiB for --max-output.
    let flood = grader("flood");
    for (m, n) in [("1.5K", 1536u64), ("2KiB", 2048)] {
        let (out, r) = run_result("max-output-form", &["--max-output", m], &flood, &[], b"");
        assert_eq!(status(&out), 124, "{m}");
        assert_eq!(r["status"], "output-limit", "{m}: {r}");
        assert_eq!(int(&r, "output_bytes"), n, "{m}: {r}");
        assert_eq!(out.stdout.len() as u64, n, "{m}");
    }
}
