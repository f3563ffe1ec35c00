//! Facts about this host and its KVM, and the probe guest behind
//! `kvmcage info`: a few instructions in ring 3 that show which entry path
//! `syscall` and `int 0x80` take on this KVM.

use kvm_bindings::kvm_regs;
use kvm_ioctls::{Cap, Kvm};

use crate::kernel::mm::{Mm, VmaKind};
use crate::vm::layout::{MIN_MEM_SIZE, PAGE_SIZE};
use crate::vm::{Backend, EntryMode, EntryPath, Machine, Stop, Trap, VmError};

/// CPU facts the auxiliary vector reports.
#[derive(Clone, Debug)]
pub struct CpuFacts {
    /// CPUID.1:EDX, as Linux's AT_HWCAP on x86.
    pub hwcap: u64,
    /// AT_MINSIGSTKSZ: the signal frame for the largest XSAVE area.
    pub minsigstksz: u64,
    pub model: String,
    pub has_svm_or_vmx: bool,
}

impl CpuFacts {
    pub fn host() -> Self {
        use std::arch::x86_64::{__cpuid, __cpuid_count};
        let leaf1 = __cpuid(1);
        let max = __cpuid(0).eax;
        let xsave_size = if max >= 0xd {
            u64::from(__cpuid_count(0xd, 0).ebx)
        } else {
            512
        };
        let ext_max = __cpuid(0x8000_0000).eax;
        let mut model = String::new();
        if ext_max >= 0x8000_0004 {
            for leaf in 0x8000_0002..=0x8000_0004u32 {
                let r = __cpuid(leaf);
                for w in [r.eax, r.ebx, r.ecx, r.edx] {
                    model.extend(w.to_le_bytes().iter().map(|&b| b as char));
                }
            }
        }
        let svm = ext_max >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 2) != 0;
        let vmx = leaf1.ecx & (1 << 5) != 0;
        Self {
            hwcap: u64::from(leaf1.edx),
            // Linux: xstate size + the rest of struct rt_sigframe and the
            // alignment slack, rounded up.
            minsigstksz: (xsave_size + 64 + 0x1c0 + 15) & !15,
            model: model
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string(),
            has_svm_or_vmx: svm || vmx,
        }
    }
}

/// What the probe guest saw.
#[derive(Clone, Debug)]
pub struct ProbeResult {
    pub syscall_path: Result<EntryPath, String>,
    pub int80_path: Result<EntryPath, String>,
}

/// Run a tiny ring-3 program: `syscall` getpid, `int 0x80` getpid,
/// `syscall` exit_group(0). Each trap shows the entry path.
pub fn probe_entry_paths(mode: EntryMode) -> Result<ProbeResult, VmError> {
    const CODE_VA: u64 = 0x40_0000;
    #[rustfmt::skip]
    let code: [u8; 26] = [
        0xb8, 39, 0, 0, 0,          // mov $39, %eax (getpid)
        0x0f, 0x05,                 // syscall
        0xb8, 20, 0, 0, 0,          // mov $20, %eax (i386 getpid)
        0xcd, 0x80,                 // int $0x80
        0xb8, 231, 0, 0, 0,         // mov $231, %eax (exit_group)
        0x31, 0xff,                 // xor %edi, %edi
        0x0f, 0x05,                 // syscall
        0x0f, 0x0b, 0x90,           // ud2 (never reached)
    ];
    let (mut m, mut vcpu) = Machine::new(MIN_MEM_SIZE, mode)?;
    let mut mm = Mm::new();
    let setup = |e| VmError::Setup(format!("probe: {e}"));
    mm.map_fixed(
        &mut m,
        CODE_VA,
        PAGE_SIZE,
        (libc::PROT_READ | libc::PROT_EXEC) as u32,
        VmaKind::Image,
    )
    .map_err(setup)?;
    if !mm.poke(&m, CODE_VA, &code) {
        return Err(VmError::Setup("probe: code".into()));
    }
    let stack = 0x7000_0000;
    mm.map_fixed(
        &mut m,
        stack,
        PAGE_SIZE,
        (libc::PROT_READ | libc::PROT_WRITE) as u32,
        VmaKind::Anon,
    )
    .map_err(setup)?;
    vcpu.start_user(&kvm_regs {
        rip: CODE_VA,
        rsp: stack + PAGE_SIZE,
        rflags: 0x202,
        ..Default::default()
    })?;
    let mut seen: Vec<Result<EntryPath, String>> = Vec::new();
    for _ in 0..3 {
        let (trap, mut regs) = match vcpu.next_trap()? {
            Ok(t) => t,
            Err(Stop::Interrupted) => continue,
            Err(stop) => {
                seen.push(Err(stop.to_string()));
                break;
            }
        };
        match trap {
            Trap::Syscall(path) => {
                let nr = regs.rax;
                seen.push(Ok(path));
                if nr == 231 {
                    break;
                }
                regs.rax = 1;
                if !path.is_int80() {
                    regs.rcx = regs.rip;
                    regs.r11 = crate::vm::sanitize_rflags(regs.rflags);
                }
                vcpu.resume(&regs)?;
            }
            Trap::Fault { vector, .. } => {
                seen.push(Err(format!("exception {vector} at {:#x}", regs.rip)));
                // Skip the faulting instruction (the 2-byte int 0x80).
                regs.rip += 2;
                vcpu.resume(&regs)?;
            }
        }
    }
    let mut it = seen.into_iter();
    let syscall_path = it.next().unwrap_or_else(|| Err("no trap".into()));
    let int80_path = match it.next() {
        Some(Ok(p)) if p.is_int80() => Ok(p),
        Some(Ok(_)) => Err("int 0x80 was skipped without a trap".into()),
        Some(Err(e)) => Err(e),
        None => Err("no trap".into()),
    };
    Ok(ProbeResult {
        syscall_path,
        int80_path,
    })
}

