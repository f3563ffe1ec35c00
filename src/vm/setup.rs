//! Building a machine: KVM objects, guest kernel structures, vCPU state.

use kvm_bindings::{
    kvm_fpu, kvm_msr_entry, kvm_userspace_memory_region, kvm_xcrs, Msrs, KVM_MAX_CPUID_ENTRIES,
};
use kvm_ioctls::{Cap, Kvm, SyncReg};

use super::gdt;
use std::sync::Arc;

use kvm_ioctls::{VcpuFd, VmFd};

use super::layout::{
    self, CpuArea, KernelPage, IDT_OFFSET, KERNEL_CS, KERNEL_DS, KERNEL_GDT, KERNEL_PAGES,
    KERNEL_PDPT_GPA, KERNEL_PD_GPA, KERNEL_PT_GPA, KERNEL_TEXT, PAGE_SIZE, PML4_GPA, TSS_OFFSET,
    USER32_CS,
};
use super::memory::{FrameAllocator, GuestRam};
use super::paging::{pte, PageTables};
use super::{ioctl, xsave_bytes, Backend, EntryMode, Kvmfds, Machine, Vcpu, VmError, XSAVE_AREA};
use crate::guest_abi;

pub const MSR_STAR: u32 = 0xc000_0081;
pub const MSR_LSTAR: u32 = 0xc000_0082;
pub const MSR_CSTAR: u32 = 0xc000_0083;
pub const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
pub const MSR_TSC_AUX: u32 = 0xc000_0103;

/// RFLAGS bits `syscall` clears, as Linux sets SFMASK: everything but the
/// reserved bit 1 that matters (CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID).
pub const SYSCALL_MASK: u64 = 0x0025_7fd5;

const CR0_PE: u64 = 1 << 0;
const CR0_MP: u64 = 1 << 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5;
const CR0_WP: u64 = 1 << 16;
const CR0_AM: u64 = 1 << 18;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_PGE: u64 = 1 << 7;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_FSGSBASE: u64 = 1 << 16;
const CR4_OSXSAVE: u64 = 1 << 18;
const EFER_SCE: u64 = 1 << 0;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;

/// XSAVE state components user programs may use: x87, SSE, AVX, and the
/// three AVX-512 components together. (PKRU and AMX need OS support that
/// kvmcage does not give.)
const XCR0_ALLOWED: u64 = 0x7 | 0xe0;

/// How every vCPU of a machine is set up: the same CPUID, control
/// registers, MSRs and XCR0; only the kernel area (GDT, TSS) and TSC_AUX
/// differ.
pub(super) struct VcpuTemplate {
    cpuid: kvm_bindings::CpuId,
    /// Control registers and EFER (segments are set per vCPU).
    cr4: u64,
    xcr0: Option<u64>,
    pub sync_regs: bool,
}

