/*
 * The guest side of `kvmcage bench`: a flat ring-3 program loaded at
 * BENCH_CODE by the host. For each phase it makes a marker syscall (the
 * host notes wall time and the exit count), runs one mechanism R13 times
 * between two RDTSCs, and stores the TSC delta at 8*phase(%r14).
 *
 * In:  r12 = address of the vDSO's __vdso_clock_gettime
 *      r13 = iterations per phase
 *      r14 = a writable page: results at 0..63, a timespec at 512
 * r15 = our pid (the signal phase).
 * Uses only callee-saved registers across calls (rbx, rbp, r12-r15).
 */
        .set    MARK, 0x70000001        /* marker: rdi = phase number */
        .set    BARE, 0x70000002        /* answered before dispatch */
        .globl  BENCH_MARK
        .set    BENCH_MARK, MARK
        .globl  BENCH_BARE
        .set    BENCH_BARE, BARE

        .text
        .code64
        .globl  bench_start
bench_start:
        /* Before the first marker, so no phase counts it: SIGUSR1's
         * handler (rt_sigaction with SA_RESTORER) and our pid in r15. */
        lea     1024(%r14), %rsi
        lea     sig_handler(%rip), %rax
        mov     %rax, (%rsi)
        movq    $0x04000000, 8(%rsi)    /* SA_RESTORER */
        lea     sig_restorer(%rip), %rax
        mov     %rax, 16(%rsi)
        movq    $0, 24(%rsi)            /* sa_mask */
        mov     $13, %eax               /* rt_sigaction */
        mov     $10, %edi               /* SIGUSR1 */
        xor     %edx, %edx
        mov     $8, %r10d
        syscall
        mov     $39, %eax               /* getpid */
        syscall
        mov     %rax, %r15

.macro  begin id
        mov     $MARK, %eax
        mov     $\id, %edi
        syscall
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %rbp
        mov     %r13, %rbx
.endm

.macro  end id
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        sub     %rbp, %rax
        mov     %rax, 8*\id(%r14)
.endm

        /* 0: syscall getpid, through the host */
        begin   0
1:      mov     $39, %eax
        syscall
        dec     %rbx
        jnz     1b
        end     0

        /* 1: int 0x80 getpid (i386 number 20) */
        begin   1
1:      mov     $20, %eax
        int     $0x80
        dec     %rbx
        jnz     1b
        end     1

        /* 2: clock_gettime(CLOCK_MONOTONIC) through the vDSO */
        begin   2
1:      mov     $1, %edi
        lea     512(%r14), %rsi
        call    *%r12
        dec     %rbx
        jnz     1b
        end     2

        /* 3: clock_gettime(CLOCK_MONOTONIC) as a real syscall */
        begin   3
1:      mov     $228, %eax
        mov     $1, %edi
        lea     512(%r14), %rsi
        syscall
        dec     %rbx
        jnz     1b
        end     3

        /* 4: a bare hypercall: the run loop answers before dispatch */
        begin   4
1:      mov     $BARE, %eax
        syscall
        dec     %rbx
        jnz     1b
        end     4

        /* 5: kill(self, SIGUSR1) -> the handler -> rt_sigreturn */
        begin   5
1:      mov     $62, %eax               /* kill */
        mov     %r15, %rdi
        mov     $10, %esi
        syscall
        dec     %rbx
        jnz     1b
        end     5

        begin   6                       /* closes phase 5 */
        mov     $231, %eax              /* exit_group(0) */
        xor     %edi, %edi
        syscall
        ud2

sig_handler:
        ret
sig_restorer:
        mov     $15, %eax               /* rt_sigreturn */
        syscall
        ud2
