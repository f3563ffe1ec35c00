//! Coverage-guided fuzzing of the syscall dispatcher and uaccess (no
//! /dev/kvm needed): see kvmcage::fuzz for the input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kvmcage::fuzz::run_ops(data);
});
