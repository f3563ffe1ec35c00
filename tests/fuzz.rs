//! A seeded run of the dispatcher fuzz harness (kvmcage::fuzz), no /dev/kvm
//! needed: random inputs of writes and syscalls with hostile arguments.
//! For coverage-guided fuzzing, see fuzz/README.md.

/// xorshift64: the inputs are the same on every run.
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn dispatcher_survives_random_inputs() {
    let mut state = 0x9E37_79B9_7F4A_7C15;
    let inputs = 20_000;
    let mut calls = 0u64;
    for _ in 0..inputs {
        let len = (rng(&mut state) % 600) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng(&mut state) as u8).collect();
        // Mostly syscalls: an op byte is odd for a call; a call takes 2
        // number bytes and 6 argument selectors.
        let mut i = 0;
        while i < data.len() {
            data[i] |= 1;
            if let Some(hi) = data.get_mut(i + 2) {
                *hi &= 0xc1; // number < 512, maybe i386 or wild
            }
            i += 9;
        }
        calls += kvmcage::fuzz::run_ops(&data);
    }
    eprintln!("fuzz: {inputs} inputs, {calls} syscalls dispatched, no panic");
    assert!(calls > 50_000, "the harness made too few calls: {calls}");
}
