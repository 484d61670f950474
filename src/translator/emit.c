/* Host code emission through the Zydis encoder, plus the patchable branch
 * forms whose rel32 fields chaining rewrites in place. */
#include "translator/emit.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Encodings already made. The translator asks for the same host
 * instructions over and over (its lookup sequence, exit stubs, register
 * moves, the same guest instruction in every process), and Zydis's encoder
 * searches its tables for each: 17% of a Linux boot went to it. The
 * request as a whole is the key (encoder requests are zeroed before they
 * are filled in), so a hit is the same bytes the encoder would give, and
 * the bytes are position-independent (relative operands are given, not
 * computed). Direct-mapped. */
#define EMIT_CACHE_SLOTS 4096u

struct emit_cache_slot {
	ZydisEncoderRequest req;
	uint8_t len;   /* 0: empty */
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
};

/* The translator's own instructions (emit_insn: a mnemonic, prefixes and
 * at most two operands, the rest of the request zero) have a compact key
 * of their own: 48 bytes, each operand by the fields the encoder reads for
 * its type. A slot is one cache line, where a whole request is seven: a
 * hit in the big table above cost about as much as the L2 misses of
 * comparing 400 bytes (a Debian boot asks for 46 million encodings). */
#define EMIT_SHORT_SLOTS 8192u
#define EMIT_SHORT_OPERANDS 2u

struct emit_short_operand {
	uint16_t reg;      /* register; memory base; pointer segment */
	uint16_t index;    /* memory index */
	uint8_t type;
	uint8_t scale;     /* memory scale; register is4 */
	uint16_t size;     /* memory size */
	uint64_t value;    /* immediate, displacement or pointer offset */
};

struct emit_short_key {
	uint16_t mnemonic;
	uint8_t count;
	uint8_t imm_tail;   /* a MOV reg, imm keyed without its value: bytes of it at the end */
	uint8_t pad[4];
	uint64_t prefixes;
	struct emit_short_operand ops[EMIT_SHORT_OPERANDS];
};

struct emit_short_slot {
	struct emit_short_key key;
	uint8_t len;   /* 0: empty */
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
};

struct emit_cache {
	struct emit_short_slot short_slots[EMIT_SHORT_SLOTS];
	struct emit_cache_slot slots[EMIT_CACHE_SLOTS];
};

_Static_assert(sizeof(struct emit_short_key) == 48, "a short key is 48 bytes");
_Static_assert(sizeof(struct emit_short_slot) == 64, "a short slot is one cache line");

struct emit_cache *emit_cache_new(void)
{
	struct emit_cache *cache = aligned_alloc(64, sizeof(struct emit_cache));
	if (cache)
		memset(cache, 0, sizeof(*cache));
	return cache;
}

void emit_cache_free(struct emit_cache *cache)
{
	free(cache);
}

static unsigned request_hash(const ZydisEncoderRequest *req)
{
	/* The fields before the operands and the operands in use: one-cycle
	 * steps and one multiply (hashing all 400 bytes with a multiply a
	 * word cost more than the encodings it saved). Collisions only cost
	 * a miss: the whole request is compared. */
	const uint8_t *p = (const uint8_t *)req;
	size_t n = offsetof(ZydisEncoderRequest, operands) +
		   (size_t)(req->operand_count < ZYDIS_ENCODER_MAX_OPERANDS ? req->operand_count
									   : ZYDIS_ENCODER_MAX_OPERANDS) *
			   sizeof(ZydisEncoderOperand);
	uint64_t h = 0;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = ((h << 7) | (h >> 57)) ^ w;
	}
	h *= 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 52) & (EMIT_CACHE_SLOTS - 1);
}

/* The compact key of an emit_insn request; false for an operand kind it
 * has no room for (that request takes the whole-request path). */
static bool short_key(struct emit_short_key *k, ZydisMnemonic mnemonic, unsigned count,
		      const ZydisEncoderOperand *ops, ZydisInstructionAttributes prefixes)
{
	if (count > EMIT_SHORT_OPERANDS || (unsigned)mnemonic > UINT16_MAX)
		return false;
	memset(k, 0, sizeof(*k));
	k->mnemonic = (uint16_t)mnemonic;
	k->count = (uint8_t)count;
	k->prefixes = prefixes;
	for (unsigned i = 0; i < count; i++) {
		const ZydisEncoderOperand *op = &ops[i];
		struct emit_short_operand *o = &k->ops[i];
		o->type = (uint8_t)op->type;
		switch (op->type) {
		case ZYDIS_OPERAND_TYPE_REGISTER:
			o->reg = (uint16_t)op->reg.value;
			o->scale = op->reg.is4;
			break;
		case ZYDIS_OPERAND_TYPE_MEMORY:
			o->reg = (uint16_t)op->mem.base;
			o->index = (uint16_t)op->mem.index;
			o->scale = op->mem.scale;
			o->size = op->mem.size;
			o->value = (uint64_t)op->mem.displacement;
			break;
		case ZYDIS_OPERAND_TYPE_IMMEDIATE:
			o->value = op->imm.u;
			break;
		default:
			return false;
		}
	}
	return true;
}