/// The `kvmcage info` report.
pub fn info_report() -> Result<String, VmError> {
    let kvm = Kvm::new().map_err(VmError::OpenKvm)?;
    let cpu = CpuFacts::host();
    let backend = Backend::detect();
    let mut s = String::new();
    s.push_str(&format!("KVM API version: {}\n", kvm.get_api_version()));
    s.push_str(&format!("backend: {backend}\n"));
    s.push_str(&format!(
        "kvm_pvm module loaded: {}\n",
        if backend == Backend::KvmPvm {
            "yes"
        } else {
            "no"
        }
    ));
    s.push_str(&format!(
        "CPU: {} (VMX/SVM visible to the host: {})\n",
        cpu.model,
        if cpu.has_svm_or_vmx { "yes" } else { "no" }
    ));
    let caps = [
        (
            "KVM_CAP_SYNC_REGS",
            kvm.check_extension_raw(kvm_bindings::KVM_CAP_SYNC_REGS.into()) & 3 == 3,
        ),
        ("KVM_CAP_XCRS", kvm.check_extension(Cap::Xcrs)),
        (
            "KVM_CAP_IMMEDIATE_EXIT",
            kvm.check_extension(Cap::ImmediateExit),
        ),
        ("KVM_CAP_EXT_CPUID", kvm.check_extension(Cap::ExtCpuid)),
        ("KVM_CAP_USER_MEMORY", kvm.check_extension(Cap::UserMemory)),
    ];
    s.push_str("capabilities used:\n");
    for (name, ok) in caps {
        s.push_str(&format!("  {name}: {}\n", if ok { "yes" } else { "no" }));
    }
    let probe = probe_entry_paths(EntryMode::Auto)?;
    let show = |r: &Result<EntryPath, String>| match r {
        Ok(p) => p.name().to_string(),
        Err(e) => format!("failed: {e}"),
    };
    s.push_str(&format!(
        "entry path of `syscall`: {}\n",
        show(&probe.syscall_path)
    ));
    s.push_str(&format!(
        "entry path of `int 0x80`: {}\n",
        show(&probe.int80_path)
    ));
    // `syscall` reaching LSTAR in ring 3 is what lets the gate run there.
    let transport = if probe.syscall_path == Ok(EntryPath::LstarFault) {
        "the exitless gate (`syscall` stays in ring 3); `--transport exit` for the stub's exit"
    } else {
        "exit through the stub (`syscall` reaches CPL 0: no exitless gate)"
    };
    s.push_str(&format!("syscall transport of `run`: {transport}\n"));
    Ok(s)
}
