//! The exitless syscall transport (issue 19): on kvm_pvm, `syscall` goes
//! through a ring-3 gate and a host service thread instead of an exit.
//! Programs: images/gatecalls.c, images/int80calls.c, images/sparsecalls.c,
//! images/cpuclock.c,
//! images/hostile/gatescribble.c. Each runs
//! natively and under kvmcage (`--transport gate`) with the same output;
//! where the gate is in use (kvm_pvm) `--stats` must show calls made through it, and
//! `--transport exit` none.

mod common;
use common::*;

/// One test at a time: each runs kvmcage with a spinning vCPU and a
/// polling service thread, and on a 2-core runner tests run side by side
/// would leave a service thread no core to poll on (the gate then falls
/// back to the exit, as it should, and the counts below mean nothing).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn kvm_pvm() -> bool {
    std::path::Path::new("/sys/module/kvm_pvm").exists()
}

/// The number `--stats` gives for entry path `name` (0 when absent).
fn path_count(o: &std::process::Output, name: &str) -> u64 {
    let stats = cage_lines(o)
        .into_iter()
        .find(|l| l.contains("entry paths:"));
    let Some(stats) = stats else {
        panic!("no --stats line: {}", text(&o.stderr));
    };
    stats
        .split(&format!("{name}: "))
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

const GATE: &str = "syscall (exitless gate)";
const INT80: &str = "int 0x80 (exitless #UD handler)";

#[test]
fn calls_through_the_gate_match_native() {
    require_kvm();
    let _one = serial();
    for flavor in FLAVORS {
        let bin = image("gatecalls", flavor);
        let native = run_native(&bin, &[], b"");
        for transport in ["gate", "doorbell", "exit"] {
            let cage = run_cage(&["--stats", "--transport", transport], &bin, &[], b"");
            assert_eq!(
                text(&cage.stdout),
                text(&native.stdout),
                "gatecalls ({}, --transport {transport}); kvmcage stderr: {}",
                flavor.name(),
                text(&cage.stderr)
            );
            assert_eq!(status(&cage), status(&native));
            let gated = path_count(&cage, GATE);
            if transport == "exit" || !kvm_pvm() {
                assert_eq!(gated, 0, "{}", text(&cage.stderr));
            } else {
                // How many depends on the host scheduling the service
                // thread within the gate's spin (a loaded 2-core runner
                // withdraws more); that any did is what the gate changes.
                assert!(gated > 0, "{}", text(&cage.stderr));
            }
        }
    }
}

/// `int 0x80` through the gate's ring-3 #UD handler: the same results,
/// registers and flags as natively, a real #UD still SIGILL, signals on
/// the way. Through the exit too: a kick while KVM delivered the #UD once
/// moved the program to its signal handler with the #UD still to come
/// (SIGILL at the handler's first instruction).
#[test]
fn int80_through_the_gates_ud_handler_matches_native() {
    require_kvm();
    let _one = serial();
    for flavor in FLAVORS {
        let bin = image("int80calls", flavor);
        let native = run_native(&bin, &[], b"");
        assert!(text(&native.stdout).contains("registers and flags kept: yes"));
        for transport in ["gate", "doorbell", "exit"] {
            let cage = run_cage(&["--stats", "--transport", transport], &bin, &[], b"");
            assert_eq!(
                text(&cage.stdout),
                text(&native.stdout),
                "int80calls ({}, --transport {transport}); kvmcage stderr: {}",
                flavor.name(),
                text(&cage.stderr)
            );
            assert_eq!(status(&cage), status(&native));
            let gated = path_count(&cage, INT80);
            if transport == "exit" || !kvm_pvm() {
                assert_eq!(gated, 0, "{}", text(&cage.stderr));
            } else {
                assert!(gated > 0, "{}", text(&cage.stderr));
            }
        }
    }
}

/// Calls that each come after 2 ms of computing find the service thread
/// asleep: `--transport gate` makes them by the exit (which wakes it),
/// `--transport doorbell` rings it awake from the gate and most go
/// through the gate. Results as natively either way.
#[test]
fn the_doorbell_wakes_a_sleeping_service_thread() {
    require_kvm();
    let _one = serial();
    const EXIT: &str = "syscall (#PF at LSTAR fallback)";
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("sparsecalls", flavor);
        let native = run_native(&bin, &[], b"");
        assert_eq!(text(&native.stdout), "calls after computing: ok\n");
        let mut exits = Vec::new();
        for transport in ["gate", "doorbell"] {
            let cage = run_cage(&["--stats", "--transport", transport], &bin, &[], b"");
            assert_eq!(
                text(&cage.stdout),
                text(&native.stdout),
                "sparsecalls ({}, --transport {transport}); kvmcage stderr: {}",
                flavor.name(),
                text(&cage.stderr)
            );
            exits.push((path_count(&cage, EXIT), text(&cage.stderr)));
        }
        if kvm_pvm() {
            // 150 rounds: each round's first call finds the thread asleep.
            assert!(exits[0].0 >= 150, "gate: {}", exits[0].1);
            assert!(exits[1].0 < 75, "doorbell: {}", exits[1].1);
        }
    }
}

/// The service threads' polling is kvmcage's CPU time, not the
/// program's: one thread making calls through the gate reads no more
/// process CPU time (clock, getrusage, ITIMER_PROF) than the wall-clock
/// time that passed, as natively. (Counted, it read about twice as much.)
#[test]
fn the_gates_polling_is_not_the_programs_cpu_time() {
    require_kvm();
    let _one = serial();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("cpuclock", flavor);
        let native = run_native(&bin, &[], b"");
        let want = "process CPU clock within wall time: yes\n\
                    getrusage within wall time: yes\n\
                    SIGPROF came: yes\n\
                    SIGPROF no sooner than its CPU time on the wall: yes\n";
        assert_eq!(text(&native.stdout), want);
        let cage = run_cage(&["--stats", "--transport", "gate"], &bin, &[], b"");
        assert_eq!(
            text(&cage.stdout),
            want,
            "cpuclock ({}); kvmcage stderr: {}",
            flavor.name(),
            text(&cage.stderr)
        );
        if kvm_pvm() {
            // The calls went through the gate.
            assert!(path_count(&cage, GATE) > 0, "{}", text(&cage.stderr));
        }
    }
}

#[test]
fn scribbling_on_the_request_slots_harms_only_the_scribbler() {
    require_kvm();
    let _one = serial();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("hostile/gatescribble", flavor);
        let native = run_native(&bin, &[], b"");
        assert!(text(&native.stderr).contains("parent slots: 0"));
        for transport in ["gate", "doorbell", "gate"] {
            let cage = run_cage(
                &["--timeout", "60s", "--transport", transport],
                &bin,
                &[],
                b"",
            );
            assert_eq!(
                text(&cage.stdout),
                text(&native.stdout),
                "gatescribble ({}); kvmcage stderr: {}",
                flavor.name(),
                text(&cage.stderr)
            );
            assert_eq!(status(&cage), 0, "{}", text(&cage.stderr));
            if kvm_pvm() {
                // The slots were there to scribble on.
                let err = text(&cage.stderr);
                assert!(!err.contains("child slots: 0"), "{err}");
                assert!(err.contains("parent slots: 1"), "{err}");
            }
        }
    }
}
