/* Shared by the callout files (callout.c dispatches; callout_legacy.c,
 * callout_priv.c, callout_segment.c and the others hold the handlers):
 * the guest register, address and fault helpers, and each handler's
 * entry point. A handler returns GO_ON
 * (translated code goes on after the instruction) or STOP (the run loop
 * takes over at cpu->s.eip, which the handler has set). */
#ifndef BTVM_CPU_CALLOUT_INTERNAL_H
#define BTVM_CPU_CALLOUT_INTERNAL_H

#include <stdint.h>

#include "cpu/cpu.h"
#include "translator/translate.h"

#include <Zydis/Zydis.h>

enum { GO_ON = 0, STOP = 1 };

uint32_t reg_read(const struct cpu *cpu, ZydisRegister r);
/* 32-bit registers take v whole, 16- and 8-bit ones only their part. */
void reg_write(struct cpu *cpu, ZydisRegister r, uint32_t v);
uint32_t linear_address(const struct cpu *cpu, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *op);
/* Delivers a fault with the instruction's own EIP as the return address. */
void raise_fault(struct cpu *cpu, const struct callout_desc *d, unsigned vector, bool has_err,
		 uint32_t err);
/* The fault a failed access through this memory operand raises: #SS for
 * the stack segment, #GP otherwise (both with error code 0). */
unsigned mem_fault_vector(const ZydisDecodedOperand *op);
/* An r/m16 source: a register's low word or a word in memory. False if
 * the memory cannot be read (the caller raises mem_fault_vector). */
bool read_rm16(struct cpu *cpu, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
	       uint16_t *v);

/* The virtual time-stamp counter, shared by RDTSC and the TSC MSR. */
uint64_t guest_tsc(const struct cpu *cpu);
void set_guest_tsc(struct cpu *cpu, uint64_t value);

/* The decimal-adjust and ASCII-adjust instructions on AX and the six
 * arithmetic flags (EFLAGS bit positions), as measured on Intel hardware
 * including the flags the SDM leaves undefined. imm is AAM's or AAD's
 * base; AAM with 0 is #DE, which the caller raises before getting here. */
uint16_t legacy_bcd(ZydisMnemonic m, unsigned imm, uint16_t ax, uint32_t *flags);

/* callout_legacy.c */
int do_bcd(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	   const ZydisDecodedOperand *ops);
int do_bound(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	     const ZydisDecodedOperand *ops);
int do_string_io(struct cpu *cpu, const struct callout_desc *d,
		 const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);
int do_msr(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in);
int do_maskmov(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	       const ZydisDecodedOperand *ops);
int do_fxsave(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	      const ZydisDecodedOperand *ops);

/* callout_string.c: MOVS, STOS, LODS, CMPS, SCAS that reached MMIO. */
int do_string_mem(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
		  const ZydisDecodedOperand *ops);

/* callout_stack.c: CALLOUT_STACK, a PUSH, POP, PUSHA, POPA, LEAVE, ENTER,
 * near CALL or RET whose stack or memory operand reached MMIO. */
int do_stack_insn(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
		  const ZydisDecodedOperand *ops);

/* callout_mem.c: CALLOUT_MEM_PREPARE and CALLOUT_MEM_FINISH. */
int do_mem_callout(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
		   const ZydisDecodedOperand *ops);

/* callout_priv.c */
/* Whether port I/O of width bytes at port is allowed: CPL <= IOPL, or
 * else the TSS's I/O permission bitmap clears every bit of the access. */
bool io_permitted(struct cpu *cpu, uint16_t port, unsigned width);
int do_cli_sti(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in);
int do_iret(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in);
int do_sysenter(struct cpu *cpu, const struct callout_desc *d);
int do_sysexit(struct cpu *cpu, const struct callout_desc *d);

/* callout_segment.c */
/* The segment half of a far RET or IRET to cs: checks the return code
 * segment and, for a return to an outer level (RPL above CPL), the stack
 * segment ss for that level, then loads CS (and SS, nulling the data
 * segments the outer level may not keep). Returns 0, or the vector with
 * its error code in *err, having changed nothing. */
int far_return_segments(struct cpu *cpu, uint16_t cs, uint16_t ss, uint32_t *err);
int do_far_jmp(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	       const ZydisDecodedOperand *ops);
int do_far_call(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
		const ZydisDecodedOperand *ops);
int do_far_ret(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	       const ZydisDecodedOperand *ops);
int do_load_far_pointer(struct cpu *cpu, const struct callout_desc *d,
			const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);
int do_push_seg(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
		const ZydisDecodedOperand *ops);
int do_pop_seg(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	       const ZydisDecodedOperand *ops);
int do_lar_lsl(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	       const ZydisDecodedOperand *ops);
int do_verr_verw(struct cpu *cpu, const struct callout_desc *d,
		 const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);
int do_arpl(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	    const ZydisDecodedOperand *ops);
int do_store_sysreg(struct cpu *cpu, const struct callout_desc *d,
		    const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);
int do_lldt(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	    const ZydisDecodedOperand *ops);
int do_ltr(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	   const ZydisDecodedOperand *ops);
int do_lmsw(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedInstruction *in,
	    const ZydisDecodedOperand *ops);

#endif
