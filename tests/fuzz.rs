//! Seeded runs of the fuzz harnesses (kvmcage::fuzz), no /dev/kvm needed:
//! random inputs of writes and syscalls with hostile arguments against a
//! process with an fd zoo, and mutated program headers of a real static-pie
//! binary through the loader. Every distinct panic is collected (message
//! and location, with the shortest input that raised it saved under
//! target/tmp/fuzz-panics/) and the test fails listing them all.
//! `KVMCAGE_FUZZ_REPLAY=FILE` runs just that saved input, uncaught (for a
//! backtrace).
//! For coverage-guided fuzzing, see fuzz/README.md.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Once;
use std::time::Instant;

/// xorshift64: the inputs are the same on every run.
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

thread_local! {
    /// This thread catches panics itself: the hook only records them.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.get() {
                return previous(info);
            }
            let p = info.payload();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-string payload)".into());
            let at = info.location().map(|l| l.to_string()).unwrap_or_default();
            // A panic inside std or a dependency (Instant + Duration, say):
            // name the kvmcage code that made it.
            let from = if at.starts_with("src/") {
                String::new()
            } else {
                kvmcage_frame(&std::backtrace::Backtrace::force_capture().to_string())
            };
            CAUGHT.set(Some(format!("{msg} at {at}{from}")));
        }));
    });
}

/// ", in FUNCTION at FILE:LINE" for the innermost frame in kvmcage's own
/// source (not the harness's) in a rendered backtrace.
fn kvmcage_frame(bt: &str) -> String {
    let lines: Vec<&str> = bt.lines().map(str::trim).collect();
    for (i, l) in lines.iter().enumerate() {
        let Some(file) = l.strip_prefix("at ./src/") else {
            continue;
        };
        if file.starts_with("fuzz.rs") {
            continue;
        }
        let func = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.starts_with("at "))
            .and_then(|l| l.split_once(": "))
            .map_or("?", |(_, f)| f);
        return format!(", in {func} at src/{file}");
    }
    String::new()
}

/// Distinct panics of one seeded run.
#[derive(Default)]
struct Panics {
    /// "message at file:line:col" -> (count, first input, shortest input).
    seen: BTreeMap<String, (u64, usize, Vec<u8>)>,
}

impl Panics {
    /// Run `f` on input number `i`; a panic is recorded, not propagated.
    fn run<R>(&mut self, i: usize, input: &[u8], f: impl FnOnce() -> R) -> Option<R> {
        install_hook();
        CATCHING.set(true);
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        CATCHING.set(false);
        match r {
            Ok(v) => Some(v),
            Err(_) => {
                let what = CAUGHT.take().unwrap_or_else(|| "unknown panic".into());
                let e = self.seen.entry(what).or_insert((0, i, input.to_vec()));
                e.0 += 1;
                if input.len() < e.2.len() {
                    e.2 = input.to_vec();
                }
                None
            }
        }
    }

    /// Fail listing every distinct panic; save each one's shortest input.
    fn assert_none(&self, harness: &str) {
        if self.seen.is_empty() {
            return;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-panics");
        let _ = std::fs::create_dir_all(&dir);
        // An earlier run's inputs would read as this run's.
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{harness}-"))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let mut report = String::new();
        for (n, (what, (count, first, input))) in self.seen.iter().enumerate() {
            let file = dir.join(format!("{harness}-{n}.bin"));
            let _ = std::fs::write(&file, input);
            report.push_str(&format!(
                "\n  {what}\n    {count} inputs, first #{first}; shortest ({} bytes) saved as {}",
                input.len(),
                file.display()
            ));
        }
        panic!("{harness}: {} distinct panics:{report}", self.seen.len());
    }
}

/// With KVMCAGE_FUZZ_REPLAY set, run only that file (if its name says it
/// is an input of `harness`) and let a panic through. True if set.
fn replay(harness: &str, run: impl FnOnce(&[u8])) -> bool {
    let Some(file) = std::env::var_os("KVMCAGE_FUZZ_REPLAY") else {
        return false;
    };
    let file = PathBuf::from(file);
    if file
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(harness))
    {
        run(&std::fs::read(&file).expect("read the input to replay"));
    }
    true
}

/// A selector byte, and the raw value it asks for.
fn push_value(data: &mut Vec<u8>, state: &mut u64) {
    let sel = rng(state) as u8;
    data.push(sel);
    if sel == 0xff {
        data.extend_from_slice(&rng(state).to_le_bytes());
    }
}

