//! kvmcage as a library, as an embedder (a grader, a plugin host) uses it:
//! `Sandbox` with stdio like `std::process::Command`, `run_result` giving
//! the `--result` facts, a `CancelHandle` that stops a run from another
//! thread, and examples/grade.rs built and run.

mod common;
use common::*;
use std::io::{Read, Write};
use std::time::Duration;

use kvmcage::{Outcome, Sandbox, Stdio};

/// A pipe (read end, write end), close-on-exec.
fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

#[test]
fn stdio_pipes_the_caller_reads_and_writes() {
    require_kvm();
    let bin = image("grader/upper", Flavor::Gcc);
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let (mut in_w, mut out_r) = (std::fs::File::from(in_w), std::fs::File::from(out_r));
    let input = b"through a pipe\n".repeat(10_000); // more than a pipe holds
    let writer = std::thread::spawn(move || {
        in_w.write_all(&input).unwrap();
    });
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out_r.read_to_end(&mut v).unwrap();
        v
    });
    let sandbox = Sandbox::new(&bin)
        .stdin(Stdio::from(in_r.try_clone().unwrap()))
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::Null);
    drop(in_r);
    let outcome = sandbox.run().unwrap();
    drop(sandbox); // closes the sandbox's write end: the reader sees EOF
    writer.join().unwrap();
    let got = reader.join().unwrap();
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(got, b"THROUGH A PIPE\n".repeat(10_000));
}

#[test]
fn null_stdin_reads_end_of_file() {
    require_kvm();
    let bin = image("grader/upper", Flavor::Musl);
    let out = tempfile::tempfile().unwrap();
    let r = Sandbox::new(&bin)
        .stdin(Stdio::Null)
        .stdout(out.try_clone().unwrap())
        .stderr(Stdio::Null)
        .run_result();
    assert_eq!(r.status, "exited", "{r:?}");
    assert_eq!(r.exit_code, Some(0), "{r:?}");
    assert_eq!(out.metadata().unwrap().len(), 0);
    // Its stderr line, "upper: 0 bytes\n", went to /dev/null: still output.
    assert_eq!(r.output_bytes, 15, "{r:?}");
}

#[test]
fn a_run_is_cancelled_from_another_thread() {
    require_kvm();
    let bin = image("grader/spin", Flavor::Gcc);
    let sandbox = Sandbox::new(&bin).timeout(Duration::from_secs(60));
    let cancel = sandbox.cancel_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let outcome = sandbox.run().unwrap();
    t.join().unwrap();
    assert_eq!(outcome, Outcome::Cancelled);
    assert_eq!(outcome.exit_code(), 137);
}

#[test]
fn a_blocked_read_is_cancelled_too() {
    require_kvm();
    let bin = image("grader/upper", Flavor::Gcc);
    // A pipe nobody writes to: the program blocks reading it.
    let (in_r, _in_w) = pipe();
    let sandbox = Sandbox::new(&bin)
        .stdin(Stdio::from(in_r))
        .stderr(Stdio::Null);
    let cancel = sandbox.cancel_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let r = sandbox.run_result();
    t.join().unwrap();
    assert_eq!(r.status, "cancelled", "{r:?}");
    // The library's result has the report line the CLI prints.
    assert_eq!(r.report.as_deref(), Some("the run was cancelled"), "{r:?}");
}

#[test]
fn cancelled_before_the_run_ends_it_at_once() {
    require_kvm();
    let sandbox = Sandbox::new(image("grader/spin", Flavor::Musl));
    sandbox.cancel_handle().cancel();
    assert_eq!(sandbox.run().unwrap(), Outcome::Cancelled);
}

#[test]
fn errors_carry_timeout_1_exit_codes() {
    let r = Sandbox::new(root().join("target/no-such-program")).run_result();
    assert_eq!((r.status, r.kvmcage_exit_code), ("error", 127), "{r:?}");
    let r = Sandbox::new("/etc/hostname").run_result();
    assert_eq!((r.status, r.kvmcage_exit_code), ("error", 126), "{r:?}");
}

/// examples/grade.rs, built by `cargo test` next to the kvmcage binary.
#[test]
fn the_grading_example_accepts_and_rejects() {
    require_kvm();
    let grade = kvmcage().parent().unwrap().join("examples/grade");
    assert!(
        grade.exists(),
        "{} (cargo test builds examples)",
        grade.display()
    );
    let dir = root().join("target/library-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in.txt"), "abc\n").unwrap();
    std::fs::write(dir.join("want.txt"), "ABC\n").unwrap();
    std::fs::write(dir.join("wrong.txt"), "abc\n").unwrap();
    let run = |prog: &str, want: &str| {
        std::process::Command::new(&grade)
            .arg(image(prog, Flavor::Gcc))
            .arg(dir.join("in.txt"))
            .arg(dir.join(want))
            .output()
            .unwrap()
    };
    let ok = run("grader/upper", "want.txt");
    assert_eq!(status(&ok), 0, "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).starts_with("accepted: status exited"));
    let wrong = run("grader/upper", "wrong.txt");
    assert_eq!(status(&wrong), 1);
    assert!(text(&wrong.stdout).starts_with("rejected: status exited"));
    let slow = run("grader/spin", "want.txt");
    assert_eq!(status(&slow), 1);
    assert!(text(&slow.stdout).starts_with("rejected: status cpu-time"));
}
