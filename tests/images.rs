//! Differential tests: each program in images/ runs natively and under
//! kvmcage (glibc, musl and static-pie builds) with the same stdout and exit
//! status. The host kernel is the oracle.

mod common;
use common::*;

#[test]
fn hello_matches_native_including_stderr() {
    for (flavor, out) in same_as_native("hello", &["world"], b"") {
        assert_eq!(text(&out.stderr), "stderr works\n", "{flavor:?}");
    }
}

#[test]
fn args_and_the_default_environment() {
    let outs = same_as_native("args", &["one", "two words", "-x", "--"], b"");
    for (flavor, out) in outs {
        let s = text(&out.stdout);
        let env = format!("env: HOME=/tmp\nenv: PATH={DEFAULT_PATH}\nenvc=2\n");
        assert!(s.contains(&env), "{flavor:?}: {s}");
        assert!(s.contains("argv[2]=two words\n"), "{flavor:?}: {s}");
    }
    // No system, no environment.
    let out = run_cage(&["--no-system"], &image("args", Flavor::Gcc), &[], b"");
    assert!(
        text(&out.stdout).contains("envc=0\n"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn env_option_sets_exactly_the_given_variables() {
    require_kvm();
    for flavor in FLAVORS {
        let bin = image("args", flavor);
        let out = run_cage(
            &["--env", "KVMCAGE_TEST=yes", "--env", "EMPTY="],
            &bin,
            &[],
            b"",
        );
        let s = text(&out.stdout);
        let env = format!(
            "env: KVMCAGE_TEST=yes\nenv: EMPTY=\nenv: HOME=/tmp\nenv: PATH={DEFAULT_PATH}\nenvc=4\n"
        );
        assert!(s.contains(&env), "{s}");
        assert!(s.contains("getenv(KVMCAGE_TEST)=yes\n"), "{s}");
        // Given PATH and HOME replace the defaults; --no-system adds none.
        let out = run_cage(&["--env", "PATH=/x", "--env", "HOME=/h"], &bin, &[], b"");
        let s = text(&out.stdout);
        assert!(s.contains("env: PATH=/x\nenv: HOME=/h\nenvc=2\n"), "{s}");
        if matches!(flavor, Flavor::Gcc | Flavor::Musl | Flavor::Pie) {
            let out = run_cage(&["--no-system", "--env", "A=1"], &bin, &[], b"");
            let s = text(&out.stdout);
            assert!(s.contains("env: A=1\nenvc=1\n"), "{s}");
        }
    }
}

#[test]
fn fionbio_fioclex_match_native() {
    // Python's setblocking() and asyncio set O_NONBLOCK with FIONBIO.
    for (flavor, out) in same_as_native("fionbio", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.contains("socket       nonblock=1 cloexec=1\n"),
            "{flavor:?}: {s}"
        );
        assert!(
            s.contains("read empty pipe: -1 Resource temporarily unavailable\n"),
            "{flavor:?}: {s}"
        );
    }
}

#[test]
fn administration_calls_answer_as_for_an_unprivileged_program() {
    require_kvm();
    // What Linux (Debian's defaults: dmesg_restrict, perf_event_paranoid
    // 3) answers a program without capabilities. Not compared with this
    // host: its kernel has no modules and no iopl/ioperm (ENOSYS there).
    let out = run_cage(&[], &image("privileged", Flavor::Gcc), &[], b"");
    let got: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let want = [
        "mount -1 EPERM",
        "umount2 -1 EPERM",
        "umount2 bad flags -1 EINVAL",
        "reboot -1 EPERM",
        "sethostname -1 EPERM",
        "settimeofday -1 EPERM",
        "clock_settime realtime -1 EPERM",
        "clock_settime monotonic -1 EINVAL",
        "iopl 0 0",
        "iopl 3 -1 EPERM",
        "iopl 4 -1 EINVAL",
        "ioperm on -1 EPERM",
        "ioperm off 0",
        "ioperm past 0xffff -1 EINVAL",
        "syslog size -1 EPERM",
        "syslog open -1 EPERM",
        "syslog bad -1 EPERM",
        "acct -1 EPERM",
        "swapoff -1 EPERM",
        "delete_module -1 EPERM",
        "bpf -1 EPERM",
        "perf_event_open -1 EFAULT",
        "vhangup -1 EPERM",
        "pivot_root -1 EPERM",
    ];
    assert_eq!(got, want, "{}", text(&out.stderr));
    assert_eq!(status(&out), 0);
}

#[test]
fn exit_codes_match_native() {
    for args in [
        &["0"][..],
        &["1"],
        &["42"],
        &["255"],
        &["ret", "9"],
        &["big"],
    ] {
        same_as_native("exitcode", args, b"");
    }
}

#[test]
fn malloc_churn_and_large_allocations() {
    same_as_native("malloc", &[], b"");
}

#[test]
fn bad_pointers_give_efault_like_linux() {
    // stdin holds data, so read(0, NULL, 10) has something to copy and must
    // fault (with nothing to read, Linux returns 0 before touching it).
    let outs = same_as_native("efault", &[], b"some input\n");
    let s = text(&outs[0].1.stdout);
    assert!(
        s.contains("write(1, 0x1, 10)                  = -1 (Bad address)"),
        "{s}"
    );
    assert!(
        s.contains("syscall 1000                       = -1 (Function not implemented)"),
        "{s}"
    );
}

#[test]
fn partial_buffers_give_short_counts() {
    // stdout is a pipe here: Linux's pipe_write drops a chunk whose copy
    // faults, so nothing is written and the result is EFAULT.
    let outs = same_as_native("partial", &[], b"");
    assert!(text(&outs[0].1.stdout).contains("\nshort write: -1\n"));
}

/// /proc/self/auxv is the vector the program started with, /proc/stat
/// has the lines programs parse (one CPU, one process), and /proc/cpuinfo
/// describes the CPUs the program has as its `cpuid` does.
#[test]
fn proc_auxv_stat_and_cpuinfo_match_native() {
    let outs = same_as_native("procfiles", &[], b"");
    for (flavor, out) in &outs {
        let s = text(&out.stdout);
        assert!(!s.contains(": no"), "{flavor:?}: {s}");
        assert_eq!(s.lines().count(), 14, "{flavor:?}: {s}");
    }
}

#[test]
fn sysinfo_matches_native() {
    same_as_native("sysinfo", &[], b"");
}

#[test]
fn signal_bookkeeping_and_abort() {
    same_as_native("signals", &[], b"");
    let outs = same_as_native("signals", &["abort"], b"");
    for (flavor, out) in outs {
        assert_eq!(status(&out), 134, "{flavor:?}");
        assert_eq!(
            cage_lines(&out),
            ["kvmcage: guest killed by SIGABRT"],
            "{flavor:?}"
        );
    }
}

/// A program that dies of a fault: same status as native (128+N), and one
/// line naming the signal and the instruction.
fn dies_like_native(name: &str, signal: &str, insn: &str) {
    for (flavor, out) in same_as_native(name, &[], b"") {
        let lines = cage_lines(&out);
        assert_eq!(lines.len(), 1, "{flavor:?}: {lines:?}");
        assert!(
            lines[0].starts_with(&format!("kvmcage: guest killed by {signal} (")),
            "{flavor:?}: {lines:?}"
        );
        assert!(lines[0].contains(insn), "{flavor:?}: {lines:?}");
    }
}

#[test]
fn null_dereference_is_sigsegv() {
    dies_like_native("segv", "SIGSEGV", "page fault on read at 0x0, not mapped");
}

#[test]
fn invalid_instruction_is_sigill() {
    dies_like_native("ud2", "SIGILL", ": ud2");
}

#[test]
fn divide_by_zero_is_sigfpe() {
    dies_like_native("fpe", "SIGFPE", "divide error");
}

#[test]
fn page_table_edits_are_never_stale() {
    dies_like_native("mprotect", "SIGSEGV", "page fault on write");
}

/// `int $n` for the vectors ring 3 may not use is a #GP naming the IDT
/// entry, as on Linux (kvm_pvm raised #UD: SIGILL); `int $3` and `int $4`
/// are traps. The signal, si_code, si_addr, RIP, trapno and error code
/// match native.
#[test]
fn int_n_faults_as_on_linux() {
    let outs = same_as_native("intn", &[], b"");
    for (flavor, out) in outs {
        let s = text(&out.stdout);
        assert!(
            s.contains(
                "int $0x81: Segmentation fault code 128, rip at, addr 0, trapno 13, err 0x40a"
            ),
            "{flavor:?}: {s}"
        );
        assert!(
            s.contains("inb (%dx) 0xf9 : Segmentation fault code 128, rip at, trapno 13, err 0"),
            "{flavor:?}: {s}"
        );
    }
    // The doorbell transport opens ports 0xf8..0xfb to ring 3 for its
    // ioeventfd: anything else done there is still the #GP.
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("intn", flavor);
        let native = run_native(&bin, &[], b"");
        let cage = run_cage(&["--transport", "doorbell"], &bin, &[], b"");
        assert_eq!(
            text(&cage.stdout),
            text(&native.stdout),
            "intn ({flavor:?}, doorbell): {}",
            text(&cage.stderr)
        );
    }
}

/// /proc/self/maps names and /proc/self/map_files links as Linux's: a
/// private /dev/zero mapping is "/dev/zero", shared anonymous memory
/// "/dev/zero (deleted)", private anonymous memory has no entry.
#[test]
fn map_files_and_dev_zero_names_match_native() {
    let outs = same_as_native("mapfiles", &[], b"");
    for (flavor, out) in outs {
        let s = text(&out.stdout);
        assert!(s.contains("map_files link /dev/zero\n"), "{flavor:?}: {s}");
    }
}

/// The vsyscall page as Linux's default vsyscall=xonly has it: its three
/// entries answer as their system calls (registers but RAX kept), its
/// maps line, no reading it.
#[test]
fn vsyscall_entries_work_as_on_linux() {
    let outs = same_as_native("vsyscall", &[], b"");
    for (flavor, out) in outs {
        let s = text(&out.stdout);
        assert!(s.contains("[vsyscall]"), "{flavor:?}: {s}");
        assert!(
            s.contains("time: returned and stored the same: yes, in order: yes"),
            "{flavor:?}: {s}"
        );
    }
}

#[test]
fn int80_uses_the_i386_abi() {
    let outs = same_as_native("int80", &[], b"");
    for (flavor, out) in outs {
        let s = text(&out.stdout);
        // A PIE's data lies above 4 GiB too, so only ET_EXEC can hand
        // int 0x80 a pointer to it.
        let et_exec = std::fs::read(image("int80", flavor)).unwrap()[16] == 2;
        if et_exec {
            assert!(s.starts_with("written by int 0x80\n"), "{flavor:?}: {s}");
        }
        assert!(s.contains("(above 4 GiB): -14\n"), "{flavor:?}: {s}");
        assert!(s.contains("int80 bad number: -38\n"), "{flavor:?}: {s}");
        assert_eq!(status(&out), 42);
    }
}

#[test]
fn no_libc_raw_syscalls() {
    require_kvm();
    let bin = image("rawsyscall", Flavor::Gcc);
    let out = run_cage(&[], &bin, &[], b"");
    assert_eq!(text(&out.stdout), "raw syscall\n");
    assert_eq!(status(&out), 7);
}

#[test]
fn stdin_passes_through() {
    let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    for (flavor, out) in same_as_native("stdin", &[], &input) {
        assert!(out.stdout.starts_with(&input), "{flavor:?}");
        assert!(text(&out.stdout).ends_with("read 100000 bytes, last result 0\n"));
    }
}

#[test]
fn partial_buffers_to_a_regular_file_give_the_short_count() {
    require_kvm();
    let dir = root().join("target/images-out");
    std::fs::create_dir_all(&dir).unwrap();
    for flavor in FLAVORS {
        let bin = image("partial", flavor);
        let run_to = |path: &std::path::Path, cage: bool| {
            let f = std::fs::File::create(path).unwrap();
            let mut cmd = if cage {
                let mut c = std::process::Command::new(kvmcage());
                c.arg("run").arg(&bin);
                c
            } else {
                std::process::Command::new(&bin)
            };
            let st = cmd
                .stdout(f)
                .stdin(std::fs::File::open("/dev/null").unwrap())
                .status()
                .unwrap();
            (st.code(), std::fs::read_to_string(path).unwrap())
        };
        let native = run_to(
            &dir.join(format!("partial-{}-native", flavor.name())),
            false,
        );
        let cage = run_to(&dir.join(format!("partial-{}-cage", flavor.name())), true);
        assert_eq!(cage, native, "{flavor:?}");
        assert!(
            cage.1.contains("\nshort write: 10\n"),
            "{flavor:?}: {}",
            cage.1
        );
    }
}

#[test]
fn read_with_a_bad_buffer_at_eof_returns_zero() {
    // Nothing to copy (stdin is empty), so Linux never touches the buffer.
    require_kvm();
    for flavor in FLAVORS {
        let bin = image("efault", flavor);
        let st = std::process::Command::new(kvmcage())
            .arg("run")
            .arg(&bin)
            .stdin(std::fs::File::open("/dev/null").unwrap())
            .output()
            .unwrap();
        let native = std::process::Command::new(&bin)
            .stdin(std::fs::File::open("/dev/null").unwrap())
            .output()
            .unwrap();
        assert_eq!(text(&st.stdout), text(&native.stdout), "{flavor:?}");
        assert!(text(&st.stdout).contains("read(0, NULL, 10)                  = 0\n"));
    }
}

#[test]
fn memory_syscalls_match_native() {
    let outs = same_as_native("memory", &[], b"");
    let s = text(&outs[0].1.stdout);
    assert!(
        s.contains("grow with MAYMOVE moved: 1, kept: 1, zeroed tail: 1\n"),
        "{s}"
    );
    assert!(s.contains("resident: 0010\n"), "{s}");
}

#[test]
fn guard_page_write_is_sigsegv() {
    for (flavor, out) in same_as_native("memory", &["guard"], b"") {
        assert_eq!(status(&out), 139, "{flavor:?}");
        assert!(
            text(&out.stdout).ends_with("before the guard page\n"),
            "{flavor:?}"
        );
        assert!(
            cage_lines(&out)[0].contains("page fault on write"),
            "{flavor:?}"
        );
    }
}

#[test]
fn sysenter_from_64_bit_code_dies_as_natively() {
    require_kvm();
    let bin = image("sysenter", Flavor::Gcc);
    let native = run_native(&bin, &[], b"");
    let cage = run_cage(&[], &bin, &[], b"");
    assert_eq!(status(&cage), status(&native), "{}", text(&cage.stderr));
    let amd = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .contains("AuthenticAMD");
    if amd {
        assert_eq!(status(&cage), 132, "AMD: #UD in long mode, SIGILL");
        assert!(
            cage_lines(&cage)[0].contains("invalid opcode"),
            "{:?}",
            cage_lines(&cage)
        );
    }
}
/// System V shared memory, semaphores and message queues in one process
/// (images/sysvipc.c): attach, alias, remove while attached, SEM_UNDO,
/// semtimedop timing out, message types, truncation and a full queue.
#[test]
fn sysv_ipc_matches_native() {
    for (flavor, out) in same_as_native("sysvipc", &[], b"") {
        let s = text(&out.stdout);
        for line in [
            "aliases: sysv shm !\n",
            "shmat after IPC_RMID: ok\n",
            "shmctl IPC_STAT after the last detach: -1 EINVAL\n",
            "GETALL: 1 0 3\n",
            "semtimedop 50 ms: -1 EAGAIN\n",
            "msgrcv 64 -3: 3, type 1, \"one\"\n",
            "msgrcv 4 0 MSG_NOERROR: 4, type 4, \"a lo\"\n",
        ] {
            assert!(s.contains(line), "{flavor:?}: no {line:?} in\n{s}");
        }
        assert!(s.ends_with("done\n"), "{flavor:?}: {s}");
    }
}

/// Large anonymous memory is Linux's transparent huge pages: a first
/// touch brings in a whole 2 MiB stretch, untouched stretches stay out,
/// MADV_DONTNEED takes out just its pages, as natively with MADV_HUGEPAGE
/// (images/bigtouch.c).
#[test]
fn large_anonymous_memory_comes_in_2_mib_stretches_as_native_thp() {
    for (flavor, out) in same_as_native("bigtouch", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.contains(
                "written in stretches 0, 2 and 5: resident pages per 2 MiB: 512 0 512 0 0 512 0 0\n"
            ),
            "{}: {s}",
            flavor.name()
        );
    }
}

