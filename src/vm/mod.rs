//! The machine: one KVM VM, guest RAM, the guest kernel's structures, and
//! its vCPUs, whose run loop turns KVM exits into traps.
//!
//! A trap is what the program in ring 3 did that needs the host: a system
//! call (through any entry path) or an exception. `Vcpu::next_trap`
//! resumes the guest and returns the next one with the program's register
//! state; `Vcpu::resume` sets that state back and picks the cheapest
//! return path the stub offers.

pub mod cpuinfo;
pub mod gdt;
pub mod layout;
pub mod memory;
pub mod pagecache;
pub mod paging;
mod setup;
pub mod shared;
pub mod vcpu;

use std::fmt;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kvm_ioctls::{Kvm, VmFd};
use thiserror::Error;

use memory::{FrameAllocator, GuestRam, MemoryError};
use paging::PageTables;

use crate::guest_abi;
pub use vcpu::Vcpu;

#[derive(Debug, Error)]
pub enum VmError {
    #[error("cannot open /dev/kvm (is KVM available and are you allowed to use it?)")]
    OpenKvm(#[source] kvm_ioctls::Error),
    #[error("KVM API version {0} is not supported (need 12)")]
    ApiVersion(i32),
    #[error("KVM ioctl {what} failed")]
    Ioctl {
        what: &'static str,
        #[source]
        source: kvm_ioctls::Error,
    },
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error("setting up the guest kernel failed: {0}")]
    Setup(String),
    #[error("return to a non-user address {rip:#x}")]
    NonUserReturn { rip: u64 },
    #[error("this machine has no vCPU (built with Machine::detached)")]
    Detached,
}

pub(crate) fn ioctl(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmError {
    move |source| VmError::Ioctl { what, source }
}

/// Which KVM this is (PLATFORM.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `kvm_pvm`: no VMX/SVM; CPL 0 is emulated, `syscall` enters through #PF.
    KvmPvm,
    /// KVM on VT-x or AMD-V.
    Hardware,
}

impl Backend {
    pub fn detect() -> Self {
        if std::path::Path::new("/sys/module/kvm_pvm").exists() {
            Backend::KvmPvm
        } else {
            Backend::Hardware
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::KvmPvm => "kvm_pvm (software, shadow paging)",
            Backend::Hardware => "hardware (VT-x/AMD-V)",
        })
    }
}

/// How a system call reached the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryPath {
    /// `syscall` arrived at LSTAR at CPL 0 (hardware).
    Lstar,
    /// `syscall` faulted fetching LSTAR from CPL 3 (kvm_pvm fallback).
    LstarFault,
    /// `int 0x80` through the DPL-3 gate (hardware).
    Int80Gate,
    /// `int 0x80` raised #UD (kvm_pvm fallback).
    Int80Ud,
    /// `syscall` through the exitless gate, made by a host service thread
    /// while the vCPU waited in ring 3 (kvm_pvm; `crate::exitless`).
    Gate,
    /// `int 0x80` through the exitless gate's ring-3 #UD handler, made by
    /// a host service thread (kvm_pvm; `crate::exitless`).
    Int80Exitless,
    /// A call into the vsyscall page (`kernel::vsyscall`): every register
    /// but RAX is kept, as by Linux's emulation.
    Vsyscall,
}

impl EntryPath {
    /// Did a `syscall` instruction make the call (RCX and R11 are then
    /// the return address and flags)?
    pub fn is_syscall_insn(self) -> bool {
        matches!(
            self,
            EntryPath::Lstar | EntryPath::LstarFault | EntryPath::Gate
        )
    }