/// An input for kvmcage::fuzz::run_ops, built op by op so that every byte
/// means what it was meant to: the limits byte, then up to 40 ops, mostly
/// calls (1 in 8 i386, 1 in 8 with a wild number), some writes.
fn random_input(state: &mut u64) -> Vec<u8> {
    let mut data = vec![rng(state) as u8];
    for _ in 0..rng(state) % 41 {
        let r = rng(state);
        if r % 16 == 0 {
            data.push(r as u8 & 0xfe);
            push_value(&mut data, state);
            let len = (rng(state) % 33) as usize;
            data.push(len as u8);
            data.extend((0..len).map(|_| rng(state) as u8));
            continue;
        }
        let i386 = (r >> 8) % 8 == 0;
        let wild = (r >> 16) % 8 == 0;
        data.push(r as u8 | 1);
        data.push((r >> 24) as u8);
        data.push(
            ((r >> 32) as u8 & 1) | if i386 { 0x80 } else { 0 } | if wild { 0x40 } else { 0 },
        );
        if wild {
            push_value(&mut data, state);
        }
        for _ in 0..6 {
            push_value(&mut data, state);
        }
    }
    data
}

#[test]
fn dispatcher_survives_random_inputs() {
    if replay("dispatch", |d| {
        kvmcage::fuzz::run_ops(d);
    }) {
        return;
    }
    let mut state = 0x9E37_79B9_7F4A_7C15;
    let inputs = 20_000;
    let mut calls = 0u64;
    let mut panics = Panics::default();
    let started = Instant::now();
    for i in 0..inputs {
        let data = random_input(&mut state);
        calls += panics
            .run(i, &data, || kvmcage::fuzz::run_ops(&data))
            .unwrap_or(0);
    }
    eprintln!(
        "fuzz: {inputs} inputs, {calls} syscalls dispatched, {} distinct panics, {:.1?}",
        panics.seen.len(),
        started.elapsed()
    );
    panics.assert_none("dispatch");
    assert!(calls > 200_000, "the harness made too few calls: {calls}");
}

#[test]
fn fd_zoo_is_populated() {
    let zoo = kvmcage::fuzz::zoo();
    let path = |fd: i32| {
        zoo.iter()
            .find(|(f, _)| *f == fd)
            .map(|(_, p)| p.as_str())
            .unwrap_or("(closed)")
    };
    assert!(path(3).starts_with("pipe"), "fd 3: {}", path(3));
    assert!(path(4).starts_with("pipe"), "fd 4: {}", path(4));
    let want = [
        (0, "/dev/null"),
        (1, "/dev/null"),
        (2, "/dev/null"),
        (5, "/dev/null"),
        (6, "/dev/zero"),
        (7, "/proc/self/maps"),
        (8, "/"),
        (9, "/mnt"),
        (10, "/mnt/seed"),
        (11, "/tmp/f"),
        (12, "/ro/seed"),
    ];
    for (fd, p) in want {
        assert_eq!(path(fd), p, "fd {fd} of the zoo: {zoo:?}");
    }
}

/// Offsets in the ELF header and in a program header.
const E_TYPE: usize = 16;
const E_ENTRY: usize = 24;
const E_PHOFF: usize = 32;
const E_PHNUM: usize = 56;
const PHENT: usize = 56;
/// (offset, width) of p_type, p_flags, p_offset, p_vaddr, p_filesz,
/// p_memsz, p_align.
const PH_FIELDS: [(usize, usize); 7] = [(0, 4), (4, 4), (8, 8), (16, 8), (32, 8), (40, 8), (48, 8)];
const PT_TYPES: [u64; 10] = [
    0,           // PT_NULL
    1,           // PT_LOAD
    2,           // PT_DYNAMIC
    3,           // PT_INTERP
    6,           // PT_PHDR
    6,           // (twice: the bogus PT_PHDR case)
    7,           // PT_TLS
    0x6474_e550, // PT_GNU_EH_FRAME
    0x6474_e551, // PT_GNU_STACK
    0x6474_e552, // PT_GNU_RELRO
];
const PIE_BASE: u64 = 0x5555_5555_4000;

