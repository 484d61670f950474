/* Block translation: decode, classify, emit. Every guest instruction gets a
 * host translation here; there is no interpreter behind it. An instruction
 * that needs the monitor becomes a callout. Translations are written so a
 * host fault inside one leaves guest state as it was before the guest
 * instruction (stores before stack-pointer updates, probes before
 * multi-register loads), which makes faults precise at guest EIPs. */
#include "translator/translate.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache/ibl.h"
#include "cache/tcache.h"
#include "isa/insn.h"
#include "isa/seg_reg.h"
#include "isa/sensitive.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "mmu/window.h"
#include "translator/allowlist.h"
#include "translator/cpu_layout.h"
#include "translator/disasm.h"
#include "translator/emit.h"

#include "translator/translate_internal.h"

ZydisRegister map_reg(ZydisRegister r)
{
	switch (r) {
	case ZYDIS_REGISTER_ESP:
		return ZYDIS_REGISTER_R12D;
	case ZYDIS_REGISTER_SP:
		return ZYDIS_REGISTER_R12W;
	default:
		return r;
	}
}

/* The 64-bit name of a mapped 32-bit register, for LEA arithmetic. */
ZydisRegister reg64(ZydisRegister r)
{
	return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, map_reg(r));
}

/* The 64-bit register holding r (already a host register), NONE kept. */
static ZydisRegister full64(ZydisRegister r)
{
	return r == ZYDIS_REGISTER_NONE ? r : ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
}

ZydisRegister reg_sized(ZydisRegister r64, unsigned bytes)
{
	static const ZydisRegisterClass cls[] = { [1] = ZYDIS_REGCLASS_GPR8, [2] = ZYDIS_REGCLASS_GPR16,
						  [4] = ZYDIS_REGCLASS_GPR32, [8] = ZYDIS_REGCLASS_GPR64 };
	ZyanI8 id = ZydisRegisterGetId(r64);
	if (bytes == 1 && id >= 4 && id < 8)
		return ZydisRegisterEncode(ZYDIS_REGCLASS_GPR8, (ZyanU8)(id + 16)); /* spl..dil */
	return ZydisRegisterEncode(cls[bytes], (ZyanU8)id);
}

bool seg_needs_base(const struct tctx *c, ZydisRegister seg)
{
	if (seg == ZYDIS_REGISTER_FS || seg == ZYDIS_REGISTER_GS)
		return true;
	return !(c->mode & MODE_FLAT);
}

ZydisEncoderOperand cpu_field(unsigned size, unsigned offset)
{
	return op_mem(size, R_CPU, ZYDIS_REGISTER_NONE, 0, offset);
}

/* lea dst32, [base + index*scale + disp] computed in 32 bits (wraps). */
void emit_lea32(struct tctx *c, ZydisRegister dst32, ZydisRegister base64,
		       ZydisRegister index64, unsigned scale, int64_t disp)
{
	ZydisEncoderOperand ops[2] = { op_reg(dst32), op_mem(8, base64, index64, scale, (int32_t)disp) };
	emit_insn(&c->e, ZYDIS_MNEMONIC_LEA, 2, ops, 0);
}

/* Builds the host operand for a guest memory operand. When the segment has
 * a base to add, or the guest used 16-bit addressing, the address is first
 * computed into R_A (flags untouched: only MOV, LEA and MOVZX). extra is
 * added to the displacement (POP [ESP+x] addresses with the new ESP). */
ZydisEncoderOperand guest_mem(struct tctx *c, const ZydisDecodedOperand *op, int64_t extra,
				     unsigned size)
{
	ZydisRegister base = op->mem.base, index = op->mem.index;
	int64_t disp = (int32_t)(op->mem.disp.has_displacement ? op->mem.disp.value : 0) + extra;
	bool addr16 = c->in.address_width == 16;
	bool need_base = seg_needs_base(c, op->mem.segment);

	if (!addr16 && !need_base) {
		ZydisRegister b = base == ZYDIS_REGISTER_NONE ? base : map_reg(base);
		ZydisRegister i = index == ZYDIS_REGISTER_NONE ? index : map_reg(index);
		if (b == ZYDIS_REGISTER_NONE && i == ZYDIS_REGISTER_NONE && (uint32_t)disp >= 0x80000000u) {
			/* A bare disp32 is sign-extended by the host even under
			 * addr32: an address in the upper 2 GiB needs a register. */
			emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), op_imm((int32_t)disp));
			return op_mem(size, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_NONE, 0, 0);
		}
		if (b == ZYDIS_REGISTER_NONE && i == ZYDIS_REGISTER_NONE)
			disp = (uint32_t)disp;
		return op_mem(size, b, i, op->mem.scale, (int32_t)disp);
	}
	ZydisRegister b64 = base == ZYDIS_REGISTER_NONE ? base : reg64(base);
	ZydisRegister i64 = index == ZYDIS_REGISTER_NONE ? index : reg64(index);
	emit_lea32(c, ZYDIS_REGISTER_R14D, b64, i64, op->mem.scale, (int32_t)disp);
	if (addr16)
		emit2(&c->e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_R14W));
	if (need_base) {
		unsigned seg = seg_reg_index(op->mem.segment);
		if (seg == SEG_FS || seg == SEG_GS) {
			/* The base through FS's or GS's guard pointer, which
			 * faults while a null selector leaves the register
			 * unusable: #GP(0) before anything of the access. */
			emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10),
			      cpu_field(8, CPU_OFF_SEG_GUARD + 8 * (seg - SEG_FS)));
			emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D),
			      op_mem(4, ZYDIS_REGISTER_R10, ZYDIS_REGISTER_NONE, 0, 0));
		} else {
			emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10D),
			      cpu_field(4, CPU_OFF_SEG_BASE + 4 * seg));
		}
		emit_lea32(c, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R10, 1, 0);
	}
	return op_mem(size, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_NONE, 0, 0);
}

/* A guest memory operand at a register-relative address that is not in
 * the instruction (stack and string accesses): reg + disp in segment seg.
 * A 16-bit register (SI/DI under an address-size prefix) wraps at 64 KiB. */
ZydisEncoderOperand guest_mem_at(struct tctx *c, ZydisRegister guest_reg, int32_t disp,
					ZydisRegister seg, unsigned size)
{
	ZydisDecodedOperand op;
	memset(&op, 0, sizeof(op));
	op.type = ZYDIS_OPERAND_TYPE_MEMORY;
	op.mem.segment = seg;
	op.mem.base = guest_reg;
	op.mem.index = ZYDIS_REGISTER_NONE;
	op.mem.disp.has_displacement = disp != 0;
	op.mem.disp.value = disp;
	uint8_t saved = c->in.address_width;
	c->in.address_width = ZydisRegisterGetClass(guest_reg) == ZYDIS_REGCLASS_GPR16 ? 16 : 32;
	ZydisEncoderOperand r = guest_mem(c, &op, 0, size);
	c->in.address_width = saved;
	return r;
}

void emit_mem_insn(struct tctx *c, ZydisMnemonic m, unsigned n, ZydisEncoderOperand *ops,
			  ZydisInstructionAttributes extra)
{
	ZydisInstructionAttributes attr = extra;
	for (unsigned i = 0; i < n; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && m != ZYDIS_MNEMONIC_LEA)
			attr |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
	emit_insn(&c->e, m, n, ops, attr);
}

/* Rewrites a host memory operand as [r14d], computing its address into
 * r14d first with a flag-free LEA (nothing to do if it is there already). */
void address_in_r14(struct tctx *c, ZydisEncoderOperand *m)
{
	if (m->mem.base == ZYDIS_REGISTER_R14D && m->mem.index == ZYDIS_REGISTER_NONE &&
	    !m->mem.displacement)
		return;
	emit_lea32(c, ZYDIS_REGISTER_R14D, full64(m->mem.base), full64(m->mem.index), m->mem.scale,
		   m->mem.displacement);
	m->mem.base = ZYDIS_REGISTER_R14D;
	m->mem.index = ZYDIS_REGISTER_NONE;
	m->mem.scale = 0;
	m->mem.displacement = 0;
}

void note_reloc(struct tctx *c, uint16_t kind, uint64_t value)
{
	unsigned width = kind == TCACHE_RELOC_EIP32 ? 4 : 8;
	uint64_t field = 0;
	if (c->e.failed)
		return;
	size_t at = (size_t)(c->e.pos - c->tb->host) - width;
	memcpy(&field, c->e.pos - width, width);
	/* The encoder chose a shorter immediate form, or the list is full:
	 * the block is only ever translated, never copied. */
	if (field != (width == 4 ? (uint32_t)value : value) || c->nrelocs == TCACHE_MAX_RELOCS) {
		c->no_clone = true;
		return;
	}
	c->relocs[c->nrelocs++] = (uint16_t)(at | kind);
}

