//! Dynamically linked programs and the sandbox's view of a system: the ELF
//! interpreter loaded from the view, programs found by PATH, `#!` scripts,
//! the default read-only system with its minimal /etc, `--rootfs`, and
//! `--no-system`. Each program's output is compared with the same program
//! run natively where the two can agree.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let d = root().join("target/dynamic-test").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_exe(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `kvmcage run OPTS PROGRAM ARGS` where PROGRAM may be a bare name.
fn cage(opts: &[&str], program: &str, args: &[&str]) -> Output {
    run_cage(opts, Path::new(program), args, b"")
}

/// The same command natively, with the sandbox's default environment, in
/// `dir`.
fn native_in(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .env("HOME", "/tmp")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn assert_same(what: &str, cage: &Output, native: &Output) {
    assert_eq!(
        text(&cage.stdout),
        text(&native.stdout),
        "{what}: stdout differs; kvmcage stderr: {}",
        text(&cage.stderr)
    );
    assert_eq!(
        status(cage),
        status(native),
        "{what}: status differs; kvmcage stderr: {}",
        text(&cage.stderr)
    );
}

#[test]
fn dynamic_images_match_native() {
    // dlopen/dlsym/dladdr, AT_BASE and AT_ENTRY, /proc/self/exe.
    same_as_native_in("dynload", &["a", "b c"], b"", &[Flavor::Dyn]);
    // libstdc++ and its exceptions, threads' absence, iostreams.
    same_as_native_in("cxx", &[], b"", &[Flavor::Dyn]);
    for (flavor, out) in
        same_as_native_in("hello", &["world"], b"", &[Flavor::Dyn, Flavor::MuslDyn])
    {
        assert_eq!(text(&out.stderr), "stderr works\n", "{flavor:?}");
    }
}

#[test]
fn debian_programs_match_native() {
    require_kvm();
    let data = scratch("data");
    std::fs::write(
        data.join("words.txt"),
        "pear\napple\nbanana\ncherry\napple\nkiwi\n",
    )
    .unwrap();
    std::fs::write(data.join("nums.txt"), "10\n9\n100\n-3\n42\n").unwrap();
    std::fs::create_dir(data.join("sub")).unwrap();
    let mount = format!("{}:/data", data.display());
    let opts = ["--mount", mount.as_str(), "--cwd", "/data"];
    let py = "import json, re, hashlib\n\
              d = {'w': re.findall(r'[a-z]+', 'ab cd ef'), 'h': hashlib.sha256(b'kvmcage').hexdigest()}\n\
              print(json.dumps(d, sort_keys=True))";
    let cases: &[(&str, &[&str])] = &[
        ("ls", &["-1a"]),
        ("ls", &["-F"]),
        ("sort", &["words.txt"]),
        ("sort", &["-n", "-r", "nums.txt"]),
        ("sha256sum", &["words.txt", "nums.txt"]),
        ("stat", &["-c", "%s %F %a %n", "words.txt", "sub"]),
        ("wc", &["words.txt"]),
        ("date", &["-d", "@0", "-u"]),
        ("grep", &["-n", "an", "words.txt"]),
        ("sed", &["-e", "s/a/A/g", "-e", "/kiwi/d", "words.txt"]),
        // awk is /etc/alternatives/awk -> /usr/bin/mawk (or gawk).
        ("awk", &["{n += length($0)} END {print n, NR}", "words.txt"]),
        ("python3", &["-c", py]),
        ("python3", &["-c", "pass"]),
        // comm is the name it was run by, not the file it resolved to
        // (python3 -> python3.11).
        ("python3", &["-c", "print(open('/proc/self/comm').read().strip())"]),
        ("perl", &["-e", "print join(',', map { $_ * 2 } 1..5), qq(\\n)"]),
        // asyncio's self-pipe is a socketpair made non-blocking by FIONBIO.
        (
            "python3",
            &["-c", "import asyncio\nasync def f(q):\n  await q.put(1); return await q.get()\nprint(asyncio.run(f(asyncio.Queue())))"],
        ),
        (
            "sh",
            &["-c", "x=3; echo $((x * 7)); for i in a b c; do printf '%s-' $i; done; echo; cd sub && pwd; exit 3"],
        ),
        ("env", &[]),
        ("/usr/bin/env", &["A=1", "printenv", "A"]),
        ("cat", &["/etc/os-release"]),
        ("true", &[]),
        ("false", &[]),
    ];
    for (prog, args) in cases {
        let c = cage(&opts, prog, args);
        let mut n = native_in(&data, prog, args);
        // The guest's paths are /data; the host's are the scratch directory.
        n.stdout = text(&n.stdout)
            .replace(&data.display().to_string(), "/data")
            .into_bytes();
        assert_same(&format!("{prog} {args:?}"), &c, &n);
    }
}

#[test]
fn the_default_view_is_the_host_system_read_only_and_no_secret() {
    require_kvm();
    // `ls` is found by PATH and shows the sandbox's root, not the host's.
    let out = cage(&[], "ls", &["-1", "/"]);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    let mut want: Vec<String> = ["dev", "etc", "proc", "tmp", "usr"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for d in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        if std::fs::symlink_metadata(Path::new("/").join(d)).is_ok() {
            want.push(d.to_string());
        }
    }
    want.sort();
    let got: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(got, want);

    // /etc: what programs need to start, and the sandbox's own accounts.
    let out = cage(&[], "ls", &["-1", "/etc"]);
    let etc = text(&out.stdout);
    for secret in [
        "shadow",
        "gshadow",
        "sudoers",
        "ssh",
        "machine-id",
        "hostname.orig",
    ] {
        assert!(
            !etc.lines().any(|l| l == secret),
            "/etc/{secret} shown: {etc}"
        );
    }
    for needed in [
        "passwd",
        "group",
        "hosts",
        "resolv.conf",
        "ld.so.cache",
        "nsswitch.conf",
    ] {
        assert!(
            etc.lines().any(|l| l == needed),
            "/etc/{needed} missing: {etc}"
        );
    }
    let out = cage(&[], "cat", &["/etc/shadow"]);
    assert_eq!(status(&out), 1);
    assert!(text(&out.stderr).contains("No such file or directory"));
    let out = cage(&[], "id", &[]);
    assert_eq!(
        text(&out.stdout),
        "uid=1000(user) gid=1000(user) groups=1000(user)\n"
    );
    let out = cage(&["--uid", "0", "--gid", "0"], "whoami", &[]);
    assert_eq!(text(&out.stdout), "root\n");
    let out = cage(
        &["--hostname", "box"],
        "grep",
        &["box", "/etc/hosts", "/etc/hostname"],
    );
    assert_eq!(
        text(&out.stdout),
        "/etc/hosts:127.0.1.1\tbox\n/etc/hostname:box\n"
    );

    // Read-only, except a private /tmp that is HOME.
    let out = cage(&[], "touch", &["/usr/kvmcage-was-here", "/etc/x"]);
    assert_eq!(status(&out), 1);
    assert_eq!(
        text(&out.stderr).matches("Read-only file system").count(),
        2,
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new("/usr/kvmcage-was-here").exists());
    let out = cage(
        &[],
        "sh",
        &["-c", "cd && pwd && echo hi > f && read x < f && echo $x"],
    );
    assert_eq!(text(&out.stdout), "/tmp\nhi\n", "{}", text(&out.stderr));
    let out = cage(&[], "stat", &["-c", "%a", "/tmp"]);
    assert_eq!(text(&out.stdout), "1777\n", "{}", text(&out.stderr));
    // The mount table shows the view (df, findmnt and mount read it), and
    // a tmpfs its own size (half of --mem for /tmp), not the host disk.
    let out = cage(&[], "cat", &["/proc/self/mounts"]);
    let mounts = text(&out.stdout);
    for want in [
        "kvmcage / tmpfs ro,relatime 0 0\n",
        "proc /proc proc ro,relatime 0 0\n",
        "tmpfs /tmp tmpfs rw,relatime 0 0\n",
        "tmpfs /dev/shm tmpfs rw,relatime 0 0\n",
    ] {
        assert!(mounts.contains(want), "{want}: {mounts}");
    }
    assert!(
        mounts
            .lines()
            .any(|l| l.starts_with("kvmcage /usr ") && l.contains(" ro,")),
        "{mounts}"
    );
    let out = cage(
        &["--mem", "64M"],
        "df",
        &["--output=fstype,size,target", "-B1M", "/tmp"],
    );
    let df: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        df,
        ["Type 1M-blocks Mounted on", "tmpfs 32 /tmp"],
        "{}",
        text(&out.stderr)
    );
    let out = cage(&[], "findmnt", &["-n", "-o", "TARGET", "/usr"]);
    assert_eq!(text(&out.stdout), "/usr\n", "{}", text(&out.stderr));
    // Nothing of the host beyond the system directories: not its root's
    // home, not this checkout.
    for p in ["/root", "/home", "/work", "/var", root().to_str().unwrap()] {
        let out = cage(&[], "ls", &["-d", p]);
        assert_eq!(status(&out), 2, "{p} is visible: {}", text(&out.stdout));
    }
}

