/*
 * kvmcage exitless syscall gate (issue 19, PLATFORM.md "Where the time goes").
 *
 * On kvm_pvm `syscall` does not change CPL: with LSTAR on a user page this
 * code runs in ring 3, natively. The host maps this page user R+X at
 * GATE_BASE + i * 4096 for vCPU i and points vCPU i's LSTAR at it; vCPU i's
 * request slot is the page SLOT_DELTA above, one per vCPU in each address
 * space. Every copy addresses its own slot RIP-relatively, so no register
 * is needed to find it.
 *
 * Protocol (the slot's state word):
 *   0 idle, 1 request published by the gate, 2 claimed by the host,
 *   3 done (result in S_RET: return now),
 *   4 take the exit path and make the call there (nothing was done),
 *   5 done, but return through the exit path (signal, TLB flush...):
 *     enter with RAX = RESUME_NR and the host returns its own result.
 * A sleeping service thread with a doorbell (S_BELL) is woken by an `out`
 * of S_BELL to DOORBELL_PORT, a KVM ioeventfd: no exit to the host's
 * user space (`exitless::Doorbell`).
 * The gate withdraws an unclaimed request after SPIN rounds with
 * `lock cmpxchg 1 -> 0` and makes the call through the exit path. The
 * exit path is a jump to the stub's LSTAR, which is supervisor-only: the
 * fetch faults exactly as a `syscall` does without this gate.
 *
 * A #UD in ring 3 (kvm_pvm makes `int 0x80` one) comes to `ud_entry` in
 * ring 3 while the gate is on (the vCPU's IDT, `Vcpu::set_gate`), on IST4:
 * a stack in the slot (UD_STACK_TOP), whose frame [rip, cs, rflags, rsp,
 * ss] is at S_FRAME. It publishes the same request with S_KIND = 1 and
 * the i386 registers EAX, EBX, ECX, EDX, ESI, EDI, EBP in the fields of
 * RAX and the six arguments; the host decides from the frame whether it
 * is an `int 0x80` (the bytes `cd 80` at its RIP) and makes it. Answered,
 * it returns past the `cd 80` with every register but RAX the program's.
 * Otherwise it goes to the exit path with state 6 and RAX = UD_EXIT_NR:
 * the host takes the #UD from the frame, as if it had come by the stub
 * (a real #UD is SIGILL).
 *
 * The slot is the program's memory: it can write it at any time. The host
 * reads a request once and trusts nothing in it but what any syscall's
 * registers would say. Regions (the host's view when a kick stops the vCPU
 * inside the gate): [gate_entry, gate_publish] nothing published, the
 * registers are the call's; (gate_publish, gate_done) published, decided by
 * the state word; [gate_done, gate_end) returning with S_RET.
 */
        .set    SLOT_DELTA, 0x10000000
        .globl  SLOT_DELTA
        .set    S_STATE, 0
        .globl  S_STATE
        .set    S_AWAKE, 4
        .globl  S_AWAKE
        .set    S_RAX, 8
        .globl  S_RAX
        .set    S_RDI, 16
        .set    S_RSI, 24
        .globl  S_RSI
        .set    S_RDX, 32
        .set    S_R10, 40
        .set    S_R8, 48
        .set    S_R9, 56
        .set    S_RCX, 64
        .globl  S_RCX
        .set    S_R11, 72
        .globl  S_R11
        .set    S_RET, 80
        .globl  S_RET
        .set    S_RSP, 88
        .globl  S_RSP
        /* 0: a `syscall`; 1: a #UD (the i386 registers). */
        .set    S_KIND, 96
        .globl  S_KIND
        .set    S_URIP, 104
        /* The #UD handler's stack, and the frame the CPU pushes there. */
        .set    UD_STACK_TOP, 2048
        .globl  UD_STACK_TOP
        .set    S_FRAME, UD_STACK_TOP - 40
        .globl  S_FRAME
        /* popfq needs a stack: the slot page's last bytes. */
        .set    S_STACK_TOP, 4096
        .set    SPIN, 800
        .globl  SPIN
        /* The doorbell: the datamatch of the vCPU's ioeventfd (0: none),
         * and its port, the one 4-byte port (0xf8..0xfb) the TSS opens to
         * ring 3 while the gate is on. A rung request waits longer: the service thread
         * is on its way. */
        .set    S_BELL, 112
        .globl  S_BELL
        .set    DOORBELL_PORT, 0xf8
        .globl  DOORBELL_PORT
        .set    SPIN_BELL, 4000
        .globl  SPIN_BELL
        /* The number the gate's exit path carries for state 5. */
        .set    RESUME_NR, 0x4b564d43
        .globl  RESUME_NR
        /* The state of a #UD the host takes at the exit. */
        .set    UD_EXIT, 6
        .globl  UD_EXIT
        .set    UD_EXIT_NR, 0x4b564d44
        .globl  UD_EXIT_NR

        .text
        .code64

