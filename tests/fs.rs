//! Files: programs see only what is mounted, with Linux's semantics; nothing
//! outside the mounts can be read or changed.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fresh(name: &str) -> PathBuf {
    let d = root().join("target/fs-test").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run `images/<name>` natively with a fresh directory as its argument, and
/// in the sandbox with another fresh directory mounted rw at /work; require
/// the same stdout and status. Returns the sandboxed stdout.
fn same_in_a_mounted_dir(name: &str, flavor: Flavor) -> String {
    let bin = image(name, flavor);
    let native_dir = fresh(&format!("{name}-native-{}", flavor.name()));
    let cage_dir = fresh(&format!("{name}-cage-{}", flavor.name()));
    let native = Command::new(&bin)
        .arg(&native_dir)
        .env_clear()
        .output()
        .unwrap();
    let mount = format!("{}:/work:rw", cage_dir.display());
    let cage = run_cage(&["--mount", &mount], &bin, &["/work"], b"");
    assert_eq!(
        text(&cage.stdout),
        text(&native.stdout),
        "{name} {flavor:?}: {}",
        text(&cage.stderr)
    );
    assert_eq!(status(&cage), status(&native), "{name} {flavor:?}");
    text(&cage.stdout)
}

#[test]
fn file_syscalls_match_native() {
    require_kvm();
    for flavor in FLAVORS {
        same_in_a_mounted_dir("files", flavor);
    }
}

#[test]
fn preadv2_pwritev2_pipe_size_getgroups_match_native() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Dyn] {
        let out = same_in_a_mounted_dir("rwf", flavor);
        assert!(
            out.contains("F_GETPIPE_SZ after: 131072\n"),
            "{flavor:?}: {out}"
        );
        assert!(
            out.contains("preadv2 bad flag: -1 EOPNOTSUPP\n"),
            "{flavor:?}: {out}"
        );
    }
}

#[test]
fn openat2_resolve_flags_match_native() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Dyn] {
        let out = same_in_a_mounted_dir("openat2", flavor);
        for line in [
            "beneath: .. out                          EXDEV",
            "in_root: .. clamps                       ok file inside",
            "no_symlinks: symlink                     ELOOP",
            "no_magiclinks: /proc/self/exe            ELOOP",
            "no_xdev: into /proc                      EXDEV",
            "cached: O_CREAT                          EAGAIN",
        ] {
            assert!(out.contains(line), "{flavor:?}: {line}\n{out}");
        }
    }
}

/// A directory of test data for the busybox applets.
fn data_dir(name: &str) -> PathBuf {
    let d = fresh(name);
    std::fs::write(
        d.join("a.txt"),
        "the quick brown fox\njumps over\nthe lazy dog\nfox again\nlast line\n",
    )
    .unwrap();
    std::fs::write(d.join("nums.txt"), "10\n9\n100\n-3\n42\n9\n").unwrap();
    std::fs::write(d.join("dup.txt"), "a\na\nb\nb\nb\nc\na\n").unwrap();
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(d.join("big.bin"), big).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/one.txt"), "one\n").unwrap();
    std::fs::write(d.join("sub/two.txt"), "two\ntwo\n").unwrap();
    d
}

const BUSYBOX: &str = "/bin/busybox";

/// Run busybox with `args` natively in `native_dir` and in the sandbox with
/// `cage_dir` mounted at /data (rw) as cwd; same stdout and status.
fn applet(native_dir: &Path, cage_dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let native = {
        let mut c = Command::new(BUSYBOX);
        c.args(args).current_dir(native_dir).env_clear();
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    };
    let mount = format!("{}:/data:rw", cage_dir.display());
    let cage = run_cage(
        &["--mount", &mount, "--cwd", "/data"],
        Path::new(BUSYBOX),
        args,
        stdin,
    );
    assert_eq!(
        text(&cage.stdout),
        text(&native.stdout),
        "busybox {args:?}: kvmcage stderr {}",
        text(&cage.stderr)
    );
    assert_eq!(
        status(&cage),
        status(&native),
        "busybox {args:?}: {}",
        text(&cage.stderr)
    );
    args[0].to_string()
}

