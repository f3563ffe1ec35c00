/*
 * The process rows of `kvmcage bench`: a static ELF with no C library
 * (build.rs links it; bench.rs runs the same file natively and under
 * kvmcage). It times one workload with clock_gettime(CLOCK_MONOTONIC)
 * and writes the nanoseconds it took, as 8 raw bytes, to stdout.
 *
 *   procbench f N   N times: fork; the child _exits; the parent wait4s
 *   procbench v N   N times: vfork; the child execve's this file
 *                   (/proc/self/exe) with argument "x", which _exits at
 *                   once; the parent wait4s
 *   procbench p N   a 3-process pipeline moving N MiB: a child writes
 *                   them into a pipe in 64 KiB writes, a second child
 *                   copies that pipe to another, the parent reads it to
 *                   EOF and waits for both
 *   procbench t N   N times: clone a thread (pthread_create's flags)
 *                   that exits at once; join it (the futex word
 *                   CLONE_CHILD_CLEARTID clears and wakes)
 *   procbench a N   N units of compute-bound work on one thread
 *   procbench b N   the same N units split between two threads (the
 *                   main one and a clone), joined as above
 *   procbench g N   N getpid calls
 *   procbench i N   N getpid calls by int 0x80 (i386 number 20)
 *   procbench s N   N getpid calls, each after 1 ms of computing (so
 *                   that kvmcage's service thread has gone to sleep);
 *                   only the calls are timed, by rdtsc calibrated
 *                   against CLOCK_MONOTONIC over the first 10 ms
 *   procbench r N   N 4 KiB pread64s at offset 0 of this file
 *                   (/proc/self/exe, opened first)
 *   procbench q N   N rounds of a 1-byte write into a pipe and a
 *                   1-byte read back out of it
 *   procbench x     exit(0) (the vfork child's new image)
 *
 * Exit status 0 on success, 1 on a failed call, 2 on bad arguments.
 */
        .set    SYS_read, 0
        .set    SYS_write, 1
        .set    SYS_open, 2
        .set    SYS_close, 3
        .set    SYS_pread64, 17
        .set    SYS_getpid, 39
        .set    SYS_clone, 56
        .set    SYS_futex, 202
        .set    SYS_pipe, 22
        .set    SYS_dup2, 33
        .set    SYS_fork, 57
        .set    SYS_vfork, 58
        .set    SYS_execve, 59
        .set    SYS_exit, 60
        .set    SYS_wait4, 61
        .set    SYS_clock_gettime, 228
        .set    SYS_exit_group, 231
        .set    BUF, 65536
        /* CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|PARENT_SETTID|
         * CHILD_CLEARTID: what glibc's pthread_create passes, less TLS. */
        .set    THREAD_FLAGS, 0x350f00
        .set    WORK_ITERS, 1048576

        .text
        .globl  _start
_start:
        mov     (%rsp), %rbx            /* argc */
        lea     8(%rsp), %rbp           /* argv */
        cmp     $2, %rbx
        jb      bad
        mov     8(%rbp), %rax           /* argv[1] */
        movzbl  (%rax), %r12d           /* mode letter */
        cmp     $'x', %r12d
        je      exit0
        cmp     $3, %rbx
        jb      bad
        mov     16(%rbp), %rdi          /* argv[2]: N in decimal */
        xor     %r13, %r13
1:      movzbl  (%rdi), %eax
        test    %eax, %eax
        jz      2f
        sub     $'0', %eax
        cmp     $9, %eax
        ja      bad
        imul    $10, %r13, %r13
        add     %rax, %r13
        inc     %rdi
        jmp     1b
2:      test    %r13, %r13
        jz      bad
        lea     t0(%rip), %rsi
        call    now
        cmp     $'f', %r12d
        je      do_fork
        cmp     $'v', %r12d
        je      do_vfork
        cmp     $'p', %r12d
        je      do_pipe
        cmp     $'t', %r12d
        je      do_thread
        cmp     $'a', %r12d
        je      do_work1
        cmp     $'b', %r12d
        je      do_work2
        cmp     $'g', %r12d
        je      do_getpid
        cmp     $'i', %r12d
        je      do_int80
        cmp     $'s', %r12d
        je      do_sparse
        cmp     $'r', %r12d
        je      do_pread
        cmp     $'q', %r12d
        je      do_pingpong
        jmp     bad

/* getpid, r13 times */
do_getpid:
1:      mov     $SYS_getpid, %eax
        syscall
        dec     %r13
        jnz     1b
        jmp     done

/* getpid by int 0x80, r13 times */
do_int80:
1:      mov     $20, %eax
        int     $0x80
        test    %eax, %eax
        jle     fail
        dec     %r13
        jnz     1b
        jmp     done

/* getpid after 1 ms of computing, r13 times: the calls' TSC cycles in
 * r12, the TSC's cycles per ms in r15 */