pub(super) fn build(mem_size: u64, mode: EntryMode) -> Result<(Machine, Vcpu), VmError> {
    let kvm = Kvm::new().map_err(VmError::OpenKvm)?;
    let api = kvm.get_api_version();
    if api != 12 {
        return Err(VmError::ApiVersion(api));
    }
    let vm = kvm.create_vm().map_err(ioctl("KVM_CREATE_VM"))?;
    // Only needed by VMX for real-mode emulation; harmless elsewhere, and
    // refused by some backends.
    let _ = vm.set_tss_address(0xfffb_d000);

    let ram = GuestRam::new(mem_size)?;
    let host_base = ram
        .host_base()
        .ok_or_else(|| VmError::Setup("no host address for guest RAM".into()))?;
    let region = kvm_userspace_memory_region {
        slot: 0,
        flags: 0,
        guest_phys_addr: 0,
        memory_size: ram.size(),
        userspace_addr: host_base,
    };
    // SAFETY: the region is vm-memory's mapping of exactly `ram.size()`
    // bytes, which lives as long as `ram`, which the Machine owns together
    // with the VM (fields drop in declaration order: the VM first); a
    // vCPU's clone of `ram` keeps the mapping alive at least as long.
    unsafe { vm.set_user_memory_region(region) }.map_err(ioctl("KVM_SET_USER_MEMORY_REGION"))?;

    write_kernel(&ram)?;
    let frames = FrameAllocator::new(ram.size()).with_huge_runs(&ram);
    let pt = PageTables::new(PML4_GPA);
    map_kernel(&ram)?;

    let mut cpuid = kvm
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(ioctl("KVM_GET_SUPPORTED_CPUID"))?;
    // kvm_pvm reports the XSAVE components it can switch (CPUID.0xD.0:
    // x87, SSE, AVX...) but hides XSAVE and AVX in leaf 1, while the
    // program's ring-3 code runs on the real CPU and sees (and uses) AVX.
    // Without XSAVE in the guest's CPUID, KVM keeps only the x87/SSE part
    // of the guest's state: the upper halves of the YMM registers would be
    // lost at every exit, and a signal frame could not save them. Tell KVM
    // what the CPU really runs (PLATFORM.md).
    let enabled_xsave = cpuid
        .as_slice()
        .iter()
        .any(|e| e.function == 0xd && e.index == 0 && e.eax & 0x4 != 0);
    if enabled_xsave && Backend::detect() == Backend::KvmPvm {
        let host1 = std::arch::x86_64::__cpuid(1);
        for e in cpuid.as_mut_slice() {
            if e.function == 1 && e.index == 0 {
                e.ecx |= host1.ecx & ((1 << 26) | (1 << 28));
            }
        }
    }
    let has = |leaf: u32, sub: u32, f: fn(&kvm_bindings::kvm_cpuid_entry2) -> bool| {
        cpuid
            .as_slice()
            .iter()
            .any(|e| e.function == leaf && e.index == sub && f(e))
    };
    let xsave = has(1, 0, |e| e.ecx & (1 << 26) != 0);
    let fsgsbase = has(7, 0, |e| e.ebx & 1 != 0);
    let xcr0_supported = cpuid
        .as_slice()
        .iter()
        .find(|e| e.function == 0xd && e.index == 0)
        .map(|e| u64::from(e.eax) | (u64::from(e.edx) << 32))
        .unwrap_or(0x3);
    let mut cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    if xsave {
        cr4 |= CR4_OSXSAVE;
    }
    if fsgsbase {
        cr4 |= CR4_FSGSBASE;
    }
    let mut xfeatures = 0x3u64;
    let xcr0 = (xsave && kvm.check_extension(Cap::Xcrs)).then(|| {
        let mut xcr0 = xcr0_supported & XCR0_ALLOWED;
        if xcr0 & 0xe0 != 0xe0 {
            xcr0 &= !0xe0;
        }
        xfeatures = xcr0 | 0x3;
        xfeatures
    });
    // The size of an XSAVE image of the enabled components (standard
    // format), as CPUID.0xD.i gives each component's offset and size: what
    // Linux's signal frame reserves (fpu_user_cfg.max_size).
    let xstate_size = cpuid
        .as_slice()
        .iter()
        .filter(|e| e.function == 0xd && (2..64).contains(&e.index))
        .filter(|e| xfeatures & (1u64 << e.index) != 0)
        .map(|e| (e.ebx + e.eax) as usize)
        .fold(512 + 64, usize::max);
    if xstate_size > XSAVE_AREA {
        return Err(VmError::Setup(format!(
            "XSAVE image of {xstate_size} bytes does not fit KVM_GET_XSAVE"
        )));
    }
    let sync_bits = kvm.check_extension_raw(kvm_bindings::KVM_CAP_SYNC_REGS.into());
    let sync_regs = sync_bits & 0x3 == 0x3;
    let template = VcpuTemplate {
        cpuid,
        cr4,
        xcr0,
        sync_regs,
    };
    let area = CpuArea::BOOT;
    let vcpu = configure_vcpu(&vm, &template, 0, &area)?;
    let init_xsave = xsave_bytes(&vcpu.get_xsave().map_err(ioctl("KVM_GET_XSAVE"))?);
    let tsc_khz = vcpu.get_tsc_khz().map_err(ioctl("KVM_GET_TSC_KHZ"))?;
    log::debug!(
        "machine: {} MiB RAM, sync_regs={sync_regs}, xsave={xsave}, fsgsbase={fsgsbase}, xcr0={xfeatures:#x}, xstate={xstate_size}",
        mem_size >> 20
    );
    let cpuid_table = match Backend::detect() {
        Backend::KvmPvm => super::cpuinfo::CpuidTable::native(),
        _ => super::cpuinfo::CpuidTable::from_kvm(template.cpuid.as_slice()),
    };
    let (base, limit) = Machine::shared_range(ram.size(), &cpuid_table);
    let shared = super::shared::SharedSlots::new(base, limit);
    let m = Machine {
        kvm: Some(Kvmfds {
            _kvm: kvm,
            vm,
            template,
        }),
        ram,
        cache: super::pagecache::PageCache::new(frames.capacity()),
        frames,
        pt,
        backend: Backend::detect(),
        shared,
        cpuid: cpuid_table,
        mode,
        tlb_gen: Default::default(),
        vcpus: 1,
        pool: Vec::new(),
        doorbells: Vec::new(),
        cr4,
        xfeatures,
        xstate_size,
        init_xsave: Arc::from(init_xsave),
        tsc_khz,
        spare_roots: Vec::new(),
    };
    let first = m.vcpu_from(Some(vcpu), 0, area)?;
    Ok((m, first))
}

