/* The fault-heavy kernel's assembly (faultk.h): its system call and #PF
 * handlers, whose cost is what the kernel measures, and the way into ring
 * 3 and back. The entry, the GDT and the catchers for every other
 * exception are the guest runtime's (bench/rt/guest.h). */
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

/* faultk_enter_user(void (*fn)(void)): run fn in ring 3 (flat user
 * segments, its own stack, IF clear) and return once it has returned. */
	.globl faultk_enter_user
faultk_enter_user:
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
	int $VEC_LEAVE_USER
3:	jmp 3b                       /* not reached */

/* INT 0x81 (DPL 3): drop the ring-0 frame and return from
 * faultk_enter_user on the stack it was called on. */
	.globl faultk_leave_user_entry
faultk_leave_user_entry:
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
	.globl faultk_syscalls, faultk_faults, faultk_next_frame
faultk_syscalls:
	.skip 4
faultk_faults:
	.skip 4
faultk_next_frame:
	.skip 4
kernel_esp:
	.skip 4
	.balign 16
	.skip 16384
	.globl faultk_ring0_stack_top  /* TSS.ESP0 */
faultk_ring0_stack_top:
	.skip 16384
user_stack_top:

	.section .note.GNU-stack, "", @progbits
