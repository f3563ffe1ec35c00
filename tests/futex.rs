//! futex for one thread, signal delivery, C++ runtime support, and
//! --timeout against calls that block forever, futex_waitv. Programs:
//! images/futex.c, images/cxx.cc, images/blockers.c, images/futexwaitv.c.

mod common;
use common::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Every futex operation of one thread (no PI): return values, errnos, the
/// words FUTEX_WAKE_OP leaves, timeouts, and waits ended by SIGALRM with and
/// without SA_RESTART, as on Linux.
#[test]
fn futex_operations_match_native() {
    for (flavor, out) in same_as_native("futex", &[], b"") {
        let s = text(&out.stdout);
        assert!(s.contains("= 0, word 0 -> 5\n"), "{flavor:?}: {s}");
        assert!(
            s.contains("after unblocking, handler ran: 1\n"),
            "{flavor:?}: {s}"
        );
    }
}

/// futex_waitv: the woken word's index, EAGAIN, absolute timeouts on both
/// clocks, each argument error, and a word in a shared page waited on by
/// a child and woken by its parent.
#[test]
fn futex_waitv_matches_native() {
    for (flavor, out) in same_as_native("futexwaitv", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.starts_with("woken on the second word: 1\n"),
            "{flavor:?}: {s}"
        );
        assert!(
            s.ends_with("child woken across processes: yes (woke 1)\n"),
            "{flavor:?}: {s}"
        );
    }
}

/// A static C++ program: iostreams, guarded statics, call_once, exceptions
/// through the unwinder, mutexes, condition_variable timing out. glibc
/// static and static-pie (there is no musl g++).
#[test]
fn cxx_runtime_matches_native() {
    for (flavor, out) in same_as_native_in("cxx", &[], b"", &cxx_flavors()) {
        let s = text(&out.stdout);
        assert_eq!(status(&out), 3, "{flavor:?}");
        assert!(
            s.contains("caught std::exception: too deep: 3\n"),
            "{flavor:?}: {s}"
        );
        assert!(
            s.contains("timeout, waited >= 10 ms: 1, still locked: 1\n"),
            "{flavor:?}: {s}"
        );
        assert!(
            s.ends_with("exit\nCounter destroyed at exit, value 42\n"),
            "{flavor:?}: {s}"
        );
    }
}

const BLOCKERS: [&str; 6] = ["futex", "sleep", "read", "pause", "sigsuspend", "poll"];

/// `run_cage` with a deadline: a kvmcage that never ends is killed and
/// reported instead of hanging the test run.
fn run_cage_within(
    opts: &[&str],
    bin: &Path,
    args: &[&str],
    limit: Duration,
) -> (Output, Duration) {
    let mut child = Command::new(kvmcage())
        .arg("run")
        .args(opts)
        .arg(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kvmcage");
    let start = Instant::now();
    drop(child.stdin.take()); // empty stdin, as run_cage gives
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let tout = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let terr = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kvmcage {opts:?} {} {args:?} still running after {limit:?} (killed); \
                 stdout {:?}, stderr {:?}",
                bin.display(),
                text(&tout.join().unwrap()),
                text(&terr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let o = Output {
        status,
        stdout: tout.join().unwrap(),
        stderr: terr.join().unwrap(),
    };
    (o, elapsed)
}

/// Each call of images/blockers.c blocks forever natively (`timeout 1`
/// gives 124); `--timeout 1` must stop it with 124 too, promptly and with
/// the program still inside the call.
fn blockers_stopped_by_timeout(flavor: Flavor) {
    require_kvm();
    let bin = image("blockers", flavor);
    let mut failures = Vec::new();
    for mode in BLOCKERS {
        let (out, elapsed) =
            run_cage_within(&["--timeout", "1"], &bin, &[mode], Duration::from_secs(15));
        let err = text(&out.stderr);
        let ok = status(&out) == 124
            && text(&out.stdout) == format!("blocking in {mode}\n")
            && !err.contains("panicked")
            && cage_lines(&out).iter().any(|l| l.contains("time limit"))
            && elapsed < Duration::from_secs(5);
        if !ok {
            failures.push(format!(
                "{flavor:?} {mode}: status {} after {elapsed:?}, stdout {:?}, stderr {:?}",
                status(&out),
                text(&out.stdout),
                err.lines().take(3).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn timeout_stops_blocking_calls_glibc() {
    blockers_stopped_by_timeout(Flavor::Gcc);
}

#[test]
fn timeout_stops_blocking_calls_musl() {
    blockers_stopped_by_timeout(Flavor::Musl);
}
