/* Shared by the callout files (callout.c dispatches; callout_legacy.c,
 * callout_priv.c, callout_segment.c and the others hold the handlers):
 * the guest register, address and fault helpers, and each handler's
 * entry point. Every handler has one signature (callout_handler), so
 * callout.c can bind them to the sensitive-instruction table. */
#ifndef BTVM_CPU_CALLOUT_INTERNAL_H
#define BTVM_CPU_CALLOUT_INTERNAL_H

#include <stdint.h>

#include "cpu/cpu.h"
#include "isa/sensitive.h"
#include "translator/translate.h"

#include <Zydis/Zydis.h>

/* The monitor's half of one instruction: returns CALLOUT_GO_ON
 * (translated code goes on after the instruction) or CALLOUT_STOP (the
 * run loop takes over at cpu->s.eip, which the handler has set). */
typedef enum callout_result callout_handler(struct cpu *cpu, const struct callout_desc *d,
					    const ZydisDecodedInstruction *in,
					    const ZydisDecodedOperand *ops);

uint32_t reg_read(const struct cpu *cpu, ZydisRegister r);
/* 32-bit registers take v whole, 16- and 8-bit ones only their part. */
void reg_write(struct cpu *cpu, ZydisRegister r, uint32_t v);
uint32_t linear_address(const struct cpu *cpu, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *op);
/* Delivers a fault with the instruction's own EIP as the return address. */
/* Whether len bytes of memory operand op at linear address linear stay
 * inside its segment's limit (seg_limits.c; real mode is not checked). */
bool operand_in_limit(const struct cpu *cpu, const ZydisDecodedOperand *op, uint32_t linear,
		      unsigned len);
/* linear_address, and whether len bytes there stay inside the segment
 * (false: the caller raises mem_fault_vector). */
bool operand_linear(const struct cpu *cpu, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *op, unsigned len, uint32_t *linear);
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

/* callout.c: whether every id of enum sensitive_handler has its
 * function (cpu_init asserts it). */
bool callout_handlers_complete(void);

/* callout_legacy.c */
callout_handler do_bcd;
callout_handler do_bound;
callout_handler do_string_io;
callout_handler do_msr;
callout_handler do_maskmov;
callout_handler do_fxsave;

/* callout_string.c: MOVS, STOS, LODS, CMPS, SCAS that reached MMIO. */
callout_handler do_string_mem;

/* callout_stack.c: CALLOUT_STACK, a PUSH, POP, PUSHA, POPA, LEAVE, ENTER,
 * near CALL or RET whose stack or memory operand reached MMIO. */
callout_handler do_stack_insn;

/* callout_mem.c: CALLOUT_MEM_PREPARE, CALLOUT_MEM_FINISH and CALLOUT_MEM_STORE. */
callout_handler do_mem_callout;
/* After a callout that runs only because its instruction is adaptive
 * (the memory, string and stack callouts): needed says it reached a
 * device or wrote a traced table; a run of uses that did not releases the
 * instruction, whose translations then go so that it is retranslated
 * plain. */
void adaptive_account(struct cpu *cpu, const struct callout_desc *d, bool needed);

/* callout_priv.c */
/* Whether port I/O of width bytes at port is allowed: CPL <= IOPL, or
 * else the TSS's I/O permission bitmap clears every bit of the access. */
bool io_permitted(struct cpu *cpu, uint16_t port, unsigned width);
callout_handler do_cli_sti;
callout_handler do_iret;
callout_handler do_sysenter;
callout_handler do_sysexit;

/* realmode.c: the real-address-mode forms of far CALL (to sel:off), far
 * RET (RET n's imm) and IRET, each leaving EIP set (CALLOUT_STOP), or
 * #GP(0) for a new EIP past CS's limit (cpu_real_eip_in_limit: the hidden
 * one in real mode, 64 KiB in v86 mode); and whether an instruction is
 * #UD in real mode (LAR, LSL, VERR, VERW, ARPL, LLDT, LTR, SLDT, STR). */
bool cpu_real_eip_in_limit(const struct cpu *cpu, uint32_t eip);
enum callout_result real_far_call(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, uint16_t sel, uint32_t off);
enum callout_result real_far_ret(struct cpu *cpu, const struct callout_desc *d,
				 const ZydisDecodedInstruction *in, uint32_t imm);
enum callout_result real_iret(struct cpu *cpu, const struct callout_desc *d,
			      const ZydisDecodedInstruction *in);
