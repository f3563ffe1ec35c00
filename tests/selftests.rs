//! A selection of the Linux kernel's own self-tests
//! (tools/testing/selftests in linux-source-6.12), built static by
//! scripts/selftests.sh and run natively and under kvmcage: every test case
//! that passes natively must pass under kvmcage, except the ones listed in
//! EXCEPTED.
//!
//! Selected: programs that need neither root nor a module, a debugfs or
//! sysfs knob, nor a CPU feature this machine may lack, and pass natively
//! as an unprivileged user. Threads are fine since issue 15 (futex/
//! functional's futex_requeue and futex_wait_uninitialized_heap wait in
//! one thread and wake from another), processes since issue 16
//! (kselftest_harness.h forks each TEST: core/close_range_test,
//! prctl/set-process-name; mm/map_populate's child, exec's self-execs,
//! proc-tid0's threads in a child). Left out, and why:
//! - the rest of what forks, clones or execs on the main path: other
//!   programs built on kselftest_harness.h (mincore, syscall_user_dispatch,
//!   ...),
//!   openat2/rename_attack_test, x86 fsgsbase, ldt_gdt, iopl, ioperm,
//!   mov_ss_trap, syscall_numbering, test_mremap_vdso, ptrace_syscall,
//!   check_initial_reg_state (exec), timers/threadtest, clocksource-switch,
//!   skew_consistency, futex/functional (the PI ones: PI futexes are
//!   ENOSYS; futex_wait: its shared-file case opens a file in the working
//!   directory, read-only here), membarrier_test_multi_thread (its
//!   SYNC_CORE cases are not offered, so fewer cases run), rseq param_test and basic_percpu_ops,
//!   vDSO/vdso_test_getrandom, mm cow, khugepaged, map_populate, mrelease,
//!   memfd_secret, uffd-*, proc loadavg and pid-vm (they skip natively),
//!   empty-vm (ptrace), setns-*, kcmp, pidfd, exec's execveat and
//!   binfmt tests, clone3_set_tid and clone3_cap_checkpoint_restore
//!   (they want CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).
//! - root or a namespace: openat2/resolve_test (all its tests want euid
//!   0), tmpfs/bug-link-o-tmpfile, proc-subset-pid, proc-multiple-procfs,
//!   proc-fsconfig-hidepid, mqueue/mq_open_tests, ipc/msgque, timens/*,
//!   timers that set the clock (adjtick, set-tai, set-tz, leap-a-day,
//!   leapcrash, freq-step, valid-adjtimex: the last also defines its own
//!   clock_adjtime, which a static glibc link rejects).
//! - hardware or host kernel features: x86 amx, lam, test_shadow_stack
//!   (they skip natively here), mm soft-dirty (the host has no soft-dirty
//!   tracking), hugetlb and THP tests (need hugepages reserved, root),
//!   ksm, gup_test and split_huge_page_test (debugfs), timers/rtcpie
//!   (/dev/rtc), alarmtimer-suspend.
//! - failing or hanging natively: mm va_high_addr_switch (needs 5-level
//!   paging), proc fd-003-kthread, timers/raw_skew (runs for minutes).
//! - the host's layout or size rather than syscalls: proc-2-is-kthread
//!   (wants the host's kthreadd as pid 2; kvmcage's /proc has pid 1 only),
//!   x86 sysret_rip (moves a page over the top of the address space: with
//!   the stack there, as in kvmcage and in Linux without ASLR, it
//!   overwrites its own stack; `setarch -R` crashes natively too),
//!   mm virtual_address_range (maps the whole 128 TiB address space in
//!   1 GiB pieces; kvmcage's address space is --mem).
//! - 32-bit only: x86 test_FCMOV, test_FCOMI, test_FISTTP, vdso_restorer,
//!   entry_from_vm86, test_syscall_vdso, unwind_vdso (kvmcage runs 64-bit
//!   programs).
//! - no pass/fail of their own: splice helpers, filesystems/dnotify_test,
//!   size/get_size, sud_benchmark, vDSO/vdso_test_chacha (a pure compute
//!   check of the kernel's ChaCha assembly).
//!
//! Output formats parsed (each becomes named test cases):
//! - kselftest TAP: "ok N NAME", "not ok N NAME", "ok N # SKIP NAME"
//!   ("not ok" may follow text on the same line, as nsleep-lat prints it);
//! - the x86 and vDSO style: "[RUN]\tNAME" opens a case, a later "[OK]",
//!   "[FAIL]" or "[SKIP]" line decides it; such a line outside any [RUN]
//!   is a case of its own;
//! - "NAME ... [OK]" / "[PASS]" / "[FAIL]" / "[FAILED]" at the end of a line
//!   (timers set-timer-lat and mqueue-lat, vdso_test_clock_getres);
//! - every program's exit status, as the case "exit status" (0 passes, 4 is
//!   kselftest's skip, anything else fails).
//!
//! Both runs get the same unprivileged identity (ours, or nobody's,
//! 65534, when the tests run as root: the selection is of what needs no
//! root, and as root some tests would take other paths), an empty
//! environment, and a fresh directory holding the program as working
//! directory (mounted read-write at the same path under kvmcage, with a
//! private tmpfs at /tmp).

