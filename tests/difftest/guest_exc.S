/* The guest runner's exception stubs (32-bit flat, ring 0; the entry is
 * the guest runtime's, bench/rt/start.S). Each of vectors 0-31 has a stub
 * that records the vector and error code in CTRL; during a sequence the
 * common path stores the GPRs and the EIP/EFLAGS/ESP of the interrupted
 * code, without pushing anything more on the sequence's stack, and resumes
 * at dt_run_seq_fault on the CTRL stack. An exception outside a sequence
 * is a harness failure: dt_guest_panic. Also dt_load_gdt, for guest.c's
 * GDT with the FS and GS bases. */
#include "dt_abi.h"
#include "guest.h"

	.intel_syntax noprefix

	.text
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
	mov dword ptr ss:[DT_CTRL_BASE + DT_CTRL_VEC], \vec
	.if \err
	pop dword ptr ss:[DT_CTRL_BASE + DT_CTRL_ERR]
	.else
	mov dword ptr ss:[DT_CTRL_BASE + DT_CTRL_ERR], 0
	.endif
	jmp dt_exc_common
.endm

	.irp v, RT_EXCEPTION_VECTORS
	stub \v, RT_HAS_ERROR_CODE(\v)
	.endr

/* Through SS: a 16-bit sequence runs with DS and ES based elsewhere. */
dt_exc_common:
	mov ss:[DT_CTRL_BASE + 0], eax
	mov ss:[DT_CTRL_BASE + 4], ecx
	mov ss:[DT_CTRL_BASE + 8], edx
	mov ss:[DT_CTRL_BASE + 12], ebx
	mov ss:[DT_CTRL_BASE + 20], ebp
	mov ss:[DT_CTRL_BASE + 24], esi
	mov ss:[DT_CTRL_BASE + 28], edi
	pop dword ptr ss:[DT_CTRL_BASE + DT_CTRL_EIP]
	pop dword ptr ss:[DT_CTRL_BASE + 60]          /* CS */
	pop dword ptr ss:[DT_CTRL_BASE + DT_CTRL_EFLAGS]
	mov ss:[DT_CTRL_BASE + 16], esp
	mov esp, DT_CTRL_STACK_TOP
	cmp dword ptr ss:[dt_in_seq], 0
	je 1f
	jmp dt_run_seq_fault
1:	mov eax, ss
	mov ds, eax
	mov es, eax
	mov esp, offset rt_stack_top
	push dword ptr [DT_CTRL_BASE + DT_CTRL_EIP]
	push dword ptr [DT_CTRL_BASE + DT_CTRL_VEC]
	call dt_guest_panic
2:	hlt
	jmp 2b

	.section .rodata
	.balign 4
	.globl dt_exc_table
dt_exc_table:
	.irp v, RT_EXCEPTION_VECTORS
	.long dt_exc_\v
	.endr

	.section .note.GNU-stack, "", @progbits