#[test]
fn busybox_applets_match_native() {
    require_kvm();
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} missing: run scripts/setup.sh (busybox-static)"
    );
    let (n, c) = (data_dir("bb-native"), data_dir("bb-cage"));
    let mut ran = Vec::new();
    let read_only: &[&[&str]] = &[
        &["cat", "a.txt", "sub/one.txt"],
        &["sort", "nums.txt"],
        &["sort", "-n", "nums.txt"],
        &["wc", "a.txt", "nums.txt"],
        &["sha256sum", "a.txt", "big.bin"],
        &["md5sum", "big.bin"],
        &["head", "-n", "2", "a.txt"],
        &["tail", "-n", "2", "a.txt"],
        &["ls"],
        &["ls", "-1", "sub"],
        &["grep", "-n", "fox", "a.txt"],
        &["grep", "-c", "the", "a.txt", "sub/one.txt"],
        &["sed", "s/fox/cat/g", "a.txt"],
        &["awk", "{ n += NF } END { print n, NR }", "a.txt"],
        &["cut", "-d", " ", "-f", "2", "a.txt"],
        &["uniq", "-c", "dup.txt"],
        &["find", ".", "-name", "*.txt"],
        &["cat", "missing.txt"],
        &["stat", "-c", "%s %F", "a.txt", "sub"],
        &["du", "-s", "sub"],
        &["od", "-A", "x", "-t", "x1", "-N", "16", "big.bin"],
        &["cmp", "a.txt", "sub/one.txt"],
    ];
    for args in read_only {
        ran.push(applet(&n, &c, args, b""));
    }
    ran.push(applet(&n, &c, &["tr", "a-z", "A-Z"], b"shout this\n"));
    // Applets that change the directory: same results, same tree after.
    let changing: &[&[&str]] = &[
        &["mkdir", "-p", "x/y/z"],
        &["cp", "a.txt", "x/y/copy.txt"],
        &["mv", "x/y/copy.txt", "x/moved.txt"],
        &["cp", "-r", "sub", "x/subcopy"],
        &["rm", "-r", "x/y"],
        &["ln", "-s", "a.txt", "link"],
        &["readlink", "link"],
        &["tar", "-cf", "out.tar", "sub"],
        &["tar", "-tf", "out.tar"],
        &["gzip", "-k", "-n", "nums.txt"],
        &["gzip", "-dc", "nums.txt.gz"],
        &["touch", "new.txt"],
        &["chmod", "600", "new.txt"],
        &["rmdir", "x"],
        &["ls", "-R", "x"],
    ];
    for args in changing {
        ran.push(applet(&n, &c, args, b""));
    }
    ran.sort();
    ran.dedup();
    eprintln!(
        "busybox applets matching native: {} ({})",
        ran.len(),
        ran.join(" ")
    );
    assert!(ran.len() >= 25, "{ran:?}");
}

