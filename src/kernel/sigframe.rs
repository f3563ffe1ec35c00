//! Signal delivery and rt_sigreturn: Linux x86-64's `rt_sigframe` on the
//! user stack (arch/x86/kernel/signal.c, signal_64.c), written by the host.
//!
//! The frame, from its lowest address: `pretcode` (the sa_restorer the
//! handler returns to), the `ucontext` (flags, link, the altstack, a
//! `sigcontext` with every general register, the old mask), the `siginfo`;
//! above it, 64-byte aligned, the XSAVE image of the interrupted code with
//! Linux's software-reserved bytes and the trailing magic. Delivery is host
//! writes of guest memory and registers: no guest-kernel code runs, so the
//! stub's instruction count does not change.

use std::mem::{offset_of, size_of};

use kvm_bindings::kvm_regs;
use rustix::io::Errno;
use vm_memory::ByteValued;

use super::abi::{RtSigframe, SigContext, UContext};
use super::signal::{
    bit, Action, SigAction, SigInfo, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER,
    SA_SIGINFO, SIGSEGV, SIG_DFL, SI_KERNEL, UNBLOCKABLE,
};
use super::wait::{ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK};
use super::{Args, Ctx, Process, SysResult};
use crate::vm::{layout::USER_TOP, Machine, VmError, XSAVE_AREA};

/// The frame's size and where its parts are (`abi::RtSigframe`).
const FRAME_SIZE: u64 = size_of::<RtSigframe>() as u64;
const INFO: u64 = offset_of!(RtSigframe, info) as u64;
const UC: u64 = offset_of!(RtSigframe, uc) as u64;

const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;

const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Offset of `struct _fpx_sw_bytes` in the legacy FXSAVE area.
const SW_BYTES: usize = 464;

/// RFLAGS bits rt_sigreturn takes from the frame (Linux's FIX_EFLAGS).
const FIX_EFLAGS: u64 =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4_0000 | 0x1_0000;
const RFLAGS_TF: u64 = 0x100;
const RFLAGS_DF: u64 = 0x400;
const RFLAGS_RF: u64 = 0x1_0000;

/// Where the last fault left its trap number, error code and address
/// (Linux's thread.trap_nr, error_code, cr2), for the next frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapState {
    pub trapno: u64,
    pub err: u64,
    pub cr2: u64,
}

/// What the return to user mode did with signals.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// Signals taken, in order, for the trace (`--- SIGx {...} ---`).
    pub taken: Vec<SigInfo>,
    /// A signal whose action ends the process, and whether it dumps core.
    pub kill: Option<(SigInfo, bool)>,
    /// A stop signal was taken: the process stops (the run loop waits
    /// for SIGCONT, then delivers again).
    pub stop: Option<i32>,
}

/// A restartable return: the syscall's number and raw result.
#[derive(Clone, Copy, Debug)]
pub struct FromSyscall {
    pub nr: u64,
    pub ret: i64,
}

/// Linux's restart rule when a handler runs (handle_signal): the blocking
/// call gives EINTR, or (ERESTARTSYS with SA_RESTART, ERESTARTNOINTR) is
/// made again: RIP back over the 2-byte `syscall`/`int 0x80`, RAX the
/// number. Every entry path leaves RIP after a 2-byte instruction.
fn restart_for_handler(regs: &mut kvm_regs, sc: FromSyscall, act: &SigAction) {
    let restart = SA_RESTART & act.flags != 0;
    match code(sc.ret) {
        Some(c) if c == ERESTART_RESTARTBLOCK || c == ERESTARTNOHAND => eintr(regs),
        Some(c) if c == ERESTARTSYS && !restart => eintr(regs),
        Some(c) if c == ERESTARTSYS || c == ERESTARTNOINTR => again(regs, sc.nr),
        _ => {}
    }
}

/// The restart code a raw syscall result is, if any.
fn code(ret: i64) -> Option<Errno> {
    super::wait::is_restart(ret).then(|| Errno::from_raw_os_error((-ret) as i32))
}

fn eintr(regs: &mut kvm_regs) {
    regs.rax = (-i64::from(Errno::INTR.raw_os_error())) as u64;
}

/// Make the call again: back over the 2-byte instruction, RAX = `nr`.
fn again(regs: &mut kvm_regs, nr: u64) {
    regs.rax = nr;
    regs.rip = regs.rip.wrapping_sub(2);
}

