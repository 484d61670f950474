/* Near control flow: JMP, CALL and RET (direct, through a register or
 * memory), Jcc, LOOP/LOOPcc and JCXZ/JECXZ, with a 32- or a 16-bit
 * operand size: a 16-bit one cuts the target to IP (IP wraps at 64 KiB)
 * and pushes or pops a word of it. Direct branches end the block in
 * patchable exits, indirect ones look their target up (emit_indirect);
 * the stack is SS:ESP or SS:SP as SS.B says (translate_stack.c). */
#include "translator/translate_internal.h"

#include "translator/emit.h"

/* The target of a direct branch: with a 16-bit operand size the upper
 * half of EIP is cleared (the SDM's JMP, CALL, Jcc, LOOP), so IP wraps at
 * 64 KiB; with a 32-bit one it is EIP + the displacement, also in 16-bit
 * code. */
static uint32_t branch_target(const struct tctx *c)
{
	uint32_t target = c->next_eip + (uint32_t)c->ops[0].imm.value.s;
	return c->in.operand_width == 16 ? target & 0xffffu : target;
}

/* --- CS's limit (MODE_CSLIMIT) -----------------------------------------
 * A near branch whose target lies past CS's limit is #GP(0) at the
 * branch, before it pushes or pops anything (the SDM's JMP, CALL, RET,
 * Jcc, LOOP). The block's key holds the limit (tblock.cs_limit), so a
 * static target is checked here once; a computed one is checked in the
 * code, before the CALL's push or the RET's pop; flat code (no limit)
 * gets neither. */

void emit_limit_fault(struct tctx *c)
{
	emit_callout(c);
	c->callouts[c->ncallouts - 1].desc.kind = CALLOUT_LIMIT;
}

static bool past_limit(const struct tctx *c, uint32_t target)
{
	return target > c->cs_limit;
}

/* The taken way of a conditional branch to target: its exit, or its #GP
 * where the target is past the limit, after putting back the count a
 * LOOP decremented (count: CX or ECX, else NONE), since a fault leaves
 * the state as it was before the instruction. */
static void emit_taken_exit(struct tctx *c, uint32_t target, ZydisRegister count)
{
	if (!past_limit(c, target)) {
		emit_branch_exit(c, target, EXIT_KIND_BRANCH);
		return;
	}
	if (count != ZYDIS_REGISTER_NONE)
		emit_lea32(c, count, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, 1);
	emit_limit_fault(c);
}

/* The check of the computed target in r13d (zero-extended in r13), flag-
 * free as guest flags are live: r13 + (0xFFFFFFFF - limit) carries into
 * bit 32 exactly when the target is past the limit, and BSWAP brings
 * that bit into the low half for JRCXZ. A 16-bit operand size's word
 * of IP cannot pass a limit of 64 KiB or more. */
static void emit_target_check(struct tctx *c)
{
	if (c->cs_limit == 0xffffffffu || (c->in.operand_width == 16 && c->cs_limit >= 0xffffu))
		return;
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), op_imm((int32_t)(0xffffffffu - c->cs_limit)));
	{
		ZydisEncoderOperand ops[2] = { op_reg(ZYDIS_REGISTER_R14),
					       op_mem(8, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, 1, 0) };
		emit_insn(e, ZYDIS_MNEMONIC_LEA, 2, ops, 0);
	}
	emit1(e, ZYDIS_MNEMONIC_BSWAP, op_reg(ZYDIS_REGISTER_R14));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ECX), op_reg(ZYDIS_REGISTER_R14D));
	uint8_t *inside = emit_jrcxz(e, false);
	restore_rcx(c);
	emit_limit_fault(c);
	if (inside)
		patch_rel8(inside, e->pos);
	restore_rcx(c);
}

/* Loads the target of an indirect JMP/CALL r/m into r13d: a word,
 * zero-extended, with a 16-bit operand size. */
static void load_indirect_target(struct tctx *c)
{
	const ZydisDecodedOperand *op = &c->ops[0];
	bool o16 = c->in.operand_width == 16;
	ZydisMnemonic m = o16 ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOV;
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		emit2(&c->e, m, op_reg(ZYDIS_REGISTER_R13D), op_reg(map_reg(op->reg.value)));
	} else {
		ZydisEncoderOperand ops[2] = { op_reg(ZYDIS_REGISTER_R13D), guest_mem(c, op, 0, o16 ? 2 : 4) };
		if (emit_adaptive_operand(c, &ops[1], ZYDIS_REGISTER_NONE))
			emit_insn(&c->e, m, 2, ops, 0);   /* from the buffer */
		else
			emit_mem_insn(c, m, 2, ops, 0);
	}
}

/* jrcxz on CX alone: RCX is parked in r8 and zero-extended from CX, so the
 * test stays flag-free. Both paths must put RCX back (restore_rcx). */
uint8_t *emit_cx_zero_test(struct tctx *c)
{
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	emit2(&c->e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_ECX), op_reg(ZYDIS_REGISTER_CX));
	return emit_jrcxz(&c->e, false);
}

void restore_rcx(struct tctx *c)
{
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
}

/* JECXZ/LOOPcc with 32-bit addressing: the host's own forms with addr32. */
static void translate_loop32(struct tctx *c)
{
	static const uint8_t opc[] = { 0xe3, 0xe2, 0xe1, 0xe0 };
	ZydisMnemonic m = c->in.mnemonic;
	unsigned k = m == ZYDIS_MNEMONIC_JECXZ ? 0 : m == ZYDIS_MNEMONIC_LOOP ? 1 :
		     m == ZYDIS_MNEMONIC_LOOPE ? 2 : 3;
	uint8_t code[3] = { 0x67, opc[k], 0 };
	emit_bytes(&c->e, code, 3);
	uint8_t *taken = c->e.failed ? NULL : c->e.pos - 1;
	emit_branch_exit(c, c->next_eip, EXIT_KIND_BRANCH);
	if (taken)
		patch_rel8(taken, c->e.pos);
	emit_taken_exit(c, branch_target(c), k ? ZYDIS_REGISTER_ECX : ZYDIS_REGISTER_NONE);
}

