/* Privileged and forbidden operations from ring 3, chosen by argv[1]'s
 * first byte. Each must kill the program with SIGSEGV (#GP or #PF), natively
 * and in the sandbox; none may reach the host.
 *   h hlt   c cli   s sti   l lgdt   m mov %rax,%cr3   w wrmsr   r rdmsr
 *   i in    o out to kvmcage's hypercall port (0xf5)   v invlpg
 *   K write the kernel half   S read the stub   X jump into the stub
 *   N jump to a non-canonical address   L jump to LSTAR with a
 *   non-canonical RCX   G jump to LSTAR with a kernel RCX */
	.globl _start
	.text
_start:
	mov	16(%rsp), %rsi		/* argv[1] */
	test	%rsi, %rsi
	jz	done
	movzbl	(%rsi), %eax
	cmp	$'h', %al; je do_hlt
	cmp	$'c', %al; je do_cli
	cmp	$'s', %al; je do_sti
	cmp	$'l', %al; je do_lgdt
	cmp	$'m', %al; je do_cr3
	cmp	$'w', %al; je do_wrmsr
	cmp	$'r', %al; je do_rdmsr
	cmp	$'i', %al; je do_in
	cmp	$'o', %al; je do_out
	cmp	$'v', %al; je do_invlpg
	cmp	$'K', %al; je do_kwrite
	cmp	$'S', %al; je do_kread
	cmp	$'X', %al; je do_kexec
	cmp	$'N', %al; je do_noncanon
	cmp	$'L', %al; je do_lstar_noncanon
	cmp	$'G', %al; je do_lstar_kernel
done:
	mov	$231, %eax
	xor	%edi, %edi
	syscall
do_hlt:	hlt
	jmp	survived
do_cli:	cli
	jmp	survived
do_sti:	sti
	jmp	survived
do_lgdt: lgdt	gdtr(%rip)
	jmp	survived
do_cr3:	xor	%eax, %eax
	mov	%rax, %cr3
	jmp	survived
do_wrmsr: mov	$0xc0000082, %ecx	/* LSTAR */
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	jmp	survived
do_rdmsr: mov	$0xc0000082, %ecx
	rdmsr
	jmp	survived
do_in:	in	$0xf5, %al
	jmp	survived
do_out:	mov	$39, %eax
	out	%al, $0xf5
	jmp	survived
do_invlpg: invlpg (%rsp)
	jmp	survived
do_kwrite: movabs $0xffffffff80001000, %rax	/* the GDT page */
	movq	$0, (%rax)
	jmp	survived
do_kread: movabs $0xffffffff80000000, %rax	/* the stub */
	mov	(%rax), %rax
	jmp	survived
do_kexec: movabs $0xffffffff80000010, %rax	/* a vector entry */
	jmp	*%rax
do_noncanon: movabs $0x0000800000000000, %rax
	jmp	*%rax
do_lstar_noncanon: movabs $0x0000800000000000, %rcx
	jmp	lstar
do_lstar_kernel: movabs $0xffffffff80000005, %rcx
lstar:	mov	$39, %eax		/* getpid, if taken as a syscall */
	movabs $0xffffffff80000000, %rdx
	jmp	*%rdx
survived:
	mov	$1, %eax
	mov	$1, %edi
	lea	msg(%rip), %rsi
	mov	$len, %edx
	syscall
	mov	$231, %eax
	mov	$3, %edi
	syscall
	.section .rodata
gdtr:	.word 0
	.quad 0
msg:	.ascii "survived a forbidden operation\n"
	.set len, . - msg
	.section .note.GNU-stack,"",@progbits
