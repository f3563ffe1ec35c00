//! `cargo bench --bench threads`: thread creation + join, and compute-bound
//! work on one thread and on two, natively and under kvmcage in the same
//! run: the cost of a thread under kvmcage, and whether two threads run in
//! parallel there as they do natively (the speed-ups side by side).
//!
//! Needs /dev/kvm, gcc; builds images/threadbench.c into target/bench/.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build() -> PathBuf {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let out = dir.join("threadbench");
    let ok = Command::new("gcc")
        .args(["-static", "-O2", "-w", "-o"])
        .arg(&out)
        .arg(root().join("images/threadbench.c"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "gcc failed for threadbench (run scripts/setup.sh)");
    out
}

fn kvmcage() -> PathBuf {
    let bin = root().join("target/release/kvmcage");
    if !bin.exists() {
        let ok = Command::new("cargo")
            .args(["build", "--release", "--bin", "kvmcage"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "cargo build --release failed");
    }
    bin
}

/// The program's own figure (its first word of output), median of `runs`.
fn figure(cage: Option<&Path>, bin: &Path, args: &[&str], runs: usize) -> f64 {
    let mut v: Vec<f64> = (0..runs)
        .map(|_| {
            let out = match cage {
                Some(c) => Command::new(c).arg("run").arg(bin).args(args).output(),
                None => Command::new(bin).args(args).output(),
            }
            .expect("run");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
                .and_then(|w| w.parse().ok())
                .expect("a figure")
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let cage = kvmcage();
    let bin = build();
    let runs = 5;
    println!(
        "{:<40} {:>12} {:>12} {:>8}",
        "workload", "native", "kvmcage", "ratio"
    );
    let n = figure(None, &bin, &["create", "500"], runs);
    let k = figure(Some(&cage), &bin, &["create", "500"], runs);
    println!(
        "{:<40} {:>9.1} us {:>9.1} us {:>7.1}x",
        "pthread_create + pthread_join",
        n / 1e3,
        k / 1e3,
        k / n
    );
    let (n1, k1) = (
        figure(None, &bin, &["compute", "1"], runs),
        figure(Some(&cage), &bin, &["compute", "1"], runs),
    );
    let (n2, k2) = (
        figure(None, &bin, &["compute", "2"], runs),
        figure(Some(&cage), &bin, &["compute", "2"], runs),
    );
    for (name, n, k) in [
        ("compute, 1 thread", n1, k1),
        ("compute, 2 threads", n2, k2),
    ] {
        println!("{name:<40} {n:>9.1} ms {k:>9.1} ms {:>7.2}x", k / n);
    }
    println!(
        "speed-up of 2 threads over 1: native {:.2}x, kvmcage {:.2}x",
        n1 / n2,
        k1 / k2
    );
}