/// ... and when none runs (the end of do_signal): every restart code makes
/// the call again; ERESTART_RESTARTBLOCK through restart_syscall.
fn restart_without_handler(regs: &mut kvm_regs, sc: FromSyscall, i386: bool) {
    match code(sc.ret) {
        // restart_syscall: 219 on x86-64, 0 on i386.
        Some(c) if c == ERESTART_RESTARTBLOCK => again(regs, if i386 { 0 } else { 219 }),
        Some(_) => again(regs, sc.nr),
        None => {}
    }
}

/// The registers of a return from a system call, one rule for the run
/// loop and the benchmark: `syscall` leaves RCX = RIP and R11 = RFLAGS, as
/// Linux's return to user does, except after rt_sigreturn, which restored
/// the whole register file. `int 0x80` changes neither.
pub fn syscall_return_regs(regs: &mut kvm_regs, path: crate::vm::EntryPath, sigreturned: bool) {
    if !sigreturned && path.is_syscall_insn() {
        regs.rcx = regs.rip;
        regs.r11 = crate::vm::sanitize_rflags(regs.rflags);
    }
}

/// Before a return to user mode: deliver what is pending and unblocked.
/// Handlers get frames (several at once stack up, the last one taken runs
/// first, as on Linux); a signal whose action kills ends the loop.
/// `syscall` is set when returning from a system call (restart rules).
pub fn deliver(
    m: &mut Machine,
    vcpu: &mut crate::vm::Vcpu,
    proc: &mut Process,
    regs: &mut kvm_regs,
    syscall: Option<FromSyscall>,
    i386: bool,
) -> Result<Delivery, VmError> {
    let mut out = Delivery::default();
    let mut syscall = syscall;
    proc.fire_timers();
    while let Some(info) = proc.sig().dequeue_deliverable() {
        let sig = info.signo();
        out.taken.push(info.clone());
        let act = match proc.signals.action(sig) {
            Action::Ignore | Action::Continue => continue,
            // The run's first process is the container's init, which
            // stop signals do not stop.
            Action::Stop if proc.tasks.is_first(proc.id.pid) => continue,
            Action::Stop => {
                if let Some(sc) = syscall.take() {
                    restart_without_handler(regs, sc, i386);
                }
                out.stop = Some(sig);
                return Ok(out);
            }
            Action::Terminate => {
                out.kill = Some((info, false));
                return Ok(out);
            }
            Action::Core => {
                let core = proc.rlimits.soft(libc::RLIMIT_CORE) != 0;
                out.kill = Some((info, core));
                return Ok(out);
            }
            Action::Handler(act) => act,
        };
        if let Some(sc) = syscall.take() {
            restart_for_handler(regs, sc, &act);
        }
        if setup_frame(m, vcpu, proc, regs, &info, &act)?.is_err() {
            // Linux's force_sigsegv: a frame that cannot be written is
            // SIGSEGV, which kills if it was SIGSEGV's own frame.
            if sig == SIGSEGV {
                proc.signals.actions[(SIGSEGV - 1) as usize].handler = SIG_DFL;
            }
            proc.sig().force(SigInfo::new(SIGSEGV, SI_KERNEL));
            continue;
        }
        let mut mask = proc.me().sig.mask | act.mask;
        if act.flags & SA_NODEFER == 0 {
            mask |= bit(sig);
        }
        proc.me().sig.set_mask(mask);
        if act.flags & SA_RESETHAND != 0 {
            let a = &mut proc.signals.actions[(sig - 1) as usize];
            a.handler = SIG_DFL;
        }
    }
    if let Some(sc) = syscall {
        restart_without_handler(regs, sc, i386);
    }
    if let Some(saved) = proc.me().sig.saved_mask.take() {
        proc.me().sig.set_mask(saved);
    }
    Ok(out)
}

/// The registers of `r` as a `struct sigcontext` has them (the rest 0).
fn sigcontext_of(r: &kvm_regs) -> SigContext {
    SigContext {
        r8: r.r8,
        r9: r.r9,
        r10: r.r10,
        r11: r.r11,
        r12: r.r12,
        r13: r.r13,
        r14: r.r14,
        r15: r.r15,
        rdi: r.rdi,
        rsi: r.rsi,
        rbp: r.rbp,
        rbx: r.rbx,
        rdx: r.rdx,
        rax: r.rax,
        rcx: r.rcx,
        rsp: r.rsp,
        rip: r.rip,
        eflags: r.rflags,
        ..SigContext::default()
    }
}

