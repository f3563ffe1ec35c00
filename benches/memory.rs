//! `cargo bench --bench memory`: memory-heavy programs natively and under
//! kvmcage, as ratios measured in one run, and the cost of one
//! mmap + touch + munmap cycle in exits and microseconds.
//!
//! Needs /dev/kvm, gcc; builds its programs from images/ into target/bench/.

mod common;
use common::{build, kvmcage};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Median wall time of `runs` runs, in seconds.
fn time(mut cmd: impl FnMut() -> Command, runs: usize) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = cmd().output().expect("run");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn exits(cage: &Path, bin: &Path, args: &[&str]) -> u64 {
    let out = Command::new(cage)
        .args(["run", "--mem", "1G", "--stats"])
        .arg(bin)
        .args(args)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.strip_prefix("kvmcage: "))
        .and_then(|l| l.split(" syscalls, ").nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let cage = kvmcage();
    let runs = 5;
    println!(
        "{:<28} {:>11} {:>11} {:>8}",
        "workload", "native s", "kvmcage s", "ratio"
    );
    for (name, args) in [
        ("malloc", vec![]),
        ("touch", vec!["256"]),
        ("mmapcycle", vec!["2000"]),
    ] {
        let bin = build(name);
        let native = time(
            || {
                let mut c = Command::new(&bin);
                c.args(&args);
                c
            },
            runs,
        );
        let sandboxed = time(
            || {
                let mut c = Command::new(&cage);
                c.args(["run", "--mem", "1G"]).arg(&bin).args(&args);
                c
            },
            runs,
        );
        println!(
            "{:<28} {native:>11.4} {sandboxed:>11.4} {:>7.1}x",
            format!("{name} {}", args.join(" ")),
            sandboxed / native
        );
    }
    // One mmap + touch 16 pages + munmap cycle: exits and time per cycle,
    // from the difference between 2000 and 200 cycles.
    let bin = build("mmapcycle");
    let t = |n: &str| {
        time(
            || {
                let mut c = Command::new(&cage);
                c.args(["run", "--mem", "1G"]).arg(&bin).arg(n);
                c
            },
            runs,
        )
    };
    let (t_hi, t_lo) = (t("2000"), t("200"));
    let (e_hi, e_lo) = (exits(&cage, &bin, &["2000"]), exits(&cage, &bin, &["200"]));
    println!(
        "mmap(64 KiB) + touch 16 pages + munmap: {:.1} us and {:.2} exits per cycle under kvmcage",
        (t_hi - t_lo) / 1800.0 * 1e6,
        (e_hi - e_lo) as f64 / 1800.0
    );
}
