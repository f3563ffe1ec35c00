//! Shared test harness: builds the programs in images/ and runs them
//! natively and under kvmcage.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// How a program is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Gcc,
    Musl,
    Pie,
    /// Plain `gcc`: dynamically linked against glibc (PIE, as Debian
    /// builds by default).
    Dyn,
    /// `musl-gcc` without -static: ld-musl as the interpreter.
    MuslDyn,
}

pub const FLAVORS: [Flavor; 5] = [
    Flavor::Gcc,
    Flavor::Musl,
    Flavor::Pie,
    Flavor::Dyn,
    Flavor::MuslDyn,
];

/// The flavors a C++ program (`images/<name>.cc`) is built in: there is no
/// musl g++, so glibc static and static-pie only.
pub fn cxx_flavors() -> [Flavor; 2] {
    [Flavor::Gcc, Flavor::Pie]
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Gcc => "gcc",
            Flavor::Musl => "musl",
            Flavor::Pie => "pie",
            Flavor::Dyn => "dyn",
            Flavor::MuslDyn => "musl-dyn",
        }
    }

    fn command(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Flavor::Gcc => ("gcc", &["-static", "-O1", "-w"]),
            Flavor::Musl => ("musl-gcc", &["-static", "-O1", "-w"]),
            Flavor::Pie => ("gcc", &["-static-pie", "-fPIE", "-O1", "-w"]),
            Flavor::Dyn => ("gcc", &["-O1", "-w"]),
            Flavor::MuslDyn => ("musl-gcc", &["-O1", "-w"]),
        }
    }

    /// The same for C++ (`.cc`), with g++.
    fn cxx_command(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Flavor::Gcc => ("g++", &["-static", "-O1", "-w"]),
            Flavor::Musl => {
                panic!("C++ images have no musl flavor (there is no musl g++): use cxx_flavors()")
            }
            Flavor::Pie => ("g++", &["-static-pie", "-fPIE", "-O1", "-w"]),
            Flavor::Dyn => ("g++", &["-O1", "-w"]),
            Flavor::MuslDyn => panic!("C++ images have no musl flavor"),
        }
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn kvmcage() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kvmcage"))
}

/// Fail loudly, in one line, when the machine has no usable /dev/kvm.
pub fn require_kvm() {
    let ok = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    assert!(
        ok,
        "/dev/kvm is not available: these tests boot real KVM guests (see README)"
    );
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

fn newer(src: &Path, out: &Path) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (m(src), m(out)) {
        (Some(s), Some(o)) => s > o,
        _ => true,
    }
}

/// Build `images/<name>` (a .c, a .cc with g++, or asm/<name>.S) for
/// `flavor`; returns the binary. A .cc has no musl flavor (panics). Rebuilt
/// only when the source is newer; written atomically so parallel test
/// binaries can share it.
pub fn image(name: &str, flavor: Flavor) -> PathBuf {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/images").join(flavor.name());
    std::fs::create_dir_all(&dir).expect("create target/images");
    let out = dir.join(name.replace('/', "-"));
    let c_src = root().join("images").join(format!("{name}.c"));
    let asm_src = root().join("images/asm").join(format!("{name}.S"));
    let cxx_src = root().join("images").join(format!("{name}.cc"));
    let (c_src, cxx_src, asm_src) = match name.strip_prefix("hostile/") {
        Some(n) => (
            root().join("images/hostile").join(format!("{n}.c")),
            root().join("images/hostile").join(format!("{n}.cc")),
            root().join("images/hostile").join(format!("{n}.S")),
        ),
        None => (c_src, cxx_src, asm_src),
    };
    let (src, compiler, flags): (PathBuf, &str, Vec<&str>) = if c_src.exists() {
        let (cc, f) = flavor.command();
        (c_src, cc, f.to_vec())
    } else if cxx_src.exists() {
        let (cxx, f) = flavor.cxx_command();
        (cxx_src, cxx, f.to_vec())
    } else if asm_src.exists() {
        (asm_src, "gcc", vec!["-nostdlib", "-static"])
    } else {
        panic!("no source for image {name}");
    };
    if newer(&src, &out) {
        let tmp = dir.join(format!(
            ".{}.{}",
            name.replace('/', "-"),
            std::process::id()
        ));
        let res = Command::new(compiler)
            .args(&flags)
            .arg("-o")
            .arg(&tmp)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {compiler} ({e}): run scripts/setup.sh to install the test toolchains")
            });
        assert!(
            res.status.success(),
            "{compiler} failed on {}: {}",
            src.display(),
            String::from_utf8_lossy(&res.stderr)
        );
        std::fs::rename(&tmp, &out).expect("install image");
    }
    out
}

fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        let mut sin = child.stdin.take().expect("stdin");
        let _ = sin.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

/// The environment a program gets in kvmcage's system view: PATH as
/// docker gives it and HOME=/tmp.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Run natively with the sandbox's default environment (PATH, HOME).
pub fn run_native(bin: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .env("HOME", "/tmp");
    run(cmd, stdin)
}

/// Run under `kvmcage run [opts] BIN ARGS`.
pub fn run_cage(opts: &[&str], bin: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(kvmcage());
    cmd.arg("run").args(opts).arg(bin).args(args);
    run(cmd, stdin)
}

/// The exit status a shell would report: the code, or 128+signal.
pub fn status(o: &Output) -> i32 {
    match (o.status.code(), o.status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => -1,
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The lines kvmcage itself wrote to stderr.
pub fn cage_lines(o: &Output) -> Vec<String> {
    text(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("kvmcage: "))
        .map(str::to_owned)
        .collect()
}

/// Run `name` natively and under kvmcage for every flavor and require the
/// same stdout and exit status. Returns the kvmcage outputs.
pub fn same_as_native(name: &str, args: &[&str], stdin: &[u8]) -> Vec<(Flavor, Output)> {
    same_as_native_in(name, args, stdin, &FLAVORS)
}

/// `same_as_native` for the given flavors only (`cxx_flavors()` for a .cc).
pub fn same_as_native_in(
    name: &str,
    args: &[&str],
    stdin: &[u8],
    flavors: &[Flavor],
) -> Vec<(Flavor, Output)> {
    require_kvm();
    let mut outs = Vec::new();
    for &flavor in flavors {
        let bin = image(name, flavor);
        let native = run_native(&bin, args, stdin);
        let cage = run_cage(&[], &bin, args, stdin);
        assert_eq!(
            text(&cage.stdout),
            text(&native.stdout),
            "{name} ({}) stdout differs; kvmcage stderr: {}",
            flavor.name(),
            text(&cage.stderr)
        );
        assert_eq!(
            status(&cage),
            status(&native),
            "{name} ({}) exit status differs; kvmcage stderr: {}",
            flavor.name(),
            text(&cage.stderr)
        );
        outs.push((flavor, cage));
    }
    outs
}

/// Run `scripts/NAME` (which builds external test programs from Debian's
/// linux-source into target/, idempotently) and return `target/OUT`; its
/// notes on stderr (a program that could not be built) are passed on.
pub fn built_by(script: &str, out: &str) -> PathBuf {
    let res = Command::new("bash")
        .arg(root().join("scripts").join(script))
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(
        res.status.success(),
        "scripts/{script} failed (run scripts/setup.sh first): {}",
        text(&res.stderr)
    );
    let err = text(&res.stderr);
    if !err.is_empty() {
        eprint!("{err}");
    }
    root().join("target").join(out)
}
