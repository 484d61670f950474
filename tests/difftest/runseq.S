/* Entering and leaving a test sequence (32-bit, shared by the native and
 * the guest runner): load the FP/SSE state, FS/GS and seven GPRs from a
 * struct dt_run, put EFLAGS and ESP in CTRL for the sequence's prologue
 * (dt_abi.h), jump to the sequence through CTRL; the
 * sequence's epilogue stores the GPRs and EFLAGS to CTRL and comes back to
 * dt_seq_done. A fault handler (a signal handler natively, the IDT stubs in
 * the guest) stores the state at the fault instead and resumes at
 * dt_run_seq_fault on the CTRL stack. Both paths FXSAVE the final FP state,
 * restore the caller's segments and stack, and reset FP state (FNINIT,
 * default MXCSR, DF clear) for the C code. */
#include "dt_abi.h"

	.intel_syntax noprefix

	.bss
	.balign 16
	.globl dt_fxout
dt_fxout:
	.skip 512
	.globl dt_in_seq
dt_in_seq:
	.skip 4
dt_saved_esp:
	.skip 4
	.globl dt_saved_gs, dt_saved_fs, dt_saved_cs
dt_saved_gs:
	.skip 2
dt_saved_fs:
	.skip 2
dt_saved_cs:
	.skip 2

	.data
	.balign 4
dt_mxcsr_default:
	.long 0x1f80

	.text
/* int dt_run_seq(const struct dt_run *r) */
	.globl dt_run_seq
	.type dt_run_seq, @function
dt_run_seq:
	push ebp
	push ebx
	push esi
	push edi
	mov eax, [esp + 20]
	mov [dt_saved_esp], esp
	mov cx, gs
	mov [dt_saved_gs], cx
	mov cx, fs
	mov [dt_saved_fs], cx
	mov ecx, [eax + 36]
	fxrstor [ecx]
	mov cx, cs
	mov [dt_saved_cs], cx
	mov ecx, [eax + 52]
	mov [DT_CTRL_BASE + DT_CTRL_ENTRY], ecx
	mov [DT_CTRL_BASE + DT_CTRL_ENTRY_FAR], ecx
	mov ecx, [eax + 60]
	mov [DT_CTRL_BASE + DT_CTRL_ENTRY_FAR + 4], ecx
	mov dword ptr [DT_CTRL_BASE + DT_CTRL_DONE], offset dt_seq_done
	mov dword ptr [DT_CTRL_BASE + DT_CTRL_DONE_FAR], offset dt_seq_done
	movzx ecx, word ptr [dt_saved_cs]
	mov [DT_CTRL_BASE + DT_CTRL_DONE_FAR + 4], ecx
	mov ecx, [eax + 40]
	mov fs, cx
	mov ecx, [eax + 44]
	mov gs, cx
	mov ecx, [eax + 32]
	mov [DT_CTRL_BASE + DT_CTRL_EFLAGS_IN], ecx
	mov ecx, [eax + 16]
	mov [DT_CTRL_BASE + DT_CTRL_ESP_IN], ecx
	mov dword ptr [dt_in_seq], 1
	mov ecx, [eax + 4]
	mov edx, [eax + 8]
	mov ebx, [eax + 12]
	mov ebp, [eax + 20]
	mov esi, [eax + 24]
	mov edi, [eax + 28]
	cmp dword ptr [eax + 60], 0
	jne 1f
	mov eax, [eax]
	jmp dword ptr [DT_CTRL_BASE + DT_CTRL_ENTRY]
	/* 16-bit code: DS and ES get their own base, so what follows goes
	 * through SS, the flat segment */
1:	mov es, word ptr [eax + 56]
	mov ds, word ptr [eax + 56]
	mov eax, ss:[eax]
	jmp fword ptr ss:[DT_CTRL_BASE + DT_CTRL_ENTRY_FAR]

/* Both ways out first give DS and ES back the flat SS (which the sequence
 * cannot change); ECX is free, the GPRs are in CTRL by now. */
dt_seq_done:
	mov ecx, ss
	mov ds, ecx
	mov es, ecx
	mov dword ptr [dt_in_seq], 0
	pop dword ptr [DT_CTRL_BASE + DT_CTRL_EFLAGS]
	xor eax, eax
	jmp dt_seq_finish

	.globl dt_run_seq_fault
dt_run_seq_fault:
	mov ecx, ss
	mov ds, ecx
	mov es, ecx
	mov dword ptr [dt_in_seq], 0
	mov eax, 1
dt_seq_finish:
	fxsave [dt_fxout]
	mov esp, [dt_saved_esp]
	mov cx, [dt_saved_fs]
	mov fs, cx
	mov cx, [dt_saved_gs]
	mov gs, cx
	cld
	fninit
	ldmxcsr [dt_mxcsr_default]
	pop edi
	pop esi
	pop ebx
	pop ebp
	ret
	.size dt_run_seq, . - dt_run_seq

#ifdef DT_NATIVE
/* Signal handler entry: glibc keeps its thread pointer in GS, which a
 * sequence runs with its own selector in; put the process's back before
 * any C code runs, then continue in dt_sig_handler(sig, info, uc). */
	.globl dt_sig_entry
	.type dt_sig_entry, @function
dt_sig_entry:
	cmp dword ptr [dt_in_seq], 0
	je 1f
	mov ax, [dt_saved_gs]
	mov gs, ax
	mov ax, [dt_saved_fs]
	mov fs, ax
1:	jmp dt_sig_handler
	.size dt_sig_entry, . - dt_sig_entry
#endif

	.section .note.GNU-stack, "", @progbits
