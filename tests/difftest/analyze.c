/* Static analysis of a difftest sequence, shared by the generator (which
 * builds sequences unit by unit through dt_astep) and the comparator and
 * shrinker (which re-check whole sequences with dt_analyze before running
 * them, so a shrunk candidate can never touch memory outside the test
 * areas).
 *
 * How addresses are kept safe. Every memory access a sequence makes must be
 * provably inside DATA (or LOW): the analysis computes each access's linear
 * range from register values it knows, and refuses the instruction when it
 * cannot. A register's value is known when it is ESP (tracked exactly: only
 * PUSH/POP/PUSHA/POPA/ENTER/LEAVE and ADD/SUB/AND/OR/XOR/INC/DEC/LEA/MOV with
 * a computable result may write it, and it must stay in its window of
 * DATA), when a MOV r32, imm32 earlier in the same unit set it (the
 * generator's "setup" moves), or when no earlier instruction of the
 * sequence wrote it (its initial value). Values from setups are never used
 * across units, so dropping whole units while shrinking cannot make a later
 * address wrong. REP string instructions need a known count (at most 64),
 * BT* m,r a known bit offset, LEAVE and nested ENTER a known EBP. The
 * x87/SSE alignment faults and the like are left to happen: they are part
 * of what is compared.
 *
 * Flags. EFLAGS bits an instruction leaves undefined (Zydis's per
 * instruction flag table, with exact rules for shifts and rotates, whose
 * effect depends on the count) stay undefined until an instruction defines
 * them; an instruction that reads an undefined flag is refused, and the
 * comparator masks the ones still undefined at the end. The x87 condition
 * codes C0-C3 are tracked the same way; FNSTSW AX of undefined ones is
 * refused, and undefined ones stored to memory are masked. */
#include "analyze.h"

#include <stdio.h>
#include <string.h>

static int refuse(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return -1;
}

void dt_astate_init(struct dt_astate *st, const struct dt_opts *o, const struct dt_seq *s)
{
	memset(st, 0, sizeof(*st));
	st->o = o;
	memcpy(st->gpr0, s->gpr, sizeof(st->gpr0));
	st->esp = s->gpr[4];
	st->df = (s->eflags & DT_EFLAGS_DF) != 0;
}

void dt_astate_new_unit(struct dt_astate *st)
{
	memset(st->uknown, 0, sizeof(st->uknown));
}

static bool val32(const struct dt_astate *st, int id, uint32_t *v)
{
	if (id == 4) {
		*v = st->esp;
		return true;
	}
	if (st->uknown[id]) {
		*v = st->uval[id];
		return true;
	}
	if (!st->written[id]) {
		*v = st->gpr0[id];
		return true;
	}
	return false;
}

bool dt_reg_known(const struct dt_astate *st, ZydisRegister r, uint32_t *v)
{
	int id = dt_gpr_id(r);
	uint32_t x;
	if (id < 0 || !val32(st, id, &x))
		return false;
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_GPR32:
		*v = x;
		return true;
	case ZYDIS_REGCLASS_GPR16:
		*v = x & 0xffff;
		return true;
	case ZYDIS_REGCLASS_GPR8:
		*v = ZydisRegisterGetId(r) >= 4 ? (x >> 8) & 0xff : x & 0xff;
		return true;
	default:
		return false;
	}
}

uint32_t dt_seg_base(const struct dt_opts *o, ZydisRegister seg)
{
	if (o->code16 && (seg == ZYDIS_REGISTER_DS || seg == ZYDIS_REGISTER_ES))
		return DT_FS_BASE;
	if (seg == ZYDIS_REGISTER_FS)
		return DT_FS_BASE;
	if (seg == ZYDIS_REGISTER_GS)
		return DT_GS_BASE;
	return 0;
}

/* Effective address (before the segment base); extra is added (POP m with
 * an ESP base). 16-bit addressing wraps at 64 KiB. */
