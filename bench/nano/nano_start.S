/* The nanobenchmark guest's assembly: the handlers whose cost is being
 * measured (INT 0x80, SYSENTER, #PF) and the way into ring 3 and back
 * (nano_enter_user, INT 0x81). The entry, the GDT and the catchers that
 * report any other exception through rt_exception (nano.c) are the guest
 * runtime's (bench/rt/guest.h). */
#include "nano.h"

	.text

/* INT 0x80 from ring 3 (DPL-3 interrupt gate, stack from TSS.SS0:ESP0):
 * the smallest system call there is. */
	.globl nano_int80_entry
nano_int80_entry:
	addl $1, %eax
	iret

/* SYSENTER (CS, ESP and EIP from MSRs 0x174-0x176): the same, returning
 * with SYSEXIT to EDX with ESP = ECX, which the caller set. */
	.globl nano_sysenter_entry
nano_sysenter_entry:
	addl $1, %eax
	sysexit

/* #PF: a not-present read of a page in the FAULT_VA region with the error
 * code nano_pf_expect_err maps the page (to FAULT_PHYS + the same offset)
 * and returns to retry the access. Anything else is reported as an
 * unexpected exception 14. */
	.globl nano_pf_entry
nano_pf_entry:
	pushl %eax
	pushl %ecx
	movl 8(%esp), %eax           /* error code */
	cmpl nano_pf_expect_err, %eax
	jne 1f
	movl %cr2, %eax
	subl $FAULT_VA, %eax
	cmpl $FAULT_PAGES * PAGE, %eax
	jae 1f
	movl %eax, %ecx
	shrl $12, %ecx
	andl $~(PAGE - 1), %eax
	addl $FAULT_PHYS + PTE_PUW, %eax
	movl %eax, PT_FAULT(,%ecx,4)
	incl nano_pf_count
	popl %ecx
	popl %eax
	addl $4, %esp                /* the error code */
	iret
1:	popl %ecx
	popl %eax
	pushl $VEC_PF
	jmp rt_catch_common

/* nano_enter_user(void (*fn)(void)): run fn in ring 3 (flat user segments,
 * its own stack, IF clear) and return here once it has returned. */
	.globl nano_enter_user
nano_enter_user:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %eax
	movl %esp, kernel_esp
	movl $user_stack_top - 16, %ecx
	movl %eax, (%ecx)            /* user_trampoline pops it */
	pushl $SEL_UDATA             /* SS */
	pushl %ecx                   /* ESP */
	pushl $0x2                   /* EFLAGS: IOPL 0, IF clear */
	pushl $SEL_UCODE             /* CS */
	pushl $user_trampoline       /* EIP */
	movw $SEL_UDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	iret

user_trampoline:
	popl %eax
	call *%eax
	int $VEC_LEAVE_USER
3:	jmp 3b                       /* not reached */

/* INT 0x81 (DPL 3): drop the ring-0 frame and return from nano_enter_user
 * on the stack it was called on. */
	.globl nano_leave_user_entry
nano_leave_user_entry:
	movw $SEL_KDATA, %ax
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
	.globl nano_ring0_stack_top  /* TSS.ESP0 and SYSENTER_ESP */
nano_ring0_stack_top:
	.skip 16384
user_stack_top:

	.section .note.GNU-stack, "", @progbits
