/* Stack instructions as host code on the guest stack through the window:
 * PUSH, POP (including the ESP-relative and POP ESP forms), PUSHA, POPA,
 * LEAVE and ENTER with nesting level 0, and the stack pointer's updates
 * for every translated instruction: ESP, or SP on a 16-bit stack (SS.B
 * clear), where each access wraps at 64 KiB and ESP's upper half stays.
 * Stores go before the stack pointer's update so a fault leaves the guest
 * as it was. A run of 32-bit PUSH and POP of registers on a 32-bit stack
 * moves r12 once, at its end (esp_may_lag). */
#include "translator/translate_internal.h"

ZydisRegister stack_ptr(const struct tctx *c)
{
	return (c->mode & MODE_STACK16) ? ZYDIS_REGISTER_SP : ZYDIS_REGISTER_ESP;
}

/* SP or ESP = base64 + delta: a 32-bit LEA into r12d, or on a 16-bit
 * stack one into r14d whose low word goes to r12w alone (flag-free both;
 * r14 is free once the instruction's accesses are made). */
static void emit_sp_set(struct tctx *c, ZydisRegister base64, int32_t delta)
{
	if (!(c->mode & MODE_STACK16)) {
		emit_lea32(c, R_ESP, base64, ZYDIS_REGISTER_NONE, 0, delta);
		return;
	}
	emit_lea32(c, ZYDIS_REGISTER_R14D, base64, ZYDIS_REGISTER_NONE, 0, delta);
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R12W), op_reg(ZYDIS_REGISTER_R14W));
}

void emit_sp_add(struct tctx *c, int32_t delta)
{
	emit_sp_set(c, ZYDIS_REGISTER_R12, delta);
}

bool esp_may_lag(const struct tctx *c)
{
	ZydisMnemonic m = c->in.mnemonic;
	if ((m != ZYDIS_MNEMONIC_PUSH && m != ZYDIS_MNEMONIC_POP && m != ZYDIS_MNEMONIC_RET &&
	     m != ZYDIS_MNEMONIC_CALL && m != ZYDIS_MNEMONIC_MOV) ||
	    c->in.operand_width != 32 || (c->mode & MODE_STACK16) || insn_is_adaptive(c) ||
	    c->in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
		return false;
	const ZydisDecodedOperand *op = &c->ops[0];
	/* MOV r32, ESP (a frame pointer's set-up after PUSH EBP): an LEA. */
	if (m == ZYDIS_MNEMONIC_MOV)
		return op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		       ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_GPR32 &&
		       op->reg.value != ZYDIS_REGISTER_ESP &&
		       c->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		       c->ops[1].reg.value == ZYDIS_REGISTER_ESP;
	/* A near RET, and a CALL to a label or through a register: their
	 * stack access and ESP update take the delta in (translate.c). */
	if (m == ZYDIS_MNEMONIC_RET)
		return true;
	if (m == ZYDIS_MNEMONIC_CALL)
		return op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		       (op->type == ZYDIS_OPERAND_TYPE_REGISTER && op->reg.value != ZYDIS_REGISTER_ESP);
	if (m != ZYDIS_MNEMONIC_PUSH && m != ZYDIS_MNEMONIC_POP)
		return false;
	if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return m == ZYDIS_MNEMONIC_PUSH;
	return op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
	       ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_GPR32 &&
	       op->reg.value != ZYDIS_REGISTER_ESP;
}

void esp_settle(struct tctx *c)
{
	if (!c->esp_delta)
		return;
	emit_lea32(c, R_ESP, ZYDIS_REGISTER_R12, ZYDIS_REGISTER_NONE, 0, c->esp_delta);
	c->esp_delta = 0;
}

bool translate_mov_from_esp(struct tctx *c)
{
	emit_lea32(c, map_reg(c->ops[0].reg.value), ZYDIS_REGISTER_R12, ZYDIS_REGISTER_NONE, 0,
		   c->esp_delta);
	return true;
}

/* The store of a push at ESP's true place (r12 + esp_delta, which is 0
 * but in a run of PUSH and POP) less size. */
static void emit_push_store(struct tctx *c, ZydisEncoderOperand value, unsigned size)
{
	ZydisEncoderOperand ops[2] = { guest_mem_at(c, stack_ptr(c), c->esp_delta - (int32_t)size,
						    ZYDIS_REGISTER_SS, size), value };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ops, 0);
}