static void record_insn(struct tctx *c)
{
	struct tblock *tb = c->tb;
	tb->map_host[tb->ninsns] = (uint16_t)(c->e.pos - tb->host);
	tb->map_guest[tb->ninsns] = (uint16_t)(c->eip - tb->eip);
	c->esp_at[tb->ninsns] = (int16_t)c->esp_delta;
	c->esp_any = c->esp_any || c->esp_delta;
	tb->ninsns++;
}

/* --- exits ------------------------------------------------------------ */

static struct exit_desc *new_exit(struct tctx *c, uint32_t target, enum exit_kind kind)
{
	esp_settle(c);   /* the next block, or the monitor, takes r12 as ESP */
	assert(c->nexits < TBLOCK_MAX_EXITS);
	struct exit_desc *ex = &c->tb->exits[c->nexits++];
	ex->target_eip = target;
	ex->kind = (uint8_t)kind;
	ex->from = c->tb;
	return ex;
}

/* With several vCPUs a branch exit is chained only if its rel32 field is
 * in one line (tcache_chain): one left to its stub costs a trip through
 * the monitor, and the machine lock, every time it runs (a fork loop at
 * two vCPUs made 7.2 million such exits, against 92 thousand). */
static void chainable_in_one_store(struct tctx *c, unsigned oplen)
{
	if (c->env->tc->concurrent)
		emit_rel32_in_one_line(&c->e, oplen);
}

/* jmp rel32 whose stub is filled in at the end of the block. */
void emit_branch_exit(struct tctx *c, uint32_t target, enum exit_kind kind)
{
	struct exit_desc *ex = new_exit(c, target, kind);
	if (kind == EXIT_KIND_BRANCH)
		chainable_in_one_store(c, EMIT_JMP_REL32_OPLEN);
	ex->patch = emit_jmp_rel32(&c->e, NULL);
	ex->branch = ex->patch;
}

void emit_jcc_exit(struct tctx *c, unsigned cc, uint32_t target)
{
	struct exit_desc *ex = new_exit(c, target, EXIT_KIND_BRANCH);
	chainable_in_one_store(c, EMIT_JCC_REL32_OPLEN);
	ex->patch = emit_jcc_rel32(&c->e, cc, NULL);
	ex->branch = ex->patch;
}

static void emit_ibl_lookup(struct tctx *c);

static void emit_stub(struct tctx *c, struct exit_desc *ex)
{
	ex->stub = c->e.pos;
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(R_T), op_imm((int64_t)(uintptr_t)ex));
	note_reloc(c, TCACHE_RELOC_PTR64, (uint64_t)(uintptr_t)ex);
	emit1(&c->e, ZYDIS_MNEMONIC_JMP, cpu_field(8, CPU_OFF_EXIT_FN));
	if (!c->e.failed && ex->patch)
		patch_rel32(ex->patch, ex->stub);
	if (ex->kind != EXIT_KIND_BRANCH)
		ex->patch = NULL;  /* never chained */
	if (ex->kind == EXIT_KIND_BRANCH && c->paging && !(c->mode & MODE_SINGLE)) {
		/* The target's page may map differently in another address
		 * space: a branch off this page goes through the lookup table,
		 * whose tags belong to one window. */
		ex->ibl_stub = c->e.pos;
		emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R13D), op_imm((int32_t)ex->target_eip));
		note_reloc(c, TCACHE_RELOC_EIP32, ex->target_eip);
		emit_ibl_lookup(c);
	}
}

/* Compares the tag in the slot r14 indexes (table at r11) with the tag
 * base at cpu offset tags plus the target (r13); rcx is free (the
 * guest's is in r8). Returns the jrcxz to patch to the hit path. */
static uint8_t *emit_ibl_probe(struct tctx *c, int32_t tags)
{
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10), cpu_field(8, tags));
	{
		ZydisEncoderOperand ops[2] = { op_reg(ZYDIS_REGISTER_R10),
					       op_mem(8, ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R13, 1, 0) };
		emit_insn(e, ZYDIS_MNEMONIC_LEA, 2, ops, 0);   /* r10 = tag wanted */
	}
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX),
	      op_mem(8, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R14, 8, 0));   /* ~tag */
	{
		ZydisEncoderOperand ops[2] = { op_reg(ZYDIS_REGISTER_RCX),
					       op_mem(8, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R10, 1, 1) };
		emit_insn(e, ZYDIS_MNEMONIC_LEA, 2, ops, 0);   /* rcx = wanted - tag */
	}
	return emit_jrcxz(e, false);
}

/* The lookup of the guest address in r13d in the indirect-branch table,
 * jumping to the translation on a hit and to the miss door otherwise;
 * flag-free, since guest flags are live in RFLAGS. A slot's tag holds the
 * window's address-space tag, or the global-page tag shared by all
 * windows, with the mode and the address: kernel code (CPL 0) is mostly
 * on global pages and user code never, so the likelier tag is tried
 * first; without paging there are no global pages, and the window's own
 * tag goes first at every CPL. */
static void emit_ibl_lookup_encoded(struct tctx *c, int32_t first, int32_t second)
{
	struct emitter *e = &c->e;
	if (c->env->ibl->mix) {
		/* ibl_index(): target + ror(target, 16), low 16 bits. */
		ZydisEncoderOperand ror[3] = { op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_R13D),
					       op_imm(16) };
		emit_insn(e, ZYDIS_MNEMONIC_RORX, 3, ror, 0);
		emit_lea32(c, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R13, 1, 0);
		emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_R14W));
	} else {
		emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_R13W));
	}
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11), cpu_field(8, CPU_OFF_IBL));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	uint8_t *hit1 = emit_ibl_probe(c, first);
	uint8_t *hit2 = emit_ibl_probe(c, second);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	emit1(e, ZYDIS_MNEMONIC_JMP, cpu_field(8, CPU_OFF_IBL_MISS_FN));
	if (hit1)
		patch_rel8(hit1, e->pos);
	if (hit2)
		patch_rel8(hit2, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	emit1(e, ZYDIS_MNEMONIC_JMP, op_mem(8, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R14, 8, IBL_HOST_OFFSET));
}

/* The lookup sequences already made, by their two tag offsets and the
 * index form: a block's exits off its page each end in one, and a Debian
 * boot made 400,000 blocks, 3% of its time in encoding the same few dozen
 * sequences instruction by instruction. */
#define LOOKUP_SEQ_SLOTS 128u

struct lookup_seq {
	int32_t first, second;
	bool mix;
	struct emit_seq seq;
};

static void emit_ibl_lookup_tags(struct tctx *c, int32_t first, int32_t second)
{
	bool mix = c->env->ibl->mix;
	struct lookup_seq *slot = NULL;
	if (c->t->lookup_seqs) {
		uint32_t h = ((uint32_t)first * 0x9e3779b1u ^ (uint32_t)second * 0x85ebca6bu ^ mix) >> 25;
		slot = &c->t->lookup_seqs[h & (LOOKUP_SEQ_SLOTS - 1)];
		if (slot->first == first && slot->second == second && slot->mix == mix &&
		    emit_seq_replay(&c->e, &slot->seq))
			return;
	}
	uint8_t *from = c->e.pos;
	emit_ibl_lookup_encoded(c, first, second);
	if (slot) {
		*slot = (struct lookup_seq){ first, second, mix, { 0 } };
		emit_seq_record(&c->e, &slot->seq, from);
	}
}

static void emit_ibl_lookup(struct tctx *c)
{
	if (!mode_uses_ibl(c->mode)) {
		/* The table holds no entries of this mode: the monitor looks
		 * the target in r13d up (cpu_ibl_fast). */
		emit1(&c->e, ZYDIS_MNEMONIC_JMP, cpu_field(8, CPU_OFF_IBL_MISS_FN));
		return;
	}
	int32_t own = CPU_OFF_IBL_TAGS + 8 * (int32_t)mode_ibl_tag_index(c->mode);
	int32_t global = CPU_OFF_IBL_GLOBAL_TAGS + 8 * (int32_t)mode_ibl_tag_index(c->mode);
	if ((c->mode & MODE_CPL3) || !c->paging)   /* no global pages without paging */
		emit_ibl_lookup_tags(c, own, global);
	else
		emit_ibl_lookup_tags(c, global, own);
}

