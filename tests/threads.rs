//! Threads on several vCPUs (issue 15): pthreads, C++ std::thread, futex
//! across threads, exit_group from a thread, page-table edits seen by
//! another running thread, --max-threads and the trace of a threaded
//! program. Programs: images/threads.c, threadexit.c, futexstress.c,
//! mprotect2.c, threadlimit.c, threadcxx.cc.

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
}
