//! GDT, TSS and IDT, and the KVM segment registers that match them.
//!
//! The descriptors are built once as 64-bit words; the `kvm_segment`s handed
//! to KVM are decoded from the very same words, so the two cannot disagree.

use kvm_bindings::{kvm_dtable, kvm_segment};

use super::layout::{
    CpuArea, Gva, IDT_OFFSET, KERNEL_CS, KERNEL_DS, PAGE_SIZE, TSS_OFFSET, TSS_SEL, USER32_CS,
    USER_CS, USER_DS,
};
use crate::guest_abi;

/// A code/data segment descriptor from access byte and flags nibble
/// (flat: base 0, limit 0xfffff pages).
const fn segment(access: u8, flags: u8) -> u64 {
    let limit: u64 = 0xfffff;
    (limit & 0xffff)
        | ((access as u64) << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((flags as u64) & 0xf) << 52)
}

// Access bytes: P | DPL | S | type (accessed bit preset so the CPU never
// writes the GDT).
const ACC_KCODE: u8 = 0x9b;
const ACC_KDATA: u8 = 0x93;
const ACC_UCODE: u8 = 0xfb;
const ACC_UDATA: u8 = 0xf3;
// Flags: G | D/B | L.
const FL_LONG: u8 = 0xa;
const FL_32: u8 = 0xc;

/// Size of the 64-bit TSS (Intel SDM 8.7).
pub const TSS_SIZE: usize = 104;
/// The I/O permission bitmap after it: ports 0..=0xff, every bit set
/// (closed), and the byte of ones the CPU may read past the last. Ports
/// above 0xff lie past the limit (closed too). The doorbell port's bit is
/// cleared while the doorbell transport is on (`Vcpu::set_gate`).
const IOMAP_LEN: usize = 256 / 8 + 1;
/// The TSS with its bitmap: what the limit covers.
pub const TSS_LEN: usize = TSS_SIZE + IOMAP_LEN;
/// Number of GDT slots (the TSS takes two).
pub const GDT_ENTRIES: usize = 10;

/// The GDT as Linux lays it out (selector / 8 = index), with the TSS
/// descriptor of `area`'s TSS.
pub fn gdt_entries(area: &CpuArea) -> [u64; GDT_ENTRIES] {
    let mut gdt = [0u64; GDT_ENTRIES];
    gdt[1] = segment(ACC_KCODE, FL_32); // 0x08: kernel 32-bit code, unused
    gdt[usize::from(KERNEL_CS >> 3)] = segment(ACC_KCODE, FL_LONG);
    gdt[usize::from(KERNEL_DS >> 3)] = segment(ACC_KDATA, FL_32);
    gdt[usize::from(USER32_CS >> 3)] = segment(ACC_UCODE, FL_32);
    gdt[usize::from(USER_DS >> 3)] = segment(ACC_UDATA, FL_32);
    gdt[usize::from(USER_CS >> 3)] = segment(ACC_UCODE, FL_LONG);
    let (lo, hi) = tss_descriptor(area.tss(), (TSS_LEN - 1) as u32);
    gdt[usize::from(TSS_SEL >> 3)] = lo;
    gdt[usize::from(TSS_SEL >> 3) + 1] = hi;
    gdt
}

/// A 16-byte system descriptor for a busy 64-bit TSS.
fn tss_descriptor(base: u64, limit: u32) -> (u64, u64) {
    let limit = u64::from(limit);
    let lo = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x8bu64 << 40) // P, type 0xb (busy 64-bit TSS)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    (lo, base >> 32)
}

/// Decode a code/data descriptor into the segment register KVM loads.
pub fn kvm_segment_from(desc: u64, selector: u16) -> kvm_segment {
    let access = (desc >> 40) as u8;
    let flags = ((desc >> 52) & 0xf) as u8;
    let limit = ((desc & 0xffff) | (((desc >> 48) & 0xf) << 16)) as u32;
    let g = flags >> 3 & 1;
    kvm_segment {
        base: 0,
        limit: if g == 1 { (limit << 12) | 0xfff } else { limit },
        selector,
        type_: access & 0xf,
        present: access >> 7,
        dpl: (access >> 5) & 3,
        db: (flags >> 2) & 1,
        s: (access >> 4) & 1,
        l: (flags >> 1) & 1,
        g,
        avl: flags & 1,
        unusable: 0,
        padding: 0,
    }
}

/// A null data segment (DS/ES/FS/GS in 64-bit user mode, as Linux starts a
/// program).
pub fn null_segment() -> kvm_segment {
    kvm_segment {
        unusable: 1,
        ..Default::default()
    }
}

