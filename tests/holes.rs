//! Sandbox holes, one test (or a few) per hole: each fails while the hole
//! is open. Programs: images/hostile/{nested,setid,sleepmax,panics,
//! blockwrite,bigunmap,maps,fdhigh,bogusnr,fsize,outfd0,tmpfs,facts,abstract,scmpass,shmfill}.c.
//!
//! Where Linux has an answer the program prints it natively and the test
//! compares; where the sandbox's policy is stricter than Linux (set-user-ID
//! bits, ids, host paths) the test checks the host or the output directly.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

/// Tests that measure wall time or burn CPU run one at a time, so a bound
/// on a hang is not a measure of how busy the other tests keep the machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A host directory for one test: std::env::temp_dir()/kvmcage-holes-PID-NAME,
/// fresh at the start, removed when dropped.
struct HostDir(PathBuf);

impl HostDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("kvmcage-holes-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `HOST:GUEST[:rw]` for --mount.
fn mount(host: &Path, guest: &str, rw: bool) -> String {
    format!(
        "{}:{guest}{}",
        host.display(),
        if rw { ":rw" } else { ":ro" }
    )
}

/// kvmcage never panics, whatever the program does.
fn no_panic(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert!(
        status(out) != 101 && !err.contains("panicked"),
        "{what}: kvmcage panicked (status {}): {err}",
        status(out)
    );
}

/// Every file and directory under `dir` (not following symlinks).
fn walk(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut all = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return all;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            all.extend(walk(&p));
        }
        all.push((p, m));
    }
    all
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A finished kvmcage run with its own peak RSS and its wall time.
struct Measured {
    out: Output,
    maxrss_kib: i64,
    elapsed: Duration,
    killed: bool,
}

impl Measured {
    /// Why this run is not "stopped by --timeout (124, or `also_ok`)
    /// within 5 s, no panic", if it is not.
    fn not_stopped(&self, what: &str, also_ok: bool) -> Option<String> {
        let err = text(&self.out.stderr);
        let ok = (status(&self.out) == 124 || also_ok)
            && !err.contains("panicked")
            && self.elapsed <= Duration::from_secs(5);
        (!ok).then(|| {
            format!(
                "{what}: status {}{} after {:?}, stdout {:?}, stderr {:?}",
                status(&self.out),
                if self.killed {
                    " (killed by the test)"
                } else {
                    ""
                },
                self.elapsed,
                text(&self.out.stdout),
                err.lines().take(2).collect::<Vec<_>>()
            )
        })
    }
}