/* After a transfer callout that stayed: the lookup of the new EIP under
 * the new mode's tags, which the callout left in scratch. */
static void emit_transfer_lookup(struct tctx *c)
{
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R13D), cpu_field(4, CPU_OFF_SCRATCH + 8));
	emit_ibl_lookup_tags(c, CPU_OFF_SCRATCH + 16, CPU_OFF_SCRATCH + 24);
}

/* Indirect branch to the guest address in r13d. A one-instruction block
 * always goes back to the run loop (single-stepping must trap after it,
 * the traced-write path must see where it went). */
void emit_indirect(struct tctx *c)
{
	if (c->mode & MODE_SINGLE)
		emit1(&c->e, ZYDIS_MNEMONIC_JMP, cpu_field(8, CPU_OFF_IBL_MISS_FN));
	else
		emit_ibl_lookup(c);
	c->ended = true;
}

/* --- callouts --------------------------------------------------------- */

/* The code address of the instruction being translated (its first byte). */
static uint64_t insn_gpa(const struct tctx *c)
{
	return c->page_gpa + code_linear(c, c->eip) % GUEST_PAGE_SIZE;
}

void emit_callout(struct tctx *c)
{
	esp_settle(c);   /* the monitor reads ESP from r12 */
	assert(c->ncallouts < 2 * BLOCK_MAX_INSNS);
	struct callout_desc *d = &c->callouts[c->ncallouts].desc;
	memset(d, 0, sizeof(*d));   /* the same code, the same bytes (translate_clone.c) */
	d->eip = c->eip;
	d->next_eip = c->next_eip;
	callout_desc_set_gpa(d, insn_gpa(c));
	d->len = c->in.length & 15;
	d->kind = CALLOUT_INSN;
	d->flags = 0;
	d->mode = (uint16_t)c->mode;   /* the monitor decodes by it */
	memcpy(d->bytes, c->bytes, c->in.length);
	/* A placeholder that forces the 10-byte movabs form; patched later. */
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(R_T), op_imm(0x1122334455667788LL));
	c->callouts[c->ncallouts++].imm_field = c->e.failed ? NULL : c->e.pos - 8;
	note_reloc(c, TCACHE_RELOC_PTR64, 0x1122334455667788ull);   /* the descriptor, later */
	emit1(&c->e, ZYDIS_MNEMONIC_CALL, cpu_field(8, CPU_OFF_CALLOUT_FN));
}

/* An instruction the monitor found touching MMIO or writing page tables
 * again and again: its memory operand goes through a pair of callouts.
 * The first finds the linear address (left in r14 by address_in_r14) in
 * guest memory and gives a buffer holding its bytes, the instruction works
 * on the buffer, the second writes the buffer back (to RAM, with the
 * traces kept, or to the device). */
static bool stores_fpu_pointers(const struct tctx *c)
{
	return c->in.mnemonic == ZYDIS_MNEMONIC_FNSTENV || c->in.mnemonic == ZYDIS_MNEMONIC_FNSAVE;
}

/* Whether the monitor marked this instruction (it reached MMIO, or kept
 * writing page tables): looked up once per instruction, when decoded (a
 * probe of the shadow's table, asked up to a dozen times otherwise). */
bool insn_is_adaptive(const struct tctx *c)
{
	return c->adaptive;
}

static bool adaptive_candidate(const struct tctx *c)
{
	if (!insn_is_adaptive(c) && !stores_fpu_pointers(c))
		return false;
	unsigned mem = 0;
	for (unsigned i = 0; i < c->in.operand_count; i++)
		if (c->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			mem++;
	return mem == 1 && c->in.mnemonic != ZYDIS_MNEMONIC_LEA &&
	       c->in.mnemonic != ZYDIS_MNEMONIC_MASKMOVQ && c->in.mnemonic != ZYDIS_MNEMONIC_MASKMOVDQU;
}

/* An adaptive MOV to memory from a general register or an immediate: it
 * changes nothing but its operand, so it can store into a scratch slot
 * first and one callout (CALLOUT_MEM_STORE) writes that out, walk and
 * faults included, where the buffer's pair took two. Such stores were
 * half of a fork's adaptive accesses (the kernel's PTE writes). */
static bool adaptive_plain_store(const struct tctx *c)
{
	if (c->in.mnemonic != ZYDIS_MNEMONIC_MOV)
		return false;
	bool store = false;
	for (unsigned i = 0; i < c->in.operand_count_visible; i++) {
		const ZydisDecodedOperand *o = &c->ops[i];
		if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
			store = o->actions == ZYDIS_OPERAND_ACTION_WRITE && o->size <= 64;
		else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
			 ZydisRegisterGetClass(o->reg.value) != ZYDIS_REGCLASS_GPR8 &&
			 ZydisRegisterGetClass(o->reg.value) != ZYDIS_REGCLASS_GPR16 &&
			 ZydisRegisterGetClass(o->reg.value) != ZYDIS_REGCLASS_GPR32)
			return false;
	}
	return store;
}

void emit_callout_kind(struct tctx *c, uint8_t kind)
{
	emit_callout(c);
	c->callouts[c->ncallouts - 1].desc.kind = kind;
}

/* --- IDENT ------------------------------------------------------------ */

static ZydisRegister high_to_low(ZydisRegister r)
{
	switch (r) {
	case ZYDIS_REGISTER_AH: return ZYDIS_REGISTER_AL;
	case ZYDIS_REGISTER_CH: return ZYDIS_REGISTER_CL;
	case ZYDIS_REGISTER_DH: return ZYDIS_REGISTER_DL;
	case ZYDIS_REGISTER_BH: return ZYDIS_REGISTER_BL;
	default: return ZYDIS_REGISTER_NONE;
	}
}

/* AH/CH/DH/BH cannot be encoded together with a REX prefix, which r12
 * (guest ESP) and the address scratch registers need. XCHG of the high and
 * low byte touches no flags, so the instruction runs on the low byte in
 * between two swaps. Refused when the same register is used otherwise.
 * (A host fault between the swaps leaves the two bytes exchanged in the
 * saved context: see docs/DESIGN.md, known gaps.) */
static bool emit_high_byte_swapped(struct tctx *c, ZydisEncoderRequest *req)
{
	ZydisRegister high = ZYDIS_REGISTER_NONE;
	for (unsigned i = 0; i < req->operand_count; i++) {
		ZydisEncoderOperand *o = &req->operands[i];
		if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && high_to_low(o->reg.value)) {
			if (high != ZYDIS_REGISTER_NONE && high != o->reg.value)
				return false;
			high = o->reg.value;
		}
	}
	if (high == ZYDIS_REGISTER_NONE)
		return false;
	/* The byte register to stand in for it: its own low half, or else any
	 * of AL/BL/CL/DL whose register the instruction does not use at all
	 * (CMPXCHG r/m8, AH also reads AL). */
	const ZydisRegister cands[] = { high_to_low(high), ZYDIS_REGISTER_BL, ZYDIS_REGISTER_CL,
					ZYDIS_REGISTER_DL, ZYDIS_REGISTER_AL };
	ZydisRegister high_full = full64(high);
	ZydisRegister low = ZYDIS_REGISTER_NONE, full = ZYDIS_REGISTER_NONE;
	for (unsigned k = 0; k < sizeof(cands) / sizeof(cands[0]) && low == ZYDIS_REGISTER_NONE; k++) {
		ZydisRegister f = full64(cands[k]);
		bool used = false;
		for (unsigned i = 0; i < c->in.operand_count && !used; i++) {
			const ZydisDecodedOperand *o = &c->ops[i];
			if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && o->reg.value != high &&
			    full64(o->reg.value) == f)
				used = true;
		}
		if (used)
			continue;
		low = cands[k];
		full = f;
	}
	if (low == ZYDIS_REGISTER_NONE)
		return false;
	/* An address that uses the stand-in's register is computed first. */
	for (unsigned i = 0; i < req->operand_count; i++) {
		ZydisEncoderOperand *o = &req->operands[i];
		if (o->type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		ZydisRegister b = full64(o->mem.base), x = full64(o->mem.index);
		if (b == full || x == full || b == high_full || x == high_full)
			address_in_r14(c, o);
	}
	for (unsigned i = 0; i < req->operand_count; i++)
		if (req->operands[i].type == ZYDIS_OPERAND_TYPE_REGISTER && req->operands[i].reg.value == high)
			req->operands[i].reg.value = low;
	emit2(&c->e, ZYDIS_MNEMONIC_XCHG, op_reg(high), op_reg(low));
	emit_request(&c->e, req);
	emit2(&c->e, ZYDIS_MNEMONIC_XCHG, op_reg(high), op_reg(low));
	c->tb->byte_swaps = true;
	return !c->e.failed;
}

