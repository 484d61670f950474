/* Host code emission through the Zydis encoder, plus the patchable branch
 * forms whose rel32 fields chaining rewrites in place. */
#include "translator/emit.h"

#include <assert.h>
#include <string.h>

void emit_init(struct emitter *e, uint8_t *start, uint8_t *limit)
{
	e->start = start;
	e->pos = start;
	e->limit = limit;
	e->failed = false;
}

void emit_bytes(struct emitter *e, const void *bytes, unsigned n)
{
	if (e->failed || (uint64_t)(e->limit - e->pos) < n) {
		e->failed = true;
		return;
	}
	memcpy(e->pos, bytes, n);
	e->pos += n;
}

void emit_request(struct emitter *e, ZydisEncoderRequest *req)
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

void emit_insn(struct emitter *e, ZydisMnemonic mnemonic, unsigned count,
	       const ZydisEncoderOperand *ops, ZydisInstructionAttributes prefixes)
{
	ZydisEncoderRequest req;
	assert(count <= ZYDIS_ENCODER_MAX_OPERANDS);
	memset(&req, 0, sizeof(req));
	req.mnemonic = mnemonic;
	req.prefixes = prefixes;
	req.operand_count = (ZyanU8)count;
	for (unsigned i = 0; i < count; i++)
		req.operands[i] = ops[i];
	emit_request(e, &req);
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

uint8_t *emit_jrcxz(struct emitter *e, bool ecx)
{
	static const uint8_t jecxz[3] = { 0x67, 0xe3, 0x00 };
	emit_bytes(e, ecx ? jecxz : jecxz + 1, ecx ? 3 : 2);
	return e->failed ? NULL : e->pos - 1;
}