/// Reap `pid`, killing it with SIGKILL once `limit` has passed. Returns the
/// wait status, the child's own rusage and whether it was killed.
fn reap(pid: i32, limit: Duration) -> (i32, libc::rusage, bool) {
    let end = Instant::now() + limit;
    let mut killed = false;
    loop {
        let mut st = 0;
        // SAFETY: rusage is plain data; wait4 fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if killed { 0 } else { libc::WNOHANG };
        // SAFETY: valid out pointers; `pid` is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut st, flags, &mut ru) };
        if r == pid {
            return (st, ru, killed);
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if Instant::now() >= end {
            // SAFETY: signalling our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
            continue;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run `kvmcage run OPTS BIN ARGS` with `stdin`; SIGKILL it after `limit`.
/// With `read_stdout` false its stdout is a pipe nobody reads.
fn measured(
    opts: &[&str],
    bin: &Path,
    args: &[&str],
    stdin: &[u8],
    read_stdout: bool,
    limit: Duration,
) -> Measured {
    let mut cmd = Command::new(kvmcage());
    cmd.arg("run").args(opts).arg(bin).args(args);
    measured_cmd(cmd, stdin, read_stdout, limit)
}

// The child is reaped by `reap` (wait4, for its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
fn measured_cmd(mut cmd: Command, stdin: &[u8], read_stdout: bool, limit: Duration) -> Measured {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child: Child = cmd.spawn().expect("spawn kvmcage");
    drop(cmd);
    let pid = child.id() as i32;
    let mut sin = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let tin = std::thread::spawn(move || {
        let _ = sin.write_all(&data);
    });
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let terr = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let (tout, held) = if read_stdout {
        let t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = so.read_to_end(&mut v);
            v
        });
        (Some(t), None)
    } else {
        (None, Some(so))
    };
    let (st, ru, killed) = reap(pid, limit);
    let elapsed = start.elapsed();
    drop(held);
    let _ = tin.join();
    let stdout = tout.map(|t| t.join().unwrap()).unwrap_or_default();
    let stderr = terr.join().unwrap();
    Measured {
        out: Output {
            status: ExitStatus::from_raw(st),
            stdout,
            stderr,
        },
        maxrss_kib: ru.ru_maxrss,
        elapsed,
        killed,
    }
}

fn line_with<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.lines().find_map(|l| l.strip_prefix(prefix))
}

// ------------------------------------------------- 1. nested mounts, symlinks

/// What Linux prints for `nested tree` with the same mounts (recorded from a
/// real run in a mount namespace: bind mounts and a tmpfs).
fn nested_tree_expected() -> String {
    let mut s = String::new();
    for l in [
        "lnk", "alnk", "ch1", "ch2", "dlnk", "s", "as", "sch", "flnk", "klnk",
    ] {
        s += &format!("symlink {l}: ok\n");
    }
    let changes = |s: &mut String, tag: &str| {
        for op in [
            "open O_WRONLY",
            "open O_TRUNC",
            "truncate",
            "chmod",
            "rename",
            "link",
            "unlink",
            "creat",
            "mkdir",
            "symlink",
        ] {
            *s += &format!("{tag} {op}: errno EROFS\n");
        }
        *s += &format!("{tag} read: secret\n");
    };
    let secrets = |s: &mut String, tag: &str| {
        *s += &format!("{tag} open key: errno ENOENT\n{tag} stat key: errno ENOENT\n{tag} list:\n");
    };
    changes(&mut s, "direct");
    secrets(&mut s, "direct");
    for tag in ["lnk", "alnk", "chain", "dotdot"] {
        changes(&mut s, tag);
    }
    for tag in ["s", "as", "schain"] {
        secrets(&mut s, tag);
    }
    s += "flnk open O_WRONLY: errno EROFS\n\
          flnk truncate: errno EROFS\n\
          flnk chmod: errno EROFS\n\
          klnk open: errno ENOENT\n\
          dirfd open /w: ok\n";
    for op in [
        "openat O_WRONLY",
        "openat O_CREAT",
        "unlinkat",
        "renameat",
        "mkdirat",
        "fchmodat",
        "symlinkat",
    ] {
        s += &format!("dirfd {op}: errno EROFS\n");
    }
    s += "dirfd openat s/key: errno ENOENT\npfd open /w/lnk: ok\n";
    for op in [
        "openat O_WRONLY",
        "openat O_CREAT",
        "unlinkat",
        "mkdirat",
        "fchmod",
    ] {
        s += &format!("pfd {op}: errno EROFS\n");
    }
    s += "chdir /w: ok\n";
    changes(&mut s, "cwd-w");
    secrets(&mut s, "cwd-w");
    s += "chdir /w/lnk: ok\n";
    changes(&mut s, "cwd-lnk");
    s += "chdir /w/s: ok\n";
    secrets(&mut s, "cwd-s");
    s += "chdir /w/ch2: ok\n";
    changes(&mut s, "cwd-chain");
    s
}

const KEY: &str = "TOPSECRETKEY-kvmcage-holes\n";

/// A symlink the program makes in a writable mount never gets past a nested
/// read-only mount or a --tmpfs over a host directory: by absolute path, a
/// dirfd, the cwd, an absolute link, a chain of links.
#[test]
fn nested_mounts_bypassed_through_symlinks() {
    require_kvm();
    for flavor in FLAVORS {
        let dir = HostDir::new(&format!("nested-{}", flavor.name()));
        let outer = dir.join("outer");
        std::fs::create_dir_all(outer.join("protected")).unwrap();
        std::fs::create_dir_all(outer.join("secrets")).unwrap();
        std::fs::write(outer.join("protected/file"), "secret\n").unwrap();
        std::fs::write(outer.join("secrets/key"), KEY).unwrap();
        let out = run_cage(
            &[
                "--mount",
                &mount(&outer, "/w", true),
                "--mount",
                &mount(&outer.join("protected"), "/w/protected", false),
                "--tmpfs",
                "/w/secrets",
            ],
            &image("hostile/nested", flavor),
            &["tree"],
            b"",
        );
        no_panic(&out, "nested tree");
        let got = text(&out.stdout);
        // The host first: nothing under protected/ changed, the key unread.
        assert_eq!(
            std::fs::read_to_string(outer.join("protected/file"))
                .ok()
                .as_deref(),
            Some("secret\n"),
            "{flavor:?}: the read-only file was changed; output:\n{got}"
        );
        assert_eq!(
            entries(&outer.join("protected")),
            ["file"],
            "{flavor:?}: files appeared in the read-only mount; output:\n{got}"
        );
        assert!(
            !got.contains(KEY.trim()),
            "{flavor:?}: the host directory under --tmpfs was read:\n{got}"
        );
        assert_eq!(entries(&outer.join("secrets")), ["key"], "{flavor:?}");
        assert_eq!(
            std::fs::read_to_string(outer.join("secrets/key")).unwrap(),
            KEY
        );
        // Then every answer, as Linux gives it.
        let want = nested_tree_expected();
        if got != want {
            let diff: Vec<String> = want
                .lines()
                .zip(got.lines().chain(std::iter::repeat("<missing>")))
                .filter(|(w, g)| w != g)
                .map(|(w, g)| format!("  want {w:?}\n   got {g:?}"))
                .collect();
            panic!(
                "{flavor:?}: {} lines differ from Linux's:\n{}\nstderr: {}",
                diff.len(),
                diff.join("\n"),
                text(&out.stderr)
            );
        }
        assert_eq!(status(&out), 0, "{flavor:?}: {}", text(&out.stderr));
    }
}

/// A symlink that leaves its mount lands in the mount covering its target,
/// with that mount's rights.
#[test]
fn nested_mounts_symlink_lands_in_the_target_mount() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let dir = HostDir::new(&format!("cross-{}", flavor.name()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("f"), "from b\n").unwrap();
        let out = run_cage(
            &[
                "--mount",
                &mount(&a, "/a", true),
                "--mount",
                &mount(&b, "/b", false),
            ],
            &image("hostile/nested", flavor),
            &["cross"],
            b"",
        );
        no_panic(&out, "nested cross");
        // Linux's answers (recorded with the same bind mounts).
        let want = "symlink /a/l: ok\n\
                    symlink /a/r: ok\n\
                    symlink /a/d: ok\n\
                    read /a/l: from b\n\
                    read /a/r: from b\n\
                    read /a/d/f: from b\n\
                    write /a/l: errno EROFS\n\
                    write /a/r: errno EROFS\n\
                    write /a/d/f: errno EROFS\n\
                    creat /a/d/new: errno EROFS\n\
                    truncate /a/l: errno EROFS\n\
                    chmod /a/l: errno EROFS\n";
        assert_eq!(text(&out.stdout), want, "{flavor:?}: {}", text(&out.stderr));
        assert_eq!(status(&out), 0);
        assert_eq!(std::fs::read_to_string(b.join("f")).unwrap(), "from b\n");
        assert_eq!(entries(&b), ["f"]);
        let mode = std::fs::metadata(b.join("f")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o644, "{flavor:?}");
    }
}