#[test]
fn no_system_shows_only_the_mounts() {
    require_kvm();
    let out = run_cage(&["--no-system"], &image("hello", Flavor::Dyn), &[], b"");
    assert_eq!(status(&out), 127);
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ELF interpreter /lib64/ld-linux-x86-64.so.2 is not in the sandbox's view"),
        "{err}"
    );
    // A static program sees no /usr and an empty environment.
    let out = run_cage(
        &["--no-system"],
        &image("fs_escape", Flavor::Musl),
        &["/usr", "/etc/passwd", "/tmp"],
        b"",
    );
    assert!(
        text(&out.stdout).contains("absolute host path: ENOENT"),
        "{}",
        text(&out.stdout)
    );
    // Found by PATH in the mounts only.
    let out = cage(&["--no-system"], "ls", &[]);
    assert_eq!(status(&out), 127);
}

/// Copy `prog` and the libraries `ldd` names into `tree` at the same paths
/// (symlinks followed), as a minimal image.
fn copy_with_libraries(prog: &Path, tree: &Path, at: &str) {
    let to = tree.join(at.trim_start_matches('/'));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(prog, &to).unwrap();
    let ldd = Command::new("ldd").arg(prog).output().unwrap();
    for line in text(&ldd.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        let Some(path) = path.filter(|p| p.starts_with('/')) else {
            continue;
        };
        let dst = tree.join(path.trim_start_matches('/'));
        if dst.symlink_metadata().is_ok() {
            continue;
        }
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        // An absolute symlink (the interpreter's /lib64/ld-linux-x86-64.so.2)
        // stays one, so the loader must resolve it inside the tree.
        match std::fs::read_link(path) {
            Ok(target) if target.is_absolute() => {
                let real = tree.join(target.strip_prefix("/").unwrap());
                std::fs::create_dir_all(real.parent().unwrap()).unwrap();
                if !real.exists() {
                    std::fs::copy(path, &real).unwrap();
                }
                std::os::unix::fs::symlink(&target, &dst).unwrap();
            }
            _ => {
                std::fs::copy(path, &dst).unwrap();
            }
        }
    }
}

#[test]
fn rootfs_is_the_whole_view() {
    require_kvm();
    let tree = scratch("rootfs");
    copy_with_libraries(&image("hello", Flavor::Dyn), &tree, "/bin/hello");
    copy_with_libraries(Path::new("/usr/bin/ls"), &tree, "/bin/ls");
    for d in ["dev", "proc", "tmp", "etc"] {
        std::fs::create_dir_all(tree.join(d)).unwrap();
    }
    std::fs::write(
        tree.join("etc/passwd"),
        "root:x:0:0::/:/bin/sh\nimage:x:1000:1000::/:/bin/sh\n",
    )
    .unwrap();
    let spec = tree.display().to_string();
    let rootfs = ["--rootfs", spec.as_str()];

    let out = cage(&rootfs, "/bin/hello", &["world"]);
    let native = run_native(&image("hello", Flavor::Dyn), &["world"], b"");
    assert_same("hello in the rootfs", &out, &native);
    // ls found by PATH in the tree, listing the tree.
    let out = cage(&rootfs, "ls", &["-1", "/"]);
    assert_eq!(
        text(&out.stdout),
        "bin\ndev\netc\nlib\nlib64\nproc\ntmp\n",
        "{}",
        text(&out.stderr)
    );
    // The tree's own /etc, not kvmcage's.
    let out = cage(&rootfs, "ls", &["-n", "/etc/passwd"]);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    // Read-only unless :rw; a static host program is still found by its
    // host path, and /tmp is private either way.
    let busybox = "/usr/bin/busybox";
    let out = cage(&rootfs, busybox, &["touch", "/made-here"]);
    assert_eq!(status(&out), 1);
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
    let rw = format!("{spec}:rw");
    let out = cage(
        &["--rootfs", &rw],
        busybox,
        &["touch", "/made-here", "/tmp/private"],
    );
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    assert!(tree.join("made-here").exists());
    assert!(!tree.join("tmp/private").exists());
    // No python3 in the tree.
    let out = cage(&rootfs, "python3", &["-c", "pass"]);
    assert_eq!(status(&out), 127);
}