/* JCXZ/LOOPcc with 16-bit addressing count in CX only; the host has no such
 * form, so CX is decremented with a 16-bit LEA and tested through
 * emit_cx_zero_test. LOOPE/LOOPNE then look at ZF, which LEA left alone. */
static void translate_loop16(struct tctx *c)
{
	ZydisMnemonic m = c->in.mnemonic;
	bool is_jcxz = m == ZYDIS_MNEMONIC_JCXZ;
	if (!is_jcxz)
		emit_lea32(c, ZYDIS_REGISTER_CX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -1);
	uint8_t *zero = emit_cx_zero_test(c);
	restore_rcx(c);
	/* CX != 0 here: JCXZ falls through, LOOPcc branches if ZF agrees. */
	uint8_t *nz_out = NULL;
	if (m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE) {
		uint8_t jcc[2] = { (uint8_t)(m == ZYDIS_MNEMONIC_LOOPE ? 0x75 : 0x74), 0 };
		emit_bytes(&c->e, jcc, 2);
		nz_out = c->e.failed ? NULL : c->e.pos - 1;
	}
	if (is_jcxz)
		emit_branch_exit(c, c->next_eip, EXIT_KIND_BRANCH);
	else
		emit_taken_exit(c, branch_target(c), ZYDIS_REGISTER_CX);
	if (zero)
		patch_rel8(zero, c->e.pos);
	restore_rcx(c);
	if (is_jcxz) {
		emit_taken_exit(c, branch_target(c), ZYDIS_REGISTER_NONE);
		return;
	}
	if (nz_out)
		patch_rel8(nz_out, c->e.pos);
	emit_branch_exit(c, c->next_eip, EXIT_KIND_BRANCH);
}

bool translate_branch(struct tctx *c)
{
	ZydisMnemonic m = c->in.mnemonic;
	bool rel = c->ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;

	switch (m) {
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_CALL:
		if (rel && past_limit(c, branch_target(c))) {
			emit_limit_fault(c);
			emit_branch_exit(c, c->eip, EXIT_KIND_NOCHAIN);   /* never reached */
			c->ended = true;
		} else if (rel && m == ZYDIS_MNEMONIC_JMP && trace_follows(c, branch_target(c))) {
			c->next_eip = branch_target(c);   /* a trace runs straight on */
		} else if (rel) {
			if (m == ZYDIS_MNEMONIC_CALL)
				emit_push_eip(c, c->next_eip);
			emit_branch_exit(c, branch_target(c), EXIT_KIND_BRANCH);
			c->ended = true;
		} else {
			load_indirect_target(c);
			emit_target_check(c);
			if (m == ZYDIS_MNEMONIC_CALL)
				emit_push_eip(c, c->next_eip);
			emit_indirect(c);
		}
		return true;
	case ZYDIS_MNEMONIC_RET: {
		/* A run of POPs before it may have left r12 behind (esp_delta).
		 * A 16-bit operand size pops a word of IP. */
		bool o16 = c->in.operand_width == 16;
		ZydisEncoderOperand ld[2] = { op_reg(ZYDIS_REGISTER_R13D),
					      guest_mem_at(c, stack_ptr(c), c->esp_delta,
							   ZYDIS_REGISTER_SS, o16 ? 2 : 4) };
		emit_mem_insn(c, o16 ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOV, 2, ld, 0);
		emit_target_check(c);   /* ESP still as it was */
		int32_t pop = o16 ? 2 : 4;
		if (c->in.operand_count_visible > 0 && c->ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			pop += (int32_t)(c->ops[0].imm.value.u & 0xffff);
		emit_sp_add(c, pop + c->esp_delta);
		c->esp_delta = 0;
		emit_indirect(c);
		return true;
	}
	case ZYDIS_MNEMONIC_JCXZ:
	case ZYDIS_MNEMONIC_JECXZ:
	case ZYDIS_MNEMONIC_LOOP:
	case ZYDIS_MNEMONIC_LOOPE:
	case ZYDIS_MNEMONIC_LOOPNE:
		if (c->in.address_width == 16)
			translate_loop16(c);
		else
			translate_loop32(c);
		c->ended = true;
		return true;
	default:
		/* Jcc: the condition is the low nibble of the opcode in both
		 * forms. The block goes on after it while there is room for
		 * the exits of any instruction that may end it (two at most):
		 * a branch not taken then costs no jump to another block. */
		if (past_limit(c, branch_target(c))) {
			/* Taken, it faults; not taken, the block goes on. */
			uint8_t *skip = emit_jcc_rel32(&c->e, (c->in.opcode & 15) ^ 1u, NULL);
			emit_limit_fault(c);
			if (skip && !c->e.failed)
				patch_rel32(skip, c->e.pos);
		} else if (branch_target(c) != c->next_eip && trace_follows(c, branch_target(c))) {
			/* The path took it: the trace leaves where it is not taken. */
			emit_jcc_exit(c, (c->in.opcode & 15) ^ 1u, c->next_eip);
			c->next_eip = branch_target(c);
		} else {
			emit_jcc_exit(c, c->in.opcode & 15, branch_target(c));
		}
		if (c->nexits + 2 > TBLOCK_MAX_EXITS) {
			emit_branch_exit(c, c->next_eip, EXIT_KIND_BRANCH);
			c->ended = true;
		}
		return true;
	}
}
