//! The ABI between the guest kernel stub (guest/entry.S) and the host.
//!
//! Every constant here comes from the assembly itself (build.rs reads its
//! symbols), so the two sides cannot drift; the tests below check the
//! assumptions the host makes about the stub's machine code.

use crate::vm::layout::{Gva, KERNEL_TEXT};

#[allow(dead_code)] // every stub symbol is exported; not all are used
mod sym {
    include!(concat!(env!("OUT_DIR"), "/stub_symbols.rs"));
}

/// The stub's machine code, mapped at `KERNEL_TEXT`.
pub static STUB_TEXT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/stub.bin"));

pub const ABI_VERSION: u64 = sym::ABI_VERSION;
/// The I/O port of the hypercall (`out %al, $HC_PORT`).
pub const HC_PORT: u16 = sym::HC_PORT as u16;
// `out %al, $imm8` needs an 8-bit port.
const _: () = assert!(sym::HC_PORT > 0 && sym::HC_PORT < 256);
/// Length of `out %al, $imm8`.
const OUT_LEN: u64 = 2;
const VECTOR_STRIDE: u64 = sym::VECTOR_STRIDE;

/// Vectors with an IDT gate, in the order of the stub's vector table.
pub const GATE_VECTORS: [u8; 33] = {
    let mut v = [0u8; 33];
    let mut i = 0;
    while i < 32 {
        v[i] = i as u8;
        i += 1;
    }
    v[32] = 0x80;
    v
};

/// LSTAR: the `syscall` entry.
pub const SYSCALL_ENTRY: Gva = KERNEL_TEXT.gva + sym::SYSCALL_ENTRY;
/// RIP after the hypercall of the `syscall` path (the `sysretq`).
pub const SYSCALL_HYPERCALL_RET: Gva = KERNEL_TEXT.gva + sym::SYSCALL_HYPERCALL_RET;
/// Plain `iretq` from a frame at RSP.
pub const IRET_RETURN: Gva = KERNEL_TEXT.gva + sym::IRET_RETURN;
/// CR3 reload, `pop %rax`, `iretq`.
pub const FLUSH_IRET_RETURN: Gva = KERNEL_TEXT.gva + sym::FLUSH_IRET_RETURN;

/// Entry point of the gate in slot `slot` of `GATE_VECTORS`.
pub const fn vector_entry(slot: usize) -> Gva {
    KERNEL_TEXT.gva + sym::VECTORS + slot as u64 * VECTOR_STRIDE
}

/// Where the vCPU stopped for a hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HypercallSite {
    /// The `syscall` instruction reached LSTAR at CPL 0 (hardware KVM).
    Syscall,
    /// An IDT gate: vector number.
    Vector(u8),
}

/// Identify a hypercall by the RIP KVM reports at the I/O exit; `None` for
/// any RIP that is not one of the stub's hypercall instructions.
///
/// Hardware KVM reports the RIP of the `out` itself (it advances RIP when the
/// next KVM_RUN completes the I/O, and not at all if userspace moved RIP,
/// which kvmcage always does); kvm_pvm, which emulates CPL 0, reports the RIP
/// after it. Both, and only those two, are accepted for each site.
pub fn hypercall_site(rip: Gva) -> Option<HypercallSite> {
    if rip == SYSCALL_ENTRY || rip == SYSCALL_HYPERCALL_RET {
        return Some(HypercallSite::Syscall);
    }
    let off = rip.checked_sub(vector_entry(0))?;
    if off % VECTOR_STRIDE != 0 && off % VECTOR_STRIDE != OUT_LEN {
        return None;
    }
    let slot = usize::try_from(off / VECTOR_STRIDE).ok()?;
    GATE_VECTORS.get(slot).map(|v| HypercallSite::Vector(*v))
}

/// The exitless gate's symbols (guest/gate.S).
#[allow(dead_code)]
mod gate_sym {
    include!(concat!(env!("OUT_DIR"), "/gate_symbols.rs"));
}

/// The gate's machine code, one page mapped user R+X per vCPU.
pub static GATE_TEXT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gate.bin"));