mod common;
use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// A selected program: its name in target/selftests/bin, its arguments, and
/// extra kvmcage options.
struct Program {
    name: &'static str,
    args: &'static [&'static str],
    cage: &'static [&'static str],
}

const fn prog(name: &'static str) -> Program {
    Program {
        name,
        args: &[],
        cage: &[],
    }
}

/// The programs run by default (about a minute natively, as long again
/// under kvmcage).
const PROGRAMS: &[Program] = &[
    // openat2(2): flags, modes, RESOLVE_*, struct sizes and misalignment.
    prog("openat2-openat2_test"),
    // nanosleep and clock_nanosleep on every clock, relative and absolute.
    prog("timers-nanosleep"),
    // setitimer and the POSIX timers on CPU-time and monotonic clocks.
    // Two cases use a thread (see EXCEPTED).
    prog("timers-posix_timers"),
    // mq_timedreceive's timeout on an empty queue.
    prog("timers-mqueue-lat"),
    // Every clock read back-to-back must never go backwards: one second
    // per clock (-t 1) instead of ten.
    Program {
        name: "timers-inconsistency-check",
        args: &["-t", "1"],
        cage: &[],
    },
    // mremap moves at every alignment, up to 2 GiB mappings (only the first
    // 4 MiB touched): the address space must hold them, hence --mem 4G.
    Program {
        name: "mm-mremap_test",
        args: &[],
        cage: &["--mem", "4G"],
    },
    prog("mm-mremap_dontunmap"),
    prog("mm-mlock2-tests"),
    prog("mm-on-fault-limit"),
    prog("mm-map_fixed_noreplace"),
    prog("mm-madv_populate"),
    prog("mm-mkdirty"),
    prog("mm-mseal_test"),
    prog("mm-seal_elf"),
    prog("mm-droppable"),
    // x86 entry: TF, NT, AC, DF across syscalls, sigreturn to odd segment
    // and stack states, the vsyscall page, alternate signal stacks, NX.
    prog("x86-single_step_syscall"),
    prog("x86-syscall_nt"),
    prog("x86-sigreturn"),
    prog("x86-test_vsyscall"),
    prog("x86-syscall_arg_fault"),
    prog("x86-sigaltstack"),
    prog("x86-sigtrap_loop"),
    prog("x86-nx_stack"),
    // The vDSO: symbols, versions, and agreement with the syscalls.
    prog("vDSO-vdso_test_gettimeofday"),
    prog("vDSO-vdso_test_getcpu"),
    prog("vDSO-vdso_test_abi"),
    prog("vDSO-vdso_test_clock_getres"),
    prog("vDSO-vdso_test_correctness"),
    prog("vDSO-vdso_standalone_test_x86"),
    prog("futex-futex_wait_wouldblock"),
    // Waits in one thread, woken (or requeued) from another.
    prog("futex-futex_requeue"),
    prog("futex-futex_wait_uninitialized_heap"),
    prog("futex-futex_wait_private_mapped_file"),
    prog("prctl-disable-tsc-test"),
    prog("sigaltstack-sas"),
    prog("rseq-basic_test"),
    prog("membarrier-membarrier_test_single_thread"),
    // /proc/self, /proc/thread-self, fd links, map_files, uptime, and a
    // read of every /proc file.
    prog("proc-fd-001-lookup"),
    prog("proc-fd-002-posix-eq"),
    prog("proc-proc-self-isnt-kthread"),
    prog("proc-proc-self-map-files-001"),
    prog("proc-proc-self-map-files-002"),
    prog("proc-proc-self-syscall"),
    prog("proc-proc-self-wchan"),
    prog("proc-proc-uptime-001"),
    prog("proc-proc-uptime-002"),
    prog("proc-read"),
    prog("proc-self"),
    prog("fchmodat2-fchmodat2_test"),
    prog("cachestat-test_cachestat"),
    // A static-pie's load address and alignment from /proc/self/maps.
    prog("exec-load_address"),
    // Since processes: kselftest_harness.h runs each TEST in a child.
    // close_range(2), CLOEXEC and UNSHARE, on descriptors a child shares.
    prog("core-close_range_test"),
    // PR_SET_NAME / PR_GET_NAME and /proc/self/task/TID/comm.
    prog("prctl-set-process-name"),
    // MAP_POPULATE'd private pages after fork: the child's writes stay its
    // own (copy-on-write).
    prog("mm-map_populate"),
    // execve of a #! script chain to Linux's depth limit (ELOOP).
    prog("exec-recursion-depth"),
    // execve with a NULL or empty argv or envp: the child sees argc 0.
    prog("exec-null-argv"),
    // /proc/PID/task of a child creating and joining threads never lists
    // a thread id 0.
    prog("proc-proc-tid0"),
    // /proc/thread-self of a thread cloned without CLONE_FILES and
    // CLONE_FS (a descriptor table and a working directory of its own).
    prog("proc-thread-self"),
    // clone3 in children: flags, struct sizes, exit signals, stacks (the
    // PID and time namespace cases skip without root, natively too).
    prog("clone3-clone3"),
    // clone3's CLONE_CLEAR_SIGHAND: the child's handlers back to SIG_DFL.
    prog("clone3-clone3_clear_sighand"),
];

/// Timer latency tests that take minutes (1.5 natively each, and as long
/// again under kvmcage): run with `cargo test --test selftests -- --ignored`.
const SLOW_PROGRAMS: &[Program] = &[
    // clock_nanosleep latency on every clock.
    prog("timers-nsleep-lat"),
    // POSIX timer expiry latency: absolute and relative, periodic and
    // one-shot, on REALTIME, MONOTONIC, BOOTTIME.
    prog("timers-set-timer-lat"),
];

/// (program, case, what kvmcage does wrong or lacks) for the cases that
/// pass natively but not under kvmcage today. Case "*" stands for every
/// case of a program that stops early (a bail-out or a crash loses the rest);
/// the case "exit status" needs no entry when another excepted case of the
/// same program failed.
const EXCEPTED: &[(&str, &str, &str)] = &[
    ("timers-mqueue-lat", "Mqueue latency", "mq_open is ENOSYS"),
    (
        "mm-mkdirty",
        "SIGSEGV generated, page not modified (2)",
        "no transparent huge pages (no /sys/kernel/mm/transparent_hugepage): \
         the THP cases are not run",
    ),
    (
        "mm-mkdirty",
        "SIGSEGV generated, page not modified (3)",
        "mbind is ENOSYS (one memory node): the page migration case skips",
    ),
    (
        "mm-mkdirty",
        "SIGSEGV generated, page not modified (4)",
        "no transparent huge pages: the THP migration case is not run",
    ),
    (
        "mm-mkdirty",
        "SIGSEGV generated, page not modified (5)",
        "no transparent huge pages: the PTE-mapped THP case is not run",
    ),
    (
        "mm-mseal_test",
        "test_seal_discard_ro_anon_on_pkey",
        "pkey_alloc is ENOSYS (no memory protection keys): the case skips",
    ),
    (
        "mm-mseal_test",
        "test_seal_discard_ro_anon_on_pkey (2)",
        "pkey_alloc is ENOSYS (no memory protection keys): the case skips",
    ),
    (
        "x86-syscall_nt",
        "*",
        "EFLAGS.NT is cleared across a syscall (Linux keeps it): kvmcage \
         returns it in the frame, but kvm_pvm's switch to user mode clears it \
         (popf sets NT in the guest; after any syscall it is gone)",
    ),
    (
        "x86-sigreturn",
        "*",
        "after a sigreturn to a non-canonical RSP, int3 raises SIGILL \
         (ILL_ILLOPN, trapno 6) instead of SIGTRAP; modify_ldt and \
         set_thread_area are ENOSYS",
    ),
    ("rseq-basic_test", "exit status", "rseq is ENOSYS"),
    (
        "membarrier-membarrier_test_single_thread",
        "*",
        "MEMBARRIER_CMD_QUERY offers no PRIVATE_EXPEDITED_SYNC_CORE (kvmcage \
         does not claim a core-serialising return on every platform), so its \
         four SYNC_CORE cases do not run (14 of the 18 native ones do, and pass)",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// A [RUN] case with no verdict line (yet).
    Undecided,
    Ok,
    Skipped,
    Fail,
}

/// One test case of a run.
#[derive(Clone, Debug)]
struct Case {
    /// Its name: the TAP description or the [RUN] text, with " (2)",
    /// " (3)"... after a name seen before. EXCEPTED names cases this way.
    name: String,
    verdict: Verdict,
    /// The line that decided the verdict.
    line: String,
}

/// Key -> case, for every case of a run. The key pairs a native case with
/// the kvmcage run's: "#N" for TAP test N (its description may differ
/// between the runs, with an errno or a count in it), the name otherwise.
type Results = BTreeMap<String, Case>;

/// Whitespace runs as one space, trimmed.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A TAP result line: (test number, name, verdict).
fn tap_line(line: &str) -> Option<(u32, String, Verdict)> {
    let (rest, failed) = if let Some(i) = line.find("not ok ") {
        (&line[i + "not ok ".len()..], true)
    } else {
        (line.strip_prefix("ok ")?, false)
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let number = rest[..digits].parse().ok()?;
    let desc = rest[digits..].trim();
    let base = if failed { Verdict::Fail } else { Verdict::Ok };
    let (verdict, desc) = if let Some(d) = desc.strip_prefix("# SKIP") {
        (Verdict::Skipped, d)
    } else if let Some(d) = desc.strip_prefix("# XFAIL") {
        (base, d)
    } else {
        (base, desc)
    };
    let name = if desc.trim().is_empty() {
        format!("test {number}")
    } else {
        squash(desc)
    };
    Some((number, name, verdict))
}

/// "[OK]", "[FAIL]" or "[SKIP]" at the start of a line: (verdict, the rest).
fn verdict_prefix(line: &str) -> Option<(Verdict, &str)> {
    [
        ("[OK]", Verdict::Ok),
        ("[FAIL]", Verdict::Fail),
        ("[SKIP]", Verdict::Skipped),
    ]
    .iter()
    .find_map(|&(tag, v)| line.strip_prefix(tag).map(|rest| (v, rest)))
}

/// "NAME ... [OK]" (or [PASS], [FAIL], [FAILED]) at the end of a line:
/// (name, verdict). A trailing ": VALUE :" is not part of the name
/// ("max latency:   79634 ns : [OK]" is "max latency").
fn verdict_suffix(line: &str) -> Option<(String, Verdict)> {
    if line.starts_with('[') || line.starts_with('#') {
        return None;
    }
    let (head, verdict) = [
        ("[OK]", Verdict::Ok),
        ("[PASS]", Verdict::Ok),
        ("[FAIL]", Verdict::Fail),
        ("[FAILED]", Verdict::Fail),
    ]
    .iter()
    .find_map(|&(tag, v)| line.strip_suffix(tag).map(|head| (head, v)))?;
    let mut name = head.trim();
    if let Some(n) = name.strip_suffix(':') {
        name = n.trim_end();
        if let Some(i) = name.rfind(':') {
            name = &name[..i];
        }
    }
    let name = squash(name);
    (!name.is_empty()).then_some((name, verdict))
}

/// The cases of one run: every result line of the formats in the module
/// comment, and the exit status.
fn parse(out: &str, code: i32) -> Results {
    // (TAP number, case)
    let mut cases: Vec<(Option<u32>, Case)> = Vec::new();
    let case = |name: String, verdict, line: &str| Case {
        name,
        verdict,
        line: line.trim().to_owned(),
    };
    // The [RUN] case that verdict lines decide, if any.
    let mut open: Option<usize> = None;
    for line in out.lines().map(str::trim_end) {
        if let Some((number, name, v)) = tap_line(line) {
            cases.push((Some(number), case(name, v, line)));
        } else if let Some(rest) = line.strip_prefix("[RUN]") {
            cases.push((None, case(squash(rest), Verdict::Undecided, line)));
            open = Some(cases.len() - 1);
        } else if let Some((v, rest)) = verdict_prefix(line) {
            match open {
                // The worst verdict decides: FAIL over SKIP over OK.
                Some(i) if v > cases[i].1.verdict => {
                    cases[i].1.verdict = v;
                    cases[i].1.line = line.trim().to_owned();
                }
                Some(_) => {}
                None => cases.push((None, case(squash(rest), v, line))),
            }
        } else if let Some((name, v)) = verdict_suffix(line) {
            cases.push((None, case(name, v, line)));
        }
    }
    let exit = match code {
        0 => Verdict::Ok,
        4 => Verdict::Skipped,
        _ => Verdict::Fail,
    };
    let line = format!("exit status {code}");
    cases.push((None, case("exit status".to_owned(), exit, &line)));

    let mut res = Results::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (number, mut c) in cases {
        let n = seen.entry(c.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.name = format!("{} ({n})", c.name);
        }
        let mut key = match number {
            Some(number) => format!("#{number}"),
            None => c.name.clone(),
        };
        // A TAP number printed twice (never by kselftest.h) keeps both.
        while res.contains_key(&key) {
            key.push('+');
        }
        res.insert(key, c);
    }
    res
}

/// Build (or find up to date) the programs, once per test binary; returns
/// the directory.
fn build() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built_by("selftests.sh", "selftests/bin"))
}