/* LEA with 16-bit addressing: the sum wraps at 64 KiB. */
static bool translate_lea16(struct tctx *c)
{
	const ZydisDecodedOperand *m = &c->ops[1];
	ZydisRegister b = m->mem.base == ZYDIS_REGISTER_NONE ? m->mem.base : reg64(m->mem.base);
	ZydisRegister i = m->mem.index == ZYDIS_REGISTER_NONE ? m->mem.index : reg64(m->mem.index);
	emit_lea32(c, ZYDIS_REGISTER_R14D, b, i, m->mem.scale,
		   (int32_t)(m->mem.disp.has_displacement ? m->mem.disp.value : 0));
	emit2(&c->e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_R14W));
	ZydisRegister dst = map_reg(c->ops[0].reg.value);
	bool wide = ZydisRegisterGetClass(dst) == ZYDIS_REGCLASS_GPR32;
	emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(dst),
	      op_reg(wide ? ZYDIS_REGISTER_R14D : ZYDIS_REGISTER_R14W));
	return !c->e.failed;
}

/* FNSTENV and FNSAVE run on the memory callouts' buffer (r14), and the
 * instruction and data pointers the host stored there are cleared before
 * the buffer reaches the guest: they hold the host's RIP and selectors,
 * which would tell the guest where the monitor's code is. The guest reads
 * them as zero, as after FNINIT. */
static void emit_clear_fpu_pointers(struct tctx *c)
{
	/* 16-bit format: FIP, FCS, FDP, FDS at 6, 8, 10, 12 (words).
	 * 32-bit format: FIP 12, FCS 16 (FOP above it), FDP 20, FDS 24. */
	static const uint8_t off16[] = { 6, 8, 10, 12 }, off32[] = { 12, 16, 20, 24 };
	static const uint8_t size32[] = { 4, 2, 4, 2 };
	bool narrow = c->in.operand_width == 16;
	for (unsigned i = 0; i < 4; i++) {
		unsigned size = narrow ? 2 : size32[i];
		int32_t off = narrow ? off16[i] : off32[i];
		emit2(&c->e, ZYDIS_MNEMONIC_MOV,
		      op_mem(size, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_NONE, 0, off), op_imm(0));
	}
}

/* Emits req, with AH..DH swapped around it where the encoder needs. */
static bool emit_request_any(struct tctx *c, ZydisEncoderRequest *req)
{
	uint8_t *start = c->e.pos;
	emit_request(&c->e, req);
	if (!c->e.failed)
		return true;
	if (c->e.no_room)
		return false;   /* translate_one's -ENOSPC */
	c->e.pos = start;
	c->e.failed = false;
	return emit_high_byte_swapped(c, req);
}

/* Compares the page of the linear address in r14 with store hint slot:
 * equal, it goes on with the guest's flags back; different, it jumps to
 * the returned rel8 field's target with them still saved (POPFQ there). */
static uint8_t *emit_hint_check(struct tctx *c, uint8_t slot)
{
	struct emitter *e = &c->e;
	emit_insn(e, ZYDIS_MNEMONIC_PUSHFQ, 0, NULL, 0);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R14D));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R11D), op_imm(-(int64_t)GUEST_PAGE_SIZE));
	emit2(e, ZYDIS_MNEMONIC_CMP, op_reg(ZYDIS_REGISTER_R11D),
	      cpu_field(4, CPU_OFF_STORE_HINTS + 4u * slot));
	uint8_t *differs = emit_jump8(e, JUMP8_JNZ);
	emit_insn(e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	return differs;
}

static bool translate_ident(struct tctx *c)
{
	ZydisEncoderRequest req;
	bool maskmov = c->in.mnemonic == ZYDIS_MNEMONIC_MASKMOVQ || c->in.mnemonic == ZYDIS_MNEMONIC_MASKMOVDQU;
	/* The allowlist's rule: a copy may only access memory through the
	 * operands it shows, which become GS: addr32 below. */
	if (!maskmov && allowlist_has_hidden_memory(&c->in, c->ops))
		return false;
	if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(&c->in, c->ops,
								      c->in.operand_count_visible, &req)))
		return false;
	req.prefixes &= ~(ZydisInstructionAttributes)(ZYDIS_ATTRIB_HAS_SEGMENT_CS |
		ZYDIS_ATTRIB_HAS_SEGMENT_SS | ZYDIS_ATTRIB_HAS_SEGMENT_DS | ZYDIS_ATTRIB_HAS_SEGMENT_ES |
		ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS);
	bool is_lea = c->in.mnemonic == ZYDIS_MNEMONIC_LEA;
	bool adaptive = adaptive_candidate(c);
	bool plain_store = adaptive && adaptive_plain_store(c);
	unsigned direct = ZYDIS_ENCODER_MAX_OPERANDS;   /* plain_store: its memory operand */
	bool split = false;
	unsigned split_at = ZYDIS_ENCODER_MAX_OPERANDS;   /* split: its memory operand */
	for (unsigned i = 0; !adaptive && !is_lea && i < c->in.operand_count_visible; i++)
		if (c->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			split = may_split_lock(c, c->ops[i].size / 8);
	/* An address-size prefix on an instruction without a memory operand
	 * means nothing; a 16-bit hint would not encode in 64-bit mode. */
	req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
	if (maskmov) {
		/* The store goes to the hidden DS:EDI: it must be GS:EDI. */
		ZydisRegister seg = ZYDIS_REGISTER_DS;
		for (unsigned i = 0; i < c->in.operand_count; i++)
			if (c->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
				seg = c->ops[i].mem.segment;
		/* Also once it reached MMIO (the monitor marked it): the host
		 * form's store cannot reach the bus, and it has no memory
		 * operand to borrow the adaptive buffer for, so it faulted
		 * there again and ended the run (hostile_random found it). */
		if (c->in.address_width != 32 || seg_needs_base(c, seg) || insn_is_adaptive(c)) {
			emit_callout(c);   /* no host form: the monitor stores */
			return true;
		}
		req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
	}
	for (unsigned i = 0; i < req.operand_count; i++) {
		ZydisEncoderOperand *o = &req.operands[i];
		if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
			o->reg.value = map_reg(o->reg.value);
		} else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
			if (is_lea) {
				if (c->in.address_width == 16)
					return translate_lea16(c);
				o->mem.base = o->mem.base == ZYDIS_REGISTER_NONE ? o->mem.base : map_reg(o->mem.base);
				o->mem.index = o->mem.index == ZYDIS_REGISTER_NONE ? o->mem.index : map_reg(o->mem.index);
				if (o->mem.base == ZYDIS_REGISTER_NONE && o->mem.index == ZYDIS_REGISTER_NONE)
					o->mem.displacement = (int32_t)o->mem.displacement;
				req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
				continue;
			}
			ZydisEncoderOperand m = guest_mem(c, &c->ops[i], 0, o->mem.size);
			if (adaptive) {
				address_in_r14(c, &m);
				emit2(&c->e, ZYDIS_MNEMONIC_MOV, cpu_field(8, CPU_OFF_SCRATCH + 8),
				      op_reg(ZYDIS_REGISTER_R14));
				if (plain_store) {
					direct = i;
					*o = cpu_field(o->mem.size, CPU_OFF_SCRATCH + 24);
					req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
					continue;
				}
				emit_callout_kind(c, CALLOUT_MEM_PREPARE);
				emit2(&c->e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14),
				      cpu_field(8, CPU_OFF_SCRATCH + 8));
				m.mem.base = ZYDIS_REGISTER_R14;   /* the monitor's buffer */
				*o = m;
				req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
				continue;
			}
			if (split) {
				address_in_r14(c, &m);
				split_at = i;
			}
			*o = m;
			req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
			req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
		}
	}
	uint8_t *to_store = NULL, *done = NULL;
	bool ok = true;
	if (plain_store && direct < req.operand_count) {
		/* The page the store's callout last found plain: straight
		 * through the window (cpu->store_hints). */
		ZydisEncoderRequest straight = req;
		straight.operands[direct] = op_mem(req.operands[direct].mem.size, ZYDIS_REGISTER_R14D,
						   ZYDIS_REGISTER_NONE, 0, 0);
		straight.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
		straight.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
		to_store = emit_hint_check(c, store_hint_slot(c->eip));
		ok = emit_request_any(c, &straight);
		done = emit_jump8(&c->e, JUMP8_JMP);
		if (to_store)
			patch_rel8(to_store, c->e.pos);
		emit_insn(&c->e, ZYDIS_MNEMONIC_POPFQ, 0, NULL, 0);
	}
	if (split && split_at < req.operand_count) {
		/* Across a line: the instruction on the callouts' buffer. */
		ZydisEncoderRequest buffered = req;
		uint8_t *straight = emit_split_lock_begin(c, &buffered.operands[split_at], ZYDIS_REGISTER_NONE);
		buffered.prefixes &= ~(ZydisInstructionAttributes)ZYDIS_ATTRIB_HAS_SEGMENT_GS;
		buffered.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
		ok = emit_request_any(c, &buffered);
		done = ok ? emit_split_lock_end(c, straight) : NULL;
		ok = done != NULL;
	}
	ok = ok && emit_request_any(c, &req);
	if (ok && adaptive && stores_fpu_pointers(c))
		emit_clear_fpu_pointers(c);
	if (ok && adaptive) {
		emit_callout_kind(c, plain_store ? CALLOUT_MEM_STORE : CALLOUT_MEM_FINISH);
		if (plain_store)
			c->callouts[c->ncallouts - 1].desc.hint = store_hint_slot(c->eip);
	}
	if (done && !c->e.failed)
		patch_rel8(done, c->e.pos);
	return ok && !c->e.failed;
}

