//! Processes (issue 16): fork with copy-on-write, vfork, posix_spawn,
//! execve in a child, wait4/waitid, SIGCHLD, pipes between processes,
//! process groups and sessions, orphans, --max-procs, busybox sh running
//! pipelines, job-control stops, and the trace of several processes.
//! Programs: images/fork.c, forkpage.c, forkbomb.c, jobctl.c, sysvfork.c,
//! pshared.c, proctree.c, unixfork.c, cloneshare.c, wipeonfork.c, and Debian's
//! busybox-static.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

/// fork/wait by pid with exit codes, copy-on-write both ways, a pipe to
/// EOF, EPIPE and death by SIGPIPE, WNOHANG and ECHILD, SIGCHLD's siginfo
/// and SA_RESTART, process groups (kill of a group), sessions, a shared
/// file offset, vfork (the child's store seen by the parent; execve of
/// /proc/self/exe), a failed execve that leaves the child running,
/// posix_spawn (ENOENT through vfork's shared memory), wait4's rusage,
/// waitid with WNOWAIT, an orphan reparented: each as native.
#[test]
fn fork_wait_and_friends_match_native() {
    for (flavor, out) in same_as_native("fork", &[], b"") {
        let s = text(&out.stdout);
        for line in [
            "2 cow: parent after the child's writes sees global 1, heap all 1: yes, stack all 1: yes\n",
            "3 cow: child after the parent's writes sees global 1, heap all 1: yes, stack all 1: yes\n",
            "8 sigchld: si_code == CLD_EXITED: yes, si_status 21, si_pid == child: yes\n",
            "9 pgrp: kill(-pgid, SIGUSR1) 0: first exit 41, second exit 42\n",
            "12 vfork: _exit(9): exit 9; the child's store seen by the parent: yes\n",
            "14 spawn: posix_spawn of /nonexistent: ENOENT: yes\n",
            "16 orphan: middle child exit 0; grandchild reparented: yes\n",
        ] {
            assert!(s.contains(line), "{flavor:?}: no {line:?} in {s}");
        }
        assert!(s.ends_with("fork: done\n"), "{flavor:?}: {s}");
    }
}

/// The fork variant of the page-staleness test: after fork, a write by
/// either side is never seen by the other, round after round on remapped
/// pages, whichever writes first.
#[test]
fn copy_on_write_is_never_stale() {
    for (flavor, out) in same_as_native("forkpage", &[], b"") {
        let s = text(&out.stdout);
        assert!(!s.contains(": no"), "{flavor:?}: {s}");
        assert_eq!(s.lines().count(), 5, "{flavor:?}: {s}");
    }
}

/// What a fork's child gets of marked memory: MADV_WIPEONFORK gives it
/// zeros (KEEPONFORK undoes it), MADV_DONTFORK no mapping (DOFORK undoes
/// it), and MAP_DROPPABLE memory is wiped on fork and dropped by
/// MADV_PAGEOUT; Linux's errors for each (images/wipeonfork.c).
#[test]
fn fork_honours_wipeonfork_dontfork_and_droppable() {
    for (flavor, out) in same_as_native("wipeonfork", &[], b"") {
        let s = text(&out.stdout);
        for line in [
            "1 wipe: madvise 0; child sees zeros there and the next page copied: yes; parent keeps its bytes: yes\n",
            "2 keep: madvise 0; child sees the parent's bytes: yes\n",
            "3 dontfork: madvise 0; child has no mapping there and the next page copied: yes\n",
            "3 dofork: madvise 0; child has both pages: yes\n",
            "4 errors: WIPEONFORK on a private file mapping: EINVAL\n",
            "4 errors: KEEPONFORK on a private file mapping: 0\n",
            "5 droppable: with MAP_LOCKED: EINVAL\n",
            "5 droppable: a child sees zeros: yes; the parent its bytes: yes\n",
            "5 droppable: KEEPONFORK: EINVAL\n",
            "5 droppable: MADV_PAGEOUT dropped every page: yes\n",
        ] {
            assert!(s.contains(line), "{flavor:?}: no {line:?} in {s}");
        }
        assert!(s.ends_with("wipeonfork: done\n"), "{flavor:?}: {s}");
    }
}

/// Job control as a parent sees it: SIGSTOP and SIGTSTP stop a child,
/// reported once to waitpid(WUNTRACED) and waitid(WSTOPPED) and by
/// SIGCHLD (CLD_STOPPED; none under SA_NOCLDSTOP); SIGCONT continues it
/// (WCONTINUED, CLD_CONTINUED); a stopped child runs no handler until it
/// is continued and dies of SIGKILL; SIGCONT to a running child reports
/// nothing; an ignored SIGTSTP stops nothing.
#[test]
fn stops_and_continues_match_native() {
    for (flavor, out) in same_as_native("jobctl", &[], b"") {
        let s = text(&out.stdout);
        for line in [
            "1 stop: waitpid(WUNTRACED) returned the child: yes, stopped: yes, exited: no, signaled: no, stop signal 19 (SIGSTOP 19)\n",
            "2 cont: kill(SIGCONT) 0; waitpid(WCONTINUED) returned the child: yes, continued: yes, stopped: no\n",
            "8 pending: kill(SIGUSR1) 0 to the stopped child: handler ran within 100 ms: no\n",
        ] {
            assert!(s.contains(line), "{flavor:?}: no {line:?} in {s}");
        }
        assert!(s.ends_with("jobctl: done\n"), "{flavor:?}: {s}");
    }
}