/// /proc/self/mem (FOLL_FORCE writes, PROT_NONE reads, EIO at a hole),
/// /proc/self/pagemap (present and exclusive bits, hidden frame numbers),
/// MADV_POPULATE_READ/WRITE and their errors, and /proc/self/smaps and
/// smaps_rollup (Rss, Locked after mlock, VmFlags), against native
/// (images/procmem.c).
#[test]
fn proc_self_mem_pagemap_and_smaps_match_native() {
    for (flavor, out) in same_as_native("procmem", &[], b"") {
        let s = text(&out.stdout);
        for line in [
            "1 mem: pwrite into a PROT_READ page 6, page reads \"forced\"\n",
            "1 mem: pread of PROT_NONE memory 6, \"hidden\"\n",
            "1 mem: pread of an unmapped page EIO\n",
            "2 pagemap: fresh page not present\n",
            "2 pagemap: MADV_POPULATE_WRITE 0, page present; the next not present\n",
            "3 populate: READ over a hole ENOMEM\n",
            "4 smaps: mlock 0, Rss 16 kB, Locked 16 kB, VmFlags rd wr mr mw me lo ac \n",
        ] {
            assert!(s.contains(line), "{flavor:?}: no {line:?} in {s}");
        }
        assert!(s.ends_with("procmem: done\n"), "{flavor:?}: {s}");
    }
}