/* The lagging forms: the access at ESP's true place, r12 left alone. */
static bool translate_push_lagging(struct tctx *c)
{
	const ZydisDecodedOperand *src = &c->ops[0];
	emit_push_store(c, src->type == ZYDIS_OPERAND_TYPE_REGISTER ? op_reg(map_reg(src->reg.value))
								    : op_imm((int32_t)src->imm.value.s),
			4);
	c->esp_delta -= 4;
	return true;
}

static bool translate_pop_lagging(struct tctx *c)
{
	ZydisEncoderOperand ld[2] = { op_reg(map_reg(c->ops[0].reg.value)),
				      guest_mem_at(c, ZYDIS_REGISTER_ESP, c->esp_delta,
						   ZYDIS_REGISTER_SS, 4) };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ld, 0);
	c->esp_delta += 4;
	return true;
}

void emit_push_value(struct tctx *c, ZydisEncoderOperand value, unsigned size)
{
	emit_push_store(c, value, size);
	emit_sp_add(c, c->esp_delta - (int32_t)size);
	c->esp_delta = 0;
}

void emit_push_eip(struct tctx *c, uint32_t eip)
{
	if (c->in.operand_width == 16) {
		emit_push_value(c, op_imm((int16_t)eip), 2);
		return;
	}
	emit_push_store(c, op_imm((int32_t)eip), 4);
	note_reloc(c, TCACHE_RELOC_EIP32, eip);   /* the store's imm32 ends it */
	emit_sp_add(c, c->esp_delta - 4);
	c->esp_delta = 0;
}

bool translate_push(struct tctx *c)
{
	if (c->esp_lags)
		return translate_push_lagging(c);
	const ZydisDecodedOperand *src = &c->ops[0];
	unsigned size = c->in.operand_width / 8;
	switch (src->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		emit_push_value(c, op_reg(map_reg(src->reg.value)), size);
		return true;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		if (size == 4) {
			emit_push_value(c, op_imm((int32_t)src->imm.value.s), 4);
		} else {
			emit_push_value(c, op_imm((int16_t)src->imm.value.s), 2);
		}
		return true;
	case ZYDIS_OPERAND_TYPE_MEMORY: {
		ZydisRegister t = size == 4 ? ZYDIS_REGISTER_R13D : ZYDIS_REGISTER_R13W;
		ZydisEncoderOperand ops[2] = { op_reg(t), guest_mem(c, src, 0, size) };
		if (emit_adaptive_operand(c, &ops[1], ZYDIS_REGISTER_NONE))
			emit_insn(&c->e, ZYDIS_MNEMONIC_MOV, 2, ops, 0);   /* from the buffer */
		else
			emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ops, 0);
		emit_push_value(c, op_reg(t), size);
		return true;
	}
	default:
		return false;
	}
}

bool translate_pop(struct tctx *c)
{
	if (c->esp_lags)
		return translate_pop_lagging(c);
	const ZydisDecodedOperand *dst = &c->ops[0];
	unsigned size = c->in.operand_width / 8;
	ZydisRegister t = size == 4 ? ZYDIS_REGISTER_R13D : ZYDIS_REGISTER_R13W;
	bool to_reg = dst->type == ZYDIS_OPERAND_TYPE_REGISTER;
	if (!to_reg && dst->type != ZYDIS_OPERAND_TYPE_MEMORY)
		return false;
	ZydisRegister r = to_reg ? map_reg(dst->reg.value) : t;
	bool to_esp = r == R_ESP || r == ZYDIS_REGISTER_R12W;
	/* A general register takes the value straight (a faulting load
	 * changes nothing); ESP and a memory destination through r13. */
	ZydisEncoderOperand ld[2] = { op_reg(to_reg && !to_esp ? r : t),
				      guest_mem_at(c, stack_ptr(c), 0, ZYDIS_REGISTER_SS, size) };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ld, 0);
	if (to_esp) {
		emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(r), op_reg(t));
		return true;
	}
	if (to_reg) {
		emit_sp_add(c, (int32_t)size);
		return true;
	}
	/* POP m computes its address with ESP already incremented. */
	int64_t extra = 0;
	if (dst->mem.base == ZYDIS_REGISTER_ESP)
		extra = size;
	ZydisEncoderOperand st[2] = { guest_mem(c, dst, extra, size), op_reg(t) };
	/* On MMIO the destination is the callouts' buffer. */
	if (emit_adaptive_operand(c, &st[0], ZYDIS_REGISTER_R13)) {
		emit_insn(&c->e, ZYDIS_MNEMONIC_MOV, 2, st, 0);
		emit_adaptive_finish(c);
	} else {
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, st, 0);
	}
	emit_sp_add(c, (int32_t)size);
	return true;
}

