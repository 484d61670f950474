/* The inline forms of sensitive instructions (isa/sensitive.h names one
 * per row): short sequences on the virtual state that keep the commonest
 * of a kernel's sensitive instructions out of the monitor. Each may
 * decline, leaving the instruction to its callout. */
#include "translator/translate_internal.h"

#include <stddef.h>

#include "isa/insn.h"
#include "isa/seg_reg.h"
#include "isa/sensitive.h"
#include "isa/vcpu.h"
#include "mmu/window.h"
#include "translator/cpu_layout.h"
#include "translator/emit.h"

/* The monitor's copy of a segment register's selector, as a cpu field. */
static ZydisEncoderOperand selector_field(ZydisRegister seg)
{
	size_t off = CPU_OFF_STATE + offsetof(struct vcpu_state, seg) +
		     seg_reg_index(seg) * sizeof(struct segment) + offsetof(struct segment, selector);
	return cpu_field(2, (unsigned)off);
}

/* The instruction's callout, resumable: the block goes on after it unless
 * the mode changed or an interrupt became due (callout_and_resume). */
static void emit_resumable_callout(struct tctx *c)
{
	emit_callout(c);
	c->callouts[c->ncallouts - 1].desc.flags = CALLOUT_RESUMABLE;
}

/* The slow path of a translated segment reload: the callout, resumable
 * (a load of DS, ES, FS or GS goes on in the block unless the mode
 * changed), then a jump over the rest; returns the jump's rel8 field. */
static uint8_t *emit_seg_load_callout(struct tctx *c)
{
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	emit_resumable_callout(c);
	return emit_jump8(&c->e, JUMP8_JMP);
}

/* Compares r11 with the cpu field of size bytes at offset, the guest's
 * flags left alone: rcx = field + ~r11 + 1 by NOT and LEA, the guest's
 * RCX in r8 meanwhile. Returns the rel8 field of the JRCXZ taken when
 * they are equal; both ways go on with RCX still in r8. */
static uint8_t *emit_compare_field(struct tctx *c, unsigned size, unsigned offset)
{
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(size == 4 ? ZYDIS_REGISTER_ECX : ZYDIS_REGISTER_RCX),
	      cpu_field(size, offset));
	emit1(e, ZYDIS_MNEMONIC_NOT, op_reg(ZYDIS_REGISTER_R11));
	ZydisEncoderOperand ops[2] = { op_reg(ZYDIS_REGISTER_RCX),
				       op_mem(8, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11, 1, 1) };
	emit_insn(e, ZYDIS_MNEMONIC_LEA, 2, ops, 0);
	return emit_jrcxz(e, false);
}

/* emit_compare_field, with the reload's callout on a difference. Returns
 * the callout's jump over the rest, to patch. */
static uint8_t *emit_same_or_callout(struct tctx *c, unsigned size, unsigned offset)
{
	struct emitter *e = &c->e;
	uint8_t *same = emit_compare_field(c, size, offset);
	uint8_t *done = emit_seg_load_callout(c);
	if (same)
		patch_rel8(same, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	return done;
}

/* Compares the selector in r13d, then the GDT's bytes at the address the
 * cache entry at offset entry holds, with the entry; on a difference
 * the instruction's callout. The descriptor is read through the window as
 * the CPU reads it, before RCX is borrowed: a fault there is the
 * instruction's, the guest's registers in place. done[] gets the
 * callouts' jumps over the rest, to patch. */
static void emit_cache_entry_check(struct tctx *c, unsigned entry, uint8_t *done[2])
{
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R13D));
	done[0] = emit_same_or_callout(c, 4, entry);   /* the selector */
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), cpu_field(4, entry + 4));
	ZydisEncoderOperand rd[2] = { op_reg(ZYDIS_REGISTER_R11),
				      op_mem(8, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_NONE, 0, 0) };
	emit_insn(e, ZYDIS_MNEMONIC_MOV, 2, rd, ZYDIS_ATTRIB_HAS_SEGMENT_GS);
	done[1] = emit_same_or_callout(c, 8, entry + 8);   /* its bytes */
}

