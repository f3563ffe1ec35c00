//! The machine: one KVM VM with one vCPU, guest RAM, the guest kernel's
//! structures, and the run loop that turns KVM exits into traps.
//!
//! A trap is what the program in ring 3 did that needs the host: a system
//! call (through any entry path) or an exception. `Machine::next_trap`
//! resumes the guest and returns the next one with the program's register
//! state; `Machine::resume` sets that state back and picks the cheapest
//! return path the stub offers.

pub mod cpuinfo;
pub mod gdt;
pub mod layout;
pub mod memory;
pub mod paging;
mod setup;
pub mod shared;

use std::fmt;

use kvm_bindings::{kvm_regs, kvm_sregs};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use thiserror::Error;

use crate::guest_abi::{self, HypercallSite};
use layout::{Gva, PAGE_SIZE, STACK_RSP0, USER_CS, USER_DS};
use memory::{FrameAllocator, GuestRam, MemoryError};
use paging::PageTables;

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
}

impl EntryPath {
    pub fn is_int80(self) -> bool {
        matches!(self, EntryPath::Int80Gate | EntryPath::Int80Ud)
    }
    pub fn name(self) -> &'static str {
        match self {
            EntryPath::Lstar => "syscall (LSTAR, CPL 0)",
            EntryPath::LstarFault => "syscall (#PF at LSTAR fallback)",
            EntryPath::Int80Gate => "int 0x80 (DPL-3 gate)",
            EntryPath::Int80Ud => "int 0x80 (#UD fallback)",
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
    Shutdown,
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
            Stop::Shutdown => write!(f, "triple fault (KVM shutdown exit)"),
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
fn has_error_code(vector: u8) -> bool {
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

/// Top of the RSP0 stack: exception frames from ring 3 land just below.
const RSP0_TOP: Gva = STACK_RSP0.gva + PAGE_SIZE;
const RSP0_TOP_GPA: u64 = STACK_RSP0.gpa + PAGE_SIZE;

/// The KVM objects of a machine. Declared before the RAM in `Machine`, so
/// the VM (and its memory slot) is gone before the memory is unmapped.
struct Kvmfds {
    _kvm: Kvm,
    _vm: VmFd,
    vcpu: VcpuFd,
    sync_regs: bool,
}

/// One machine.
pub struct Machine {
    kvm: Option<Kvmfds>,
    /// Shared mappings' KVM slots (after `kvm`: the VM is dropped first).
    pub shared: shared::SharedSlots,
    pub ram: GuestRam,
    pub frames: FrameAllocator,
    pub pt: PageTables,
    pub backend: Backend,
    pub mode: EntryMode,
    /// The CPUID leaves the vCPU reports (/proc/cpuinfo).
    pub cpuid: cpuinfo::CpuidTable,
    /// Register state at the last exit (kernel view), and what to write back.
    regs: kvm_regs,
    sregs: kvm_sregs,
    regs_dirty: bool,
    sregs_dirty: bool,
    /// The host changed a present page-table entry since the last entry.
    tlb_dirty: bool,
    /// Set when the last trap was a `syscall` at LSTAR (sysretq possible).
    at_lstar: bool,
    /// Number of KVM_RUN calls that returned (exits).
    pub exits: u64,
    /// XCR0: the XSAVE components the program may use.
    xfeatures: u64,
    /// Bytes of an XSAVE image of those components (standard format).
    xstate_size: usize,
    /// The vCPU's extended state at reset (x87 and SSE control words set,
    /// every register zero): what a signal handler starts with.
    init_xsave: Box<[u8; XSAVE_AREA]>,
    /// KVM_GET_TSC_KHZ's answer, once asked (0 before).
    tsc_khz: std::cell::Cell<u32>,
}

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

/// `KVM_SET_SIGNAL_MASK`: `_IOW(KVMIO, 0x8b, struct kvm_signal_mask)`.
const KVM_SET_SIGNAL_MASK: libc::c_ulong = 0x4004_ae8b;

impl Machine {
    /// Open KVM and build a machine with `mem_size` bytes of RAM whose guest
    /// kernel is ready; the program is loaded by the caller, which then sets
    /// the first user registers with `start_user`.
    pub fn new(mem_size: u64, mode: EntryMode) -> Result<Self, VmError> {
        setup::build(mem_size, mode)
    }

    /// Guest memory, the guest kernel's structures and page tables, but no
    /// KVM: for exercising the syscall dispatcher and uaccess without
    /// /dev/kvm (fuzzing, unit tests). `next_trap` fails with `Detached`.
    pub fn detached(mem_size: u64) -> Result<Self, VmError> {
        setup::build_detached(mem_size)
    }

    /// Map `[file_off, file_off+len)` of `fd` shared into a new slot.
    pub fn add_shared(
        &mut self,
        fd: std::os::fd::BorrowedFd<'_>,
        file_off: u64,
        len: u64,
        writable: bool,
    ) -> Result<layout::Gpa, rustix::io::Errno> {
        let vm = self.kvm.as_ref().map(|k| &k._vm);
        self.shared.add(vm, fd, file_off, len, writable)
    }

    /// Remove the shared slot at `gpa`.
    pub fn remove_shared(&mut self, gpa: layout::Gpa) {
        let vm = self.kvm.as_ref().map(|k| &k._vm);
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

    fn fds(&mut self) -> Result<&mut Kvmfds, VmError> {
        self.kvm.as_mut().ok_or(VmError::Detached)
    }

    /// Register state of the program as of the last trap (RIP, RSP and
    /// RFLAGS are the user's, not the stub's).
    pub fn sregs(&self) -> &kvm_sregs {
        &self.sregs
    }

    pub fn sregs_mut(&mut self) -> &mut kvm_sregs {
        self.sregs_dirty = true;
        &mut self.sregs
    }

    /// Present page-table entries mapping `frames` were changed or removed
    /// by the host: make every cached translation to them go away. On
    /// hardware KVM the guest's own TLB must be flushed (the next return
    /// reloads CR3); on kvm_pvm the shadow entries must be zapped, which
    /// only an MMU-notifier event on the frames does (PLATFORM.md).
    pub fn invalidate_frames(&mut self, frames: &mut [layout::Gpa]) {
        if frames.is_empty() {
            return;
        }
        self.tlb_dirty = true;
        let (ram, shared) = (&self.ram, &self.shared);
        memory::for_each_run(frames, |gpa, len| {
            let ok = if ram.contains(gpa, len) {
                ram.drop_cached_translations(gpa, len)
            } else {
                shared.drop_cached_translations(gpa, len)
            };
            if !ok {
                log::warn!("could not drop cached translations of GPA {gpa:#x}+{len:#x}");
            }
        });
    }

    /// The host freed frames whose contents it dropped with MADV_DONTNEED
    /// (which fires the MMU notifier itself): only the guest TLB is left.
    pub fn invalidate_tlb(&mut self) {
        self.tlb_dirty = true;
    }

    fn load_regs(&mut self) -> Result<(), VmError> {
        let k = self.fds()?;
        let (regs, sregs) = if k.sync_regs {
            let s = k.vcpu.sync_regs();
            (s.regs, s.sregs)
        } else {
            (
                k.vcpu.get_regs().map_err(ioctl("KVM_GET_REGS"))?,
                k.vcpu.get_sregs().map_err(ioctl("KVM_GET_SREGS"))?,
            )
        };
        self.regs = regs;
        self.sregs = sregs;
        Ok(())
    }

    fn store_regs(&mut self) -> Result<(), VmError> {
        let (regs, sregs) = (self.regs, self.sregs);
        let (regs_dirty, sregs_dirty) = (self.regs_dirty, self.sregs_dirty);
        let k = self.fds()?;
        if k.sync_regs {
            if regs_dirty {
                k.vcpu.sync_regs_mut().regs = regs;
                k.vcpu.set_sync_dirty_reg(kvm_ioctls::SyncReg::Register);
            }
            if sregs_dirty {
                k.vcpu.sync_regs_mut().sregs = sregs;
                k.vcpu
                    .set_sync_dirty_reg(kvm_ioctls::SyncReg::SystemRegister);
            }
        } else {
            if regs_dirty {
                k.vcpu.set_regs(&regs).map_err(ioctl("KVM_SET_REGS"))?;
            }
            if sregs_dirty {
                k.vcpu.set_sregs(&sregs).map_err(ioctl("KVM_SET_SREGS"))?;
            }
        }
        self.regs_dirty = false;
        self.sregs_dirty = false;
        Ok(())
    }

    /// Set the kernel-side registers to enter ring 3 with `user` through the
    /// stub's `iretq` (used for the first entry and every non-sysret return).
    fn iret_to(&mut self, user: &kvm_regs) -> Result<(), VmError> {
        let frame = [
            user.rip,
            u64::from(USER_CS),
            sanitize_rflags(user.rflags),
            user.rsp,
            u64::from(USER_DS),
        ];
        let mut bytes = [0u8; 48];
        bytes[0..8].copy_from_slice(&user.rax.to_le_bytes());
        for (i, w) in frame.iter().enumerate() {
            bytes[8 + i * 8..16 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        if !self.ram.write(RSP0_TOP_GPA - 48, &bytes) {
            return Err(VmError::Setup("kernel stack outside RAM".into()));
        }
        self.regs = *user;
        self.regs.rflags = 0x2;
        if self.tlb_dirty {
            self.regs.rip = guest_abi::FLUSH_IRET_RETURN;
            self.regs.rsp = RSP0_TOP - 48;
            self.tlb_dirty = false;
        } else {
            self.regs.rip = guest_abi::IRET_RETURN;
            self.regs.rsp = RSP0_TOP - 40;
        }
        self.regs_dirty = true;
        Ok(())
    }

    /// First entry into the program.
    pub fn start_user(&mut self, user: &kvm_regs) -> Result<(), VmError> {
        self.tlb_dirty = true;
        self.at_lstar = false;
        self.iret_to(user)
    }

    /// Return to the program with register state `user` (after a syscall or
    /// a handled fault). Uses `sysretq` when the trap came through LSTAR and
    /// nothing forces the general path.
    pub fn resume(&mut self, user: &kvm_regs) -> Result<(), VmError> {
        let fast = self.at_lstar
            && !self.tlb_dirty
            && user.rcx == user.rip
            && user.r11 == sanitize_rflags(user.r11)
            && user.r11 == sanitize_rflags(user.rflags)
            && user.rip < layout::USER_TOP;
        if fast {
            let kernel_rflags = self.regs.rflags;
            self.regs = *user;
            self.regs.rip = guest_abi::SYSCALL_HYPERCALL_RET;
            self.regs.rflags = kernel_rflags;
            self.regs_dirty = true;
            Ok(())
        } else {
            self.iret_to(user)
        }
    }

    /// The XSAVE components enabled in the guest (its XCR0).
    pub fn xfeatures(&self) -> u64 {
        self.xfeatures
    }

    /// Bytes of the guest's XSAVE image (standard format).
    pub fn xstate_size(&self) -> usize {
        self.xstate_size
    }

    /// The vCPU's extended state (x87, SSE, AVX...): the XSAVE image in
    /// standard format. A machine without a vCPU has only the reset state.
    pub fn xsave(&self) -> Result<Box<[u8; XSAVE_AREA]>, VmError> {
        match self.kvm.as_ref() {
            Some(k) => Ok(xsave_bytes(
                &k.vcpu.get_xsave().map_err(ioctl("KVM_GET_XSAVE"))?,
            )),
            None => Ok(self.init_xsave.clone()),
        }
    }

    /// Load an XSAVE image into the vCPU. KVM checks the header (reserved
    /// bits, components past XCR0) and refuses a bad one with EINVAL.
    pub fn set_xsave(&mut self, image: &[u8; XSAVE_AREA]) -> Result<(), VmError> {
        let Some(k) = self.kvm.as_ref() else {
            return Ok(());
        };
        let mut x = kvm_bindings::kvm_xsave::default();
        for (i, w) in x.region.iter_mut().enumerate() {
            *w = u32::from_le_bytes([
                image[i * 4],
                image[i * 4 + 1],
                image[i * 4 + 2],
                image[i * 4 + 3],
            ]);
        }
        // SAFETY: `x` is a whole 4096-byte kvm_xsave and KVM reads no more:
        // the enabled components fit 4096 bytes (checked against CPUID.0xD
        // when the machine was built, `setup::build`), so no dynamically
        // enabled state (AMX) makes KVM expect a larger KVM_SET_XSAVE2 buffer.
        unsafe { k.vcpu.set_xsave(&x) }.map_err(ioctl("KVM_SET_XSAVE"))
    }

    /// Reset the vCPU's extended state to its power-on image (what Linux
    /// gives a signal handler: default control words, zero registers).
    pub fn reset_xsave(&mut self) -> Result<(), VmError> {
        let init = self.init_xsave.clone();
        self.set_xsave(&init)
    }

    /// While `KVM_RUN` runs, the thread's signal mask is `mask` (bit N-1 for
    /// signal N): kvmcage blocks its kick signal everywhere else, so a kick
    /// sent while the host works stays pending and makes the next `KVM_RUN`
    /// return at once (PROCESSES.md 7).
    pub fn set_run_signal_mask(&mut self, mask: u64) -> Result<(), VmError> {
        let Some(k) = self.kvm.as_ref() else {
            return Ok(());
        };
        // struct kvm_signal_mask { __u32 len; __u8 sigset[]; } with the
        // kernel's 8-byte sigset, laid out as u32 words for alignment.
        let buf: [u32; 3] = [8, mask as u32, (mask >> 32) as u32];
        // SAFETY: the vCPU fd is open for the machine's life; `buf` is a
        // kvm_signal_mask whose len (8) matches the bytes that follow it,
        // and KVM copies it during the call without keeping the pointer.
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&k.vcpu),
                KVM_SET_SIGNAL_MASK,
                buf.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(VmError::Ioctl {
                what: "KVM_SET_SIGNAL_MASK",
                source: kvm_ioctls::Error::last(),
            });
        }
        Ok(())
    }

    /// After `Stop::Interrupted`: the program's registers, if the vCPU
    /// stopped in ring 3 at a user address (not inside the stub, not at
    /// LSTAR before its fault was taken), where the host may change them.
    pub fn interrupted_user_regs(&self) -> Option<kvm_regs> {
        (self.sregs.cs.selector & 3 == 3 && self.regs.rip < layout::USER_TOP).then_some(self.regs)
    }

    /// Replace the registers of a vCPU stopped in ring 3 (see
    /// `interrupted_user_regs`); the next entry runs from them directly.
    pub fn set_interrupted_user_regs(&mut self, user: &kvm_regs) {
        self.regs = *user;
        self.regs.rflags = sanitize_rflags(user.rflags);
        self.regs_dirty = true;
    }

    /// The guest's TSC now (IA32_TSC through KVM) and its frequency in kHz.
    pub fn guest_tsc(&self) -> Result<(u64, u32), VmError> {
        let mut msrs = kvm_bindings::Msrs::from_entries(&[kvm_bindings::kvm_msr_entry {
            index: 0x10,
            ..Default::default()
        }])
        .map_err(|e| VmError::Setup(format!("MSR list: {e:?}")))?;
        let vcpu = &self.kvm.as_ref().ok_or(VmError::Detached)?.vcpu;
        let n = vcpu.get_msrs(&mut msrs).map_err(ioctl("KVM_GET_MSRS"))?;
        let tsc = match (n, msrs.as_slice().first()) {
            (1, Some(e)) => e.data,
            _ => return Err(VmError::Setup("KVM did not return IA32_TSC".into())),
        };
        // Asked once: it does not change, and a confined kvmcage (execve
        // maps a new vDSO) may not ask again.
        let khz = match self.tsc_khz.get() {
            0 => {
                let khz = vcpu.get_tsc_khz().map_err(ioctl("KVM_GET_TSC_KHZ"))?;
                self.tsc_khz.set(khz);
                khz
            }
            khz => khz,
        };
        Ok((tsc, khz))
    }

    /// Ask a blocked or running KVM_RUN to return (another thread must also
    /// signal the vCPU thread; see `kvm_run.immediate_exit`).
    pub fn set_immediate_exit(&mut self, on: bool) {
        if let Some(k) = self.kvm.as_mut() {
            k.vcpu.set_kvm_immediate_exit(u8::from(on));
        }
    }

    /// Run the guest until the program traps or the machine stops.
    /// On `Ok(Ok((trap, regs)))`, `regs` is the program's register state.
    pub fn next_trap(&mut self) -> Result<Result<(Trap, kvm_regs), Stop>, VmError> {
        self.store_regs()?;
        let vcpu = &mut self.fds()?.vcpu;
        let exit = match vcpu.run() {
            Ok(VcpuExit::IoOut(port, data)) => {
                if port == guest_abi::HC_PORT && data.len() == 1 {
                    None
                } else {
                    Some(Stop::Unexpected(format!("I/O out to port {port:#x}")))
                }
            }
            Ok(VcpuExit::IoIn(port, _)) => {
                Some(Stop::Unexpected(format!("I/O in from port {port:#x}")))
            }
            Ok(VcpuExit::Shutdown) => Some(Stop::Shutdown),
            Ok(VcpuExit::Hlt) => Some(Stop::Unexpected("hlt".into())),
            Ok(VcpuExit::InternalError) => {
                // SAFETY: for KVM_EXIT_INTERNAL_ERROR the kernel filled the
                // `internal` member of the exit union.
                let suberror = unsafe { vcpu.get_kvm_run().__bindgen_anon_1.internal.suberror };
                Some(Stop::InternalError { suberror })
            }
            Ok(VcpuExit::FailEntry(reason, _cpu)) => Some(Stop::FailEntry { reason }),
            Ok(VcpuExit::Intr) => Some(Stop::Interrupted),
            Ok(other) => Some(Stop::Unexpected(format!("{other:?}"))),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                Some(Stop::Interrupted)
            }
            Err(e) => {
                return Err(VmError::Ioctl {
                    what: "KVM_RUN",
                    source: e,
                })
            }
        };
        self.exits += 1;
        self.load_regs()?;
        if let Some(stop) = exit {
            return Ok(Err(stop));
        }
        Ok(self.decode_hypercall())
    }

    /// The vCPU stopped on the stub's `out`: find out why.
    fn decode_hypercall(&mut self) -> Result<(Trap, kvm_regs), Stop> {
        let rip = self.regs.rip;
        let cpl = (self.sregs.cs.selector & 3) as u8;
        let site = match guest_abi::hypercall_site(rip) {
            Some(site) if cpl == 0 && self.sregs.cs.dpl == 0 => site,
            _ => return Err(Stop::ForgedHypercall { rip, cpl }),
        };
        self.at_lstar = false;
        let mut user = self.regs;
        let vector = match site {
            HypercallSite::Syscall => {
                // Hardware path: RCX/R11 hold the return RIP/RFLAGS; RSP is
                // the user's (the stub never touched it).
                user.rip = self.regs.rcx;
                user.rflags = self.regs.r11;
                self.at_lstar = true;
                return Ok((Trap::Syscall(EntryPath::Lstar), user));
            }
            HypercallSite::Vector(v) => v,
        };
        let frame_len: u64 = if has_error_code(vector) { 48 } else { 40 };
        if self.regs.rsp != RSP0_TOP - frame_len {
            return Err(Stop::KernelFault { vector, rip });
        }
        let mut raw = [0u8; 48];
        let raw = &mut raw[..frame_len as usize];
        if !self.ram.read(RSP0_TOP_GPA - frame_len, raw) {
            return Err(Stop::KernelFault { vector, rip });
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        let (error_code, base) = if has_error_code(vector) {
            (Some(word(0)), 1)
        } else {
            (None, 0)
        };
        let (f_rip, f_cs, f_rflags, f_rsp) =
            (word(base), word(base + 1), word(base + 2), word(base + 3));
        if f_cs & 3 != 3 {
            return Err(Stop::KernelFault { vector, rip: f_rip });
        }
        user.rip = f_rip;
        user.rflags = f_rflags;
        user.rsp = f_rsp;
        let fallback = self.mode == EntryMode::Auto;
        const PF_USER_FETCH: u64 = (1 << 2) | (1 << 4);
        match vector {
            14 if fallback
                && f_rip == guest_abi::SYSCALL_ENTRY
                && f_cs == u64::from(USER_CS)
                && error_code.unwrap_or(0) & PF_USER_FETCH == PF_USER_FETCH =>
            {
                user.rip = self.regs.rcx;
                user.rflags = self.regs.r11;
                Ok((Trap::Syscall(EntryPath::LstarFault), user))
            }
            6 if fallback && self.code_is_int80(f_rip) => {
                user.rip = f_rip + 2;
                Ok((Trap::Syscall(EntryPath::Int80Ud), user))
            }
            0x80 => Ok((Trap::Syscall(EntryPath::Int80Gate), user)),
            2 | 8 | 18 => Err(Stop::KernelFault { vector, rip: f_rip }),
            _ => Ok((
                Trap::Fault {
                    vector,
                    error_code,
                    cr2: self.sregs.cr2,
                },
                user,
            )),
        }
    }

    /// Are the bytes at user `rip` `cd 80`, in an executable user page?
    fn code_is_int80(&self, rip: Gva) -> bool {
        let mut code = [0u8; 2];
        for (i, b) in code.iter_mut().enumerate() {
            let Some(addr) = rip.checked_add(i as u64) else {
                return false;
            };
            let Some(t) = self.pt.translate(&self.ram, layout::page_down(addr)) else {
                return false;
            };
            if !t.user || !t.executable {
                return false;
            }
            let mut one = [0u8; 1];
            if !self.ram.read(t.frame + (addr & (PAGE_SIZE - 1)), &mut one) {
                return false;
            }
            *b = one[0];
        }
        code == [0xcd, 0x80]
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
    fn error_code_vectors() {
        assert!(has_error_code(14) && has_error_code(13) && has_error_code(8));
        assert!(!has_error_code(6) && !has_error_code(0x80) && !has_error_code(3));
    }
}