#[test]
fn nothing_outside_the_mounts_can_be_reached() {
    require_kvm();
    let base = fresh("escape");
    let ro = base.join("ro");
    let rw = base.join("rw");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    let secret = base.join("secret.txt");
    std::fs::write(&secret, "host secret\n").unwrap();
    std::fs::write(ro.join("file.txt"), "inside\n").unwrap();
    std::os::unix::fs::symlink(&secret, ro.join("abs_link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", ro.join("rel_link")).unwrap();
    std::os::unix::fs::symlink("loop", ro.join("loop")).unwrap();
    let before = std::fs::metadata(&secret).unwrap();
    let mounts = [
        format!("{}:/ro", ro.display()),
        format!("{}:/rw:rw", rw.display()),
    ];
    let secret_s = secret.to_str().unwrap();
    // Only the mounts: `..` above them must find nothing.
    let out = run_cage(
        &["--no-system", "--mount", &mounts[0], "--mount", &mounts[1]],
        &image("fs_escape", Flavor::Gcc),
        &["/ro", secret_s, "/rw"],
        b"",
    );
    let s = text(&out.stdout);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let expect = [
        ("absolute host path", "ENOENT"),
        ("dot-dot out of the mount", "ENOENT"),
        ("absolute symlink", "ENOENT"),
        ("relative symlink", "ENOENT"),
        ("symlink loop", "ELOOP"),
        ("/proc/self/root", "ENOENT"),
        ("/proc/self/cwd", "ENOENT"),
        ("openat dirfd ../..", "ENOENT"),
        ("write on read-only mount", "EROFS"),
        ("create on read-only mount", "EROFS"),
        ("truncate on read-only mount", "EROFS"),
        ("chmod on read-only mount", "EROFS"),
        ("unlink on read-only mount", "EROFS"),
        ("mkdir at the root", "EROFS"),
        ("symlink to the host file", "SUCCEEDED"),
        ("open through it", "ENOENT"),
        ("chmod through it", "ENOENT"),
        ("truncate through it", "ENOENT"),
        // Linux checks the mounts before writability: EXDEV.
        ("rename across mounts", "EXDEV"),
        ("link across mounts", "EXDEV"),
        ("link to the host file", "ENOENT"),
        ("readlink /proc/self/root", "/"),
    ];
    for (what, errno) in expect {
        assert!(
            s.contains(&format!("{what}: {errno}\n")),
            "{what}: expected {errno}\n{s}"
        );
    }
    assert!(
        !s.contains("SUCCEEDED\n") || s.matches("SUCCEEDED").count() == 1,
        "{s}"
    );
    // The host file is untouched.
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host secret\n");
    let after = std::fs::metadata(&secret).unwrap();
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(after.permissions().mode(), before.permissions().mode());
}

#[test]
fn cwd_and_tmpfs_options() {
    require_kvm();
    // (No shell: kvmcage runs one process, and sh would fork.)
    let out = run_cage(
        &["--tmpfs", "/scratch", "--cwd", "/scratch"],
        Path::new(BUSYBOX),
        &["pwd"],
        b"",
    );
    assert_eq!(text(&out.stdout), "/scratch\n", "{}", text(&out.stderr));
    let out = run_cage(
        &["--tmpfs", "/scratch", "--cwd", "/scratch"],
        Path::new(BUSYBOX),
        &["mkdir", "made"],
        b"",
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let out = run_cage(
        &["--tmpfs", "/scratch"],
        Path::new(BUSYBOX),
        &["ls", "/scratch"],
        b"",
    );
    assert_eq!(text(&out.stdout), "", "a new run gets a new, empty tmpfs");
    let out = run_cage(&["--cwd", "/nowhere"], Path::new(BUSYBOX), &["true"], b"");
    assert_eq!(status(&out), 125);
    assert!(cage_lines(&out)[0].contains("--cwd /nowhere"));
}

#[test]
fn vectored_io_sendfile_statfs_and_poll_match_native() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let out = same_in_a_mounted_dir("fileio", flavor);
        assert!(out.contains("poll 2: 0 4 32\n"), "{out}");
    }
}

#[test]
fn file_mappings_and_proc_self_maps_match_native() {
    require_kvm();
    for flavor in FLAVORS {
        let out = same_in_a_mounted_dir("mmapfile", flavor);
        assert!(out.contains("private write stays private: A\n"), "{out}");
    }
}

/// Bugs found by real programs and the kernel's nolibc-test: musl's fopen
/// (a mode without O_CREAT), the open flags Linux accepts, whole reads of
/// /dev/zero and /dev/urandom, EEXIST before EROFS/EPERM, ENOTDIR through a
/// file, copy_file_range with an output offset.
#[test]
fn fidelity_fixes_match_native() {
    require_kvm();
    for flavor in FLAVORS {
        let out = same_in_a_mounted_dir("fidelity", flavor);
        assert!(
            out.contains("read 1 MiB of /dev/zero: 1048576\n"),
            "{flavor:?}: {out}"
        );
        assert!(out.contains("fopen r of an existing file: 0\n"), "{out}");
    }
}

