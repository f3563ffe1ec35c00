//! `cargo bench --bench programs`: whole programs natively and under
//! kvmcage through each syscall transport (`--transport gate`, the
//! default, and `--transport exit`), as ratios to native measured in one
//! run (issue 19's "Show": busybox wc -l, sha256sum and sort of a 64 MiB
//! file, touching 256 MiB, a static hello end to end).
//!
//! Needs /dev/kvm, gcc and busybox-static (scripts/setup.sh). The input is
//! written into target/bench/, which kvmcage mounts read-only at /data.

mod common;
use common::{build, kvmcage, root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Median wall time of `runs` runs of `cmd`, in seconds; every run must
/// succeed and print what the first printed.
fn time(mut cmd: impl FnMut() -> Command, runs: usize) -> (f64, Vec<u8>) {
    let mut first: Option<Vec<u8>> = None;
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = cmd().output().expect("run");
            let took = start.elapsed().as_secs_f64();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            match &first {
                Some(f) => assert_eq!(f, &out.stdout, "output changed between runs"),
                None => first = Some(out.stdout),
            }
            took
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    (t[t.len() / 2], first.unwrap_or_default())
}

/// 64 MiB of text lines (deterministic, unsorted), made once.
fn input(dir: &Path) -> PathBuf {
    let path = dir.join("lines-64m.txt");
    const SIZE: usize = 64 << 20;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == SIZE as u64) {
        return path;
    }
    let mut text = Vec::with_capacity(SIZE + 64);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while text.len() < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.extend_from_slice(format!("{:016x} line {}\n", x, text.len()).as_bytes());
    }
    text.truncate(SIZE - 1);
    text.push(b'\n');
    std::fs::write(&path, text).expect("write the input");
    path
}

fn main() {
    let cage = kvmcage();
    let runs = 3;
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let data = input(&dir);
    let name = data.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let guest_data = format!("/data/{name}");
    let mount = format!("{}:/data:ro", dir.display());
    let hello = build("hello");
    let touch = build("touch");
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "no /bin/busybox (busybox-static; run scripts/setup.sh)"
    );
    let host_data = data.to_string_lossy().into_owned();
    // (name, program, its arguments natively, under kvmcage)
    let cases: Vec<(&str, &Path, Vec<String>, Vec<String>)> = vec![
        (
            "busybox wc -l (64 MiB)",
            busybox,
            vec!["wc".into(), "-l".into(), host_data.clone()],
            vec!["wc".into(), "-l".into(), guest_data.clone()],
        ),
        (
            "busybox sha256sum (64 MiB)",
            busybox,
            vec!["sha256sum".into(), host_data.clone()],
            vec!["sha256sum".into(), guest_data.clone()],
        ),
        (
            "busybox sort (64 MiB)",
            busybox,
            vec!["sort".into(), "-o".into(), "/dev/null".into(), host_data],
            vec!["sort".into(), "-o".into(), "/dev/null".into(), guest_data],
        ),
        (
            "touch 256 MiB",
            &touch,
            vec!["256".into()],
            vec!["256".into()],
        ),
        ("static hello", &hello, vec!["x".into()], vec!["x".into()]),
    ];
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>7} {:>7}",
        "program", "native s", "gate s", "exit s", "gate x", "exit x"
    );
    for (label, bin, native_args, cage_args) in cases {
        let (native, want) = time(
            || {
                let mut c = Command::new(bin);
                c.args(&native_args);
                c
            },
            runs,
        );
        let under = |transport: &str| {
            let (t, out) = time(
                || {
                    let mut c = Command::new(&cage);
                    c.args(["run", "--mem", "1G", "--transport", transport])
                        .args(["--mount", &mount])
                        .arg(bin)
                        .args(&cage_args);
                    c
                },
                runs,
            );
            // sha256sum names its file: compare the digests only.
            let digest = |o: &[u8]| {
                String::from_utf8_lossy(o)
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string()
            };
            assert_eq!(digest(&out), digest(&want), "{label}: output differs");
            t
        };
        let (gate, exit) = (under("gate"), under("exit"));
        println!(
            "{label:<28} {native:>10.4} {gate:>10.4} {exit:>10.4} {:>6.2}x {:>6.2}x",
            gate / native,
            exit / native
        );
    }
}
