/* Static analysis of a difftest sequence (see analyze.c). */
#ifndef DT_ANALYZE_H
#define DT_ANALYZE_H

#include "dt_host.h"

#define DT_MAX_INSNS 64

/* What the analysis knows between instructions. */
struct dt_astate {
	const struct dt_opts *o;
	uint32_t gpr0[8];     /* initial values */
	bool written[8];      /* written by an earlier instruction */
	bool uknown[8];       /* set by MOV r32, imm32 earlier in this unit */
	uint32_t uval[8];
	uint32_t esp;         /* always known */
	bool df;
	uint32_t undef;       /* EFLAGS bits now undefined */
	uint32_t fundef;      /* x87 C0..C3 now undefined (Zydis FPU flag bits) */
};

struct dt_insn_info {
	uint16_t off;
	uint8_t len;
	uint8_t unit;
	uint32_t undef_before;
	uint32_t fundef_before;
	ZydisMnemonic mnemonic;
};

struct dt_analysis {
	unsigned n;
	struct dt_insn_info insn[DT_MAX_INSNS];
	uint32_t undef_end;
	uint32_t fundef_end;
	uint16_t nmask;
	struct dt_mask mask[DT_MAX_MASKS];
	char why[200];
};

void dt_astate_init(struct dt_astate *st, const struct dt_opts *o, const struct dt_seq *s);
void dt_astate_new_unit(struct dt_astate *st);
/* The value a register holds before the next instruction, if known. */
bool dt_reg_known(const struct dt_astate *st, ZydisRegister r, uint32_t *v);
/* A segment's base as the runners set it (CS's only for 32-bit code). */
uint32_t dt_seg_base(const struct dt_opts *o, ZydisRegister seg);
/* One instruction: checks it may run (allowed, reads no undefined flag,
 * every memory access provably inside DATA/LOW, ESP stays in its window)
 * and advances the state. Masks for stored implementation-specific values
 * are appended to masks (up to DT_MAX_MASKS). Returns 0, or -1 with a
 * reason in why. */
int dt_astep(struct dt_astate *st, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
	     struct dt_mask *masks, uint16_t *nmask, char *why, size_t whylen);
/* The whole sequence, unit by unit. Returns 0 or -1 (a->why says why). */
int dt_analyze(const struct dt_seq *s, const struct dt_opts *o, struct dt_analysis *a);

#endif
