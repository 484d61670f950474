/* The guest runtime's exception catchers (rt/guest.h): one for each of
 * vectors 0-31, listed in rt_catchers for the IDT. Each pushes a zero
 * error code where the CPU pushes none, then the vector, and hands
 * rt_exception a pointer to { vector, error, eip, cs, eflags } on a stack
 * of its own. rt_catch_common is also the way in for a guest's own handler
 * that meets an exception it does not expect (bench/nano's #PF): push the
 * vector on top of the CPU's frame and jump there. */
#include "guest.h"

	.macro catcher vec
catch_\vec:
	.if !RT_HAS_ERROR_CODE(\vec)
	pushl $0
	.endif
	pushl $\vec
	jmp rt_catch_common
	.endm

	.text
	.irp v, RT_EXCEPTION_VECTORS
	catcher \v
	.endr

	.globl rt_catch_common
rt_catch_common:
	movl %esp, %eax
	/* Kernel data segments, in case the exception came from ring 3. */
	movw $RT_SEL_KDATA, %cx
	movw %cx, %ds
	movw %cx, %es
	movl $exc_stack_top, %esp    /* a stack of its own, in case ESP was bad */
	subl $12, %esp               /* ESP 16-byte aligned at the call */
	pushl %eax
	call rt_exception
1:	hlt
	jmp 1b

	.section .rodata
	.balign 4
	.globl rt_catchers
rt_catchers:
	.irp v, RT_EXCEPTION_VECTORS
	.long catch_\v
	.endr

	.bss
	.balign 16
	.skip 4096
exc_stack_top:

	.section .note.GNU-stack, "", @progbits
