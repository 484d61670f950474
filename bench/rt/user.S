/* The way into ring 3 and back for a guest kernel that times ring-3 code
 * (bench/nano, bench/touch's faultk): rt_enter_user runs a function in
 * ring 3 and returns once it has returned, through INT RT_VEC_LEAVE_USER
 * (rt_leave_user_entry, a DPL-3 gate). The ring-0 stack (TSS.ESP0) and
 * the user stack are this file's. rt_user_init sets both up (guest.c). */
#include "guest.h"

	.text
/* rt_enter_user(void (*fn)(void)): fn runs with flat user segments, its
 * own stack and IF clear. */
	.globl rt_enter_user
rt_enter_user:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %eax
	movl %esp, kernel_esp
	movl $user_stack_top - 16, %ecx
	movl %eax, (%ecx)            /* user_trampoline pops it */
	pushl $RT_SEL_UDATA          /* SS */
	pushl %ecx                   /* ESP */
	pushl $0x2                   /* EFLAGS: IOPL 0, IF clear */
	pushl $RT_SEL_UCODE          /* CS */
	pushl $user_trampoline       /* EIP */
	movw $RT_SEL_UDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	iret

user_trampoline:
	popl %eax
	call *%eax
	int $RT_VEC_LEAVE_USER
1:	jmp 1b                       /* not reached */

/* INT RT_VEC_LEAVE_USER: drop the ring-0 frame and return from
 * rt_enter_user on the stack it was called on. */
	.globl rt_leave_user_entry
rt_leave_user_entry:
	movw $RT_SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movl kernel_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.bss
	.balign 4
kernel_esp:
	.skip 4
	.balign 16
	.skip 16384
	.globl rt_ring0_stack_top    /* TSS.ESP0 (and bench/nano's SYSENTER_ESP) */
rt_ring0_stack_top:
	.skip 16384
user_stack_top:

	.section .note.GNU-stack, "", @progbits