static unsigned short_hash(const struct emit_short_key *k)
{
	uint64_t w[6];
	memcpy(w, k, sizeof(w));
	uint64_t h = w[0] ^ (w[1] << 1);
	h = (h ^ w[2] ^ (w[3] << 3)) * 0x9e3779b97f4a7c15ull;
	h = (h ^ w[4] ^ (w[5] << 5)) * 0xc2b2ae3d27d4eb4full;
	return (unsigned)(h >> 40) & (EMIT_SHORT_SLOTS - 1);
}

void emit_init(struct emitter *e, uint8_t *start, uint8_t *limit)
{
	e->start = start;
	e->pos = start;
	e->limit = limit;
	e->failed = false;
	e->no_room = false;
}

void emit_bytes(struct emitter *e, const void *bytes, unsigned n)
{
	if (e->failed)
		return;
	if ((uint64_t)(e->limit - e->pos) < n) {
		e->failed = true;
		e->no_room = true;
		return;
	}
	memcpy(e->pos, bytes, n);
	e->pos += n;
}

bool emit_seq_replay(struct emitter *e, const struct emit_seq *s)
{
	if (!s->len)
		return false;
	emit_bytes(e, s->bytes, s->len);
	return true;
}

void emit_seq_record(const struct emitter *e, struct emit_seq *s, const uint8_t *from)
{
	size_t len = (size_t)(e->pos - from);
	if (e->failed || !len || len > EMIT_SEQ_MAX)
		return;
	memcpy(s->bytes, from, len);
	s->len = (uint8_t)len;
}

/* Encodes req with Zydis itself, no cache. */
static void emit_encoded(struct emitter *e, ZydisEncoderRequest *req)
{
	uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
	ZyanUSize len = sizeof(buf);
	if (e->failed)
		return;
	req->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(req, buf, &len))) {
		e->failed = true;
		return;
	}
	emit_bytes(e, buf, (unsigned)len);
}

void emit_request(struct emitter *e, ZydisEncoderRequest *req)
{
	uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
	ZyanUSize len = sizeof(buf);
	if (e->failed)
		return;
	req->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	struct emit_cache_slot *slot = e->cache ? &e->cache->slots[request_hash(req)] : NULL;
	if (slot && slot->len && !memcmp(&slot->req, req, sizeof(*req))) {
		emit_bytes(e, slot->bytes, slot->len);
		return;
	}
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(req, buf, &len))) {
		e->failed = true;
		return;
	}
	if (slot) {
		slot->req = *req;
		slot->len = (uint8_t)len;
		memcpy(slot->bytes, buf, len);
	}
	emit_bytes(e, buf, (unsigned)len);
}

ZydisEncoderOperand op_reg(ZydisRegister reg)
{
	return (ZydisEncoderOperand){ .type = ZYDIS_OPERAND_TYPE_REGISTER, .reg.value = reg };
}

ZydisEncoderOperand op_imm(int64_t value)
{
	return (ZydisEncoderOperand){ .type = ZYDIS_OPERAND_TYPE_IMMEDIATE, .imm.s = value };
}

ZydisEncoderOperand op_mem(unsigned size, ZydisRegister base, ZydisRegister index, unsigned scale,
			   int64_t disp)
{
	return (ZydisEncoderOperand){
		.type = ZYDIS_OPERAND_TYPE_MEMORY,
		.mem.size = (ZyanU16)size,
		.mem.base = base,
		.mem.index = index,
		.mem.scale = (ZyanU8)(index == ZYDIS_REGISTER_NONE ? 0 : scale),
		.mem.displacement = disp,
	};
}

/* How many bytes at the end of MOV reg, imm's encoding hold the immediate
 * whatever its value (so one encoding serves every value), or 0: a 32-bit
 * register always takes an imm32, a 64-bit one an imm64 when the value
 * fits neither 32-bit form. A stub's exit pointer and a branch's guest
 * target are such immediates, different in every block: each was a full
 * encoding. */