static bool effective(const struct dt_astate *st, const ZydisDecodedInstruction *in,
		      const ZydisDecodedOperand *op, int64_t extra, uint32_t *ea)
{
	uint32_t a = (uint32_t)(int32_t)op->mem.disp.value + (uint32_t)extra, v;
	if (op->mem.base != ZYDIS_REGISTER_NONE) {
		if (!dt_reg_known(st, op->mem.base, &v))
			return false;
		a += v;
	}
	if (op->mem.index != ZYDIS_REGISTER_NONE) {
		if (!dt_reg_known(st, op->mem.index, &v))
			return false;
		a += v * (op->mem.scale ? op->mem.scale : 1);
	}
	if (in->address_width == 16)
		a &= 0xffff;
	*ea = a;
	return true;
}

struct access {
	uint32_t lin;
	uint32_t len;
};

static bool in_areas(const struct dt_astate *st, uint32_t lin, uint32_t len)
{
	return len == 0 || dt_img_offset(lin, len, st->o->low ? DT_BATCH_LOW : 0) >= 0;
}

static bool is_stack_op(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_POP: case ZYDIS_MNEMONIC_PUSHA:
	case ZYDIS_MNEMONIC_PUSHAD: case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD:
	case ZYDIS_MNEMONIC_ENTER: case ZYDIS_MNEMONIC_LEAVE:
		return true;
	default:
		return false;
	}
}

static bool no_access(const ZydisDecodedInstruction *in)
{
	return in->meta.category == ZYDIS_CATEGORY_NOP || in->meta.category == ZYDIS_CATEGORY_WIDENOP ||
	       in->meta.category == ZYDIS_CATEGORY_PREFETCH || in->mnemonic == ZYDIS_MNEMONIC_NOP ||
	       in->mnemonic == ZYDIS_MNEMONIC_LEA;
}

static bool is_rep(const ZydisDecodedInstruction *in)
{
	return (in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) != 0;
}