static const ZydisRegister gpr32[8] = {
	ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_EBX,
	ZYDIS_REGISTER_ESP, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EDI,
};

bool translate_pusha(struct tctx *c)
{
	unsigned size = c->in.operand_width / 8;
	for (int i = 0; i < 8; i++) {
		ZydisRegister r = map_reg(gpr32[i]);
		ZydisEncoderOperand ops[2] = {
			guest_mem_at(c, stack_ptr(c), -(int32_t)(size * (unsigned)(i + 1)),
				     ZYDIS_REGISTER_SS, size),
			op_reg(size == 4 ? r : reg_sized(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r), 2)),
		};
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ops, 0);
	}
	emit_sp_add(c, -(int32_t)(8 * size));
	return true;
}

bool translate_popa(struct tctx *c)
{
	unsigned size = c->in.operand_width / 8;
	/* Touch both ends first: a fault then leaves every register intact. */
	ZydisRegister t = size == 4 ? ZYDIS_REGISTER_R13D : ZYDIS_REGISTER_R13W;
	ZydisEncoderOperand p0[2] = { op_reg(t), guest_mem_at(c, stack_ptr(c), 0, ZYDIS_REGISTER_SS, size) };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, p0, 0);
	ZydisEncoderOperand p1[2] = { op_reg(t), guest_mem_at(c, stack_ptr(c), (int32_t)(7 * size), ZYDIS_REGISTER_SS, size) };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, p1, 0);
	for (int i = 7; i >= 0; i--) {
		if (i == 4)
			continue;  /* the ESP image is skipped */
		ZydisRegister r64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, gpr32[i]);
		ZydisEncoderOperand ops[2] = {
			op_reg(reg_sized(r64, size)),
			guest_mem_at(c, stack_ptr(c), (int32_t)(size * (unsigned)(7 - i)), ZYDIS_REGISTER_SS, size),
		};
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ops, 0);
	}
	emit_sp_add(c, (int32_t)(8 * size));
	return true;
}

/* LEAVE and ENTER 0: the operand size says how much of BP and the stack
 * they move, SS.B whether the stack pointer is SP or ESP (LEAVE: SP = BP
 * or ESP = EBP, then the pop; ENTER: the frame pointer is SP or ESP). */
bool translate_leave(struct tctx *c)
{
	unsigned size = c->in.operand_width == 16 ? 2 : 4;
	bool s16 = c->mode & MODE_STACK16;
	ZydisEncoderOperand ld[2] = { op_reg(size == 2 ? ZYDIS_REGISTER_R13W : ZYDIS_REGISTER_R13D),
				      guest_mem_at(c, s16 ? ZYDIS_REGISTER_BP : ZYDIS_REGISTER_EBP, 0,
						   ZYDIS_REGISTER_SS, size) };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ld, 0);
	emit_sp_set(c, ZYDIS_REGISTER_RBP, (int32_t)size);
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(size == 2 ? ZYDIS_REGISTER_BP : ZYDIS_REGISTER_EBP),
	      op_reg(size == 2 ? ZYDIS_REGISTER_R13W : ZYDIS_REGISTER_R13D));
	return true;
}

bool translate_enter0(struct tctx *c)
{
	uint32_t frame = (uint32_t)c->ops[0].imm.value.u & 0xffff;
	bool o16 = c->in.operand_width == 16;
	emit_push_value(c, op_reg(o16 ? ZYDIS_REGISTER_BP : ZYDIS_REGISTER_EBP), o16 ? 2 : 4);
	if (o16)
		emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_BP), op_reg(ZYDIS_REGISTER_R12W));
	else if (c->mode & MODE_STACK16)
		emit2(&c->e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_EBP), op_reg(ZYDIS_REGISTER_R12W));
	else
		emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_EBP), op_reg(R_ESP));
	if (frame)
		emit_sp_add(c, -(int32_t)frame);
	return true;
}