/* --- one instruction -------------------------------------------------- */

static bool is_flow(ZydisMnemonic m, const ZydisDecodedInstruction *in)
{
	return in->meta.category == ZYDIS_CATEGORY_COND_BR || m == ZYDIS_MNEMONIC_JMP ||
	       m == ZYDIS_MNEMONIC_CALL || m == ZYDIS_MNEMONIC_RET || m == ZYDIS_MNEMONIC_LOOP ||
	       m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE || m == ZYDIS_MNEMONIC_JECXZ ||
	       m == ZYDIS_MNEMONIC_JCXZ;
}

/* The translated instructions that touch the stack (the sensitive ones,
 * segment pushes and far transfers, are callouts anyway). */
static bool uses_stack(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_PUSH:
	case ZYDIS_MNEMONIC_POP:
	case ZYDIS_MNEMONIC_PUSHA:
	case ZYDIS_MNEMONIC_PUSHAD:
	case ZYDIS_MNEMONIC_POPA:
	case ZYDIS_MNEMONIC_POPAD:
	case ZYDIS_MNEMONIC_LEAVE:
	case ZYDIS_MNEMONIC_ENTER:
	case ZYDIS_MNEMONIC_CALL:
	case ZYDIS_MNEMONIC_RET:
		return true;
	default:
		return false;
	}
}

/* Returns false when the instruction has no translation; the caller then
 * makes it a callout, which raises #UD for what the monitor cannot run. */
static bool translate_insn(struct tctx *c, const struct sensitive_insn *sens)
{
	ZydisMnemonic m = c->in.mnemonic;
	enum string_op sop;
	unsigned ssize;

	bool no_osfxsr = !sens && (c->mode & MODE_NO_OSFXSR) && insn_needs_osfxsr(&c->in, c->ops);
	if (!sens && ((!(c->mode & MODE_REAL) && insn_writes_via_cs(&c->in, c->ops)) ||
		      ((c->mode & MODE_FPU_OFF) && insn_uses_fpu(&c->in)) || no_osfxsr)) {
		/* CR0.TS/EM: the callout raises #NM (or #UD), as it does #UD
		 * for SSE without CR4.OSFXSR; a store through CS
		 * raises #GP in protected mode (real mode checks no segment's
		 * type, and firmware keeps variables in its code segment). */
		emit_callout(c);
		emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
		c->ended = true;
		return true;
	}
	if (sens) {
		if (sens->inline_form != INLINE_NONE && !c->env->sensitive_callouts &&
		    translate_inline_form(c, sens->inline_form))
			return true;
		emit_callout(c);
		/* The table says how the block goes on (sensitive.h's block_end):
		 * the kernel runs POPF and STI around every lock and loads its
		 * segments at every entry, and a trip through the run loop each
		 * time cost more than the rest of a system call; SYSENTER,
		 * SYSEXIT, INT and IRET look their target up themselves. A
		 * one-instruction block always goes back to the run loop. */
		enum block_end end = sensitive_block_end(sens, c->ops);
		if ((end == END_IF_NEEDED || end == END_TRANSFER) && (c->mode & MODE_SINGLE))
			end = END_ALWAYS;
		/* A transfer's lookup probes the table, which legacy modes
		 * never enter. */
		if (end == END_TRANSFER && !mode_uses_ibl(c->mode))
			end = END_ALWAYS;
		struct callout_desc *d = &c->callouts[c->ncallouts - 1].desc;
		switch (end) {
		case END_NONE:
			break;
		case END_IF_NEEDED:
			d->flags = CALLOUT_RESUMABLE;
			break;
		case END_TRANSFER:
			d->flags = CALLOUT_TRANSFER;
			emit_transfer_lookup(c);
			c->ended = true;
			break;
		case END_ALWAYS:
			emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
			c->ended = true;
			break;
		}
		return true;
	}
	if (insn_is_adaptive(c) && uses_stack(m)) {
		/* It reached MMIO, or memory nothing answers, through its stack
		 * or its memory operand: no host form reaches the bus there,
		 * so the monitor runs it (callout_stack.c). Before, the run
		 * ended ("cannot forward"); hostile_random ran into it at once. */
		emit_callout_kind(c, CALLOUT_STACK);
		emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
		c->ended = true;
		return true;
	}
	if (is_flow(m, &c->in))
		return translate_branch(c);
	if (c->in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && classify_string(m, &sop, &ssize)) {
		if (!insn_is_adaptive(c))
			return translate_string(c, sop, ssize);
		/* It reached MMIO, which the window does not map: the monitor
		 * runs it element by element (callout_string.c). */
		emit_callout(c);
		emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
		c->ended = true;
		return true;
	}
	switch (m) {
	case ZYDIS_MNEMONIC_MOV:
		return c->esp_lags ? translate_mov_from_esp(c) : translate_ident(c);
	case ZYDIS_MNEMONIC_PUSH:
		return translate_push(c);
	case ZYDIS_MNEMONIC_POP:
		return translate_pop(c);
	case ZYDIS_MNEMONIC_PUSHA:
	case ZYDIS_MNEMONIC_PUSHAD:
		return translate_pusha(c);
	case ZYDIS_MNEMONIC_POPA:
	case ZYDIS_MNEMONIC_POPAD:
		return translate_popa(c);
	case ZYDIS_MNEMONIC_LEAVE:
		return translate_leave(c);
	case ZYDIS_MNEMONIC_ENTER:
		return translate_enter0(c);
	case ZYDIS_MNEMONIC_XLAT:
		return translate_xlat(c);
	case ZYDIS_MNEMONIC_BT:
	case ZYDIS_MNEMONIC_BTS:
	case ZYDIS_MNEMONIC_BTR:
	case ZYDIS_MNEMONIC_BTC:
		if (c->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    c->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER)
			return translate_bit_mem_reg(c);
		return translate_ident(c);
	default:
		return translate_ident(c);
	}
}

void emit_attention_poll(struct tctx *c)
{
	struct emitter *e = &c->e;
	if (c->env->tc->concurrent)
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R9), cpu_field(8, CPU_OFF_POLL_PTR));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D),
	      op_mem(4, ZYDIS_REGISTER_R9, ZYDIS_REGISTER_NONE, 0, 0));
}

/* PAUSE with vCPUs on threads of their own: the instruction, then the
 * budget counted down without touching the guest's flags (through ECX,
 * the guest's kept in r8, and JRCXZ), leaving the block at zero through
 * an exit the run loop sees (cpu_pause_yield there) and otherwise going
 * on to the next instruction's block, chained. */