do_sparse:
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %r14
1:      lea     t1(%rip), %rsi
        call    now
        call    elapsed
        cmp     $10000000, %rax
        jb      1b
        mov     %rax, %rcx
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        sub     %r14, %rax
        imul    $1000000, %rax, %rax
        xor     %edx, %edx
        div     %rcx
        mov     %rax, %r15
        test    %r15, %r15
        jz      fail
        xor     %r12, %r12
2:      rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        lea     (%rax,%r15), %rbx
3:      pause
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        cmp     %rbx, %rax
        jb      3b
        lfence
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %r14
        mov     $SYS_getpid, %eax
        syscall
        test    %rax, %rax
        jle     fail
        rdtscp
        shl     $32, %rdx
        or      %rdx, %rax
        sub     %r14, %rax
        add     %rax, %r12
        dec     %r13
        jnz     2b
        mov     %r12, %rax
        imul    $1000000, %rax, %rax
        xor     %edx, %edx
        div     %r15
        jmp     emit

/* t1 - t0 in ns, in rax */
elapsed:
        mov     t1(%rip), %rax
        sub     t0(%rip), %rax
        imul    $1000000000, %rax, %rax
        add     t1+8(%rip), %rax
        sub     t0+8(%rip), %rax
        ret

/* pread64(this file, buf, 4096, 0), r13 times */
do_pread:
        lea     self(%rip), %rdi
        xor     %esi, %esi              /* O_RDONLY */
        xor     %edx, %edx
        mov     $SYS_open, %eax
        syscall
        test    %rax, %rax
        js      fail
        mov     %rax, %r14
1:      mov     %r14, %rdi
        lea     buf(%rip), %rsi
        mov     $4096, %edx
        xor     %r10, %r10
        mov     $SYS_pread64, %eax
        syscall
        cmp     $4096, %rax
        jne     fail
        dec     %r13
        jnz     1b
        jmp     done

/* a byte into a pipe and back out, r13 times */
do_pingpong:
        lea     p1(%rip), %rdi
        mov     $SYS_pipe, %eax
        syscall
        test    %rax, %rax
        jnz     fail
1:      movslq  p1+4(%rip), %rdi
        lea     buf(%rip), %rsi
        mov     $1, %edx
        mov     $SYS_write, %eax
        syscall
        cmp     $1, %rax
        jne     fail
        movslq  p1(%rip), %rdi
        lea     buf(%rip), %rsi
        mov     $1, %edx
        mov     $SYS_read, %eax
        syscall
        cmp     $1, %rax
        jne     fail
        dec     %r13
        jnz     1b
        jmp     done

/* clone a thread that exits at once, and join it; r13 times */
do_thread:
        lea     thread_exit(%rip), %r14
1:      call    spawn
        call    join
        dec     %r13
        jnz     1b
        jmp     done

/* r13 units of work on this thread */
do_work1:
        mov     %r13, %r15
        call    work
        jmp     done

/* r13 units of work, half on a second thread */
do_work2:
        mov     %r13, %r15
        shr     $1, %r15                /* the clone's share */
        sub     %r15, %r13              /* ours */
        lea     thread_work(%rip), %r14
        call    spawn
        mov     %r13, %r15
        call    work
        call    join
        jmp     done

/* A thread that runs at *%r14 on tstack, with tid's word set to its id
 * (PARENT_SETTID) until it exits (CHILD_CLEARTID). */
spawn:
        mov     $THREAD_FLAGS, %edi
        lea     tstack_top(%rip), %rsi
        lea     tid(%rip), %rdx
        mov     %rdx, %r10
        xor     %r8, %r8
        mov     $SYS_clone, %eax
        syscall
        test    %rax, %rax
        js      fail
        jz      1f
        ret
1:      jmp     *%r14                   /* the new thread, on tstack */

/* Wait until the thread spawn made has exited (pthread_join's wait). */
join:
1:      mov     tid(%rip), %edx
        test    %edx, %edx
        jz      2f
        lea     tid(%rip), %rdi
        xor     %esi, %esi              /* FUTEX_WAIT */
        xor     %r10, %r10
        mov     $SYS_futex, %eax
        syscall
        jmp     1b
2:      ret

thread_work:
        call    work
thread_exit:
        xor     %edi, %edi
        mov     $SYS_exit, %eax         /* this thread only */
        syscall
        jmp     fail

/* r15 units of a dependent multiply-add chain, WORK_ITERS steps each */
work:
        test    %r15, %r15
        jz      3f
1:      mov     $WORK_ITERS, %ecx
        mov     $12345, %eax
2:      imul    $1103515245, %eax, %eax
        add     $12345, %eax
        dec     %ecx
        jnz     2b
        dec     %r15
        jnz     1b
3:      ret

/* fork + _exit + wait4, r13 times */
do_fork:
        mov     $SYS_fork, %eax
        syscall
        test    %rax, %rax
        js      fail
        jz      exit0
        call    reap
        dec     %r13
        jnz     do_fork
        jmp     done

/* vfork + execve(self, {self, "x"}) + wait4, r13 times */
do_vfork:
        mov     (%rbp), %rax            /* argv[0] */
        lea     xargv(%rip), %rdi
        mov     %rax, (%rdi)
        lea     xarg(%rip), %rax
        mov     %rax, 8(%rdi)
        movq    $0, 16(%rdi)