static void patch_done(struct emitter *e, uint8_t *done[2])
{
	for (int i = 0; i < 2; i++)
		if (done[i])
			patch_rel8(done[i], e->pos);
}

/* Compares r11 with the cpu field of size bytes at offset, the guest's
 * flags and RCX left alone (as emit_same_or_callout); returns the rel8
 * field of the jump taken on a difference, to patch. */
static uint8_t *emit_jump_if_differs(struct tctx *c, unsigned size, unsigned offset)
{
	struct emitter *e = &c->e;
	uint8_t *same = emit_compare_field(c, size, offset);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	uint8_t *differs = emit_jump8(e, JUMP8_JMP);
	if (same)
		patch_rel8(same, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	return differs;
}

/* One way of a register's cached loads (cpu->seg_loads) against the
 * selector in r13d: miss[0..1] get the jumps taken when the selector or
 * the GDT's bytes differ; *null the jump taken for a cached null selector
 * (address 0, no descriptor to compare); a match of a descriptor falls
 * through. The descriptor is read through the window as the CPU reads
 * it, RCX the guest's: a fault there is the instruction's. */
static void emit_seg_load_way(struct tctx *c, unsigned way, uint8_t *miss[2], uint8_t **null)
{
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R13D));
	miss[0] = emit_jump_if_differs(c, 4, way);   /* the selector */
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ECX), cpu_field(4, way + 4));
	uint8_t *is_null = emit_jrcxz(e, false);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	uint8_t *has_desc = emit_jump8(e, JUMP8_JMP);
	if (is_null)
		patch_rel8(is_null, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	*null = emit_jump8(e, JUMP8_JMP);
	if (has_desc)
		patch_rel8(has_desc, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), cpu_field(4, way + 4));
	ZydisEncoderOperand rd[2] = { op_reg(ZYDIS_REGISTER_R11),
				      op_mem(8, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_NONE, 0, 0) };
	emit_insn(e, ZYDIS_MNEMONIC_MOV, 2, rd, ZYDIS_ATTRIB_HAS_SEGMENT_GS);
	miss[1] = emit_jump_if_differs(c, 8, way + 8);   /* its bytes */
}

static void patch_all(uint8_t *const *fields, unsigned n, const void *target)
{
	for (unsigned i = 0; i < n; i++)
		if (fields[i])
			patch_rel8(fields[i], target);
}

/* A hit in the way at offset way_off (from the first) of segment
 * register seg's cached loads, *null its jump for a cached null selector
 * (emit_seg_load_way): r14 = way_off; for FS and GS also r13 = the guard
 * pointer the load leaves (cpu->seg_guard): the register's base while a
 * descriptor matched, which leaves it usable, the null guard for the
 * null selector, which leaves it unusable. r13's selector is not needed
 * past the way that matched. */
static void emit_way_hit(struct tctx *c, unsigned seg, uint8_t *null, int32_t way_off)
{
	struct emitter *e = &c->e;
	if (seg == SEG_FS || seg == SEG_GS) {
		ZydisEncoderOperand base[2] = { op_reg(ZYDIS_REGISTER_R13),
						cpu_field(8, CPU_OFF_SEG_BASE + 4 * seg) };
		emit_insn(e, ZYDIS_MNEMONIC_LEA, 2, base, 0);
		uint8_t *set = emit_jump8(e, JUMP8_JMP);
		if (null)
			patch_rel8(null, e->pos);
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R13), cpu_field(8, CPU_OFF_NULL_GUARD));
		if (set)
			patch_rel8(set, e->pos);
	} else if (null) {
		patch_rel8(null, e->pos);
	}
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), op_imm(way_off));
}

/* MOV Sreg, r/m and POP Sreg (ES, DS, FS, GS) at CPL 0 in a flat mode: a
 * load of one of the two selectors the register last loaded through the
 * monitor there (cpu->seg_loads), whose GDT descriptor still has the
 * bytes it had then, puts the segment the monitor made of it in the
 * register (and ESP moves for POP); anything else is the callout. The
 * kernel reloads DS and ES at every entry and exit, and switches FS
 * between its per-CPU segment and the user's at both: without this, a
 * callout each, two in every system call. */
