/* The guest runtime's entry (rt/guest.h): the Multiboot v1 header, a GDT
 * with flat kernel and user segments and a slot for a TSS, the boot stack,
 * and the call into guest_main(magic, info) with interrupts off. */
#include "guest.h"

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
	movl $rt_stack_top, %esp
	movl %eax, %esi              /* keep magic and info pointer */
	movl %ebx, %edi
	lgdt gdtr
	ljmp $RT_SEL_KCODE, $1f
1:	movw $RT_SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	pushl $0x2                   /* EFLAGS: IF, DF and the rest clear */
	popfl
	/* The i386 Linux ABI that gcc compiles for keeps ESP 16-byte aligned
	 * at each call (SSE code keeps aligned spill slots on the stack). */
	subl $8, %esp
	pushl %edi
	pushl %esi
	call guest_main
	/* guest_main does not return. */
2:	hlt
	jmp 2b
	.size _start, . - _start

	.data
	.balign 8
	.globl rt_gdt
rt_gdt:
	.quad 0                      /* null */
	.quad 0x00CF9A000000FFFF     /* 0x08 flat 32-bit code, DPL 0 */
	.quad 0x00CF92000000FFFF     /* 0x10 flat 32-bit data, DPL 0 */
	.quad 0x00CFFA000000FFFF     /* 0x18 flat 32-bit code, DPL 3 */
	.quad 0x00CFF2000000FFFF     /* 0x20 flat 32-bit data, DPL 3 */
	.quad 0                      /* 0x28 TSS, for the guest to fill in */
gdt_end:
	.balign 4
	.word 0
gdtr:
	.word gdt_end - rt_gdt - 1
	.long rt_gdt

	.bss
	.balign 16
	.skip 65536
	.globl rt_stack_top
rt_stack_top:

	.section .note.GNU-stack, "", @progbits