/// 40 symlinks in one walk resolve, 41 are ELOOP, as natively.
#[test]
fn nested_mounts_symlink_limit_is_linuxs() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("hostile/nested", flavor);
        let n = HostDir::new(&format!("loop-native-{}", flavor.name()));
        let c = HostDir::new(&format!("loop-cage-{}", flavor.name()));
        let native = run_native(&bin, &["loop", n.s()], b"");
        assert_eq!(status(&native), 0, "{}", text(&native.stderr));
        assert!(text(&native.stdout).contains("open l41: errno ELOOP\n"));
        // Exactly 40 links is at Linux's limit, and the native answer there
        // is not stable: a fresh-clone CI run saw native open() of a 40-link
        // chain give ELOOP while stat of it succeeded (likely a link count
        // kept across the kernel's RCU-walk retry), and a later full-suite
        // run failed this comparison once more (message not kept). On the
        // four lines that follow exactly 40 links the documented answer
        // (MAXSYMLINKS = 40 followed: success) replaces the native one, and
        // kvmcage must give it; 41 links stay ELOOP on both sides.
        let mut native_out = text(&native.stdout);
        for line in ["open l40", "stat l40", "open d40/target", "open d20/l20"] {
            native_out =
                native_out.replace(&format!("{line}: errno ELOOP\n"), &format!("{line}: ok\n"));
        }
        let cage = run_cage(
            &["--mount", &mount(c.path(), "/w", true)],
            &bin,
            &["loop", "/w"],
            b"",
        );
        no_panic(&cage, "nested loop");
        assert_eq!(
            text(&cage.stdout),
            native_out,
            "{flavor:?}: {}",
            text(&cage.stderr)
        );
        assert_eq!(status(&cage), 0);
    }
}

// ------------------------------------------------------ 2. set-ID files

