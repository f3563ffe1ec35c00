//! What the benches share: building a program from images/ and finding
//! the release kvmcage.

use std::path::PathBuf;
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn build(name: &str) -> PathBuf {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let out = dir.join(name);
    let ok = Command::new("gcc")
        .args(["-static", "-O2", "-w", "-o"])
        .arg(&out)
        .arg(root().join("images").join(format!("{name}.c")))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "gcc failed for {name} (run scripts/setup.sh)");
    out
}

pub fn kvmcage() -> PathBuf {
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
