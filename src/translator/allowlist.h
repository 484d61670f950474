/* Which guest instructions btvm runs: the allowlist that follows the
 * CPUID model (isa/cpuid.h), not the host CPU. */
#ifndef BTVM_TRANSLATOR_ALLOWLIST_H
#define BTVM_TRANSLATOR_ALLOWLIST_H

#include <stdbool.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "isa/cpuid.h"

enum allow_verdict {
	ALLOW_TRANSLATE,   /* in the model: translated (or a sensitive callout) */
	ALLOW_NOP,         /* the reserved-NOP space 0F 18-1F /r: a NOP on every host */
	ALLOW_UD,          /* not in the model: #UD in the guest */
};

/* The verdict for a decoded instruction (not in the reserved-NOP space). */
enum allow_verdict allowlist_verdict(const ZydisDecodedInstruction *in);

/* Whether bytes start an instruction of the reserved-NOP space (legacy
 * prefixes, 0F, 18-1F, ModRM...). If so, copies them to out with the
 * opcode turned into 1F, the documented NOP of the same shape, so the
 * decoder finds the length even where it knows no form (MPX, CET). */
bool allowlist_reserved_nop(const uint8_t *bytes, unsigned avail, uint8_t *out);

/* Instructions the model runs as the older instruction their encoding
 * meant before the feature existed: TZCNT is REP BSF and LZCNT is REP BSR
 * on a CPU without BMI1/LZCNT (Linux relies on it). If in is one, writes
 * its bytes without the F3 prefix to out and returns how many there are
 * (the instruction's length less one per F3 dropped), else 0. */
unsigned allowlist_older_form(const ZydisDecodedInstruction *in, const uint8_t *bytes, uint8_t *out);

/* Whether the translator's copy of the instruction (IDENT) would have a
 * memory access the window does not confine: one the encoding does not
 * show (a hidden operand). Instructions with such operands have
 * translations of their own (stack, string, XLAT, MASKMOVQ/MASKMOVDQU). */
bool allowlist_has_hidden_memory(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);

/* The model's requirement for an ISA set: the CPUID feature bits it
 * needs, or false when no model can offer it. */
bool allowlist_set_needs(ZydisISASet set, struct cpuid_features *needs);

#endif