#[test]
fn set_user_id_files_planted_on_the_host() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let dir = HostDir::new(&format!("setid-{}", flavor.name()));
        let (d, e) = (dir.join("d"), dir.join("e"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::create_dir_all(e.join("sub")).unwrap();
        std::fs::set_permissions(&e, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A set-user-ID file already on the host, writable by anyone (so the
        // write is allowed whatever ids the sandbox checks).
        let pre = d.join("pre");
        std::fs::write(&pre, "#!/bin/sh\nid\n").unwrap();
        std::fs::set_permissions(&pre, std::fs::Permissions::from_mode(0o4777)).unwrap();
        assert_eq!(std::fs::metadata(&pre).unwrap().mode() & 0o4000, 0o4000);
        let e_mode = std::fs::metadata(&e).unwrap().mode();

        let out = run_cage(
            &[
                "--mount",
                &mount(&d, "/d", true),
                "--mount",
                &mount(&e, "/e", false),
            ],
            &image("hostile/setid", flavor),
            &["/d", "/e"],
            b"",
        );
        no_panic(&out, "setid");
        let got = text(&out.stdout);
        assert_eq!(status(&out), 0, "{flavor:?}: {}", text(&out.stderr));
        // The program did get to write pre (the creations may be refused or
        // have their bits dropped: either way no bit may reach the host).
        for l in ["open pre O_WRONLY: ok", "write pre: ok"] {
            assert!(got.contains(&format!("{l}\n")), "{flavor:?}: {l}\n{got}");
        }
        let files = walk(&d);
        let bad: Vec<String> = files
            .iter()
            .filter(|(_, m)| m.mode() & 0o6000 != 0)
            .map(|(p, m)| format!("{} {:o}", p.display(), m.mode() & 0o7777))
            .collect();
        assert!(
            bad.is_empty(),
            "{flavor:?}: set-ID bits on the host: {bad:?}\nprogram output:\n{got}"
        );
        assert!(
            std::fs::read(&pre).unwrap().starts_with(b"changed\n"),
            "{flavor:?}: pre was not written"
        );
        // The read-only mount's root.
        for l in [
            "chmod ro root",
            "chmod ro root/.",
            "chmod ro root/sub/..",
            "fchmod ro root",
            "fchmodat ro root",
        ] {
            assert!(
                got.contains(&format!("{l}: errno EROFS\n")),
                "{flavor:?}: {l}\n{got}"
            );
        }
        assert_eq!(std::fs::metadata(&e).unwrap().mode(), e_mode, "{flavor:?}");
    }
}

// ------------------------------------------------------- 3. host panics

/// Sleeps of LONG_MAX seconds: stopped by --timeout (124), no panic.
#[test]
fn host_panics_on_huge_sleeps() {
    require_kvm();
    let bin = image("hostile/sleepmax", Flavor::Musl);
    let _g = serial();
    let mut failures = Vec::new();
    for op in ["n", "c", "a", "b", "s", "p", "e"] {
        let m = measured(
            &["--timeout", "1"],
            &bin,
            &[op],
            b"",
            true,
            Duration::from_secs(15),
        );
        failures.extend(m.not_stopped(&format!("sleepmax {op}"), false));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// fadvise on /dev/null, mincore with a kernel-half vector, poll with a
/// huge count: Linux's answers.
#[test]
fn host_panics_on_fadvise_mincore_poll() {
    require_kvm();
    let mut failures = Vec::new();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("hostile/panics", flavor);
        for group in ["fadvise", "mincore", "poll"] {
            let native = run_native(&bin, &[group], b"");
            assert_eq!(status(&native), 0);
            let cage = run_cage(&["--max-fds", "1048576"], &bin, &[group], b"");
            let err = text(&cage.stderr);
            if status(&cage) != 0 || err.contains("panicked") || cage.stdout != native.stdout {
                failures.push(format!(
                    "{flavor:?} {group}: status {}\n--- native\n{}--- kvmcage\n{}--- stderr\n{}",
                    status(&cage),
                    text(&native.stdout),
                    text(&cage.stdout),
                    err.lines().take(3).collect::<Vec<_>>().join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Make the first PT_PHDR (or, as gcc's static-pie has none, the
/// PT_GNU_PROPERTY or a PT_NOTE turned into one) point at `addr`.
fn bogus_phdr(elf: &[u8], addr: u64) -> Vec<u8> {
    let mut d = elf.to_vec();
    let u16_at = |d: &[u8], o: usize| u16::from_le_bytes(d[o..o + 2].try_into().unwrap()) as usize;
    assert_eq!(&d[..4], b"\x7fELF");
    let phoff = u64::from_le_bytes(d[0x20..0x28].try_into().unwrap()) as usize;
    let (size, num) = (u16_at(&d, 0x36), u16_at(&d, 0x38));
    let types: Vec<u32> = (0..num)
        .map(|i| u32::from_le_bytes(d[phoff + i * size..][..4].try_into().unwrap()))
        .collect();
    const PT_NOTE: u32 = 4;
    const PT_PHDR: u32 = 6;
    const PT_GNU_PROPERTY: u32 = 0x6474_e553;
    let i = [PT_PHDR, PT_GNU_PROPERTY, PT_NOTE]
        .iter()
        .find_map(|t| types.iter().position(|x| x == t))
        .expect("no PT_PHDR, PT_GNU_PROPERTY or PT_NOTE to patch");
    let o = phoff + i * size;
    d[o..o + 4].copy_from_slice(&PT_PHDR.to_le_bytes());
    for f in [8, 16, 24] {
        // p_offset, p_vaddr, p_paddr
        d[o + f..o + f + 8].copy_from_slice(&addr.to_le_bytes());
    }
    d
}

#[test]
fn host_panics_on_bogus_pt_phdr() {
    require_kvm();
    let dir = HostDir::new("phdr");
    let elf = std::fs::read(image("hello", Flavor::Pie)).unwrap();
    let mut failures = Vec::new();
    for (i, addr) in [0xffff_ffff_ffff_f000u64, u64::MAX, 0x8000_0000_0000_0000]
        .into_iter()
        .enumerate()
    {
        let bin = dir.join(&format!("bogus{i}"));
        std::fs::write(&bin, bogus_phdr(&elf, addr)).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let native = run_native(&bin, &[], b"");
        let out = run_cage(&[], &bin, &[], b"");
        let st = status(&out);
        let err = text(&out.stderr);
        // Refused (125) or killed by a signal, with kvmcage's line saying so,
        // or run as Linux runs it; never a panic.
        let refused = (st == 125 || (129..160).contains(&st)) && !cage_lines(&out).is_empty();
        let as_linux = st == status(&native) && out.stdout == native.stdout;
        if st == 101 || err.contains("panicked") || !(refused || as_linux) {
            failures.push(format!(
                "PT_PHDR at {addr:#x}: status {st} (native {}), stderr {:?}",
                status(&native),
                err.lines().take(2).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------- 4. limits

/// Blocking writes with nobody reading: --timeout still ends the run.
#[test]
fn limits_hold_for_blocked_writes() {
    require_kvm();
    let bin = image("hostile/blockwrite", Flavor::Musl);
    let _g = serial();
    let cases: &[(&[&str], &[&str], bool)] = &[
        (&[], &["pipe"], true),
        (&[], &["zero"], true),
        (&["--tmpfs", "/t"], &["file", "/t"], true),
        (&[], &["stdout"], false),
        (&[], &["stdoutv"], false),
        (&["--tmpfs", "/t"], &["stdoutsf", "/t"], false),
    ];
    let mut failures = Vec::new();
    for (opts, args, read_stdout) in cases {
        let mut o = vec!["--timeout", "1"];
        o.extend_from_slice(opts);
        let m = measured(&o, &bin, args, b"", *read_stdout, Duration::from_secs(15));
        // sendfile from /dev/zero blocks on Linux; a sandbox that does not
        // offer it (an error at once) does not hang either.
        let refused = args[0] == "zero"
            && status(&m.out) == 0
            && text(&m.out.stdout).contains("sendfile /dev/zero: errno");
        failures.extend(m.not_stopped(&format!("blockwrite {args:?}"), refused));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// munmap/mprotect/madvise over 2^46 bytes: Linux's results, quickly.
#[test]
fn limits_hold_for_huge_munmap_mprotect_madvise() {
    require_kvm();
    let _g = serial();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("hostile/bigunmap", flavor);
        let native = run_native(&bin, &[], b"");
        assert_eq!(status(&native), 0, "{}", text(&native.stdout));
        let m = measured(&[], &bin, &[], b"", true, Duration::from_secs(10));
        no_panic(&m.out, "bigunmap");
        assert!(
            !m.killed && m.elapsed < Duration::from_secs(5),
            "{flavor:?}: still running after {:?}{}; output so far:\n{}",
            m.elapsed,
            if m.killed {
                " (killed by the test)"
            } else {
                ""
            },
            text(&m.out.stdout)
        );
        assert_eq!(
            text(&m.out.stdout),
            text(&native.stdout),
            "{flavor:?}: {}",
            text(&m.out.stderr)
        );
        assert_eq!(status(&m.out), 0);
    }
}

// -------------------------------------------------------- 5. host memory

/// 70,000 mappings: ENOMEM at vm.max_map_count, and kvmcage's own memory
/// stays within --mem plus a bound.
#[test]
fn host_memory_bounded_by_map_count() {
    require_kvm();
    let bin = image("hostile/maps", Flavor::Musl);
    let native = run_native(&bin, &[], b"");
    assert_eq!(status(&native), 0);
    assert!(
        text(&native.stdout).contains(" before ENOMEM\n"),
        "{}",
        text(&native.stdout)
    );
    let _g = serial();
    let m = measured(
        &["--mem", "64M"],
        &bin,
        &[],
        b"",
        true,
        Duration::from_secs(120),
    );
    no_panic(&m.out, "maps");
    assert_eq!(
        text(&m.out.stdout),
        text(&native.stdout),
        "{}",
        text(&m.out.stderr)
    );
    assert_eq!(status(&m.out), 0);
    assert!(
        m.maxrss_kib < (64 + 64) * 1024,
        "kvmcage peak RSS {} KiB with --mem 64M",
        m.maxrss_kib
    );
}

#[test]
fn host_memory_bounded_by_high_descriptor() {
    require_kvm();
    let bin = image("hostile/fdhigh", Flavor::Musl);
    let m = measured(
        &["--max-fds", "1048576"],
        &bin,
        &[],
        b"",
        true,
        Duration::from_secs(60),
    );
    no_panic(&m.out, "fdhigh");
    let got = text(&m.out.stdout);
    assert_eq!(status(&m.out), 0, "{}", text(&m.out.stderr));
    for l in [
        "limit: 1048576",
        "dup2 1000000: 1000000",
        "via 1000000",
        "write 1000000: 12",
        "F_DUPFD 999999: 999999",
        "F_DUPFD 1000000: 1000001",
        "dup2 1048575: 1048575",
        "dup2 1048576: errno EBADF",
        "close 1000000: 0",
        "fcntl 1000000: errno EBADF",
        "dup: 3",
    ] {
        assert!(got.contains(&format!("{l}\n")), "{l}\n{got}");
    }
    assert!(
        m.maxrss_kib < 100 * 1024,
        "kvmcage peak RSS {} KiB for one high descriptor",
        m.maxrss_kib
    );
}

#[test]
fn host_memory_max_fds_above_nr_open_is_refused() {
    let out = Command::new(kvmcage())
        .args(["run", "--max-fds", "2000000"])
        .arg(image("hello", Flavor::Musl))
        .output()
        .unwrap();
    no_panic(&out, "--max-fds 2000000");
    assert_eq!(status(&out), 125, "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "the program ran: {}",
        text(&out.stdout)
    );
    let lines = cage_lines(&out);
    assert_eq!(lines.len(), 1, "one kvmcage: line: {}", text(&out.stderr));
    assert!(lines[0].contains("2000000"), "{lines:?}");
}

/// 100,000 distinct bogus numbers cost kvmcage no more memory than 100,000
/// calls of one bogus number (no record kept per number).
#[test]
fn host_memory_bounded_by_bogus_syscall_numbers() {
    require_kvm();
    let bin = image("hostile/bogusnr", Flavor::Musl);
    let native = run_native(&bin, &[], b"");
    assert_eq!(
        line_with(&text(&native.stdout), "512..100511: "),
        Some("100000 ENOSYS, 0 other")
    );
    let _g = serial();
    let m = measured(&[], &bin, &[], b"", true, Duration::from_secs(120));
    no_panic(&m.out, "bogusnr");
    assert_eq!(
        text(&m.out.stdout),
        text(&native.stdout),
        "{}",
        text(&m.out.stderr)
    );
    assert_eq!(status(&m.out), 0);
    let same = measured(&[], &bin, &["same"], b"", true, Duration::from_secs(120));
    assert_eq!(
        line_with(&text(&same.out.stdout), "512 x 100000: "),
        Some("100000 ENOSYS, 0 other"),
        "{}",
        text(&same.out.stderr)
    );
    assert!(
        m.maxrss_kib < 64 * 1024 && m.maxrss_kib - same.maxrss_kib < 1024,
        "kvmcage peak RSS {} KiB after 100,000 distinct bogus numbers, {} KiB after \
         100,000 calls of one",
        m.maxrss_kib,
        same.maxrss_kib
    );
}

// ------------------------------------------------------- 6. RLIMIT_FSIZE

#[test]
fn rlimit_fsize_holds_for_every_write_path() {
    require_kvm();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("hostile/fsize", flavor);
        let n = HostDir::new(&format!("fsize-native-{}", flavor.name()));
        let c = HostDir::new(&format!("fsize-cage-{}", flavor.name()));
        let src: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
        std::fs::write(n.join("src8k"), &src).unwrap();
        std::fs::write(c.join("src8k"), &src).unwrap();
        let native = run_native(&bin, &[n.s()], b"");
        assert_eq!(status(&native), 0, "{}", text(&native.stderr));
        let cage = run_cage(
            &[
                "--max-file-size",
                "4096",
                "--mount",
                &mount(c.path(), "/d", true),
            ],
            &bin,
            &["/d"],
            b"",
        );
        no_panic(&cage, "fsize");
        // Sizes on the host first: nothing past the limit.
        let big: Vec<String> = walk(c.path())
            .iter()
            .filter(|(p, m)| !p.ends_with("src8k") && m.len() > 4096)
            .map(|(p, m)| format!("{} {}", p.display(), m.len()))
            .collect();
        assert!(
            big.is_empty(),
            "{flavor:?}: files past --max-file-size: {big:?}\n{}",
            text(&cage.stdout)
        );
        assert_eq!(
            text(&cage.stdout),
            text(&native.stdout),
            "{flavor:?}: {}",
            text(&cage.stderr)
        );
        assert_eq!(status(&cage), status(&native), "{flavor:?}");
    }
}

// ---------------------------------------------- 7. --max-output and fd 0

/// A pty (master, slave), both close-on-exec, the slave in raw mode.
fn open_pty() -> (OwnedFd, OwnedFd) {
    // SAFETY: plain libc calls on descriptors this function owns; the name
    // buffer is large enough and NUL-terminated by ptsname_r.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = OwnedFd::from_raw_fd(m);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
        let s = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            s >= 0,
            "open pty slave: {}",
            std::io::Error::last_os_error()
        );
        let slave = OwnedFd::from_raw_fd(s);
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(s, &mut t), 0);
        libc::cfmakeraw(&mut t);
        assert_eq!(libc::tcsetattr(s, libc::TCSANOW, &t), 0);
        (master, slave)
    }
}

#[test]
// The child is reaped by `reap` (wait4), not Child::wait.
#[allow(clippy::zombie_processes)]
fn max_output_counts_writes_through_fd_0() {
    require_kvm();
    let bin = image("hostile/outfd0", Flavor::Musl);
    let mut failures = Vec::new();
    for how in ["0", "dup", "devstdin"] {
        let (master, slave) = open_pty();
        let mut cmd = Command::new(kvmcage());
        cmd.args(["run", "--max-output", "65536", "--timeout", "60"])
            .arg(&bin)
            .arg(how)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        let child = cmd.spawn().expect("spawn kvmcage");
        drop(cmd); // the last slave descriptors in this process
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut f = std::fs::File::from(master);
            let mut buf = vec![0u8; 1 << 16];
            let mut n = 0usize;
            // EIO once every slave descriptor is closed.
            while let Ok(k) = f.read(&mut buf) {
                if k == 0 {
                    break;
                }
                n += k;
            }
            let _ = tx.send(n);
        });
        let (st, _, killed) = reap(child.id() as i32, Duration::from_secs(30));
        let bytes = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("pty drained");
        let st = ExitStatus::from_raw(st);
        let code = st.code().unwrap_or(128 + st.signal().unwrap_or(0));
        if code != 124 || bytes > 65536 + 4096 + 256 {
            failures.push(format!(
                "outfd0 {how}: status {code}{}, {bytes} bytes reached the terminal",
                if killed { " (killed by the test)" } else { "" }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------ 8. --tmpfs

#[derive(Clone, Copy, Debug)]
enum End {
    Eof,
    Signal(i32),
    Wait,
}

/// kvmcage with TMPDIR set to `tmp`, stdin kept open, stdout read line by
/// line in a thread.
struct Held {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Held {
    fn start(tmp: &Path, opts: &[&str], args: &[&str]) -> Self {
        let mut child = Command::new(kvmcage())
            .arg("run")
            .args(opts)
            .arg(image("hostile/tmpfs", Flavor::Musl))
            .args(args)
            .env("TMPDIR", tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kvmcage");
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        Self {
            child,
            lines: rx,
            stderr,
        }
    }

    /// The program's lines up to "ready".
    fn until_ready(&self) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(l) if l == "ready" => return seen,
                Ok(l) => seen.push(l),
                Err(_) => panic!("the program never got ready; it printed {seen:?}"),
            }
        }
    }

    /// End the run: close stdin (the program then exits), send a signal to
    /// kvmcage, or just wait (for --timeout); kvmcage must exit within 5 s.
    fn finish(mut self, end: End) -> (Option<i32>, String) {
        match end {
            End::Eof => drop(self.child.stdin.take()),
            // SAFETY: signalling our own unreaped child.
            End::Signal(s) => unsafe {
                libc::kill(self.child.id() as i32, s);
            },
            End::Wait => {}
        }
        let (st, _, killed) = reap(self.child.id() as i32, Duration::from_secs(5));
        drop(self.child.stdin.take());
        let err = text(&self.stderr.join().unwrap());
        assert!(!killed, "kvmcage did not exit within 5 s of {end:?}: {err}");
        let st = ExitStatus::from_raw(st);
        (st.code().or(st.signal().map(|s| 128 + s)), err)
    }
}

#[test]
fn tmpfs_directory_is_private() {
    require_kvm();
    let tmp = HostDir::new("tmpfs-private");
    let h = Held::start(tmp.path(), &["--tmpfs", "/t"], &["hold", "/t"]);
    h.until_ready();
    // What another host user could reach: the directories kvmcage made
    // directly under TMPDIR (what the program sees is inside them).
    let dirs: Vec<(PathBuf, std::fs::Metadata)> = walk(tmp.path())
        .into_iter()
        .filter(|(p, m)| m.is_dir() && p.parent() == Some(tmp.path()))
        .collect();
    let (st, err) = h.finish(End::Eof);
    // (The view's root is made in /dev/shm, a tmpfs, when it can be.)
    assert_eq!(
        dirs.len(),
        3,
        "one directory each for --tmpfs /t, /dev/shm and /tmp under TMPDIR: {dirs:?}"
    );
    for (p, m) in &dirs {
        let mode = m.mode() & 0o7777;
        assert_eq!(mode, 0o700, "{} has mode {mode:o}", p.display());
    }
    assert_eq!(st, Some(0), "{err}");
    assert_eq!(entries(tmp.path()), Vec::<String>::new(), "left behind");
}

#[test]
fn tmpfs_size_is_capped() {
    require_kvm();
    let cases: &[(&[&str], &str, u64)] = &[
        (&["--tmpfs", "/t:size=1M"], "2", 1 << 20),
        (&["--mem", "16M", "--tmpfs", "/t"], "65", 64 << 20),
    ];
    for (opts, mib, cap) in cases {
        let tmp = HostDir::new("tmpfs-size");
        let h = Held::start(tmp.path(), opts, &["fill", "/t", mib]);
        let said = h.until_ready();
        let files: Vec<(PathBuf, u64)> = walk(tmp.path())
            .into_iter()
            .filter(|(_, m)| m.is_file())
            .map(|(p, m)| (p, m.len()))
            .collect();
        let (st, err) = h.finish(End::Eof);
        assert_eq!(st, Some(0), "{opts:?}: {err}");
        let wrote = said
            .iter()
            .find_map(|l| l.strip_prefix("wrote "))
            .unwrap_or_else(|| panic!("{opts:?}: {said:?}"));
        assert!(wrote.ends_with(": ENOSPC"), "{opts:?}: wrote {wrote}");
        let kib: u64 = wrote.split(' ').next().unwrap().parse().unwrap();
        assert!(kib * 1024 <= *cap, "{opts:?}: wrote {wrote}");
        assert!(!files.is_empty(), "{opts:?}: no host file under TMPDIR");
        for (p, len) in &files {
            assert!(
                *len <= cap + 8192,
                "{opts:?}: {} holds {len} bytes",
                p.display()
            );
        }
        assert_eq!(entries(tmp.path()), Vec::<String>::new(), "left behind");
    }
}

#[test]
fn tmpfs_is_removed_however_kvmcage_ends() {
    require_kvm();
    let mut failures = Vec::new();
    for (name, opts, end) in [
        ("stdin EOF", &[][..], End::Eof),
        ("SIGTERM", &[][..], End::Signal(libc::SIGTERM)),
        ("SIGINT", &[][..], End::Signal(libc::SIGINT)),
        ("SIGHUP", &[][..], End::Signal(libc::SIGHUP)),
        ("--timeout", &["--timeout", "2"][..], End::Wait),
    ] {
        let tmp = HostDir::new("tmpfs-cleanup");
        let mut o = vec!["--tmpfs", "/t"];
        o.extend_from_slice(opts);
        let h = Held::start(tmp.path(), &o, &["hold", "/t"]);
        h.until_ready();
        // --tmpfs /t, the private /dev/shm and /tmp.
        assert_eq!(entries(tmp.path()).len(), 3, "{name}: no tmpfs directories");
        let (st, err) = h.finish(end);
        no_panic(
            &Output {
                status: ExitStatus::from_raw(0),
                stdout: Vec::new(),
                stderr: err.clone().into_bytes(),
            },
            name,
        );
        let left = entries(tmp.path());
        if !left.is_empty() {
            failures.push(format!(
                "{name}: status {st:?}, left behind {left:?} ({:?})",
                walk(tmp.path())
                    .iter()
                    .map(|(p, _)| p.clone())
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------- 9. host facts

fn host_release() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { libc::uname(&mut u) }, 0);
    // SAFETY: uname NUL-terminates the field.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The output holds none of these host paths.
fn no_host_path(got: &str, paths: &[&Path], what: &str) {
    assert!(
        !got.contains("target/images"),
        "{what}: a host path in the output:\n{got}"
    );
    for p in paths {
        let p = p.to_str().unwrap();
        assert!(
            !got.contains(p),
            "{what}: host path {p} in the output:\n{got}"
        );
    }
}

#[test]
fn host_facts_are_not_shown() {
    require_kvm();
    let release = host_release();
    for flavor in [Flavor::Gcc, Flavor::Musl] {
        let bin = image("hostile/facts", flavor);
        let d = HostDir::new(&format!("facts-{}", flavor.name()));
        std::fs::write(d.join("probe"), "x").unwrap();
        let out = run_cage(
            &["--mount", &mount(d.path(), "/d", true)],
            &bin,
            &["/d"],
            b"",
        );
        no_panic(&out, "facts");
        let got = text(&out.stdout);
        assert_eq!(status(&out), 0, "{flavor:?}: {}", text(&out.stderr));
        no_host_path(&got, &[bin.as_path(), d.path()], &format!("{flavor:?}"));
        let base = bin.file_name().unwrap().to_str().unwrap();
        for l in [
            format!("exe: /.kvmcage/{base}"),
            "exe magic: ELF".into(),
            "nodename: kvmcage".into(),
            "ids: 1000 1000 1000 1000".into(),
            "resuid: 1000 1000 1000".into(),
            "resgid: 1000 1000 1000".into(),
            "Uid: 1000 1000 1000 1000".into(),
            "Gid: 1000 1000 1000 1000".into(),
            "made owner: 1000 1000".into(),
            "made stat owner: 1000 1000".into(),
        ] {
            assert!(
                got.contains(&format!("{l}\n")),
                "{flavor:?}: want {l:?} in\n{got}"
            );
        }
        assert!(
            !got.contains(&format!("release: {release}\n")),
            "{flavor:?}: the host's release {release} is shown"
        );
        let host_dev = std::fs::metadata(d.join("probe")).unwrap().dev();
        let guest_dev: u64 = line_with(&got, "probe dev: ")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flavor:?}: no probe dev in\n{got}"));
        assert_ne!(
            guest_dev, host_dev,
            "{flavor:?}: the host's st_dev is shown"
        );
        if let Some(v) = line_with(&got, "made dev: ") {
            let made = std::fs::metadata(d.join("made")).unwrap().dev();
            assert_ne!(v.parse::<u64>().ok(), Some(made), "{flavor:?}");
        }
    }
}

#[test]
fn host_facts_follow_hostname_and_ids_options() {
    require_kvm();
    let bin = image("hostile/facts", Flavor::Musl);
    let d = HostDir::new("facts-opts");
    let out = run_cage(
        &[
            "--hostname",
            "box",
            "--uid",
            "0",
            "--gid",
            "0",
            "--mount",
            &mount(d.path(), "/d", true),
        ],
        &bin,
        &["/d"],
        b"",
    );
    no_panic(&out, "facts --hostname --uid --gid");
    let got = text(&out.stdout);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    for l in [
        "nodename: box",
        "hostname: box",
        "ids: 0 0 0 0",
        "Uid: 0 0 0 0",
        "Gid: 0 0 0 0",
        "made owner: 0 0",
    ] {
        assert!(got.contains(&format!("{l}\n")), "want {l:?} in\n{got}");
    }
}

/// A program that lies inside a mount is known by its guest path.
#[test]
fn host_facts_exe_inside_a_mount_is_its_guest_path() {
    require_kvm();
    let d = HostDir::new("facts-exe");
    let prog = d.join("facts");
    std::fs::copy(image("hostile/facts", Flavor::Musl), &prog).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_cage(&["--mount", &mount(d.path(), "/m", false)], &prog, &[], b"");
    no_panic(&out, "facts in a mount");
    let got = text(&out.stdout);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    no_host_path(&got, &[d.path()], "exe in a mount");
    assert!(got.contains("exe: /m/facts\n"), "{got}");
    assert!(got.contains("exe magic: ELF\n"), "{got}");
}

/// The host's abstract AF_UNIX names (a desktop's X11 and D-Bus sockets, a
/// container runtime's) and its socket files are out of the program's
/// reach: an abstract name in the sandbox is the sandbox's own, a path is
/// walked in the sandbox's view, and a socket a read-only mount shows is
/// EACCES. Natively both connects succeed, so the test fails while any of
/// these holes is open.
#[test]
fn host_unix_sockets_out_of_reach() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    require_kvm();
    let name = format!("kvmcage-holes-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _abstract = UnixListener::bind_addr(&addr).unwrap();
    let dir = HostDir::new("unixsock");
    let path = dir.0.join("s");
    let _file = UnixListener::bind(&path).unwrap();
    let p = path.to_str().unwrap();
    let bin = image("hostile/abstract", Flavor::Gcc);
    let native = run_native(&bin, &[&name, p], b"");
    assert_eq!(
        text(&native.stdout),
        "connect abstract: 0\nconnect path: 0\n",
        "the host sockets must be reachable natively"
    );
    for confine in [&[][..], &["--no-confine"][..]] {
        let out = run_cage(confine, &bin, &[&name, p], b"");
        assert_eq!(
            text(&out.stdout),
            "connect abstract: -1 ECONNREFUSED\nconnect path: -1 ENOENT\n",
            "{confine:?}: {}",
            text(&out.stderr)
        );
    }
    // Shown through a read-only mount, a host service's socket is still
    // not the program's to talk to.
    let ro = mount(&dir.0, "/ro", false);
    let out = run_cage(&["--mount", &ro], &bin, &[&name, "/ro/s"], b"");
    assert_eq!(
        text(&out.stdout),
        "connect abstract: -1 ECONNREFUSED\nconnect path: -1 EACCES\n",
        "{}",
        text(&out.stderr)
    );
}

/// A descriptor passed to oneself over a socket (SCM_RIGHTS) is the same
/// open file, with the same limits: a capped --tmpfs file stays capped,
/// and the program's stdout stays counted against --max-output.
#[test]
fn passed_descriptors_keep_their_limits() {
    require_kvm();
    let bin = image("hostile/scmpass", Flavor::Gcc);
    let out = run_cage(
        &["--tmpfs", "/tmp:size=1M"],
        &bin,
        &["tmpfs", "/tmp/f"],
        b"",
    );
    let s = text(&out.stdout);
    assert!(s.contains("received: 0\n"), "{s}{}", text(&out.stderr));
    assert!(s.contains("fallocate 1 GiB through it: -1 ENOSPC\n"), "{s}");
    assert!(!s.contains("write 4 MiB through it: 4194304"), "{s}");
    let out = run_cage(&["--max-output", "1000"], &bin, &["stdout"], b"");
    assert!(
        out.stdout.len() <= 1000,
        "{} bytes through a passed stdout past --max-output 1000",
        out.stdout.len()
    );
}

/// A shared mapping of a --tmpfs file is held to the tmpfs's size (stores
/// through it reach the host's disk with no write() to check): a 64 MiB
/// mapping in a 1 MiB tmpfs is ENOMEM (without the check it maps, and the
/// stores land on the host), a 256 KiB one works.
#[test]
fn shared_mappings_keep_tmpfs_size() {
    require_kvm();
    let bin = image("hostile/shmfill", Flavor::Gcc);
    let out = run_cage(&["--tmpfs", "/t:size=1M"], &bin, &["/t"], b"");
    let s = text(&out.stdout);
    assert!(
        s.contains("mmap 65536 KiB: ENOMEM\n"),
        "{s}{}",
        text(&out.stderr)
    );
    assert!(s.contains("mmap 256 KiB: ok\nwritten\n"), "{s}");
}