static const ZydisDecodedOperand *find_reg_op(const ZydisDecodedInstruction *in,
					      const ZydisDecodedOperand *ops, unsigned from)
{
	for (unsigned i = from; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER || ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			return &ops[i];
	return NULL;
}

/* A string instruction's element count: 1, or the known (E)CX with REP. */
static bool string_count(const struct dt_astate *st, const ZydisDecodedInstruction *in, uint32_t *n)
{
	if (!is_rep(in)) {
		*n = 1;
		return true;
	}
	uint32_t v;
	if (!dt_reg_known(st, in->address_width == 16 ? ZYDIS_REGISTER_CX : ZYDIS_REGISTER_ECX, &v))
		return false;
	*n = v;
	return true;
}

/* Collects the accesses of one instruction. */
static int accesses(const struct dt_astate *st, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *ops, struct access *acc, unsigned *nacc, char *why,
		    size_t wl)
{
	ZydisMnemonic m = in->mnemonic;
	unsigned n = 0;
	uint32_t esp = st->esp, ea, v;
	uint32_t opsize = in->operand_width / 8;

	if (in->meta.category == ZYDIS_CATEGORY_STRINGOP) {
		uint32_t count;
		if (!string_count(st, in, &count))
			return refuse(why, wl, "REP string with an unknown count");
		if (count > 64)
			return refuse(why, wl, "REP count above 64");
		for (unsigned i = 0; i < in->operand_count && count; i++) {
			const ZydisDecodedOperand *o = &ops[i];
			if (o->type != ZYDIS_OPERAND_TYPE_MEMORY)
				continue;
			uint32_t elem = o->size / 8;
			if (!dt_reg_known(st, o->mem.base, &v))
				return refuse(why, wl, "string pointer unknown");
			int64_t lo = st->df ? (int64_t)v - (int64_t)(count - 1) * elem : (int64_t)v;
			int64_t hi = st->df ? (int64_t)v + elem : (int64_t)v + (int64_t)count * elem;
			int64_t lim = in->address_width == 16 ? 0x10000 : 0x100000000ll;
			if (lo < 0 || hi > lim)
				return refuse(why, wl, "string range wraps");
			acc[n++] = (struct access){ dt_seg_base(st->o, o->mem.segment) + (uint32_t)lo, (uint32_t)(hi - lo) };
		}
		*nacc = n;
		return 0;
	}
	if (m == ZYDIS_MNEMONIC_XLAT) {
		const ZydisDecodedOperand *o = &ops[0];
		uint32_t al;
		if (!dt_reg_known(st, o->mem.base, &v))
			return refuse(why, wl, "XLAT table pointer unknown");
		if (dt_reg_known(st, ZYDIS_REGISTER_AL, &al)) {
			ea = v + al;
			if (in->address_width == 16)
				ea &= 0xffff;
			acc[n++] = (struct access){ dt_seg_base(st->o, o->mem.segment) + ea, 1 };
		} else {
			if (in->address_width == 16 && v + 256 > 0x10000)
				return refuse(why, wl, "XLAT table wraps");
			acc[n++] = (struct access){ dt_seg_base(st->o, o->mem.segment) + v, 256 };
		}
		*nacc = n;
		return 0;
	}
	if (is_stack_op(m)) {
		switch (m) {
		case ZYDIS_MNEMONIC_PUSH:
			acc[n++] = (struct access){ esp - opsize, opsize };
			break;
		case ZYDIS_MNEMONIC_POP:
			acc[n++] = (struct access){ esp, opsize };
			break;
		case ZYDIS_MNEMONIC_PUSHA:
		case ZYDIS_MNEMONIC_PUSHAD:
			acc[n++] = (struct access){ esp - 8 * opsize, 8 * opsize };
			break;
		case ZYDIS_MNEMONIC_POPA:
		case ZYDIS_MNEMONIC_POPAD:
			acc[n++] = (struct access){ esp, 8 * opsize };
			break;
		case ZYDIS_MNEMONIC_ENTER: {
			uint32_t level = (uint32_t)ops[1].imm.value.u & 31;
			uint32_t pushes = level ? level + 1 : 1;
			acc[n++] = (struct access){ esp - pushes * opsize, pushes * opsize };
			if (level > 1) {
				if (!dt_reg_known(st, ZYDIS_REGISTER_EBP, &v))
					return refuse(why, wl, "nested ENTER with an unknown EBP");
				acc[n++] = (struct access){ v - (level - 1) * opsize, (level - 1) * opsize };
			}
			break;
		}
		case ZYDIS_MNEMONIC_LEAVE:
			if (!dt_reg_known(st, ZYDIS_REGISTER_EBP, &v))
				return refuse(why, wl, "LEAVE with an unknown EBP");
			acc[n++] = (struct access){ v, opsize };
			break;
		default:
			break;
		}
	}
	if (no_access(in)) {
		*nacc = n;
		return 0;
	}
	for (unsigned i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		if (o->type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		if (is_stack_op(m) && o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
			continue;
		if (o->mem.type != ZYDIS_MEMOP_TYPE_MEM)
			return refuse(why, wl, "unsupported memory operand type");
		int64_t extra = 0;
		if (m == ZYDIS_MNEMONIC_POP && o->mem.base == ZYDIS_REGISTER_ESP)
			extra = opsize;   /* POP m addresses with the incremented ESP */
		if (!effective(st, in, o, extra, &ea))
			return refuse(why, wl, "address register unknown");
		uint32_t lin = dt_seg_base(st->o, o->mem.segment) + ea, len = o->size / 8 ? o->size / 8 : 1;
		if (m == ZYDIS_MNEMONIC_CLFLUSH || m == ZYDIS_MNEMONIC_CLFLUSHOPT ||
		    m == ZYDIS_MNEMONIC_CLWB || m == ZYDIS_MNEMONIC_CLDEMOTE) {
			lin &= ~63u;
			len = 64;
		}
		if ((m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR ||
		     m == ZYDIS_MNEMONIC_BTC) && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			/* the bit offset is signed and reaches beyond the operand */
			uint32_t off;
			if (!dt_reg_known(st, ops[1].reg.value, &off))
				return refuse(why, wl, "BT bit offset unknown");
			int32_t s = len == 2 ? (int16_t)off : (int32_t)off;
			int32_t elems = s >= 0 ? s / (int32_t)(8 * len) : -((-s + (int32_t)(8 * len) - 1) / (int32_t)(8 * len));
			lin += (uint32_t)(elems * (int32_t)len);
		}
		acc[n++] = (struct access){ lin, len };
	}
	*nacc = n;
	return 0;
}

/* The new ESP after an instruction that writes it; false when not
 * computable. */
static bool new_esp(const struct dt_astate *st, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *ops, uint32_t *out)
{
	ZydisMnemonic m = in->mnemonic;
	uint32_t esp = st->esp, opsize = in->operand_width / 8, v;
	switch (m) {
	case ZYDIS_MNEMONIC_PUSH:
		*out = esp - opsize;
		return true;
	case ZYDIS_MNEMONIC_POP:
		if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && dt_gpr_id(ops[0].reg.value) == 4)
			return false;
		*out = esp + opsize;
		return true;
	case ZYDIS_MNEMONIC_PUSHA:
	case ZYDIS_MNEMONIC_PUSHAD:
		*out = esp - 8 * opsize;
		return true;
	case ZYDIS_MNEMONIC_POPA:
	case ZYDIS_MNEMONIC_POPAD:
		*out = esp + 8 * opsize;
		return true;
	case ZYDIS_MNEMONIC_ENTER: {
		uint32_t size = (uint32_t)ops[0].imm.value.u & 0xffff, level = (uint32_t)ops[1].imm.value.u & 31;
		if (size > 256)
			return false;
		*out = esp - (level ? level + 1 : 1) * opsize - size;
		return true;
	}
	case ZYDIS_MNEMONIC_LEAVE:
		if (!dt_reg_known(st, ZYDIS_REGISTER_EBP, &v))
			return false;
		*out = v + opsize;
		return true;
	default:
		break;
	}
	/* explicit ESP/SP destination */
	if (ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER || dt_gpr_id(ops[0].reg.value) != 4 ||
	    in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY)
		return false;
	bool w16 = ops[0].size == 16;
	uint32_t cur = w16 ? esp & 0xffff : esp, r;
	const ZydisDecodedOperand *src = in->operand_count_visible > 1 ? &ops[1] : NULL;
	uint32_t imm = src && src->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint32_t)src->imm.value.s : 0;
	bool has_imm = src && src->type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
	switch (m) {
	case ZYDIS_MNEMONIC_ADD: if (!has_imm) return false; r = cur + imm; break;
	case ZYDIS_MNEMONIC_SUB: if (!has_imm) return false; r = cur - imm; break;
	case ZYDIS_MNEMONIC_AND: if (!has_imm) return false; r = cur & imm; break;
	case ZYDIS_MNEMONIC_OR: if (!has_imm) return false; r = cur | imm; break;
	case ZYDIS_MNEMONIC_XOR: if (!has_imm) return false; r = cur ^ imm; break;
	case ZYDIS_MNEMONIC_INC: r = cur + 1; break;
	case ZYDIS_MNEMONIC_DEC: r = cur - 1; break;
	case ZYDIS_MNEMONIC_MOV:
		if (has_imm)
			r = imm;
		else if (src && src->type == ZYDIS_OPERAND_TYPE_REGISTER && dt_reg_known(st, src->reg.value, &v))
			r = v;
		else
			return false;
		break;
	case ZYDIS_MNEMONIC_LEA:
		if (!effective(st, in, src, 0, &r))
			return false;
		break;
	default:
		return false;
	}
	*out = w16 ? (esp & 0xffff0000u) | (r & 0xffff) : r;
	return true;
}

static bool is_shift(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR:
	case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR:
	case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
	case ZYDIS_MNEMONIC_SHRD:
		return true;
	default:
		return false;
	}
}

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u

