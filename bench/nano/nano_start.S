/* The nanobenchmark guest's assembly: the handlers whose cost is being
 * measured (INT 0x80, SYSENTER, #PF). The entry, the GDT, the way into
 * ring 3 and back (rt_enter_user) and the catchers that report any other
 * exception through rt_exception (nano.c) are the guest runtime's
 * (bench/rt/guest.h). */
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

	.section .note.GNU-stack, "", @progbits