/// prctl, get_robust_list, wait4/waitid with no child, getrusage, times,
/// sysinfo, getcpu, membarrier, getpgid/getsid and chown to one's own ids
/// answer as Linux does (they were ENOSYS).
#[test]
fn process_queries_match_native() {
    require_kvm();
    for flavor in FLAVORS {
        let out = same_in_a_mounted_dir("procinfo", flavor);
        assert!(out.contains("name: a-very-long-thr\n"), "{flavor:?}: {out}");
        assert!(out.contains("wait4: errno 10\n"), "{flavor:?}: {out}");
    }
}

/// close_range, flock, mknod, utimes/futimesat, priorities,
/// sched_rr_get_interval, sync and syncfs (images/morecalls.c) against
/// native; what depends on privilege (a device node, raising priority) is
/// on stderr and checked in the sandbox alone, where the program is uid
/// 1000: EPERM and EACCES.
#[test]
fn more_file_and_process_calls_match_native() {
    require_kvm();
    for flavor in FLAVORS {
        same_in_a_mounted_dir("morecalls", flavor);
    }
    let dir = fresh("morecalls-privilege");
    let mount = format!("{}:/work:rw", dir.display());
    let out = run_cage(
        &["--mount", &mount],
        &image("morecalls", Flavor::Gcc),
        &["/work"],
        b"",
    );
    let err = text(&out.stderr);
    assert!(err.contains("mknod char device: -1 EPERM\n"), "{err}");
    assert!(err.contains("setpriority back to 0: -1 EACCES\n"), "{err}");
}

/// images/chroot.c as Linux runs it as root: lookup errors first, then
/// everything resolves inside the new root but the cwd left outside and a
/// directory fd opened before.
const CHROOT_AS_ROOT: &str = "\
chroot missing: errno ENOENT
chroot missing parent: errno ENOENT
chroot a file: errno ENOTDIR
chroot through a file: errno ENOTDIR
chroot NULL: errno EFAULT
chroot empty: errno ENOENT
chroot: ok
cwd, left outside: (unreachable)...
relative to the cwd outside: inside
/etc/x: inside
/../../etc/x: inside
/bin/up/etc/x: inside
/bin/up/../../etc/x: inside
/bin/esc: inside
/bin/abs: inside
fd from before, root/etc/x: inside
/proc/self/status: errno ENOENT
/.. is /: 1
/bin/up is /: 1
/proc/self/root: /
chdir /: ok
cwd: /
/proc/self/cwd: /
chdir ..: ok
cwd: /
chdir ../../..: ok
cwd: /
chdir bin: ok
cwd: /bin
chdir up: ok
cwd: /
fchdir to the fd from before: ok
cwd: (unreachable)...
chdir root/bin: ok
cwd, back inside: /bin
chdir /: ok
mkdir /made: ok
made, seen from outside: 1
symlink /made/link -> /etc: ok
/made/link/x: inside
rename /made/link -> /etc/link: ok
/etc/link/x: inside
chroot /bin: ok
cwd: (unreachable)...
/etc/x: errno ENOENT
/up/etc/x: errno ENOENT
/esc: errno ENOENT
relative etc/x: inside
/proc/self/root: /
chroot .: ok
cwd: /
/etc/x: inside
/proc/self/root: /
done
";

/// The same unprivileged: the lookup errors come before EPERM.
const CHROOT_UNPRIVILEGED: &str = "\
chroot missing: errno ENOENT
chroot missing parent: errno ENOENT
chroot a file: errno ENOTDIR
chroot through a file: errno ENOTDIR
chroot NULL: errno EFAULT
chroot empty: errno ENOENT
chroot: errno EPERM
done
";