pub fn tr_segment(area: &CpuArea) -> kvm_segment {
    kvm_segment {
        base: area.tss(),
        limit: (TSS_LEN - 1) as u32,
        selector: TSS_SEL,
        type_: 0xb,
        present: 1,
        ..Default::default()
    }
}

pub fn gdt_table(area: &CpuArea) -> kvm_dtable {
    kvm_dtable {
        base: area.gdt.gva,
        limit: (GDT_ENTRIES * 8 - 1) as u16,
        ..Default::default()
    }
}

/// Vectors 0..=0x80 have IDT entries; the IDT's limit ends there, so
/// `int n` for a higher vector is a #GP, as on Linux (whose entries past
/// 0x80 are present but DPL 0).
pub const IDT_LEN: usize = 0x81 * 16;
const _: () = assert!(IDT_OFFSET as usize >= GDT_ENTRIES * 8);
const _: () = assert!(IDT_OFFSET as usize + IDT_LEN <= TSS_OFFSET as usize);
const _: () = assert!(TSS_OFFSET as usize + TSS_LEN <= PAGE_SIZE as usize);

pub fn idt_table(area: &CpuArea) -> kvm_dtable {
    kvm_dtable {
        base: area.idt(),
        limit: (IDT_LEN - 1) as u16,
        ..Default::default()
    }
}