/// A value for a field of `width` bytes that held `old`.
fn interesting(state: &mut u64, old: u64, width: usize, file_len: u64) -> u64 {
    let r = rng(state);
    let v = match rng(state) % 13 {
        0 => r,
        1 => old ^ (1 << (r % (width as u64 * 8))),
        2 => old.wrapping_add(r % 0x2000),
        3 => old.wrapping_sub(r % 0x2000),
        4 => u64::MAX - r % 0x2000,                      // near 2^64
        5 => (i64::MAX as u64).wrapping_sub(r % 0x2000), // near 2^63
        6 => 0,
        7 => (r % 0x1_0000) << 12, // a page multiple
        8 => file_len.wrapping_sub(r % 0x200),
        9 => [PIE_BASE, 0x7fff_ffff_f000, 0x1_0000, 0x40_0000][(r % 4) as usize],
        10 => (u64::MAX - PIE_BASE).wrapping_add(r % 0x2000), // + the PIE bias: overflow
        11 => r % 0x100,
        _ => old.wrapping_mul(2),
    };
    if width == 8 {
        v
    } else {
        v & ((1 << (width * 8)) - 1)
    }
}

fn put(data: &mut [u8], at: usize, width: usize, v: u64) {
    data[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
}

fn get(data: &[u8], at: usize, width: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..width].copy_from_slice(&data[at..at + width]);
    u64::from_le_bytes(b)
}

#[test]
fn loader_survives_mutated_headers() {
    if replay("elf", |d| {
        let _ = kvmcage::fuzz::load_elf(d);
    }) {
        return;
    }
    let bin = common::image("hello", common::Flavor::Pie);
    let mut data = std::fs::read(&bin).expect("read the static-pie image");
    if let Err(e) = kvmcage::fuzz::load_elf(&data) {
        panic!("the unmutated image must load: {e}");
    }
    let phoff = get(&data, E_PHOFF, 8) as usize;
    let phnum = get(&data, E_PHNUM, 2) as usize;
    let ph_end = phoff + phnum * PHENT;
    assert!(phoff >= 64 && ph_end <= data.len() && phnum > 0);
    let (header, phdrs) = (data[..64].to_vec(), data[phoff..ph_end].to_vec());
    let file_len = data.len() as u64;

    let mut state = 0x2545_F491_4F6C_DD1D;
    let iterations = 5000;
    let (mut loaded, mut refused) = (0u32, 0u32);
    let mut panics = Panics::default();
    let started = Instant::now();
    for i in 0..iterations {
        data[..64].copy_from_slice(&header);
        data[phoff..ph_end].copy_from_slice(&phdrs);
        // Mostly several fields of one program header; sometimes the
        // ELF header's.
        let k = (rng(&mut state) as usize) % phnum;
        for _ in 0..1 + rng(&mut state) % 3 {
            let (at, width) = match rng(&mut state) % 16 {
                0 => (E_PHOFF, 8),
                1 => (E_PHNUM, 2),
                2 => (E_ENTRY, 8),
                3 => (E_TYPE, 2),
                _ => {
                    let (off, w) = PH_FIELDS[(rng(&mut state) as usize) % PH_FIELDS.len()];
                    (phoff + k * PHENT + off, w)
                }
            };
            let old = get(&data, at, width);
            let v = match (at, rng(&mut state) % 2) {
                (E_PHNUM, 0) => [0, 1, phnum as u64 - 1, phnum as u64 + 1, 0xffff]
                    [(rng(&mut state) % 5) as usize],
                (E_TYPE, 0) => [2, 3][(rng(&mut state) % 2) as usize],
                (a, 0) if a >= phoff && (a - phoff) % PHENT == 0 => {
                    PT_TYPES[(rng(&mut state) as usize) % PT_TYPES.len()]
                }
                _ => interesting(&mut state, old, width, file_len),
            };
            put(&mut data, at, width, v);
        }
        let len = if rng(&mut state) % 16 == 0 {
            (rng(&mut state) % file_len) as usize
        } else {
            data.len()
        };
        let input = &data[..len];
        match panics.run(i, input, || kvmcage::fuzz::load_elf(input)) {
            Some(Ok(_)) => loaded += 1,
            Some(Err(_)) => refused += 1,
            None => {}
        }
    }
    eprintln!(
        "fuzz: {iterations} mutated ELFs: {loaded} loaded, {refused} refused, {} distinct panics, {:.1?}",
        panics.seen.len(),
        started.elapsed()
    );
    panics.assert_none("elf");
    assert!(
        loaded > 50 && refused > 50,
        "the mutations should both load and be refused: {loaded} loaded, {refused} refused"
    );
}