1:      mov     $SYS_vfork, %eax
        syscall
        test    %rax, %rax
        js      fail
        jnz     2f
        lea     self(%rip), %rdi
        lea     xargv(%rip), %rsi
        xor     %edx, %edx
        mov     $SYS_execve, %eax
        syscall
        mov     $127, %edi
        mov     $SYS_exit, %eax
        syscall
2:      call    reap
        dec     %r13
        jnz     1b
        jmp     done

/* writer | copier | parent, r13 MiB */
do_pipe:
        shl     $4, %r13                /* 64 KiB writes: 16 per MiB */
        lea     p1(%rip), %rdi
        mov     $SYS_pipe, %eax
        syscall
        test    %rax, %rax
        jnz     fail
        lea     p2(%rip), %rdi
        mov     $SYS_pipe, %eax
        syscall
        test    %rax, %rax
        jnz     fail
        mov     $SYS_fork, %eax         /* the writer */
        syscall
        test    %rax, %rax
        js      fail
        jnz     1f
        movslq  p1+4(%rip), %r14        /* write end of p1 */
2:      mov     %r14, %rdi
        lea     buf(%rip), %rsi
        mov     $BUF, %edx
        mov     $SYS_write, %eax
        syscall
        cmp     $BUF, %rax
        jne     fail
        dec     %r13
        jnz     2b
        jmp     exit0
1:      mov     $SYS_fork, %eax         /* the copier */
        syscall
        test    %rax, %rax
        js      fail
        jnz     3f
        movslq  p1+4(%rip), %rdi        /* not a writer of p1 */
        mov     $SYS_close, %eax
        syscall
        movslq  p2(%rip), %rdi          /* not a reader of p2 */
        mov     $SYS_close, %eax
        syscall
4:      movslq  p1(%rip), %rdi
        lea     buf(%rip), %rsi
        mov     $BUF, %edx
        mov     $SYS_read, %eax
        syscall
        test    %rax, %rax
        js      fail
        jz      exit0
        mov     %rax, %r15
        lea     buf(%rip), %r14
5:      movslq  p2+4(%rip), %rdi
        mov     %r14, %rsi
        mov     %r15, %rdx
        mov     $SYS_write, %eax
        syscall
        test    %rax, %rax
        jle     fail
        add     %rax, %r14
        sub     %rax, %r15
        jnz     5b
        jmp     4b
3:      /* the parent: reads p2 to EOF */
        movslq  p1(%rip), %rdi
        mov     $SYS_close, %eax
        syscall
        movslq  p1+4(%rip), %rdi
        mov     $SYS_close, %eax
        syscall
        movslq  p2+4(%rip), %rdi
        mov     $SYS_close, %eax
        syscall
        xor     %r14, %r14              /* bytes read */
6:      movslq  p2(%rip), %rdi
        lea     buf(%rip), %rsi
        mov     $BUF, %edx
        mov     $SYS_read, %eax
        syscall
        test    %rax, %rax
        js      fail
        jz      7f
        add     %rax, %r14
        jmp     6b
7:      shl     $16, %r13
        cmp     %r13, %r14
        jne     fail
        call    reap
        call    reap
        jmp     done

/* wait4(-1, &status, 0, NULL); fail unless a child exited with 0 */
reap:
        mov     $-1, %rdi
        lea     status(%rip), %rsi
        xor     %edx, %edx
        xor     %r10, %r10
        mov     $SYS_wait4, %eax
        syscall
        test    %rax, %rax
        jle     fail
        mov     status(%rip), %eax
        test    %eax, %eax
        jnz     fail
        ret

/* clock_gettime(CLOCK_MONOTONIC, rsi) */
now:
        mov     $1, %edi
        mov     $SYS_clock_gettime, %eax
        syscall
        ret

done:
        lea     t1(%rip), %rsi
        call    now
        call    elapsed
emit:
        mov     %rax, ns(%rip)
        mov     $1, %edi
        lea     ns(%rip), %rsi
        mov     $8, %edx
        mov     $SYS_write, %eax
        syscall
        cmp     $8, %rax
        jne     fail
exit0:
        xor     %edi, %edi
        mov     $SYS_exit_group, %eax
        syscall
fail:
        mov     $1, %edi
        mov     $SYS_exit_group, %eax
        syscall
bad:
        mov     $2, %edi
        mov     $SYS_exit_group, %eax
        syscall

        .section .rodata
xarg:   .asciz  "x"
self:   .asciz  "/proc/self/exe"

        .bss
        .align  16
t0:     .skip   16
t1:     .skip   16
ns:     .skip   8
status: .skip   8
p1:     .skip   8
p2:     .skip   8
xargv:  .skip   24
tid:    .skip   8
        .align  16
tstack: .skip   16384
tstack_top:
        .align  4096
buf:    .skip   BUF

        .section .note.GNU-stack, "", @progbits
