/* Entry of the benchmark guest: the Multiboot v1 header, a flat GDT, an IDT
 * whose vectors 0-31 report the exception and end the guest, a stack, and
 * the call into bench_guest_main(magic, info) (rt/guest.c). */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003          /* page-align modules, memory info */

#define SEL_CODE 0x08
#define SEL_DATA 0x10

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
	ljmp $SEL_CODE, $1f
1:	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss

	/* IDT: 32 interrupt gates to the catchers below. */
	xorl %ecx, %ecx
2:	movl catch_table(,%ecx,4), %edx
	movl %edx, %eax
	andl $0xffff, %eax
	orl $(SEL_CODE << 16), %eax
	movl %eax, idt(,%ecx,8)
	andl $0xffff0000, %edx
	orl $0x8e00, %edx            /* present, DPL 0, 32-bit interrupt gate */
	movl %edx, idt+4(,%ecx,8)
	incl %ecx
	cmpl $32, %ecx
	jb 2b
	lidt idtr

	pushl $0x2                   /* EFLAGS: IF, DF and the rest clear */
	popfl
	/* The i386 Linux ABI that gcc compiles for keeps ESP 16-byte aligned
	 * at each call (SSE code keeps aligned spill slots on the stack). */
	subl $8, %esp
	pushl %edi
	pushl %esi
	call bench_guest_main
	/* bench_guest_main does not return. */
3:	hlt
	jmp 3b
	.size _start, . - _start

/* Catchers: push a zero error code where the CPU pushes none, then the
 * vector, and hand bench_guest_exception a pointer to
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
	movl $exc_stack_top, %esp    /* a stack of its own, in case ESP was bad */
	subl $12, %esp               /* aligned at the call, as above */
	pushl %eax
	call bench_guest_exception
4:	hlt
	jmp 4b

	.section .rodata
	.balign 4
catch_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long catch_\v
	.endr

	.data
	.balign 8
gdt:
	.quad 0                      /* null */
	.quad 0x00CF9A000000FFFF     /* 0x08 flat 32-bit code */
	.quad 0x00CF92000000FFFF     /* 0x10 flat 32-bit data */
gdt_end:
	.balign 4
	.word 0
gdtr:
	.word gdt_end - gdt - 1
	.long gdt
	.balign 4
	.word 0
idtr:
	.word 32 * 8 - 1
	.long idt

	.bss
	.balign 8
idt:
	.skip 32 * 8
	.balign 16
	.skip 65536
stack_top:
	.skip 4096
exc_stack_top:

	.section .note.GNU-stack, "", @progbits