/// Offsets in the gate's page: its entry (LSTAR), the store that
/// publishes a request, the return with a result, the end of its code,
/// and the word that holds the stub's LSTAR (its exit path).
pub mod gate {
    use super::gate_sym as s;
    pub const ENTRY: u64 = s::GATE_ENTRY;
    pub const PUBLISH: u64 = s::GATE_PUBLISH;
    pub const DONE: u64 = s::GATE_DONE;
    pub const END: u64 = s::GATE_END;
    /// The ring-3 #UD handler (`int 0x80` on kvm_pvm): its entry, where it
    /// has saved the program's registers, where it publishes, and where
    /// it returns with a result.
    pub const UD_ENTRY: u64 = s::UD_ENTRY;
    pub const UD_SAVED: u64 = s::UD_SAVED;
    pub const UD_PUBLISH: u64 = s::UD_PUBLISH;
    pub const UD_DONE: u64 = s::UD_DONE;
    pub const STUB_ENTRY: u64 = s::GATE_STUB_ENTRY;
    /// The request slot is this far above the gate's page.
    pub const SLOT_DELTA: u64 = s::SLOT_DELTA;
    /// Fields of the slot.
    pub const S_STATE: u64 = s::S_STATE;
    pub const S_AWAKE: u64 = s::S_AWAKE;
    pub const S_RAX: u64 = s::S_RAX;
    pub const S_RCX: u64 = s::S_RCX;
    /// The second argument's field, which holds RCX for a #UD.
    pub const S_RSI: u64 = s::S_RSI;
    pub const S_R11: u64 = s::S_R11;
    pub const S_RET: u64 = s::S_RET;
    pub const S_RSP: u64 = s::S_RSP;
    /// 0: a `syscall`; 1: a #UD with the i386 registers in the fields of
    /// RAX and the six arguments.
    pub const S_KIND: u64 = s::S_KIND;
    pub const KIND_UD: u32 = 1;
    /// Top of the #UD handler's stack (TSS IST4) and the frame the CPU
    /// pushes below it: RIP, CS, RFLAGS, RSP, SS.
    pub const UD_STACK_TOP: u64 = s::UD_STACK_TOP;
    pub const S_FRAME: u64 = s::S_FRAME;
    /// Rounds of `pause` the gate waits for an unclaimed request, and
    /// for one whose doorbell it rang.
    pub const SPIN: u64 = s::SPIN;
    pub const SPIN_BELL: u64 = s::SPIN_BELL;
    /// The doorbell's datamatch in the slot (0: none) and its port.
    pub const S_BELL: u64 = s::S_BELL;
    pub const DOORBELL_PORT: u64 = s::DOORBELL_PORT;
    /// RAX of the gate's exit path for a call the host already made.
    pub const RESUME_NR: u64 = s::RESUME_NR;
    /// The states of the slot's first word.
    pub const IDLE: u32 = 0;
    pub const REQUEST: u32 = 1;
    pub const CLAIMED: u32 = 2;
    pub const DONE_STATE: u32 = 3;
    pub const EXIT: u32 = 4;
    pub const RESUME: u32 = 5;
    /// The #UD handler's exit path (that state, and that RAX): the host
    /// takes the #UD.
    pub const UD_EXIT: u32 = s::UD_EXIT as u32;
    pub const UD_EXIT_NR: u64 = s::UD_EXIT_NR;
}

// The gate's layout as the host assumes it: the stub's address in its
// page, the regions in order, the slot's fields below its popfq stack, a
// resume number no syscall has, the slot within RIP-relative reach.
const _: () = {
    assert!(gate::STUB_ENTRY + 8 <= 4096 && gate::STUB_ENTRY % 8 == 0);
    assert!(gate::ENTRY == 0 && gate::PUBLISH < gate::DONE && gate::DONE < gate::UD_ENTRY);
    assert!(gate::UD_ENTRY < gate::UD_SAVED && gate::UD_SAVED < gate::UD_PUBLISH);
    assert!(gate::UD_PUBLISH < gate::UD_DONE && gate::UD_DONE < gate::END);
    assert!(gate::S_KIND + 16 <= gate::S_BELL && gate::S_BELL + 4 <= gate::S_FRAME - 64);
    assert!(gate::UD_STACK_TOP % 16 == 0 && gate::UD_STACK_TOP + 64 <= 4096 - 64);
    assert!(gate::S_FRAME + 40 == gate::UD_STACK_TOP);
    assert!(gate::RESUME_NR > 1024 && gate::UD_EXIT_NR > 1024);
    assert!(gate::RESUME_NR != gate::UD_EXIT_NR);
    assert!(gate::SLOT_DELTA < (1 << 31) - 4096);
};

#[cfg(test)]
mod tests {
    use super::*;

    fn code_at(gva: Gva) -> &'static [u8] {
        let off = (gva - KERNEL_TEXT.gva) as usize;
        &STUB_TEXT[off..]
    }

    #[test]
    fn stub_fits_its_page_and_version_is_known() {
        assert!(STUB_TEXT.len() <= 4096);
        assert_eq!(ABI_VERSION, 1);
    }

    #[test]
    fn entries_hold_the_instructions_the_host_assumes() {
        let out = [0xe6, HC_PORT as u8]; // out %al, $imm8
        assert_eq!(&code_at(SYSCALL_ENTRY)[..2], &out);
        assert_eq!(&code_at(SYSCALL_HYPERCALL_RET)[..3], &[0x48, 0x0f, 0x07]); // sysretq
        assert_eq!(&code_at(IRET_RETURN)[..2], &[0x48, 0xcf]); // iretq
        for slot in 0..GATE_VECTORS.len() {
            let code = code_at(vector_entry(slot));
            assert_eq!(&code[..2], &out, "slot {slot}");
            assert_eq!(&code[2..4], &[0x48, 0xcf], "slot {slot}");
        }
    }

    #[test]
    fn hypercall_sites_decode_exactly() {
        assert_eq!(
            hypercall_site(SYSCALL_HYPERCALL_RET),
            Some(HypercallSite::Syscall)
        );
        assert_eq!(
            hypercall_site(vector_entry(14) + 2),
            Some(HypercallSite::Vector(14))
        );
        assert_eq!(
            hypercall_site(vector_entry(32) + 2),
            Some(HypercallSite::Vector(0x80))
        );
        assert_eq!(hypercall_site(vector_entry(14) + 3), None);
        assert_eq!(hypercall_site(vector_entry(14) + 1), None);
        assert_eq!(hypercall_site(vector_entry(33) + 2), None);
        assert_eq!(hypercall_site(0), None);
    }

    #[test]
    fn gate_fits_its_page() {
        assert!(GATE_TEXT.len() as u64 <= gate::STUB_ENTRY + 8);
    }
}
