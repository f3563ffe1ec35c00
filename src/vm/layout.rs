//! The guest's memory map, in one place.
//!
//! Guest-physical (GPA) memory is one region `[0, mem_size)`, backed lazily by
//! an anonymous host mapping. The first `KERNEL_RESERVED` bytes hold the
//! guest kernel; every other frame belongs to the frame allocator, which
//! hands them out for user pages and page tables.
//!
//! ```text
//!  GPA                                     GVA
//!  0x0000_0000 +----------------------+
//!              | (unused, never mapped)|
//!  0x0000_1000 | stub text (entry.S)  |    KERNEL_TEXT   0xffff_ffff_8000_0000  R-X S G
//!  0x0000_2000 | GDT 0x000 IDT 0x100  |    KERNEL_GDT    0xffff_ffff_8000_1000  RW- S G
//!              | TSS 0xf00            |
//!  0x0000_3000 | (unused)             |
//!  0x0000_4000 | RSP0 stack           |    ..._4000, guard page below         RW- S G
//!  0x0000_5000 | IST1 (#DF) stack     |    ..._6000
//!  0x0000_6000 | IST2 (NMI) stack     |    ..._8000
//!  0x0000_7000 | IST3 (#MC) stack     |    ..._a000
//!  0x0000_8000 | PML4                 |    (not mapped: the host edits page tables)
//!  0x0000_9000 | kernel PDPT, PD, PT  |
//!  0x0010_0000 +----------------------+  <- FRAME_POOL_START
//!              | frames: user pages,  |    user half 0x0000_0000_0001_0000 ..
//!              | user page tables     |    vDSO      0x0000_7fff_f000_0000 (2 pages)
//!              |                      |    stack top 0x0000_7fff_ffff_e000
//!              |                      |    USER_TOP  0x0000_7fff_ffff_f000
//!  mem_size    +----------------------+
//! ```
//!
//! The user half ends one page below the canonical boundary (like Linux's
//! `TASK_SIZE`), so a `syscall` at the last user byte can never leave a
//! non-canonical RCX for `sysretq`.

/// A guest-physical address.
pub type Gpa = u64;
/// A guest-virtual address.
pub type Gva = u64;

pub const PAGE_SIZE: u64 = 4096;
pub const PAGE_SHIFT: u32 = 12;

/// Base of the guest kernel's virtual mapping (PML4 slot 511, PDPT slot 510).
pub const KERNEL_BASE: Gva = 0xffff_ffff_8000_0000;

/// One kernel page: where it lives physically and virtually.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelPage {
    pub gpa: Gpa,
    pub gva: Gva,
    pub writable: bool,
    pub executable: bool,
}

pub const KERNEL_TEXT: KernelPage = KernelPage {
    gpa: 0x1000,
    gva: KERNEL_BASE,
    writable: false,
    executable: true,
};
pub const KERNEL_GDT: KernelPage = KernelPage {
    gpa: 0x2000,
    gva: KERNEL_BASE + 0x1000,
    writable: true,
    executable: false,
};
/// The IDT sits in the GDT page, at this offset: each vCPU has its own
/// (its #UD gate changes with the exitless gate, `Vcpu::set_gate`).
pub const IDT_OFFSET: u64 = 0x100;
/// The TSS sits in the GDT page, at this offset.
pub const TSS_OFFSET: u64 = 0xf00;
/// Stack for exceptions and interrupts from ring 3 (TSS.RSP0).
pub const STACK_RSP0: KernelPage = KernelPage {
    gpa: 0x4000,
    gva: KERNEL_BASE + 0x4000,
    writable: true,
    executable: false,
};
pub const STACK_IST_DF: KernelPage = KernelPage {
    gpa: 0x5000,
    gva: KERNEL_BASE + 0x6000,
    writable: true,
    executable: false,
};
pub const STACK_IST_NMI: KernelPage = KernelPage {
    gpa: 0x6000,
    gva: KERNEL_BASE + 0x8000,
    writable: true,
    executable: false,
};
pub const STACK_IST_MC: KernelPage = KernelPage {
    gpa: 0x7000,
    gva: KERNEL_BASE + 0xa000,
    writable: true,
    executable: false,
};