static bool translate_segment_load(struct tctx *c)
{
	bool pop = c->in.mnemonic == ZYDIS_MNEMONIC_POP;
	int row;
	switch (c->ops[0].reg.value) {
	case ZYDIS_REGISTER_ES: row = 0; break;
	case ZYDIS_REGISTER_DS: row = 1; break;
	case ZYDIS_REGISTER_FS: row = 2; break;
	case ZYDIS_REGISTER_GS: row = 3; break;
	default: return false;
	}
	const ZydisDecodedOperand *from = &c->ops[1];
	bool from_mem = !pop && from->type == ZYDIS_OPERAND_TYPE_MEMORY;
	if ((c->mode & (MODE_CPL3 | MODE_SINGLE | MODE_LEGACY)) || !(c->mode & MODE_FLAT) ||
	    insn_is_adaptive(c) ||
	    (pop ? c->in.operand_width != 32
		 : from->type != ZYDIS_OPERAND_TYPE_REGISTER &&
			   !(from_mem && c->in.address_width == 32 &&
			     from->mem.segment != ZYDIS_REGISTER_FS && from->mem.segment != ZYDIS_REGISTER_GS)))
		return false;
	struct emitter *e = &c->e;
	unsigned ways = CPU_OFF_SEG_LOADS + (unsigned)row * CPU_SEG_LOAD_WAYS * CPU_SEG_LOAD_SIZE;
	if (pop) {
		ZydisEncoderOperand ld[2] = { op_reg(ZYDIS_REGISTER_R13D),
					      guest_mem_at(c, ZYDIS_REGISTER_ESP, 0, ZYDIS_REGISTER_SS, 2) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOVZX, 2, ld, 0);
	} else if (from_mem) {
		ZydisEncoderOperand ld[2] = { op_reg(ZYDIS_REGISTER_R13D), guest_mem(c, from, 0, 2) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOVZX, 2, ld, 0);
	} else {
		ZydisRegister src = reg_sized(reg64(map_reg(from->reg.value)), 2);
		emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R13D), op_reg(src));
	}
	/* r14 = the matching way's offset from the first, for the copy.
	 * The callout comes before the copy, so that the second way's
	 * misses reach it with rel8 jumps past FS's and GS's guard code. */
	unsigned seg = seg_reg_index(c->ops[0].reg.value);
	uint8_t *miss0[2], *null0, *miss1[2], *null1;
	emit_seg_load_way(c, ways, miss0, &null0);
	emit_way_hit(c, seg, null0, 0);
	uint8_t *copy_from0 = emit_jmp_rel32(e, NULL);
	patch_all(miss0, 2, e->pos);
	emit_seg_load_way(c, ways + CPU_SEG_LOAD_SIZE, miss1, &null1);
	emit_way_hit(c, seg, null1, CPU_SEG_LOAD_SIZE);
	uint8_t *copy_from1 = emit_jump8(e, JUMP8_JMP);
	patch_all(miss1, 2, e->pos);
	emit_resumable_callout(c);
	uint8_t *done = emit_jump8(e, JUMP8_JMP);
	if (copy_from0)
		patch_rel32(copy_from0, e->pos);
	if (copy_from1)
		patch_rel8(copy_from1, e->pos);
	unsigned dst = CPU_OFF_STATE + (unsigned)offsetof(struct vcpu_state, seg) +
		       seg * (unsigned)sizeof(struct segment);
	unsigned src = ways + CPU_SEG_LOAD_SEGMENT;
	for (unsigned half = 0; half < 2; half++) {
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11),
		      op_mem(8, ZYDIS_REGISTER_R15, ZYDIS_REGISTER_R14, 1, (int64_t)(src + 8 * half)));
		emit2(e, ZYDIS_MNEMONIC_MOV, cpu_field(8, dst + 8 * half), op_reg(ZYDIS_REGISTER_R11));
	}
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D),
	      op_mem(4, ZYDIS_REGISTER_R15, ZYDIS_REGISTER_R14, 1,
		     (int64_t)(src + offsetof(struct segment, base))));
	emit2(e, ZYDIS_MNEMONIC_MOV, cpu_field(4, CPU_OFF_SEG_BASE + 4 * seg), op_reg(ZYDIS_REGISTER_R11D));
	if (seg == SEG_FS || seg == SEG_GS)
		emit2(e, ZYDIS_MNEMONIC_MOV, cpu_field(8, CPU_OFF_SEG_GUARD + 8 * (seg - SEG_FS)),
		      op_reg(ZYDIS_REGISTER_R13));
	if (pop)
		emit_lea32(c, R_ESP, ZYDIS_REGISTER_R12, ZYDIS_REGISTER_NONE, 0, 4);
	if (done)
		patch_rel8(done, e->pos);
	return true;
}

