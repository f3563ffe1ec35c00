//! GDT, TSS and IDT, and the KVM segment registers that match them.
//!
//! The descriptors are built once as 64-bit words; the `kvm_segment`s handed
//! to KVM are decoded from the very same words, so the two cannot disagree.

use kvm_bindings::{kvm_dtable, kvm_segment};

use super::layout::{
    CpuArea, KERNEL_CS, KERNEL_DS, KERNEL_IDT, PAGE_SIZE, TSS_SEL, USER32_CS, USER_CS, USER_DS,
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
    let (lo, hi) = tss_descriptor(area.tss(), (TSS_SIZE - 1) as u32);
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
        limit: (TSS_SIZE - 1) as u32,
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

pub fn idt_table() -> kvm_dtable {
    kvm_dtable {
        base: KERNEL_IDT.gva,
        limit: (256 * 16 - 1) as u16,
        ..Default::default()
    }
}

/// The TSS image: RSP0 and IST stacks, and an I/O map base past the limit so
/// ring 3 has no I/O port at all (the hypercall port included).
pub fn tss_bytes(area: &CpuArea) -> [u8; TSS_SIZE] {
    let mut tss = [0u8; TSS_SIZE];
    let mut put = |off: usize, v: u64| tss[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(4, area.rsp0_top());
    put(36, area.ist[0].gva + PAGE_SIZE); // IST1 (#DF)
    put(44, area.ist[1].gva + PAGE_SIZE); // IST2 (NMI)
    put(52, area.ist[2].gva + PAGE_SIZE); // IST3 (#MC)
    tss[102..104].copy_from_slice(&(TSS_SIZE as u16).to_le_bytes());
    tss
}

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

/// The IDT image: 64-bit interrupt gates for vectors 0..31 and 0x80, each
/// pointing at its stub entry; everything else not present (#GP).
pub fn idt_bytes() -> [u8; 4096] {
    let mut idt = [0u8; 4096];
    for (slot, vector) in guest_abi::GATE_VECTORS.iter().enumerate() {
        let handler = guest_abi::vector_entry(slot);
        let dpl: u8 = if user_callable(*vector) { 3 } else { 0 };
        let attr: u8 = 0x80 | (dpl << 5) | 0xe; // P, DPL, 64-bit interrupt gate
        let off = usize::from(*vector) * 16;
        let gate = &mut idt[off..off + 16];
        gate[0..2].copy_from_slice(&(handler as u16).to_le_bytes());
        gate[2..4].copy_from_slice(&KERNEL_CS.to_le_bytes());
        gate[4] = ist_for(*vector);
        gate[5] = attr;
        gate[6..8].copy_from_slice(&((handler >> 16) as u16).to_le_bytes());
        gate[8..12].copy_from_slice(&((handler >> 32) as u32).to_le_bytes());
    }
    idt
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
        let iomap = u16::from_le_bytes([tss[102], tss[103]]);
        assert!(
            usize::from(iomap) > TSS_SIZE - 1,
            "I/O map base must lie past the TSS limit"
        );
        let (lo, hi) = tss_descriptor(area.tss(), (TSS_SIZE - 1) as u32);
        assert_eq!(lo & 0xffff, (TSS_SIZE - 1) as u64);
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
        assert_eq!(attr(0x81), 0, "unused vectors are not present");
        assert_eq!(idt[8 * 16 + 4], 1, "#DF on IST1");
    }
}