    pub fn is_int80(self) -> bool {
        matches!(
            self,
            EntryPath::Int80Gate | EntryPath::Int80Ud | EntryPath::Int80Exitless
        )
    }
    pub fn name(self) -> &'static str {
        match self {
            EntryPath::Lstar => "syscall (LSTAR, CPL 0)",
            EntryPath::LstarFault => "syscall (#PF at LSTAR fallback)",
            EntryPath::Int80Gate => "int 0x80 (DPL-3 gate)",
            EntryPath::Int80Ud => "int 0x80 (#UD fallback)",
            EntryPath::Gate => "syscall (exitless gate)",
            EntryPath::Int80Exitless => "int 0x80 (exitless #UD handler)",
            EntryPath::Vsyscall => "vsyscall page (emulated)",
        }
    }
}

/// Whether the kvm_pvm fallbacks are honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EntryMode {
    /// Accept both the direct paths and the kvm_pvm fallbacks.
    #[default]
    Auto,
    /// Direct paths only: a #PF at LSTAR or #UD on `int 0x80` is a fault.
    Strict,
}

/// What the program did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    Syscall(EntryPath),
    /// An exception from ring 3.
    Fault {
        vector: u8,
        error_code: Option<u64>,
        cr2: u64,
    },
}

/// Why the guest cannot continue, as distinct from what the program did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// KVM_RUN returned EINTR or the immediate-exit flag was set.
    Interrupted,
    /// Triple fault.
    Shutdown {
        /// The vCPU's state then (`Vcpu::shutdown_state`).
        state: String,
    },
    /// An exception at CPL 0 or on an IST stack: the stub or its structures
    /// are broken, not the program.
    KernelFault {
        vector: u8,
        rip: u64,
    },
    /// A hypercall that did not come from the stub at CPL 0.
    ForgedHypercall {
        rip: u64,
        cpl: u8,
    },
    InternalError {
        suberror: u32,
    },
    FailEntry {
        reason: u64,
    },
    Unexpected(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Interrupted => write!(f, "interrupted"),
            Stop::Shutdown { state } => write!(f, "triple fault (KVM shutdown exit): {state}"),
            Stop::KernelFault { vector, rip } => {
                write!(f, "exception {vector} in the guest kernel at rip={rip:#x}")
            }
            Stop::ForgedHypercall { rip, cpl } => {
                write!(f, "hypercall refused: rip={rip:#x} cpl={cpl}")
            }
            Stop::InternalError { suberror } => write!(f, "KVM internal error {suberror}"),
            Stop::FailEntry { reason } => write!(f, "KVM entry failed, reason {reason:#x}"),
            Stop::Unexpected(s) => write!(f, "unexpected exit: {s}"),
        }
    }
}

/// Vectors whose frame carries an error code.
pub(crate) fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// RFLAGS bits a user program may control (CF PF AF ZF SF TF DF OF NT AC
/// ID, RF). NT is the program's as on Linux (popf sets it at any CPL): the
/// stub runs with NT clear (exception delivery and SFMASK clear it), and
/// only the current NT makes an `iretq` fault, not the popped one.
const USER_RFLAGS: u64 = 0x1
    | 0x4
    | 0x10
    | 0x40
    | 0x80
    | 0x100
    | 0x400
    | 0x800
    | 0x4000
    | 0x1_0000
    | 0x4_0000
    | 0x20_0000;
/// IF and the always-one bit.
const RFLAGS_FIXED: u64 = 0x202;

pub fn sanitize_rflags(rflags: u64) -> u64 {
    (rflags & USER_RFLAGS) | RFLAGS_FIXED
}

/// The KVM objects of a machine. Declared before the RAM in `Machine`, so
/// the VM (and its memory slot) is gone before the memory is unmapped.
struct Kvmfds {
    _kvm: Kvm,
    vm: VmFd,
    /// How every vCPU is set up (`setup::configure_vcpu`).
    template: setup::VcpuTemplate,
}

