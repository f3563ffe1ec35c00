//! `kvmcage run --trace` against the real strace: the same program under
//! `strace -f` natively and under kvmcage gives the same sequence of
//! syscall names and results (after execve).

mod common;
use common::*;
use std::process::Command;

/// (name, result) from one strace-format line; None for other lines.
fn parse(line: &str) -> Option<(String, String)> {
    // strace -f prefixes a pid; kvmcage does not.
    let line = line
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    if line.starts_with("+++") || line.starts_with("---") || line.starts_with('[') {
        return None;
    }
    let name = line.split('(').next()?.to_string();
    let result = line.rsplit(" = ").next()?.trim().to_string();
    Some((name, result))
}

/// Results that legitimately differ are compared by kind only: addresses
/// (brk, mmap, mremap: another address space), ids (pid 1 in the sandbox)
/// and readlink's length (glibc reads /proc/self/exe, which is the
/// program's guest path in the sandbox, never its host path).
fn normalize(name: &str, result: &str) -> String {
    let value_differs = matches!(
        name,
        "brk"
            | "mmap"
            | "mremap"
            | "set_tid_address"
            | "getpid"
            | "gettid"
            | "getppid"
            | "readlink"
    );
    if value_differs && !result.starts_with("-1 ") {
        "<ok>".to_string()
    } else {
        result.to_string()
    }
}

fn calls(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(parse)
        .filter(|(n, _)| n != "execve")
        .map(|(n, r)| {
            let r = normalize(&n, &r);
            (n, r)
        })
        .collect()
}

fn compare(name: &str, flavor: Flavor, args: &[&str], stdin: &str) {
    require_kvm();
    let bin = image(name, flavor);
    let dir = root().join("target/strace-test");
    std::fs::create_dir_all(&dir).unwrap();
    let tag = format!("{}-{}", name.replace('/', "-"), flavor.name());
    let native_log = dir.join(format!("{tag}.native"));
    let cage_log = dir.join(format!("{tag}.cage"));
    let stdin_file = dir.join(format!("{tag}.in"));
    std::fs::write(&stdin_file, stdin).unwrap();
    let st = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&native_log)
        .arg(&bin)
        .args(args)
        .env_clear()
        .stdin(std::fs::File::open(&stdin_file).unwrap())
        .output()
        .expect("strace (scripts/setup.sh installs it)");
    let cage = Command::new(kvmcage())
        .arg("run")
        .arg("--trace-file")
        .arg(&cage_log)
        .arg(&bin)
        .args(args)
        .stdin(std::fs::File::open(&stdin_file).unwrap())
        .output()
        .unwrap();
    assert_eq!(status(&cage), status(&st), "{tag}: exit status");
    let native = calls(&std::fs::read_to_string(&native_log).unwrap());
    let mut sandboxed = calls(&std::fs::read_to_string(&cage_log).unwrap());
    // rseq: Linux registers the area (0); kvmcage answers ENOSYS, as kernels
    // before 4.18 do, and glibc carries on without it.
    for (n, r) in sandboxed.iter_mut() {
        if n == "rseq" && r == "-1 ENOSYS (Function not implemented)" {
            *r = "0".into();
        }
    }
    assert!(!native.is_empty(), "{tag}: strace recorded nothing");
    assert_eq!(sandboxed, native, "{tag}: (name, result) sequences differ");
}

#[test]
fn hello_traces_like_strace() {
    for flavor in FLAVORS {
        compare("hello", flavor, &["world"], "");
    }
}

#[test]
fn failing_calls_trace_like_strace() {
    compare("efault", Flavor::Gcc, &[], "data\n");
    compare("efault", Flavor::Musl, &[], "data\n");
}

#[test]
fn memory_calls_trace_like_strace() {
    compare("memory", Flavor::Gcc, &[], "");
    compare("memory", Flavor::Musl, &[], "");
}

#[test]
fn a_fatal_signal_ends_the_trace_like_strace() {
    compare("segv", Flavor::Gcc, &[], "");
    let log = root().join("target/strace-test/segv-gcc.cage");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.ends_with("+++ killed by SIGSEGV +++\n"), "{text}");
}

