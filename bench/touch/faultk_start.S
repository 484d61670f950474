/* The fault-heavy kernel's assembly (faultk.h): its system call and #PF
 * handlers, whose cost is what the kernel measures. The entry, the GDT,
 * the way into ring 3 and back and the catchers for every other exception
 * are the guest runtime's (bench/rt/guest.h). */
#include "faultk.h"

	.text

/* INT 0x80 from ring 3 (DPL-3 interrupt gate, stack from TSS.SS0:ESP0).
 * SYS_COUNT returns the count of system calls so far, SYS_UNMAP clears the
 * PTE of FAULT_VA page EBX and drops its TLB entry (as munmap or page
 * reclaim would), anything else returns -1. */
	.globl faultk_syscall_entry
faultk_syscall_entry:
	incl faultk_syscalls
	cmpl $SYS_COUNT, %eax
	jne 1f
	movl faultk_syscalls, %eax
	iret
1:	cmpl $SYS_UNMAP, %eax
	jne 2f
	cmpl $FAULT_PAGES, %ebx
	jae 2f
	movl $0, FPT_PHYS(,%ebx,4)
	movl %ebx, %eax
	shll $12, %eax
	invlpg FAULT_VA(%eax)
	xorl %eax, %eax
	iret
2:	movl $-1, %eax
	iret

/* #PF: a user access to a not-present page of FAULT_VA maps it to the next
 * frame in turn (FRAME_BASE + (faults % FRAMES) pages) and returns to
 * retry the access. Anything else goes to the runtime's catcher, which
 * reports it (rt_exception in faultk.c) and fails the run. */
	.globl faultk_pf_entry
faultk_pf_entry:
	pushl %eax
	pushl %ecx
	pushl %edx
	movl 12(%esp), %eax          /* error code: not present, user */
	andl $5, %eax
	cmpl $4, %eax
	jne 1f
	movl %cr2, %ecx
	subl $FAULT_VA, %ecx
	cmpl $FAULT_PAGES * PAGE, %ecx
	jae 1f
	shrl $12, %ecx
	movl faultk_next_frame, %eax
	movl %eax, %edx
	shll $12, %edx
	addl $FRAME_BASE + PTE_PUW, %edx
	movl %edx, FPT_PHYS(,%ecx,4)
	incl %eax
	cmpl $FRAMES, %eax
	jne 2f
	xorl %eax, %eax
2:	movl %eax, faultk_next_frame
	incl faultk_faults
	popl %edx
	popl %ecx
	popl %eax
	addl $4, %esp                /* the error code */
	iret
1:	popl %edx
	popl %ecx
	popl %eax
	pushl $VEC_PF
	jmp rt_catch_common

	.bss
	.balign 4
	.globl faultk_syscalls, faultk_faults, faultk_next_frame
faultk_syscalls:
	.skip 4
faultk_faults:
	.skip 4
faultk_next_frame:
	.skip 4

	.section .note.GNU-stack, "", @progbits