/* VERW at CPL 0 in a flat mode of the selector the last VERW callout
 * found writable there, whose GDT descriptor still has the bytes it had
 * (cpu->verw_cache): ZF set, the other flags kept; anything
 * else the callout. The kernel clears the CPU's buffers with it before
 * every return to user mode, a callout in every system call. */
static bool translate_verw(struct tctx *c)
{
	const ZydisDecodedOperand *op = &c->ops[0];
	if ((c->mode & (MODE_CPL3 | MODE_SINGLE | MODE_LEGACY)) || !(c->mode & MODE_FLAT) ||
	    insn_is_adaptive(c))
		return false;
	struct emitter *e = &c->e;
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		ZydisRegister src = reg_sized(reg64(map_reg(op->reg.value)), 2);
		emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R13D), op_reg(src));
	} else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && c->in.address_width == 32 &&
		   op->mem.segment != ZYDIS_REGISTER_FS && op->mem.segment != ZYDIS_REGISTER_GS) {
		ZydisEncoderOperand ld[2] = { op_reg(ZYDIS_REGISTER_R13D), guest_mem(c, op, 0, 2) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOVZX, 2, ld, 0);
	} else {
		return false;
	}
	uint8_t *done[2];
	emit_cache_entry_check(c, CPU_OFF_VERW_CACHE, done);
	emit_insn(e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
	emit2(e, ZYDIS_MNEMONIC_OR, op_mem(8, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_NONE, 0, 0),
	      op_imm(EFLAGS_ZF));
	emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	patch_done(e, done);
	return true;
}

/* Reads of a segment register without a callout: MOV to a general
 * register (zero-extended at 32 bits, as P6 and later do) and PUSH, which
 * at 32 bits takes a whole slot but writes only the selector's word, the
 * upper half keeping what it had (as current Intel CPUs do, and as the
 * callout does: read the slot, replace the low word, write it back). The
 * kernel saves its segments this way at every entry. */
static bool translate_cr_read(struct tctx *c);

static bool translate_segment_read(struct tctx *c)
{
	if (c->in.mnemonic == ZYDIS_MNEMONIC_MOV && c->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ZydisRegisterGetClass(c->ops[0].reg.value) == ZYDIS_REGCLASS_SEGMENT)
		return translate_segment_load(c);
	if (c->in.mnemonic == ZYDIS_MNEMONIC_MOV && c->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ZydisRegisterGetClass(c->ops[1].reg.value) == ZYDIS_REGCLASS_CONTROL)
		return translate_cr_read(c);
	ZydisMnemonic m = c->in.mnemonic;
	if (m == ZYDIS_MNEMONIC_MOV && c->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    c->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ZydisRegisterGetClass(c->ops[1].reg.value) == ZYDIS_REGCLASS_SEGMENT) {
		ZydisRegisterClass cls = ZydisRegisterGetClass(c->ops[0].reg.value);
		ZydisRegister dst = map_reg(c->ops[0].reg.value);
		if (cls == ZYDIS_REGCLASS_GPR32)
			emit2(&c->e, ZYDIS_MNEMONIC_MOVZX, op_reg(dst), selector_field(c->ops[1].reg.value));
		else if (cls == ZYDIS_REGCLASS_GPR16)
			emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(dst), selector_field(c->ops[1].reg.value));
		else
			return false;
		return true;
	}
	/* A stack that reached MMIO (the monitor marked it): the callout,
	 * which goes through the bus. */
	if (m == ZYDIS_MNEMONIC_PUSH && c->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ZydisRegisterGetClass(c->ops[0].reg.value) == ZYDIS_REGCLASS_SEGMENT && !insn_is_adaptive(c)) {
		struct emitter *e = &c->e;
		emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R11D), selector_field(c->ops[0].reg.value));
		if (c->in.operand_width == 16) {
			emit_push_value(c, op_reg(ZYDIS_REGISTER_R11W), 2);
			return true;
		}
		if (c->in.operand_width != 32)
			return false;
		ZydisEncoderOperand ld[2] = { op_reg(ZYDIS_REGISTER_R8D),
					      guest_mem_at(c, stack_ptr(c), -4, ZYDIS_REGISTER_SS, 4) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ld, 0);
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8W), op_reg(ZYDIS_REGISTER_R11W));
		emit_push_value(c, op_reg(ZYDIS_REGISTER_R8D), 4);
		return true;
	}
	return false;
}

