/* The guest runner's entry and exception stubs (Multiboot v1, 32-bit flat,
 * ring 0). Each of vectors 0-31 has a stub that records the vector and error
 * code in CTRL; during a sequence the common path stores the GPRs and the
 * EIP/EFLAGS/ESP of the interrupted code, without pushing anything more on
 * the sequence's stack, and resumes at dt_run_seq_fault on the CTRL stack.
 * An exception outside a sequence is a harness failure: dt_guest_panic. */
#include "dt_abi.h"

	.intel_syntax noprefix

	.section .multiboot, "a"
	.balign 4
	.long 0x1badb002
	.long 0x00000003
	.long -(0x1badb002 + 0x00000003)

	.bss
	.balign 16
dt_guest_stack:
	.skip 65536
dt_guest_stack_top:

	.text
	.globl _start
_start:
	mov esp, offset dt_guest_stack_top
	push 2
	popfd
	push ebx
	push eax
	call dt_guest_main
1:	hlt
	jmp 1b

/* void dt_load_gdt(const void *gdtr, unsigned data_sel); the code
 * selector is 0x08 (a far JMP, not a far RET: btvm has no far RET yet). */
	.globl dt_load_gdt
dt_load_gdt:
	mov eax, [esp + 4]
	lgdt [eax]
	mov eax, [esp + 8]
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov fs, ax
	mov gs, ax
	ljmp 0x08, offset 2f
2:	ret

.macro stub vec, err
dt_exc_\vec:
	mov dword ptr [DT_CTRL_BASE + DT_CTRL_VEC], \vec
	.if \err
	pop dword ptr [DT_CTRL_BASE + DT_CTRL_ERR]
	.else
	mov dword ptr [DT_CTRL_BASE + DT_CTRL_ERR], 0
	.endif
	jmp dt_exc_common
.endm

	stub 0, 0
	stub 1, 0
	stub 2, 0
	stub 3, 0
	stub 4, 0
	stub 5, 0
	stub 6, 0
	stub 7, 0
	stub 8, 1
	stub 9, 0
	stub 10, 1
	stub 11, 1
	stub 12, 1
	stub 13, 1
	stub 14, 1
	stub 15, 0
	stub 16, 0
	stub 17, 1
	stub 18, 0
	stub 19, 0
	stub 20, 0
	stub 21, 1
	stub 22, 0
	stub 23, 0
	stub 24, 0
	stub 25, 0
	stub 26, 0
	stub 27, 0
	stub 28, 0
	stub 29, 1
	stub 30, 1
	stub 31, 0

dt_exc_common:
	mov [DT_CTRL_BASE + 0], eax
	mov [DT_CTRL_BASE + 4], ecx
	mov [DT_CTRL_BASE + 8], edx
	mov [DT_CTRL_BASE + 12], ebx
	mov [DT_CTRL_BASE + 20], ebp
	mov [DT_CTRL_BASE + 24], esi
	mov [DT_CTRL_BASE + 28], edi
	pop dword ptr [DT_CTRL_BASE + DT_CTRL_EIP]
	pop dword ptr [DT_CTRL_BASE + 60]          /* CS */
	pop dword ptr [DT_CTRL_BASE + DT_CTRL_EFLAGS]
	mov [DT_CTRL_BASE + 16], esp
	mov esp, DT_CTRL_STACK_TOP
	cmp dword ptr [dt_in_seq], 0
	je 1f
	jmp dt_run_seq_fault
1:	mov esp, offset dt_guest_stack_top
	push dword ptr [DT_CTRL_BASE + DT_CTRL_EIP]
	push dword ptr [DT_CTRL_BASE + DT_CTRL_VEC]
	call dt_guest_panic
2:	hlt
	jmp 2b

	.section .rodata
	.balign 4
	.globl dt_exc_table
dt_exc_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long dt_exc_\v
	.endr

	.section .note.GNU-stack, "", @progbits