/// The general registers of `sc` into `r` (RFLAGS is the caller's).
fn set_gregs(r: &mut kvm_regs, sc: &SigContext) {
    [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip,
    ] = [
        sc.r8, sc.r9, sc.r10, sc.r11, sc.r12, sc.r13, sc.r14, sc.r15, sc.rdi, sc.rsi, sc.rbp,
        sc.rbx, sc.rdx, sc.rax, sc.rcx, sc.rsp, sc.rip,
    ];
}

/// Build the frame for `info` and point the registers at the handler.
/// The inner error is a frame the program's memory cannot take (SIGSEGV).
fn setup_frame(
    m: &mut Machine,
    vcpu: &mut crate::vm::Vcpu,
    proc: &mut Process,
    regs: &mut kvm_regs,
    info: &SigInfo,
    act: &SigAction,
) -> Result<Result<(), Errno>, VmError> {
    if act.flags & SA_RESTORER == 0 {
        return Ok(Err(Errno::FAULT));
    }
    let alt = proc.me().sig.altstack;
    let sp0 = regs.rsp;
    let nested = alt.on(sp0);
    let mut sp = sp0.wrapping_sub(128);
    let mut entering = false;
    if act.flags & SA_ONSTACK != 0 && alt.flags_at(sp0) == 0 {
        sp = alt.sp.wrapping_add(alt.size);
        entering = true;
        // AT_MINSIGSTKSZ promises the program that a frame needs no more;
        // it is the host's (Linux's own frame size there), which may
        // exceed kvmcage's frame: a stack smaller than it cannot take the
        // frame on Linux, so not here either (SIGSEGV, as Linux).
        if alt.size < proc.exec_facts.minsigstksz {
            return Ok(Err(Errno::FAULT));
        }
    }
    let xsize = m.xstate_size() as u64;
    let fx = sp.wrapping_sub(xsize + 4) & !63;
    let frame = (fx.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    if (nested || entering) && !alt.on(frame) || frame > fx || fx > sp {
        return Ok(Err(Errno::FAULT));
    }

    // The FP area: the XSAVE image with Linux's software bytes and magic.
    let image = vcpu.xsave()?;
    let mut fp = image[..xsize as usize].to_vec();
    let mut sw = [0u8; 48];
    sw[0..4].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
    sw[4..8].copy_from_slice(&((xsize + 4) as u32).to_le_bytes());
    sw[8..16].copy_from_slice(&m.xfeatures().to_le_bytes());
    sw[16..20].copy_from_slice(&(xsize as u32).to_le_bytes());
    fp[SW_BYTES..SW_BYTES + 48].copy_from_slice(&sw);
    fp.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());

    let old_mask = proc.me().sig.saved_mask.unwrap_or(proc.me().sig.mask);
    let t = proc.me().trap;
    let mut rt = RtSigframe {
        pretcode: act.restorer,
        uc: UContext {
            uc_flags: UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS,
            uc_link: 0,
            uc_stack: alt.abi(sp0),
            uc_mcontext: SigContext {
                // gs and fs stay 0, as Linux leaves them.
                cs: crate::vm::layout::USER_CS,
                ss: crate::vm::layout::USER_DS,
                err: t.err,
                trapno: t.trapno,
                oldmask: old_mask,
                cr2: t.cr2,
                fpstate: fx,
                ..sigcontext_of(regs)
            },
            uc_sigmask: old_mask,
        },
        info: [0; 16],
    };
    if act.flags & SA_SIGINFO != 0 {
        rt.as_mut_slice()[INFO as usize..].copy_from_slice(info.bytes());
    }
    // The frame may grow the stack, as Linux's copy_to_user would.
    let user = proc.user(m);
    let written = user.write(fx, &fp).is_ok() && user.write_obj(frame, &rt).is_ok();
    proc.mm.settle_stack();
    if !written {
        return Ok(Err(Errno::FAULT));
    }
    if entering && alt.flags & (1 << 31) != 0 {
        proc.me().sig.altstack.reset();
    }
    proc.me().sig.saved_mask = None;
    regs.rdi = info.signo() as u64;
    regs.rsi = frame + INFO;
    regs.rdx = frame + UC;
    regs.rax = 0;
    regs.rip = act.handler;
    regs.rsp = frame;
    regs.rflags &= !(RFLAGS_DF | RFLAGS_RF | RFLAGS_TF);
    // The handler starts with clean FP state (fpu__clear_user_states).
    vcpu.reset_xsave()?;
    Ok(Ok(()))
}