/* RDTSC (and RDTSCP's TSC) with a constant-rate host TSC: the host's
 * counter less the guest's offset, without leaving translated code (Linux
 * reads the TSC a dozen times per system call, and its vDSO's
 * clock_gettime in every process). The host flags are the caller's to
 * save: the guest's are live in RFLAGS. RDTSCP waits for the instructions
 * before it as LFENCE; RDTSC does. */
static void emit_rdtsc_body(struct tctx *c, bool ordered)
{
	struct emitter *e = &c->e;
	if (ordered)
		emit_insn(e, ZYDIS_MNEMONIC_LFENCE, 0, NULL, 0);
	emit_insn(e, ZYDIS_MNEMONIC_RDTSC, 0, NULL, 0);
	emit2(e, ZYDIS_MNEMONIC_SHL, op_reg(ZYDIS_REGISTER_RDX), op_imm(32));
	emit2(e, ZYDIS_MNEMONIC_OR, op_reg(ZYDIS_REGISTER_RAX), op_reg(ZYDIS_REGISTER_RDX));
	emit2(e, ZYDIS_MNEMONIC_SUB, op_reg(ZYDIS_REGISTER_RAX), cpu_field(8, CPU_OFF_TSC_OFFSET));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RDX), op_reg(ZYDIS_REGISTER_RAX));
	emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_RDX), op_imm(32));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_EAX), op_reg(ZYDIS_REGISTER_EAX));
	if (ordered) {
		size_t aux = CPU_OFF_STATE + offsetof(struct vcpu_state, msrs) +
			     offsetof(struct msr_file, tsc_aux);
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ECX), cpu_field(4, (unsigned)aux));
	}
}

/* The CPL of the running code, at a fixed offset. */
static ZydisEncoderOperand cpl_field(void)
{
	return cpu_field(4, CPU_OFF_STATE + offsetof(struct vcpu_state, cpl));
}

/* The forms of CLI, STI, POPF and RDTSC below are CPL 0's, but blocks at
 * CPL 1 and 2 have CPL 0's translation mode (only CPL 3 has a mode bit),
 * and there the processor checks these against IOPL (CR4.TSD for RDTSC).
 * So the form first looks at the CPL (and STI at cpu->irq_held too) and
 * takes the resumable callout unless it is 0. emit_inline_guard emits
 * that, flag-free (the guest's RCX in r8 meanwhile), and returns the rel8
 * of the jump over the form; the form follows with RCX back. */
static uint8_t *emit_inline_guard(struct tctx *c, bool irq_held)
{
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ECX), cpl_field());
	if (irq_held) {
		emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R11D), cpu_field(1, CPU_OFF_IRQ_HELD));
		emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11, 1, 0);
	}
	uint8_t *inline_ok = emit_jrcxz(e, false);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	emit_resumable_callout(c);
	uint8_t *done = emit_jump8(e, JUMP8_JMP);
	if (inline_ok)
		patch_rel8(inline_ok, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	return done;
}

/* CLI at CPL 0 is a plain store to the virtual IF. In user mode CPL >
 * IOPL makes it #GP (IOPL is not in the key): the callout; at CPL 1 and 2
 * too (emit_inline_guard). */
static bool translate_cli(struct tctx *c)
{
	if (c->mode & (MODE_CPL3 | MODE_SINGLE))
		return false;
	uint8_t *done = emit_inline_guard(c, false);
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, cpu_field(1, CPU_OFF_VIF), op_imm(0));
	if (done)
		patch_rel8(done, c->e.pos);
	return true;
}