static void translate_pause_budgeted(struct tctx *c)
{
	struct emitter *e = &c->e;
	emit_insn(e, ZYDIS_MNEMONIC_PAUSE, 0, NULL, 0);
	esp_settle(c);   /* both ways out below take r12 as ESP */
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ECX), cpu_field(4, CPU_OFF_PAUSE_BUDGET));
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -1);
	emit2(e, ZYDIS_MNEMONIC_MOV, cpu_field(4, CPU_OFF_PAUSE_BUDGET), op_reg(ZYDIS_REGISTER_ECX));
	uint8_t *spent = emit_jrcxz(e, false);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	emit_branch_exit(c, c->next_eip, EXIT_KIND_BRANCH);
	if (spent)
		patch_rel8(spent, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
	c->ended = true;
}

static void emit_block_entry(struct tctx *c)
{
	/* Interrupts are taken at block boundaries: the attention poll
	 * faults when attention was asked for, and the fault handler leaves
	 * here with nothing of the block run. */
	struct emitter *e = &c->e;
	emit_attention_poll(c);
	c->tb->poll_len = (uint8_t)(e->pos - c->tb->host);
	if (c->selfcheck) {
		c->check_jmp = emit_jmp_rel32(e, NULL);
		c->body = e->pos;
	}
}

static bool insn_writes_memory(const struct tctx *c)
{
	for (unsigned i = 0; i < c->in.operand_count; i++)
		if (c->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    (c->ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			return true;
	return false;
}

/* The entry check of a self-checking block: compares the guest bytes it
 * was translated from with what memory holds now, 8 bytes at a time, and
 * leaves through the stale exit on any difference. Guest flags are live,
 * so each compare is a subtraction by LEA tested with JRCXZ (RCX parked
 * in r8). */
static void emit_selfcheck(struct tctx *c, const uint8_t *guest, uint32_t eip, uint32_t len)
{
	struct emitter *e = &c->e;
	uint8_t *miss[ZYDIS_MAX_INSTRUCTION_LENGTH * BLOCK_MAX_INSNS / 8 + 4];
	unsigned nmiss = 0;
	c->tb->selfcheck_off = (uint32_t)(e->pos - c->tb->host);
	if (c->check_jmp)
		patch_rel32(c->check_jmp, e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8), op_reg(ZYDIS_REGISTER_RCX));
	uint32_t off = 0;
	while (off < len) {
		unsigned n = len - off >= 8 ? 8 : len >= 8 ? 8 : len - off >= 4 ? 4 : len - off >= 2 ? 2 : 1;
		if (n == 8 && off + 8 > len)
			off = len - 8;   /* overlap the tail rather than split it */
		uint64_t v = 0;
		memcpy(&v, guest + off, n);
		/* Through ECX: a bare disp32 would be sign-extended. With a
		 * code segment based elsewhere, its base as the block runs:
		 * the same physical code may run under another base (paging),
		 * and the bytes to compare are those this CS fetches. */
		if (c->mode & MODE_SEGCS) {
			emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ECX),
			      cpu_field(4, CPU_OFF_SEG_BASE + 4 * SEG_CS));
			emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0,
				   (int32_t)(eip + off));
		} else {
			emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ECX), op_imm((int32_t)(eip + off)));
		}
		ZydisEncoderOperand mem = op_mem(n, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_NONE, 0, 0);
		/* Zero-extended load of exactly n guest bytes into RCX. */
		ZydisEncoderOperand ld[2] = {
			op_reg(n == 8 ? ZYDIS_REGISTER_RCX : ZYDIS_REGISTER_ECX), mem
		};
		emit_insn(e, n >= 4 ? ZYDIS_MNEMONIC_MOV : ZYDIS_MNEMONIC_MOVZX, 2, ld,
			  ZYDIS_ATTRIB_HAS_SEGMENT_GS);
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(R_A), op_imm((int64_t)(0 - v)));
		{
			ZydisEncoderOperand ops[2] = { op_reg(ZYDIS_REGISTER_RCX),
						       op_mem(8, ZYDIS_REGISTER_RCX, R_A, 1, 0) };
			emit_insn(e, ZYDIS_MNEMONIC_LEA, 2, ops, 0);
		}
		uint8_t *same = emit_jrcxz(e, false);
		assert(nmiss < sizeof(miss) / sizeof(miss[0]));
		miss[nmiss++] = emit_jmp_rel32(e, NULL);
		if (same)
			patch_rel8(same, e->pos);
		off += n;
	}
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	emit_jmp_rel32(e, c->body);
	for (unsigned i = 0; i < nmiss && miss[i]; i++)
		patch_rel32(miss[i], e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	struct exit_desc *ex = &c->tb->exits[TBLOCK_MAX_EXITS];
	ex->kind = EXIT_KIND_STALE;
	ex->target_eip = eip;
	ex->from = c->tb;
	ex->patch = emit_jmp_rel32(e, NULL);
	ex->branch = ex->patch;
	emit_stub(c, ex);
}

/* Room the block needs after its code, beyond INSN_HEADROOM, before one
 * more instruction is translated, for guest_len bytes with that one in:
 * the callout descriptors (the next instruction's two at most, plus 15 to
 * align them), and in a self-checking block the entry check of its bytes,
 * a compare of at most 31 host bytes (mov ecx, load, mov r14 imm64, lea,
 * jrcxz, jmp rel32) per 8 guest bytes (three under 8) and about 40 around
 * them with the stale exit's stub. INSN_HEADROOM alone did not count
 * these: 64 adaptive BTS (two callouts each, about 100 host bytes) left no
 * room for their 128 descriptors (3.5 KiB), nor 64 15-byte adaptive loads
 * in a self-checking block for the check of their 960 bytes (3.8 KiB);
 * such a block failed with -ENOSPC even in an empty cache, which ends the
 * guest (cpu_get_block in cpu/run.c). */
size_t tail_room(const struct tctx *c, uint32_t guest_len)
{
	size_t room = (size_t)(c->ncallouts + 2) * sizeof(struct callout_desc) + 15;
	if (c->selfcheck)
		room += 64 + (size_t)(guest_len / 8 + 3) * 32;
	return room;
}

/* One instruction at c->eip (avail bytes of it fetched, all of them when
 * CS's limit cut them: limit_cut), decoded and translated: 0 when it is
 * in the block, 1 when the block ends before it (an exit to it is made),
 * or -EFAULT, -ENOTSUP, -ENOSPC as translate_block. */