/// Make vCPU `index` with the template's state and `area`'s descriptor
/// tables, at CPL 0 in the stub; the first return to the program is an
/// `iretq` like every other (Vcpu::start_user).
pub(super) fn configure_vcpu(
    vm: &VmFd,
    t: &VcpuTemplate,
    index: usize,
    area: &CpuArea,
) -> Result<VcpuFd, VmError> {
    let mut vcpu = vm
        .create_vcpu(index as u64)
        .map_err(ioctl("KVM_CREATE_VCPU"))?;
    vcpu.set_cpuid2(&t.cpuid).map_err(ioctl("KVM_SET_CPUID2"))?;
    let mut sregs = vcpu.get_sregs().map_err(ioctl("KVM_GET_SREGS"))?;
    let gdt_words = gdt::gdt_entries(area);
    let seg = |sel: u16| gdt::kvm_segment_from(gdt_words[usize::from(sel >> 3)], sel);
    sregs.cs = seg(KERNEL_CS);
    sregs.ss = seg(KERNEL_DS);
    sregs.ds = gdt::null_segment();
    sregs.es = gdt::null_segment();
    sregs.fs = gdt::null_segment();
    sregs.gs = gdt::null_segment();
    sregs.ldt = gdt::null_segment();
    sregs.tr = gdt::tr_segment(area);
    sregs.gdt = gdt::gdt_table(area);
    sregs.idt = gdt::idt_table(area);
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    sregs.cr3 = PML4_GPA;
    sregs.cr4 = t.cr4;
    sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    vcpu.set_sregs(&sregs).map_err(ioctl("KVM_SET_SREGS"))?;

    let star = (u64::from(USER32_CS) << 48) | (u64::from(KERNEL_CS) << 32);
    let msrs = Msrs::from_entries(&[
        msr(MSR_STAR, star),
        msr(MSR_LSTAR, guest_abi::SYSCALL_ENTRY),
        msr(MSR_CSTAR, guest_abi::SYSCALL_ENTRY),
        msr(MSR_SYSCALL_MASK, SYSCALL_MASK),
        msr(MSR_KERNEL_GS_BASE, 0),
        msr(MSR_TSC_AUX, index as u64),
    ])
    .map_err(|e| VmError::Setup(format!("MSR list: {e:?}")))?;
    let n = vcpu.set_msrs(&msrs).map_err(ioctl("KVM_SET_MSRS"))?;
    if n != msrs.as_slice().len() {
        return Err(VmError::Setup(format!(
            "KVM accepted {n} of {} MSRs",
            msrs.as_slice().len()
        )));
    }
    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    vcpu.set_fpu(&fpu).map_err(ioctl("KVM_SET_FPU"))?;
    if let Some(xcr0) = t.xcr0 {
        let mut xcrs = kvm_xcrs {
            nr_xcrs: 1,
            ..Default::default()
        };
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = xcr0;
        vcpu.set_xcrs(&xcrs).map_err(ioctl("KVM_SET_XCRS"))?;
    }
    if t.sync_regs {
        vcpu.set_sync_valid_reg(SyncReg::Register);
        vcpu.set_sync_valid_reg(SyncReg::SystemRegister);
    }
    Ok(vcpu)
}