/* MOV r32, CR0/CR2/CR3/CR4 at CPL 0: a load of the register from struct
 * cpu (the callout reads the same fields). The #PF handler reads CR2 once
 * per fault, where the callout cost a door out and back. At CPL 1 and 2
 * the guard takes the callout, which raises #GP (a privileged
 * instruction); at CPL 3 the callout is all there is. */
static bool translate_cr_read(struct tctx *c)
{
	if (c->mode & (MODE_CPL3 | MODE_SINGLE) || c->ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ZydisRegisterGetClass(c->ops[0].reg.value) != ZYDIS_REGCLASS_GPR32)
		return false;
	size_t off;
	switch (c->ops[1].reg.value) {
	case ZYDIS_REGISTER_CR0: off = offsetof(struct vcpu_state, cr0); break;
	case ZYDIS_REGISTER_CR2: off = offsetof(struct vcpu_state, cr2); break;
	case ZYDIS_REGISTER_CR3: off = offsetof(struct vcpu_state, cr3); break;
	case ZYDIS_REGISTER_CR4: off = offsetof(struct vcpu_state, cr4); break;
	default: return false;
	}
	uint8_t *done = emit_inline_guard(c, false);
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(map_reg(c->ops[0].reg.value)),
	      cpu_field(4, CPU_OFF_STATE + (unsigned)off));
	if (done)
		patch_rel8(done, c->e.pos);
	return true;
}

/* PUSHF at CPL 0 on a flat 32-bit stack: EFLAGS as cpu_get_eflags makes
 * them (the host's arithmetic flags, the virtual IF, the rest from struct
 * cpu), without VM and RF, as the callout pushes them; the kernel runs it
 * around every lock (2.6M callouts in a Debian boot). The slot is written
 * with zero first, so a stack fault comes before any flag is touched; the
 * guest's flags come back with POPFQ. */
static bool translate_pushf(struct tctx *c)
{
	struct emitter *e = &c->e;
	if ((c->mode & (MODE_CPL3 | MODE_LEGACY)) || !(c->mode & MODE_FLAT) ||
	    c->in.operand_width != 32 || insn_is_adaptive(c))
		return false;
	ZydisEncoderOperand slot[2] = { guest_mem_at(c, ZYDIS_REGISTER_ESP, -4, ZYDIS_REGISTER_SS, 4),
					op_imm(0) };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, slot, 0);
	emit_insn(e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
	emit1(e, ZYDIS_MNEMONIC_POP, op_reg(R_T));
	emit_insn(e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R13D), op_imm(EFLAGS_ARITH));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D),
	      cpu_field(4, CPU_OFF_STATE + offsetof(struct vcpu_state, eflags)));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R11D),
	      op_imm((int32_t)~(EFLAGS_ARITH | EFLAGS_IF | EFLAGS_VM | EFLAGS_RF)));
	emit2(e, ZYDIS_MNEMONIC_OR, op_reg(ZYDIS_REGISTER_R13D), op_reg(ZYDIS_REGISTER_R11D));
	emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R11D), cpu_field(1, CPU_OFF_VIF));
	emit2(e, ZYDIS_MNEMONIC_SHL, op_reg(ZYDIS_REGISTER_R11D), op_imm(9));   /* IF is bit 9 */
	emit2(e, ZYDIS_MNEMONIC_OR, op_reg(ZYDIS_REGISTER_R13D), op_reg(ZYDIS_REGISTER_R11D));
	emit2(e, ZYDIS_MNEMONIC_OR, op_reg(ZYDIS_REGISTER_R13D), op_imm(EFLAGS_FIXED1));
	slot[0] = guest_mem_at(c, ZYDIS_REGISTER_ESP, -4, ZYDIS_REGISTER_SS, 4);
	slot[1] = op_reg(ZYDIS_REGISTER_R13D);
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, slot, 0);
	emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	emit_lea32(c, R_ESP, ZYDIS_REGISTER_R12, ZYDIS_REGISTER_NONE, 0, -4);
	return true;
}