static int translate_one(struct translator *t, struct tctx *c, unsigned avail, bool limit_cut,
			 uint64_t page_end, uint64_t next_gpa)
{
	struct tblock *tb = c->tb;
	bool nop_space = avail && allowlist_reserved_nop(c->bytes, avail, c->nop_buf);
	const ZydisDecoder *decoder = &t->decoders[decoder_index(c->mode)];
	ZyanStatus st = !avail ? ZYDIS_STATUS_NO_MORE_DATA
			       : ZydisDecoderDecodeFull(decoder, nop_space ? c->nop_buf : c->bytes,
							avail, &c->in, c->ops);
	/* Bytes of it lie past CS's limit (the SDM checks the limit before
	 * paging): #GP(0) at it, the instructions before it done. Its bytes
	 * inside the limit are the block's, so that a write to them (which
	 * may end the instruction there) drops the block. */
	bool past_limit = st == ZYDIS_STATUS_NO_MORE_DATA && limit_cut;
	if (st == ZYDIS_STATUS_NO_MORE_DATA && !limit_cut && avail < ZYDIS_MAX_INSTRUCTION_LENGTH) {
		/* It runs into a page that cannot be fetched now. */
		if (tb->ninsns > 0) {
			emit_branch_exit(c, c->eip, EXIT_KIND_BRANCH);
			return 1;
		}
		return -EFAULT;
	}
	bool decoded = ZYAN_SUCCESS(st);
	unsigned len = decoded ? c->in.length : past_limit ? avail : 1;
	unsigned older_len = decoded ? allowlist_older_form(&c->in, c->bytes, c->nop_buf) : 0;
	if (older_len) {
		/* Translated (and given to callouts) as the older form;
		 * the guest's length stays len. */
		c->bytes = c->nop_buf;
		decoded = ZYAN_SUCCESS(ZydisDecoderDecodeFull(decoder, c->bytes, older_len, &c->in, c->ops));
		assert(decoded);
	}
	/* An instruction that crosses into the next page ends its block's
	 * second page there (each block's bytes are traced on at most two
	 * pages); one that cannot go on past it starts its own block. */
	if ((uint64_t)c->eip + len > page_end) {
		if (tb->ninsns > 0 && !span_next_page(c, next_gpa)) {
			emit_branch_exit(c, c->eip, EXIT_KIND_BRANCH);
			return 1;
		}
		tb->pages[1] = (uint32_t)(next_gpa / GUEST_PAGE_SIZE);
	}
	c->next_eip = c->eip + len;
	/* MODE_LIMITS: the monitor checks every access against its segment. */
	c->adaptive = (c->mode & MODE_LIMITS) || shadow_is_adaptive(c->env->sh, insn_gpa(c));
	/* The set's mark, unlike the mode, is not the twin's for good: a
	 * copy would carry it into another address space after a release
	 * (and --clone-check see a translation other than its own). */
	if (c->adaptive && !(c->mode & MODE_LIMITS))
		c->no_clone = true;
	c->esp_lags = decoded && esp_may_lag(c);
	if (!c->esp_lags)
		esp_settle(c);
	record_insn(c);
	uint8_t *insn_start = c->e.pos;
	unsigned nexits = c->nexits, ncallouts = c->ncallouts, nrelocs = c->nrelocs;
	int32_t esp_delta = c->esp_delta;
	enum allow_verdict verdict = !decoded ? ALLOW_UD
				     : nop_space ? ALLOW_NOP
				     : allowlist_verdict(&c->in);
	if (past_limit) {
		memset(&c->in, 0, sizeof(c->in));   /* the descriptor holds no bytes */
		emit_limit_fault(c);
		emit_branch_exit(c, c->eip, EXIT_KIND_NOCHAIN);
		c->ended = true;
	} else if (verdict == ALLOW_UD) {
		if (!decoded) {
			memset(&c->in, 0, sizeof(c->in));
			c->in.length = (ZyanU8)len;
		}
		emit_callout_kind(c, CALLOUT_UD);
		emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
		c->ended = true;
	} else if (verdict == ALLOW_TRANSLATE && c->env->pause_yields &&
		   c->in.mnemonic == ZYDIS_MNEMONIC_PAUSE) {
		emit_callout_kind(c, CALLOUT_PAUSE);
		emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
		c->ended = true;
	} else if (verdict == ALLOW_TRANSLATE && c->env->tc->concurrent &&
		   c->in.mnemonic == ZYDIS_MNEMONIC_PAUSE) {
		translate_pause_budgeted(c);
	} else if (verdict == ALLOW_TRANSLATE &&
		   !translate_insn(c, sensitive_classify(&c->in, c->ops))) {
		/* Out of room is never a reason for a callout: the monitor's
		 * callout does not run every instruction the translator does
		 * (a high-byte form that needs the XCHG swap became #UD and a
		 * triple fault loop at a fifo unit's last 512 bytes). The
		 * block is made again with room (cpu_get_block). */
		if (c->e.no_room)
			return -ENOSPC;
		/* No translation: the monitor runs it, or raises #UD. */
		c->e.pos = insn_start;
		c->e.failed = false;
		c->nexits = nexits;
		c->ncallouts = ncallouts;
		c->nrelocs = nrelocs;
		c->esp_delta = esp_delta;
		esp_settle(c);
		emit_callout(c);
		emit_branch_exit(c, c->next_eip, EXIT_KIND_NOCHAIN);
		c->ended = true;
	}
	if (c->e.failed) {
		if (!c->e.no_room) {
			/* The encoder refused a form we built. */
			snprintf(t->error, sizeof(t->error), "no host encoding for '%s' at 0x%08x",
				 ZydisMnemonicGetString(c->in.mnemonic), c->eip);
			return -ENOTSUP;
		}
		return -ENOSPC;
	}
	if (c->selfcheck && !c->ended && insn_writes_memory(c)) {
		/* The write may hit this block's own bytes: the next
		 * block entry's check must come right after it. */
		emit_branch_exit(c, c->next_eip, EXIT_KIND_BRANCH);
		c->ended = true;
	}
	return 0;
}

static int translate_fresh_once(struct translator *t, const struct translate_env *env, uint32_t eip,
				uint64_t gpa, uint32_t mode, bool aligned, struct tblock **out);

/* A block not made gives its maps back: a guest whose first instruction
 * runs onto a page it cannot fetch, again and again, would otherwise use
 * up the unit's map pool and make the cache evict early. */
static int translate_fresh(struct translator *t, const struct translate_env *env, uint32_t eip,
			   uint64_t gpa, uint32_t mode, bool aligned, struct tblock **out)
{
	unsigned maps = env->tc->map_used;
	int err = translate_fresh_once(t, env, eip, gpa, mode, aligned, out);
	if (err)
		env->tc->map_used = maps;
	return err;
}

static int translate_fresh_once(struct translator *t, const struct translate_env *env, uint32_t eip,
				uint64_t gpa, uint32_t mode, bool aligned, struct tblock **out)
{
	const struct guest_ram *ram = env->sh->ram;
	uint8_t *code, *limit;
	struct tctx *c = t->ctx;

	if (!guest_ram_code_range(ram, gpa, 1))
		return -EFAULT;   /* gpa: the code's memfd offset (cpu/run.c, code_key) */
	struct tblock *tb = tcache_new_block(env->tc, &code, &limit);
	if (!tb)
		return -ENOSPC;
	memset(c, 0, offsetof(struct tctx, callouts));
	c->e.cache = t->emit_cache;
	c->t = t;
	c->env = env;
	c->tb = tb;
	c->mode = mode;
	c->gpa = gpa;
	c->page_gpa = gpa & ~(uint64_t)(GUEST_PAGE_SIZE - 1);
	c->cs_base = (mode & MODE_SEGCS) ? env->cs_base : 0;
	c->cs_limit = (mode & MODE_CSLIMIT) ? env->cs_limit : 0xffffffffu;
	c->paging = !(mode & MODE_UNPAGED);
	tb->eip = eip;
	tb->gpa = gpa;
	tb->mode = mode;
	tb->cs_limit = c->cs_limit;
	tb->host = code;
	tb->layout_line = (uint8_t)((uintptr_t)code % TCACHE_LINE);
	tb->pages[0] = tb->pages[1] = (uint32_t)(gpa / GUEST_PAGE_SIZE);
	tcache_alloc_maps(env->tc, tb, BLOCK_MAX_INSNS);
	emit_init(&c->e, code, limit);
	uint32_t first_page = (uint32_t)(gpa / GUEST_PAGE_SIZE);
	c->selfcheck = tcache_page_selfcheck(env->tc, first_page);
	uint32_t lin = code_linear(c, eip);
	if (lin % GUEST_PAGE_SIZE > GUEST_PAGE_SIZE - ZYDIS_MAX_INSTRUCTION_LENGTH) {
		/* The first instruction may run onto the next page: a
		 * self-checking one there makes this block check itself too. */
		uint32_t next = (lin | (GUEST_PAGE_SIZE - 1)) + 1;
		uint64_t g2;
		bool ok = env->fetch_gpa(env->opaque, next, &g2);
		env->drop_fault(env->opaque);
		if (ok)
			c->selfcheck = c->selfcheck || tcache_page_selfcheck(env->tc, (uint32_t)(g2 / GUEST_PAGE_SIZE));
	}
	emit_block_entry(c);

	assert(t->max_insns >= 1 && t->max_insns <= BLOCK_MAX_INSNS);
	unsigned max = (t->single_insn || (mode & MODE_SINGLE)) ? 1 : t->max_insns;
	c->may_span = max > 1 && !c->selfcheck && !env->trace_path && !(mode & MODE_SEGCS);
	c->eip = eip;
	while (!c->ended) {
		if (env->breakpoint_at && !(mode & MODE_SINGLE) &&
		    env->breakpoint_at(env->opaque, code_linear(c, c->eip))) {
			/* A debugger's breakpoint: the block ends before it, and
			 * the block that starts there only leaves to report it
			 * (chained and looked-up branches reach it too). Resuming
			 * and stepping run it as MODE_SINGLE, which ignores it. */
			if (!tb->ninsns) {
				/* A fault at its entry's poll is at this EIP. */
				tb->map_host[0] = 0;
				tb->map_guest[0] = 0;
			}
			emit_branch_exit(c, c->eip, tb->ninsns ? EXIT_KIND_BRANCH : EXIT_KIND_BREAK);
			break;
		}
		if (env->trace_path && c->trace_k < env->trace_len && c->eip == env->trace_path[c->trace_k])
			c->trace_k++;
		uint64_t page_end = page_end_of(c, c->eip);
		uint64_t next_gpa;
		unsigned room = code_room(c, c->eip);
		unsigned avail = fetch_insn(c, &next_gpa, room);
		int r = translate_one(t, c, avail, room < ZYDIS_MAX_INSTRUCTION_LENGTH && avail == room,
				      page_end, next_gpa);
		if (r < 0)
			return r;
		if (r > 0)
			break;   /* the block ends before it */
		/* An instruction ending at offset 4 GiB: the next starts
		 * at 0 (EIP wraps), on another page. */
		bool wrapped = c->next_eip < c->eip;
		c->eip = c->next_eip;
		if (c->ended)
			break;
		/* In a unit's tail (less than a block's reserve left) the
		 * block is not cut for room: it fits whole, or the emitter
		 * runs out (no_room, -ENOSPC) and it is made again in the next
		 * unit. Where a block lands then never changes what it holds
		 * (a copy of it elsewhere, --clone-check's translation beside
		 * one), and it takes room exactly when its bytes exceed what
		 * is left, as tclog-mrc simulates. */
		bool short_of_room = (size_t)(limit - code) >= TCACHE_BLOCK_RESERVE &&
				     (size_t)(c->e.limit - c->e.pos) <
					     INSN_HEADROOM + tail_room(c, c->eip - eip + ZYDIS_MAX_INSTRUCTION_LENGTH);
		if (tb->ninsns >= max || wrapped || short_of_room ||
		    (c->eip >= page_end && !go_on_next_page(c))) {
			emit_branch_exit(c, c->eip, EXIT_KIND_BRANCH);
			break;
		}
	}
	if (!aligned && !c->e.failed && tcache_loop_straddles(tb, (uintptr_t)code)) {
		/* Translations are deterministic: the same block again. */
		tcache_restart_aligned(env->tc, tb);
		return translate_fresh(t, env, eip, gpa, mode, true, out);
	}
	if (tb->pages[1] != tb->pages[0] && code_linear(c, eip) % GUEST_PAGE_SIZE + (c->eip - eip) <= GUEST_PAGE_SIZE)
		tb->pages[1] = tb->pages[0];   /* it went on, but ended before a byte of the next page */
	/* Stubs, then callout descriptors, after the code. */
	for (unsigned i = 0; i < c->nexits; i++)
		emit_stub(c, &tb->exits[i]);
	uint8_t spanned[BLOCK_MAX_INSNS * ZYDIS_MAX_INSTRUCTION_LENGTH];
	const uint8_t *guest = block_guest_bytes(c, spanned);
	if (c->selfcheck)
		emit_selfcheck(c, guest, eip, c->eip - eip);
	tb->code_len = (uint32_t)(c->e.pos - code);
	tb->quiet = c->ncallouts == 0 && !(mode & MODE_SINGLE);
	uintptr_t p = ((uintptr_t)c->e.pos + 15) & ~(uintptr_t)15;
	if (!c->e.failed)
		memset(c->e.pos, 0, p - (uintptr_t)c->e.pos);   /* the same code, the same bytes */
	for (unsigned i = 0; i < c->ncallouts; i++) {
		struct callout_desc *d = (struct callout_desc *)p;
		if ((uint8_t *)(d + 1) > c->e.limit)
			return -ENOSPC;
		*d = c->callouts[i].desc;
		uint64_t addr = (uint64_t)p;
		memcpy(c->callouts[i].imm_field, &addr, 8);
		p += sizeof(*d);
	}
	if (c->e.failed)
		return -ENOSPC;
	tb->guest_len = c->eip - eip;
	tb->spans = c->may_span && tb->pages[1] != tb->pages[0];
	tb->host_len = (uint32_t)(p - (uintptr_t)code);
	/* One page, no self-check, no breakpoint: the same code elsewhere
	 * differs only in the recorded fields. */
	tb->clonable = !c->no_clone && !c->selfcheck && tb->pages[1] == tb->pages[0] &&
		       !env->breakpoint_at && !t->trace && mode_uses_ibl(mode) && !env->trace_path;
	tb->trace = env->trace_path != NULL;
	tb->clone_env = clone_env(env);
	tb->nrelocs = (uint16_t)c->nrelocs;
	tb->relocs = c->relocs;
	tb->map_esp = c->esp_any ? c->esp_at : NULL;
	tcache_commit(env->tc, tb);
	if (t->trace)
		disasm_trace_block(t->trace, tb, guest);
	*out = tb;
	return 0;
}