/* Publish the request in the slot and wait for its answer: to \done when
 * answered (state 3), to \exit when the host says so (4, 5) or when,
 * unclaimed after SPIN rounds of `pause`, the request is withdrawn with
 * `lock cmpxchg 1 -> 0` (falling through, which is \exit too). A service
 * thread asleep with a doorbell is rung first (RAX is in the slot; `out`
 * orders the store before it), and then waited for SPIN_BELL rounds. The
 * first instruction is the publishing store. */
        .macro  publish_and_wait done, exit
        movl    $1, .Lpage + SLOT_DELTA + S_STATE(%rip)
        cmpl    $0, .Lpage + SLOT_DELTA + S_AWAKE(%rip)
        jne     1f
        movl    .Lpage + SLOT_DELTA + S_BELL(%rip), %eax
        testl   %eax, %eax
        jz      1f
        outl    %eax, $DOORBELL_PORT
        movl    $SPIN_BELL, %ecx
        jmp     2f
1:      movl    $SPIN, %ecx
2:      pause
        movl    .Lpage + SLOT_DELTA + S_STATE(%rip), %eax
        cmpl    $3, %eax
        je      \done
        cmpl    $2, %eax
        je      2b
        cmpl    $1, %eax
        jne     \exit
        decl    %ecx
        jnz     2b
        xorl    %ecx, %ecx
        lock cmpxchgl %ecx, .Lpage + SLOT_DELTA + S_STATE(%rip)
        jne     1b
        .endm
.Lpage:
        .globl  gate_entry
gate_entry:
        /* The host's service thread sleeps and has no doorbell: no
         * spinning, exit at once. */
        cmpl    $0, .Lpage + SLOT_DELTA + S_AWAKE(%rip)
        jne     1f
        cmpl    $0, .Lpage + SLOT_DELTA + S_BELL(%rip)
        jne     1f
        jmp     *.Lstub(%rip)
1:      movq    %rax, .Lpage + SLOT_DELTA + S_RAX(%rip)
        movq    %rdi, .Lpage + SLOT_DELTA + S_RDI(%rip)
        movq    %rsi, .Lpage + SLOT_DELTA + S_RSI(%rip)
        movq    %rdx, .Lpage + SLOT_DELTA + S_RDX(%rip)
        movq    %r10, .Lpage + SLOT_DELTA + S_R10(%rip)
        movq    %r8, .Lpage + SLOT_DELTA + S_R8(%rip)
        movq    %r9, .Lpage + SLOT_DELTA + S_R9(%rip)
        movq    %rcx, .Lpage + SLOT_DELTA + S_RCX(%rip)
        movq    %r11, .Lpage + SLOT_DELTA + S_R11(%rip)
        movl    $0, .Lpage + SLOT_DELTA + S_KIND(%rip)
        .globl  gate_publish
gate_publish:
        publish_and_wait gate_done, .Lexit
.Lexit:
        /* States 0 (withdrawn) and 4: the call itself; 5: resume. The
         * state stays for the host, which clears it. */
        movq    .Lpage + SLOT_DELTA + S_RAX(%rip), %rax
        cmpl    $5, .Lpage + SLOT_DELTA + S_STATE(%rip)
        jne     2f
        movq    $RESUME_NR, %rax