#[test]
fn programs_are_found_and_scripts_run_as_linux_runs_them() {
    require_kvm();
    let dir = scratch("scripts");
    let m = format!("{}:/s", dir.display());
    let mount = ["--mount", m.as_str()];
    write_exe(&dir.join("show.sh"), "#!/bin/sh\necho \"show $0 $*\"\n");
    write_exe(
        &dir.join("py"),
        "#!/usr/bin/env python3\nimport sys; print('py', sys.argv[1:])\n",
    );
    write_exe(&dir.join("outer"), "#!/s/inner -x\n");
    write_exe(&dir.join("inner"), "#!/bin/sh\necho \"inner $0 | $*\"\n");
    write_exe(&dir.join("loop"), "#!/s/loop\n");
    // Linux runs five nested scripts and refuses six (ELOOP).
    write_exe(&dir.join("d6"), "#!/bin/sh\necho deep $#\n");
    for i in 1..6 {
        write_exe(&dir.join(format!("d{i}")), &format!("#!/s/d{}\n", i + 1));
    }
    write_exe(&dir.join("d0"), "#!/s/d1\n");
    write_exe(&dir.join("nointerp"), "#!/no/such/interpreter\n");
    std::fs::write(dir.join("plain"), "#!/bin/sh\necho no x bit\n").unwrap();

    // In the view: argv as Linux's binfmt_script builds it.
    let hostdir = dir.display().to_string();
    for (prog, args) in [("show.sh", &["a", "b"][..]), ("py", &["q"])] {
        let c = cage(&mount, &format!("/s/{prog}"), args);
        let mut n = native_in(&dir, &dir.join(prog).display().to_string(), args);
        n.stdout = text(&n.stdout).replace(&hostdir, "/s").into_bytes();
        assert_same(prog, &c, &n);
    }
    let out = cage(&mount, "/s/outer", &["z"]);
    assert_eq!(text(&out.stdout), "inner /s/inner | -x /s/outer z\n");
    let out = cage(&mount, "/s/d2", &[]);
    assert_eq!(text(&out.stdout), "deep 4\n", "{}", text(&out.stderr));
    let out = cage(&mount, "/s/d1", &[]);
    assert_eq!(status(&out), 126, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("too many levels"),
        "{}",
        text(&out.stderr)
    );
    // By PATH.
    let out = cage(
        &["--mount", &m, "--env", "PATH=/nowhere:/s"],
        "show.sh",
        &["p"],
    );
    assert_eq!(
        text(&out.stdout),
        "show /s/show.sh p\n",
        "{}",
        text(&out.stderr)
    );
    // A script kvmcage was given by host path reaches its interpreter as
    // /dev/fd/3, as Linux's fexecve of a script.
    let out = Command::new(kvmcage())
        .args(["run", "./show.sh", "h"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        "show /dev/fd/3 h\n",
        "{}",
        text(&out.stderr)
    );
    // Failures: ELOOP and EACCES are 126, a missing interpreter 127, each
    // one line.
    for (prog, code, says) in [
        ("/s/loop", 126, "too many levels of #! interpreters"),
        ("/s/plain", 126, "Permission denied"),
        ("/s", 126, "Permission denied"),
        (
            "/s/nointerp",
            127,
            "#! interpreter /no/such/interpreter is not in the sandbox's view",
        ),
    ] {
        let out = cage(&mount, prog, &[]);
        let err = text(&out.stderr);
        assert_eq!(status(&out), code, "{prog}: {err}");
        assert_eq!(err.lines().count(), 1, "{prog}: {err}");
        assert!(err.contains(says), "{prog}: {err}");
    }
    // execvp's rule: a non-executable match is skipped when a later PATH
    // entry has one; alone it is EACCES (126).
    let d1 = scratch("path1");
    let d2 = scratch("path2");
    std::fs::write(d1.join("tool"), "#!/bin/sh\necho first\n").unwrap();
    write_exe(&d2.join("tool"), "#!/bin/sh\necho second\n");
    let (m1, m2) = (
        format!("{}:/d1", d1.display()),
        format!("{}:/d2", d2.display()),
    );
    let opts = ["--mount", &m1, "--mount", &m2, "--env", "PATH=/d1:/d2"];
    assert_eq!(text(&cage(&opts, "tool", &[]).stdout), "second\n");
    let opts = ["--mount", &m1, "--env", "PATH=/d1"];
    assert_eq!(status(&cage(&opts, "tool", &[])), 126);
}

#[test]
fn extended_attributes_of_writable_files() {
    require_kvm();
    let py = "import os\n\
              p = '/tmp/f'\n\
              open(p, 'w').close()\n\
              os.setxattr(p, 'user.k', b'value')\n\
              print(os.getxattr(p, 'user.k'), os.listxattr(p))\n\
              os.removexattr(p, 'user.k')\n\
              print(os.listxattr(p))\n\
              for name in ('user.missing',):\n\
              \x20   try: os.getxattr(p, name)\n\
              \x20   except OSError as e: print(name, e.errno)\n\
              try: os.setxattr(p, 'trusted.k', b'v')\n\
              except OSError as e: print('trusted', e.errno)\n\
              try: os.setxattr('/usr/bin/env', 'user.k', b'v')\n\
              except OSError as e: print('read-only', e.errno)\n";
    let out = cage(&[], "python3", &["-c", py]);
    assert_eq!(
        text(&out.stdout),
        "b'value' ['user.k']\n[]\nuser.missing 61\ntrusted 1\nread-only 30\n",
        "{}",
        text(&out.stderr)
    );
    // The host counts no quota for a memfd's attributes: kvmcage stops
    // the program at 1 MiB of them (ENOSPC), and removing gives room back.
    let py = "import os\n\
              fd = os.memfd_create('m')\n\
              n = 0\n\
              try:\n\
              \x20   while n < 1000:\n\
              \x20       os.setxattr(fd, f'user.k{n}', b'v' * 64000); n += 1\n\
              except OSError as e: print('stopped', n, e.errno)\n\
              os.removexattr(fd, 'user.k0')\n\
              os.setxattr(fd, 'user.again', b'v' * 64000)\n\
              print('room again')\n";
    let out = cage(&[], "python3", &["-c", py]);
    assert_eq!(
        text(&out.stdout),
        "stopped 16 28\nroom again\n",
        "{}",
        text(&out.stderr)
    );
    // ls -l asks for ACLs and security labels: no error line.
    let out = cage(&[], "ls", &["-la", "/usr", "/tmp"]);
    assert_eq!(status(&out), 0);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn execve_replaces_the_program_as_linux_does() {
    require_kvm();
    let dir = scratch("execve");
    // Failures leave the caller intact with Linux's errno; then the new
    // program keeps ignored signals and inheritable descriptors only.
    let py = "import os, signal, sys\n\
              signal.signal(signal.SIGUSR1, lambda *a: None)\n\
              signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n\
              keep = os.open('/etc/passwd', os.O_RDONLY)\n\
              os.set_inheritable(keep, True)\n\
              drop = os.open('/etc/hosts', os.O_RDONLY)\n\
              for bad in ['/nonexistent', '/etc/passwd', '/tmp']:\n\
              \x20   try: os.execv(bad, [bad])\n\
              \x20   except OSError as e: print(bad, e.errno)\n\
              try: os.execv('/usr/bin/true', ['x' * 200000])\n\
              except OSError as e: print('E2BIG', e.errno)\n\
              print('fds', keep, drop, flush=True)\n\
              if sys.argv[1] == 'fds': os.execv('/usr/bin/python3', ['python3', '-c', FDS, str(keep), str(drop)])\n\
              os.execv('/usr/bin/grep', ['grep', '-E', '^Sig(Ign|Cgt|Blk)', '/proc/self/status'])\n";
    // The inherited descriptors, seen by the new image.
    let fds = "import os, sys\n\
               for fd in sys.argv[1:]:\n\
               \x20   try: os.fstat(int(fd)); print(fd, 'open')\n\
               \x20   except OSError as e: print(fd, e.errno)\n";
    let py = format!("FDS = {fds:?}\n{py}");
    for what in ["fds", "signals"] {
        let c = cage(&[], "python3", &["-c", &py, what]);
        let mut n = native_in(&dir, "python3", &["-c", &py, what]);
        // Signal 32 (glibc's SIGCANCEL) is ignored in this test process
        // and so inherited natively; kvmcage starts from Linux's defaults.
        n.stdout = text(&n.stdout)
            .lines()
            .map(|l| match l.strip_prefix("SigIgn:\t") {
                Some(h) => {
                    let v = u64::from_str_radix(h, 16).unwrap() & !(1 << 31);
                    format!("SigIgn:\t{v:016x}\n")
                }
                None => format!("{l}\n"),
            })
            .collect::<String>()
            .into_bytes();
        assert_same(&format!("execve {what}"), &c, &n);
    }
    let out = cage(&[], "env", &["A=1", "printenv", "A"]);
    assert_eq!(text(&out.stdout), "1\n");
    // Files execve refuses leave the caller running, with Linux's errno:
    // a FIFO (whose open would block: EACCES), an ELF for another machine
    // (ENOEXEC).
    let py = "import os\n\
              os.mkfifo('/tmp/f'); os.chmod('/tmp/f', 0o755)\n\
              fd = os.open('/tmp/f', os.O_RDONLY | os.O_NONBLOCK)\n\
              for what, path in [('fifo fd', fd), ('fifo', '/tmp/f')]:\n\
              \x20   try: os.execve(path, ['x'], {})\n\
              \x20   except OSError as e: print(what, e.errno)\n\
              elf = bytearray(open('/usr/bin/true', 'rb').read())\n\
              elf[18] = 183\n\
              open('/tmp/arm', 'wb').write(elf); os.chmod('/tmp/arm', 0o755)\n\
              try: os.execv('/tmp/arm', ['arm'])\n\
              except OSError as e: print('aarch64', e.errno)\n\
              print('still here')\n";
    let c = cage(&[], "python3", &["-c", py]);
    let tmp = scratch("execve-native");
    let n = native_in(
        &tmp,
        "python3",
        &["-c", &py.replace("/tmp/", &format!("{}/", tmp.display()))],
    );
    assert_same("refused execve", &c, &n);
    assert_eq!(
        text(&c.stdout),
        "fifo fd 13\nfifo 13\naarch64 8\nstill here\n"
    );
    // A sparse 200 GiB executable costs the guest nothing in its tmpfs:
    // kvmcage reads only its headers and segments (allocating the file's
    // size aborted kvmcage).
    let py = "import os\n\
              open('/tmp/big', 'wb').write(open('/usr/bin/true', 'rb').read())\n\
              os.truncate('/tmp/big', 200 << 30); os.chmod('/tmp/big', 0o755)\n\
              os.execv('/tmp/big', ['big'])\n";
    let out = cage(&[], "python3", &["-c", py]);
    assert_eq!(status(&out), 0, "{}", text(&out.stderr));
    // kvmcage maps no page W+X (Linux would run this one): refused with
    // ENOEXEC before the old image goes, not a SIGSEGV after.
    let py = "import os, struct\n\
              elf = bytearray(open('/usr/bin/true', 'rb').read())\n\
              phoff, = struct.unpack_from('<Q', elf, 32)\n\
              phnum, = struct.unpack_from('<H', elf, 56)\n\
              for i in range(phnum):\n\
              \x20   at = phoff + 56 * i\n\
              \x20   ty, fl = struct.unpack_from('<II', elf, at)\n\
              \x20   if ty == 1 and fl & 1: struct.pack_into('<I', elf, at + 4, fl | 2)\n\
              open('/tmp/wx', 'wb').write(elf); os.chmod('/tmp/wx', 0o755)\n\
              try: os.execv('/tmp/wx', ['wx'])\n\
              except OSError as e: print('W+X', e.errno)\n";
    let out = cage(&[], "python3", &["-c", py]);
    assert_eq!(text(&out.stdout), "W+X 8\n", "{}", text(&out.stderr));
    // Re-executing itself through /proc/self/exe, then a descriptor
    // (fexecve), against native.
    write_exe(
        &dir.join("reexec.py"),
        "#!/usr/bin/env python3\n\
         import os, sys\n\
         if len(sys.argv) == 1:\n\
         \x20   os.execv('/proc/self/exe', ['python3', sys.argv[0], 'exe'])\n\
         fd = os.open('/usr/bin/echo', os.O_RDONLY)\n\
         print('via exe', sys.argv[1], flush=True)\n\
         os.execve(fd, ['echo', 'via fd'], {})\n",
    );
    let m = format!("{}:/s", dir.display());
    let c = cage(&["--mount", &m], "/s/reexec.py", &[]);
    let n = native_in(&dir, &dir.join("reexec.py").display().to_string(), &[]);
    assert_same("re-exec", &c, &n);
    assert_eq!(text(&c.stdout), "via exe exe\nvia fd\n");
    // strace's rendering of the call that replaced the image.
    let out = cage(&["--trace"], "env", &["true"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("execve(\"/usr/bin/true\", [\"true\"], ")
            && err.contains(" /* 2 vars */) = 0\n"),
        "{err}"
    );
}

/// `find DIR -printf '%p %s %m %y'`, sorted: the tree a run left.
fn tree(dir: &Path) -> String {
    let out = Command::new("find")
        .arg(".")
        .args(["-printf", "%p %s %m %y\n"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    lines.sort_unstable();
    lines.join("\n")
}

#[test]
fn file_tools_leave_the_tree_native_leaves() {
    require_kvm();
    let native = scratch("tools-native");
    let caged = scratch("tools-cage");
    for d in [&native, &caged] {
        std::fs::write(d.join("in.txt"), "hello\nworld 1\n").unwrap();
        std::fs::write(d.join("nums.txt"), "1\n2\n11\n").unwrap();
    }
    let mount = format!("{}:/w:rw", caged.display());
    // Each overwrites or preserves modes (cp -p, install -m and sed -i
    // set them through POSIX ACLs first and must fall back to chmod).
    let ops: &[&[&str]] = &[
        &["mkdir", "-p", "a/b/c"],
        &["cp", "-a", "in.txt", "nums.txt", "a"],
        &["cp", "-a", "a", "a2"],
        &["mv", "a2/in.txt", "a2/moved.txt"],
        &["ln", "-s", "../moved.txt", "a2/b/link"],
        &["chmod", "-R", "go-rwx", "a2"],
        &["install", "-m", "0750", "a/in.txt", "a/inst.txt"],
        &[
            "dd",
            "if=a/nums.txt",
            "of=a/dd.out",
            "bs=2",
            "count=2",
            "status=none",
        ],
        &["truncate", "-s", "3", "a/in.txt"],
        &["sed", "-i", "s/1/X/g", "a/nums.txt"],
        &["perl", "-pi", "-e", "s/X/Y/", "a/nums.txt"],
        &["cp", "-p", "a/nums.txt", "a/p.txt"],
        &[
            "tar",
            "cf",
            "t.tar",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "a",
        ],
        &["tar", "xf", "t.tar", "-C", "a2/b"],
        &["rm", "-rf", "a/b"],
        &["cat", "a/nums.txt", "a/p.txt", "a/in.txt", "a/dd.out"],
    ];
    for op in ops {
        let n = native_in(&native, op[0], &op[1..]);
        let c = cage(&["--mount", &mount, "--cwd", "/w"], op[0], &op[1..]);
        assert_same(&format!("{op:?}"), &c, &n);
        assert_eq!(text(&c.stderr), text(&n.stderr), "{op:?}");
    }
    assert_eq!(tree(&caged), tree(&native));
}

/// The page cache behind private file mappings (issue 17): pages shared
/// between mappings and processes are copied on every kind of write (a
/// child's store, read(2) into the page, the parent's own store), never
/// written through to the file or another mapping; a rewritten file maps
/// its new contents. images/pagecache.c, as native.
#[test]
fn private_file_mappings_share_pages_copy_on_write() {
    for (flavor, out) in same_as_native("pagecache", &[], b"") {
        let s = text(&out.stdout);
        assert!(!s.contains(": no"), "{flavor:?}: {s}");
        assert!(s.ends_with("pagecache: done\n"), "{flavor:?}: {s}");
    }
}