/* The same physical code at another linear address (a shared library
 * under ASLR, in every process) is a copy of a block already made, with
 * its addresses moved (translate_clone.c): half the blocks of a Debian
 * boot were such code. */
int translate_block(struct translator *t, const struct translate_env *env, uint32_t eip,
		    uint64_t gpa, uint32_t mode, struct tblock **out)
{
	const struct tblock *twin = clone_source(t, env, eip, gpa, mode);
	if (!twin)
		return translate_fresh(t, env, eip, gpa, mode, false, out);
	/* The check's translation needs room after the copy: without it the
	 * copy would stay, unchecked, and with several vCPUs the run loop,
	 * making room, would find it next time. Short of room for both (a
	 * unit's tail, or a fifo cache's unit smaller than two blocks), the
	 * block is translated instead, which is what the copy would be
	 * checked against. */
	if (t->clone_check && !tcache_room_for_two(env->tc, twin->host_len))
		return translate_fresh(t, env, eip, gpa, mode, false, out);
	int err = clone_block(env->tc, twin, eip, out);
	if (err || !t->clone_check)
		return err;
	const struct tblock *copy = *out;
	/* Where the original was laid out in its line, so the same loop
	 * alignment and exit padding are chosen: the copy carries the
	 * original's, wherever it went (with several vCPUs an exit's field is
	 * padded into one line, which depends on the block's place in its
	 * line; clone_block moves a copy only where its fields would not be
	 * so). Not the twin's own place: the twin may be a copy too (made
	 * without the check, or before a failed translation). */
	tcache_place_like(env->tc, twin->layout_line);
	err = translate_fresh(t, env, eip, gpa, mode, false, out);
	if (!err) {
		const char *why = clone_differs(copy, *out);
		if (why) {
			snprintf(t->error, sizeof(t->error),
				 "the copy of the block at 0x%08x (from 0x%08x) differs from its "
				 "translation: %s", eip, twin->eip, why);
			return -ENOTSUP;
		}
	}
	return err;
}

int translate_trace(struct translator *t, const struct translate_env *env, uint32_t eip,
		    uint64_t gpa, uint32_t mode, struct tblock **out)
{
	/* Flat 32-bit code, a head whose first instruction cannot run onto
	 * the next page (the trace stays on one), never a self-checking page
	 * (those blocks end after every store) or a breakpoint's. */
	if (!env->trace_path || !mode_uses_ibl(mode) || (mode & MODE_SINGLE) || t->single_insn ||
	    env->breakpoint_at || eip % GUEST_PAGE_SIZE > GUEST_PAGE_SIZE - ZYDIS_MAX_INSTRUCTION_LENGTH ||
	    tcache_page_selfcheck(env->tc, (uint32_t)(gpa / GUEST_PAGE_SIZE)))
		return -EAGAIN;
	return translate_fresh(t, env, eip, gpa, mode, false, out);
}

int translator_init(struct translator *t, bool single_insn, FILE *trace)
{
	memset(t, 0, sizeof(*t));
	t->single_insn = single_insn;
	t->trace = trace;
	t->max_insns = BLOCK_MAX_INSNS;
	t->clone = true;
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t mode = (i & 1 ? MODE_CODE16 : 0) | (i & 2 ? MODE_STACK16 : 0);
		assert(decoder_index(mode) == i);
		if (ZYAN_FAILED(ZydisDecoderInit(&t->decoders[i],
						 mode & MODE_CODE16 ? ZYDIS_MACHINE_MODE_LEGACY_16
								    : ZYDIS_MACHINE_MODE_LEGACY_32,
						 mode & MODE_STACK16 ? ZYDIS_STACK_WIDTH_16
								     : ZYDIS_STACK_WIDTH_32)))
			return -EINVAL;
	}
	t->ctx = calloc(1, sizeof(*t->ctx));
	t->emit_cache = emit_cache_new();
	t->lookup_seqs = calloc(LOOKUP_SEQ_SLOTS, sizeof(*t->lookup_seqs));
	if (!t->ctx || !t->emit_cache || !t->lookup_seqs) {
		translator_destroy(t);
		return -ENOMEM;
	}
	return 0;
}

void translator_destroy(struct translator *t)
{
	free(t->ctx);
	t->ctx = NULL;
	emit_cache_free(t->emit_cache);
	t->emit_cache = NULL;
	free(t->lookup_seqs);
	t->lookup_seqs = NULL;
}