/* Flag definedness after a shift or rotate, from the SDM: a masked count
 * of 0 changes nothing; OF is defined only for a count of 1; AF is
 * undefined after shifts; SHL/SHR leave CF undefined for counts >= the
 * operand width; SHLD/SHRD results are undefined for counts above it. */
static int shift_flags(struct dt_astate *st, const ZydisDecodedInstruction *in,
		       const ZydisDecodedOperand *ops, char *why, size_t wl)
{
	ZydisMnemonic m = in->mnemonic;
	bool dbl = m == ZYDIS_MNEMONIC_SHLD || m == ZYDIS_MNEMONIC_SHRD;
	bool rot = m == ZYDIS_MNEMONIC_ROL || m == ZYDIS_MNEMONIC_ROR || m == ZYDIS_MNEMONIC_RCL ||
		   m == ZYDIS_MNEMONIC_RCR;
	unsigned w = ops[0].size;
	const ZydisDecodedOperand *c = find_reg_op(in, ops, dbl ? 2 : 1);
	uint32_t count = 0;
	bool known = false;
	if (c && c->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		count = (uint32_t)c->imm.value.u;
		known = true;
	} else if (c && c->type == ZYDIS_OPERAND_TYPE_REGISTER && c->reg.value == ZYDIS_REGISTER_CL) {
		known = dt_reg_known(st, ZYDIS_REGISTER_CL, &count);
	}
	count &= 31;
	uint32_t defined = 0, undefined = 0;   /* effects when the count is non-zero */
	if (rot) {
		defined = F_CF;
		if (known && count == 1)
			defined |= F_OF;
		else
			undefined = F_OF;
		if ((m == ZYDIS_MNEMONIC_RCL || m == ZYDIS_MNEMONIC_RCR) && known && w < 32 &&
		    count % (w + 1) == 0)
			defined &= ~F_CF;  /* no rotation happens: CF keeps its state */
	} else {
		if (dbl && w == 16 && (!known || count > 16))
			return refuse(why, wl, "16-bit SHLD/SHRD with a count that may exceed 16");
		defined = F_CF | F_SF | F_ZF | F_PF;
		undefined = F_AF;
		if (!known || count != 1)
			undefined |= F_OF;
		else
			defined |= F_OF;
		if ((m == ZYDIS_MNEMONIC_SHL || m == ZYDIS_MNEMONIC_SHR) &&
		    w < 32 && (!known || count >= w)) {
			defined &= ~F_CF;
			undefined |= F_CF;
		}
	}
	if (known && count == 0)
		return 0;
	if (known)
		st->undef = (st->undef & ~defined) | undefined;
	else
		st->undef |= undefined;   /* defined flags stay as they were: either way is exact */
	return 0;
}

