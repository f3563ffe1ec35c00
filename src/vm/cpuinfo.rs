//! /proc/cpuinfo for the guest: made from the CPUID leaves kvmcage gave the
//! vCPU (what the program's own `cpuid` reports), with Linux's field names
//! and flag names, one block per CPU the sandbox has. No host facts that
//! CPUID does not already show (microcode, clock, bugs, bogomips).

/// The CPUID entries set on the vCPU: (leaf, subleaf) -> eax, ebx, ecx, edx.
#[derive(Clone, Debug, Default)]
pub struct CpuidTable(pub Vec<(u32, u32, [u32; 4])>);

impl CpuidTable {
    pub fn from_kvm(entries: &[kvm_bindings::kvm_cpuid_entry2]) -> Self {
        Self(
            entries
                .iter()
                .map(|e| (e.function, e.index, [e.eax, e.ebx, e.ecx, e.edx]))
                .collect(),
        )
    }

    /// What `cpuid` really answers in this process's ring 3: on kvm_pvm the
    /// guest's user code runs on the host CPU and its `cpuid` is not
    /// intercepted, so the program sees the host's leaves, not the ones set
    /// on the vCPU.
    pub fn native() -> Self {
        use std::arch::x86_64::__cpuid_count;
        let mut t = Vec::new();
        let max = __cpuid_count(0, 0).eax.min(0x20);
        let max_ext = __cpuid_count(0x8000_0000, 0).eax.min(0x8000_0020);
        for f in (0..=max).chain(0x8000_0000..=max_ext) {
            for i in 0..2 {
                let r = __cpuid_count(f, i);
                t.push((f, i, [r.eax, r.ebx, r.ecx, r.edx]));
            }
        }
        Self(t)
    }

    /// The registers of one leaf (zeros where KVM gave none).
    pub fn leaf(&self, function: u32, index: u32) -> [u32; 4] {
        self.0
            .iter()
            .find(|(f, i, _)| *f == function && *i == index)
            .map(|(_, _, r)| *r)
            .unwrap_or_default()
    }
}

/// Linux's names (arch/x86/include/asm/cpufeatures.h) of the bits of one
/// register, bit 0 first; "" for bits /proc/cpuinfo does not show.
const LEAF1_EDX: [&str; 32] = [
    "fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "", "sep", "mtrr", "pge",
    "mca", "cmov", "pat", "pse36", "pn", "clflush", "", "dts", "acpi", "mmx", "fxsr", "sse",
    "sse2", "ss", "ht", "tm", "ia64", "pbe",
];
const LEAF1_ECX: [&str; 32] = [
    "pni",
    "pclmulqdq",
    "dtes64",
    "monitor",
    "ds_cpl",
    "vmx",
    "smx",
    "est",
    "tm2",
    "ssse3",
    "cid",
    "sdbg",
    "fma",
    "cx16",
    "xtpr",
    "pdcm",
    "",
    "pcid",
    "dca",
    "sse4_1",
    "sse4_2",
    "x2apic",
    "movbe",
    "popcnt",
    "tsc_deadline_timer",
    "aes",
    "xsave",
    "",
    "avx",
    "f16c",
    "rdrand",
    "hypervisor",
];
const EXT1_EDX: [&str; 32] = [
    "", "", "", "", "", "", "", "", "", "", "", "syscall", "", "", "", "", "", "", "", "mp", "nx",
    "", "mmxext", "", "", "fxsr_opt", "pdpe1gb", "rdtscp", "", "lm", "3dnowext", "3dnow",
];
const EXT1_ECX: [&str; 32] = [
    "lahf_lm",
    "cmp_legacy",
    "svm",
    "extapic",
    "cr8_legacy",
    "abm",
    "sse4a",
    "misalignsse",
    "3dnowprefetch",
    "osvw",
    "ibs",
    "xop",
    "skinit",
    "wdt",
    "",
    "lwp",
    "fma4",
    "tce",
    "",
    "nodeid_msr",
    "",
    "tbm",
    "topoext",
    "perfctr_core",
    "perfctr_nb",
    "",
    "bpext",
    "ptsc",
    "perfctr_llc",
    "mwaitx",
    "",
    "",
];
const LEAF7_EBX: [&str; 32] = [
    "fsgsbase",
    "tsc_adjust",
    "sgx",
    "bmi1",
    "hle",
    "avx2",
    "",
    "smep",
    "bmi2",
    "erms",
    "invpcid",
    "rtm",
    "cqm",
    "",
    "mpx",
    "rdt_a",
    "avx512f",
    "avx512dq",
    "rdseed",
    "adx",
    "smap",
    "avx512ifma",
    "",
    "clflushopt",
    "clwb",
    "intel_pt",
    "avx512pf",
    "avx512er",
    "avx512cd",
    "sha_ni",
    "avx512bw",
    "avx512vl",
];
const LEAF7_ECX: [&str; 32] = [
    "",
    "avx512vbmi",
    "umip",
    "pku",
    "ospke",
    "waitpkg",
    "avx512_vbmi2",
    "",
    "gfni",
    "vaes",
    "vpclmulqdq",
    "avx512_vnni",
    "avx512_bitalg",
    "tme",
    "avx512_vpopcntdq",
    "",
    "la57",
    "",
    "",
    "",
    "",
    "",
    "rdpid",
    "",
    "bus_lock_detect",
    "cldemote",
    "",
    "movdiri",
    "movdir64b",
    "enqcmd",
    "sgx_lc",
    "",
];
const LEAF7_EDX: [&str; 32] = [
    "",
    "",
    "avx512_4vnniw",
    "avx512_4fmaps",
    "fsrm",
    "",
    "",
    "",
    "avx512_vp2intersect",
    "",
    "",
    "",
    "",
    "",
    "serialize",
    "",
    "tsxldtrk",
    "",
    "pconfig",
    "arch_lbr",
    "ibt",
    "",
    "amx_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "",
    "",
    "",
    "",
    "",
    "",
];
const LEAFD1_EAX: [&str; 32] = [
    "xsaveopt", "xsavec", "xgetbv1", "xsaves", "", "", "", "", "", "", "", "", "", "", "", "", "",
    "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
];