/// The identity both runs get: ours, or nobody's when we are root.
fn identity() -> (u32, u32) {
    let uid = rustix::process::geteuid().as_raw();
    if uid == 0 {
        (65534, 65534)
    } else {
        (uid, rustix::process::getegid().as_raw())
    }
}

/// How long one run may take, natively or under kvmcage.
const TIMEOUT_SECS: &str = "300";

fn run_natively(exe: &Path, args: &[&str], dir: &Path) -> Output {
    let (uid, gid) = identity();
    let mut cmd = Command::new("timeout");
    cmd.arg(TIMEOUT_SECS)
        .arg(exe)
        .args(args)
        .env_clear()
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if rustix::process::geteuid().is_root() {
        // std drops the supplementary groups too.
        cmd.uid(uid).gid(gid);
    }
    cmd.output().expect("run timeout(1)")
}

/// Run under kvmcage with the same identity and directory as the native
/// run: the directory mounted rw at its own path and the working
/// directory, a private tmpfs at /tmp.
fn run_in_cage(exe: &Path, args: &[&str], dir: &Path, extra: &[&str]) -> Output {
    let d = dir.to_str().expect("UTF-8 path");
    assert!(
        !d.contains(':'),
        "the mount syntax needs a path without ':'"
    );
    let mount = format!("{d}:{d}:rw");
    let (uid, gid) = identity();
    let (uid, gid) = (uid.to_string(), gid.to_string());
    let mut opts = vec![
        "--timeout",
        TIMEOUT_SECS,
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
    ];
    opts.extend_from_slice(extra);
    run_cage(&opts, exe, args, b"")
}

