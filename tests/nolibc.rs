//! The Linux kernel's own syscall self-test, nolibc-test
//! (tools/testing/selftests/nolibc in linux-source-6.12), built against
//! nolibc, glibc and musl by scripts/nolibc.sh, run natively and under
//! kvmcage: every test line that passes natively must pass under kvmcage,
//! except the ones listed in EXCEPTED.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The flavors scripts/nolibc.sh builds, as target/nolibc/bin/NAME.
const NOLIBC_FLAVORS: [&str; 3] = ["nolibc", "glibc", "musl"];

/// (suite, test name) of the lines that pass natively but not under kvmcage
/// today, with what kvmcage does (seen with --trace-file). None since
/// processes exist (fork and the SIGABRT child of -fstackprotector).
const EXCEPTED: &[(&str, &str)] = &[];

/// The environment both runs get: what Linux gives init (the test wants
/// HOME and TERM); each run adds PWD, which syscall/chdir_root returns to.
const ENV: [(&str, &str); 2] = [("HOME", "/"), ("TERM", "linux")];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Fail,
    Skipped,
}

/// (suite, test name) -> verdict, and the full line, for every test line.
type Results = BTreeMap<(String, String), (Verdict, String)>;

/// Parse nolibc-test's output: "Running test 'SUITE'" starts a suite; a
/// test line is "N NAME ...   [OK]" (or [FAIL], [SKIPPED]).
fn parse(out: &str) -> Results {
    let mut suite = String::new();
    let mut res = Results::new();
    for line in out.lines() {
        if let Some(s) = line.strip_prefix("Running test '") {
            suite = s.trim_end_matches('\'').to_owned();
            continue;
        }
        let verdict = match line.trim_end() {
            l if l.ends_with("[OK]") => Verdict::Ok,
            l if l.ends_with("[FAIL]") => Verdict::Fail,
            l if l.ends_with("[SKIPPED]") => Verdict::Skipped,
            _ => continue,
        };
        let mut words = line.split_whitespace();
        let (Some(num), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        if num.parse::<u32>().is_err() {
            continue;
        }
        let key = (suite.clone(), name.to_owned());
        assert!(
            !res.contains_key(&key),
            "test {suite}/{name} printed twice:\n{out}"
        );
        res.insert(key, (verdict, line.trim_end().to_owned()));
    }
    res
}

/// Build (or find up to date) the three flavors; returns the directory.
fn build() -> PathBuf {
    built_by("nolibc.sh", "nolibc/bin")
}

fn run_natively(exe: &Path, dir: &Path) -> Output {
    // stdin is an empty pipe, as run_cage gives: syscall/lseek_0 wants
    // ESPIPE and ioctl_tiocinq a FIONREAD answer from fd 0.
    let child = Command::new(exe)
        .env_clear()
        .envs(ENV)
        .env("PWD", dir)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nolibc-test");
    child.wait_with_output().expect("wait nolibc-test")
}

/// Run under kvmcage with the same identity, paths and environment as the
/// native run: the program's directory mounted rw at its own path (argv0
/// is that absolute path: chmod_argv0 and chroot_exe use it), a writable
/// root as the host's (a private tmpfs: link_dir and link_cross expect
/// EPERM and EXDEV where a read-only root gives EROFS), a private tmpfs at
/// /tmp (vfprintf opens /tmp with O_TMPFILE), uid and gid as ours (tests
/// such as chroot_root and link_dir run only as root).
fn run_in_cage(exe: &Path, dir: &Path) -> Output {
    let d = dir.to_str().expect("UTF-8 path");
    assert!(
        !d.contains(':'),
        "the mount syntax needs a path without ':'"
    );
    let mount = format!("{d}:{d}:rw");
    let pwd = format!("PWD={d}");
    let uid = rustix::process::geteuid().as_raw().to_string();
    let gid = rustix::process::getegid().as_raw().to_string();
    let mut opts = vec![
        "--timeout",
        "120",
        "--tmpfs",
        "/",
        "--tmpfs",
        "/tmp",
        "--mount",
        &mount,
        "--cwd",
        d,
        "--uid",
        &uid,
        "--gid",
        &gid,
        "--env",
        &pwd,
    ];
    let env: Vec<String> = ENV.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for e in &env {
        opts.extend(["--env", e.as_str()]);
    }
    run_cage(&opts, exe, &[], b"")
}

/// Counts and findings for one flavor.
struct Summary {
    lines: usize,
    native_ok: usize,
    cage_ok: usize,
    excepted: Vec<String>,
    unexpected: Vec<String>,
    stale: Vec<String>,
}

fn check(flavor: &str, bin: &Path) -> Summary {
    // A fresh copy per run: chmod_argv0 changes the program's mode.
    let dir = root()
        .join("target/nolibc/run")
        .join(format!("{flavor}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create run directory");
    let exe = dir.join("nolibc-test");
    std::fs::copy(bin, &exe).expect("copy nolibc-test");

    let native = run_natively(&exe, &dir);
    let cage = run_in_cage(&exe, &dir);
    let _ = std::fs::remove_dir_all(&dir);

    let (n_out, c_out) = (text(&native.stdout), text(&cage.stdout));
    assert!(
        n_out.contains("Total number of errors:"),
        "{flavor}: native nolibc-test did not finish (status {}):\n{n_out}{}",
        status(&native),
        text(&native.stderr)
    );
    // 0 or 1 ("Exiting with status N"), like natively; anything else is a
    // crash or a kvmcage error.
    assert!(
        matches!(status(&cage), 0 | 1) && c_out.contains("Total number of errors:"),
        "{flavor}: nolibc-test under kvmcage did not finish (status {}):\n{c_out}{}",
        status(&cage),
        text(&cage.stderr)
    );

    let (n, c) = (parse(&n_out), parse(&c_out));
    assert!(
        n.len() > 150,
        "{flavor}: only {} test lines:\n{n_out}",
        n.len()
    );
    let mut s = Summary {
        lines: n.len(),
        native_ok: 0,
        cage_ok: c.values().filter(|(v, _)| *v == Verdict::Ok).count(),
        excepted: Vec::new(),
        unexpected: Vec::new(),
        stale: Vec::new(),
    };
    for ((suite, name), (verdict, _)) in &n {
        if *verdict != Verdict::Ok {
            continue;
        }
        s.native_ok += 1;
        let listed = EXCEPTED.iter().any(|&(s, t)| s == suite && t == name);
        match c.get(&(suite.clone(), name.clone())) {
            Some((Verdict::Ok, _)) if listed => s.stale.push(format!("{suite}/{name}")),
            Some((Verdict::Ok, _)) => {}
            Some((_, line)) if listed => s.excepted.push(line.clone()),
            Some((_, line)) => s.unexpected.push(format!("{suite}: {line}")),
            None if listed => s.excepted.push(format!("{suite}/{name}: missing")),
            None => s
                .unexpected
                .push(format!("{suite}/{name}: no line under kvmcage")),
        }
    }
    s
}

#[test]
fn nolibc_test_passes_under_kvmcage_where_it_passes_natively() {
    require_kvm();
    let bin = build();
    let mut failures = Vec::new();
    let mut ran = 0;
    for flavor in NOLIBC_FLAVORS {
        let exe = bin.join(flavor);
        if !exe.exists() {
            eprintln!(
                "nolibc-test ({flavor}): not built (see scripts/nolibc.sh's output), skipped"
            );
            continue;
        }
        ran += 1;
        let s = check(flavor, &exe);
        eprintln!(
            "nolibc-test ({flavor}): {} lines, {} passed natively, {} passed under kvmcage, {} excepted",
            s.lines,
            s.native_ok,
            s.cage_ok,
            s.excepted.len()
        );
        for line in &s.excepted {
            eprintln!("  excepted: {line}");
        }
        if !s.stale.is_empty() {
            eprintln!(
                "  listed in EXCEPTED but passing now (remove them): {}",
                s.stale.join(", ")
            );
        }
        failures.extend(s.unexpected.iter().map(|l| format!("{flavor}: {l}")));
        // The list must shrink as kvmcage catches up: a stale entry fails.
        failures.extend(
            s.stale
                .iter()
                .map(|t| format!("{flavor}: {t} passes now: remove it from EXCEPTED")),
        );
    }
    assert!(
        bin.join("nolibc").exists(),
        "the nolibc flavor of nolibc-test was not built"
    );
    assert!(ran > 0);
    assert!(
        failures.is_empty(),
        "passes natively but not under kvmcage:\n{}",
        failures.join("\n")
    );
}
