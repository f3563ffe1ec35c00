/* No libc: write(1, msg, len) and exit_group(7) with raw `syscall`. */
	.globl _start
	.text
_start:
	mov	$1, %eax
	mov	$1, %edi
	lea	msg(%rip), %rsi
	mov	$len, %edx
	syscall
	mov	$231, %eax
	mov	$7, %edi
	syscall
	ud2
	.section .rodata
msg:	.ascii "raw syscall\n"
	.set len, . - msg
	.section .note.GNU-stack,"",@progbits
