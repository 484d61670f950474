/* Memory operands that need more than a copy with a GS: window address:
 * the memory callouts' buffer (adaptive instructions, which reached MMIO
 * or kept writing page tables), LOCKed operands across a cache line (a
 * split lock, which must not become the host's), XLAT's implicit operand
 * and BT/BTS/BTR/BTC's register bit offset. */
#include <string.h>

#include "isa/insn.h"
#include "translator/cpu_layout.h"
#include "translator/emit.h"
#include "translator/translate.h"

#include "translator/translate_internal.h"

/* The memory operand m becomes the prepare callout's buffer, [r14]; keep
 * is a register the instruction needs that the callout would clobber. */
static void emit_buffer_operand(struct tctx *c, ZydisEncoderOperand *m, ZydisRegister keep)
{
	address_in_r14(c, m);
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, cpu_field(8, CPU_OFF_SCRATCH + 8), op_reg(ZYDIS_REGISTER_R14));
	if (keep != ZYDIS_REGISTER_NONE)
		emit2(&c->e, ZYDIS_MNEMONIC_MOV, cpu_field(8, CPU_OFF_SCRATCH + 16), op_reg(keep));
	emit_callout_kind(c, CALLOUT_MEM_PREPARE);
	if (keep != ZYDIS_REGISTER_NONE)
		emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(keep), cpu_field(8, CPU_OFF_SCRATCH + 16));
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14), cpu_field(8, CPU_OFF_SCRATCH + 8));
	*m = op_mem(m->mem.size, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_NONE, 0, 0);
}

bool emit_adaptive_operand(struct tctx *c, ZydisEncoderOperand *m, ZydisRegister keep)
{
	if (!insn_is_adaptive(c))
		return false;
	emit_buffer_operand(c, m, keep);
	return true;
}

/* --- split locks ------------------------------------------------------- */

/* A LOCKed instruction, or XCHG with memory, whose operand of size bytes
 * may cross a 64-byte line: on the host that is a split lock, which locks
 * the bus and stalls every core; Linux throttles a thread that takes them
 * (split_lock_detect's warn mode sleeps it) or kills it (fatal mode), and
 * hypervisors trap them. A guest's must not become the host's. */
bool may_split_lock(const struct tctx *c, unsigned size)
{
	return insn_is_locked(&c->in) && size > 1;
}

/* Tests, flag-free (the guest's flags are live), whether the operand at
 * the linear address in r14d crosses a 64-byte line, in RCX (the guest's
 * kept in r8): 4 * (address % 64) + 4 * (size - 1) (LEA scales by 4, CL
 * keeps the low 6 bits' product) reaches 256 exactly when it crosses, so
 * CH is 1 then and 0 otherwise, for JRCXZ. Jumps to the returned rel8
 * field's target when the operand does not cross, RCX still to be
 * restored there (emit_split_lock_end). Six instructions and a branch
 * the host predicts, on an instruction that takes 20 cycles or more. */
static uint8_t *emit_split_lock_test(struct tctx *c, unsigned size)
{
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_NONE, ZYDIS_REGISTER_R14, 4, 0);
	emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_ECX), op_reg(ZYDIS_REGISTER_CL));
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, 4 * (size - 1));
	emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_ECX), op_reg(ZYDIS_REGISTER_CH));
	uint8_t *straight = emit_jrcxz(e, false);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	return straight;
}

/* The path taken when a LOCKed instruction's memory operand *m (its
 * address already in r14d) crosses a line, in two halves around the
 * instruction, which the caller emits on the buffer of the memory
 * callouts that the first half makes *m; those keep every other vCPU out
 * meanwhile (callout_mem.c). The first half returns the test's rel8 field
 * for the second; that returns the rel8 field of its jump past the
 * straight form, which the caller emits next and patches the field to the
 * end of (NULL when the encoder failed). */
uint8_t *emit_split_lock_begin(struct tctx *c, ZydisEncoderOperand *m, ZydisRegister keep)
{
	esp_settle(c);   /* both paths go on with the same ESP in r12 */
	uint8_t *straight = emit_split_lock_test(c, m->mem.size);
	emit_buffer_operand(c, m, keep);
	c->callouts[c->ncallouts - 1].desc.flags |= CALLOUT_SPLIT_LOCK;
	return straight;
}

uint8_t *emit_split_lock_end(struct tctx *c, uint8_t *straight)
{
	emit_callout_kind(c, CALLOUT_MEM_FINISH);
	c->callouts[c->ncallouts - 1].desc.flags |= CALLOUT_SPLIT_LOCK;
	uint8_t *done = emit_jump8(&c->e, JUMP8_JMP);
	if (c->e.failed || !straight || !done)
		return NULL;
	patch_rel8(straight, c->e.pos);
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	return done;
}

void emit_adaptive_finish(struct tctx *c)
{
	emit_callout_kind(c, CALLOUT_MEM_FINISH);
}