/// chroot under `--uid 0` gives Linux's answers as root; as the default
/// user, EPERM after the same lookup errors. The native run (root or not,
/// whoever runs the tests) must give the matching one of the two, so the
/// expected texts are checked against the host kernel too.
#[test]
fn chroot_as_root_and_unprivileged() {
    require_kvm();
    // SAFETY: geteuid has no preconditions.
    let native_root = unsafe { libc::geteuid() } == 0;
    for flavor in FLAVORS {
        let bin = image("chroot", flavor);
        let native_dir = fresh(&format!("chroot-native-{}", flavor.name()));
        let native = Command::new(&bin)
            .arg(&native_dir)
            .env_clear()
            .output()
            .unwrap();
        let expected = if native_root {
            CHROOT_AS_ROOT
        } else {
            CHROOT_UNPRIVILEGED
        };
        assert_eq!(text(&native.stdout), expected, "native {flavor:?}");
        assert_eq!(status(&native), 0, "native {flavor:?}");

        let dir = fresh(&format!("chroot-root-{}", flavor.name()));
        let mount = format!("{}:/work:rw", dir.display());
        let out = run_cage(&["--uid", "0", "--mount", &mount], &bin, &["/work"], b"");
        assert_eq!(
            text(&out.stdout),
            CHROOT_AS_ROOT,
            "--uid 0 {flavor:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(status(&out), 0, "--uid 0 {flavor:?}");

        let dir = fresh(&format!("chroot-user-{}", flavor.name()));
        let mount = format!("{}:/work:rw", dir.display());
        let out = run_cage(&["--mount", &mount], &bin, &["/work"], b"");
        assert_eq!(
            text(&out.stdout),
            CHROOT_UNPRIVILEGED,
            "{flavor:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(status(&out), 0, "{flavor:?}");
    }
}

/// AF_UNIX sockets (images/sockets.c) in a mounted directory, with
/// relative socket paths: socketpair of each type (data, boundaries,
/// MSG_PEEK/MSG_TRUNC/MSG_DONTWAIT, options, names, shutdown, EPIPE), path
/// sockets (bind/listen/connect/accept4, names, stat, the errors), datagram
/// senders' names, abstract names and autobind, SCM_RIGHTS, SIGPIPE.
/// socket(AF_INET) is on stderr only: the sandbox has no network.
#[test]
fn sockets_match_native() {
    require_kvm();
    for flavor in FLAVORS {
        let out = same_in_a_mounted_dir("sockets", flavor);
        assert!(
            out.contains(
                "SCM_RIGHTS read through the received descriptor: 16 \"through the pipe\"\n"
            ),
            "{flavor:?}: {out}"
        );
        assert!(
            out.contains("getsockname listener: 0 len 5 family AF_UNIX path s1 (2 bytes)\n"),
            "{flavor:?}: {out}"
        );
        assert!(out.ends_with("done\n"), "{flavor:?}: {out}");
    }
}

/// Writable MAP_SHARED file mappings (coherent with pread/pwrite, aliasing,
/// mremap, ftruncate under a mapping, SIGBUS past EOF), shared anonymous
/// and /dev/zero memory, memfd_create and its seals, shm_open and sem_open
/// in /dev/shm (images/shmem.c).
#[test]
fn shared_mappings_match_native() {
    require_kvm();
    for flavor in FLAVORS {
        let out = same_in_a_mounted_dir("shmem", flavor);
        for line in [
            "write through the mapping, pread: X\n",
            "pwrite, read through the mapping: Y\n",
            "aliases: Z V\n",
            "private write: file b, shared b, private P\n",
            "write after mremap, pread: M\n",
            "new page: 0, old tail zero: 1\n",
            "kept: 1, grown part: SIGBUS\n",
            "link: /memfd:kvmcage-test (deleted)\n",
            "ftruncate smaller: -1 EPERM\n",
            "second mmap: ok, sees: shm bytes\n",
            "shm_open after unlink: -1 ENOENT\n",
            "sem_getvalue: 2\n",
        ] {
            assert!(out.contains(line), "{flavor:?}: no {line:?} in\n{out}");
        }
        assert!(out.ends_with("done\n"), "{flavor:?}: {out}");
    }
}