/// System V IPC is the sandbox's, not a process's: a segment attached
/// before fork is shared memory with the child (two attachments, one after
/// the child exits), and semaphores and a message queue made by the parent
/// block and wake across the two processes.
#[test]
fn sysv_ipc_works_across_fork() {
    for (flavor, out) in same_as_native("sysvfork", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.contains("2 child: a second attachment sees 2, the parent's 3\n")
                && s.contains("3 parent: child exit 0, attachments left: 1\n")
                && s.ends_with("sysvfork: done\n"),
            "{flavor:?}: {s}"
        );
    }
}

/// Futexes across processes: a process-shared mutex (an exact counter from
/// two processes), condition variable and semaphores in MAP_SHARED memory
/// wake across fork; a private futex on the same address stays each
/// process's own.
#[test]
fn process_shared_futexes_match_native() {
    for (flavor, out) in same_as_native("pshared", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.contains("4 mutex: counter 40000 of 40000; child exit 0\n")
                && s.contains("3 private: wait ended by its timeout\n")
                && s.ends_with("pshared: done\n"),
            "{flavor:?}: {s}"
        );
    }
}

/// Processes seen from outside and the end of a vfork parent: another
/// process's /proc/PID (cmdline, comm, stat, status, the /proc listing,
/// state Z until reaped), SIGCHLD ignored reaping at once (waitpid is
/// ECHILD, not a hang), and a vfork child that keeps running on the memory
/// of a process that exits meanwhile (it takes the address space over).
#[test]
fn proc_of_other_processes_and_vfork_orphans_match_native() {
    for (flavor, out) in same_as_native("proctree", &[], b"") {
        let s = text(&out.stdout);
        assert!(!s.contains(": no"), "{flavor:?}: {s}");
        assert!(s.ends_with("proctree: done\n"), "{flavor:?}: {s}");
    }
}

/// clone with CLONE_FILES and CLONE_FS: a child's close, dup2, chdir and
/// umask are its parent's; close_range(CLOSE_RANGE_UNSHARE), unshare and
/// execve give such a child a table of its own; a thread that unshares
/// keeps its descriptors and working directory from the other threads;
/// unshare(CLONE_VM) is EINVAL with a second thread.
#[test]
fn clone_files_and_fs_share_and_unshare_as_native() {
    for (flavor, out) in same_as_native("cloneshare", &[], b"") {
        let s = text(&out.stdout);
        assert!(!s.lines().any(|l| l.ends_with(" no")), "{flavor:?}: {s}");
        assert!(
            s.contains("files: parent sees the close yes"),
            "{flavor:?}: {s}"
        );
        assert!(s.ends_with("cloneshare: done\n"), "{flavor:?}: {s}");
    }
}

/// A shell loop running 1500 commands in 16 MiB: every process's page
/// tables are reused by the next (a freed table frame is never a table
/// again on kvm_pvm, so without the reuse this runs out of them).
#[test]
fn a_long_loop_of_commands_reuses_page_tables() {
    require_kvm();
    let out = run_cage(
        &["--mem", "16M"],
        Path::new(BUSYBOX),
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 1500 ]; do /bin/busybox true || exit 9; i=$((i + 1)); done; echo $i",
        ],
        b"",
    );
    assert_eq!(text(&out.stdout), "1500\n", "{}", text(&out.stderr));
    assert_eq!(status(&out), 0);
}

/// AF_UNIX between processes: a socketpair across fork carries bytes and
/// a descriptor (SCM_RIGHTS from the child to the parent), and a child
/// connects to an abstract and a path socket its parent bound.
#[test]
fn unix_sockets_between_processes_match_native() {
    for (flavor, out) in same_as_native("unixfork", &[], b"") {
        let s = text(&out.stdout);
        assert!(
            s.contains("2 SCM_RIGHTS: read 17 bytes from the passed pipe: via a passed pipe\n")
                && s.contains("3 abstract: the child connected and wrote: yes\n")
                && s.ends_with("unixfork: done\n"),
            "{flavor:?}: {s}"
        );
    }
}

/// A fork bomb ends at --max-procs with EAGAIN, its children are killed
/// and reaped, and there is room again afterwards; kvmcage itself ends
/// normally.
#[test]
fn fork_bomb_stops_at_max_procs() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("forkbomb", flavor);
        let out = run_cage(&["--max-procs", "20"], &bin, &[], b"");
        assert_eq!(
            text(&out.stdout),
            "forked 19, then EAGAIN\nfork failed with EAGAIN: yes\nkilled all: yes\n\
             reaped all: yes\nno children left: yes\nafter reaping: fork works: yes\n",
            "{flavor:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(status(&out), 0);
    }
    // The default bound (256) holds too.
    let out = run_cage(&[], &image("forkbomb", Flavor::Gcc), &[], b"");
    assert!(
        text(&out.stdout).starts_with("forked 255, then EAGAIN\n"),
        "{}",
        text(&out.stderr)
    );
}

