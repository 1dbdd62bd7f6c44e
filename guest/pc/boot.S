/* guest/pc/boot.S - payload entry and interrupt entry points.
 *
 * The VMM starts each vCPU here already in long mode, with RDI = vCPU
 * index and RSP = the top of its stack. Interrupt handlers touch only
 * general-purpose registers: the workloads' SSE state belongs to them and
 * is exactly what a migration must carry, so the timer must not disturb it.
 */
#include "guest/pc/pc_asm.h"

	.code64
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	cld
	call	pc_main
1:	cli
	hlt
	jmp	1b

	.text
/* Timer interrupt: count it for this vCPU (x2APIC ID = vCPU index), EOI. */
	.globl pc_isr_timer
pc_isr_timer:
	push	%rax
	push	%rcx
	push	%rdx
	mov	$0x802, %ecx
	rdmsr
	cmp	$PC_MAX_VCPUS, %eax
	jae	1f
	lock incq PC_TICKS_ADDR(,%rax,8)
1:	mov	$0x80b, %ecx
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq

/* pc_enter_user(rip, rsp, arg): drop to ring 3 with interrupts on; never
 * returns. */
	.globl pc_enter_user
pc_enter_user:
	mov	%rdx, %rax
	pushq	$PC_USER_SS
	pushq	%rsi
	pushq	$0x202
	pushq	$PC_USER_CS
	pushq	%rdi
	mov	%rax, %rdi
	iretq

/* Spurious interrupts need no EOI. */
	.globl pc_isr_spurious
pc_isr_spurious:
	iretq

/* Exceptions are fatal: tell the VMM which vector, then stop. The VMM
 * reads the faulting RIP from the frame on this vCPU's stack. */
	.macro EXC n
exc_\n:
	mov	$\n, %eax
	jmp	exc_common
	.endm

	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXC \n
	.endr

exc_common:
	mov	$PC_PORT_PANIC, %dx
	outl	%eax, %dx
1:	cli
	hlt
	jmp	1b

	.section .rodata
	.globl pc_exc_table
	.balign 8
pc_exc_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc_\n
	.endr
	.section .note.GNU-stack, "", @progbits