/// One machine: the VM, its RAM and the guest kernel's structures. Its
/// vCPUs are `Vcpu`s, each owned by the host thread that runs it.
pub struct Machine {
    kvm: Option<Kvmfds>,
    /// Shared mappings' KVM slots (after `kvm`: the VM is dropped first).
    shared: shared::SharedSlots,
    ram: GuestRam,
    frames: FrameAllocator,
    /// Read-only copies of file pages programs map privately.
    cache: pagecache::PageCache,
    pt: PageTables,
    backend: Backend,
    mode: EntryMode,
    /// The CPUID leaves the vCPUs report (/proc/cpuinfo).
    cpuid: cpuinfo::CpuidTable,
    /// Bumped by every change to a present page-table entry: each vCPU
    /// reloads CR3 on its next return to user mode when it has moved.
    tlb_gen: Arc<AtomicU64>,
    /// vCPUs made so far (the next one's index).
    vcpus: usize,
    /// vCPUs whose threads ended, for the next ones (KVM cannot destroy
    /// a vCPU).
    pool: Vec<Vcpu>,
    /// CR4 of every vCPU (the program sees FSGSBASE in AT_HWCAP2).
    cr4: u64,
    /// XCR0: the XSAVE components the program may use.
    xfeatures: u64,
    /// Bytes of an XSAVE image of those components (standard format).
    xstate_size: usize,
    /// A vCPU's extended state at reset (x87 and SSE control words set,
    /// every register zero): what a signal handler starts with.
    init_xsave: Arc<[u8; XSAVE_AREA]>,
    /// KVM_GET_TSC_KHZ's answer (0 on a detached machine).
    tsc_khz: u32,
    /// Page tables of address spaces that ended, emptied of every user
    /// leaf, kept whole for new address spaces (`new_root`).
    spare_roots: Vec<PageTables>,
    /// Each vCPU's exitless-gate doorbell, registered on first use
    /// (`doorbell`); KVM keeps an ioeventfd as long as the VM.
    doorbells: Vec<Option<Arc<vmm_sys_util::eventfd::EventFd>>>,
}

/// Spare page-table trees kept at most; past it an ended space's tables
/// are freed (retired to data use: `FrameAllocator::alloc_table`).
const MAX_SPARE_ROOTS: usize = 1024;

/// The size of KVM_GET_XSAVE's buffer; setup refuses a machine whose
/// enabled XSAVE components would not fit it (XCR0 never enables AMX).
pub const XSAVE_AREA: usize = 4096;