/// One vCPU's kernel pages: its GDT with its IDT and TSS in the same page, the
/// RSP0 stack that exceptions from ring 3 land on, and the three IST
/// stacks (#DF, NMI, #MC). vCPU 0 uses the boot pages below; every other
/// vCPU gets pool frames mapped at `cpu_area_gva(i)` (PROCESSES.md 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuArea {
    pub gdt: KernelPage,
    pub rsp0: KernelPage,
    pub ist: [KernelPage; 3],
}

impl CpuArea {
    /// vCPU 0's area: the boot pages.
    pub const BOOT: CpuArea = CpuArea {
        gdt: KERNEL_GDT,
        rsp0: STACK_RSP0,
        ist: [STACK_IST_DF, STACK_IST_NMI, STACK_IST_MC],
    };

    /// Top of the RSP0 stack (virtual and physical): exception frames from
    /// ring 3 are pushed just below.
    pub fn rsp0_top(&self) -> Gva {
        self.rsp0.gva + PAGE_SIZE
    }
    pub fn rsp0_top_gpa(&self) -> Gpa {
        self.rsp0.gpa + PAGE_SIZE
    }

    /// The TSS's virtual address (in the GDT page).
    pub fn tss(&self) -> Gva {
        self.gdt.gva + TSS_OFFSET
    }

    /// The IDT's virtual address (in the GDT page).
    pub fn idt(&self) -> Gva {
        self.gdt.gva + IDT_OFFSET
    }

    /// The pages, in mapping order.
    pub fn pages(&self) -> [KernelPage; 5] {
        [self.gdt, self.rsp0, self.ist[0], self.ist[1], self.ist[2]]
    }
}

/// Where vCPU areas past the first start: the second 2 MiB of the kernel
/// half, one 32 KiB slot each (GDT, guard, RSP0, guard, IST1, guard, IST2,
/// IST3), so every stack has an unmapped page below it but the last.
pub const CPU_AREAS: Gva = KERNEL_BASE + 0x20_0000;
pub const CPU_AREA_SLOT: u64 = 0x8000;
/// Offsets of the pages in a slot.
pub const CPU_AREA_OFFSETS: [u64; 5] = [0x0, 0x2000, 0x4000, 0x6000, 0x7000];
/// vCPUs a kernel half of one PD can hold (its 510 PTs past the first).
pub const MAX_VCPUS: usize = 1 + (510 * 0x20_0000 / CPU_AREA_SLOT) as usize;

/// The virtual address of vCPU `i`'s slot (`i >= 1`).
pub fn cpu_area_gva(i: usize) -> Gva {
    CPU_AREAS + (i as u64 - 1) * CPU_AREA_SLOT
}

/// The exitless syscall gate (guest/gate.S, issue 19): its code page,
/// below the frame pool, mapped user R+X at `gate_gva(i)` for vCPU `i` in
/// every address space that vCPU runs (PML4 slot 510, per address space),
/// with vCPU `i`'s request slot `guest_abi::SLOT_DELTA` above it.
pub const GATE_TEXT_GPA: Gpa = 0xc000;
pub const GATE_BASE: Gva = 0xffff_ff00_0000_0000;
/// vCPUs that can use the gate (one page table of gates); the others
/// keep LSTAR on the stub.
pub const MAX_GATED_VCPUS: usize = 512;

/// Where vCPU `i`'s copy of the gate is mapped (its LSTAR).
pub fn gate_gva(i: usize) -> Gva {
    GATE_BASE + i as u64 * PAGE_SIZE
}

/// Every kernel page, in the order the host maps them.
pub const KERNEL_PAGES: [KernelPage; 6] = [
    KERNEL_TEXT,
    KERNEL_GDT,
    STACK_RSP0,
    STACK_IST_DF,
    STACK_IST_NMI,
    STACK_IST_MC,
];

/// The top-level page table.
pub const PML4_GPA: Gpa = 0x8000;
/// Page-table frames for the kernel half.
pub const KERNEL_PDPT_GPA: Gpa = 0x9000;
pub const KERNEL_PD_GPA: Gpa = 0xa000;
pub const KERNEL_PT_GPA: Gpa = 0xb000;

/// Everything below this is the guest kernel's; frames above it are allocated.
pub const FRAME_POOL_START: Gpa = 0x10_0000;

/// Lowest user address a mapping may use (like Linux's `mmap_min_addr`).
pub const USER_MIN: Gva = 0x1_0000;
/// One past the highest user address (Linux's `TASK_SIZE` on 4-level paging).
pub const USER_TOP: Gva = 0x0000_7fff_ffff_f000;
/// Top of the initial stack (the page above stays unmapped).
pub const STACK_TOP: Gva = 0x0000_7fff_ffff_e000;
/// Where top-down `mmap` placement starts (leaves room for the stack limit).
pub const MMAP_BASE: Gva = 0x0000_7fff_f000_0000;
/// Where the vDSO is mapped (above the top-down mmap area, below the stack).
pub const VDSO_BASE: Gva = MMAP_BASE;
/// Linux's vsyscall page (`kernel::vsyscall`): never mapped, its entries
/// emulated.
pub const VSYSCALL_PAGE: Gva = 0xffff_ffff_ff60_0000;

/// The vsyscall page's entries: gettimeofday, time, getcpu.
pub const VSYSCALL_ENTRIES: [Gva; 3] =
    [VSYSCALL_PAGE, VSYSCALL_PAGE + 0x400, VSYSCALL_PAGE + 0x800];

/// Is `rip` one of the vsyscall page's entries (a place a program may be
/// about to fetch from, say in a signal frame)?
pub fn is_vsyscall_entry(rip: Gva) -> bool {
    VSYSCALL_ENTRIES.contains(&rip)
}

/// Load base of a static-pie (ET_DYN) program, as Linux's ELF_ET_DYN_BASE.
pub const PIE_BASE: Gva = 0x0000_5555_5555_4000;

/// Guest memory size the CLI uses when `--mem` is not given.
pub const DEFAULT_MEM_SIZE: u64 = 256 << 20;
/// Smallest `--mem` that leaves room for a program.
pub const MIN_MEM_SIZE: u64 = 4 << 20;

/// Segment selectors, in Linux's own GDT layout so programs see the values
/// they see natively (`__USER_CS` = 0x33, `__USER_DS` = 0x2b, `__USER32_CS` =
/// 0x23) and `sysretq` finds user SS at STAR.SYSRET+8 and CS at +16.
pub const KERNEL_CS: u16 = 0x10;
pub const KERNEL_DS: u16 = 0x18;
pub const USER32_CS: u16 = 0x23;
pub const USER_DS: u16 = 0x2b;
pub const USER_CS: u16 = 0x33;
pub const TSS_SEL: u16 = 0x40;

// The kernel's fixed frames lie below the frame pool.
const _: () = assert!(KERNEL_PT_GPA + PAGE_SIZE <= FRAME_POOL_START);
const _: () =
    assert!(GATE_TEXT_GPA > KERNEL_PT_GPA && GATE_TEXT_GPA + PAGE_SIZE <= FRAME_POOL_START);

/// Is `addr` a user-half address a mapping may cover?
pub fn is_user_range(addr: Gva, len: u64) -> bool {
    match addr.checked_add(len) {
        Some(end) => addr >= USER_MIN && end <= USER_TOP,
        None => false,
    }
}

/// Round down / up to a page boundary (`None` on overflow).
pub fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}
pub fn page_up(addr: u64) -> Option<u64> {
    Some(addr.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_pages_are_below_the_frame_pool_and_distinct() {
        for (i, a) in KERNEL_PAGES.iter().enumerate() {
            assert!(a.gpa + PAGE_SIZE <= PML4_GPA);
            assert!(a.gva >= KERNEL_BASE && a.gva < KERNEL_BASE + 0x20_0000);
            for b in &KERNEL_PAGES[i + 1..] {
                assert_ne!(a.gpa, b.gpa);
                assert_ne!(a.gva, b.gva);
            }
        }
    }

    #[test]
    fn user_range_checks_wrap_and_bounds() {
        assert!(is_user_range(0x40_0000, 0x1000));
        assert!(!is_user_range(0, 0x1000));
        assert!(!is_user_range(USER_TOP - 0x1000, 0x2000));
        assert!(!is_user_range(u64::MAX - 10, 100));
        assert!(!is_user_range(KERNEL_BASE, 1));
    }

    #[test]
    fn selectors_match_sysret_layout() {
        // STAR[63:48] = USER32_CS; sysretq loads SS = +8, CS = +16 (RPL 3).
        assert_eq!((USER32_CS & !3) + 8, USER_DS & !3);
        assert_eq!((USER32_CS & !3) + 16, USER_CS & !3);
        assert_eq!(KERNEL_CS + 8, KERNEL_DS);
    }
}
