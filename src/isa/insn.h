/* Facts about decoded guest instructions that the translator and the
 * monitor share (isa/insn.c). */
#ifndef BTVM_ISA_INSN_H
#define BTVM_ISA_INSN_H

#include <stdbool.h>

#include <Zydis/Zydis.h>

/* Whether CR0.TS/EM can make the instruction trap (it touches x87, MMX or
 * SSE state): such instructions become callouts while MODE_FPU_OFF. */
bool insn_uses_fpu(const ZydisDecodedInstruction *in);
/* Whether CR4.OSFXSR = 0 makes the instruction #UD (SDM Vol. 3 13.1.3,
 * AMD APM Vol. 2 11.5.1): every instruction with an XMM operand, named or
 * implied, and LDMXCSR/STMXCSR. FXSAVE/FXRSTOR, the MMX-register forms of
 * SSE, fences, CLFLUSH, MOVNTI, PAUSE and the prefetches run regardless. */
bool insn_needs_osfxsr(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);
/* A store through a CS override: #GP, since code segments are never
 * writable in protected mode. */
bool insn_writes_via_cs(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);
/* A locked read-modify-write of memory: a LOCK prefix, or XCHG, whose
 * memory form locks without one (SDM XCHG). */
static inline bool insn_is_locked(const ZydisDecodedInstruction *in)
{
	return (in->attributes & ZYDIS_ATTRIB_HAS_LOCK) || in->mnemonic == ZYDIS_MNEMONIC_XCHG;
}

#endif