fn flags(t: &CpuidTable) -> Vec<&'static str> {
    let max = t.leaf(0, 0)[0];
    let max_ext = t.leaf(0x8000_0000, 0)[0];
    let l1 = t.leaf(1, 0);
    let mut regs: Vec<(u32, &[&'static str; 32])> = vec![(l1[3], &LEAF1_EDX)];
    if max_ext >= 0x8000_0001 {
        let e1 = t.leaf(0x8000_0001, 0);
        regs.push((e1[3], &EXT1_EDX));
        regs.push((l1[2], &LEAF1_ECX));
        regs.push((e1[2], &EXT1_ECX));
    } else {
        regs.push((l1[2], &LEAF1_ECX));
    }
    if max >= 7 {
        let l7 = t.leaf(7, 0);
        regs.push((l7[1], &LEAF7_EBX));
        regs.push((l7[2], &LEAF7_ECX));
        regs.push((l7[3], &LEAF7_EDX));
    }
    if max >= 0xd {
        regs.push((t.leaf(0xd, 1)[0], &LEAFD1_EAX));
    }
    let mut out = Vec::new();
    for (reg, names) in regs {
        for (bit, name) in names.iter().enumerate() {
            if reg & (1 << bit) != 0 && !name.is_empty() {
                out.push(*name);
            }
        }
    }
    out
}

fn ascii(regs: &[u32]) -> String {
    let bytes: Vec<u8> = regs.iter().flat_map(|r| r.to_le_bytes()).collect();
    String::from_utf8_lossy(&bytes)
        .trim_matches(char::from(0))
        .trim()
        .to_owned()
}

/// The text of /proc/cpuinfo for `cpus` CPUs of this model.
pub fn text(t: &CpuidTable, cpus: u32) -> String {
    let l0 = t.leaf(0, 0);
    let vendor = ascii(&[l0[1], l0[3], l0[2]]);
    let l1 = t.leaf(1, 0)[0];
    let base_family = (l1 >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((l1 >> 20) & 0xff)
    } else {
        base_family
    };
    let model = if base_family >= 6 {
        ((l1 >> 4) & 0xf) | (((l1 >> 16) & 0xf) << 4)
    } else {
        (l1 >> 4) & 0xf
    };
    let stepping = l1 & 0xf;
    let max_ext = t.leaf(0x8000_0000, 0)[0];
    let name = if max_ext >= 0x8000_0004 {
        let r: Vec<u32> = (0x8000_0002..=0x8000_0004)
            .flat_map(|f| t.leaf(f, 0))
            .collect();
        ascii(&r)
    } else {
        String::new()
    };
    let (phys, virt) = if max_ext >= 0x8000_0008 {
        let a = t.leaf(0x8000_0008, 0)[0];
        (a & 0xff, (a >> 8) & 0xff)
    } else {
        (36, 48)
    };
    let clflush = ((t.leaf(1, 0)[1] >> 8) & 0xff) * 8;
    let flags = flags(t).join(" ");
    let mut s = String::new();
    for cpu in 0..cpus {
        s.push_str(&format!(
            "processor\t: {cpu}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n\
             model name\t: {name}\nstepping\t: {stepping}\nphysical id\t: 0\nsiblings\t: {cpus}\n\
             core id\t\t: {cpu}\ncpu cores\t: {cpus}\napicid\t\t: {cpu}\ninitial apicid\t: {cpu}\n\
             fpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: {}\nwp\t\t: yes\nflags\t\t: {flags}\n\
             clflush size\t: {clflush}\ncache_alignment\t: {clflush}\n\
             address sizes\t: {phys} bits physical, {virt} bits virtual\npower management:\n\n",
            l0[0]
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's own CPUID decodes to the model and the flags the host's
    /// /proc/cpuinfo shows (a subset of them: Linux adds synthetic flags).
    #[test]
    fn host_cpuid_matches_host_cpuinfo() {
        let t = CpuidTable::native();
        let ours = text(&t, 1);
        let host = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let field = |s: &str, k: &str| {
            s.lines()
                .find(|l| l.split(':').next().map(str::trim) == Some(k))
                .map(|l| l.split_once(':').unwrap().1.trim().to_owned())
        };
        for k in ["vendor_id", "cpu family", "model", "model name", "stepping"] {
            assert_eq!(field(&ours, k), field(&host, k), "{k}");
        }
        let host_flags = field(&host, "flags").unwrap();
        let host_flags: Vec<&str> = host_flags.split(' ').collect();
        for f in field(&ours, "flags").unwrap().split(' ') {
            // Linux hides what the kernel disabled or does not use.
            if ![
                "pn", "osvw", "ibs", "ospke", "pku", "tme", "la57", "rtm", "hle", "mpx",
            ]
            .contains(&f)
            {
                assert!(host_flags.contains(&f), "{f} not in the host's flags");
            }
        }
        assert_eq!(ours.matches("processor\t:").count(), 1);
    }
}