const BUSYBOX: &str = "/bin/busybox";

/// `busybox sh -c SCRIPT` natively (in `dir`) and in the sandbox (with
/// `dir` mounted read-write at /data, its cwd): the same stdout and status.
fn sh_same(dir: &Path, script: &str) {
    let native = Command::new(BUSYBOX)
        .args(["sh", "-c", script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .output()
        .expect("busybox");
    let mount = format!("{}:/data:rw", dir.display());
    // A deadlock shows as a failure (124), not a hung test.
    let cage = run_cage(
        &["--mount", &mount, "--cwd", "/data", "--timeout", "30s"],
        Path::new(BUSYBOX),
        &["sh", "-c", script],
        b"",
    );
    assert_eq!(
        text(&cage.stdout),
        text(&native.stdout),
        "sh -c {script:?}: kvmcage stderr {}",
        text(&cage.stderr)
    );
    assert_eq!(status(&cage), status(&native), "sh -c {script:?}");
}

/// What a shell does with processes, each as native: pipelines, command
/// substitution, subshells and `$?`, background jobs and `wait`, a trap
/// run by `kill -USR1 $$`, here-documents, xargs, find | xargs grep, and
/// a loop running 50 external commands.
#[test]
fn busybox_sh_runs_pipelines_as_native() {
    require_kvm();
    let dir = std::env::temp_dir().join(format!("kvmcage-sh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), "alpha\nbeta\nneedle one\n").unwrap();
    std::fs::write(dir.join("sub/b.txt"), "gamma\nneedle two\n").unwrap();
    for script in [
        "echo hi | cat",
        // cat's sendfile waits for the writer, which must get its turn.
        "(sleep 0.3; echo late) | cat",
        "seq 1 20000 | sort -rn | head -3",
        "echo $(echo inner $(echo nested)) done",
        "(exit 3); echo status $?; (echo in a subshell; exit 0) && echo ok",
        "sleep 0.2 & echo started; wait $!; echo waited $?",
        "false & wait $!; echo $?",
        "trap 'echo got USR1' USR1; kill -USR1 $$; echo after",
        "cat <<EOF | tr a-z A-Z\nhere document $((6 * 7))\nEOF",
        "seq 1 10 | xargs -n 3 echo",
        "find . -name '*.txt' | sort | xargs grep -h needle",
        "i=0; while [ $i -lt 50 ]; do /bin/busybox true; i=$((i + 1)); done; echo $i",
        "for w in one two three; do echo $w | wc -c; done",
        "ls /data/nonexistent 2>/dev/null; echo ls said $?",
        "exec /bin/busybox echo replaced",
        "yes | head -c 100000 | wc -c",
        "sh -c 'exit 7'; echo nested $?",
        "sh -c 'kill -TERM $$'; echo killed $?",
    ] {
        sh_same(&dir, script);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The trace of a pipeline follows every process, as `strace -f`: lines
/// of other processes say `[pid N]`, each process's end has its `+++`
/// line, and the children's execve, read and write are there.
#[test]
fn trace_follows_every_process() {
    require_kvm();
    let json = std::env::temp_dir().join(format!("kvmcage-trace-{}.json", std::process::id()));
    let out = run_cage(
        &["--trace", "--trace-json", json.to_str().unwrap()],
        Path::new(BUSYBOX),
        &["sh", "-c", "echo abc | /bin/busybox tr a-c x-z; exit 4"],
        b"",
    );
    // The JSON records name the process and the thread of each call: the
    // child's execve is its own (pid == tid, not the first process's).
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let _ = std::fs::remove_file(&json);
    let exec = records
        .iter()
        .find(|r| r["name"] == "execve")
        .expect("an execve record");
    assert_ne!(exec["pid"], 1, "{exec}");
    assert_eq!(exec["pid"], exec["tid"], "{exec}");
    assert!(records
        .iter()
        .any(|r| r["pid"] == 1 && r["name"] == "wait4"));
    assert_eq!(text(&out.stdout), "xyz\n");
    assert_eq!(status(&out), 4);
    let err = text(&out.stderr);
    let exits: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("[pid ") && l.ends_with("+++ exited with 0 +++"))
        .collect();
    assert!(!exits.is_empty(), "no child's +++ line: {err}");
    assert!(
        err.lines().any(|l| l.starts_with("[pid ")
            && l.contains("execve(\"/bin/busybox\", [\"/bin/busybox\", \"tr\"")),
        "no traced execve in a child: {err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("[pid ") && l.contains("wait4(")),
        "{err}"
    );
    assert!(err.trim_end().ends_with("+++ exited with 4 +++"), "{err}");
}
