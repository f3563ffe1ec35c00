//! Coverage-guided fuzzing of the ELF loader (no /dev/kvm needed): the
//! input is the program file, loaded as a real run loads it; see
//! kvmcage::fuzz::load_elf.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kvmcage::fuzz::load_elf(data);
});
