/* The doors between the monitor and translated code: btvm_enter loads guest
 * state into host registers and jumps into the code cache; btvm_exit,
 * btvm_ibl_miss and btvm_leave come back out; btvm_callout runs a monitor
 * function in the middle of translated code and returns into it.
 *
 * Register convention inside translated code:
 *   eax ecx edx ebx ebp esi edi = the guest's own, r12d = guest esp,
 *   r15 = struct cpu *, r9 = a copy of cpu->poll_ptr (reloaded by every door
 *   on the way in; an attention request's signal handler rewrites it in
 *   the context it interrupted: cpu_request_attention_signal), r13 =
 *   argument to the doors, r8 r10 r11 r13 r14 scratch,
 *   host rsp = the monitor's stack, guest arithmetic flags in RFLAGS,
 *   GS.base = the active window. */
#include "translator/cpu_layout.h"

	.intel_syntax noprefix
	.text
/* The doors, from here to btvm_doors_end: a signal handler that finds a
 * context here may rewrite its r9 (each door reloads it before it enters
 * translated code, and nothing else here uses it). */
	.globl btvm_doors_begin
btvm_doors_begin:

.macro SAVE_GPRS
	mov [r15 + CPU_OFF_REGS + 0], eax
	mov [r15 + CPU_OFF_REGS + 4], ecx
	mov [r15 + CPU_OFF_REGS + 8], edx
	mov [r15 + CPU_OFF_REGS + 12], ebx
	mov [r15 + CPU_OFF_REGS + 16], r12d
	mov [r15 + CPU_OFF_REGS + 20], ebp
	mov [r15 + CPU_OFF_REGS + 24], esi
	mov [r15 + CPU_OFF_REGS + 28], edi
	pushfq
	pop qword ptr [r15 + CPU_OFF_RFLAGS]
.endm

.macro LOAD_GPRS
	push qword ptr [r15 + CPU_OFF_RFLAGS]
	popfq
	mov r9, [r15 + CPU_OFF_POLL_PTR]
	mov eax, [r15 + CPU_OFF_REGS + 0]
	mov ecx, [r15 + CPU_OFF_REGS + 4]
	mov edx, [r15 + CPU_OFF_REGS + 8]
	mov ebx, [r15 + CPU_OFF_REGS + 12]
	mov r12d, [r15 + CPU_OFF_REGS + 16]
	mov ebp, [r15 + CPU_OFF_REGS + 20]
	mov esi, [r15 + CPU_OFF_REGS + 24]
	mov edi, [r15 + CPU_OFF_REGS + 28]
.endm

/* The x87/SSE state on the way out: only XMM0-7 and MXCSR, which the
 * monitor's C code (libc's memcpy, the compiler's block moves) may
 * clobber; it never touches x87 or MMX registers, so those stay the
 * guest's in the hardware. cpu_fpu_materialize() puts the whole state in
 * cpu->fxsave for the few callouts that want it (FXSAVE, MASKMOVQ) and
 * sets fpu_full, after which the way in restores fxsave instead. FXSAVE
 * and FXRSTOR at every door cost more than a system call's other work. */
.macro SAVE_FPU_LIGHT
	movaps [r15 + CPU_OFF_XMM_LIGHT + 0], xmm0
	movaps [r15 + CPU_OFF_XMM_LIGHT + 16], xmm1
	movaps [r15 + CPU_OFF_XMM_LIGHT + 32], xmm2
	movaps [r15 + CPU_OFF_XMM_LIGHT + 48], xmm3
	movaps [r15 + CPU_OFF_XMM_LIGHT + 64], xmm4
	movaps [r15 + CPU_OFF_XMM_LIGHT + 80], xmm5
	movaps [r15 + CPU_OFF_XMM_LIGHT + 96], xmm6
	movaps [r15 + CPU_OFF_XMM_LIGHT + 112], xmm7
	stmxcsr [r15 + CPU_OFF_MXCSR_LIGHT]
	ldmxcsr [rip + host_mxcsr]
	mov byte ptr [r15 + CPU_OFF_FPU_FULL], 0
.endm

/* The way in: fxsave when a callout or the fault path filled it, else the
 * light copy. Flags are free here (LOAD_GPRS sets them after). */
