//! Grade a program with the kvmcage library: run it on an input file under
//! time and memory limits, capture its stdout, and compare it with the
//! expected output.
//!
//!     cargo run --release --example grade -- PROGRAM INPUT EXPECTED
//!
//! Prints one verdict line and exits 0 when the output matched.

use std::io::{Read, Seek};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [program, input, expected] = args.as_slice() else {
        eprintln!("usage: grade PROGRAM INPUT EXPECTED");
        std::process::exit(2);
    };
    let mut out = tempfile::tempfile()?;
    let result = kvmcage::Sandbox::new(program)
        .stdin(std::fs::File::open(input)?)
        .stdout(out.try_clone()?)
        .stderr(kvmcage::Stdio::Null)
        .timeout(Duration::from_secs(2))
        .cpu_time(Duration::from_secs(1))
        .mem_size(64 << 20)
        .run_result();
    let mut got = Vec::new();
    out.rewind()?;
    out.read_to_end(&mut got)?;
    let want = std::fs::read(expected)?;
    let ok = result.status == "exited" && result.exit_code == Some(0) && got == want;
    println!(
        "{}: status {}, {:.3}s CPU, {} KiB, {} syscalls",
        if ok { "accepted" } else { "rejected" },
        result.status,
        result.cpu_time_s,
        result.peak_memory_kib,
        result.syscalls
    );
    std::process::exit(if ok { 0 } else { 1 });
}
