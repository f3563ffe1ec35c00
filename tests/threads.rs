//! Threads on several vCPUs (issue 15): pthreads, C++ std::thread, futex
//! across threads, exit_group from a thread, page-table edits seen by
//! another running thread, --max-threads and the trace of a threaded
//! program. Programs: images/threads.c, threadexit.c, futexstress.c,
//! mprotect2.c, shmprotect.c, threadlimit.c, threadcxx.cc.

mod common;
use common::*;

/// Mutexes, condition variables, barriers, rwlocks, join values, TLS,
/// detached threads, thread ids, pthread_kill to a chosen thread, signal
/// masks choosing which thread takes a process signal, affinity, thread
/// churn, pthread_exit: each as native, glibc and musl, static and dynamic.
#[test]
fn pthreads_match_native() {
    for (flavor, out) in same_as_native("threads", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.contains("1 mutex: 4 threads x 100000 = 400000\n"),
            "{flavor:?}: {s}"
        );
        assert!(
            s.contains("8 pthread_kill: SIGUSR1 to each of 3 threads ran in that thread: yes"),
            "{flavor:?}: {s}"
        );
        assert!(s.ends_with("threads: done\n"), "{flavor:?}: {s}");
    }
}

/// exit() in one thread while three others spin and main waits in
/// pthread_join: the process ends with that status, no thread left behind.
#[test]
fn exit_from_a_thread_ends_every_thread() {
    for (flavor, out) in same_as_native("threadexit", &[], b"") {
        assert_eq!(status(&out), 7, "{flavor:?}");
    }
}

/// A futex mutex contended by 8 threads, CMP_REQUEUE between words,
/// WAIT_BITSET wakes and timeouts, with the right counts at the end.
#[test]
fn futex_stress_across_threads_matches_native() {
    for (flavor, out) in same_as_native("futexstress", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.starts_with("mutex: 8 threads x 20000 = 160000, overlap seen: 0"),
            "{flavor:?}: {s}"
        );
    }
}

/// One thread writes a page in a loop while another makes it read-only:
/// the writer must fault at once (no stale translation on its vCPU).
#[test]
fn mprotect_by_one_thread_stops_another_threads_writes() {
    for (flavor, out) in same_as_native("mprotect2", &[], b"") {
        assert_eq!(
            text(&out.stdout),
            "writer running\nwriter faulted\n",
            "{flavor:?}"
        );
    }
}

/// A shared mapping's page (anonymous, and a file's) made read-only and
/// writable again 2000 times while another thread stores to it: stores
/// in a read-only moment fault and are made again, and the run goes on
/// (the MMU-notifier round trip on a shared slot never refuses a vCPU's
/// store on the host: KVM_RUN failed with EFAULT before).
#[test]
fn downgrading_a_shared_page_never_stops_a_writing_thread() {
    for (flavor, out) in same_as_native("shmprotect", &[], b"") {
        let s = text(&out.stdout);
        assert_eq!(
            s.matches("the writer went on: yes").count(),
            2,
            "{flavor:?}: {s}"
        );
    }
}

/// std::thread, std::async, futures, mutex and condition_variable,
/// shared_mutex, thread_local, call_once in a static C++ program.
#[test]
fn cxx_threads_match_native() {
    for (flavor, out) in same_as_native_in("threadcxx", &[], b"", &cxx_flavors()) {
        assert!(
            text(&out.stdout).ends_with("threadcxx: done\n"),
            "{flavor:?}"
        );
    }
}

/// --max-threads bounds the live threads: pthread_create fails with EAGAIN
/// past it, and succeeds again once threads were joined. Natively (no such
/// low limit) the program creates all 64.
#[test]
fn max_threads_makes_clone_eagain() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("threadlimit", flavor);
        let native = run_native(&bin, &[], b"");
        assert_eq!(
            text(&native.stdout),
            "created 64, then no error\nafter joining: created one more\n"
        );
        let out = run_cage(&["--max-threads", "5"], &bin, &[], b"");
        assert_eq!(
            text(&out.stdout),
            "created 4, then EAGAIN\nafter joining: created one more\n",
            "{flavor:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(status(&out), 0);
    }
}

