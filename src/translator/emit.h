/* Host code emission: a cursor over the code buffer, raw bytes for the few
 * patchable forms (jmp/jcc rel32, jrcxz), and the Zydis encoder for every
 * other instruction, so encodings are never written by hand. */
#ifndef BTVM_TRANSLATOR_EMIT_H
#define BTVM_TRANSLATOR_EMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "cache/patch.h"   /* patch_rel32, for the rel32 forms below */

struct emit_cache;

struct emitter {
	uint8_t *start;
	uint8_t *pos;
	uint8_t *limit;
	bool failed;   /* out of space or an encoding the encoder refused */
	/* Of failed, the first cause was space: the block must end or be
	 * translated again where there is more (never a callout instead,
	 * which is for instructions the translator does not do). */
	bool no_room;
	struct emit_cache *cache;   /* encodings already made, or NULL */
};

/* Starts emitting into [start, limit); the cache stays as it was set. */
void emit_init(struct emitter *e, uint8_t *start, uint8_t *limit);
/* A cache of encodings for emit_request, owned by the caller. */
struct emit_cache *emit_cache_new(void);
void emit_cache_free(struct emit_cache *cache);
void emit_bytes(struct emitter *e, const void *bytes, unsigned n);
/* Emits a complete encoder request (machine mode is set to 64-bit here). */
void emit_request(struct emitter *e, ZydisEncoderRequest *req);

/* A run of instructions emitted the same way many times and
 * position-independent (its jumps stay inside it or go through registers
 * and memory): encoded once, then copied. */
#define EMIT_SEQ_MAX 128u
struct emit_seq {
	uint8_t len;   /* 0: not recorded */
	uint8_t bytes[EMIT_SEQ_MAX];
};
/* Copies s if it was recorded; false if it was not (the caller emits the
 * run, then records it). */
bool emit_seq_replay(struct emitter *e, const struct emit_seq *s);
/* Records what was emitted since from as s, if it fits and nothing failed. */
void emit_seq_record(const struct emitter *e, struct emit_seq *s, const uint8_t *from);

/* Operand builders. */
ZydisEncoderOperand op_reg(ZydisRegister reg);
ZydisEncoderOperand op_imm(int64_t value);
ZydisEncoderOperand op_mem(unsigned size, ZydisRegister base, ZydisRegister index, unsigned scale,
			   int64_t disp);

/* One instruction from a mnemonic and up to three operands. */
void emit_insn(struct emitter *e, ZydisMnemonic mnemonic, unsigned count,
	       const ZydisEncoderOperand *ops, ZydisInstructionAttributes prefixes);
void emit2(struct emitter *e, ZydisMnemonic mnemonic, ZydisEncoderOperand a, ZydisEncoderOperand b);
void emit1(struct emitter *e, ZydisMnemonic mnemonic, ZydisEncoderOperand a);

/* jmp rel32 / jcc rel32 (cc = 0..15, the low nibble of 0F 8x); returns the
 * address of the rel32 field so it can be patched for chaining. */
uint8_t *emit_jmp_rel32(struct emitter *e, const void *target);
uint8_t *emit_jcc_rel32(struct emitter *e, unsigned cc, const void *target);
/* NOPs (at most 3 bytes) so that the rel32 field of a jump with oplen
 * opcode bytes, emitted next, lies within one 64-byte line: a field that
 * is rewritten while another core may run it must change in one atomic
 * store (SDM vol. 3 9.1.1). */
void emit_rel32_in_one_line(struct emitter *e, unsigned oplen);
#define EMIT_JMP_REL32_OPLEN 1u
#define EMIT_JCC_REL32_OPLEN 2u
/* jrcxz rel8 (or jecxz with addr32); returns the rel8 field's address. */
uint8_t *emit_jrcxz(struct emitter *e, bool ecx);
/* A rel8 jump of one-byte opcode op (JUMP8_*) to be patched; returns the
 * rel8 field's address. */
uint8_t *emit_jump8(struct emitter *e, uint8_t op);
#define JUMP8_JMP 0xeb
#define JUMP8_JNZ 0x75
#define JUMP8_JNC 0x73
void patch_rel8(uint8_t *field, const void *target);

#endif