/// Findings for one program.
#[derive(Default)]
struct Summary {
    cases: usize,
    native_ok: usize,
    cage_ok: usize,
    /// (reason, what kvmcage printed) for each excepted case.
    excepted: Vec<(&'static str, String)>,
    unexpected: Vec<String>,
    stale: Vec<String>,
}

/// The reason EXCEPTED gives for `case` of `program` (or for all its cases).
fn excepted(program: &str, case: &str) -> Option<&'static str> {
    EXCEPTED
        .iter()
        .find(|&&(p, c, _)| p == program && (c == case || c == "*"))
        .map(|&(_, _, why)| why)
}

/// Compare the two runs' cases.
fn compare(program: &str, native: &Results, cage: &Results) -> Summary {
    let mut s = Summary {
        cases: native.len(),
        cage_ok: cage.values().filter(|c| c.verdict == Verdict::Ok).count(),
        ..Summary::default()
    };
    let mut exit_failed = None;
    for (key, case) in native {
        if case.verdict != Verdict::Ok {
            continue;
        }
        s.native_ok += 1;
        let name = &case.name;
        let why = excepted(program, name);
        let got = match cage.get(key) {
            Some(c) if c.verdict == Verdict::Ok => None,
            Some(c) if c.line.contains(name.as_str()) => Some(c.line.clone()),
            Some(c) => Some(format!("{name}: {}", c.line)),
            None => Some(format!("{name}: no such case under kvmcage")),
        };
        match (got, why) {
            (None, Some(_)) => {
                let listed_alone = EXCEPTED
                    .iter()
                    .any(|&(p, c, _)| p == program && c == name.as_str());
                if listed_alone {
                    s.stale.push(format!("{program}: {name}"));
                }
            }
            (None, None) => {}
            (Some(got), Some(why)) => s.excepted.push((why, got)),
            (Some(got), None) if name == "exit status" => exit_failed = Some(got),
            (Some(got), None) => s.unexpected.push(format!("{program}: {got}")),
        }
    }
    if let Some(got) = exit_failed {
        // A program that fails an excepted case fails as a whole too.
        if s.excepted.is_empty() {
            s.unexpected.push(format!("{program}: {got}"));
        } else {
            s.excepted.push(("follows from the excepted cases", got));
        }
    }
    // A "*" entry is stale once every case that passes natively passes.
    let star = EXCEPTED.iter().any(|&(p, c, _)| p == program && c == "*");
    if star && s.native_ok > 0 && s.excepted.is_empty() {
        s.stale.push(format!("{program}: *"));
    }
    s
}