/// The trace of a threaded program: once a second thread exists, each
/// line carries strace -f's `[pid N]` prefix with the thread that made it.
#[test]
fn trace_names_the_thread_of_each_call() {
    require_kvm();
    let bin = image("threadlimit", Flavor::Gcc);
    let out = run_cage(&["--trace", "--max-threads", "3"], &bin, &[], b"");
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    // Before the first clone there is one thread: no prefix.
    let first = err.lines().next().unwrap_or_default();
    assert!(!first.is_empty() && !first.starts_with("[pid"), "{first}");
    assert!(
        err.lines().any(|l| l.starts_with("[pid     1] clone3(")),
        "no clone3 from thread 1: {err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("[pid     2] ")),
        "no line from thread 2: {err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("[pid     1] ")),
        "no line from thread 1 after the first clone: {err}"
    );
    // Each thread that calls exit(2) gets strace -f's exit line after it;
    // the leader's is the process's, unprefixed, at the end.
    let lines: Vec<&str> = err.lines().collect();
    let mut exits = 0;
    for (i, l) in lines.iter().enumerate() {
        let Some((pid, _)) = l.split_once("] exit(0) ") else {
            continue;
        };
        if pid != "[pid     1" {
            let want = format!("{pid}] +++ exited with 0 +++");
            assert!(
                lines[i + 1..].contains(&want.as_str()),
                "no {want:?}: {err}"
            );
            exits += 1;
        }
    }
    assert!(exits >= 2, "no thread exit(0) lines: {err}");
    assert_eq!(lines.last(), Some(&"+++ exited with 0 +++"), "{err}");
    // Threads ended by another's exit_group: each but the leader with the
    // group's status.
    let out = run_cage(&["--trace"], &image("threadexit", Flavor::Gcc), &[], b"");
    assert_eq!(status(&out), 7, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let ended = err
        .lines()
        .filter(|l| l.starts_with("[pid ") && l.ends_with("] +++ exited with 7 +++"))
        .count();
    assert_eq!(ended, 4, "{err}");
    assert_eq!(err.lines().last(), Some("+++ exited with 7 +++"), "{err}");
    // The JSON records carry the process and the thread.
    let json = root().join("target/threads-trace.jsonl");
    let out = run_cage(
        &["--trace-json", json.to_str().unwrap(), "--max-threads", "3"],
        &bin,
        &[],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let recs = std::fs::read_to_string(&json).expect("the JSON trace");
    let tids: std::collections::BTreeSet<String> = recs
        .lines()
        .filter(|l| l.contains("\"pid\":1,"))
        .filter_map(|l| l.split("\"tid\":").nth(1))
        .filter_map(|t| t.split(',').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        tids.into_iter().collect::<Vec<_>>(),
        ["1", "2", "3", "4"],
        "two threads, then one more after they were joined: {recs}"
    );
}

/// A thread on a vCPU made 1.5 s after the first: its vDSO clock (that
/// vCPU's TSC) agrees with the host's within 1 ms and never runs behind
/// what the first thread read (KVM has no TSC scaling here, PROCESSES.md
/// 5: the offset of a late vCPU must be synchronised).
#[test]
fn a_late_threads_vdso_clock_agrees_with_the_host() {
    for (flavor, out) in same_as_native_in("latethread", &[], b"", &[Flavor::Gcc, Flavor::MuslDyn])
    {
        assert_eq!(
            text(&out.stdout),
            "late thread: vDSO never behind the first thread: yes\n\
             late thread: vDSO within 1 ms of the syscall: yes\n",
            "{flavor:?}"
        );
    }
}

/// Rust's std::thread built for x86_64-unknown-linux-musl (static):
/// spawn/join, Arc<Mutex>, mpsc, Barrier, Condvar, scoped threads,
/// thread_local, a panicking thread, named threads. scripts/setup.sh adds
/// the target with rustup.
#[test]
fn rust_std_threads_match_native() {
    require_kvm();
    let dir = root().join("target/images/rust");
    std::fs::create_dir_all(&dir).expect("target/images/rust");
    let bin = dir.join("threads");
    let built = std::process::Command::new("rustc")
        .args([
            "--edition",
            "2021",
            "-O",
            "--target",
            "x86_64-unknown-linux-musl",
            "-o",
        ])
        .arg(&bin)
        .arg(root().join("images/rust/threads.rs"))
        .output()
        .expect("rustc");
    assert!(
        built.status.success(),
        "rustc --target x86_64-unknown-linux-musl failed (scripts/setup.sh adds the target): {}",
        text(&built.stderr)
    );
    let native = run_native(&bin, &[], b"");
    let cage = run_cage(&[], &bin, &[], b"");
    assert_eq!(
        text(&cage.stdout),
        text(&native.stdout),
        "{}",
        text(&cage.stderr)
    );
    assert_eq!(status(&cage), status(&native));
    assert!(text(&cage.stdout).contains("Arc<Mutex> counter: 200000\n"));
}

/// sigwait in one thread for a process signal every thread blocks (no
/// thread has it unblocked, one waits for it); pthread_kill to a thread
/// spinning in user mode with no syscall; a FIFO whose ends two threads
/// open (the first open waits without the process's lock); clone with a
/// kernel-half TLS (EPERM); a thread exiting with a bogus robust list; a
/// SIGEV_THREAD timer, whose helper thread the C library names by tid;
/// an alarm() set by a thread that ends, reaching main spinning in ring 3
/// (the host alarm that kicks a vCPU passes to a thread that stays).
#[test]
fn signals_and_blocking_between_threads_match_native() {
    for (flavor, out) in same_as_native("threadsig", &[], b"") {
        assert!(
            text(&out.stdout).ends_with(
                "thread with a bogus robust list joined: 7\n\
                 SIGEV_THREAD timer: created 1, its function ran 1\n\
                 alarm set by an ended thread reached spinning main: yes\n"
            ),
            "{flavor:?}"
        );
    }
}

/// A CPU-time timer's process-directed signal goes to the thread that
/// runs, not to main waiting in pthread_join, also while the runner's
/// handler blocks the signal for a moment (under kvmcage that moment
/// lasts a trap to the host: the timer waits for it as a later tick
/// would). The selftest timers/posix_timers checks the same, once.
#[test]
fn cpu_timer_signals_go_to_the_running_thread() {
    for (flavor, out) in same_as_native("threadsig", &["cputimer"], b"") {
        assert_eq!(
            text(&out.stdout),
            "rounds whose CPU-timer signals all reached the spinning thread: 10 of 10\n",
            "{flavor:?}"
        );
    }
}

/// --cpu-time counts every thread: a worker spinning while main waits in
/// pthread_join is stopped at the limit (SIGXCPU, status 124).
#[test]
fn cpu_time_limit_counts_every_thread() {
    require_kvm();
    let bin = image("threadsig", Flavor::Gcc);
    let out = run_cage(
        &["--cpu-time", "0.5", "--timeout", "20"],
        &bin,
        &["spin"],
        b"",
    );
    assert_eq!(status(&out), 124, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("CPU time limit of 0.5s exceeded"),
        "{}",
        text(&out.stderr)
    );
}

/// execve from a thread that is not the leader, while main waits in
/// pthread_join and another thread spins: the other threads end first
/// (Linux's de_thread) and the new image (/bin/echo) runs alone.
#[test]
fn execve_from_a_thread_ends_the_others() {
    for (flavor, out) in same_as_native("threadexec", &[], b"") {
        assert_eq!(text(&out.stdout), "new image\n", "{flavor:?}");
    }
}
