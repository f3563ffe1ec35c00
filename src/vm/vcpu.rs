//! One vCPU: its KVM fd, its kernel area (GDT+IDT+TSS, RSP0 and IST stacks),
//! a cache of its registers, and the one rule for returning to user mode.
//!
//! A `Vcpu` is owned by exactly one host thread (it is `Send`, not shared):
//! the thread that runs `KVM_RUN` on it. It needs nothing of the `Machine`
//! to run: it holds its own handle to guest RAM (for the stub's exception
//! frames) and the machine's TLB generation, which any thread bumps when it
//! changes a present page-table entry (`Machine::invalidate_frames`), so
//! that every vCPU reloads CR3 on its next return to user mode.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kvm_bindings::{kvm_regs, kvm_sregs};
use kvm_ioctls::{VcpuExit, VcpuFd};

use super::layout::{self, CpuArea, Gva, PAGE_SIZE, USER_CS, USER_DS};
use super::memory::GuestRam;
use super::paging::PageTables;
use super::{
    has_error_code, ioctl, sanitize_rflags, xsave_bytes, EntryMode, Stop, Trap, VmError, XSAVE_AREA,
};
use crate::guest_abi::{self, HypercallSite};
use crate::vm::EntryPath;

/// `KVM_SET_SIGNAL_MASK`: `_IOW(KVMIO, 0x8b, struct kvm_signal_mask)`.
const KVM_SET_SIGNAL_MASK: libc::c_ulong = 0x4004_ae8b;

/// One vCPU of a machine.
pub struct Vcpu {
    /// None for a detached machine's vCPU (no KVM).
    fd: Option<VcpuFd>,
    sync_regs: bool,
    index: usize,
    area: CpuArea,
    ram: GuestRam,
    mode: EntryMode,
    /// Register state at the last exit (kernel view), and what to write back.
    regs: kvm_regs,
    sregs: kvm_sregs,
    regs_dirty: bool,
    sregs_dirty: bool,
    /// The machine's TLB generation, and the one this vCPU last flushed at.
    tlb_gen: Arc<AtomicU64>,
    flushed_gen: u64,
    /// This vCPU must reload CR3 before running user code (its CR3 changed).
    must_flush: bool,
    /// The user registers of the return to user mode last set up.
    returning: Option<kvm_regs>,
    /// Set when the last trap was a `syscall` at LSTAR (sysretq possible).
    at_lstar: bool,
    /// The page of this vCPU's exitless gate while LSTAR points at it.
    gate: Option<Gva>,
    /// A kick stopped the vCPU while KVM was delivering an exception (an
    /// `int 0x80`'s #UD, say): its registers are not a state the program
    /// is in, and changing RIP would deliver the exception at the new one.
    mid_event: bool,
    /// The TSS opens the doorbell port (`set_gate`).
    doorbell: bool,
    /// CS and SS of the stub (CPL 0), as the vCPU was made: what a return
    /// through the stub needs when a kick stopped the vCPU in ring 3.
    kernel_segs: (kvm_bindings::kvm_segment, kvm_bindings::kvm_segment),
    /// Number of KVM_RUN calls that returned (exits).
    pub exits: u64,
    /// The extended state at reset, what a signal handler starts with.
    init_xsave: Arc<[u8; XSAVE_AREA]>,
    tsc_khz: u32,
}

/// What a vCPU is made of; `Machine::create_vcpu` fills it.
pub(super) struct Parts {
    pub fd: Option<VcpuFd>,
    pub sync_regs: bool,
    pub index: usize,
    pub area: CpuArea,
    pub ram: GuestRam,
    pub mode: EntryMode,
    pub regs: kvm_regs,
    pub sregs: kvm_sregs,
    pub tlb_gen: Arc<AtomicU64>,
    pub init_xsave: Arc<[u8; XSAVE_AREA]>,
    pub tsc_khz: u32,
}

impl Vcpu {
    pub(super) fn from_parts(p: Parts) -> Self {
        Self {
            fd: p.fd,
            sync_regs: p.sync_regs,
            index: p.index,
            area: p.area,
            ram: p.ram,
            mode: p.mode,
            regs: p.regs,
            sregs: p.sregs,
            regs_dirty: false,
            sregs_dirty: false,
            tlb_gen: p.tlb_gen,
            flushed_gen: 0,
            must_flush: true,
            returning: None,
            at_lstar: false,
            gate: None,
            mid_event: false,
            doorbell: false,
            kernel_segs: (p.sregs.cs, p.sregs.ss),
            exits: 0,
            init_xsave: p.init_xsave,
            tsc_khz: p.tsc_khz,
        }
    }

