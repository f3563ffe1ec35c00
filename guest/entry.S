/*
 * kvmcage guest kernel stub: everything that runs at CPL 0 in the guest.
 *
 * Linked at offset 0 and mapped by the host at KERNEL_TEXT (upper half,
 * supervisor-only, read+execute). The host builds every structure (page
 * tables, GDT, TSS, IDT); this file only holds entry points. Each entry is
 * one `out` to HC_PORT (the hypercall: the host reads and writes the
 * registers while the vCPU is stopped) followed by the return instruction
 * the host chooses by setting RIP:
 *
 *   syscall path      LSTAR -> out -> sysretq          (2 instructions)
 *   exception path    vector -> out -> iretq           (2 instructions)
 *   TLB-flush return  mov cr3 -> mov cr3 -> pop -> iretq (host sets RIP)
 *
 * On kvm_pvm `syscall` does not reach LSTAR at CPL 0: the fetch at LSTAR
 * takes a #PF (vector 14) and `int 0x80` takes a #UD (vector 6); the host
 * recognises both from the exception frame, so the same two-instruction
 * exception path carries them. Symbols are read by build.rs (nm) into
 * Rust constants: this file is the single source of the stub ABI.
 */
        .set    ABI_VERSION, 1
        .globl  ABI_VERSION
        .set    HC_PORT, 0xf5
        .globl  HC_PORT
        .set    VECTOR_STRIDE, 16
        .globl  VECTOR_STRIDE

        .text
        .code64

/* LSTAR. Hardware: CPL 0, RCX = user RIP, R11 = user RFLAGS, RSP = user RSP
 * (untrusted and unused: nothing here touches the stack). */
        .globl  syscall_entry
syscall_entry:
        outb    %al, $HC_PORT
        .globl  syscall_hypercall_ret
syscall_hypercall_ret:
        sysretq

/* Generic return: the host wrote an iret frame and pointed RSP at it. */
        .globl  iret_return
iret_return:
        iretq

/* Return after the host changed page tables: reload CR3 (flushes the
 * non-global TLB), then restore RAX and iret from a host-written frame
 * [rax, rip, cs, rflags, rsp, ss]. */
        .globl  flush_iret_return
flush_iret_return:
        movq    %cr3, %rax
        movq    %rax, %cr3
        popq    %rax
        iretq

/* IDT vectors 0..31 and 0x80, VECTOR_STRIDE bytes apart. The host derives
 * the vector from the RIP of the hypercall exit. */
        .balign VECTOR_STRIDE
        .globl  vectors
vectors:
        .rept   33
        .balign VECTOR_STRIDE
        outb    %al, $HC_PORT
        iretq
        .endr
        .globl  vectors_end
vectors_end:
