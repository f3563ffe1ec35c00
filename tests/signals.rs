//! Signal delivery: handlers with SA_SIGINFO frames, rt_sigreturn, masks,
//! sigaltstack, fault signals, timers, EINTR and SA_RESTART. Each program in
//! images/sig*.c runs natively and under kvmcage (glibc, musl and static-pie
//! builds) with the same stdout and exit status; the host kernel is the
//! oracle.

mod common;
use common::*;

fn expect_status(outs: &[(Flavor, std::process::Output)], want: i32) {
    for (flavor, out) in outs {
        assert_eq!(status(out), want, "{flavor:?}: {}", text(&out.stderr));
    }
}

fn expect_line(outs: &[(Flavor, std::process::Output)], line: &str) {
    for (flavor, out) in outs {
        let s = text(&out.stdout);
        assert!(
            s.lines().any(|l| l == line),
            "{flavor:?}: no {line:?} in\n{s}"
        );
    }
}

#[test]
fn fault_signals_reach_siginfo_handlers() {
    let outs = same_as_native("sigfault", &[], b"");
    expect_status(&outs, 0);
    expect_line(&outs, "(b) value after retry: 42");
    expect_line(&outs, "done");
}

#[test]
fn segv_while_segv_is_blocked_kills() {
    let outs = same_as_native("sigfault", &["blocked"], b"");
    expect_status(&outs, 139);
}

#[test]
fn segv_while_segv_is_ignored_kills() {
    let outs = same_as_native("sigfault", &["ignored"], b"");
    expect_status(&outs, 139);
}

#[test]
fn masks_pending_queueing_and_delivery_order() {
    let outs = same_as_native("sigmask", &[], b"");
    expect_status(&outs, 0);
    expect_line(&outs, "done");
}

/// Several pending signals whose handlers do not block each other: Linux
/// builds all the frames at once, so the last one built runs first.
#[test]
fn pending_signals_stack_their_frames_like_linux() {
    same_as_native("sigmask", &["stacked"], b"");
}

#[test]
fn sa_resethand_restores_the_default_action() {
    let outs = same_as_native("sigmask", &["resethand"], b"");
    expect_status(&outs, 128 + 12);
}

#[test]
fn abort_dies_even_when_the_sigabrt_handler_returns() {
    let outs = same_as_native("sigmask", &["abort"], b"");
    expect_status(&outs, 134);
    expect_line(&outs, "SIGABRT handler ran, returning");
}

#[test]
fn registers_altstack_and_ucontext_survive_handlers() {
    let outs = same_as_native("sigstate", &[], b"");
    expect_status(&outs, 0);
    expect_line(&outs, "gpr survive: 1");
    expect_line(&outs, "xmm survive: 1");
    expect_line(&outs, "recovered");
    expect_line(&outs, "done");
}

#[test]
fn timers_and_interrupted_system_calls() {
    let outs = same_as_native("sigtimer", &[], b"");
    expect_status(&outs, 0);
    expect_line(&outs, "(a) pause: -1 EINTR, ticks 1");
    expect_line(&outs, "done");
}

/// timerfd_create/settime/gettime: clocks and flags, gettime and old values,
/// reads, poll, periodic counts, absolute times, errors, and a blocked read
/// ended by SIGALRM with and without SA_RESTART.
/// eventfd's counter, semaphore mode and limits are the host's; a blocking
/// read and a blocking write past the limit are ended by SIGALRM (EINTR).
#[test]
fn eventfd_matches_native() {
    let outs = same_as_native("eventfd", &[], b"");
    expect_status(&outs, 0);
    expect_line(&outs, "blocking write ended by SIGALRM: -1 EINTR");
    expect_line(&outs, "done");
}

/// epoll_create1/epoll_ctl/epoll_wait/epoll_pwait/epoll_pwait2 on pipes,
/// eventfds, socketpairs, timerfds and nested epoll fds: readiness bits,
/// EPOLLET, EPOLLONESHOT, the errors, a blocking wait ended by SIGALRM
/// (EINTR even under SA_RESTART), sigmasks letting a pending signal in.
#[test]
fn epoll_matches_native() {
    let outs = same_as_native("epoll", &[], b"");
    expect_status(&outs, 0);
    expect_line(&outs, "epoll_wait(-1) ended by SIGALRM: -1 EINTR");
    expect_line(&outs, "epoll_wait(-1), SA_RESTART: -1 EINTR");
    expect_line(&outs, "pipe readable: 1 [EPOLLIN data 0x1122334455667788]");
    expect_line(&outs, "ADD e1 to e2 (a cycle): -1 ELOOP");
    expect_line(&outs, "done");
}

#[test]
fn timerfd_matches_native() {
    let outs = same_as_native("timerfd", &[], b"");
    expect_status(&outs, 0);
    expect_line(&outs, "(c) blocking read, 50 ms one-shot: 8, count 1");
    expect_line(&outs, "(g) read, SIGALRM without SA_RESTART: -1 EINTR");
    expect_line(&outs, "done");
}

#[test]
fn alarm_kills_a_blocked_read() {
    let outs = same_as_native("sigtimer", &["alarmkill"], b"");
    expect_status(&outs, 128 + 14);
}

/// A guest asleep for INT64_MAX seconds, or in a read that can never
/// complete, is still stopped by --timeout.
#[test]
fn timeout_stops_endless_sleeps_and_reads() {
    require_kvm();
    for flavor in FLAVORS {
        let bin = image("sigtimer", flavor);
        for (mode, said) in [
            ("sleepforever", "sleeping forever\n"),
            ("readforever", "reading forever\n"),
        ] {
            let out = run_cage(&["--timeout", "1"], &bin, &[mode], b"");
            assert_eq!(
                status(&out),
                124,
                "{mode} ({flavor:?}): {}",
                text(&out.stderr)
            );
            assert_eq!(text(&out.stdout), said, "{mode} ({flavor:?})");
        }
    }
}