/// The TSS image: RSP0 and IST stacks, and an I/O bitmap that closes every
/// port to ring 3 (the hypercall port included).
pub fn tss_bytes(area: &CpuArea) -> [u8; TSS_LEN] {
    let mut tss = [0u8; TSS_LEN];
    let mut put = |off: usize, v: u64| tss[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(4, area.rsp0_top());
    put(36, area.ist[0].gva + PAGE_SIZE); // IST1 (#DF)
    put(44, area.ist[1].gva + PAGE_SIZE); // IST2 (NMI)
    put(52, area.ist[2].gva + PAGE_SIZE); // IST3 (#MC)
                                          // IST4 (#UD in ring 3) is set while the exitless gate is on (`ud_gate`).
    tss[102..104].copy_from_slice(&(TSS_SIZE as u16).to_le_bytes());
    tss[TSS_SIZE..].fill(0xff);
    tss
}

/// Where in the TSS the doorbell port's bits are, and the bits: clear them
/// to let ring 3 `outl` to that port (an ioeventfd; the hypercall port
/// stays closed). A 4-byte access needs the bits of its 4 ports.
pub fn doorbell_bit() -> (u64, u8) {
    let port = guest_abi::gate::DOORBELL_PORT;
    ((TSS_SIZE as u64) + port / 8, 0xf << (port % 8))
}
/// The ports the doorbell opens.
pub fn is_doorbell_port(port: u16) -> bool {
    (guest_abi::gate::DOORBELL_PORT..guest_abi::gate::DOORBELL_PORT + 4).contains(&u64::from(port))
}
const _: () = assert!(guest_abi::gate::DOORBELL_PORT % 4 == 0);
const _: () = assert!(guest_abi::gate::DOORBELL_PORT < 256);
const _: () = assert!(guest_abi::gate::DOORBELL_PORT != guest_abi::HC_PORT as u64);

/// IST index for a vector (0 = no stack switch beyond RSP0).
fn ist_for(vector: u8) -> u8 {
    match vector {
        8 => 1,  // #DF
        2 => 2,  // NMI
        18 => 3, // #MC
        _ => 0,
    }
}

/// Ring 3 may raise these with `int n` (Linux: int3, into, int 0x80).
fn user_callable(vector: u8) -> bool {
    matches!(vector, 3 | 4 | 0x80)
}

/// One 16-byte IDT gate descriptor.
fn gate_descriptor(handler: Gva, selector: u16, ist: u8, attr: u8) -> [u8; 16] {
    let mut gate = [0u8; 16];
    gate[0..2].copy_from_slice(&(handler as u16).to_le_bytes());
    gate[2..4].copy_from_slice(&selector.to_le_bytes());
    gate[4] = ist;
    gate[5] = attr;
    gate[6..8].copy_from_slice(&((handler >> 16) as u16).to_le_bytes());
    gate[8..12].copy_from_slice(&((handler >> 32) as u32).to_le_bytes());
    gate
}

/// The stub's gate for `vector` (slot `slot` of the stub's vector table).
fn stub_gate(slot: usize, vector: u8) -> [u8; 16] {
    let dpl: u8 = if user_callable(vector) { 3 } else { 0 };
    let attr: u8 = 0x80 | (dpl << 5) | 0xe; // P, DPL, 64-bit interrupt gate
    gate_descriptor(
        guest_abi::vector_entry(slot),
        KERNEL_CS,
        ist_for(vector),
        attr,
    )
}

/// The IDT image: 64-bit interrupt gates for vectors 0..31 and 0x80, each
/// pointing at its stub entry; vectors 32..0x7f not present.
pub fn idt_bytes() -> [u8; IDT_LEN] {
    let mut idt = [0u8; IDT_LEN];
    for (slot, vector) in guest_abi::GATE_VECTORS.iter().enumerate() {
        let off = usize::from(*vector) * 16;
        idt[off..off + 16].copy_from_slice(&stub_gate(slot, *vector));
    }
    idt
}

/// #UD's vector and the TSS field of its ring-3 stack (IST4).
pub const UD_VECTOR: u8 = 6;
pub const TSS_IST4: u64 = 60;
const UD_IST: u8 = 4;

/// #UD's gate: to the stub (`None`), or while the exitless gate is on, to
/// its ring-3 handler at `handler` (`Some`), a trap gate (IF stays as the
/// program had it) into the user code segment on IST4, which then points
/// at a stack in the vCPU's request slot. kvm_pvm delivers it at CPL 3
/// with no exit (PLATFORM.md "Ring-3 exception handlers"); on hardware it
/// is never installed (the gate is not used there).
pub fn ud_gate(handler: Option<Gva>) -> [u8; 16] {
    match handler {
        // P, DPL 0 (`int 6` from ring 3 stays a #GP), 64-bit trap gate.
        Some(h) => gate_descriptor(h, USER_CS, UD_IST, 0x8f),
        None => {
            let slot = guest_abi::GATE_VECTORS
                .iter()
                .position(|&v| v == UD_VECTOR)
                .unwrap_or(usize::from(UD_VECTOR));
            stub_gate(slot, UD_VECTOR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_decode_to_the_expected_segments() {
        let gdt = gdt_entries(&CpuArea::BOOT);
        let cs = kvm_segment_from(gdt[usize::from(USER_CS >> 3)], USER_CS);
        assert_eq!(
            (cs.l, cs.db, cs.dpl, cs.present, cs.s, cs.type_),
            (1, 0, 3, 1, 1, 0xb)
        );
        let ks = kvm_segment_from(gdt[usize::from(KERNEL_CS >> 3)], KERNEL_CS);
        assert_eq!((ks.l, ks.dpl), (1, 0));
        let ds = kvm_segment_from(gdt[usize::from(USER_DS >> 3)], USER_DS);
        assert_eq!((ds.db, ds.dpl, ds.type_, ds.limit), (1, 3, 3, 0xffff_ffff));
        // Well-known values: Linux's __USER_CS descriptor.
        assert_eq!(gdt[usize::from(USER_CS >> 3)], 0x00af_fb00_0000_ffff);
    }

    #[test]
    fn tss_closes_the_io_map() {
        let area = CpuArea::BOOT;
        let tss = tss_bytes(&area);
        let iomap = usize::from(u16::from_le_bytes([tss[102], tss[103]]));
        assert_eq!(iomap, TSS_SIZE);
        assert!(tss[iomap..].iter().all(|&b| b == 0xff), "every port closed");
        assert_eq!(
            TSS_LEN,
            iomap + 256 / 8 + 1,
            "ports above 0xff past the limit"
        );
        let (off, bit) = doorbell_bit();
        let hc = guest_abi::HC_PORT;
        assert!(!is_doorbell_port(hc));
        assert!(off as usize != TSS_SIZE + usize::from(hc) / 8 || bit & 1 << (hc % 8) == 0);
        let (lo, hi) = tss_descriptor(area.tss(), (TSS_LEN - 1) as u32);
        assert_eq!(lo & 0xffff, (TSS_LEN - 1) as u64);
        assert_eq!(hi, area.tss() >> 32);
    }

    #[test]
    fn idt_has_dpl3_only_where_linux_has_it() {
        let idt = idt_bytes();
        let attr = |v: usize| idt[v * 16 + 5];
        assert_eq!(attr(0x80), 0xee);
        assert_eq!(attr(3), 0xee);
        assert_eq!(attr(14), 0x8e);
        assert_eq!(attr(13), 0x8e);
        assert_eq!(idt.len(), 0x81 * 16, "the IDT ends after 0x80");
        assert_eq!(attr(0x7f), 0, "unused vectors are not present");
        assert_eq!(ud_gate(None), idt[6 * 16..7 * 16], "#UD to the stub");
        let ring3 = ud_gate(Some(0xffff_ff00_0000_1234));
        assert_eq!(
            (ring3[2], ring3[4], ring3[5]),
            (USER_CS as u8, UD_IST, 0x8f)
        );
        assert_eq!(idt[8 * 16 + 4], 1, "#DF on IST1");
    }
}