/// `kvm_xsave` as bytes.
pub(crate) fn xsave_bytes(x: &kvm_bindings::kvm_xsave) -> Box<[u8; XSAVE_AREA]> {
    let mut b = Box::new([0u8; XSAVE_AREA]);
    for (i, w) in x.region.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// The value vCPU `index`'s gate writes to its doorbell (0 is "none").
pub fn doorbell_value(index: usize) -> Option<u32> {
    u32::try_from(index).ok()?.checked_add(1)
}

impl Machine {
    /// vCPU `index`'s doorbell: an eventfd KVM signals, with no exit to
    /// this process, when ring 3 writes `doorbell_value(index)` to the
    /// doorbell port (`guest/gate.S`). Made and registered on first use;
    /// `None` where KVM refuses it (the gate then exits instead).
    pub fn doorbell(&mut self, index: usize) -> Option<Arc<vmm_sys_util::eventfd::EventFd>> {
        if let Some(Some(d)) = self.doorbells.get(index) {
            return Some(Arc::clone(d));
        }
        let vm = &self.kvm.as_ref()?.vm;
        let value = doorbell_value(index)?;
        let fd =
            vmm_sys_util::eventfd::EventFd::new(libc::EFD_NONBLOCK | libc::EFD_CLOEXEC).ok()?;
        let port = u16::try_from(guest_abi::gate::DOORBELL_PORT).ok()?;
        if let Err(e) = vm.register_ioevent(
            &fd,
            &kvm_ioctls::IoEventAddress::Pio(u64::from(port)),
            value,
        ) {
            log::warn!("no doorbell for vCPU {index}: KVM_IOEVENTFD: {e}");
            return None;
        }
        let fd = Arc::new(fd);
        if self.doorbells.len() <= index {
            self.doorbells.resize(index + 1, None);
        }
        self.doorbells[index] = Some(Arc::clone(&fd));
        Some(fd)
    }

    /// Open KVM and build a machine with `mem_size` bytes of RAM whose guest
    /// kernel is ready, and its first vCPU; the program is loaded by the
    /// caller, which then sets the first user registers with
    /// `Vcpu::start_user`.
    pub fn new(mem_size: u64, mode: EntryMode) -> Result<(Self, Vcpu), VmError> {
        setup::build(mem_size, mode)
    }

    /// Guest memory, the guest kernel's structures and page tables, but no
    /// KVM: for exercising the syscall dispatcher and uaccess without
    /// /dev/kvm (fuzzing, unit tests). `Vcpu::next_trap` fails with
    /// `Detached`.
    pub fn detached(mem_size: u64) -> Result<(Self, Vcpu), VmError> {
        setup::build_detached(mem_size)
    }

    /// Another vCPU, set up as the first was, with its own kernel area
    /// (GDT+IDT+TSS, RSP0 and IST stacks from the frame pool); its registers
    /// are the caller's to set.
    pub fn create_vcpu(&mut self) -> Result<Vcpu, VmError> {
        let index = self.vcpus;
        if index >= layout::MAX_VCPUS {
            return Err(VmError::Setup(format!("no room for vCPU {index}")));
        }
        let area = setup::make_cpu_area(self, index)?;
        let fd = match self.kvm.as_ref() {
            Some(k) => Some(setup::configure_vcpu(&k.vm, &k.template, index, &area)?),
            None => None,
        };
        self.vcpus += 1;
        self.vcpu_from(fd, index, area)
    }

    /// A vCPU for a new thread: one whose thread ended, or a new one.
    pub fn take_vcpu(&mut self) -> Result<Vcpu, VmError> {
        match self.pool.pop() {
            Some(v) => Ok(v),
            None => self.create_vcpu(),
        }
    }

    /// Give back the vCPU of a thread that ended.
    pub fn put_vcpu(&mut self, vcpu: Vcpu) {
        self.pool.push(vcpu);
    }

    fn vcpu_from(
        &self,
        fd: Option<kvm_ioctls::VcpuFd>,
        index: usize,
        area: layout::CpuArea,
    ) -> Result<Vcpu, VmError> {
        let (regs, sregs, sync_regs) = match (&fd, self.kvm.as_ref()) {
            (Some(fd), Some(k)) => (
                fd.get_regs().map_err(ioctl("KVM_GET_REGS"))?,
                fd.get_sregs().map_err(ioctl("KVM_GET_SREGS"))?,
                k.template.sync_regs,
            ),
            _ => (Default::default(), setup::detached_sregs(&area), false),
        };
        Ok(Vcpu::from_parts(vcpu::Parts {
            fd,
            sync_regs,
            index,
            area,
            ram: self.ram.clone(),
            mode: self.mode,
            regs,
            sregs,
            tlb_gen: Arc::clone(&self.tlb_gen),
            init_xsave: Arc::clone(&self.init_xsave),
            tsc_khz: self.tsc_khz,
        }))
    }

    /// Map `[file_off, file_off+len)` of `fd` shared into a new slot.
    pub fn add_shared(
        &mut self,
        fd: std::os::fd::BorrowedFd<'_>,
        file_off: u64,
        len: u64,
        writable: bool,
    ) -> Result<layout::Gpa, rustix::io::Errno> {
        let vm = self.kvm.as_ref().map(|k| &k.vm);
        self.shared.add(vm, fd, file_off, len, writable)
    }

    /// Remove the shared slot at `gpa`.
    pub fn remove_shared(&mut self, gpa: layout::Gpa) {
        let vm = self.kvm.as_ref().map(|k| &k.vm);
        let charge = self.shared.remove(vm, gpa);
        self.frames.uncharge(charge);
    }

    /// Where shared slots go: from the first GiB boundary above RAM to the
    /// guest's physical address width (CPUID 0x80000008), at most 2^46.
    fn shared_range(ram_size: u64, cpuid: &cpuinfo::CpuidTable) -> (layout::Gpa, layout::Gpa) {
        const GIB: u64 = 1 << 30;
        let base = (ram_size + GIB).div_ceil(GIB) * GIB;
        let bits = match cpuid.leaf(0x8000_0008, 0)[0] & 0xff {
            0 => 36,
            b => b.min(46),
        };
        (base, (1u64 << bits).max(base))
    }

    /// CR4 of the machine's vCPUs.
    pub fn cr4(&self) -> u64 {
        self.cr4
    }

    /// Present page-table entries mapping `frames` were changed or removed
    /// by the host: make every cached translation to them go away. On
    /// hardware KVM the guest's own TLB must be flushed (every vCPU's next
    /// return reloads CR3); on kvm_pvm the shadow entries must be zapped,
    /// which only an MMU-notifier event on the frames does (PLATFORM.md).
    pub fn invalidate_frames(&mut self, frames: &mut [layout::Gpa]) {
        if frames.is_empty() {
            return;
        }
        self.invalidate_tlb();
        let (ram, shared) = (&self.ram, &self.shared);
        memory::for_each_run(frames, |gpa, len| {
            let ok = if ram.contains(gpa, len) {
                ram.drop_cached_translations(gpa, len)
            } else {
                shared.drop_cached_span(gpa, len)
            };
            if !ok {
                log::warn!("could not drop cached translations of GPA {gpa:#x}+{len:#x}");
            }
        });
    }

    /// The host freed frames whose contents it dropped with MADV_DONTNEED
    /// (which fires the MMU notifier itself): only the guest TLBs are left.
    pub fn invalidate_tlb(&mut self) {
        self.tlb_gen.fetch_add(1, Ordering::AcqRel);
    }

    /// A frame for a page, giving back the page cache's unused frames
    /// first when the pool is empty.
    pub fn alloc_frame(&mut self) -> Option<layout::Gpa> {
        self.frames.alloc().or_else(|| {
            if self.cache.reclaim(&self.ram, &self.frames) == 0 {
                return None;
            }
            self.frames.alloc()
        })
    }

    /// The counter `invalidate_tlb` bumps.
    pub fn tlb_gen(&self) -> &AtomicU64 {
        &self.tlb_gen
    }

    /// A new, empty address space: a PML4 from the pool whose kernel half
    /// is the boot PML4's (every address space shares the kernel's PDPT,
    /// so a vCPU area made later is mapped in all of them).
    pub fn new_root(&mut self) -> Option<PageTables> {
        if let Some(pt) = self.spare_roots.pop() {
            return Some(pt);
        }
        let root = self.frames.alloc_table()?;
        // Not slot 510: each address space has its own gates and slots.
        for i in (256..512).filter(|&i| i != 510) {
            let e = self.ram.read_u64(layout::PML4_GPA + i * 8)?;
            if e != 0 && !self.ram.write_u64(root + i * 8, e) {
                return None;
            }
        }
        Some(PageTables::new(root))
    }

    /// The page tables of an address space that ended, every user leaf
    /// already cleared (and its frame's translations dropped): kept whole
    /// for a new address space. A freed table frame is never a table again
    /// (kvm_pvm keeps its shadow, keyed by the frame), so reusing whole
    /// trees, each table in the place it had, is what lets a run make
    /// processes without end: the shadows of a reused tree still match it.
    /// Past `MAX_SPARE_ROOTS` the tables are freed.
    pub fn spare_root(&mut self, pt: PageTables) {
        if pt.root() == layout::PML4_GPA {
            return;
        }
        if self.spare_roots.len() < MAX_SPARE_ROOTS {
            self.end_gates(pt, false);
            self.spare_roots.push(pt);
            return;
        }
        self.end_gates(pt, true);
        pt.free_user_tables(&self.ram, &self.frames);
        let root = pt.root();
        if self.frames.is_pool_frame(root) && self.ram.zero(root, layout::PAGE_SIZE) {
            self.frames.free(root);
        }
    }

    /// Map vCPU `index`'s copy of the exitless gate and its request slot in
    /// the address space `pt` (PML4 slot 510, which no other address space
    /// shares): the gate page user R+X on the one gate frame, the slot a
    /// pool frame of this address space, user RW and NX. The slot's frame,
    /// made on first use; `None` when the vCPU cannot have a gate or no
    /// frame is left. A slot belongs to one address space for its life, so
    /// one process can never write another's requests.
    pub fn map_gate(&mut self, pt: PageTables, index: usize) -> Option<layout::Gpa> {
        use paging::pte;
        if index >= layout::MAX_GATED_VCPUS {
            return None;
        }
        let gate = layout::gate_gva(index);
        let slot = gate + guest_abi::gate::SLOT_DELTA;
        let have = pt.leaf(&self.ram, slot).ok()?;
        if have & pte::PRESENT != 0 {
            return Some(have & pte::ADDR_MASK);
        }
        let frame = self.alloc_frame()?;
        let code = layout::GATE_TEXT_GPA | pte::PRESENT | pte::USER | pte::ACCESSED;
        let data = frame | pte::PRESENT | pte::USER | pte::WRITABLE | pte::NX | pte::ACCESSED;
        let mapped = pt.set_leaf(&self.ram, &self.frames, gate, code).is_ok()
            && pt.set_leaf(&self.ram, &self.frames, slot, data).is_ok();
        if !mapped {
            let _ = pt.set_leaf(&self.ram, &self.frames, slot, 0);
            self.frames.free(frame);
            return None;
        }
        Some(frame)
    }

    /// The slot frames of `pt`'s gates (see `map_gate`).
    fn gate_slots(&self, pt: PageTables) -> Vec<(layout::Gva, layout::Gpa)> {
        use paging::pte;
        let first = layout::GATE_BASE + guest_abi::gate::SLOT_DELTA;
        let end = first + layout::MAX_GATED_VCPUS as u64 * layout::PAGE_SIZE;
        let mut out = Vec::new();
        let mut gva = pt.next_covered(&self.ram, first, end);
        while gva < end {
            let e = pt.leaf(&self.ram, gva).unwrap_or(0);
            if e & pte::PRESENT != 0 {
                out.push((gva, e & pte::ADDR_MASK));
            }
            gva = pt.next_covered(&self.ram, gva + layout::PAGE_SIZE, end);
        }
        out
    }

    /// An address space ends: its request slots are wiped (a spare tree
    /// keeps them for the next address space, which must not read the
    /// last one's calls) or, with `free`, unmapped and given back.
    fn end_gates(&mut self, pt: PageTables, free: bool) {
        let slots = self.gate_slots(pt);
        if slots.is_empty() {
            return;
        }
        let mut frames = Vec::new();
        for (gva, frame) in slots {
            if free {
                let _ = pt.set_leaf(&self.ram, &self.frames, gva, 0);
                frames.push(frame);
            } else {
                self.ram.zero(frame, layout::PAGE_SIZE);
            }
        }
        if free {
            self.invalidate_frames(&mut frames.clone());
            for f in frames {
                if self.ram.zero(f, layout::PAGE_SIZE) {
                    self.frames.free(f);
                }
            }
            pt.free_tables(&self.ram, &self.frames, 510..511);
        }
    }

    /// Guest RAM (frames are written through it; it has its own locking).
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// The frame pool every page, table and kernel area comes from.
    pub fn frames(&self) -> &FrameAllocator {
        &self.frames
    }

    /// Shared mappings' KVM slots.
    pub fn shared(&self) -> &shared::SharedSlots {
        &self.shared
    }

    pub fn shared_mut(&mut self) -> &mut shared::SharedSlots {
        &mut self.shared
    }

    /// The address space `user()` copies through (`enter_space`).
    pub fn pt(&self) -> PageTables {
        self.pt
    }

    /// Which KVM this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the kvm_pvm fallbacks are honoured.
    pub fn mode(&self) -> EntryMode {
        self.mode
    }

    /// The CPUID leaves the vCPUs report (/proc/cpuinfo).
    pub fn cpuid(&self) -> &cpuinfo::CpuidTable {
        &self.cpuid
    }

    /// The page cache's frame for `file`'s page at `off`, shared once more
    /// for the caller's mapping.
    pub fn cached_page(&mut self, file: pagecache::FileKey, off: u64) -> Option<layout::Gpa> {
        self.cache.get(&self.frames, file, off)
    }

    /// Keep `frame` (a copy of `file`'s page at `off`) in the page cache;
    /// false if it was not taken.
    pub fn cache_page(&mut self, file: pagecache::FileKey, off: u64, frame: layout::Gpa) -> bool {
        self.cache.insert(&self.ram, &self.frames, file, off, frame)
    }

    /// Give the page cache's unused frames back to the pool: how many.
    pub fn reclaim_cache(&mut self) -> usize {
        self.cache.reclaim(&self.ram, &self.frames)
    }

    /// The address space whose process holds the machine lock now: what
    /// `user()` copies through. Every taker of the lock for a process
    /// sets it (run.rs, `wait::unlocked`).
    pub fn enter_space(&mut self, pt: PageTables) {
        self.pt = pt;
    }

    /// The XSAVE components enabled in the guest (its XCR0).
    pub fn xfeatures(&self) -> u64 {
        self.xfeatures
    }

    /// Bytes of the guest's XSAVE image (standard format).
    pub fn xstate_size(&self) -> usize {
        self.xstate_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rflags_sanitizing_keeps_user_bits_only() {
        assert_eq!(sanitize_rflags(0), 0x202);
        // IOPL, VM, VIF cannot be set from user state.
        assert_eq!(sanitize_rflags(0x3000 | 0x2_0000 | 0x8_0000), 0x202);
        assert_eq!(sanitize_rflags(0x246), 0x246);
        assert_eq!(sanitize_rflags(0x4_0000), 0x4_0202, "AC is user-settable");
        assert_eq!(sanitize_rflags(0x4000), 0x4202, "NT is user-settable");
    }

    #[test]
    fn a_second_vcpu_has_its_own_supervisor_area() {
        let (mut m, first) = Machine::detached(layout::MIN_MEM_SIZE).expect("machine");
        assert_eq!(*first.area(), layout::CpuArea::BOOT);
        let second = m.create_vcpu().expect("vcpu");
        let third = m.create_vcpu().expect("vcpu");
        assert_eq!((second.index(), third.index()), (1, 2));
        let mut gpas = Vec::new();
        for v in [&second, &third] {
            for p in v.area().pages() {
                let t = m.pt.translate(&m.ram, p.gva).expect("area page mapped");
                assert_eq!(t.frame, p.gpa);
                assert!(!t.user && !t.executable && t.writable);
                assert!(m.frames.is_pool_frame(p.gpa));
                gpas.push(p.gpa);
            }
            // Its TSS sends ring-3 exceptions to its own RSP0 stack.
            let rsp0 = m.ram.read_u64(v.area().gdt.gpa + layout::TSS_OFFSET + 4);
            assert_eq!(rsp0, Some(v.area().rsp0_top()));
        }
        gpas.sort_unstable();
        gpas.dedup();
        assert_eq!(gpas.len(), 10, "no page shared between vCPUs");
    }

    #[test]
    fn error_code_vectors() {
        assert!(has_error_code(14) && has_error_code(13) && has_error_code(8));
        assert!(!has_error_code(6) && !has_error_code(0x80) && !has_error_code(3));
    }
}
