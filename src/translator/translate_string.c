/* String instructions as host loops: MOVS, STOS, LODS, CMPS and SCAS, with
 * REP/REPE/REPNE, either direction (DF is part of the translation key),
 * 16- or 32-bit addressing and segment overrides. */
#include "translator/translate_internal.h"

#include "cpu/cpu.h"

static ZydisRegister acc(unsigned size)
{
	return size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX;
}

static ZydisRegister scratch_s(unsigned size)
{
	return size == 1 ? ZYDIS_REGISTER_R11B : size == 2 ? ZYDIS_REGISTER_R11W : ZYDIS_REGISTER_R11D;
}

/* Rewritten as a host loop over window-relative accesses: in 64-bit mode
 * ES:EDI takes neither the GS override nor a base, so the instruction can
 * never run as it is. ECX/ESI/EDI step after each element's accesses, so a
 * fault leaves REP state as the hardware would. */
bool translate_string(struct tctx *c, enum string_op op, unsigned size)
{
	struct emitter *e = &c->e;
	bool rep = c->in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
	bool repne = c->in.attributes & ZYDIS_ATTRIB_HAS_REPNE;
	int32_t step = (c->mode & MODE_DF) ? -(int32_t)size : (int32_t)size;
	ZydisRegister src_seg = ZYDIS_REGISTER_DS;
	if (c->in.attributes & ZYDIS_ATTRIB_HAS_SEGMENT) {
		for (unsigned i = 0; i < c->in.operand_count; i++)
			if (c->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && (c->ops[i].mem.base == ZYDIS_REGISTER_ESI || c->ops[i].mem.base == ZYDIS_REGISTER_SI))
				src_seg = c->ops[i].mem.segment;
	}
	bool a16 = c->in.address_width == 16;
	ZydisRegister si = a16 ? ZYDIS_REGISTER_SI : ZYDIS_REGISTER_ESI;
	ZydisRegister di = a16 ? ZYDIS_REGISTER_DI : ZYDIS_REGISTER_EDI;
	ZydisRegister cx = a16 ? ZYDIS_REGISTER_CX : ZYDIS_REGISTER_ECX;

	uint8_t *top = e->pos;
	uint8_t *skip = NULL;
	if (rep) {
		skip = a16 ? emit_cx_zero_test(c) : emit_jrcxz(e, true);
		if (a16)
			restore_rcx(c);
	}
	bool uses_src = op == STR_MOVS || op == STR_LODS || op == STR_CMPS;
	bool uses_dst = op != STR_LODS;

	switch (op) {
	case STR_MOVS: {
		ZydisEncoderOperand a[2] = { op_reg(scratch_s(size)), guest_mem_at(c, si, 0, src_seg, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		ZydisEncoderOperand b[2] = { guest_mem_at(c, di, 0, ZYDIS_REGISTER_ES, size), op_reg(scratch_s(size)) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, b, 0);
		break;
	}
	case STR_STOS: {
		ZydisEncoderOperand a[2] = { guest_mem_at(c, di, 0, ZYDIS_REGISTER_ES, size), op_reg(acc(size)) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		break;
	}
	case STR_LODS: {
		ZydisEncoderOperand a[2] = { op_reg(acc(size)), guest_mem_at(c, si, 0, src_seg, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		break;
	}
	case STR_CMPS: {
		ZydisEncoderOperand a[2] = { op_reg(scratch_s(size)), guest_mem_at(c, si, 0, src_seg, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		ZydisEncoderOperand b[2] = { op_reg(scratch_s(size)), guest_mem_at(c, di, 0, ZYDIS_REGISTER_ES, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_CMP, 2, b, 0);
		break;
	}
	case STR_SCAS: {
		ZydisEncoderOperand a[2] = { op_reg(acc(size)), guest_mem_at(c, di, 0, ZYDIS_REGISTER_ES, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_CMP, 2, a, 0);
		break;
	}
	}
	if (uses_src)
		emit_lea32(c, si, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_NONE, 0, step);
	if (uses_dst)
		emit_lea32(c, di, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_NONE, 0, step);
	if (rep) {
		emit_lea32(c, cx, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -1);
		uint8_t *out = NULL;
		if (op == STR_CMPS || op == STR_SCAS) {
			/* REPE stops on not-equal, REPNE on equal. */
			uint8_t jcc[2] = { (uint8_t)(repne ? 0x74 : 0x75), 0 };
			emit_bytes(e, jcc, 2);
			out = e->failed ? NULL : e->pos - 1;
		}
		uint8_t back[2] = { 0xeb, 0 };
		emit_bytes(e, back, 2);
		if (!e->failed)
			patch_rel8(e->pos - 1, top);
		if (skip)
			patch_rel8(skip, e->pos);
		if (a16)
			restore_rcx(c);  /* reached only from the CX == 0 test */
		if (out && !e->failed)
			patch_rel8(out, e->pos);
	}
	return true;
}

bool classify_string(ZydisMnemonic m, enum string_op *op, unsigned *size)
{
	static const struct { ZydisMnemonic m; enum string_op op; unsigned size; } t[] = {
		{ ZYDIS_MNEMONIC_MOVSB, STR_MOVS, 1 }, { ZYDIS_MNEMONIC_MOVSW, STR_MOVS, 2 },
		{ ZYDIS_MNEMONIC_MOVSD, STR_MOVS, 4 }, { ZYDIS_MNEMONIC_STOSB, STR_STOS, 1 },
		{ ZYDIS_MNEMONIC_STOSW, STR_STOS, 2 }, { ZYDIS_MNEMONIC_STOSD, STR_STOS, 4 },
		{ ZYDIS_MNEMONIC_LODSB, STR_LODS, 1 }, { ZYDIS_MNEMONIC_LODSW, STR_LODS, 2 },
		{ ZYDIS_MNEMONIC_LODSD, STR_LODS, 4 }, { ZYDIS_MNEMONIC_CMPSB, STR_CMPS, 1 },
		{ ZYDIS_MNEMONIC_CMPSW, STR_CMPS, 2 }, { ZYDIS_MNEMONIC_CMPSD, STR_CMPS, 4 },
		{ ZYDIS_MNEMONIC_SCASB, STR_SCAS, 1 }, { ZYDIS_MNEMONIC_SCASW, STR_SCAS, 2 },
		{ ZYDIS_MNEMONIC_SCASD, STR_SCAS, 4 },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].m == m) {
			*op = t[i].op;
			*size = t[i].size;
			return true;
		}
	}
	return false;
}
