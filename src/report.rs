//! What a fatal fault is called, and the one line that tells the user.

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter};
use kvm_bindings::kvm_regs;

use crate::vm::Machine;

/// An exception from ring 3 the host did not resolve.
pub struct Fault {
    pub vector: u8,
    pub error_code: Option<u64>,
    pub cr2: u64,
    pub regs: kvm_regs,
}

pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGSEGV: i32 = 11;

/// Up to 15 bytes of user code at `rip` (fewer where the page ends).
fn code_at(m: &Machine, rip: u64) -> Vec<u8> {
    let mut buf = [0u8; 15];
    let n = m.user().read_prefix(rip, &mut buf);
    buf[..n].to_vec()
}

/// The signal Linux sends for this exception (arch/x86/kernel/traps.c).
pub fn signal_for(m: &Machine, f: &Fault) -> i32 {
    match f.vector {
        0 | 16 | 19 => SIGFPE,
        1 | 3 => SIGTRAP,
        6 => {
            // On kvm_pvm `int n` raises #UD; Linux gives #GP -> SIGSEGV for
            // an `int n` whose gate ring 3 may not use.
            let code = code_at(m, f.regs.rip);
            if code.first() == Some(&0xcd) {
                SIGSEGV
            } else {
                SIGILL
            }
        }
        11 | 12 | 17 => SIGBUS,
        _ => SIGSEGV,
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "signal",
    }
}

fn vector_name(v: u8) -> &'static str {
    match v {
        0 => "divide error",
        1 => "debug trap",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range exceeded",
        6 => "invalid opcode",
        7 => "device not available",
        11 => "segment not present",
        12 => "stack-segment fault",
        13 => "general protection fault",
        14 => "page fault",
        16 => "x87 floating-point error",
        17 => "alignment check",
        19 => "SIMD floating-point error",
        _ => "exception",
    }
}

fn disassemble(code: &[u8], rip: u64) -> Option<String> {
    if code.is_empty() {
        return None;
    }
    let mut dec = Decoder::with_ip(64, code, rip, DecoderOptions::NONE);
    let insn = dec.decode();
    if insn.is_invalid() {
        let hex: Vec<String> = code.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Some(format!("(bytes {})", hex.join(" ")));
    }
    let mut out = String::new();
    GasFormatter::new().format(&insn, &mut out);
    Some(out)
}

/// One line for stderr.
pub fn signal_line(sig: i32, fault: Option<(&Machine, &Fault)>) -> String {
    let mut s = format!("guest killed by {}", signal_name(sig));
    if let Some((m, f)) = fault {
        s.push_str(&format!(" ({}", vector_name(f.vector)));
        if f.vector == 14 {
            let ec = f.error_code.unwrap_or(0);
            let access = if ec & 16 != 0 {
                "execute"
            } else if ec & 2 != 0 {
                "write"
            } else {
                "read"
            };
            let why = if ec & 1 != 0 {
                "protection"
            } else {
                "not mapped"
            };
            s.push_str(&format!(" on {access} at {:#x}, {why}", f.cr2));
        }
        s.push_str(&format!(") at rip={:#x}", f.regs.rip));
        if let Some(d) = disassemble(&code_at(m, f.regs.rip), f.regs.rip) {
            s.push_str(&format!(": {d}"));
        }
        log::debug!(
            "registers: rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x} rbp={:#x} rsp={:#x} r8={:#x} r9={:#x} r10={:#x} r11={:#x} r12={:#x} r13={:#x} r14={:#x} r15={:#x} rflags={:#x}",
            f.regs.rax, f.regs.rbx, f.regs.rcx, f.regs.rdx, f.regs.rsi, f.regs.rdi, f.regs.rbp,
            f.regs.rsp, f.regs.r8, f.regs.r9, f.regs.r10, f.regs.r11, f.regs.r12, f.regs.r13,
            f.regs.r14, f.regs.r15, f.regs.rflags
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disassembles_the_faulting_instruction() {
        // mov (%rax),%eax
        assert_eq!(
            disassemble(&[0x8b, 0x00], 0x1000).unwrap(),
            "mov (%rax),%eax"
        );
        assert_eq!(disassemble(&[0x0f, 0x0b], 0x1000).unwrap(), "ud2");
        assert_eq!(disassemble(&[], 0), None);
    }
}