#[test]
fn int80_calls_are_marked_as_32_bit() {
    require_kvm();
    let out = run_cage(&["--trace"], &image("int80", Flavor::Gcc), &[], b"");
    let err = text(&out.stderr);
    let marked = err
        .split("[ Process PID=1 runs in 32 bit mode. ]\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_default();
    assert!(
        marked.starts_with("write(1, \"written by int 0x80\\n\", 20)") && marked.ends_with(" = 20"),
        "{err}"
    );
    assert!(
        err.contains("[ Process PID=1 runs in 64 bit mode. ]\n"),
        "{err}"
    );
    assert!(
        err.ends_with("exit(42)                                = ?\n+++ exited with 42 +++\n"),
        "{err}"
    );
}

#[test]
fn json_trace_and_summary() {
    require_kvm();
    let json = root().join("target/strace-test/hello.jsonl");
    let out = run_cage(
        &["--trace-json", json.to_str().unwrap(), "--summary"],
        &image("hello", Flavor::Musl),
        &[],
        b"",
    );
    assert_eq!(status(&out), 0);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // musl's printf writes with writev.
    let write = lines
        .iter()
        .find(|v| v["name"] == "writev")
        .expect("a writev");
    assert_eq!(write["nr"], 20);
    assert_eq!(write["args"][0], 1);
    assert!(write["result"].as_i64().unwrap() > 0);
    assert!(write["errno"].is_null());
    assert!(write["entry"].as_str().unwrap().starts_with("syscall"));
    assert!(write["ns"].as_u64().is_some());
    let err = text(&out.stderr);
    assert!(
        err.contains("% time     seconds  usecs/call     calls    errors     exits syscall"),
        "{err}"
    );
    let total = err
        .lines()
        .find(|l| l.ends_with(" total"))
        .expect("total row");
    let fields: Vec<&str> = total.split_whitespace().collect();
    // calls == exits: one exit per syscall. (The errors column is blank
    // when there are none, as in strace -c.)
    assert_eq!(fields[3], fields[fields.len() - 2], "{total}");
    assert_eq!(fields[3].parse::<usize>().unwrap(), lines.len());
}

/// The signal lines (`--- SIGx {...} ---`, `rt_sigreturn(...)`, `+++ ... +++`)
/// with ids replaced: they name pid 1 and the sandbox's uid there.
fn signal_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start()
        })
        .filter(|l| l.starts_with("---") || l.starts_with("rt_sigreturn") || l.starts_with("+++"))
        .map(|l| {
            let mut out = String::new();
            for part in l.split(", ") {
                let p = if part.starts_with("si_pid=") {
                    "si_pid=P"
                } else if part.starts_with("si_uid=") {
                    "si_uid=U"
                } else {
                    part
                };
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(p);
            }
            // Column padding differs with the call's text; compare the words.
            out.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// The whole lines of the signal calls whose arguments are structures
/// (sigaction, sigset, itimerval, siginfo), with addresses and ids masked:
/// kvmcage decodes them as strace does.
fn signal_call_lines(text: &str) -> Vec<String> {
    const CALLS: [&str; 5] = [
        "rt_sigaction(",
        "rt_sigprocmask(",
        "setitimer(",
        "rt_sigqueueinfo(",
        "sigaltstack(",
    ];
    text.lines()
        .map(|l| {
            l.trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start()
        })
        .filter(|l| CALLS.iter().any(|c| l.starts_with(c)))
        .map(|l| {
            let mut out = String::new();
            let mut rest = l;
            // rt_sigqueueinfo's first argument is the pid.
            if let Some(r) = rest.strip_prefix("rt_sigqueueinfo(") {
                out.push_str("rt_sigqueueinfo(P");
                rest = &r[r.find(',').unwrap_or(0)..];
            }
            let mut chars = rest.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if rest[i..].starts_with("0x") {
                    out.push_str("0xADDR");
                    chars.next();
                    while chars.peek().is_some_and(|(_, c)| c.is_ascii_hexdigit()) {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            let out = out
                .split(", ")
                .map(|p| match p {
                    p if p.starts_with("si_pid=") => "si_pid=P",
                    p if p.starts_with("si_uid=") => "si_uid=U",
                    p => p,
                })
                .collect::<Vec<_>>()
                .join(", ");
            out.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

#[test]
fn signal_delivery_is_traced_like_strace() {
    require_kvm();
    let bin = image("sigtrace", Flavor::Gcc);
    let native = Command::new("strace")
        .arg(&bin)
        .env_clear()
        .output()
        .expect("strace (scripts/setup.sh installs it)");
    let cage = run_cage(&["--trace"], &bin, &[], b"");
    let want = signal_lines(&text(&native.stderr));
    assert!(
        want.iter().any(|l| l.starts_with("--- SIGSEGV")),
        "{want:?}"
    );
    assert_eq!(signal_lines(&text(&cage.stderr)), want);
    let want = signal_call_lines(&text(&native.stderr));
    for call in [
        "rt_sigaction(",
        "rt_sigprocmask(",
        "setitimer(",
        "rt_sigqueueinfo(",
    ] {
        assert!(
            want.iter().any(|l| l.starts_with(call)),
            "{call} in {want:?}"
        );
    }
    assert_eq!(signal_call_lines(&text(&cage.stderr)), want);
    assert_eq!(status(&cage), status(&native));
}
