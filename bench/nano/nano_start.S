/* The nanobenchmark guest's assembly: Multiboot header and entry, the GDT
 * (kernel and user segments, the TSS), the handlers whose cost is being
 * measured (INT 0x80, SYSENTER, #PF), the way into ring 3 and back
 * (nano_enter_user, INT 0x81) and the catchers that report any other
 * exception through nano_exception (nano.c). */
#include "nano.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003          /* page-align modules, memory info */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
	.type _start, @function
_start:
	cli
	cld
	movl $stack_top, %esp
	movl %eax, %esi              /* keep magic and info pointer */
	movl %ebx, %edi
	lgdt gdtr
	ljmp $SEL_KCODE, $1f
1:	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	pushl $0x2                   /* EFLAGS: IF, DF and the rest clear */
	popfl
	subl $8, %esp                /* ESP 16-byte aligned at the call */
	pushl %edi
	pushl %esi
	call nano_main
2:	hlt
	jmp 2b
	.size _start, . - _start

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
	jmp catch_common

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

/* Catchers for vectors 0-31: push a zero error code where the CPU pushes
 * none, then the vector, and hand nano_exception a pointer to
 * { vector, error, eip, cs, eflags }. */
	.macro catcher vec
catch_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushl $0
	.endif
	pushl $\vec
	jmp catch_common
	.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	catcher \v
	.endr

catch_common:
	movl %esp, %eax
	movw $SEL_KDATA, %cx
	movw %cx, %ds
	movw %cx, %es
	movl $exc_stack_top, %esp    /* a stack of its own, in case ESP was bad */
	subl $12, %esp
	pushl %eax
	call nano_exception
4:	hlt
	jmp 4b

	.section .rodata
	.balign 4
	.globl nano_catchers
nano_catchers:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long catch_\v
	.endr

	.data
	.balign 8
	.globl nano_gdt
nano_gdt:
	.quad 0                      /* null */
	.quad 0x00CF9A000000FFFF     /* 0x08 flat 32-bit code, DPL 0 */
	.quad 0x00CF92000000FFFF     /* 0x10 flat 32-bit data, DPL 0 */
	.quad 0x00CFFA000000FFFF     /* 0x18 flat 32-bit code, DPL 3 */
	.quad 0x00CFF2000000FFFF     /* 0x20 flat 32-bit data, DPL 3 */
	.quad 0                      /* 0x28 TSS, filled in by nano.c */
gdt_end:
	.balign 4
	.word 0
gdtr:
	.word gdt_end - nano_gdt - 1
	.long nano_gdt

	.bss
	.balign 4
kernel_esp:
	.skip 4
	.balign 16
	.skip 65536
stack_top:
	.skip 4096
exc_stack_top:
	.skip 16384
	.globl nano_ring0_stack_top  /* TSS.ESP0 and SYSENTER_ESP */
nano_ring0_stack_top:
	.skip 16384
user_stack_top:

	.section .note.GNU-stack, "", @progbits