/// Print the excepted cases, one line per reason.
fn print_excepted(program: &str, excepted: &[(&'static str, String)]) {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (why, got) in excepted {
        by_reason.entry(why).or_default().push(got);
    }
    for (why, got) in by_reason {
        if got.len() == 1 {
            eprintln!("  excepted: {program}: {} ({why})", got[0]);
        } else {
            eprintln!(
                "  excepted: {program}: {} cases ({why}), the first: {}",
                got.len(),
                got[0]
            );
        }
    }
}

/// Run one program both ways in a fresh directory and compare.
fn check(bin: &Path, p: &Program) -> Summary {
    let (uid, gid) = identity();
    let dir = std::env::temp_dir().join(format!(
        "kvmcage-selftests-{}-{}",
        std::process::id(),
        p.name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create run directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .expect("chmod run directory");
    let exe = dir.join(p.name);
    std::fs::copy(bin.join(p.name), &exe).expect("copy the program");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the program");
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown run directory");
    }

    let start = Instant::now();
    let native = run_natively(&exe, p.args, &dir);
    let native_time = start.elapsed();
    let start = Instant::now();
    let cage = run_in_cage(&exe, p.args, &dir, p.cage);
    let cage_time = start.elapsed();
    let _ = std::fs::remove_dir_all(&dir);

    let n = parse(&text(&native.stdout), status(&native));
    let c = parse(&text(&cage.stdout), status(&cage));
    let s = compare(p.name, &n, &c);
    eprintln!(
        "{}: {} cases, {} passed natively ({:.1}s, status {}), {} under kvmcage ({:.1}s, status {}), {} excepted",
        p.name,
        s.cases,
        s.native_ok,
        native_time.as_secs_f64(),
        status(&native),
        s.cage_ok,
        cage_time.as_secs_f64(),
        status(&cage),
        s.excepted.len()
    );
    if !s.unexpected.is_empty() {
        eprintln!(
            "{}: native output:\n{}{}\nkvmcage output:\n{}{}",
            p.name,
            text(&native.stdout),
            text(&native.stderr),
            text(&cage.stdout),
            text(&cage.stderr)
        );
    }
    s
}

fn check_all(programs: &[Program]) {
    require_kvm();
    let bin = build();
    let mut failures = Vec::new();
    let mut ran = 0;
    for p in programs {
        if !bin.join(p.name).exists() {
            eprintln!(
                "{}: not built (see scripts/selftests.sh's output), skipped",
                p.name
            );
            continue;
        }
        ran += 1;
        let s = check(bin, p);
        print_excepted(p.name, &s.excepted);
        if !s.stale.is_empty() {
            eprintln!(
                "  listed in EXCEPTED but passing now (remove them): {}",
                s.stale.join(", ")
            );
        }
        failures.extend(s.unexpected);
        // The list must shrink as kvmcage catches up: a stale entry fails.
        failures.extend(
            s.stale
                .iter()
                .map(|t| format!("{t} passes now: remove it from EXCEPTED")),
        );
    }
    assert!(ran > 0, "no selftest program was built");
    assert!(
        failures.is_empty(),
        "passes natively but not under kvmcage:\n{}",
        failures.join("\n")
    );
}

#[test]
fn selftests_pass_under_kvmcage_where_they_pass_natively() {
    check_all(PROGRAMS);
}

#[test]
#[ignore = "minutes of timer latency measurements; run with --ignored"]
fn slow_timer_selftests_pass_under_kvmcage_where_they_pass_natively() {
    check_all(SLOW_PROGRAMS);
}

#[test]
fn excepted_names_selected_programs() {
    for &(p, case, why) in EXCEPTED {
        assert!(
            PROGRAMS.iter().chain(SLOW_PROGRAMS).any(|q| q.name == p),
            "EXCEPTED names {p}/{case}, which is not selected"
        );
        assert!(!why.is_empty(), "EXCEPTED {p}/{case} gives no reason");
    }
}

#[test]
fn parses_each_output_format() {
    let out = "TAP version 13\n1..4\nok 1 first\n# Large abs latency: 5 ns :not ok 2 CLOCK_X\n\
               ok 3 # SKIP third one\nok 4 # XFAIL fourth\n\
               [OK]\tset_thread_area refused 16-bit data\n\
               [RUN]\tSet NT\n[OK]\tfine\n[RUN]\tSet AC\n\tdetail\n[FAIL]\tbad\n[OK]\tlater\n\
               [RUN]\tno verdict\n\
               CLOCK_REALTIME   ABSTIME max latency:    79634 ns : [OK]\n\
               Mqueue latency :      [FAILED]\nclock_id: CLOCK_TAI [PASS]\nok 5 first\n";
    let r = parse(out, 1);
    let v = |name: &str| r.values().find(|c| c.name == name).map(|c| c.verdict);
    assert_eq!(v("first"), Some(Verdict::Ok));
    assert_eq!(v("first (2)"), Some(Verdict::Ok));
    assert_eq!(v("CLOCK_X"), Some(Verdict::Fail));
    assert_eq!(v("third one"), Some(Verdict::Skipped));
    assert_eq!(v("fourth"), Some(Verdict::Ok));
    assert_eq!(v("set_thread_area refused 16-bit data"), Some(Verdict::Ok));
    assert_eq!(v("Set NT"), Some(Verdict::Ok));
    assert_eq!(v("Set AC"), Some(Verdict::Fail));
    assert_eq!(v("no verdict"), Some(Verdict::Undecided));
    assert_eq!(v("CLOCK_REALTIME ABSTIME max latency"), Some(Verdict::Ok));
    assert_eq!(v("Mqueue latency"), Some(Verdict::Fail));
    assert_eq!(v("clock_id: CLOCK_TAI"), Some(Verdict::Ok));
    assert_eq!(v("exit status"), Some(Verdict::Fail));
    assert_eq!(r.len(), 13);
    // TAP cases pair by number, the others by name.
    assert_eq!(r["#2"].name, "CLOCK_X");
    assert_eq!(r["Set AC"].line, "[FAIL]\tbad");
}