/// vCPU `index`'s kernel area: the boot pages for vCPU 0; for the others
/// five pool frames (GDT+IDT+TSS, RSP0, three IST stacks) mapped supervisor-only
/// at `cpu_area_gva(index)`, in page tables of the kernel half that every
/// address space shares. Pool frames never appear in a user entry, so
/// uaccess cannot reach them.
pub(super) fn make_cpu_area(m: &mut Machine, index: usize) -> Result<CpuArea, VmError> {
    if index == 0 {
        return Ok(CpuArea::BOOT);
    }
    let base = layout::cpu_area_gva(index);
    let mut pages = [KERNEL_GDT; 5];
    for (page, off) in pages.iter_mut().zip(layout::CPU_AREA_OFFSETS) {
        let gpa = m
            .frames
            .alloc()
            .ok_or_else(|| VmError::Setup("no memory for a vCPU's kernel area".into()))?;
        if !m.ram.zero(gpa, PAGE_SIZE) {
            return Err(VmError::Setup("vCPU area outside RAM".into()));
        }
        *page = KernelPage {
            gpa,
            gva: base + off,
            writable: true,
            executable: false,
        };
    }
    let area = CpuArea {
        gdt: pages[0],
        rsp0: pages[1],
        ist: [pages[2], pages[3], pages[4]],
    };
    write_descriptor_tables(&m.ram, &area)?;
    for page in area.pages() {
        // The PT covering this 2 MiB of the kernel half, made on first use.
        let pd_slot = (page.gva >> 21) & 0x1ff;
        let pde = KERNEL_PD_GPA + pd_slot * 8;
        let table = match m.ram.read_u64(pde) {
            Some(e) if e & pte::PRESENT != 0 => e & pte::ADDR_MASK,
            Some(_) => {
                let t = m.frames.alloc().ok_or_else(|| {
                    VmError::Setup("no memory for a vCPU's kernel page table".into())
                })?;
                let kernel_table = pte::PRESENT | pte::WRITABLE | pte::ACCESSED;
                if !m.ram.zero(t, PAGE_SIZE) || !m.ram.write_u64(pde, t | kernel_table) {
                    return Err(VmError::Setup("kernel page tables".into()));
                }
                t
            }
            None => return Err(VmError::Setup("kernel page tables".into())),
        };
        if !m
            .ram
            .write_u64(table + ((page.gva >> 12) & 0x1ff) * 8, kernel_pte(&page))
        {
            return Err(VmError::Setup("kernel page tables".into()));
        }
    }
    Ok(area)
}

/// The segment registers a detached vCPU reports (user mode).
pub(super) fn detached_sregs(area: &CpuArea) -> kvm_bindings::kvm_sregs {
    let gdt_words = gdt::gdt_entries(area);
    let seg = |sel: u16| gdt::kvm_segment_from(gdt_words[usize::from(sel >> 3)], sel);
    kvm_bindings::kvm_sregs {
        cs: seg(super::layout::USER_CS),
        ss: seg(super::layout::USER_DS),
        cr3: PML4_GPA,
        ..Default::default()
    }
}

