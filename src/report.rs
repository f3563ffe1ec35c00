//! What a fatal fault is called, and the one line that tells the user.

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter};
use kvm_bindings::kvm_regs;

use crate::kernel::signal::SigInfo;
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

/// The siginfo Linux's trap handlers give the signal of this exception
/// (arch/x86/kernel/traps.c, mm/fault.c): the code and, where Linux sets
/// one, the address.
pub fn siginfo_for(
    m: &Machine,
    vcpu: &crate::vm::Vcpu,
    mm: &crate::kernel::mm::Mm,
    f: &Fault,
) -> SigInfo {
    const SI_KERNEL: i32 = 0x80;
    let rip = f.regs.rip;
    match f.vector {
        0 => SigInfo::fault(SIGFPE, 1 /* FPE_INTDIV */, rip),
        16 | 19 => SigInfo::fault(SIGFPE, fp_code(vcpu, f.vector), rip),
        1 => SigInfo::fault(SIGTRAP, 2 /* TRAP_TRACE */, rip),
        3 => SigInfo::fault(SIGTRAP, SI_KERNEL, 0),
        6 => SigInfo::fault(SIGILL, 2 /* ILL_ILLOPN */, rip),
        11 | 12 => SigInfo::fault(SIGBUS, SI_KERNEL, 0),
        17 => SigInfo::fault(SIGBUS, 1 /* BUS_ADRALN */, 0),
        // A shared mapping's page past the end of its file: BUS_ADRERR.
        14 if mm.past_eof(m, f.cr2) => SigInfo::fault(SIGBUS, 2, f.cr2),
        14 => {
            // A VMA that covers the address but forbids the access is
            // SEGV_ACCERR; no VMA at all, SEGV_MAPERR.
            let code = if mm.find(f.cr2).is_some() { 2 } else { 1 };
            SigInfo::fault(SIGSEGV, code, f.cr2)
        }
        _ => SigInfo::fault(SIGSEGV, SI_KERNEL, 0),
    }
}

/// FPE_* of an x87 (#MF) or SIMD (#XM) exception: the first unmasked
/// exception flag, in Linux's order (fpu__exception_code).
fn fp_code(vcpu: &crate::vm::Vcpu, vector: u8) -> i32 {
    let Ok(x) = vcpu.xsave() else { return 0 };
    let word = |o: usize| u32::from(u16::from_le_bytes([x[o], x[o + 1]]));
    let err = if vector == 16 {
        word(2) & !word(0)
    } else {
        let mxcsr = u32::from_le_bytes([x[24], x[25], x[26], x[27]]);
        !(mxcsr >> 7) & mxcsr
    };
    if err & 0x001 != 0 {
        7 // FPE_FLTINV
    } else if err & 0x004 != 0 {
        3 // FPE_FLTDIV
    } else if err & 0x008 != 0 {
        4 // FPE_FLTOVF
    } else if err & 0x012 != 0 {
        5 // FPE_FLTUND
    } else if err & 0x020 != 0 {
        6 // FPE_FLTRES
    } else {
        0
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    const RT: [&str; 33] = [
        "SIGRTMIN", "SIGRT_1", "SIGRT_2", "SIGRT_3", "SIGRT_4", "SIGRT_5", "SIGRT_6", "SIGRT_7",
        "SIGRT_8", "SIGRT_9", "SIGRT_10", "SIGRT_11", "SIGRT_12", "SIGRT_13", "SIGRT_14",
        "SIGRT_15", "SIGRT_16", "SIGRT_17", "SIGRT_18", "SIGRT_19", "SIGRT_20", "SIGRT_21",
        "SIGRT_22", "SIGRT_23", "SIGRT_24", "SIGRT_25", "SIGRT_26", "SIGRT_27", "SIGRT_28",
        "SIGRT_29", "SIGRT_30", "SIGRT_31", "SIGRT_32",
    ];
    if let Some(n) = sig
        .checked_sub(32)
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| RT.get(i))
    {
        return n;
    }
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
        16 => "SIGSTKFLT",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        20 => "SIGTSTP",
        21 => "SIGTTIN",
        22 => "SIGTTOU",
        23 => "SIGURG",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        26 => "SIGVTALRM",
        27 => "SIGPROF",
        28 => "SIGWINCH",
        29 => "SIGIO",
        30 => "SIGPWR",
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