2:      movq    .Lpage + SLOT_DELTA + S_RCX(%rip), %rcx
        movq    .Lpage + SLOT_DELTA + S_R11(%rip), %r11
        jmp     *.Lstub(%rip)
        .globl  gate_done
gate_done:
        movq    %rsp, .Lpage + SLOT_DELTA + S_RSP(%rip)
        leaq    .Lpage + SLOT_DELTA + S_STACK_TOP(%rip), %rsp
        pushq   .Lpage + SLOT_DELTA + S_R11(%rip)
        movq    .Lpage + SLOT_DELTA + S_RET(%rip), %rax
        movq    .Lpage + SLOT_DELTA + S_RCX(%rip), %rcx
        movq    .Lpage + SLOT_DELTA + S_R11(%rip), %r11
        movl    $0, .Lpage + SLOT_DELTA + S_STATE(%rip)
        popfq
        movq    .Lpage + SLOT_DELTA + S_RSP(%rip), %rsp
        jmp     *%rcx

        .globl  ud_entry
ud_entry:
        movq    %rax, .Lpage + SLOT_DELTA + S_RAX(%rip)
        movq    %rbx, .Lpage + SLOT_DELTA + S_RDI(%rip)
        movq    %rcx, .Lpage + SLOT_DELTA + S_RSI(%rip)
        movq    %rdx, .Lpage + SLOT_DELTA + S_RDX(%rip)
        movq    %rsi, .Lpage + SLOT_DELTA + S_R10(%rip)
        movq    %rdi, .Lpage + SLOT_DELTA + S_R8(%rip)
        movq    %rbp, .Lpage + SLOT_DELTA + S_R9(%rip)
        /* From here RAX and RCX are the slot's. */
        .globl  ud_saved
ud_saved:
        movl    $1, .Lpage + SLOT_DELTA + S_KIND(%rip)
        cmpl    $0, .Lpage + SLOT_DELTA + S_AWAKE(%rip)
        jne     ud_publish
        cmpl    $0, .Lpage + SLOT_DELTA + S_BELL(%rip)
        je      .Lud_exit
        .globl  ud_publish
ud_publish:
        publish_and_wait ud_done, .Lud_exit
.Lud_exit:
        /* Not made (0, 4): the host takes the #UD (state 6, UD_EXIT_NR;
         * the program's RAX is in the slot). Made, to finish at the exit
         * (5): RESUME_NR. */
        cmpl    $5, .Lpage + SLOT_DELTA + S_STATE(%rip)
        jne     1f
        movq    $RESUME_NR, %rax
        jmp     2f
1:      movl    $UD_EXIT, .Lpage + SLOT_DELTA + S_STATE(%rip)
        movq    $UD_EXIT_NR, %rax
2:      movq    .Lpage + SLOT_DELTA + S_RSI(%rip), %rcx
        movq    .Lpage + SLOT_DELTA + S_FRAME + 24(%rip), %rsp
        jmp     *.Lstub(%rip)
        .globl  ud_done
ud_done:
        /* RSP is the frame: return past the `cd 80` with its flags. */
        movq    (%rsp), %rax
        addq    $2, %rax
        movq    %rax, .Lpage + SLOT_DELTA + S_URIP(%rip)
        movq    .Lpage + SLOT_DELTA + S_RET(%rip), %rax
        movq    .Lpage + SLOT_DELTA + S_RSI(%rip), %rcx
        movl    $0, .Lpage + SLOT_DELTA + S_STATE(%rip)
        pushq   16(%rsp)
        popfq
        movq    24(%rsp), %rsp
        jmp     *.Lpage + SLOT_DELTA + S_URIP(%rip)
        .globl  gate_end
gate_end:
        /* The stub's LSTAR (supervisor-only): the host writes it here. */
        .balign 8
        .globl  gate_stub_entry
gate_stub_entry:
.Lstub:
        .quad   0