/// Guest RAM with the kernel's structures and page tables, no KVM.
pub(super) fn build_detached(mem_size: u64) -> Result<(Machine, Vcpu), VmError> {
    let ram = GuestRam::new(mem_size)?;
    write_kernel(&ram)?;
    map_kernel(&ram)?;
    let frames = FrameAllocator::new(ram.size());
    let (base, limit) = Machine::shared_range(ram.size(), &Default::default());
    let shared = super::shared::SharedSlots::new(base, limit);
    let m = Machine {
        kvm: None,
        ram,
        cache: super::pagecache::PageCache::new(frames.capacity()),
        frames,
        pt: PageTables::new(PML4_GPA),
        backend: Backend::detect(),
        shared,
        cpuid: Default::default(),
        mode: EntryMode::Auto,
        tlb_gen: Default::default(),
        vcpus: 1,
        pool: Vec::new(),
        doorbells: Vec::new(),
        cr4: 0,
        xfeatures: 0x3,
        xstate_size: 512 + 64,
        init_xsave: Arc::new([0; XSAVE_AREA]),
        tsc_khz: 0,
        spare_roots: Vec::new(),
    };
    let first = m.vcpu_from(None, 0, CpuArea::BOOT)?;
    Ok((m, first))
}

fn msr(index: u32, data: u64) -> kvm_msr_entry {
    kvm_msr_entry {
        index,
        data,
        ..Default::default()
    }
}

fn write_kernel(ram: &GuestRam) -> Result<(), VmError> {
    let fail = |what: &str| VmError::Setup(format!("cannot write the {what}"));
    if guest_abi::STUB_TEXT.len() as u64 > PAGE_SIZE
        || !ram.write(KERNEL_TEXT.gpa, guest_abi::STUB_TEXT)
    {
        return Err(fail("stub"));
    }
    // The exitless gate's page, whose exit path jumps to the stub's LSTAR.
    let gate = guest_abi::GATE_TEXT;
    if gate.len() as u64 > guest_abi::gate::STUB_ENTRY + 8
        || !ram.write(layout::GATE_TEXT_GPA, gate)
        || !ram.write_u64(
            layout::GATE_TEXT_GPA + guest_abi::gate::STUB_ENTRY,
            guest_abi::SYSCALL_ENTRY,
        )
    {
        return Err(fail("gate"));
    }
    write_descriptor_tables(ram, &CpuArea::BOOT)
}

/// A vCPU's GDT and, in the same page, its IDT and TSS.
fn write_descriptor_tables(ram: &GuestRam, area: &CpuArea) -> Result<(), VmError> {
    let gdt_bytes: Vec<u8> = gdt::gdt_entries(area)
        .iter()
        .flat_map(|d| d.to_le_bytes())
        .collect();
    if !ram.write(area.gdt.gpa, &gdt_bytes)
        || !ram.write(area.gdt.gpa + IDT_OFFSET, &gdt::idt_bytes())
        || !ram.write(area.gdt.gpa + TSS_OFFSET, &gdt::tss_bytes(area))
    {
        return Err(VmError::Setup("cannot write a GDT or TSS".into()));
    }
    Ok(())
}

/// The kernel-half entry of `page`: supervisor, global, NX unless
/// executable, read-only unless writable.
fn kernel_pte(page: &KernelPage) -> u64 {
    let mut flags = pte::PRESENT | pte::GLOBAL | pte::ACCESSED | pte::DIRTY;
    if page.writable {
        flags |= pte::WRITABLE;
    }
    if !page.executable {
        flags |= pte::NX;
    }
    page.gpa | flags
}

/// Map the kernel pages: PML4[511] -> PDPT[510] -> PD[0] -> PT. Supervisor,
/// global, NX except the text page, read-only text.
fn map_kernel(ram: &GuestRam) -> Result<(), VmError> {
    let kernel_table = pte::PRESENT | pte::WRITABLE | pte::ACCESSED;
    let entries = [
        (PML4_GPA, 511, KERNEL_PDPT_GPA),
        (KERNEL_PDPT_GPA, 510, KERNEL_PD_GPA),
        (KERNEL_PD_GPA, 0, KERNEL_PT_GPA),
    ];
    for (table, idx, next) in entries {
        if !ram.write_u64(table + idx * 8, next | kernel_table) {
            return Err(VmError::Setup("kernel page tables".into()));
        }
    }
    for page in KERNEL_PAGES {
        let idx = (page.gva >> 12) & 0x1ff;
        if !ram.write_u64(KERNEL_PT_GPA + idx * 8, kernel_pte(&page)) {
            return Err(VmError::Setup("kernel page tables".into()));
        }
    }
    Ok(())
}