    /// The vCPU's number (KVM's vcpu id; TSC_AUX).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its kernel pages.
    pub fn area(&self) -> &CpuArea {
        &self.area
    }

    fn fd(&mut self) -> Result<&mut VcpuFd, VmError> {
        self.fd.as_mut().ok_or(VmError::Detached)
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

    /// Point the vCPU at another address space: the next return to user
    /// mode goes through the stub's CR3 reload.
    pub fn set_cr3(&mut self, root: layout::Gpa) {
        self.sregs_mut().cr3 = root;
        self.must_flush = true;
    }

    /// Make the next return to user mode reload CR3 (a spurious fault on
    /// a translation another thread changed).
    pub fn flush_tlb(&mut self) {
        self.must_flush = true;
    }

    /// After `Stop::Interrupted` with the vCPU still at CPL 0 on one of the
    /// stub's return sites (the host had set up a return to user mode and
    /// the kick came before it ran): the user registers it was returning
    /// with, which the host may replace with a `resume` (a signal frame).
    pub fn pending_return(&self) -> Option<kvm_regs> {
        let at_site = [
            guest_abi::SYSCALL_HYPERCALL_RET,
            guest_abi::IRET_RETURN,
            guest_abi::FLUSH_IRET_RETURN,
        ]
        .contains(&self.regs.rip);
        (self.sregs.cs.selector & 3 == 0 && at_site && !self.mid_event)
            .then_some(self.returning)
            .flatten()
    }

    /// Does the next return to user mode have to reload CR3?
    fn flush_due(&self) -> bool {
        self.must_flush || self.tlb_gen.load(Ordering::Acquire) != self.flushed_gen
    }

    fn load_regs(&mut self) -> Result<(), VmError> {
        let sync = self.sync_regs;
        let fd = self.fd()?;
        let (regs, sregs) = if sync {
            let s = fd.sync_regs();
            (s.regs, s.sregs)
        } else {
            (
                fd.get_regs().map_err(ioctl("KVM_GET_REGS"))?,
                fd.get_sregs().map_err(ioctl("KVM_GET_SREGS"))?,
            )
        };
        self.regs = regs;
        self.sregs = sregs;
        Ok(())
    }

    fn store_regs(&mut self) -> Result<(), VmError> {
        let (regs, sregs) = (self.regs, self.sregs);
        let (regs_dirty, sregs_dirty) = (self.regs_dirty, self.sregs_dirty);
        let sync = self.sync_regs;
        let fd = self.fd()?;
        if sync {
            if regs_dirty {
                fd.sync_regs_mut().regs = regs;
                fd.set_sync_dirty_reg(kvm_ioctls::SyncReg::Register);
            }
            if sregs_dirty {
                fd.sync_regs_mut().sregs = sregs;
                fd.set_sync_dirty_reg(kvm_ioctls::SyncReg::SystemRegister);
            }
        } else {
            if regs_dirty {
                fd.set_regs(&regs).map_err(ioctl("KVM_SET_REGS"))?;
            }
            if sregs_dirty {
                fd.set_sregs(&sregs).map_err(ioctl("KVM_SET_SREGS"))?;
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
        let (top, top_gpa) = (self.area.rsp0_top(), self.area.rsp0_top_gpa());
        if !self.ram.write(top_gpa - 48, &bytes) {
            return Err(VmError::Setup("kernel stack outside RAM".into()));
        }
        self.regs = *user;
        self.regs.rflags = 0x2;
        if self.sregs.cs.selector & 3 != 0 {
            // Stopped in ring 3 (a kick): the stub's return runs at CPL 0.
            let (cs, ss) = self.kernel_segs;
            let s = self.sregs_mut();
            s.cs = cs;
            s.ss = ss;
        }
        if self.flush_due() {
            // The generation is read before the reload: an edit after this
            // bumps it again and the next return flushes once more.
            self.flushed_gen = self.tlb_gen.load(Ordering::Acquire);
            self.must_flush = false;
            self.regs.rip = guest_abi::FLUSH_IRET_RETURN;
            self.regs.rsp = top - 48;
        } else {
            self.regs.rip = guest_abi::IRET_RETURN;
            self.regs.rsp = top - 40;
        }
        self.regs_dirty = true;
        Ok(())
    }

    /// First entry into the program.
    pub fn start_user(&mut self, user: &kvm_regs) -> Result<(), VmError> {
        self.must_flush = true;
        self.returning = Some(*user);
        self.at_lstar = false;
        self.iret_to(user)
    }

    /// Return to the program with register state `user` (after a syscall,
    /// a handled fault or a signal): the one rule every caller uses. Uses
    /// `sysretq` when the trap came through LSTAR and nothing forces the
    /// general path. The return address came from RCX, which the program
    /// controls (a `jmp` to LSTAR looks like a syscall), or from a signal
    /// frame: a kernel-half or non-canonical one is refused
    /// (`NonUserReturn`; Linux's IRET would fault in user mode: SIGSEGV).
    pub fn resume(&mut self, user: &kvm_regs) -> Result<(), VmError> {
        if user.rip >= layout::USER_TOP
            && !self.in_gate(user.rip)
            && !layout::is_vsyscall_entry(user.rip)
        {
            return Err(VmError::NonUserReturn { rip: user.rip });
        }
        self.returning = Some(*user);
        let fast = self.at_lstar
            && !self.flush_due()
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

    /// The vCPU's extended state (x87, SSE, AVX...): the XSAVE image in
    /// standard format. A vCPU without KVM has only the reset state.
    pub fn xsave(&self) -> Result<Box<[u8; XSAVE_AREA]>, VmError> {
        match self.fd.as_ref() {
            Some(fd) => Ok(xsave_bytes(
                &fd.get_xsave().map_err(ioctl("KVM_GET_XSAVE"))?,
            )),
            None => Ok(Box::new(*self.init_xsave)),
        }
    }

    /// Load an XSAVE image into the vCPU. KVM checks the header (reserved
    /// bits, components past XCR0) and refuses a bad one with EINVAL.
    pub fn set_xsave(&mut self, image: &[u8; XSAVE_AREA]) -> Result<(), VmError> {
        let Some(fd) = self.fd.as_ref() else {
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
        unsafe { fd.set_xsave(&x) }.map_err(ioctl("KVM_SET_XSAVE"))
    }

    /// Reset the vCPU's extended state to its power-on image (what Linux
    /// gives a signal handler: default control words, zero registers).
    pub fn reset_xsave(&mut self) -> Result<(), VmError> {
        let init = Arc::clone(&self.init_xsave);
        self.set_xsave(&init)
    }

    /// While `KVM_RUN` runs, the thread's signal mask is `mask` (bit N-1 for
    /// signal N): kvmcage blocks its kick signal everywhere else, so a kick
    /// sent while the host works stays pending and makes the next `KVM_RUN`
    /// return at once (PROCESSES.md 7).
    pub fn set_run_signal_mask(&mut self, mask: u64) -> Result<(), VmError> {
        let Some(fd) = self.fd.as_ref() else {
            return Ok(());
        };
        // struct kvm_signal_mask { __u32 len; __u8 sigset[]; } with the
        // kernel's 8-byte sigset, laid out as u32 words for alignment.
        let buf: [u32; 3] = [8, mask as u32, (mask >> 32) as u32];
        // SAFETY: the vCPU fd is open for the vCPU's life; `buf` is a
        // kvm_signal_mask whose len (8) matches the bytes that follow it,
        // and KVM copies it during the call without keeping the pointer.
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(fd),
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

    /// Point `syscall` at this vCPU's exitless gate (`Some(page)`, mapped
    /// by `Machine::map_gate` in every address space it runs), and #UD at
    /// the gate page's ring-3 handler on a stack in the request slot, or
    /// both back at the stub (`None`); with `doorbell`, ring 3 may `outl`
    /// to the doorbell port (`Machine::doorbell`).
    pub fn set_gate(&mut self, gate: Option<Gva>, doorbell: bool) -> Result<(), VmError> {
        if self.gate == gate && self.doorbell == (doorbell && gate.is_some()) {
            return Ok(());
        }
        let target = gate.map_or(guest_abi::SYSCALL_ENTRY, |g| g + guest_abi::gate::ENTRY);
        if let Some(fd) = self.fd.as_ref() {
            let msrs = kvm_bindings::Msrs::from_entries(&[kvm_bindings::kvm_msr_entry {
                index: super::setup::MSR_LSTAR,
                data: target,
                ..Default::default()
            }])
            .map_err(|e| VmError::Setup(format!("MSR list: {e:?}")))?;
            if fd.set_msrs(&msrs).map_err(ioctl("KVM_SET_MSRS"))? != 1 {
                return Err(VmError::Setup("KVM refused LSTAR".into()));
            }
        }
        // #UD to the gate page's ring-3 handler on a stack in the slot, or
        // back to the stub. This vCPU's own IDT and TSS, read by the CPU
        // at each delivery.
        let ud_stack = gate.map_or(0, |g| {
            g + guest_abi::gate::SLOT_DELTA + guest_abi::gate::UD_STACK_TOP
        });
        let idt_entry =
            self.area.gdt.gpa + layout::IDT_OFFSET + u64::from(super::gdt::UD_VECTOR) * 16;
        let handler = gate.map(|g| g + guest_abi::gate::UD_ENTRY);
        // The doorbell port: open to ring 3 only while the gate is on and
        // has a doorbell.
        let doorbell = doorbell && gate.is_some();
        let (off, bit) = super::gdt::doorbell_bit();
        let bitmap = self.area.gdt.gpa + layout::TSS_OFFSET + off;
        let mut byte = [0u8; 1];
        let opened = self.ram.read(bitmap, &mut byte) && {
            byte[0] = if doorbell {
                byte[0] & !bit
            } else {
                byte[0] | bit
            };
            self.ram.write(bitmap, &byte)
        };
        if !opened
            || !self.ram.write_u64(
                self.area.gdt.gpa + layout::TSS_OFFSET + super::gdt::TSS_IST4,
                ud_stack,
            )
            || !self.ram.write(idt_entry, &super::gdt::ud_gate(handler))
        {
            return Err(VmError::Setup("cannot write the #UD gate".into()));
        }
        self.gate = gate;
        self.doorbell = doorbell;
        Ok(())
    }

    /// The page of the gate LSTAR points at, if any.
    pub fn gate(&self) -> Option<Gva> {
        self.gate
    }

    /// Is `rip` in this vCPU's gate (a place ring 3 may be)?
    pub fn in_gate(&self, rip: Gva) -> bool {
        self.gate
            .is_some_and(|g| rip >= g && rip < g + guest_abi::gate::END)
    }

    /// After `Stop::Interrupted` in ring 3 inside this vCPU's gate: the
    /// offset in the gate and the registers (`crate::exitless` decides
    /// what the program's state is).
    pub fn interrupted_in_gate(&self) -> Option<(u64, kvm_regs)> {
        let g = self.gate?;
        (self.sregs.cs.selector & 3 == 3 && self.in_gate(self.regs.rip) && !self.mid_event)
            .then(|| (self.regs.rip - g, self.regs))
    }

    /// After `Stop::Interrupted`: the program's registers, if the vCPU
    /// stopped in ring 3 at a user address (not inside the stub, not at
    /// LSTAR before its fault was taken), where the host may change them.
    pub fn interrupted_user_regs(&self) -> Option<kvm_regs> {
        (self.sregs.cs.selector & 3 == 3 && self.regs.rip < layout::USER_TOP && !self.mid_event)
            .then_some(self.regs)
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
        let fd = self.fd.as_ref().ok_or(VmError::Detached)?;
        let n = fd.get_msrs(&mut msrs).map_err(ioctl("KVM_GET_MSRS"))?;
        match (n, msrs.as_slice().first()) {
            (1, Some(e)) => Ok((e.data, self.tsc_khz)),
            _ => Err(VmError::Setup("KVM did not return IA32_TSC".into())),
        }
    }

    /// Ask a blocked or running KVM_RUN to return (another thread must also
    /// signal the vCPU thread; see `kvm_run.immediate_exit`).
    pub fn set_immediate_exit(&mut self, on: bool) {
        if let Some(fd) = self.fd.as_mut() {
            fd.set_kvm_immediate_exit(u8::from(on));
        }
    }

    /// What a triple fault left in the vCPU, for its report: where, on
    /// which stack and page tables, and the event KVM was delivering.
    fn shutdown_state(&self) -> String {
        let r = &self.regs;
        let mut s = format!(
            "vcpu {} rip={:#x} rsp={:#x} rflags={:#x}",
            self.index, r.rip, r.rsp, r.rflags
        );
        let Some(fd) = self.fd.as_ref() else {
            return s;
        };
        if let Ok(sr) = fd.get_sregs() {
            s += &format!(
                " cs={:#x} cr0={:#x} cr2={:#x} cr3={:#x} cr4={:#x} efer={:#x} gdt={:#x} idt={:#x} tr={:#x}@{:#x}",
                sr.cs.selector, sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer,
                sr.gdt.base, sr.idt.base, sr.tr.selector, sr.tr.base
            );
        }
        if let Ok(ev) = fd.get_vcpu_events() {
            s += &format!(
                " exception nr={} injected={} pending={} error_code={:#x}",
                ev.exception.nr,
                ev.exception.injected,
                ev.exception.pending,
                ev.exception.error_code
            );
        }
        s
    }

    /// Run the guest until the program traps or the machine stops.
    /// On `Ok(Ok((trap, regs)))`, `regs` is the program's register state.
    pub fn next_trap(&mut self) -> Result<Result<(Trap, kvm_regs), Stop>, VmError> {
        self.store_regs()?;
        let vcpu = self.fd.as_mut().ok_or(VmError::Detached)?;
        // Port I/O of the program on the doorbell's ports that no
        // ioeventfd took (open to ring 3 with `--transport doorbell`).
        let mut doorbell_io = None;
        let mut exit = match vcpu.run() {
            Ok(VcpuExit::IoOut(port, _) | VcpuExit::IoIn(port, _))
                if super::gdt::is_doorbell_port(port) =>
            {
                doorbell_io = Some(port);
                None
            }
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
            Ok(VcpuExit::Shutdown) => Some(Stop::Shutdown {
                state: String::new(),
            }),
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
        self.mid_event = false;
        if let Some(Stop::Shutdown { state }) = exit.as_mut() {
            *state = self.shutdown_state();
        }
        if exit == Some(Stop::Interrupted) {
            if let Some(fd) = self.fd.as_ref() {
                let ev = fd.get_vcpu_events().map_err(ioctl("KVM_GET_VCPU_EVENTS"))?;
                self.mid_event = ev.exception.injected != 0
                    || ev.exception.pending != 0
                    || ev.interrupt.injected != 0
                    || ev.nmi.injected != 0;
            }
        }
        if exit.is_none() {
            self.returning = None;
        }
        if let Some(stop) = exit {
            return Ok(Err(stop));
        }
        if let Some(port) = doorbell_io {
            // Let KVM finish the I/O without entering the guest (an `in`
            // left pending would be finished at the next entry, at
            // whatever RIP the host set by then), then undo its effect:
            // RIP after it, and an `in`'s value in RAX.
            let rax = self.regs.rax;
            if let Some(fd) = self.fd.as_mut() {
                fd.set_kvm_immediate_exit(1);
                let _ = fd.run();
                fd.set_kvm_immediate_exit(0);
            }
            self.load_regs()?;
            self.regs.rax = rax;
            return Ok(self.doorbell_fault(port));
        }
        Ok(self.decode_hypercall())
    }

    /// The program did port I/O on the doorbell's ports and no ioeventfd
    /// took it (an `in`, another size or value): on Linux every port is
    /// closed to ring 3, a #GP. KVM has finished the I/O (RIP is past
    /// the instruction); the fault's RIP is the instruction's.
    fn doorbell_fault(&mut self, port: u16) -> Result<(Trap, kvm_regs), Stop> {
        if self.sregs.cs.selector & 3 != 3 {
            return Err(Stop::Unexpected(format!("I/O to port {port:#x} at CPL 0")));
        }
        self.at_lstar = false;
        let pt = PageTables::new(self.sregs.cr3 & !0xfff);
        let dx = (self.regs.rdx & 0xffff) as u16;
        let len_at = |at: Gva| io_insn_len(&self.ram, pt, at, port, dx);
        let rip = self.regs.rip;
        let at = (1..=4u64)
            .filter_map(|l| rip.checked_sub(l))
            .find(|&a| len_at(a) == Some(rip - a))
            .unwrap_or(rip);
        let mut user = self.regs;
        user.rip = at;
        Ok((
            Trap::Fault {
                vector: 13,
                error_code: Some(0),
                cr2: self.sregs.cr2,
            },
            user,
        ))
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
        if self.regs.rsp != self.area.rsp0_top() - frame_len {
            return Err(Stop::KernelFault { vector, rip });
        }
        let mut raw = [0u8; 48];
        let raw = &mut raw[..frame_len as usize];
        if !self.ram.read(self.area.rsp0_top_gpa() - frame_len, raw) {
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
            6 => Ok((self.ud_trap(&mut user), user)),
            0x80 => Ok((Trap::Syscall(EntryPath::Int80Gate), user)),
            2 | 8 | 18 => Err(Stop::KernelFault { vector, rip: f_rip }),
            // `int $n` without a gate here (32..0x7f): a #NP naming the
            // IDT entry, where Linux (every entry present) has a #GP.
            11 if error_code.is_some_and(|e| e & 2 != 0) => Ok((
                Trap::Fault {
                    vector: 13,
                    error_code,
                    cr2: self.sregs.cr2,
                },
                user,
            )),
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

    /// Are the bytes at user `rip` `cd 80`, in an executable user page of
    /// the address space this vCPU runs?
    pub fn code_is_int80(&self, rip: Gva) -> bool {
        self.int_n_at(rip) == Some(0x80)
    }

    /// What a #UD at `user.rip` (the program's registers there) stands
    /// for: with the kvm_pvm fallbacks on, an `int 0x80` is that system
    /// call (returning past it); anything else is `ud_fault`'s. Both the
    /// stub's #UD and the exitless gate's ring-3 handler come here.
    pub fn ud_trap(&self, user: &mut kvm_regs) -> Trap {
        if self.mode == EntryMode::Auto && self.code_is_int80(user.rip) {
            user.rip = user.rip.wrapping_add(2);
            Trap::Syscall(EntryPath::Int80Ud)
        } else {
            self.ud_fault(user.rip)
        }
    }

    /// The fault a #UD at user `rip` that is no system call stands for:
    /// `int $n` for a vector ring 3 may not use is a #GP on Linux, whose
    /// every IDT entry is present (DPL 0 but for 3, 4 and 0x80), with the
    /// entry in the error code; kvm_pvm raises #UD for it. Anything else
    /// is the #UD.
    pub fn ud_fault(&self, rip: Gva) -> Trap {
        match self.int_n_at(rip) {
            Some(n) => Trap::Fault {
                vector: 13,
                error_code: Some((u64::from(n) << 3) | 2),
                cr2: self.sregs.cr2,
            },
            None => Trap::Fault {
                vector: 6,
                error_code: None,
                cr2: self.sregs.cr2,
            },
        }
    }

    /// The vector of the `int $n` (`cd n`) at user `rip`, if that is what
    /// the executable user pages there hold.
    pub fn int_n_at(&self, rip: Gva) -> Option<u8> {
        int_n_at(&self.ram, PageTables::new(self.sregs.cr3 & !0xfff), rip)
    }
}

/// Are the bytes at user `rip` `cd 80`, in executable user pages of `pt`?
pub fn code_is_int80(ram: &GuestRam, pt: PageTables, rip: Gva) -> bool {
    int_n_at(ram, pt, rip) == Some(0x80)
}

/// The byte of program code at user `addr` in `pt`: an executable user
/// page's, or `None`.
fn code_byte(ram: &GuestRam, pt: PageTables, addr: Gva) -> Option<u8> {
    let t = pt.translate(ram, layout::page_down(addr))?;
    if !t.user || !t.executable {
        return None;
    }
    let mut one = [0u8; 1];
    ram.read(t.frame + (addr & (PAGE_SIZE - 1)), &mut one)
        .then_some(one[0])
}

/// The vector of an `int $n` (`cd n`) at user `rip` in executable user
/// pages of `pt`.
pub fn int_n_at(ram: &GuestRam, pt: PageTables, rip: Gva) -> Option<u8> {
    let op = code_byte(ram, pt, rip)?;
    let n = code_byte(ram, pt, rip.checked_add(1)?)?;
    (op == 0xcd).then_some(n)
}

/// The length of a port-I/O instruction for `port` at user `at` in `pt`
/// (`in`/`out` with an 8-bit port or DX, `ins`/`outs`, with an
/// operand-size or rep prefix), if one is there.
fn io_insn_len(ram: &GuestRam, pt: PageTables, at: Gva, port: u16, dx: u16) -> Option<u64> {
    let byte = |a: Gva| code_byte(ram, pt, a);
    let mut len = 0u64;
    let mut op = byte(at)?;
    while matches!(op, 0x66 | 0xf2 | 0xf3) && len < 2 {
        len += 1;
        op = byte(at.checked_add(len)?)?;
    }
    match op {
        0xe4..=0xe7 => {
            let imm = byte(at.checked_add(len + 1)?)?;
            (u16::from(imm) == port).then_some(len + 2)
        }
        0xec..=0xef | 0x6c..=0x6f => (dx == port).then_some(len + 1),
        _ => None,
    }
}