/* --- XLAT and BT with a register offset -------------------------------- */

/* XLAT: the byte at [EBX + AL] (BX + AL with 16-bit addressing). */
bool translate_xlat(struct tctx *c)
{
	ZydisDecodedOperand op;
	memset(&op, 0, sizeof(op));
	op.type = ZYDIS_OPERAND_TYPE_MEMORY;
	op.mem.segment = ZYDIS_REGISTER_DS;
	for (unsigned i = 0; i < c->in.operand_count; i++)
		if (c->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			op.mem.segment = c->ops[i].mem.segment;
	emit2(&c->e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R13D), op_reg(ZYDIS_REGISTER_AL));
	op.mem.base = ZYDIS_REGISTER_EBX;
	op.mem.index = ZYDIS_REGISTER_R13D;  /* reg64() maps it to r13 */
	op.mem.scale = 1;
	if (c->in.address_width == 16) {
		/* BX + AL wraps at 64 KiB: guest_mem's lea + movzx path. */
		op.mem.base = ZYDIS_REGISTER_BX;
		op.mem.index = ZYDIS_REGISTER_R13W;
	}
	ZydisEncoderOperand ops[2] = { op_reg(ZYDIS_REGISTER_AL),
				       c->in.address_width != 16 && !seg_needs_base(c, op.mem.segment)
					       ? op_mem(1, ZYDIS_REGISTER_EBX, ZYDIS_REGISTER_R13D, 1, 0)
					       : guest_mem(c, &op, 0, 1) };
	/* EBX + AL on MMIO or where nothing answers (the monitor marked it):
	 * the byte comes through the callouts' buffer. Without this an XLAT
	 * that once reached MMIO faulted the same way again and ended the run
	 * (random code found it: hostile_random). */
	if (emit_adaptive_operand(c, &ops[1], ZYDIS_REGISTER_NONE))
		emit_insn(&c->e, ZYDIS_MNEMONIC_MOV, 2, ops, 0);   /* from the buffer */
	else
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ops, 0);
	return true;
}

/* BT/BTS/BTR/BTC m, r: the register offset can reach 256 MiB either side
 * of the operand, past any guard space; address the right dword first. */
bool translate_bit_mem_reg(struct tctx *c)
{
	unsigned size = c->in.operand_width / 8;
	ZydisRegister off = c->ops[1].reg.value;
	ZydisEncoderOperand m = guest_mem(c, &c->ops[0], 0, size);
	address_in_r14(c, &m);
	/* r13 = sign-extended offset >> (3 + log2 size) << log2 size: the byte
	 * offset of the element; r11 = offset within the element. */
	if (size == 4)
		emit2(&c->e, ZYDIS_MNEMONIC_MOVSXD, op_reg(ZYDIS_REGISTER_R13), op_reg(map_reg(off)));
	else
		emit2(&c->e, ZYDIS_MNEMONIC_MOVSX, op_reg(ZYDIS_REGISTER_R13), op_reg(map_reg(off)));
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11), op_reg(ZYDIS_REGISTER_R13));
	/* The shift and mask clobber flags, and BT leaves ZF as it was. */
	emit_insn(&c->e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
	emit2(&c->e, ZYDIS_MNEMONIC_SAR, op_reg(ZYDIS_REGISTER_R13), op_imm(size == 4 ? 5 : 4));
	emit2(&c->e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R11D), op_imm(size * 8 - 1));
	emit_insn(&c->e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	emit_lea32(c, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R13, size, 0);
	ZydisEncoderOperand ops[2] = { op_mem(size, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_NONE, 0, 0),
				       op_reg(size == 4 ? ZYDIS_REGISTER_R11D : ZYDIS_REGISTER_R11W) };
	if (!insn_is_adaptive(c)) {
		uint8_t *done = NULL;
		if (may_split_lock(c, size)) {
			/* The element's address can be anything: the bit index
			 * waits in scratch while the callouts clobber r11. */
			ZydisEncoderOperand buffered[2] = { ops[0], ops[1] };
			uint8_t *straight = emit_split_lock_begin(c, &buffered[0], ZYDIS_REGISTER_R11);
			emit_insn(&c->e, c->in.mnemonic, 2, buffered, 0);
			done = emit_split_lock_end(c, straight);
			if (!done)
				return false;
		}
		emit_mem_insn(c, c->in.mnemonic, 2, ops, c->in.attributes & ZYDIS_ATTRIB_HAS_LOCK);
		if (done && !c->e.failed)
			patch_rel8(done, c->e.pos);
		return true;
	}
	/* On MMIO: the element goes through the buffer; the bit index
	 * waits in scratch while the callout clobbers r11. */
	emit_adaptive_operand(c, &ops[0], ZYDIS_REGISTER_R11);
	emit_insn(&c->e, c->in.mnemonic, 2, ops, 0);
	if (c->in.mnemonic != ZYDIS_MNEMONIC_BT)
		emit_adaptive_finish(c);
	return true;
}