/* POPFD at CPL 0 on a flat stack that changes only the arithmetic flags
 * and IF, with no interrupt waiting on IF (cpu->irq_held) if it sets IF:
 * the arithmetic flags into the host's, IF into the virtual IF, ESP up;
 * the rest (TF, DF, NT, IOPL, AC, ID, which may change the mode) and an
 * interrupt to let in are the resumable callout's. The kernel's
 * local_irq_restore: two callouts in every system call. The value is read
 * first, so a stack fault comes before anything changed; the guest's
 * flags are saved with PUSHFQ while the test clobbers them. */
static bool translate_popf(struct tctx *c)
{
	if ((c->mode & (MODE_CPL3 | MODE_SINGLE | MODE_LEGACY)) || !(c->mode & MODE_FLAT) ||
	    c->in.operand_width != 32 || insn_is_adaptive(c))
		return false;
	struct emitter *e = &c->e;
	const uint32_t others = EFLAGS_TF | EFLAGS_DF | EFLAGS_NT | EFLAGS_IOPL | EFLAGS_AC | EFLAGS_ID;
	ZydisEncoderOperand ld[2] = { op_reg(ZYDIS_REGISTER_R13D),
				      guest_mem_at(c, ZYDIS_REGISTER_ESP, 0, ZYDIS_REGISTER_SS, 4) };
	emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, ld, 0);
	emit_insn(e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
	emit2(e, ZYDIS_MNEMONIC_CMP, cpl_field(), op_imm(0));   /* emit_inline_guard says why */
	uint8_t *slow0 = emit_jump8(e, JUMP8_JNZ);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R13D));
	emit2(e, ZYDIS_MNEMONIC_XOR, op_reg(ZYDIS_REGISTER_R11D),
	      cpu_field(4, CPU_OFF_STATE + offsetof(struct vcpu_state, eflags)));
	emit2(e, ZYDIS_MNEMONIC_TEST, op_reg(ZYDIS_REGISTER_R11D), op_imm((int32_t)others));
	uint8_t *slow1 = emit_jump8(e, JUMP8_JNZ);
	emit2(e, ZYDIS_MNEMONIC_BT, op_reg(ZYDIS_REGISTER_R13D), op_imm(9));   /* IF */
	uint8_t *no_if = emit_jump8(e, JUMP8_JNC);
	emit2(e, ZYDIS_MNEMONIC_CMP, cpu_field(1, CPU_OFF_IRQ_HELD), op_imm(0));
	uint8_t *slow2 = emit_jump8(e, JUMP8_JNZ);
	if (no_if)
		patch_rel8(no_if, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R13D));
	emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_R11D), op_imm(9));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R11D), op_imm(1));
	emit2(e, ZYDIS_MNEMONIC_MOV, cpu_field(1, CPU_OFF_VIF), op_reg(ZYDIS_REGISTER_R11B));
	emit1(e, ZYDIS_MNEMONIC_POP, op_reg(ZYDIS_REGISTER_R11));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R11), op_imm((int32_t)~EFLAGS_ARITH));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R13D), op_imm(EFLAGS_ARITH));
	emit2(e, ZYDIS_MNEMONIC_OR, op_reg(ZYDIS_REGISTER_R11), op_reg(ZYDIS_REGISTER_R13));
	emit1(e, ZYDIS_MNEMONIC_PUSH, op_reg(ZYDIS_REGISTER_R11));
	emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	emit_lea32(c, R_ESP, ZYDIS_REGISTER_R12, ZYDIS_REGISTER_NONE, 0, 4);
	uint8_t *done = emit_jump8(e, JUMP8_JMP);
	if (slow0)
		patch_rel8(slow0, e->pos);
	if (slow1)
		patch_rel8(slow1, e->pos);
	if (slow2)
		patch_rel8(slow2, e->pos);
	emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	emit_resumable_callout(c);
	if (done)
		patch_rel8(done, e->pos);
	return true;
}

/* STI at CPL 0: the virtual IF set in place, unless the run loop last saw
 * an interrupt waiting on IF (cpu->irq_held), when the callout lets it in
 * after the next instruction, or the CPL is not 0 (emit_inline_guard).
 * One raised since asked for attention and is taken at the next block
 * entry: the block must therefore go on past the next instruction, which
 * keeps STI's one-instruction shadow (STI; HLT), so STI near the block's
 * end stays a callout. 2M callouts in a Debian boot, four in each page
 * fault. */