.macro LOAD_FPU
	cmp byte ptr [r15 + CPU_OFF_FPU_FULL], 0
	je 101f
	fxrstor [r15 + CPU_OFF_FXSAVE]
	jmp 102f
101:	ldmxcsr [r15 + CPU_OFF_MXCSR_LIGHT]
	movaps xmm0, [r15 + CPU_OFF_XMM_LIGHT + 0]
	movaps xmm1, [r15 + CPU_OFF_XMM_LIGHT + 16]
	movaps xmm2, [r15 + CPU_OFF_XMM_LIGHT + 32]
	movaps xmm3, [r15 + CPU_OFF_XMM_LIGHT + 48]
	movaps xmm4, [r15 + CPU_OFF_XMM_LIGHT + 64]
	movaps xmm5, [r15 + CPU_OFF_XMM_LIGHT + 80]
	movaps xmm6, [r15 + CPU_OFF_XMM_LIGHT + 96]
	movaps xmm7, [r15 + CPU_OFF_XMM_LIGHT + 112]
102:
.endm

/* void btvm_enter(struct cpu *cpu, const void *host_code) */
	.globl btvm_enter
	.type btvm_enter, @function
btvm_enter:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8              /* keep the stack 16-byte aligned for callouts */
	mov r15, rdi
	mov [r15 + CPU_OFF_HOST_RSP], rsp
	mov r13, rsi
	LOAD_FPU
	LOAD_GPRS
	jmp r13
	.size btvm_enter, . - btvm_enter

/* Reached by a jmp from an exit stub with r13 = exit descriptor. */
	.globl btvm_exit
	.type btvm_exit, @function
btvm_exit:
	mov [r15 + CPU_OFF_EXIT], r13
	SAVE_GPRS
	SAVE_FPU_LIGHT
	jmp btvm_leave

/* Where the fault handler sends a context: the general registers were
 * taken from the signal frame, the x87/SSE state is still live here. */
	.globl btvm_fault_leave
btvm_fault_leave:
	fxsave [r15 + CPU_OFF_FXSAVE]
	mov byte ptr [r15 + CPU_OFF_FPU_FULL], 1
	ldmxcsr [rip + host_mxcsr]
	/* fall through */
	.globl btvm_leave
btvm_leave:
	mov rsp, [r15 + CPU_OFF_HOST_RSP]
	cld
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret
	.size btvm_exit, . - btvm_exit

/* Reached by a jmp from an indirect branch whose target the lookup table
 * did not hold; r13d = the guest target. */
	.globl btvm_ibl_miss
	.type btvm_ibl_miss, @function
btvm_ibl_miss:
	mov [r15 + CPU_OFF_SCRATCH], r13
	SAVE_GPRS
	SAVE_FPU_LIGHT
	cld
	mov rdi, r15
	call cpu_ibl_fast       /* reached by a jump: the stack is aligned */
	test rax, rax
	jz 1f
	mov r13, rax
	LOAD_FPU
	LOAD_GPRS
	jmp r13
	/* CPU_EXIT_INDIRECT (cpu.h): an indirect-branch miss for the run loop. */
1:	mov qword ptr [r15 + CPU_OFF_EXIT], 0
	jmp btvm_leave
	.size btvm_ibl_miss, . - btvm_ibl_miss


/* Reached by a call from translated code with r13 = callout descriptor.
 * enum callout_result cpu_callout(struct cpu *, const void *desc) returns
 * CALLOUT_GO_ON (0) to go on after the call, CALLOUT_STOP to leave
 * translated code (cpu state is then what the monitor left in struct cpu). */
	.globl btvm_callout
	.type btvm_callout, @function
btvm_callout:
	SAVE_GPRS
	SAVE_FPU_LIGHT
	cld
	mov rdi, r15
	mov rsi, r13
	sub rsp, 8
	call cpu_callout
	add rsp, 8
	test eax, eax
	jnz 1f
	LOAD_FPU
	LOAD_GPRS
	ret
1:
	jmp btvm_leave
	.size btvm_callout, . - btvm_callout

	.globl btvm_doors_end
btvm_doors_end:

	.section .rodata
	.balign 4
host_mxcsr:
	.long 0x1f80

	.section .note.GNU-stack, "", @progbits