/// rt_sigreturn: put back what the frame at RSP-8 holds. A frame that
/// cannot be read or whose FP state KVM refuses is SIGSEGV, as on Linux.
pub fn sys_rt_sigreturn(cx: &mut Ctx, _a: &Args) -> SysResult {
    cx.proc.me().sigreturned = true;
    let frame = cx.regs.rsp.wrapping_sub(8);
    match restore(cx, frame) {
        Ok(rax) => Ok(rax),
        Err(_) => {
            cx.proc.sig().force(SigInfo::new(SIGSEGV, SI_KERNEL));
            Ok(cx.regs.rax)
        }
    }
}

fn restore(cx: &mut Ctx, frame: u64) -> Result<u64, Errno> {
    let f: RtSigframe = cx.user().read_obj(frame)?;
    let sc = f.uc.uc_mcontext;
    let (flags, fpstate, mask) = (sc.eflags, sc.fpstate, f.uc.uc_sigmask);
    // The FP state first: nothing changes if it is refused.
    let xsize = cx.m.xstate_size();
    let image = if fpstate == 0 {
        None
    } else {
        if fpstate % 64 != 0 {
            return Err(Errno::FAULT);
        }
        let mut img = Box::new([0u8; XSAVE_AREA]);
        let legacy = cx.user().read_vec(fpstate, 512)?;
        let sw = &legacy[SW_BYTES..SW_BYTES + 48];
        let word = |o: usize| u32::from_le_bytes([sw[o], sw[o + 1], sw[o + 2], sw[o + 3]]);
        let user_size = word(16) as usize;
        let user_features = u64::from(word(8)) | (u64::from(word(12)) << 32);
        let full = word(0) == FP_XSTATE_MAGIC1
            && (512 + 64..=xsize).contains(&user_size)
            && word(4) as usize >= user_size + 4
            && cx
                .user()
                .read_vec(fpstate + user_size as u64, 4)
                .is_ok_and(|b| b == FP_XSTATE_MAGIC2.to_le_bytes());
        let features = if full {
            let all = cx.user().read_vec(fpstate, user_size)?;
            img[..user_size].copy_from_slice(&all);
            user_features & cx.m.xfeatures()
        } else {
            // Only the legacy FXSAVE part (fx_only): the rest is reset.
            img[..512].copy_from_slice(&legacy);
            0x3
        };
        img[SW_BYTES..SW_BYTES + 48].fill(0);
        // xstate_bv: only what the frame declares and the guest enables.
        let bv = u64::from_le_bytes(img[512..520].try_into().unwrap_or_default());
        img[512..520].copy_from_slice(&(bv & features).to_le_bytes());
        Some(img)
    };
    match image {
        Some(img) => cx.vcpu()?.set_xsave(&img).map_err(|_| Errno::FAULT)?,
        None => cx.vcpu()?.reset_xsave().map_err(|_| Errno::FAULT)?,
    }
    let stack = f.uc.uc_stack;
    let (ss_sp, ss_flags, ss_size) = (stack.ss_sp, stack.ss_flags, stack.ss_size);
    set_gregs(cx.regs, &sc);
    cx.regs.rflags = (cx.regs.rflags & !FIX_EFLAGS) | (flags & FIX_EFLAGS);
    cx.proc.me().sig.set_mask(mask & !UNBLOCKABLE);
    // restore_altstack: errors (on the stack, too small) are ignored.
    let sig = &mut cx.proc.me().sig;
    if !sig.altstack.on(cx.regs.rsp) {
        const SS_DISABLE: i32 = 2;
        if ss_flags & SS_DISABLE != 0 {
            sig.altstack.reset();
        } else if ss_size >= 2048 {
            sig.altstack.sp = ss_sp;
            sig.altstack.size = ss_size;
            sig.altstack.flags = ss_flags & (1 << 31);
        }
    }
    let rip = cx.regs.rip;
    if rip >= USER_TOP && !crate::vm::layout::is_vsyscall_entry(rip) {
        // The return would fault: a kernel-half RIP is a page fault on the
        // fetch (SEGV_MAPERR at it), a non-canonical one a #GP in iretq.
        // (A vsyscall entry's fetch is its call: `kernel::vsyscall`.)
        let canonical = rip >= 0xffff_8000_0000_0000;
        cx.proc.sig().force(if canonical {
            SigInfo::fault(SIGSEGV, 1, rip)
        } else {
            SigInfo::new(SIGSEGV, SI_KERNEL)
        });
    }
    Ok(cx.regs.rax)
}
