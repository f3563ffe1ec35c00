//! `cargo bench --bench threads`: thread creation + join, and compute-bound
//! work on one thread and on two, natively and under kvmcage in the same
//! run: the cost of a thread under kvmcage, and whether two threads run in
//! parallel there as they do natively (the speed-ups side by side).
//!
//! Needs /dev/kvm, gcc; builds images/threadbench.c into target/bench/.

mod common;
use common::{build, kvmcage};
use std::path::Path;
use std::process::Command;

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
    let bin = build("threadbench");
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