/* FSW C0..C3 bits within the high byte of the status word. */
static uint8_t fsw_hi_bits(uint32_t fundef)
{
	return (uint8_t)(((fundef & 1) ? 0x01 : 0) | ((fundef & 2) ? 0x02 : 0) | ((fundef & 4) ? 0x04 : 0) |
			 ((fundef & 8) ? 0x40 : 0));
}

static bool add_mask(struct dt_mask *masks, uint16_t *nmask, uint32_t lin, uint32_t len, uint8_t bits,
		     const struct dt_astate *st)
{
	if (!bits || len == 0)
		return true;
	int32_t off = dt_img_offset(lin, len, st->o->low ? DT_BATCH_LOW : 0);
	if (off < 0 || *nmask >= DT_MAX_MASKS)
		return false;
	masks[(*nmask)++] = (struct dt_mask){ (uint16_t)off, (uint8_t)len, bits };
	return true;
}

/* Stored x87 environments: mask the instruction and data pointers (and
 * FOP) unless asked to compare them, any undefined condition codes, and in
 * an FXSAVE image MXCSR_MASK and the reserved bytes 10-15 of each register
 * slot (implementation-specific: QEMU, for one, leaves them alone). */
static bool env_masks(const struct dt_astate *st, const ZydisDecodedInstruction *in, uint32_t lin,
		      struct dt_mask *masks, uint16_t *nmask)
{
	bool ptr = !st->o->fpu_ptr, ok = true;
	uint8_t cbits = fsw_hi_bits(st->fundef);
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_FNSTSW:
		ok &= add_mask(masks, nmask, lin + 1, 1, cbits, st);
		break;
	case ZYDIS_MNEMONIC_FNSTENV:
	case ZYDIS_MNEMONIC_FNSAVE:
		if (in->operand_width == 16) {
			ok &= add_mask(masks, nmask, lin + 3, 1, cbits, st);
			if (ptr)
				ok &= add_mask(masks, nmask, lin + 6, 8, 0xff, st);
		} else {
			ok &= add_mask(masks, nmask, lin + 5, 1, cbits, st);
			if (ptr)
				ok &= add_mask(masks, nmask, lin + 12, 16, 0xff, st);
		}
		break;
	case ZYDIS_MNEMONIC_FXSAVE:
		ok &= add_mask(masks, nmask, lin + 3, 1, cbits, st);
		if (ptr)
			ok &= add_mask(masks, nmask, lin + 6, 18, 0xff, st);
		ok &= add_mask(masks, nmask, lin + 28, 4, 0xff, st);
		for (unsigned i = 0; i < 8; i++)
			ok &= add_mask(masks, nmask, lin + DT_FX_ST + 16 * i + 10, 6, 0xff, st);
		break;
	default:
		break;
	}
	return ok;
}