static unsigned imm_tail(ZydisMnemonic mnemonic, unsigned count, const ZydisEncoderOperand *ops)
{
	if (mnemonic != ZYDIS_MNEMONIC_MOV || count != 2 || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ops[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return 0;
	ZydisRegisterWidth width = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, ops[0].reg.value);
	uint64_t v = ops[1].imm.u;
	if (width == 32 && (uint64_t)(int64_t)(int32_t)v == v)
		return 4;   /* another value is refused, as the encoder does */
	if (width == 64 && (uint64_t)(int64_t)(int32_t)v != v && (uint64_t)(uint32_t)v != v)
		return 8;
	return 0;
}

void emit_insn(struct emitter *e, ZydisMnemonic mnemonic, unsigned count,
	       const ZydisEncoderOperand *ops, ZydisInstructionAttributes prefixes)
{
	ZydisEncoderRequest req;
	struct emit_short_key key;
	struct emit_short_slot *slot = NULL;
	assert(count <= ZYDIS_ENCODER_MAX_OPERANDS);
	if (e->failed)
		return;
	unsigned tail = 0;
	if (e->cache && short_key(&key, mnemonic, count, ops, prefixes)) {
		tail = imm_tail(mnemonic, count, ops);
		if (tail) {
			key.imm_tail = (uint8_t)tail;
			key.ops[1].value = 0;
		}
		slot = &e->cache->short_slots[short_hash(&key)];
		if (slot->len && !memcmp(&slot->key, &key, sizeof(key))) {
			emit_bytes(e, slot->bytes, slot->len);
			if (tail && !e->failed)
				memcpy(e->pos - tail, &ops[1].imm.u, tail);
			return;
		}
	}
	memset(&req, 0, sizeof(req));
	req.mnemonic = mnemonic;
	req.prefixes = prefixes;
	req.operand_count = (ZyanU8)count;
	for (unsigned i = 0; i < count; i++)
		req.operands[i] = ops[i];
	if (!slot) {
		emit_request(e, &req);
		return;
	}
	uint8_t *at = e->pos;
	emit_encoded(e, &req);
	/* Kept keyed without the value only if the value is where it must be. */
	if (!e->failed && (!tail || ((unsigned)(e->pos - at) > tail &&
				     !memcmp(e->pos - tail, &ops[1].imm.u, tail)))) {
		slot->key = key;
		slot->len = (uint8_t)(e->pos - at);
		memcpy(slot->bytes, at, slot->len);
	}
}

void emit2(struct emitter *e, ZydisMnemonic mnemonic, ZydisEncoderOperand a, ZydisEncoderOperand b)
{
	ZydisEncoderOperand ops[2] = { a, b };
	emit_insn(e, mnemonic, 2, ops, 0);
}

void emit1(struct emitter *e, ZydisMnemonic mnemonic, ZydisEncoderOperand a)
{
	emit_insn(e, mnemonic, 1, &a, 0);
}

void patch_rel8(uint8_t *field, const void *target)
{
	int64_t rel = (const uint8_t *)target - (field + 1);
	assert(rel == (int8_t)rel);
	*field = (uint8_t)(int8_t)rel;
}

/* A jump's opcode bytes and a rel32 to target, or to be patched later
 * (target NULL); returns the rel32 field, NULL if the buffer ran out. */
static uint8_t *emit_rel32_jump(struct emitter *e, const uint8_t *op, unsigned oplen,
				const void *target)
{
	static const uint8_t zero[4];
	emit_bytes(e, op, oplen);
	emit_bytes(e, zero, 4);
	if (e->failed)
		return NULL;
	uint8_t *field = e->pos - 4;
	if (target)
		patch_rel32(field, target);
	return field;
}

void emit_rel32_in_one_line(struct emitter *e, unsigned oplen)
{
	unsigned off = (unsigned)(((uintptr_t)e->pos + oplen) & 63);
	if (off <= 60)
		return;
	uint8_t nops[3];
	if (ZYAN_FAILED(ZydisEncoderNopFill(nops, 64 - off))) {
		e->failed = true;
		return;
	}
	emit_bytes(e, nops, 64 - off);
}

uint8_t *emit_jmp_rel32(struct emitter *e, const void *target)
{
	static const uint8_t op = 0xe9;
	return emit_rel32_jump(e, &op, 1, target);
}

uint8_t *emit_jcc_rel32(struct emitter *e, unsigned cc, const void *target)
{
	uint8_t op[2] = { 0x0f, (uint8_t)(0x80 | (cc & 15)) };
	return emit_rel32_jump(e, op, 2, target);
}

uint8_t *emit_jump8(struct emitter *e, uint8_t op)
{
	const uint8_t jump[2] = { op, 0x00 };
	emit_bytes(e, jump, 2);
	return e->failed ? NULL : e->pos - 1;
}

uint8_t *emit_jrcxz(struct emitter *e, bool ecx)
{
	static const uint8_t jecxz[3] = { 0x67, 0xe3, 0x00 };
	emit_bytes(e, ecx ? jecxz : jecxz + 1, ecx ? 3 : 2);
	return e->failed ? NULL : e->pos - 1;
}