static bool translate_sti(struct tctx *c)
{
	const struct translate_env *env = c->env;
	unsigned max = c->t->single_insn ? 1 : c->t->max_insns;
	uint64_t page_end = page_end_of(c, c->eip);
	if ((c->mode & (MODE_CPL3 | MODE_SINGLE)) || c->tb->ninsns >= max ||
	    (uint64_t)c->next_eip + ZYDIS_MAX_INSTRUCTION_LENGTH > page_end || c->next_eip < c->eip ||
	    (size_t)(c->e.limit - c->e.pos) <
		    2 * INSN_HEADROOM + tail_room(c, BLOCK_MAX_INSNS * ZYDIS_MAX_INSTRUCTION_LENGTH) ||
	    (env->breakpoint_at && env->breakpoint_at(env->opaque, c->next_eip)))
		return false;
	uint8_t *done = emit_inline_guard(c, true);
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, cpu_field(1, CPU_OFF_VIF), op_imm(1));
	if (done)
		patch_rel8(done, c->e.pos);
	return true;
}

/* CLD with DF clear, STD with DF set: DF is part of the translation mode,
 * so the block knows it already has that value, and the instruction is
 * nothing (0.7M callouts in a Debian boot, the kernel's entry code and
 * the C library's string functions). Else the callout, which changes
 * the mode. */
static bool translate_df(struct tctx *c)
{
	bool set = c->in.mnemonic == ZYDIS_MNEMONIC_STD;
	return set == ((c->mode & MODE_DF) != 0);
}

/* RDTSC and RDTSCP: #GP under CR4.TSD outside ring 0. A CPL 3 block
 * tests TSD as it is now (with the host flags saved around the test and
 * the form); blocks at CPL 0, 1 and 2 share a mode, so theirs look at the
 * CPL (emit_inline_guard) and take the callout unless it is 0. */
static bool translate_tsc_read(struct tctx *c, bool rdtscp)
{
	if ((c->mode & MODE_SINGLE) || !c->env->tsc_native)
		return false;
	struct emitter *e = &c->e;
	if (!(c->mode & MODE_CPL3)) {
		uint8_t *done = emit_inline_guard(c, false);
		emit_insn(e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
		emit_rdtsc_body(c, rdtscp);
		emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
		if (done)
			patch_rel8(done, e->pos);
		return true;
	}
	emit_insn(e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
	emit2(e, ZYDIS_MNEMONIC_TEST, cpu_field(1, CPU_OFF_STATE + offsetof(struct vcpu_state, cr4)),
	      op_imm(CR4_TSD));
	uint8_t *tsd = emit_jump8(e, JUMP8_JNZ);
	emit_rdtsc_body(c, rdtscp);
	emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	uint8_t *done = emit_jump8(e, JUMP8_JMP);
	if (tsd)
		patch_rel8(tsd, e->pos);
	emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	emit_resumable_callout(c);   /* raises the #GP */
	if (done)
		patch_rel8(done, e->pos);
	return true;
}

static bool translate_rdtsc(struct tctx *c)
{
	return translate_tsc_read(c, false);
}

static bool translate_rdtscp(struct tctx *c)
{
	return translate_tsc_read(c, true);
}

static bool (*const inline_forms[INLINE_COUNT])(struct tctx *c) = {
	[INLINE_CLI] = translate_cli,
	[INLINE_SEGMENT_READ] = translate_segment_read,
	[INLINE_RDTSC] = translate_rdtsc,
	[INLINE_RDTSCP] = translate_rdtscp,
	[INLINE_PUSHF] = translate_pushf,
	[INLINE_STI] = translate_sti,
	[INLINE_SEGMENT_LOAD] = translate_segment_load,
	[INLINE_DF] = translate_df,
	[INLINE_POPF] = translate_popf,
	[INLINE_VERW] = translate_verw,
};

bool translate_inline_form(struct tctx *c, enum sensitive_inline form)
{
	return inline_forms[form](c);
}
