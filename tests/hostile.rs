//! The program is hostile: whatever it does, kvmcage ends it the way Linux
//! would (or with a clear report), and the host process keeps working, stays
//! within its limits and leaks nothing. Programs: images/hostile/.

mod common;
use common::*;
use std::process::Command;

/// Every forbidden operation of images/hostile/priv.S: SIGSEGV natively and
/// in the sandbox, with one report line, and the program never continues.
#[test]
fn privileged_and_kernel_operations_are_sigsegv() {
    require_kvm();
    let bin = image("hostile/priv", Flavor::Gcc);
    let cases = [
        ("h", "general protection fault"),
        ("c", "general protection fault"),
        ("s", "general protection fault"),
        ("l", "general protection fault"),
        ("m", "general protection fault"),
        ("w", "general protection fault"),
        ("r", "general protection fault"),
        ("i", "general protection fault"),
        ("o", "general protection fault"), // a forged hypercall
        ("v", "general protection fault"),
        ("K", "page fault on write at 0xffffffff80001000, protection"),
        ("S", "page fault on read at 0xffffffff80000000, protection"),
        (
            "X",
            "page fault on execute at 0xffffffff80000010, protection",
        ),
        ("N", "general protection fault"),
        ("L", "return to a non-user address 0x800000000000"),
        ("G", "return to a non-user address 0xffffffff80000005"),
    ];
    for (op, why) in cases {
        let native = run_native(&bin, &[op], b"");
        let cage = run_cage(&[], &bin, &[op], b"");
        assert_eq!(status(&native), 139, "native {op}");
        assert_eq!(status(&cage), 139, "{op}: {}", text(&cage.stderr));
        assert!(!text(&cage.stdout).contains("survived"), "{op}");
        let lines = cage_lines(&cage);
        assert_eq!(lines.len(), 1, "{op}: {lines:?}");
        assert!(
            lines[0].starts_with("kvmcage: guest killed by SIGSEGV"),
            "{op}: {lines:?}"
        );
        assert!(lines[0].contains(why), "{op}: {lines:?}");
    }
}

#[test]
fn hostile_syscall_arguments_get_linux_errnos() {
    same_as_native("hostile/args", &[], b"");
}

#[test]
fn stack_exhaustion_is_sigsegv() {
    for (flavor, out) in same_as_native("hostile/stackbomb", &[], b"") {
        assert_eq!(status(&out), 139, "{flavor:?}");
        assert!(
            cage_lines(&out)[0].contains("page fault on write"),
            "{flavor:?}"
        );
    }
}

#[test]
fn descriptor_limit_is_emfile() {
    for (flavor, out) in same_as_native("hostile/fdmax", &[], b"") {
        assert!(
            text(&out.stdout).contains("open before failure: 256, errno "),
            "{flavor:?}: {}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stdout).contains("100000 opens: 256 open at the limit, "),
            "{flavor:?}: {}",
            text(&out.stdout)
        );
    }
}

/// Peak RSS of finished children, in KiB.
fn children_maxrss_kib() -> i64 {
    // SAFETY: getrusage writes one struct rusage into the zeroed value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a valid out pointer.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss
}

#[test]
fn mmap_until_enomem_stays_within_mem_and_host_memory() {
    require_kvm();
    let bin = image("hostile/mmapmax", Flavor::Musl);
    let out = run_cage(&["--mem", "128M"], &bin, &[], b"");
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let mib: u64 = s
        .strip_prefix("mapped ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{s}"));
    // Page tables, the stack and the image take a little of the 128 MiB.
    assert!((110..128).contains(&mib), "{s}");
    // ENOMEM: glibc and musl spell it differently.
    assert!(
        s.contains("before Cannot allocate memory") || s.contains("before Out of memory"),
        "{s}"
    );
    assert!(s.contains("mmap works again: 1"), "{s}");
    // Mapping is bookkeeping: kvmcage's own memory stays far below --mem.
    let rss = children_maxrss_kib();
    assert!(rss < 96 * 1024, "kvmcage peak RSS {rss} KiB");
}

/// A read into 192 MiB below the stack with RLIMIT_STACK unlimited grows
/// the stack from --mem until the frames run out: the read is cut short,
/// the program lives on, and kvmcage's memory stays within --mem.
#[test]
fn stack_growth_by_a_syscall_stays_within_mem() {
    require_kvm();
    let bin = image("hostile/stackflood", Flavor::Musl);
    let out = run_cage(&["--mem", "64M"], &bin, &[], b"");
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let s = text(&out.stdout);
    // Some of it was read (the stack grew into it), not all.
    assert!(s.contains("read below the stack: cut short\n"), "{s}");
    assert!(s.contains("again: cut short\n"), "{s}");
    assert!(s.contains("alive, pid 1, stack usable: 1"), "{s}");
    let rss = children_maxrss_kib();
    assert!(rss < 96 * 1024, "kvmcage peak RSS {rss} KiB");
}

#[test]
fn random_syscalls_never_crash_or_hang_the_host() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("hostile/randsys", flavor);
        let out = run_cage(&["--timeout", "300"], &bin, &["100000"], b"");
        assert_eq!(status(&out), 0, "{flavor:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("done 100000 calls"),
            "{flavor:?}: {}",
            text(&out.stdout)
        );
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The library in one long-lived process (a plugin host, a fuzzer): after
/// many hostile runs, no descriptor and no guest memory is left behind.
#[test]
fn repeated_hostile_runs_leak_no_descriptors_or_memory() {
    require_kvm();
    let priv_bin = image("hostile/priv", Flavor::Gcc);
    let mmap_bin = image("hostile/mmapmax", Flavor::Musl);
    let run = |bin: &std::path::Path, arg: &str| {
        kvmcage::Sandbox::new(bin)
            .arg(arg)
            .mem_size(64 << 20)
            .run()
            .expect("run")
    };
    // Warm up (thread-locals, allocator arenas), then measure.
    run(&priv_bin, "o");
    run(&mmap_bin, "");
    let (fds, rss) = (open_fds(), rss_kib());
    for i in 0..20 {
        let op = ["o", "K", "L", "h", "X"][i % 5];
        let o = run(&priv_bin, op);
        assert_eq!(o.exit_code(), 139, "{op}");
        assert_eq!(run(&mmap_bin, "").exit_code(), 0);
    }
    assert_eq!(open_fds(), fds, "descriptors leaked");
    let grown = rss_kib().saturating_sub(rss);
    assert!(grown < 16 * 1024, "RSS grew by {grown} KiB over 40 runs");
}

#[test]
fn a_fault_gives_exactly_one_report_line() {
    // One report line only, however deep the fault.
    require_kvm();
    let out = Command::new(kvmcage())
        .args(["run", "--timeout", "60"])
        .arg(image("hostile/stackbomb", Flavor::Musl))
        .output()
        .unwrap();
    assert_eq!(cage_lines(&out).len(), 1);
}

#[test]
fn forged_signal_frames_are_sigsegv_never_a_host_error() {
    same_as_native("hostile/sigreturn", &[], b"");
    // Raw rt_sigreturn on garbage and on no stack at all: the guest ends
    // or recovers as a program, kvmcage itself does not fail.
    for flavor in FLAVORS {
        let bin = image("hostile/sigreturn", flavor);
        let out = run_cage(&["--timeout", "20"], &bin, &["raw"], b"");
        let err = text(&out.stderr);
        assert!(
            matches!(status(&out), 0 | 139),
            "{flavor:?}: status {} {err}",
            status(&out)
        );
        assert!(
            !err.contains("panicked") && !err.contains("machine stopped"),
            "{flavor:?}: {err}"
        );
    }
}