/* IRET's frame in real-address and virtual-8086 mode: IP or EIP, CS and
 * FLAGS or EFLAGS, each of the operand size (size, 2 or 4 bytes), read
 * at SS:ESP without moving ESP. False once it has raised #SS(0). */
struct real_iret_frame {
	uint32_t eip, flags;
	uint16_t cs;
	unsigned size;
};
bool real_iret_frame(struct cpu *cpu, const struct callout_desc *d,
		     const ZydisDecodedInstruction *in, struct real_iret_frame *f);
bool real_mode_ud(const struct sensitive_insn *sens, const ZydisDecodedInstruction *in);

/* v86.c: whether an IOPL-sensitive instruction (CLI, STI, PUSHF, POPF,
 * INT n, IRET) takes its IOPL < 3 form in v86 mode (#GP(0), or VME's);
 * IRET inside v86 mode;
 * IRET from ring 0 into it, after do_iret popped EIP, CS and a 32-bit
 * EFLAGS with VM (the rest of the frame still on the stack). */
bool v86_iopl_trap(const struct cpu *cpu);
enum callout_result v86_iret(struct cpu *cpu, const struct callout_desc *d,
			     const ZydisDecodedInstruction *in);
enum callout_result v86_enter(struct cpu *cpu, const struct callout_desc *d, uint32_t eip,
			      uint16_t cs, uint32_t flags);
/* Whether CLI and STI at CPL > IOPL act on EFLAGS.VIF rather than fault:
 * in v86 mode with CR4.VME, at CPL 3 of protected mode with CR4.PVI. */
bool cpu_virtual_if(const struct cpu *cpu);
/* PUSHF and POPF in v86 mode at IOPL < 3: the 16-bit VME forms (VIF for
 * IF), else #GP(0). */
enum callout_result v86_pushf(struct cpu *cpu, const struct callout_desc *d,
			      const ZydisDecodedInstruction *in);
enum callout_result v86_popf(struct cpu *cpu, const struct callout_desc *d,
			     const ZydisDecodedInstruction *in);
/* Where INT n (opcode CD) goes in v86 mode (the SDM's table 20-2): the
 * IDT, #GP(0), or under CR4.VME the 8086 code's own vector table when
 * the TSS's interrupt redirection bitmap has the vector's bit clear. */
enum v86_int_route { V86_INT_IDT, V86_INT_GP, V86_INT_IVT };
enum v86_int_route v86_int_route(struct cpu *cpu, unsigned vector);
/* INT n redirected to the IVT: a real-mode frame on the v86 stack. */
enum callout_result v86_int_redirect(struct cpu *cpu, const struct callout_desc *d,
				     unsigned vector);

/* callout_gate.c */
/* Whether a far CALL or JMP to sel goes to a system descriptor (in
 * protected mode; the descriptor in *lo, *hi): far_system_transfer's. */
bool far_target_is_system(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi);
/* Far CALL (call) or JMP to the system descriptor sel names: a TSS, a
 * task gate or a call gate; any other type is #GP(sel). */
enum callout_result far_system_transfer(struct cpu *cpu, const struct callout_desc *d, uint16_t sel,
					uint32_t lo, uint32_t hi, bool call);
/* IRET with EFLAGS.NT in protected mode: back to the task of the link. */
enum callout_result iret_task_return(struct cpu *cpu, const struct callout_desc *d);

/* callout_segment.c */
/* The segment half of a far RET or IRET to cs: checks the return code
 * segment and, for a return to an outer level (RPL above CPL), the stack
 * segment ss for that level, and eip against the return code segment's
 * limit (#GP(0)), then loads CS (and SS, nulling the data segments the
 * outer level may not keep). Returns 0, or the vector with
 * its error code in *err, having changed nothing. */
int far_return_segments(struct cpu *cpu, uint16_t cs, uint16_t ss, uint32_t eip, uint32_t *err);
callout_handler do_far_jmp;
callout_handler do_far_call;
callout_handler do_far_ret;
callout_handler do_load_far_pointer;
callout_handler do_push_seg;
callout_handler do_pop_seg;
callout_handler do_lar_lsl;
callout_handler do_verr_verw;
callout_handler do_arpl;
callout_handler do_store_sysreg;
callout_handler do_lldt;
callout_handler do_ltr;
callout_handler do_lmsw;

#endif