int dt_astep(struct dt_astate *st, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
	     struct dt_mask *masks, uint16_t *nmask, char *why, size_t wl)
{
	const char *reason;
	ZydisMnemonic m = in->mnemonic;
	if (!dt_insn_allowed(in, ops, st->o->features, &reason))
		return refuse(why, wl, reason);
	if (in->cpu_flags && (in->cpu_flags->tested & DT_EFLAGS_ARITH & st->undef))
		return refuse(why, wl, "reads an undefined flag");
	if (in->fpu_flags && (in->fpu_flags->tested & st->fundef))
		return refuse(why, wl, "reads an undefined x87 condition code");
	if (m == ZYDIS_MNEMONIC_FNSTSW && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && st->fundef)
		return refuse(why, wl, "FNSTSW AX of undefined condition codes");
	if (in->address_width == 16 && !st->o->low && !st->o->code16) {
		for (unsigned i = 0; i < in->operand_count; i++)
			if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM &&
			    !no_access(in))
				return refuse(why, wl, "16-bit addressing without the LOW area");
	}

	/* 16-bit code: CS's base is the runner's, not known here */
	for (unsigned i = 0; st->o->code16 && i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.segment == ZYDIS_REGISTER_CS &&
		    !no_access(in))
			return refuse(why, wl, "CS-relative access in 16-bit code");

	struct access acc[8];
	unsigned nacc = 0;
	if (accesses(st, in, ops, acc, &nacc, why, wl))
		return -1;
	for (unsigned i = 0; i < nacc; i++)
		if (!in_areas(st, acc[i].lin, acc[i].len))
			return refuse(why, wl, "access outside the test areas");
	/* REP MOVS with 16-bit addressing over overlapping SI and DI ranges:
	 * an AMD Zen 4 host copies them as memmove would (not element by
	 * element, as the SDM and btvm do) when the upper halves of ESI and
	 * EDI differ, apparently judging the overlap by the whole registers
	 * (434 of 441 such copies measured; none with the halves clear). A
	 * host quirk, not btvm's: such sequences are not compared. */
	if ((m == ZYDIS_MNEMONIC_MOVSB || m == ZYDIS_MNEMONIC_MOVSW || m == ZYDIS_MNEMONIC_MOVSD) &&
	    in->meta.category == ZYDIS_CATEGORY_STRINGOP && in->address_width == 16 && nacc == 2 &&
	    (in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) &&
	    acc[0].lin < acc[1].lin + acc[1].len && acc[1].lin < acc[0].lin + acc[0].len)
		return refuse(why, wl, "a16 REP MOVS over overlapping ranges (an AMD host quirk)");

	/* ESP */
	bool writes_esp = is_stack_op(m);
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && dt_gpr_id(ops[i].reg.value) == 4 &&
		    ZydisRegisterGetClass(ops[i].reg.value) != ZYDIS_REGCLASS_GPR8 &&
		    (ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			writes_esp = true;
	uint32_t esp = st->esp;
	if (writes_esp) {
		if (!new_esp(st, in, ops, &esp))
			return refuse(why, wl, "ESP write that cannot be followed");
		if (esp < DT_STACK_LO || esp > DT_STACK_HI)
			return refuse(why, wl, "ESP would leave its window");
	}

	/* A stored x87 instruction or data pointer is the host's own under
	 * btvm, which stores zeros there (they would tell the guest where
	 * the monitor's code is): comparing it is masked, and so must be
	 * reading it back (FNSAVE, then POPA over the image). */
	bool reads_mem = false;
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && (ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_READ) &&
		    !no_access(in))
			reads_mem = true;
	for (unsigned i = 0; reads_mem && i < nacc; i++) {
		int32_t off = dt_img_offset(acc[i].lin, acc[i].len, st->o->low ? DT_BATCH_LOW : 0);
		for (unsigned k = 0; off >= 0 && k < *nmask; k++)
			if (masks[k].bits == 0xff && (uint32_t)off < masks[k].off + masks[k].len &&
			    masks[k].off < (uint32_t)off + acc[i].len)
				return refuse(why, wl, "reads a stored x87 pointer");
	}

	/* masks for stored x87 state, with the state before the instruction */
	for (unsigned i = 0; i < nacc; i++)
		if (!env_masks(st, in, acc[i].lin, masks, nmask))
			return refuse(why, wl, "too many masked bytes");

	/* flags */
	if (is_shift(m) && in->encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY) {
		if (shift_flags(st, in, ops, why, wl))
			return -1;
	} else if (in->cpu_flags) {
		uint32_t count = 1;
		if (in->meta.category == ZYDIS_CATEGORY_STRINGOP)
			string_count(st, in, &count);
		if (count) {
			const ZydisAccessedFlags *f = in->cpu_flags;
			st->undef = ((st->undef & ~(f->modified | f->set_0 | f->set_1)) | f->undefined) &
				    DT_EFLAGS_ARITH;
		}
	}
	if (m == ZYDIS_MNEMONIC_CLD)
		st->df = false;
	else if (m == ZYDIS_MNEMONIC_STD)
		st->df = true;
	if (in->fpu_flags) {
		const ZydisAccessedFlags *f = in->fpu_flags;
		st->fundef = ((st->fundef & ~(f->modified | f->set_0 | f->set_1)) | f->undefined) & 15;
	}

	/* registers */
	for (unsigned i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		if (o->type != ZYDIS_OPERAND_TYPE_REGISTER || !(o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			continue;
		int id = dt_gpr_id(o->reg.value);
		if (id < 0 || id == 4)
			continue;
		st->written[id] = true;
		st->uknown[id] = false;
	}
	if (m == ZYDIS_MNEMONIC_MOV && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_GPR32 &&
	    ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && dt_gpr_id(ops[0].reg.value) != 4) {
		int id = dt_gpr_id(ops[0].reg.value);
		st->uknown[id] = true;
		st->uval[id] = (uint32_t)ops[1].imm.value.u;
	}
	st->esp = esp;
	return 0;
}

int dt_analyze(const struct dt_seq *s, const struct dt_opts *o, struct dt_analysis *a)
{
	struct dt_astate st;
	memset(a, 0, sizeof(*a));
	dt_astate_init(&st, o, s);
	if (s->nunits == 0 || s->nunits > DT_MAX_UNITS || s->unit_off[s->nunits] != s->code_len) {
		snprintf(a->why, sizeof(a->why), "bad unit table");
		return -1;
	}
	for (unsigned u = 0; u < s->nunits; u++) {
		dt_astate_new_unit(&st);
		unsigned off = s->unit_off[u], end = s->unit_off[u + 1];
		while (off < end) {
			ZydisDecodedInstruction in;
			ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
			if (a->n >= DT_MAX_INSNS || !dt_decode(s->code + off, end - off, &in, ops)) {
				snprintf(a->why, sizeof(a->why), "undecodable at +%u", off);
				return -1;
			}
			struct dt_insn_info *ii = &a->insn[a->n++];
			ii->off = (uint16_t)off;
			ii->len = in.length;
			ii->unit = (uint8_t)u;
			ii->undef_before = st.undef;
			ii->fundef_before = st.fundef;
			ii->mnemonic = in.mnemonic;
			char why[160];
			if (dt_astep(&st, &in, ops, a->mask, &a->nmask, why, sizeof(why))) {
				snprintf(a->why, sizeof(a->why), "+%u: %s", off, why);
				return -1;
			}
			off += in.length;
		}
	}
	a->undef_end = st.undef;
	a->fundef_end = st.fundef;
	return 0;
}
