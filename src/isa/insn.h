/* Facts about decoded guest instructions that the translator and the
 * monitor share (isa/insn.c). */
#ifndef BTVM_ISA_INSN_H
#define BTVM_ISA_INSN_H

#include <stdbool.h>

#include <Zydis/Zydis.h>

/* Whether CR0.TS/EM can make the instruction trap (it touches x87, MMX or
 * SSE state): such instructions become callouts while MODE_FPU_OFF. */
bool insn_uses_fpu(const ZydisDecodedInstruction *in);
/* A store through a CS override: #GP, since code segments are never
 * writable in protected mode. */
bool insn_writes_via_cs(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);

#endif