/// mlock and friends: VmLck as ranges are locked, split and unlocked, and
/// the errors, against native; past RLIMIT_MEMLOCK (ENOMEM, EAGAIN for a
/// mapping under MCL_FUTURE, EPERM at limit 0) against native run as an
/// unprivileged user, as the program is in the sandbox.
#[test]
fn mlock_matches_native() {
    use std::os::unix::process::CommandExt;
    let outs = same_as_native("mlock", &[], b"");
    for (flavor, out) in &outs {
        assert!(
            text(&out.stdout).contains("VmLck: +16 kB\n"),
            "{flavor:?}: {}",
            text(&out.stdout)
        );
    }
    for flavor in FLAVORS {
        let bin = image("mlock", flavor);
        let mut cmd = std::process::Command::new(&bin);
        cmd.arg("limit").env_clear();
        if rustix::process::geteuid().is_root() {
            cmd.uid(65534).gid(65534);
        }
        let native = cmd.output().expect("run mlock natively");
        let cage = run_cage(&[], &bin, &["limit"], b"");
        assert_eq!(
            text(&cage.stdout),
            text(&native.stdout),
            "{flavor:?}: {}",
            text(&cage.stderr)
        );
        assert!(text(&cage.stdout).contains("mlock 17 pages: -1 ENOMEM\n"));
    }
}

/// The stack grows down on demand as Linux's: small at start, grown by
/// touches within RLIMIT_STACK and never into the guard gap, by a read
/// into an untouched stack buffer and by a signal frame pushed onto
/// untouched stack.
#[test]
fn stack_grows_on_demand_as_on_linux() {
    let outs = same_as_native("stackgrow", &[], b"");
    for (flavor, out) in outs {
        let s = text(&out.stdout);
        assert!(
            s.contains("read 4 MiB of /dev/zero into a stack buffer: 4194304\n"),
            "{flavor:?}: {s}"
        );
        assert!(s.contains("handler ran: yes"), "{flavor:?}: {s}");
        assert!(
            s.contains("within the gap: signal 11, code 1\n"),
            "{flavor:?}: {s}"
        );
    }
}
