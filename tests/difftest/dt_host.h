/* Host-side (x86-64) difftest declarations: the in-memory form of a
 * sequence and the options shared by the generator, the analysis and the
 * comparator. */
#ifndef DT_HOST_H
#define DT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "dt_abi.h"

/* CPU features an instruction may need; a batch uses the ones the host
 * has, minus any the user takes away (--isa). */
enum dt_feature {
	DT_F_X87, DT_F_CMOV, DT_F_CX8, DT_F_MMX, DT_F_FXSR, DT_F_SSE, DT_F_SSE2, DT_F_CLFSH,
	DT_F_SSE3, DT_F_SSSE3, DT_F_SSE41, DT_F_SSE42, DT_F_POPCNT, DT_F_LZCNT, DT_F_BMI1,
	DT_F_BMI2, DT_F_ADX, DT_F_MOVBE, DT_F_AES, DT_F_PCLMUL, DT_F_SHA, DT_F_GFNI,
	DT_F_CLFLUSHOPT, DT_F_CLWB, DT_F_CLDEMOTE, DT_F_MOVDIRI, DT_F_PRFCHW,
	DT_F_COUNT
};

enum dt_class { DT_CLASS_GP, DT_CLASS_X87, DT_CLASS_SIMD, DT_CLASS_COUNT };

struct dt_opts {
	uint32_t features;     /* bit per enum dt_feature */
	bool low;              /* 16-bit addressing and the LOW area */
	bool code16;           /* 16-bit code (DT_BATCH_CODE16); see dt_set_code16 */
	bool fpu_ptr;          /* compare x87 FIP/FDP/FOP/FCS/FDS too */
	uint32_t mxcsr_mask;
};

struct dt_seq {
	uint32_t id;
	uint32_t seed;
	uint32_t gpr[8];
	uint32_t eflags;
	uint32_t mxcsr;
	uint16_t fcw;
	uint16_t fsw;
	uint8_t ftw;
	uint8_t nunits;
	uint16_t code_len;
	uint16_t unit_off[DT_MAX_UNITS + 1];   /* unit_off[nunits] == code_len */
	uint8_t code[DT_MAX_CODE];
	uint16_t nmask;
	struct dt_mask mask[DT_MAX_MASKS];
};

#define DT_EFLAGS_ARITH 0x08d5u   /* CF PF AF ZF SF OF */
#define DT_EFLAGS_DF 0x0400u
#define DT_EFLAGS_CMP (DT_EFLAGS_ARITH | DT_EFLAGS_DF)

/* isa.c */
uint32_t dt_host_features(void);
const char *dt_feature_name(unsigned f);
int dt_parse_features(const char *list, uint32_t host, uint32_t *out);
bool dt_insn_allowed(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
		     uint32_t features, const char **why);
enum dt_class dt_insn_class(const ZydisDecodedInstruction *in);
/* Which code dt_decode decodes: 32-bit (the default) or 16-bit; a run
 * uses one for everything, set before any decoding. */
void dt_set_code16(bool code16);
const ZydisDecoder *dt_decoder(void);
bool dt_decode(const uint8_t *p, size_t len, ZydisDecodedInstruction *in, ZydisDecodedOperand *ops);
void dt_format(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops, char *buf,
	       size_t len);
int dt_gpr_id(ZydisRegister r);   /* 0..7 (eax..edi) for a GPR of any width, else -1 */

#endif
